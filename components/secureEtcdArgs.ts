import type * as aws from "@pulumi/aws";
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ColdStorageClass } from "./backup/defaults";
import type { EncryptionProvider, KeyAlgorithm, KeyState, MinTlsVersion, SettingsInput } from "./config";
import type { KeyStateRecord } from "./encryption/transitions";

/*
 * The public Args of SecureEtcd, documented for users. The config schema (config/schema.ts) is the one
 * source of the config shape; the checks at the bottom make `tsc` fail when these Args and the schema
 * stop describing the same keys, so a drift (an arg accepted but ignored) cannot compile.
 */

/**
 * One etcd member (a control-plane node running etcd as a static pod). The name is plain (it names
 * resources); the address and DNS names may come from other resources (e.g. an ENI's `privateIp`).
 */
export interface EtcdMemberArgs<M extends string = string> {
  /** Member name, also the node name and the server/peer cert CN (lowercase DNS label, e.g. `cp-1`). Plain: it names resources. */
  name: M;
  /** The address etcd listens on and advertises for clients (2379) and peers (2380). IPv4 or IPv6. Validated when it resolves. */
  ip: pulumi.Input<string>;
  /** Extra DNS names for the server and peer certs (the member name is always included). Validated when they resolve. */
  dnsNames?: pulumi.Input<pulumi.Input<string>[]>;
}

export interface EncryptionKeyArgs {
  /** Key name, written into every stored value's prefix (`k8s:enc:<provider>:v1:<name>:`); never reuse one. */
  name: string;
  /**
   * `primary` encrypts writes (exactly one); `staged` is readable before it becomes primary; `retired` is a
   * former primary kept until every object is rewritten; `archived` left the EncryptionConfiguration and is
   * kept only for restoring older snapshots. Rotate: add new as `staged` → apply, restart every API server →
   * swap (`primary`/`retired`) → apply, restart → rewrite all objects → `secure-etcd verify-encryption` →
   * `archived` (with `archivedOn`) → delete the entry once every snapshot that needs it has expired.
   */
  state: KeyState;
  /** Provider for this key; defaults to `encryption.provider`. Lets a cluster move e.g. from aescbc to secretbox. */
  provider?: EncryptionProvider;
  /** KMS v2 plugin socket (`unix:///…`); kms keys only. */
  endpoint?: string;
  /** KMS call timeout as a Go duration (default `3s`); kms keys only. */
  timeout?: string;
  /**
   * The day (`YYYY-MM-DD`) an `archived` key left the EncryptionConfiguration. The key stays in the secret
   * store's key archive until every snapshot taken while it was in force has expired.
   */
  archivedOn?: string;
}

export interface EncryptionArgs {
  /** Default provider for keys: `secretbox` (default, strong), `aescbc` (weak: padding oracle), `aesgcm` (rotate every 200k writes), `kms` (v2). */
  provider?: EncryptionProvider;
  /** Resources kube-apiserver encrypts (default `secrets`, `configmaps`). */
  resources?: string[];
  /** The keys and their rotation states (default one primary key `key1`). */
  keys?: EncryptionKeyArgs[];
  /** Append `identity` so plaintext written before encryption was enabled stays readable. Only while migrating. */
  identityFallback?: boolean;
  /** Render `--encryption-provider-config-automatic-reload=true` (kube-apiserver 1.26+). */
  automaticReload?: boolean;
}

export interface HostPathsArgs {
  /** kubeadm's certificatesDir (default `/etc/kubernetes/pki`); etcd certs go in `<pkiDir>/etcd`. */
  pkiDir?: string;
  /** Static pod manifest dir (default `/etc/kubernetes/manifests`). */
  manifestDir?: string;
  /** etcd data dir (default `/var/lib/etcd`, mode 0700). */
  dataDir?: string;
  /** Where the EncryptionConfiguration lives (default `/etc/kubernetes/enc`). */
  encryptionConfigDir?: string;
}

export interface TlsArgs {
  /** `TLS1.2` (default) or `TLS1.3`; rendered as `--tls-min-version` on etcd 3.5.8+ only. */
  minVersion?: MinTlsVersion;
  /** Go cipher suite names; ECDHE with AEAD only (the default is all six). */
  cipherSuites?: string[];
}

