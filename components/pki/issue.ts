import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import type { KeyAlgorithm } from "../config/constants";
import { privateKeyArgs, type CaProfile, type LeafProfile } from "./profiles";

export interface IssuedCa {
  key: tls.PrivateKey;
  cert: tls.SelfSignedCert;
  certPem: pulumi.Output<string>;
  validityEndTime: pulumi.Output<string>;
}

export interface IssuedCert {
  certPem: pulumi.Output<string>;
  /** PKCS#8 is not what kubeadm writes; etcd and kube-apiserver read either. We keep the provider's PEM. */
  keyPem: pulumi.Output<string>;
  validityEndTime: pulumi.Output<string>;
}

export interface IssueOptions {
  baseName: string;
  algorithm: KeyAlgorithm;
  leafValidityHours: number;
  earlyRenewalHours: number;
  parent: pulumi.Resource;
}

export function issueCa(profile: CaProfile, o: IssueOptions): IssuedCa {
  const key = new tls.PrivateKey(`${o.baseName}-ca-key`, privateKeyArgs(o.algorithm), { parent: o.parent });
  const cert = new tls.SelfSignedCert(
    `${o.baseName}-ca`,
    {
      privateKeyPem: key.privateKeyPem,
      subject: { commonName: profile.commonName },
      isCaCertificate: true,
      setSubjectKeyId: true,
      validityPeriodHours: profile.validityHours,
      // A new CA means re-issuing every leaf and restarting every member (etcd reads CA files only at
      // start); the caValidityEndTime output lets monitoring warn long before this window opens.
      earlyRenewalHours: o.earlyRenewalHours,
      allowedUses: profile.allowedUses,
    },
    { parent: o.parent },
  );
  return { key, cert, certPem: cert.certPem, validityEndTime: cert.validityEndTime };
}

/** A leaf's SANs, possibly still Outputs (member addresses can come from other resources). */
export interface LeafSans {
  dnsNames: pulumi.Input<string[]>;
  ipAddresses: pulumi.Input<string[]>;
}

/**
 * The one generic function: a profile row in, a key + CSR + CA-signed cert out. `sans` (default: the
 * profile's own) carries the SANs from the resolved settings when member addresses are Inputs.
 */
export function issueLeaf(
  profile: LeafProfile,
  ca: IssuedCa,
  o: IssueOptions,
  sans: LeafSans = profile,
): IssuedCert {
  const name = `${o.baseName}-${profile.id}`;
  const key = new tls.PrivateKey(`${name}-key`, privateKeyArgs(o.algorithm), { parent: o.parent });
  const csr = new tls.CertRequest(
    `${name}-csr`,
    {
      privateKeyPem: key.privateKeyPem,
      subject: { commonName: profile.commonName },
      dnsNames: sans.dnsNames,
      ipAddresses: sans.ipAddresses,
    },
    { parent: o.parent },
  );
  const cert = new tls.LocallySignedCert(
    name,
    {
      certRequestPem: csr.certRequestPem,
      caPrivateKeyPem: ca.key.privateKeyPem,
      caCertPem: ca.cert.certPem,
      validityPeriodHours: o.leafValidityHours,
      earlyRenewalHours: o.earlyRenewalHours,
      allowedUses: profile.allowedUses,
    },
    { parent: o.parent },
  );
  return {
    certPem: cert.certPem,
    keyPem: pulumi.secret(key.privateKeyPem),
    validityEndTime: cert.validityEndTime,
  };
}
