import { stringify } from "yaml";
import type { SecureEtcdSettings } from "../config/schema";
import { capabilitiesOf } from "../etcd/capabilities";
import { renderKubeadmApiserverPatch } from "./apiserver";
import { hardeningFlags } from "./etcdManifest";

export type KubeadmSettings = Pick<
  SecureEtcdSettings,
  "clusterName" | "members" | "etcdVersion" | "etcdImage" | "paths" | "tls" | "encryption"
>;

/**
 * kubeadm ClusterConfiguration (v1beta4) snippet: local etcd at our image, data dir and SANs, certs in
 * `certificatesDir` (kubeadm uses certs it finds there instead of generating its own). Flags go in the
 * `--patches` files, not extraArgs, so the two never render the same flag twice.
 */
export function renderClusterConfiguration(s: KubeadmSettings): string {
  const [repo, tag] = splitImage(s.etcdImage, capabilitiesOf(s.etcdVersion).imageTag);
  const sans = [...new Set(s.members.flatMap((m) => [m.name, ...m.dnsNames, m.ip]))];
  const doc = {
    apiVersion: "kubeadm.k8s.io/v1beta4",
    kind: "ClusterConfiguration",
    clusterName: s.clusterName,
    certificatesDir: s.paths.pkiDir,
    etcd: {
      local: {
        imageRepository: repo,
        imageTag: tag,
        dataDir: s.paths.dataDir,
        serverCertSANs: sans,
        peerCertSANs: sans,
      },
    },
  };
  return stringify(doc, { lineWidth: 0 });
}

/** `etcd+json.yaml`: appends the TLS hardening flags kubeadm does not set (none when the version has none). */
export function renderKubeadmEtcdPatch(s: KubeadmSettings): string {
  const ops = hardeningFlags(s).map((f) => ({ op: "add", path: "/spec/containers/0/command/-", value: f }));
  return stringify(ops, { lineWidth: 0 });
}

/** Files for `kubeadm init|join|upgrade --patches <dir>`, named `<target>+<patchtype>.yaml` as kubeadm expects. */
export function renderKubeadmPatches(s: KubeadmSettings): Record<string, string> {
  return {
    "etcd+json.yaml": renderKubeadmEtcdPatch(s),
    "kube-apiserver+json.yaml": renderKubeadmApiserverPatch(s),
  };
}

function splitImage(image: string, fallbackTag: string): [string, string] {
  const at = image.lastIndexOf(":");
  const slash = image.lastIndexOf("/");
  if (at > slash) return [image.slice(0, at).replace(/\/etcd$/, ""), image.slice(at + 1)];
  return [image.replace(/\/etcd$/, ""), fallbackTag];
}
