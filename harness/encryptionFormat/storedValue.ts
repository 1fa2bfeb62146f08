/**
 * The bytes kube-apiserver writes to etcd for an encrypted object, and its read path.
 *
 * Layouts, checked against kubernetes/kubernetes:
 *  - prefix: staging/src/k8s.io/apiserver/pkg/server/options/encryptionconfig/config.go —
 *    `k8s:enc:<aescbc|aesgcm|secretbox>:v1:` then, per key, `<keyName>:`; kms: `k8s:enc:kms:<v1|v2>:<name>:`.
 *  - aescbc / aesgcm: staging/src/k8s.io/apiserver/pkg/storage/value/encrypt/aes/aes.go —
 *    CBC: 16-byte random IV ‖ AES-CBC(PKCS#7 padded plaintext), no authenticated data;
 *    GCM: 12-byte random nonce ‖ ciphertext ‖ 16-byte tag, additional data = the etcd key.
 *  - secretbox: staging/src/k8s.io/apiserver/pkg/storage/value/encrypt/secretbox/secretbox.go —
 *    24-byte random nonce ‖ golang.org/x/crypto/nacl/secretbox.Seal output (16-byte Poly1305 tag ‖ XSalsa20 ciphertext).
 *  - read path: staging/src/k8s.io/apiserver/pkg/storage/value/transformer.go (prefixTransformers) and
 *    .../encrypt/identity/identity.go.
 */
import { type CipherGCMTypes, createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { xsalsa20poly1305 } from "@noble/ciphers/salsa.js";
import {
  ALLOWED_KEY_LENGTHS,
  type KeyedProvider,
  type KeyedProviderType,
  type KmsProvider,
  type ParsedEncryptionConfig,
  resolveProviders,
} from "./config";

/** Prefix every encrypted value starts with (identity.go refuses to read such data as plaintext). */
export const ENCRYPTED_PREFIX = "k8s:enc:";

const IV_OR_NONCE_LENGTH: Readonly<Record<KeyedProviderType, number>> = {
  aescbc: 16,
  aesgcm: 12,
  secretbox: 24,
};
const AES_BLOCK = 16;
const GCM_TAG = 16;
const SECRETBOX_OVERHEAD = 16;

/** `k8s:enc:<provider>:v1:` */
export function providerPrefix(provider: KeyedProviderType): string {
  return `${ENCRYPTED_PREFIX}${provider}:v1:`;
}

/** `k8s:enc:<provider>:v1:<keyName>:` — what precedes the transformer output in etcd. */
export function storedValuePrefix(provider: KeyedProviderType, keyName: string): string {
  return `${providerPrefix(provider)}${keyName}:`;
}

/** `k8s:enc:kms:<v1|v2>:<name>:` */
export function kmsStoredValuePrefix(kms: Pick<KmsProvider, "apiVersion" | "name">): string {
  return `${ENCRYPTED_PREFIX}kms:${kms.apiVersion}:${kms.name}:`;
}

export interface EncryptStoredValueInput {
  provider: KeyedProviderType;
  keyName: string;
  key: Buffer;
  plaintext: Buffer;
  /** The etcd key, e.g. `/registry/secrets/default/s1`. Authenticated by aesgcm only (aescbc/secretbox ignore it). */
  dataContext: string | Buffer;
  /**
   * IV (aescbc, 16 bytes) or nonce (aesgcm 12, secretbox 24). Random when omitted, as the apiserver always
   * does; pass it only to reproduce a fixed test vector. Never reuse a nonce with the same key.
   */
  nonce?: Buffer;
}

/** Exactly what kube-apiserver writes to etcd for `plaintext` with this provider and key. */
export function encryptStoredValue(input: EncryptStoredValueInput): Buffer {
  const { provider, keyName, key, plaintext } = input;
  if (!(provider in IV_OR_NONCE_LENGTH)) throw new Error(`unsupported provider ${JSON.stringify(provider)}`);
  if (keyName === "") throw new Error("keyName must not be empty");
  checkKeyLength(provider, key);
  const nonceLength = IV_OR_NONCE_LENGTH[provider];
  const nonce = input.nonce ?? randomBytes(nonceLength);
  if (nonce.length !== nonceLength) {
    throw new Error(
      `${provider} needs a ${nonceLength}-byte ${provider === "aescbc" ? "IV" : "nonce"}, got ${nonce.length}`,
    );
  }
  let body: Buffer;
  switch (provider) {
    case "aescbc":
      body = aesCbcSeal(key, nonce, plaintext);
      break;
    case "aesgcm":
      body = aesGcmSeal(key, nonce, plaintext, toBytes(input.dataContext));
      break;
    case "secretbox":
      body = secretboxSeal(key, nonce, plaintext);
      break;
  }
  return Buffer.concat([Buffer.from(storedValuePrefix(provider, keyName), "utf8"), body]);
}

export interface DecryptedValue {
  plaintext: Buffer;
  /** Provider that read it: aescbc, aesgcm, secretbox or identity. */
  provider: string;
  /** Key that read it; null for identity. */
  keyName: string | null;
  /** True when not read by the first provider/key: kube-apiserver would rewrite it on the next update. */
  stale: boolean;
}

/** A value kube-apiserver could not read. */
export class StoredValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoredValueError";
  }
}

