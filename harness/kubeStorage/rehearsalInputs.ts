/**
 * What the storage drills take from a rendered rehearsal directory: kube-apiserver's etcd client
 * connection (the apiserver-etcd-client cert, as the rendered kube-apiserver patch uses it) and the
 * stack's EncryptionConfiguration with its write provider.
 */
import * as fs from "node:fs";
import { layout } from "../layout";
import {
  parseEncryptionConfiguration,
  resolveProviders,
  type ParsedEncryptionConfig,
} from "../encryptionFormat/config";
import type { LocalEncryptionProvider } from "../../components/encryption/classifyStoredValue";
import type { EtcdctlConnection } from "../../tools/verifyEncryption/etcdctl";
import { kubeResources, type KubeResource } from "./objects";

export function apiserverConnection(
  dir: string,
  etcdctl: string,
  endpoints: readonly string[],
): EtcdctlConnection {
  return {
    etcdctl,
    endpoints,
    cacert: layout.caCert(dir),
    cert: layout.client(dir, "apiserver-etcd-client", "crt"),
    key: layout.client(dir, "apiserver-etcd-client", "key"),
  };
}

/** verify-encryption's connection flags for the same client. */
export const connectionFlags = (c: EtcdctlConnection) => [
  `--endpoints=${c.endpoints.join(",")}`,
  `--cacert=${c.cacert}`,
  `--cert=${c.cert}`,
  `--key=${c.key}`,
  `--etcdctl=${c.etcdctl}`,
];

export interface StackEncryption {
  yaml: string;
  config: ParsedEncryptionConfig;
  /** The resources the stack encrypts that this storage layer can write. */
  resources: KubeResource[];
  /** First provider of the secrets entry (what encrypts writes) and its first key. */
  primary: { provider: string; keyName?: string };
  /** Local keys listed after the primary: still read, no longer written. */
  readOnlyKeys: { provider: LocalEncryptionProvider; name: string }[];
}

export function stackEncryption(dir: string): StackEncryption {
  const yaml = fs.readFileSync(layout.encryptionConfig(dir), "utf8");
  const config = parseEncryptionConfiguration(yaml);
  const providers = resolveProviders(config, "secrets") ?? [];
  const [first] = providers;
  const listed = new Set(config.resources.flatMap((e) => e.resources));
  const keyed = providers.flatMap((p) =>
    "keys" in p ? p.keys.map((k) => ({ provider: p.type, name: k.name })) : [],
  );
  return {
    yaml,
    config,
    resources: kubeResources.filter((r) => listed.has(r)),
    primary: {
      provider: first?.type ?? "identity",
      keyName: first && "keys" in first ? first.keys[0].name : first?.type === "kms" ? first.name : undefined,
    },
    readOnlyKeys: keyed.filter((k) => k.name !== keyed[0]?.name || k.provider !== first?.type),
  };
}