/** Snapshots to a hardened S3 bucket (see README "Snapshots and restore"). */
export interface BackupArgs {
  /** Create the snapshot bucket, policies and job (default true). */
  enabled?: boolean;
  /** Physical bucket name (default: auto-named). */
  bucketName?: string;
  /** Cron schedule override (defaults: dev every 6 h, staging hourly, prod every 15 min). */
  schedule?: string;
  /** Days a snapshot is current before it expires (defaults: dev 7, staging 14, prod 35). */
  retentionDays?: number;
  /** Days an expired (noncurrent) version is kept before deletion (defaults: 1 / 3 / 7). */
  noncurrentVersionDays?: number;
  /** Move snapshots to `coldStorageClass` after this many days (off by default: see README). */
  transitionToColdAfterDays?: number;
  coldStorageClass?: ColdStorageClass;
  /**
   * S3 Object Lock for every snapshot version. IRREVERSIBLE: it needs versioning (always on) and once
   * enabled on a bucket it can NEVER be turned off again; a locked bucket cannot receive access logs.
   */
  objectLock?: { mode: "GOVERNANCE" | "COMPLIANCE"; days: number };
  /** Replicate snapshots to a bucket in this region (same hardening, its own KMS key). */
  replicaRegion?: string;
  /** S3 server access logs into another bucket (never this one, never a locked one). */
  accessLogging?: { targetBucket: string; targetPrefix?: string };
  /** Bind the writer policy to the job's ServiceAccount through this IAM OIDC provider (IRSA). */
  oidc?: { providerArn: string; providerUrl: string; namespace?: string; serviceAccount?: string };
  /** KMS key deletion waiting period, 7–30 days (default 30). */
  kmsKeyDeletionWindowDays?: number;
}

/**
 * Each member's bundle (its certs and keys, the EncryptionConfiguration) in AWS Secrets Manager under a
 * customer-managed KMS key, readable only by that member's IAM role; the nodes fetch it with the bootstrap
 * that `nodeUserData` installs (see README "Secrets on the nodes").
 */
export interface SecretStoreArgs {
  /** Create the KMS key, the secrets, their policies and the node roles (default true). */
  enabled?: boolean;
  /** Days a deleted node secret can be restored, 7–30 (defaults: dev 7, staging 14, prod and others 30). */
  recoveryWindowDays?: number;
  /** KMS key deletion waiting period, 7–30 days (default 30). */
  kmsKeyDeletionWindowDays?: number;
  /** Replicate every secret (the key archive included) to this region, under its own KMS key there. */
  replicaRegion?: string;
  /**
   * Existing IAM role name per member (`{ "cp-1": "payments-cp-1" }`): the member's read policy is attached
   * to it. Members not listed get a new role with an EC2 trust policy and an instance profile.
   */
  nodeRoles?: Record<string, string>;
  /** ARN of a role that may read the key archive for restores (no node role ever can). */
  restoreReaderRoleArn?: string;
  /** Minutes between bootstrap runs on each node, 1–60 (default 5): how soon a renewed cert arrives. */
  bootstrapIntervalMinutes?: number;
  /**
   * Also render `offlineNodeCloudInit`: user data that carries the private keys and encryption keys
   * itself, for air-gapped labs without Secrets Manager. A secret output; refused for prod.
   */
  offlineCloudInit?: boolean;
}

/**
 * Args for {@link SecureEtcd}. Member addresses and DNS names are `pulumi.Input`s (they can come from
 * other resources and decide no resource); everything else is plain because it decides which resources
 * exist (member names and count, key names and states, feature switches, environment) or is small
 * config known when the program is written. Known values are validated at construction (preview);
 * Inputs are validated by the same schema, with the same messages, when they resolve.
 * `M` is the union of member names: pass literals and lookups by a name not listed fail to compile.
 */
