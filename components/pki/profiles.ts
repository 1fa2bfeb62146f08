import type { KeyAlgorithm } from "../config/constants";
import type { SecureEtcdSettings } from "../config/schema";

/*
 * The etcd PKI as data, after kubeadm's certlist.go: one table, turned into resources by one generic
 * function (issue.ts). CIS 2.7: the CA is dedicated to etcd, never the cluster CA.
 */

export type CertRole = "server" | "peer" | "apiserver-etcd-client" | "healthcheck-client" | "backup-client";

export interface CaProfile {
  commonName: string;
  allowedUses: string[];
  validityHours: number;
}

export interface LeafProfile {
  /** Unique id: resource-name suffix, e.g. `server-cp-1` or `backup-client`. */
  id: string;
  role: CertRole;
  /** Member the cert belongs to (server and peer certs only). */
  member?: string;
  commonName: string;
  allowedUses: string[];
  dnsNames: string[];
  ipAddresses: string[];
}

interface RoleRow {
  role: CertRole;
  perMember: boolean;
  /** Fixed CN for client certs; member certs use the member name, as kubeadm does. */
  commonName?: (s: SecureEtcdSettings) => string;
  extendedUses: string[];
  sans: "server" | "peer" | "none";
}

/** The table: one row per role. etcd's server cert is also used as a client (gateway, grpc-proxy), hence client_auth. */
export const certRoles: readonly RoleRow[] = [
  { role: "server", perMember: true, extendedUses: ["server_auth", "client_auth"], sans: "server" },
  { role: "peer", perMember: true, extendedUses: ["server_auth", "client_auth"], sans: "peer" },
  {
    role: "apiserver-etcd-client",
    perMember: false,
    commonName: () => "kube-apiserver-etcd-client",
    extendedUses: ["client_auth"],
    sans: "none",
  },
  {
    role: "healthcheck-client",
    perMember: false,
    commonName: () => "kube-etcd-healthcheck-client",
    extendedUses: ["client_auth"],
    sans: "none",
  },
  {
    role: "backup-client",
    perMember: false,
    commonName: (s) => s.backupClientCommonName,
    extendedUses: ["client_auth"],
    sans: "none",
  },
];

/** kubeadm: digital signature always; key encipherment only where the key can encipher (RSA). */
export function leafKeyUsages(algorithm: KeyAlgorithm): string[] {
  return algorithm.startsWith("RSA") ? ["digital_signature", "key_encipherment"] : ["digital_signature"];
}

export function caProfile(s: SecureEtcdSettings): CaProfile {
  return {
    commonName: "etcd-ca",
    allowedUses: ["cert_signing", "crl_signing", "digital_signature", "key_encipherment"],
    validityHours: s.caValidityHours,
  };
}

/** Every leaf cert the settings call for, in a stable order (member certs first, in member order). */
export function leafProfiles(s: SecureEtcdSettings): LeafProfile[] {
  const keyUses = leafKeyUsages(s.keyAlgorithm);
  const out: LeafProfile[] = [];
  for (const row of certRoles.filter((r) => r.perMember)) {
    for (const m of s.members) {
      const dnsNames = unique([m.name, ...m.dnsNames, ...(row.sans === "server" ? ["localhost"] : [])]);
      const ipAddresses = unique([m.ip, ...(row.sans === "server" ? ["127.0.0.1", "::1"] : [])]);
      out.push({
        id: `${row.role}-${m.name}`,
        role: row.role,
        member: m.name,
        commonName: m.name,
        allowedUses: [...keyUses, ...row.extendedUses],
        dnsNames,
        ipAddresses,
      });
    }
  }
  for (const row of certRoles.filter((r) => !r.perMember)) {
    out.push({
      id: row.role,
      role: row.role,
      commonName: row.commonName!(s),
      allowedUses: [...keyUses, ...row.extendedUses],
      dnsNames: [],
      ipAddresses: [],
    });
  }
  return out;
}

/** `@pulumi/tls` PrivateKey args for a kubeadm key algorithm name. */
export function privateKeyArgs(algorithm: KeyAlgorithm): {
  algorithm: "RSA" | "ECDSA";
  rsaBits?: number;
  ecdsaCurve?: string;
} {
  const [family, size] = algorithm.split("-");
  return family === "RSA"
    ? { algorithm: "RSA", rsaBits: Number(size) }
    : { algorithm: "ECDSA", ecdsaCurve: size };
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
