/*
 * Allowed values and defaults shared by the component args, the stack-config loader and the renderers.
 *
 * Each set of choices is an `as const` object (the form Pulumi's component analyzer turns into a schema
 * enum, member names included) and the list the schema validates against is read from it: one home.
 */

/** Key algorithm for every key of the etcd PKI (kubeadm's `EncryptionAlgorithmType` choices). */
export const KeyAlgorithm = {
  EcdsaP256: "ECDSA-P256",
  EcdsaP384: "ECDSA-P384",
  Rsa2048: "RSA-2048",
  Rsa3072: "RSA-3072",
  Rsa4096: "RSA-4096",
} as const;
export type KeyAlgorithm = (typeof KeyAlgorithm)[keyof typeof KeyAlgorithm];
export const keyAlgorithms: readonly KeyAlgorithm[] = Object.values(KeyAlgorithm);

/** kube-apiserver encryption provider that may encrypt writes (CIS 1.2.28 accepts aescbc, kms, secretbox; aesgcm is also real encryption). */
export const EncryptionProvider = {
  /** XSalsa20-Poly1305, 32-byte key: strong (the default). */
  Secretbox: "secretbox",
  /** AES-CBC with PKCS#7 padding: rated weak (padding oracle). */
  Aescbc: "aescbc",
  /** AES-GCM: must be rotated every 200,000 writes; FAILS CIS 1.2.28 as kube-bench reads it. */
  Aesgcm: "aesgcm",
  /** KMS v2 envelope encryption through a plugin socket: the strongest. */
  Kms: "kms",
} as const;
export type EncryptionProvider = (typeof EncryptionProvider)[keyof typeof EncryptionProvider];
export const encryptionProviders: readonly EncryptionProvider[] = Object.values(EncryptionProvider);

/** Rotation state of an encryption key (docs/rotating-encryption-keys.md). */
export const KeyState = {
  /** Listed first, encrypts every write (exactly one). */
  Primary: "primary",
  /** Listed after the primary so every API server can already *read* with it before it becomes primary. */
  Staged: "staged",
  /** A former primary kept for reads until every object has been rewritten with the new primary. */
  Retired: "retired",
  /**
   * No longer in the EncryptionConfiguration (nothing stored in etcd uses it), but kept in the secret
   * store's key archive until every snapshot taken while it was in force has expired.
   */
  Archived: "archived",
} as const;
export type KeyState = (typeof KeyState)[keyof typeof KeyState];
export const keyStates: readonly KeyState[] = Object.values(KeyState);

/** Minimum TLS version of etcd's listeners. */
export const MinTlsVersion = { Tls12: "TLS1.2", Tls13: "TLS1.3" } as const;
export type MinTlsVersion = (typeof MinTlsVersion)[keyof typeof MinTlsVersion];
export const minTlsVersions: readonly MinTlsVersion[] = Object.values(MinTlsVersion);

/** ECDHE key exchange with AEAD ciphers only (Go names, as etcd's --cipher-suites expects). TLS 1.3 suites are not configurable in Go. */
export const defaultCipherSuites = [
  "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
  "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
  "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
  "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
  "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
  "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
] as const;
export const allowedCipherSuites: readonly string[] = defaultCipherSuites;

export const defaults = {
  keyAlgorithm: "ECDSA-P256" as KeyAlgorithm,
  /** kubeadm: CA 10 years. */
  caValidityHours: 87600,
  /** kubeadm: leaves 1 year. */
  leafValidityHours: 8760,
  /** Re-issue leaves on a `pulumi up` within 30 days of expiry. */
  earlyRenewalHours: 720,
  encryptionProvider: "secretbox" as EncryptionProvider,
  encryptedResources: ["secrets", "configmaps"],
  kmsTimeout: "3s",
  minTlsVersion: "TLS1.2" as MinTlsVersion,
  backupClientCommonName: "etcd-backup",
  etcdImageRepository: "registry.k8s.io/etcd",
  /** kubeadm's node layout. */
  paths: {
    pkiDir: "/etc/kubernetes/pki",
    manifestDir: "/etc/kubernetes/manifests",
    dataDir: "/var/lib/etcd",
    encryptionConfigDir: "/etc/kubernetes/enc",
  },
} as const;

/**
 * Longest validity accepted (100 years). Beyond ~292 years the tls provider's Go duration arithmetic
 * overflows, and X.509 dates end in 9999; a CA that outlives every operator is a mistake anyway.
 */
export const maxValidityHours = 876_000;
