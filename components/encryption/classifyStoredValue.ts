/**
 * What protects a value kube-apiserver stored in etcd, read from its prefix alone (no key material).
 *
 * kube-apiserver writes `k8s:enc:<aescbc|aesgcm|secretbox>:v1:<keyName>:` + ciphertext for the local
 * providers and `k8s:enc:kms:<v1|v2>:<providerName>:` + the envelope for kms
 * (kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/server/options/encryptionconfig/config.go).
 * Everything else is what the identity provider wrote: plaintext. Pure, so both the shipped
 * `verify-encryption` command and the rehearsal harness classify values with the same rules.
 */

/** What every encrypted value starts with (identity refuses to read such data as plaintext). */
export const encryptedValueMarker = "k8s:enc:";

export type LocalEncryptionProvider = "aescbc" | "aesgcm" | "secretbox";

export type StoredValueClass =
  | {
      encrypted: true;
      provider: LocalEncryptionProvider | "kms";
      /** Prefix version: always v1 for local providers; v1 or v2 for kms. */
      version: "v1" | "v2";
      /** The key's name (local providers) or the kms provider's name, as written in the prefix. */
      keyName: string;
    }
  | {
      encrypted: false;
      /**
       * `unrecognized-prefix`: starts with `k8s:enc:` but in no form a provider writes (kube-apiserver
       * could not read it either); it is still counted as not encrypted by any known key.
       */
      reason: "no-prefix" | "unrecognized-prefix";
    };

/*
 * A key or provider name: printable ASCII without ':' (the separator) or spaces. The 255-byte cap keeps
 * the search bounded on large values; this project's own key names are much shorter (schema.ts).
 */
const localForm = /^k8s:enc:(aescbc|aesgcm|secretbox):v1:([\x21-\x39\x3b-\x7e]{1,255}):/;
const kmsForm = /^k8s:enc:kms:(v1|v2):([\x21-\x39\x3b-\x7e]{1,255}):/;
/** Longest prefix either form can have: enough bytes to decode, whatever the value's size. */
const longestPrefix = "k8s:enc:secretbox:v1:".length + 256;

/** Classifies one stored value by its prefix. Never looks past the prefix, never returns value bytes. */
export function classifyStoredValue(value: Uint8Array): StoredValueClass {
  // latin1 maps each byte to one char, so a binary ciphertext after the prefix cannot shift the match.
  const head = Buffer.from(value.buffer, value.byteOffset, Math.min(value.length, longestPrefix)).toString(
    "latin1",
  );
  if (!head.startsWith(encryptedValueMarker)) return { encrypted: false, reason: "no-prefix" };
  const local = localForm.exec(head);
  if (local)
    return {
      encrypted: true,
      provider: local[1] as LocalEncryptionProvider,
      version: "v1",
      keyName: local[2],
    };
  const kms = kmsForm.exec(head);
  if (kms) return { encrypted: true, provider: "kms", version: kms[1] as "v1" | "v2", keyName: kms[2] };
  return { encrypted: false, reason: "unrecognized-prefix" };
}

/** `secretbox/key-1`, `kms-v2/vault`, or `plaintext`: one label per way a value can be stored. */
export function storedValueLabel(c: StoredValueClass): string {
  if (!c.encrypted) return "plaintext";
  return c.provider === "kms" ? `kms-${c.version}/${c.keyName}` : `${c.provider}/${c.keyName}`;
}
