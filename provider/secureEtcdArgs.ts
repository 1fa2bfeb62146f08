import type * as pulumi from "@pulumi/pulumi";
import type * as component from "../components";
import type {
  ColdStorageClass,
  EncryptionProvider,
  KeyAlgorithm,
  KeyState,
  MinTlsVersion,
  ObjectLockMode,
} from "./enums"; // named: the analyzer names each schema enum after the reference's text

/*
 * SecureEtcd's args in the shapes the component analyzer can put into a Pulumi schema (named interfaces,
 * `as const` enums, no generics, no inline object types), for Python, YAML, Go, .NET and Java. The
 * component's own Args (components/secureEtcdArgs.ts) stay the reference: the checks at the bottom fail
 * to compile when a key is missing on either side or a type here is one the component would not accept.
 * Plain fields are plain in every language (they decide which resources exist); Inputs are Inputs.
 */

/** One etcd member (a control-plane node running etcd as a static pod). */
export interface EtcdMember {
  /** Member name, also the node name and the server/peer cert CN (lowercase DNS label, e.g. `cp-1`). Plain: it names resources. */
  name: string;
  /** The address etcd listens on and advertises (IPv4 or IPv6), e.g. an ENI's private IP. Validated when it resolves. */
  ip: pulumi.Input<string>;
  /** Extra DNS names for the server and peer certs (the member name is always included). */
  dnsNames?: pulumi.Input<pulumi.Input<string>[]>;
}

/** One kube-apiserver encryption key and its rotation state. */
export interface EncryptionKey {
  /** Key name, written into every stored value's prefix; never reuse one. */
  name: string;
  /** `primary` (exactly one), `staged`, `retired` or `archived` (see README "Rotating encryption keys"). */
  state: KeyState;
  /** Provider for this key; defaults to `encryption.provider`. */
  provider?: EncryptionProvider;
  /** KMS v2 plugin socket (`unix:///…`); kms keys only. */
  endpoint?: string;
  /** KMS call timeout as a Go duration (default `3s`); kms keys only. */
  timeout?: string;
  /** The day (`YYYY-MM-DD`) an `archived` key left the EncryptionConfiguration. */
  archivedOn?: string;
}

/** Encryption at rest for kube-apiserver. */
export interface Encryption {
  /** Default provider for keys (default `secretbox`). */
  provider?: EncryptionProvider;
  /** Resources kube-apiserver encrypts (default `secrets`, `configmaps`). */
  resources?: string[];
  /** The keys and their rotation states (default one primary key `key1`). */
  keys?: EncryptionKey[];
  /** Append `identity` so plaintext written before encryption was enabled stays readable. Only while migrating. */
  identityFallback?: boolean;
  /** Render `--encryption-provider-config-automatic-reload=true` (kube-apiserver 1.26+). */
  automaticReload?: boolean;
}

/** Host paths on the control-plane nodes. */
export interface HostPaths {
  /** kubeadm's certificatesDir (default `/etc/kubernetes/pki`). */
  pkiDir?: string;
  /** Static pod manifest dir (default `/etc/kubernetes/manifests`). */
  manifestDir?: string;
  /** etcd data dir (default `/var/lib/etcd`). */
  dataDir?: string;
  /** Where the EncryptionConfiguration lives (default `/etc/kubernetes/enc`). */
  encryptionConfigDir?: string;
}

/** TLS hardening for etcd's listeners. */
export interface Tls {
  /** `TLS1.2` (default) or `TLS1.3`. */
  minVersion?: MinTlsVersion;
  /** Go cipher suite names; ECDHE with AEAD only. */
  cipherSuites?: string[];
}

/** S3 Object Lock for every snapshot version. IRREVERSIBLE once enabled on a bucket. */
export interface ObjectLock {
  /** `GOVERNANCE` or `COMPLIANCE`. */
  mode: ObjectLockMode;
  /** Retention days. */
  days: number;
}

/** S3 server access logs into another bucket. */
export interface AccessLogging {
  /** The bucket that receives the logs (never the snapshot bucket, never a locked one). */
  targetBucket: string;
  /** Key prefix for the logs. */
  targetPrefix?: string;
}

/** IRSA binding of the snapshot writer policy. */
export interface Oidc {
  /** ARN of the cluster's IAM OIDC provider. */
  providerArn: string;
  /** Its issuer URL. */
  providerUrl: string;
  /** Namespace of the snapshot job's ServiceAccount. */
  namespace?: string;
  /** The ServiceAccount's name. */
  serviceAccount?: string;
}

