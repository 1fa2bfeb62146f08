import { stringify } from "yaml";
import type { NodeDir, NodeFile } from "../manifests/nodeFiles";

/**
 * OFFLINE ONLY (air-gapped labs without Secrets Manager): cloud-init user data that carries a member's
 * files themselves — private keys and the encryption keys included — so it is a secret, is refused for
 * prod, and is rendered only with `secretStore.offlineCloudInit: true`. EC2 user data is no place for it
 * (readable through DescribeInstanceAttribute and the metadata service, capped at 16 KB, written once);
 * it suits a NoCloud seed or a lab hypervisor. Directories are created with their modes first (bootcmd
 * runs before write_files), and the manifest is written last so kubelet never starts etcd before its certs
 * exist (cloud-init writes in list order).
 */
export function renderOfflineCloudInit(files: NodeFile[], dirs: NodeDir[]): string {
  const ordered = [
    ...files.filter((f) => f.role !== "etcd-manifest"),
    ...files.filter((f) => f.role === "etcd-manifest"),
  ];
  const doc = {
    bootcmd: dirs.map((d) => ["install", "-d", "-o", "root", "-g", "root", "-m", d.mode, d.path]),
    write_files: ordered.map((f) => ({
      path: f.path,
      owner: "root:root",
      permissions: f.mode,
      encoding: "b64",
      content: Buffer.from(f.content, "utf8").toString("base64"),
    })),
  };
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}
