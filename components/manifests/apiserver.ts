import { stringify } from "yaml";
import type { SecureEtcdSettings } from "../config/schema";
import { kmsPluginPlans } from "../kms/plan";
import { nodePaths } from "./paths";
import { clientUrl } from "./urls";

export type ApiserverSettings = Pick<SecureEtcdSettings, "members" | "paths" | "encryption">;

/** kube-apiserver flags that connect it to etcd over mutual TLS and turn on encryption at rest (CIS 1.2.23–1.2.27). */
export function renderApiserverEtcdFlags(s: ApiserverSettings): string[] {
  const p = nodePaths(s);
  return [
    `--etcd-servers=${s.members.map(clientUrl).join(",")}`,
    `--etcd-cafile=${p.caCert}`,
    `--etcd-certfile=${p.certs["apiserver-etcd-client"].cert}`,
    `--etcd-keyfile=${p.certs["apiserver-etcd-client"].key}`,
    ...renderApiserverEncryptionFlags(s),
  ];
}

export function renderApiserverEncryptionFlags(s: ApiserverSettings): string[] {
  const p = nodePaths(s);
  const flags = [`--encryption-provider-config=${p.encryptionConfig}`];
  // Reload lets a staged key go live without restarting; off by default so rotation stays an explicit restart.
  if (s.encryption.automaticReload) flags.push("--encryption-provider-config-automatic-reload=true");
  return flags;
}

/** The hostPath volume + read-only mount kube-apiserver needs to read the encryption config. */
export function encryptionConfigVolume(s: ApiserverSettings) {
  const p = nodePaths(s);
  return {
    volume: {
      name: "encryption-config",
      hostPath: { path: p.encryptionConfigDir, type: "DirectoryOrCreate" },
    },
    volumeMount: { name: "encryption-config", mountPath: p.encryptionConfigDir, readOnly: true },
  };
}

/**
 * The directories of the KMS plugins' sockets, each mounted at the same path (kube-apiserver dials the
 * EncryptionConfiguration's `unix://` endpoint as written). Read-write: connecting to a socket writes.
 */
export function kmsSocketVolumes(s: ApiserverSettings) {
  const dirs = [...new Set(kmsPluginPlans(s.encryption.keys).map((p) => p.socketDir))];
  return dirs.map((dir, i) => {
    const name = i === 0 ? "kms-plugin-socket" : `kms-plugin-socket-${i + 1}`;
    return {
      volume: { name, hostPath: { path: dir, type: "DirectoryOrCreate" } },
      volumeMount: { name, mountPath: dir },
    };
  });
}

type JsonPatchOp = { op: "add"; path: string; value: unknown };

function apiserverPatchOps(flags: string[], s: ApiserverSettings): JsonPatchOp[] {
  return [
    ...flags.map((f): JsonPatchOp => ({ op: "add", path: "/spec/containers/0/command/-", value: f })),
    ...[encryptionConfigVolume(s), ...kmsSocketVolumes(s)].flatMap(
      ({ volume, volumeMount }): JsonPatchOp[] => [
        { op: "add", path: "/spec/volumes/-", value: volume },
        { op: "add", path: "/spec/containers/0/volumeMounts/-", value: volumeMount },
      ],
    ),
  ];
}

/**
 * RFC 6902 patch for a kube-apiserver static pod that does not yet talk to this etcd: appends every
 * `--etcd-*` flag and `--encryption-provider-config`, plus the volume and mount. (kube-apiserver's flag
 * parser keeps the last value of a repeated flag, so appending also overrides older values.)
 */
export function renderKubeApiserverPatch(s: ApiserverSettings): string {
  return stringify(apiserverPatchOps(renderApiserverEtcdFlags(s), s), { lineWidth: 0 });
}

/**
 * The kubeadm `--patches` variant: kubeadm already renders the `--etcd-*` flags at these same paths, so
 * the patch adds only what kubeadm does not (encryption at rest) and never duplicates a flag.
 */
export function renderKubeadmApiserverPatch(s: ApiserverSettings): string {
  return stringify(apiserverPatchOps(renderApiserverEncryptionFlags(s), s), { lineWidth: 0 });
}
