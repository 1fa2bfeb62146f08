import type * as aws from "@pulumi/aws";
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ColdStorageClass } from "./backup/defaults";
import type {
  EncryptionProvider,
  KeyAlgorithm,
  KeyState,
  MinTlsVersion,
  ObjectLockMode,
  SettingsInput,
} from "./config";

/*
 * The public Args of SecureEtcd: ONE copy, for TypeScript and, through the component provider
 * (provider/), for every other language. They are written in the shapes Pulumi's component analyzer
 * turns into a schema — named interfaces (each becomes a schema type of that name), `as const` enums
 * (config/constants.ts), `pulumi.Input` only where a value may come from another resource — and their
 * doc comments are the descriptions every language's SDK and docs/configuration-reference.md show.
 * Not here, because the analyzer cannot express them: generics, inline object types, string-literal
 * unions, resource objects; those TypeScript-only conveniences live in SecureEtcdArgs<M> at the bottom.
 *
 * The config schema (config/schema.ts) stays the one source of the config's shape and rules: the checks
 * at the end make `tsc` fail when these Args and the schema stop describing the same keys.
 */

export { ColdStorageClass } from "./backup/defaults";
export { EncryptionProvider, KeyAlgorithm, KeyState, MinTlsVersion, ObjectLockMode } from "./config";

/**
 * One etcd member: a control-plane node running etcd as a static pod. The name is plain (it names
 * resources); the address and DNS names may come from other resources (e.g. an ENI's `privateIp`).
 */
export interface EtcdMember {
  /** Member name, also the node name and the server/peer cert CN (lowercase DNS label, e.g. `cp-1`). Plain: it names resources. */
  name: string;
  /** The address etcd listens on and advertises for clients (2379) and peers (2380), IPv4 or IPv6, e.g. an ENI's private IP. An Input: validated when it resolves. */
  ip: pulumi.Input<string>;
  /** Extra DNS names for the server and peer certs (the member name is always included). An Input: validated when it resolves. */
  dnsNames?: pulumi.Input<pulumi.Input<string>[]>;
}

/** One kube-apiserver encryption key and its rotation state. */
export interface EncryptionKey {
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
  /** KMS v2 plugin socket (`unix:///…`); kms keys only, and required for them. */
  endpoint?: string;
  /** KMS call timeout as a Go duration (default `3s`); kms keys only. */
  timeout?: string;
  /**
   * The plugin's health port on the node (hostNetwork; default 8083 + the key's position among the kms
   * keys); kms keys only.
   */
  healthPort?: number;
  /**
   * The day (`YYYY-MM-DD`) an `archived` key left the EncryptionConfiguration (required for archived keys).
   * The key stays in the secret store's key archive until every snapshot taken while it was in force has expired.
   */
  archivedOn?: string;
}

/** Encryption at rest for kube-apiserver: its EncryptionConfiguration and keys. */
export interface Encryption {
  /** Default provider for keys: `secretbox` (default, strong), `aescbc` (weak: padding oracle), `aesgcm` (rotate every 200k writes; fails CIS 1.2.28), `kms` (v2). */
  provider?: EncryptionProvider;
  /** Resources kube-apiserver encrypts (default `secrets`, `configmaps`). */
  resources?: string[];
  /** The keys and their rotation states (default one primary key `key1`). Unsafe steps are refused at preview against the last deployment. */
  keys?: EncryptionKey[];
  /** Append `identity` so plaintext written before encryption was enabled stays readable. Only while migrating. */
  identityFallback?: boolean;
  /** Render `--encryption-provider-config-automatic-reload=true` (kube-apiserver 1.26+). */
  automaticReload?: boolean;
  /** The envelope keys in AWS KMS and the KMS v2 plugin, used when a key's provider is `kms`. */
  kms?: Kms;
}

/** KMS v2: one AWS KMS key per kms key, and aws-encryption-provider on every control-plane node. */
export interface Kms {
  /** aws-encryption-provider image, pinned to an exact tag or a digest (default: see docs/kms-v2.md). */
  pluginImage?: string;
  /** Waiting period (7–30 days, default 30) of a scheduled deletion of an envelope key. */
  keyDeletionWindowDays?: number;
}