/**
 * kube-apiserver's read path for `resource` (e.g. "secrets", "deployments.apps"): take the resource's
 * provider list, try every provider (and every key) whose prefix matches, in order; a failure moves on to
 * the next match; `identity` (empty prefix) returns anything that does not start with `k8s:enc:`. Nothing
 * matching: "no matching prefix found". A resource no entry covers is read like identity.
 * kms-encrypted values cannot be decrypted offline: they are reported as an error, never as plaintext.
 */
export function decryptStoredValue(
  config: ParsedEncryptionConfig,
  resource: string,
  stored: Buffer,
  dataContext: string | Buffer,
): DecryptedValue {
  const providers = resolveProviders(config, resource);
  const aad = toBytes(dataContext);
  const isEncrypted = startsWith(stored, ENCRYPTED_PREFIX);
  if (providers === null) {
    if (isEncrypted) {
      throw new StoredValueError(
        `${resource}: no resources entry covers it, so it is read as identity: identity transformer tried to read encrypted data`,
      );
    }
    return { plaintext: Buffer.from(stored), provider: "identity", keyName: null, stale: false };
  }
  const errors: string[] = [];
  for (const [i, p] of providers.entries()) {
    if (p.type === "identity") {
      // identity.go: refuses data that starts with k8s:enc:, and that refusal is not an error (transformer.go).
      if (isEncrypted) continue;
      return { plaintext: Buffer.from(stored), provider: "identity", keyName: null, stale: i !== 0 };
    }
    if (p.type === "kms") {
      const prefix = kmsStoredValuePrefix(p);
      if (startsWith(stored, prefix)) {
        errors.push(`${prefix}: kms provider "${p.name}" cannot be decrypted offline (needs its KMS plugin)`);
      }
      continue;
    }
    const prefix = providerPrefix(p.type);
    if (!startsWith(stored, prefix)) continue;
    const result = openWithKeys(p, stored.subarray(Buffer.byteLength(prefix)), aad);
    if ("error" in result) {
      errors.push(result.error);
      continue;
    }
    return {
      plaintext: result.plaintext,
      provider: p.type,
      keyName: result.keyName,
      stale: i !== 0 || result.index !== 0,
    };
  }
  if (errors.length > 0) throw new StoredValueError(`${resource}: ${aggregate(errors)}`);
  throw new StoredValueError(`${resource}: no matching prefix found`);
}

function openWithKeys(
  p: KeyedProvider,
  rest: Buffer,
  aad: Buffer,
): { plaintext: Buffer; keyName: string; index: number } | { error: string } {
  const errors: string[] = [];
  for (const [index, k] of p.keys.entries()) {
    const keyPrefix = `${k.name}:`;
    if (!startsWith(rest, keyPrefix)) continue;
    const body = rest.subarray(Buffer.byteLength(keyPrefix));
    try {
      checkKeyLength(p.type, k.secret);
      const plaintext =
        p.type === "aescbc"
          ? aesCbcOpen(k.secret, body)
          : p.type === "aesgcm"
            ? aesGcmOpen(k.secret, body, aad)
            : secretboxOpen(k.secret, body);
      return { plaintext, keyName: k.name, index };
    } catch (e) {
      errors.push(`${p.type} key "${k.name}": ${(e as Error).message}`);
    }
  }
  if (errors.length > 0) return { error: aggregate(errors) };
  return {
    error: `no matching key was found for the provided ${p.type === "secretbox" ? "Secretbox" : "AES"} transformer (${p.type})`,
  };
}

// ---------------------------------------------------------------------------------------------------
// transformers (aes.go, secretbox.go)

