/** Allowed values and defaults shared by the component args, the stack-config loader and the renderers. */

/** Key algorithms kubeadm offers for its PKI (`EncryptionAlgorithmType`). */
export const keyAlgorithms = ["ECDSA-P256", "ECDSA-P384", "RSA-2048", "RSA-3072", "RSA-4096"] as const;
export type KeyAlgorithm = (typeof keyAlgorithms)[number];

/** Providers that may encrypt writes (CIS 1.2.28 accepts aescbc, kms, secretbox; aesgcm is also real encryption). */
export const encryptionProviders = ["secretbox", "aescbc", "aesgcm", "kms"] as const;
export type EncryptionProvider = (typeof encryptionProviders)[number];

/**
 * Rotation state of an encryption key.
 * - `primary`: listed first, encrypts every write (exactly one).
 * - `staged`: listed after the primary so every API server can already *read* with it before it becomes primary.
 * - `retired`: a former primary kept for reads until every object has been rewritten with the new primary.
 * - `archived`: no longer in the EncryptionConfiguration (nothing stored in etcd uses it), but kept in the
 *   secret store's key archive until every snapshot taken while it was in force has expired.
 */
export const keyStates = ["primary", "staged", "retired", "archived"] as const;
export type KeyState = (typeof keyStates)[number];

export const minTlsVersions = ["TLS1.2", "TLS1.3"] as const;
export type MinTlsVersion = (typeof minTlsVersions)[number];

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