/** Host paths on the control-plane nodes (kubeadm's layout by default). */
export interface HostPaths {
  /** kubeadm's certificatesDir (default `/etc/kubernetes/pki`); etcd certs go in `<pkiDir>/etcd`, the apiserver client pair in `<pkiDir>`. */
  pkiDir?: string;
  /** Static pod manifest dir (default `/etc/kubernetes/manifests`). */
  manifestDir?: string;
  /** etcd data dir (default `/var/lib/etcd`, mode 0700). */
  dataDir?: string;
  /** Where the EncryptionConfiguration lives (default `/etc/kubernetes/enc`), mounted read-only into kube-apiserver. */
  encryptionConfigDir?: string;
}

/** TLS hardening for etcd's listeners. */
export interface Tls {
  /** `TLS1.2` (default) or `TLS1.3`; rendered as `--tls-min-version` on etcd 3.5.8+ only, and `TLS1.3` needs it. */
  minVersion?: MinTlsVersion;
  /** Go cipher suite names for `--cipher-suites`: ECDHE with AEAD only, at least one for the key algorithm (default all six); refused with `TLS1.3`. */
  cipherSuites?: string[];
}

/**
 * S3 Object Lock for every snapshot version. IRREVERSIBLE: it needs versioning (always on) and once
 * enabled on a bucket it can NEVER be turned off again; a locked bucket cannot receive access logs.
 */
export interface ObjectLock {
  /** `GOVERNANCE` or `COMPLIANCE` (nobody, root included, can delete a locked version early). */
  mode: ObjectLockMode;
  /** Retention days of every snapshot version; no longer than snapshots live. */
  days: number;
}

/** S3 server access logs of the snapshot bucket, delivered into another bucket. */
export interface AccessLogging {
  /** The bucket that receives the logs (never the snapshot bucket, never a locked one). */
  targetBucket: string;
  /** Key prefix for the logs (default `s3-access-logs/`). */
  targetPrefix?: string;
}

/** IRSA: binds the snapshot writer policy to the job's ServiceAccount through the cluster's IAM OIDC provider. */
export interface Oidc {
  /** ARN of the cluster's IAM OIDC provider (`arn:aws:iam::<account>:oidc-provider/<issuer>`). */
  providerArn: string;
  /** Its issuer URL (must be the provider's). */
  providerUrl: string;
  /** Namespace of the snapshot job's ServiceAccount (default `kube-system`). */
  namespace?: string;
  /** The ServiceAccount's name (default `etcd-snapshot`). */
  serviceAccount?: string;
}

/** Verified, encrypted snapshots to a hardened S3 bucket (docs/snapshots-and-restore.md). */
export interface Backup {
  /** Create the snapshot bucket, policies and job (default true). */
  enabled?: boolean;
  /** Physical bucket name (default: auto-named). */
  bucketName?: string;
  /** Cron schedule (5 fields or `@hourly`…; defaults: dev every 6 h, staging hourly, prod every 15 min; required for other environments). */
  schedule?: string;
  /** Days a snapshot is current before it expires (defaults: dev 7, staging 14, prod 35; required for other environments). */
  retentionDays?: number;
  /** Days an expired (noncurrent) version is kept before deletion (defaults: dev 1, staging 3, prod 7; required for other environments). */
  noncurrentVersionDays?: number;
  /** Move snapshots to `coldStorageClass` after this many days, fewer than the retention (off by default: cold classes bill a minimum duration). */
  transitionToColdAfterDays?: number;
  /** Storage class for that move (default `GLACIER_IR`). */
  coldStorageClass?: ColdStorageClass;
  /** S3 Object Lock for every snapshot version. IRREVERSIBLE on the bucket (off by default). */
  objectLock?: ObjectLock;
  /** Replicate snapshots to a bucket in this region (same hardening, its own KMS key). */
  replicaRegion?: string;
  /** S3 server access logs into another bucket (never this one, never a locked one). */
  accessLogging?: AccessLogging;
  /** Bind the writer policy to the job's ServiceAccount through this IAM OIDC provider (IRSA); otherwise the policies are outputs. */
  oidc?: Oidc;
  /** KMS key deletion waiting period, 7–30 days (default 30). */
  kmsKeyDeletionWindowDays?: number;
  /**
   * Roles that run the snapshot job besides the IRSA role (`oidc`) and the secret store's node roles
   * (which get the writer policy attached): only the writers may upload and read back snapshots.
   */
  writerRoleArns?: string[];
  /** The role that restores: reads and decrypts snapshots (default `secretStore.restoreReaderRoleArn`). */
  restoreReaderRoleArn?: string;
}