function aesCbcSeal(key: Buffer, iv: Buffer, plaintext: Buffer): Buffer {
  const c = createCipheriv(`aes-${key.length * 8}-cbc`, key, iv); // OpenSSL's default padding is PKCS#7
  return Buffer.concat([iv, c.update(plaintext), c.final()]);
}

function aesCbcOpen(key: Buffer, data: Buffer): Buffer {
  if (data.length < AES_BLOCK) throw new Error("the stored data was shorter than the required size");
  const iv = data.subarray(0, AES_BLOCK);
  const ct = data.subarray(AES_BLOCK);
  if (ct.length % AES_BLOCK !== 0) throw new Error("the stored data is not a multiple of the block size");
  if (ct.length === 0) throw new Error("invalid PKCS7 data (empty or not padded)");
  const d = createDecipheriv(`aes-${key.length * 8}-cbc`, key, iv);
  d.setAutoPadding(false); // check the padding exactly as aes.go does
  const result = Buffer.concat([d.update(ct), d.final()]);
  const pad = result[result.length - 1];
  if (pad === 0 || pad > result.length) throw new Error("invalid PKCS7 data (empty or not padded)");
  for (let i = result.length - pad; i < result.length; i++) {
    if (result[i] !== pad) throw new Error("invalid padding on input");
  }
  return result.subarray(0, result.length - pad);
}

function gcmCipherName(key: Buffer): CipherGCMTypes {
  return key.length === 16 ? "aes-128-gcm" : key.length === 24 ? "aes-192-gcm" : "aes-256-gcm";
}

function aesGcmSeal(key: Buffer, nonce: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const c = createCipheriv(gcmCipherName(key), key, nonce, { authTagLength: GCM_TAG });
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([nonce, ct, c.getAuthTag()]);
}

function aesGcmOpen(key: Buffer, data: Buffer, aad: Buffer): Buffer {
  const n = IV_OR_NONCE_LENGTH.aesgcm;
  if (data.length < n) throw new Error("the stored data was shorter than the required size");
  if (data.length < n + GCM_TAG) throw new Error("cipher: message authentication failed");
  const d = createDecipheriv(gcmCipherName(key), key, data.subarray(0, n), { authTagLength: GCM_TAG });
  d.setAAD(aad);
  d.setAuthTag(data.subarray(data.length - GCM_TAG));
  try {
    return Buffer.concat([d.update(data.subarray(n, data.length - GCM_TAG)), d.final()]);
  } catch {
    throw new Error("cipher: message authentication failed");
  }
}

function secretboxSeal(key: Buffer, nonce: Buffer, plaintext: Buffer): Buffer {
  // noble's output is tag ‖ ciphertext, the same layout as Go's secretbox.Seal.
  const sealed = xsalsa20poly1305(new Uint8Array(key), new Uint8Array(nonce)).encrypt(
    new Uint8Array(plaintext),
  );
  return Buffer.concat([nonce, Buffer.from(sealed)]);
}

function secretboxOpen(key: Buffer, data: Buffer): Buffer {
  const n = IV_OR_NONCE_LENGTH.secretbox;
  if (data.length < n + SECRETBOX_OVERHEAD)
    throw new Error("the stored data was shorter than the required size");
  try {
    const opened = xsalsa20poly1305(new Uint8Array(key), new Uint8Array(data.subarray(0, n))).decrypt(
      new Uint8Array(data.subarray(n)),
    );
    return Buffer.from(opened);
  } catch {
    // secretbox.go says "output array was not large enough for encryption" for this case.
    throw new Error("secretbox: message authentication failed");
  }
}

// ---------------------------------------------------------------------------------------------------

function checkKeyLength(provider: KeyedProviderType, key: Buffer): void {
  const allowed = ALLOWED_KEY_LENGTHS[provider];
  if (!allowed.includes(key.length)) {
    throw new Error(`${provider} key is ${key.length} bytes, ${provider} needs ${allowed.join("/")}`);
  }
}

function toBytes(v: string | Buffer): Buffer {
  return typeof v === "string" ? Buffer.from(v, "utf8") : v;
}

function startsWith(data: Buffer, prefix: string): boolean {
  const p = Buffer.from(prefix, "utf8");
  return data.length >= p.length && data.subarray(0, p.length).equals(p);
}

/** k8s.io/apimachinery util/errors aggregate: one error as is, several as "[a, b]" (duplicates dropped). */
function aggregate(errors: string[]): string {
  const unique = [...new Set(errors)];
  return unique.length === 1 ? unique[0] : `[${unique.join(", ")}]`;
}