export interface SecureEtcdArgs<M extends string = string> {
  /** Cluster name (lowercase DNS label); part of the etcd cluster token. */
  clusterName: string;
  /** Environment (e.g. `dev`, `staging`, `prod`); part of the etcd cluster token and backup prefix. */
  environment: string;
  /** etcd members: an odd count from 1 to 7. */
  members: EtcdMemberArgs<M>[];
  /** Target etcd release (e.g. `3.6.17`); only flags this release accepts are rendered. 3.4.0 ≤ v < 3.8.0. */
  etcdVersion: string;
  /** etcd image (default `registry.k8s.io/etcd:<version>-0`). */
  etcdImage?: string;
  /** `ECDSA-P256` (default), `ECDSA-P384`, `RSA-2048`, `RSA-3072`, `RSA-4096`. */
  keyAlgorithm?: KeyAlgorithm;
  /** CA validity in hours (default 87600 = 10 years). */
  caValidityHours?: number;
  /** Leaf cert validity in hours (default 8760 = 1 year). */
  leafValidityHours?: number;
  /** A `pulumi up` this many hours before expiry re-issues the cert (default 720 = 30 days). */
  earlyRenewalHours?: number;
  /** CN of the snapshot client cert (default `etcd-backup`). */
  backupClientCommonName?: string;
  /** Encryption at rest for kube-apiserver. */
  encryption?: EncryptionArgs;
  /** Host paths on the control-plane nodes. */
  paths?: HostPathsArgs;
  /** TLS hardening for etcd's listeners. */
  tls?: TlsArgs;
  /** Protect encryption keys from deletion (default true). See README "Rotating encryption keys". */
  protectEncryptionKeys?: boolean;
  /** Verified, encrypted snapshots to S3 (on by default). */
  backup?: BackupArgs;
  /** Node bundles in Secrets Manager, node roles, and the bootstrap's user data (on by default). */
  secretStore?: SecretStoreArgs;
  /** When given, the snapshot CronJob and its Secret/ConfigMap are created in that cluster; otherwise only rendered. */
  kubernetesProvider?: k8s.Provider;
  /** Provider for the snapshot replica's resources (with `backup.replicaRegion`). */
  replicaProvider?: aws.Provider;
  /**
   * The encryption key states last deployed (this component's `encryptionKeyStates` output, e.g. read
   * from the stack's own outputs). When given, an unsafe step — a key made primary without the staged
   * step, a key that may still encrypt data dropped, an archived key removed while snapshots need it —
   * is refused at preview with the safe next step. The program passes it automatically.
   */
  previousEncryptionKeys?: KeyStateRecord[];
  /**
   * The etcd version last deployed (e.g. the stack's own `etcdVersion` output). When given, a downgrade
   * across minors, a skipped minor (3.5 → 3.7) and a minor step from below the patch etcd's upgrade
   * guide requires (3.5.32 before 3.6, 3.6.11 before 3.7) are refused at preview, naming the safe next
   * step. The program passes it automatically.
   */
  previousEtcdVersion?: string;
}

// ---- compile-time: the Args and the schema describe the same keys --------------------------------------

/** Args that are resources or deployment state, not config: the schema never sees them. */
type ResourceArgs =
  "kubernetesProvider" | "replicaProvider" | "previousEncryptionKeys" | "previousEtcdVersion";

/** The Args with every Input resolved: the shape the schema validates once values are known. */
type ResolvedArgs<A> = pulumi.Unwrap<Omit<A, ResourceArgs>>;

/** Every key path of a shape (`backup.objectLock.days`), arrays looked through. */
type DeepKeys<T> = T extends readonly (infer E)[]
  ? DeepKeys<E>
  : T extends object
    ? { [K in keyof T & string]-?: K | `${K}.${DeepKeys<NonNullable<T[K]>>}` }[keyof T & string]
    : never;

/** The key paths an Args shape and the schema do not share (both `never` when they agree). */
export type ArgsDrift<A> = {
  onlyInArgs: Exclude<DeepKeys<ResolvedArgs<A>>, DeepKeys<SettingsInput>>;
  onlyInSchema: Exclude<DeepKeys<SettingsInput>, DeepKeys<ResolvedArgs<A>>>;
};

type ExpectNoDrift<T extends { onlyInArgs: never; onlyInSchema: never }> = T;
type ExpectAssignable<T extends U, U> = [T, U];

/** Fails to compile, naming the key, when an arg has no schema key or a schema key has no arg. */
export type ArgsMatchSchema = ExpectNoDrift<ArgsDrift<SecureEtcdArgs>>;
/** Fails to compile when an arg's type is one the schema would not accept. */
export type ArgsAcceptedBySchema = ExpectAssignable<ResolvedArgs<SecureEtcdArgs>, SettingsInput>;