/**
 * Each member's bundle (its certs and keys, the EncryptionConfiguration) in AWS Secrets Manager under a
 * customer-managed KMS key, readable only by that member's IAM role; the nodes fetch it with the bootstrap
 * that `nodeUserData` installs (docs/secrets-on-nodes.md).
 */
export interface SecretStore {
  /** Create the KMS key, the secrets, their policies and the node roles (default true). */
  enabled?: boolean;
  /** Days a deleted node secret can be restored, 7–30 (defaults: dev 7, staging 14, prod and others 30); the key archive always gets 30. */
  recoveryWindowDays?: number;
  /** KMS key deletion waiting period, 7–30 days (default 30). */
  kmsKeyDeletionWindowDays?: number;
  /** Replicate every secret (the key archive included) to this region, under its own KMS key there; set it where snapshots replicate. */
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
  /**
   * Secret name generation (default 1). Bump it to rebuild a destroyed stack beside the secrets its
   * earlier deployment retained: names become `secure-etcd/<cluster>/<env>/g<N>/<member>`.
   */
  generation?: number;
}

/** What a stack's secret store was at its last deployment: the secrets it manages and the deployers it admits. */
export interface PreviousSecretStore {
  /**
   * False when the stack has never been deployed, or was destroyed: no secret in AWS is then this
   * stack's, and every one found under its names was left by an earlier life of it (secrets that are
   * retained on delete) or belongs to another stack with the same cluster and environment names.
   */
  deployed: boolean;
  /** The ARNs of the secrets it manages (members and the key archive). */
  secretArns: string[];
  /** The deployers its policies admit (empty when it was deployed by a version without that output). */
  deployerArns: string[];
}

/** An encryption key's name, provider and state as last deployed (no key material). */
export interface KeyStateRecord {
  /** Key name. */
  name: string;
  /** Its state in that deployment. */
  state: KeyState;
  /** Its provider. */
  provider: EncryptionProvider;
  /** The day it was archived (`YYYY-MM-DD`), for an archived key. */
  archivedOn?: string;
}

/**
 * The Args every language passes: every stack config key, and the key states last deployed. Member
 * addresses and DNS names are `pulumi.Input`s (they can come from other resources and decide no
 * resource); everything else is plain because it decides which resources exist (member names and count,
 * key names and states, feature switches, environment) or is small config known when the program is
 * written. Known values are validated at construction (preview); Inputs are validated by the same
 * schema, with the same messages, when they resolve.
 */
export interface SecureEtcdSchemaArgs {
  /** Cluster name (lowercase DNS label); part of the etcd cluster token. */
  clusterName: string;
  /** Environment (e.g. `dev`, `staging`, `prod`; a stack's default is its name); part of the etcd cluster token and the backup prefix, and picks per-environment defaults. */
  environment: string;
  /** etcd members: an odd count from 1 to 7, names and addresses unique. */
  members: EtcdMember[];
  /** Target etcd release (e.g. `3.6.17`, 3.4.0 up to 3.7.x); only flags this release accepts are rendered. */
  etcdVersion: string;
  /** etcd image (default `registry.k8s.io/etcd:<etcdVersion>-0`); tagged, never `:latest`. */
  etcdImage?: string;
  /** Key algorithm of every key of the PKI: `ECDSA-P256` (default), `ECDSA-P384`, `RSA-2048`, `RSA-3072`, `RSA-4096`. */
  keyAlgorithm?: KeyAlgorithm;
  /** CA validity in hours (default 87600 = 10 years). */
  caValidityHours?: number;
  /** Leaf cert validity in hours (default 8760 = 1 year), no longer than the CA's. */
  leafValidityHours?: number;
  /** A `pulumi up` this many hours before a leaf expires re-issues it (default 720 = 30 days); etcd re-reads leaf files per connection, no restart. */
  earlyRenewalHours?: number;
  /** CN of the snapshot client cert (default `etcd-backup`); no other cert's CN. */
  backupClientCommonName?: string;
  /** Encryption at rest for kube-apiserver. */
  encryption?: Encryption;
  /** Host paths on the control-plane nodes. */
  paths?: HostPaths;
  /** TLS hardening for etcd's listeners. */
  tls?: Tls;
  /** Protect encryption keys from deletion (default true): deleting one takes `pulumi state unprotect`. */
  protectEncryptionKeys?: boolean;
  /** Verified, encrypted snapshots to S3 (on by default). */
  backup?: Backup;
  /** Node bundles in Secrets Manager, node roles, and the bootstrap's user data (on by default). */
  secretStore?: SecretStore;
  /**
   * IAM role or user ARNs (the stack's account) that deploy this stack besides the principal running
   * `pulumi up`: CI and break-glass roles. With it, they alone may write, re-stage, re-key, replicate,
   * restore, delete or re-policy a secret, administer the keys and change the buckets' protections; and
   * they may all `pulumi refresh`. Add a new deployer here (and `pulumi up` from a current one) before it
   * deploys.
   */
  deployerPrincipalArns?: string[];
  /**
   * The encryption key states last deployed (this component's `encryptionKeyStates` output, e.g. read
   * from the stack's own outputs). When given, an unsafe step — a key made primary without the staged
   * step, a key that may still encrypt data dropped, an archived key removed while snapshots need it —
   * is refused at preview with the safe next step. The program passes it automatically.
   */
  previousEncryptionKeys?: KeyStateRecord[];
  /**
   * What this stack's secret store was at its last deployment (the program reads its own outputs): the
   * secrets it manages and the deployers its policies admit. With it, a secret name already taken in AWS
   * by a secret this stack does not manage, or a deploying principal the deployed policies deny, is
   * refused at preview. The program passes it automatically.
   */
  previousSecretStore?: PreviousSecretStore;
  /**
   * The etcd version last deployed (e.g. the stack's own `etcdVersion` output). When given, a downgrade
   * across minors, a skipped minor (3.5 → 3.7) and a minor step from below the patch etcd's upgrade
   * guide requires (3.5.32 before 3.6, 3.6.11 before 3.7) are refused at preview, naming the safe next
   * step. The program passes it automatically.
   */
  previousEtcdVersion?: string;
}

