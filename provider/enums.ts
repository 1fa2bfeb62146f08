/*
 * The schema's string choices as `as const` objects: the form the component analyzer turns into schema
 * enums (it refuses bare string-literal unions). Values come from components/config; the checks in
 * secureEtcdArgs.ts fail to compile when a list here and the component's drift apart.
 */

/** Key algorithm for every key of the etcd PKI (kubeadm's choices). */
export const KeyAlgorithm = {
  EcdsaP256: "ECDSA-P256",
  EcdsaP384: "ECDSA-P384",
  Rsa2048: "RSA-2048",
  Rsa3072: "RSA-3072",
  Rsa4096: "RSA-4096",
} as const;
export type KeyAlgorithm = (typeof KeyAlgorithm)[keyof typeof KeyAlgorithm];

/** kube-apiserver encryption provider. */
export const EncryptionProvider = {
  Secretbox: "secretbox",
  Aescbc: "aescbc",
  Aesgcm: "aesgcm",
  Kms: "kms",
} as const;
export type EncryptionProvider = (typeof EncryptionProvider)[keyof typeof EncryptionProvider];

/** Rotation state of an encryption key (README "Rotating encryption keys without losing data"). */
export const KeyState = {
  Primary: "primary",
  Staged: "staged",
  Retired: "retired",
  Archived: "archived",
} as const;
export type KeyState = (typeof KeyState)[keyof typeof KeyState];

/** Minimum TLS version of etcd's listeners. */
export const MinTlsVersion = { Tls12: "TLS1.2", Tls13: "TLS1.3" } as const;
export type MinTlsVersion = (typeof MinTlsVersion)[keyof typeof MinTlsVersion];

/** S3 storage class snapshots move to after `transitionToColdAfterDays`. */
export const ColdStorageClass = {
  GlacierIr: "GLACIER_IR",
  IntelligentTiering: "INTELLIGENT_TIERING",
  StandardIa: "STANDARD_IA",
  OnezoneIa: "ONEZONE_IA",
  Glacier: "GLACIER",
  DeepArchive: "DEEP_ARCHIVE",
} as const;
export type ColdStorageClass = (typeof ColdStorageClass)[keyof typeof ColdStorageClass];

/** S3 Object Lock retention mode. */
export const ObjectLockMode = { Governance: "GOVERNANCE", Compliance: "COMPLIANCE" } as const;
export type ObjectLockMode = (typeof ObjectLockMode)[keyof typeof ObjectLockMode];
