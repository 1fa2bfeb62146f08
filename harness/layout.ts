import * as path from "node:path";

/**
 * Layout of a rehearsal directory: where the artifacts pipeline writes each rendered file, and where
 * the cluster runner and the drills read it.
 */
export const layout = {
  caCert: (dir: string) => path.join(dir, "pki", "ca.crt"),
  member: (dir: string, member: string, kind: "server" | "peer", ext: "crt" | "key") =>
    path.join(dir, "pki", "members", member, `${kind}.${ext}`),
  client: (dir: string, role: string, ext: "crt" | "key") =>
    path.join(dir, "pki", "clients", `${role}.${ext}`),
  encryptionConfig: (dir: string) => path.join(dir, "encryption-config.yaml"),
  etcdManifest: (dir: string, member: string) => path.join(dir, "manifests", member, "etcd.yaml"),
  /** The directory holding one `<member>/etcd.yaml` per member. */
  etcdManifests: (dir: string) => path.join(dir, "manifests"),
  apiserverPatch: (dir: string) => path.join(dir, "manifests", "kube-apiserver-patch.yaml"),
  kubeadmPatches: (dir: string) => path.join(dir, "kubeadm-patches"),
  kubeadmConfig: (dir: string) => path.join(dir, "kubeadm", "cluster-configuration.yaml"),
  report: (dir: string) => path.join(dir, "report.json"),
  /** One kms key's aws-encryption-provider static pod manifest (the same on every member). */
  kmsPluginManifest: (dir: string, key: string) => path.join(dir, "kms-plugins", `${key}.yaml`),
};
