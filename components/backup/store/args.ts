import type * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";
import type { SnapshotObjectLock, SnapshotRetention } from "../../config/backup";

/**
 * Cross-region replication of the snapshot prefix into a replica bucket with the same hardening
 * (versioning, SSE-KMS with its own customer-managed key in the destination region, public access
 * block, owner-enforced ownership, TLS/SSE bucket policy, the same lifecycle, the same Object Lock).
 * Delete markers are not replicated.
 */
export interface SnapshotReplication {
  /** Region of the replica bucket and its KMS key (set as the resources' `region`). */
  destinationRegion: pulumi.Input<string>;
  /**
   * Provider for the replica's resources (e.g. other credentials; the replica is assumed to be in the
   * same account). `region` is still set to `destinationRegion` on every replica resource.
   */
  destinationProvider?: aws.Provider;
  /** Physical name of the replica bucket. Default: auto-named from the component name. */
  bucketName?: string;
}

/** S3 server access logging for the snapshot bucket. */
export interface SnapshotAccessLogging {
  /**
   * Bucket that receives the access logs (same region, must allow the `logging.s3.amazonaws.com`
   * principal and use SSE-S3). Never this bucket itself, and never a bucket with Object Lock.
   */
  targetBucket: pulumi.Input<string>;
  /** Key prefix for the log objects, e.g. `s3-access-logs/etcd-snapshots/`. */
  targetPrefix: pulumi.Input<string>;
}

/** IAM roles for service accounts: bind the writer policy to the snapshot job's ServiceAccount. */
export interface SnapshotIrsa {
  /** ARN of the IAM OIDC provider registered for the cluster's service-account issuer. */
  providerArn: pulumi.Input<string>;
  /** Issuer URL of that provider (with or without `https://`). */
  providerUrl: pulumi.Input<string>;
  /** Namespace of the snapshot ServiceAccount. Default `kube-system` (the SnapshotJob default). */
  namespace?: pulumi.Input<string>;
  /** Name of the snapshot ServiceAccount. Default `etcd-snapshot` (the SnapshotJob default). */
  serviceAccount?: pulumi.Input<string>;
}

export interface SnapshotStoreArgs {
  /** Cluster name; first segment of the snapshot prefix `<cluster>/<environment>/`. */
  clusterName: pulumi.Input<string>;
  /** Environment name (dev, staging, prod, ...); second segment of the prefix. */
  environment: pulumi.Input<string>;
  /**
   * Physical bucket name (globally unique). Default: auto-named from the component name. Plain string
   * so that the access-logging self-target check can run before anything is created.
   */
  bucketName?: string;
  /**
   * Lifecycle retention, scoped to the prefix (plain values: they are validated at construction).
   * `snapshotDefaults[env].retention` gives the per-environment defaults.
   */
  retention: SnapshotRetention;
  /** Optional Object Lock. Needs versioning and can NEVER be turned off again on this bucket. */
  objectLock?: SnapshotObjectLock;
  /** Optional cross-region replication. */
  replication?: SnapshotReplication;
  /** Optional server access logging (never into this bucket, never into a locked bucket). */
  accessLogging?: SnapshotAccessLogging;
  /**
   * When given, an IAM role for the snapshot ServiceAccount (IRSA) is created with the writer policy: it
   * is the snapshot writer. Otherwise name the writers in `writerRoleArns`.
   */
  oidc?: SnapshotIrsa;
  /**
   * The roles that run the snapshot job when it does not use IRSA (`oidc`) — with SecureEtcd, the
   * control-plane node roles, which get `writerPolicyJson` attached. The key policy lets only them (and
   * the IRSA role) use the key for uploads, and the bucket policy lets only them, the restore readers and
   * replication read objects. Required without `oidc`.
   */
  writerRoleArns?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Roles that restore snapshots: they may read and decrypt them (attach `readerPolicyJson`). Nobody
   * else may read a snapshot's content, whatever their IAM policies allow.
   */
  readerRoleArns?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Principals besides the one running `pulumi up` that deploy this stack (CI and break-glass roles, IAM
   * role or user ARNs of the stack's account): with it, the only ones that administer the keys and may
   * change the bucket's protections.
   */
  deployerPrincipalArns?: string[];
  /**
   * The deployers the policies admitted at the last deployment (its `deployerArns`): when given and the
   * principal running now is not one of them, the deployment stops at preview naming
   * `deployerPrincipalArns` (the bucket and key policies would deny it half-way).
   */
  previousDeployerArns?: string[];
  /** Waiting period before a scheduled KMS key deletion takes effect, 7–30 days. Default 30. */
  kmsKeyDeletionWindowDays?: number;
  /** Extra tags for every taggable resource. */
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}
