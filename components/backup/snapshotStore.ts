import * as pulumi from "@pulumi/pulumi";
import { snapshotPrefix, validateRetention } from "../config/backup";
import { ConfigError } from "../config/errors";
import { show } from "../config/fields";
import { checkIrsaBinding, snapshotReaderPolicy, snapshotWriterPolicy } from "./policies";
import { checkAccessLoggingTarget, createAccessLogging } from "./store/accessLogging";
import type { SnapshotStoreArgs } from "./store/args";
import { createHardenedBucket, type HardenedBucket } from "./store/bucket";
import { storeContext, type StoreContext } from "./store/context";
import { createIrsaRole } from "./store/irsa";
import { createReplication } from "./store/replication";
import type * as aws from "@pulumi/aws";

export type { SnapshotObjectLock, SnapshotRetention } from "../config/backup";
export type {
  SnapshotAccessLogging,
  SnapshotIrsa,
  SnapshotReplication,
  SnapshotStoreArgs,
} from "./store/args";

/**
 * A hardened, encrypted, versioned S3 bucket for etcd snapshots, with a customer-managed KMS key,
 * retention per environment, optional Object Lock, replication and access logging, and least-privilege
 * writer/reader policies.
 *
 * Deletion safety: the bucket and the KMS key (and the replica's) are created with `protect: true` and
 * `retainOnDelete: true`; `forceDestroy` is always false. `pulumi destroy` or removing the component
 * stops at the protected resources; to really delete them, first `pulumi state unprotect` them, and even
 * then Pulumi only forgets them (the bucket and the key stay in AWS). The hardening children (versioning,
 * encryption, public access block, ownership, bucket policy, Object Lock) use `retainOnDelete` too, so a
 * retained bucket keeps its protections instead of being left open.
 *
 * Object Lock note: the bucket's `objectLockEnabled` is set at creation when `objectLock` is given and
 * its later changes are ignored (it is replace-only on `aws.s3.Bucket`, and the bucket is protected);
 * adding `objectLock` to an existing store enables the lock in place through
 * `aws.s3.BucketObjectLockConfiguration`. It can never be turned off again.
 *
 * Bad args throw a ConfigError naming the arg: plain values before anything is registered, Outputs
 * (e.g. `oidc.providerArn`, `accessLogging.targetBucket`) when they resolve.
 */
export class SnapshotStore extends pulumi.ComponentResource {
  public readonly bucketName: pulumi.Output<string>;
  public readonly bucketArn: pulumi.Output<string>;
  /** Region of the snapshot bucket (for the job's AWS_REGION). */
  public readonly region: pulumi.Output<string>;
  public readonly kmsKeyArn: pulumi.Output<string>;
  /** `<cluster>/<environment>/` */
  public readonly prefix: pulumi.Output<string>;
  /** IAM policy JSON for the snapshot writer (attach to the node role when not using IRSA). */
  public readonly writerPolicyJson: pulumi.Output<string>;
  /** IAM policy JSON for restores. */
  public readonly readerPolicyJson: pulumi.Output<string>;
  /** ARN of the IRSA role (only with `oidc`). */
  public readonly roleArn?: pulumi.Output<string>;
  /** ARN of the replica bucket (only with `replication`). */
  public readonly replicaBucketArn?: pulumi.Output<string>;
  /** ARN of the replica's KMS key (only with `replication`). */
  public readonly replicaKmsKeyArn?: pulumi.Output<string>;

  public readonly bucket: aws.s3.Bucket;
  public readonly kmsKey: aws.kms.Key;

  constructor(name: string, args: SnapshotStoreArgs, opts?: pulumi.ComponentResourceOptions) {
    const source = `SnapshotStore ${JSON.stringify(name)} args`;
    const { warnings, deletionWindow } = validateStoreArgs(args, source);
    super("secure-etcd:index:SnapshotStore", name, {}, opts);
    for (const w of warnings) pulumi.log.warn(`SnapshotStore ${name}: ${w}`, this);
    const ctx = storeContext(this, name, args, { source, deletionWindow });

    const primary = createHardenedBucket(ctx, {
      base: name,
      keyDescription: pulumi.interpolate`etcd snapshots of ${args.clusterName}/${args.environment}`,
      aliasName: ctx.aliasBase,
      bucketName: args.bucketName,
    });
    this.bucket = primary.bucket;
    this.kmsKey = primary.key;
    if (args.accessLogging) createAccessLogging(ctx, primary.bucket, args.accessLogging);
    if (args.replication) {
      const replica = createReplication(ctx, primary, args.replication);
      this.replicaBucketArn = replica.bucket.arn;
      this.replicaKmsKeyArn = replica.key.arn;
    }
    const policies = snapshotPolicies(ctx, primary);
    this.writerPolicyJson = policies.writerPolicyJson;
    this.readerPolicyJson = policies.readerPolicyJson;
    if (args.oidc) this.roleArn = createIrsaRole(ctx, args.oidc, this.writerPolicyJson);

    this.bucketName = this.bucket.bucket;
    this.bucketArn = this.bucket.arn;
    this.region = this.bucket.region;
    this.kmsKeyArn = this.kmsKey.arn;
    this.prefix = ctx.prefix;

    this.registerOutputs({
      bucketName: this.bucketName,
      bucketArn: this.bucketArn,
      region: this.region,
      kmsKeyArn: this.kmsKeyArn,
      prefix: this.prefix,
      writerPolicyJson: this.writerPolicyJson,
      readerPolicyJson: this.readerPolicyJson,
      roleArn: this.roleArn,
      replicaBucketArn: this.replicaBucketArn,
      replicaKmsKeyArn: this.replicaKmsKeyArn,
    });
  }
}

/** Checks every plain arg before anything is registered; returns retention warnings and the key window. */
function validateStoreArgs(
  args: SnapshotStoreArgs,
  source: string,
): { warnings: string[]; deletionWindow: number } {
  const warnings = validateRetention(args.retention, source, args.objectLock);
  const deletionWindow = args.kmsKeyDeletionWindowDays ?? 30;
  if (!Number.isInteger(deletionWindow) || deletionWindow < 7 || deletionWindow > 30)
    throw new ConfigError(
      [
        {
          path: "kmsKeyDeletionWindowDays",
          message: `${show(deletionWindow)} is not a whole number of days from 7 to 30`,
        },
      ],
      source,
    );
  checkAccessLoggingTarget(args, source);
  if (typeof args.clusterName === "string" && typeof args.environment === "string") {
    snapshotPrefix(args.clusterName, args.environment); // throws naming the bad arg
  }
  if (args.oidc) checkIrsaBinding(args.oidc, source);
  return { warnings, deletionWindow };
}

/** Least-privilege writer (the job) and reader (restores) policies for the primary bucket's prefix. */
function snapshotPolicies(
  ctx: StoreContext,
  primary: HardenedBucket,
): { writerPolicyJson: pulumi.Output<string>; readerPolicyJson: pulumi.Output<string> } {
  const location = pulumi
    .all([primary.bucket.arn, primary.key.arn, ctx.prefix, primary.bucket.region])
    .apply(([bucketArn, kmsKeyArn, prefix, region]) => ({ bucketArn, kmsKeyArn, prefix, region }));
  return {
    writerPolicyJson: location.apply((l) => JSON.stringify(snapshotWriterPolicy(l, ctx.source))),
    readerPolicyJson: location.apply((l) => JSON.stringify(snapshotReaderPolicy(l, ctx.source))),
  };
}
