/** Names, tags and the encryption context of a stack's envelope keys (one AWS KMS key per kms key). */

/** `alias/secure-etcd/<cluster>/<environment>/kms/<key>`: one per kms key of the EncryptionConfiguration. */
export function envelopeKeyAlias(cluster: string, environment: string, key: string): string {
  return `alias/secure-etcd/${cluster}/${environment}/kms/${key}`;
}

/**
 * The encryption context the plugin sends with every Encrypt and Decrypt (`--encryption-context`), and
 * the key policy and node grant require: a ciphertext of one cluster and environment never decrypts for
 * another, even with the same key.
 */
export function envelopeEncryptionContext(cluster: string, environment: string): Record<string, string> {
  return { cluster, environment };
}

/** The `--encryption-context` value: `k=v` pairs, comma-separated (the plugin parses it as one CSV line). */
export function encryptionContextFlag(context: Record<string, string>): string {
  return Object.entries(context)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

/** Static pod name of one key's plugin (kubelet appends the node name). */
export const kmsPluginPodName = (key: string) => `kms-plugin-${key}`;

/** The node file holding one key's plugin manifest, in the static pod directory. */
export const kmsPluginManifestFile = (key: string) => `kms-plugin-${key}.yaml`;

/** `unix:///var/run/kmsplugin/socket.sock` → `/var/run/kmsplugin/socket.sock` (the plugin's `--listen`). */
export function socketPathOf(endpoint: string): string {
  if (!endpoint.startsWith("unix://"))
    throw new Error(`${JSON.stringify(endpoint)} is not a unix:// endpoint`);
  return endpoint.slice("unix://".length);
}

export function envelopeKeyTags(cluster: string, environment: string, key: string): Record<string, string> {
  return {
    "secure-etcd:cluster": cluster,
    "secure-etcd:environment": environment,
    "secure-etcd:purpose": "kubernetes-envelope-encryption",
    "secure-etcd:encryption-key": key,
  };
}
