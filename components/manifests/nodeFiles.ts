import * as path from "node:path";
import type { EtcdMemberSpec, SecureEtcdSettings } from "../config/schema";
import { kmsPluginManifestFile } from "../kms/naming";
import { kmsPluginPlans } from "../kms/plan";
import { renderEtcdManifest } from "./etcdManifest";
import { nodePaths } from "./paths";

/** What one control-plane node needs, as PEM/YAML text (keys included: the result is sensitive). */
export interface NodeMaterial {
  caCertPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  peerCertPem: string;
  peerKeyPem: string;
  apiserverClientCertPem: string;
  apiserverClientKeyPem: string;
  healthcheckClientCertPem: string;
  healthcheckClientKeyPem: string;
  encryptionConfiguration: string;
  /**
   * The KMS v2 plugin's static pod manifest per kms key the EncryptionConfiguration lists (none without
   * kms keys). Not secret (a key ARN, a region), but it travels in the bundle like every node file.
   */
  kmsPluginManifests?: { key: string; manifest: string }[];
}

/** What a node file is for: the bootstrap checks pairs and chains by role and knows what must restart. */
export type NodeFileRole =
  | "ca-cert"
  | "server-cert"
  | "server-key"
  | "peer-cert"
  | "peer-key"
  | "healthcheck-client-cert"
  | "healthcheck-client-key"
  | "apiserver-etcd-client-cert"
  | "apiserver-etcd-client-key"
  | "encryption-config"
  | "etcd-manifest"
  /** One per kms key (`kms-plugin-manifest-<key>`): a role names one file, and each key has its own pod. */
  | `kms-plugin-manifest-${string}`;

/** The node-file role of one kms key's plugin manifest. */
export const kmsPluginManifestRole = (key: string): NodeFileRole => `kms-plugin-manifest-${key}`;

export interface NodeFile {
  role: NodeFileRole;
  path: string;
  /** Octal mode: keys, the manifest and the encryption config 0600 (CIS 1.1.7 and friends), certs 0644. */
  mode: "0600" | "0644";
  content: string;
}

export interface NodeDir {
  path: string;
  mode: "0700" | "0755";
}

/**
 * Every file a member's node needs, with its mode, at kubeadm's paths. The CA *key* is not among them:
 * nodes only verify with the CA, they never sign.
 */
export function nodeFiles(
  s: SecureEtcdSettings,
  member: EtcdMemberSpec,
  m: NodeMaterial,
): { files: NodeFile[]; dirs: NodeDir[] } {
  const p = nodePaths(s);
  const files: NodeFile[] = [
    { role: "ca-cert", path: p.caCert, mode: "0644", content: m.caCertPem },
    { role: "server-cert", path: p.certs.server.cert, mode: "0644", content: m.serverCertPem },
    { role: "server-key", path: p.certs.server.key, mode: "0600", content: m.serverKeyPem },
    { role: "peer-cert", path: p.certs.peer.cert, mode: "0644", content: m.peerCertPem },
    { role: "peer-key", path: p.certs.peer.key, mode: "0600", content: m.peerKeyPem },
    {
      role: "healthcheck-client-cert",
      path: p.certs["healthcheck-client"].cert,
      mode: "0644",
      content: m.healthcheckClientCertPem,
    },
    {
      role: "healthcheck-client-key",
      path: p.certs["healthcheck-client"].key,
      mode: "0600",
      content: m.healthcheckClientKeyPem,
    },
    {
      role: "apiserver-etcd-client-cert",
      path: p.certs["apiserver-etcd-client"].cert,
      mode: "0644",
      content: m.apiserverClientCertPem,
    },
    {
      role: "apiserver-etcd-client-key",
      path: p.certs["apiserver-etcd-client"].key,
      mode: "0600",
      content: m.apiserverClientKeyPem,
    },
    // Before the EncryptionConfiguration: a plugin must be listening before kube-apiserver looks for it.
    ...kmsPluginFiles(s, m),
    { role: "encryption-config", path: p.encryptionConfig, mode: "0600", content: m.encryptionConfiguration },
    { role: "etcd-manifest", path: p.etcdManifest, mode: "0600", content: renderEtcdManifest(s, member) },
  ];
  const dirs: NodeDir[] = [
    { path: p.etcdPkiDir, mode: "0700" },
    { path: p.encryptionConfigDir, mode: "0700" },
    { path: p.dataDir, mode: "0700" },
    { path: path.posix.dirname(p.certs["apiserver-etcd-client"].cert), mode: "0755" },
    { path: p.manifestDir, mode: "0755" },
    // Only root (the plugin and kube-apiserver) may reach a KMS plugin's socket.
    ...[...new Set(kmsPluginPlans(s.encryption.keys).map((k) => k.socketDir))].map((d): NodeDir => ({
      path: d,
      mode: "0700",
    })),
  ];
  return { files, dirs };
}

/** The plugin manifests, one per kms key the EncryptionConfiguration lists; each one must be given. */
function kmsPluginFiles(s: SecureEtcdSettings, m: NodeMaterial): NodeFile[] {
  const plans = kmsPluginPlans(s.encryption.keys);
  if (plans.length === 0) return [];
  const given = new Map((m.kmsPluginManifests ?? []).map((k) => [k.key, k.manifest]));
  return plans.map((plan) => {
    const content = given.get(plan.key);
    if (content === undefined)
      throw new Error(`node files: no KMS plugin manifest for kms key ${JSON.stringify(plan.key)}`);
    return {
      role: kmsPluginManifestRole(plan.key),
      path: path.posix.join(s.paths.manifestDir, kmsPluginManifestFile(plan.key)),
      mode: "0600",
      content,
    };
  });
}