/** Snapshots to a hardened S3 bucket (README "Snapshots and restore"). */
export interface Backup {
  /** Create the snapshot bucket, policies and job (default true). */
  enabled?: boolean;
  /** Physical bucket name (default: auto-named). */
  bucketName?: string;
  /** Cron schedule override. */
  schedule?: string;
  /** Days a snapshot is current before it expires. */
  retentionDays?: number;
  /** Days an expired version is kept before deletion. */
  noncurrentVersionDays?: number;
  /** Move snapshots to `coldStorageClass` after this many days. */
  transitionToColdAfterDays?: number;
  /** Storage class for that move. */
  coldStorageClass?: ColdStorageClass;
  /** S3 Object Lock (irreversible). */
  objectLock?: ObjectLock;
  /** Replicate snapshots to a bucket in this region. */
  replicaRegion?: string;
  /** S3 server access logs into another bucket. */
  accessLogging?: AccessLogging;
  /** Bind the writer policy to the job's ServiceAccount (IRSA). */
  oidc?: Oidc;
  /** KMS key deletion waiting period, 7–30 days. */
  kmsKeyDeletionWindowDays?: number;
}

/** Node bundles in Secrets Manager, node roles, and the bootstrap's user data. */
export interface SecretStore {
  /** Create the KMS key, the secrets, their policies and the node roles (default true). */
  enabled?: boolean;
  /** Days a deleted node secret can be restored, 7–30. */
  recoveryWindowDays?: number;
  /** KMS key deletion waiting period, 7–30 days. */
  kmsKeyDeletionWindowDays?: number;
  /** Replicate every secret to this region. */
  replicaRegion?: string;
  /** Existing IAM role name per member: the member's read policy is attached to it. */
  nodeRoles?: Record<string, string>;
  /** ARN of a role that may read the key archive for restores. */
  restoreReaderRoleArn?: string;
  /** Minutes between bootstrap runs on each node, 1–60 (default 5). */
  bootstrapIntervalMinutes?: number;
  /** Also render `offlineNodeCloudInit` (air-gapped labs; refused for prod). */
  offlineCloudInit?: boolean;
}

/** An encryption key's name, provider and state as last deployed (no key material). */
export interface KeyStateRecord {
  /** Key name. */
  name: string;
  /** Its state then. */
  state: KeyState;
  /** Its provider. */
  provider: EncryptionProvider;
  /** When it was archived. */
  archivedOn?: string;
}

/** Args of the SecureEtcd component as other languages see it. */
export interface SecureEtcdArgs {
  /** Cluster name (lowercase DNS label); part of the etcd cluster token. */
  clusterName: string;
  /** Environment (e.g. `dev`, `staging`, `prod`). */
  environment: string;
  /** etcd members: an odd count from 1 to 7. */
  members: EtcdMember[];
  /** Target etcd release (e.g. `3.5.16`). */
  etcdVersion: string;
  /** etcd image (default `registry.k8s.io/etcd:<version>-0`). */
  etcdImage?: string;
  /** Key algorithm of the PKI (default `ECDSA-P256`). */
  keyAlgorithm?: KeyAlgorithm;
  /** CA validity in hours (default 87600). */
  caValidityHours?: number;
  /** Leaf cert validity in hours (default 8760). */
  leafValidityHours?: number;
  /** Re-issue a cert this many hours before expiry (default 720). */
  earlyRenewalHours?: number;
  /** CN of the snapshot client cert (default `etcd-backup`). */
  backupClientCommonName?: string;
  /** Encryption at rest for kube-apiserver. */
  encryption?: Encryption;
  /** Host paths on the control-plane nodes. */
  paths?: HostPaths;
  /** TLS hardening for etcd's listeners. */
  tls?: Tls;
  /** Protect encryption keys from deletion (default true). */
  protectEncryptionKeys?: boolean;
  /** Verified, encrypted snapshots to S3 (on by default). */
  backup?: Backup;
  /** Node bundles in Secrets Manager and the bootstrap's user data (on by default). */
  secretStore?: SecretStore;
  /** The encryption key states last deployed (this component's `encryptionKeyStates` output). */
  previousEncryptionKeys?: KeyStateRecord[];
  /** The etcd version last deployed: an unsupported step from it is refused at preview. */
  previousEtcdVersion?: string;
}

// ---- compile-time: these args are the component's -------------------------------------------------------

type ExpectNoDrift<T extends { onlyInArgs: never; onlyInSchema: never }> = T;
type ExpectAssignable<T extends U, U> = [T, U];
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type ExpectTrue<T extends true> = T;

/** Fails to compile, naming the key, when a key here has no schema key or the other way round. */
export type ProviderArgsMatchSchema = ExpectNoDrift<component.ArgsDrift<SecureEtcdArgs>>;
/** Fails to compile when a value accepted here is one the component's Args would not accept. */
export type ProviderArgsAccepted = ExpectAssignable<SecureEtcdArgs, component.SecureEtcdArgs>;
/** Fails to compile when an enum here and the component's list differ. */
export type EnumsMatch = [
  ExpectTrue<Same<KeyAlgorithm, component.KeyAlgorithm>>,
  ExpectTrue<Same<EncryptionProvider, component.EncryptionProvider>>,
  ExpectTrue<Same<KeyState, component.KeyState>>,
  ExpectTrue<Same<MinTlsVersion, component.MinTlsVersion>>,
  ExpectTrue<Same<ColdStorageClass, NonNullable<component.BackupArgs["coldStorageClass"]>>>,
  ExpectTrue<Same<ObjectLockMode, NonNullable<component.BackupArgs["objectLock"]>["mode"]>>,
];