// ---- TypeScript only ----------------------------------------------------------------------------------

/** A member whose name is one of `M`, so outputs keyed by member name are typed by it. */
export interface NamedEtcdMember<M extends string = string> extends EtcdMember {
  /** Member name (lowercase DNS label, e.g. `cp-1`). */
  name: M;
}

/**
 * Args for `SecureEtcd` in TypeScript: the schema's args, plus what only TypeScript can pass.
 * `M` is the union of member names, inferred from literal names: a lookup by a name not listed
 * (`etcd.members["cp-9"]`) fails to compile.
 */
export interface SecureEtcdArgs<M extends string = string> extends SecureEtcdSchemaArgs {
  /** etcd members: an odd count from 1 to 7, names and addresses unique. */
  members: NamedEtcdMember<M>[];
  /** When given, the snapshot CronJob and its Secret/ConfigMap are created in that cluster; otherwise only rendered. */
  kubernetesProvider?: k8s.Provider;
  /** Provider for the snapshot replica's resources (with `backup.replicaRegion`). */
  replicaProvider?: aws.Provider;
}

/* The names these types had before they became the schema's (the Pulumi SDKs add `Args` themselves). */
/** @deprecated Use NamedEtcdMember (or EtcdMember). */
export type EtcdMemberArgs<M extends string = string> = NamedEtcdMember<M>;
/** @deprecated Use EncryptionKey. */
export type EncryptionKeyArgs = EncryptionKey;
/** @deprecated Use Encryption. */
export type EncryptionArgs = Encryption;
/** @deprecated Use HostPaths. */
export type HostPathsArgs = HostPaths;
/** @deprecated Use Tls. */
export type TlsArgs = Tls;
/** @deprecated Use Backup. */
export type BackupArgs = Backup;
/** @deprecated Use SecretStore. */
export type SecretStoreArgs = SecretStore;

// ---- compile-time: the Args and the schema describe the same keys --------------------------------------

/** Args that are resources or deployment state, not config: the schema never sees them. */
type ResourceArgs =
  | "kubernetesProvider"
  | "replicaProvider"
  | "previousEncryptionKeys"
  | "previousSecretStore"
  | "previousEtcdVersion";

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
export type ArgsMatchSchema = ExpectNoDrift<ArgsDrift<SecureEtcdSchemaArgs>>;
/** Fails to compile when an arg's type is one the schema would not accept. */
export type ArgsAcceptedBySchema = ExpectAssignable<ResolvedArgs<SecureEtcdArgs>, SettingsInput>;
