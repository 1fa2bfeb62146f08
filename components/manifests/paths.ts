import * as path from "node:path";
import type { CertRole } from "../pki/profiles";
import type { SecureEtcdSettings } from "../config/schema";

/** Where files live on a control-plane node: kubeadm's layout, so kubeadm finds and keeps our certs. */
export interface NodePaths {
  etcdPkiDir: string;
  caCert: string;
  certs: Record<CertRole, { cert: string; key: string }>;
  dataDir: string;
  manifestDir: string;
  etcdManifest: string;
  encryptionConfigDir: string;
  encryptionConfig: string;
}

export function nodePaths(s: Pick<SecureEtcdSettings, "paths">): NodePaths {
  const pki = s.paths.pkiDir;
  const etcdPki = path.posix.join(pki, "etcd");
  const pair = (dir: string, base: string) => ({
    cert: path.posix.join(dir, `${base}.crt`),
    key: path.posix.join(dir, `${base}.key`),
  });
  return {
    etcdPkiDir: etcdPki,
    caCert: path.posix.join(etcdPki, "ca.crt"),
    certs: {
      server: pair(etcdPki, "server"),
      peer: pair(etcdPki, "peer"),
      "healthcheck-client": pair(etcdPki, "healthcheck-client"),
      "backup-client": pair(etcdPki, "backup-client"),
      // kubeadm keeps the apiserver's etcd client pair one level up, beside the apiserver's own certs.
      "apiserver-etcd-client": pair(pki, "apiserver-etcd-client"),
    },
    dataDir: s.paths.dataDir,
    manifestDir: s.paths.manifestDir,
    etcdManifest: path.posix.join(s.paths.manifestDir, "etcd.yaml"),
    encryptionConfigDir: s.paths.encryptionConfigDir,
    encryptionConfig: path.posix.join(s.paths.encryptionConfigDir, "encryption-config.yaml"),
  };
}
