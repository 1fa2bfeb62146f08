/**
 * What a bare kube-apiserver needs beyond the package's etcd flags, made once per rehearsal cluster (as
 * kubeadm makes it once per cluster): a cluster CA standing in for kubeadm's /etc/kubernetes/pki/ca.crt
 * (it signs every apiserver's serving cert and the admin client cert, and is the --client-ca-file), an
 * admin client in `system:masters` (kubeadm's admin.conf), the service-account signing key pair, and
 * one kubeconfig for all of it. Every apiserver's serving cert comes from the one CA, so one kubeconfig
 * verifies each apiserver addressed on its own (what `secure-etcd encryption-config-status` does).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { createCertRequest, generatePrivateKey, signCertRequest } from "./emulation";
import { foreignCa, writePair, type CaPair } from "./oneHostPki";

/** The service network the bare apiservers are given (kubeadm's default); its first IP is `kubernetes`. */
export const serviceClusterIpRange = "10.96.0.0/12";
const kubernetesServiceIp = "10.96.0.1";

export interface KubePki {
  dir: string;
  ca: CaPair;
  caFile: string;
  admin: { cert: string; key: string };
  serviceAccount: { publicKey: string; privateKey: string };
  /** One kubeconfig (admin, the CA); each call names its apiserver with --server. */
  kubeconfig: string;
}

/** Files 0600 (keys, kubeconfig) or 0644 (certs) under `dir` (0700). */
export function createKubePki(dir: string): KubePki {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = foreignCa("secure-etcd-rehearsal-kubernetes-ca");
  const caFile = path.join(dir, "ca.crt");
  fs.writeFileSync(caFile, ca.certPem, { mode: 0o644 });
  const admin = writePair(
    path.join(dir, "admin"),
    issue(ca, { commonName: "rehearsal-admin", client: true }),
  );
  const sa = generatePrivateKey({ algorithm: "ECDSA", ecdsaCurve: "P256" });
  const serviceAccount = { publicKey: path.join(dir, "sa.pub"), privateKey: path.join(dir, "sa.key") };
  fs.writeFileSync(serviceAccount.publicKey, sa.publicKeyPem, { mode: 0o644 });
  fs.writeFileSync(serviceAccount.privateKey, sa.privateKeyPem, { mode: 0o600 });
  const kubeconfig = path.join(dir, "admin.conf");
  fs.writeFileSync(kubeconfig, kubeconfigText(caFile, admin), { mode: 0o600 });
  return { dir, ca, caFile, admin, serviceAccount, kubeconfig };
}

/** A serving cert for an apiserver at `ip`, with the SANs kubeadm gives apiserver.crt. */
export function servingCert(pki: KubePki, name: string, ip: string): { cert: string; key: string } {
  return writePair(
    path.join(pki.dir, "serving", name),
    issue(pki.ca, {
      commonName: "kube-apiserver",
      dnsNames: [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
      ],
      ipAddresses: [ip, kubernetesServiceIp],
    }),
  );
}

function issue(
  ca: CaPair,
  o: {
    commonName: string;
    organization?: string;
    client?: boolean;
    dnsNames?: string[];
    ipAddresses?: string[];
  },
): { certPem: string; keyPem: string } {
  const key = generatePrivateKey({ algorithm: "ECDSA", ecdsaCurve: "P256" });
  const csr = createCertRequest({
    privateKeyPem: key.privateKeyPem,
    // system:masters is the group RBAC binds to cluster-admin (kubeadm's admin.conf before 1.29).
    subject: { commonName: o.commonName, organization: o.client ? "system:masters" : undefined },
    dnsNames: o.dnsNames,
    ipAddresses: o.ipAddresses,
  });
  const cert = signCertRequest({
    certRequestPem: csr.certRequestPem,
    caPrivateKeyPem: ca.keyPem,
    caCertPem: ca.certPem,
    validityPeriodHours: 24,
    allowedUses: ["digital_signature", o.client ? "client_auth" : "server_auth"],
  });
  return { certPem: cert.certPem, keyPem: key.privateKeyPem };
}

function kubeconfigText(caFile: string, admin: { cert: string; key: string }): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: "rehearsal", cluster: { server: "https://127.0.0.1:6443", "certificate-authority": caFile } },
    ],
    users: [{ name: "admin", user: { "client-certificate": admin.cert, "client-key": admin.key } }],
    contexts: [{ name: "admin@rehearsal", context: { cluster: "rehearsal", user: "admin" } }],
    "current-context": "admin@rehearsal",
  });
}
