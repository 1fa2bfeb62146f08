/**
 * Certificates the rehearsal issues itself, with the emulation's real-crypto helpers (the same code
 * that stands in for the tls provider): peer certs that work when every member runs on one host, and
 * the foreign and expired certs the drills use to prove etcd turns them away.
 */
import { X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  EXTENDED_KEY_USAGES,
  createCertRequest,
  createSelfSignedCert,
  generatePrivateKey,
  signCertRequest,
  type CertSubject,
} from "./emulation";

export interface CaPair {
  certPem: string;
  keyPem: string;
}

export interface IssuedPair {
  certPem: string;
  keyPem: string;
}

/** The address the kernel gives every connection between 127.0.0.x addresses on Linux. */
export const loopbackSource = "127.0.0.1";

/** DNS names and IPs of a certificate's subjectAltName. */
export function certSans(certPem: string): { dnsNames: string[]; ipAddresses: string[] } {
  const san = new X509Certificate(certPem).subjectAltName ?? "";
  const parts = san ? san.split(/,\s*/) : [];
  return {
    dnsNames: parts.filter((p) => p.startsWith("DNS:")).map((p) => p.slice(4)),
    ipAddresses: parts.filter((p) => p.startsWith("IP Address:")).map((p) => p.slice(11)),
  };
}

function subjectOf(cert: X509Certificate): CertSubject {
  const s: CertSubject = {};
  for (const line of cert.subject.split("\n")) {
    const eq = line.indexOf("=");
    const [k, v] = [line.slice(0, eq), line.slice(eq + 1)];
    if (k === "CN") s.commonName = v;
    else if (k === "O") s.organization = v;
    else if (k === "OU") s.organizationalUnit = v;
    else if (k === "C") s.country = v;
    else if (k === "ST") s.province = v;
    else if (k === "L") s.locality = v;
  }
  return s;
}

/** allowed_uses of a leaf as the component issues them (kubeadm: key encipherment only for RSA). */
function allowedUsesOf(cert: X509Certificate): string[] {
  const byOid = new Map(Object.entries(EXTENDED_KEY_USAGES).map(([name, oid]) => [oid, name]));
  const eku = (cert.keyUsage ?? []).map((o) => byOid.get(o)).filter((n): n is string => !!n);
  const rsa = cert.publicKey.asymmetricKeyType === "rsa";
  return [...(rsa ? ["digital_signature", "key_encipherment"] : ["digital_signature"]), ...eku];
}

/**
 * Re-issues a cert with the same key, subject, usages and SANs plus `extraIps`, signed by the same CA,
 * valid until about the same time. Returns the new PEM.
 */
export function reissueWithExtraIps(o: {
  certPem: string;
  keyPem: string;
  ca: CaPair;
  extraIps: string[];
}): string {
  const cert = new X509Certificate(o.certPem);
  const sans = certSans(o.certPem);
  const csr = createCertRequest({
    privateKeyPem: o.keyPem,
    subject: subjectOf(cert),
    dnsNames: sans.dnsNames,
    ipAddresses: [...sans.ipAddresses, ...o.extraIps.filter((ip) => !sans.ipAddresses.includes(ip))],
  });
  const hoursLeft = Math.max(1, Math.ceil((Date.parse(cert.validTo) - Date.now()) / 3_600_000));
  return signCertRequest({
    certRequestPem: csr.certRequestPem,
    caPrivateKeyPem: o.ca.keyPem,
    caCertPem: o.ca.certPem,
    validityPeriodHours: hoursLeft,
    allowedUses: allowedUsesOf(cert),
  }).certPem;
}

/** A new CA no etcd member trusts. */
export function foreignCa(commonName = "foreign-ca"): CaPair {
  const key = generatePrivateKey({ algorithm: "ECDSA", ecdsaCurve: "P256" });
  const cert = createSelfSignedCert({
    privateKeyPem: key.privateKeyPem,
    subject: { commonName },
    validityPeriodHours: 24,
    isCaCertificate: true,
    allowedUses: ["cert_signing", "crl_signing", "digital_signature", "key_encipherment"],
  });
  return { certPem: cert.certPem, keyPem: key.privateKeyPem };
}

/** A leaf signed by `ca`; `expiredHoursAgo` makes one whose validity already ended. */
export function issueLeaf(o: {
  ca: CaPair;
  commonName: string;
  uses: ("server_auth" | "client_auth")[];
  dnsNames?: string[];
  ipAddresses?: string[];
  expiredHoursAgo?: number;
}): IssuedPair {
  const key = generatePrivateKey({ algorithm: "ECDSA", ecdsaCurve: "P256" });
  const csr = createCertRequest({
    privateKeyPem: key.privateKeyPem,
    subject: { commonName: o.commonName },
    dnsNames: o.dnsNames,
    ipAddresses: o.ipAddresses,
  });
  const validity = 24;
  const notBefore =
    o.expiredHoursAgo !== undefined
      ? new Date(Date.now() - (o.expiredHoursAgo + validity) * 3_600_000)
      : undefined;
  const cert = signCertRequest({
    certRequestPem: csr.certRequestPem,
    caPrivateKeyPem: o.ca.keyPem,
    caCertPem: o.ca.certPem,
    validityPeriodHours: validity,
    allowedUses: ["digital_signature", ...o.uses],
    notBefore,
  });
  return { certPem: cert.certPem, keyPem: key.privateKeyPem };
}

/** Writes a pair as <base>.crt (0644) and <base>.key (0600); returns the paths. */
export function writePair(base: string, pair: IssuedPair): { cert: string; key: string } {
  fs.mkdirSync(path.dirname(base), { recursive: true, mode: 0o700 });
  const cert = `${base}.crt`;
  const key = `${base}.key`;
  fs.writeFileSync(cert, pair.certPem, { mode: 0o644 });
  fs.writeFileSync(key, pair.keyPem, { mode: 0o600 });
  fs.chmodSync(key, 0o600);
  return { cert, key };
}
