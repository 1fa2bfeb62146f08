import * as pulumi from "@pulumi/pulumi";
import { snapshotPrefix, validateRetention } from "../config/backup";
import { bucketNameProblem } from "../config/checks";
import { ConfigError, type ConfigProblem } from "../config/errors";
import { show } from "../config/fields";
import { checkedRoleArns, deployContext } from "../secretStore/identity";
import { checkIrsaBinding, snapshotReaderPolicy, snapshotWriterPolicy } from "./policies";
import { checkAccessLoggingTarget, createAccessLogging } from "./store/accessLogging";
import type { SnapshotStoreArgs } from "./store/args";
import { createSiteBucket, hardenBucket, type BucketSite, type HardenedBucket } from "./store/bucket";
import { storeContext, type StoreContext } from "./store/context";
import { attachIrsaWriterPolicy, createIrsaRole } from "./store/irsa";
import { createReplication, createReplicationRole, replicaSite } from "./store/replication";
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
 * Who may do what is explicit: the KMS key policy lets the deployers (the principal running `pulumi up`
 * and `deployerPrincipalArns`) administer the key and only the snapshot writers, the restore readers and
 * the replication role use it, each only through S3 in the region and for this bucket's objects; the
 * bucket policy denies object reads to every principal but those, and changes to the bucket's
 * protections to every principal but the deployers.
 *
 * Deletion safety: the bucket and the KMS key (and the replica's) are created with `protect: true` and
 * `retainOnDelete: true`; `forceDestroy` is always false. `pulumi destroy` or removing the component
 * stops at the protected resources; to really delete them, first `pulumi state unprotect` them, and even
 * then Pulumi only forgets them (the bucket and the key stay in AWS). Every configuration resource of
 * the buckets (versioning, encryption, public access block, ownership, bucket policy, lifecycle, Object
 * Lock, logging, replication and its role) uses `retainOnDelete` too, so a retained bucket keeps its
 * protections, its retention and its replication instead of being left open or growing forever.
 *
 * Object Lock note: the bucket's `objectLockEnabled` is set at creation when `objectLock` is given and
 * its later changes are ignored (it is replace-only on `aws.s3.Bucket`, and the bucket is protected);
 * adding `objectLock` to an existing store enables the lock in place through
 * `aws.s3.BucketObjectLockConfiguration`. It can never be turned off again.
 *
 * Bad args throw a ConfigError naming the arg: plain values before anything is registered, Outputs
 * (e.g. `oidc.providerArn`, `accessLogging.targetBucket`, `writerRoleArns`) when they resolve.
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
  /** The principals the key and bucket policies admit as snapshot writers (IRSA role and/or writerRoleArns). */
  public readonly writerArns: pulumi.Output<string[]>;
  /** The restore readers the key and bucket policies admit. */
  public readonly readerArns: pulumi.Output<string[]>;
  /** The deployers the key and bucket policies admit (the one running now, then deployerPrincipalArns). */
  public readonly deployerArns: pulumi.Output<string[]>;
  /** ARN of the IRSA role (only with `oidc`). */
  public readonly roleArn?: pulumi.Output<string>;
  /** ARN of the replica bucket (only with `replication`). */
  public readonly replicaBucketArn?: pulumi.Output<string>;
  /** ARN of the replica's KMS key (only with `replication`). */
  public readonly replicaKmsKeyArn?: pulumi.Output<string>;
  /** Name of the CloudWatch alarm on failed replications (only with `replication`). */
  public readonly replicationAlarmName?: pulumi.Output<string>;

  public readonly bucket: aws.s3.Bucket;
  public readonly kmsKey: aws.kms.Key;

  constructor(name: string, args: SnapshotStoreArgs, opts?: pulumi.ComponentResourceOptions) {
    const source = `SnapshotStore ${JSON.stringify(name)} args`;
    const { warnings, deletionWindow } = validateStoreArgs(name, args, source);
    super("secure-etcd:index:SnapshotStore", name, {}, opts);
    for (const w of warnings) pulumi.log.warn(`SnapshotStore ${name}: ${w}`, this);
    const deploy = deployContext(this, {
      extra: args.deployerPrincipalArns ?? [],
      previous: args.previousDeployerArns,
    });
    const ctx = storeContext(this, name, args, { source, deletionWindow, deploy });
    this.deployerArns = deploy.deployerArns;

    const site: BucketSite = {
      base: name,
      keyDescription: pulumi.interpolate`etcd snapshots of ${args.clusterName}/${args.environment}`,
      aliasName: ctx.aliasBase,
      bucketName: args.bucketName,
    };
    this.bucket = createSiteBucket(ctx, site);
    const irsaRole = args.oidc ? createIrsaRole(ctx, args.oidc) : undefined;
    const configured = checkedRoleArns("writerRoleArns", args.writerRoleArns, deploy, source);
    this.writerArns = irsaRole
      ? pulumi.all([irsaRole.arn, configured]).apply(([r, c]) => [...new Set([r, ...c])])
      : configured;
    this.readerArns = checkedRoleArns("readerRoleArns", args.readerRoleArns, deploy, source);

    const rep = args.replication;
    const repSite = rep ? replicaSite(ctx, rep) : undefined;
    const replicaBucket = repSite ? createSiteBucket(ctx, repSite) : undefined;
    const role = rep ? createReplicationRole(ctx, this.bucket) : undefined;
    const primary = hardenBucket(ctx, site, this.bucket, {
      writers: this.writerArns,
      readers: this.readerArns,
      replication: role ? { roleArn: role.arn, end: "source" } : undefined,
    });
    this.kmsKey = primary.key;
    if (args.accessLogging) createAccessLogging(ctx, primary.bucket, args.accessLogging);
    if (rep && repSite && replicaBucket && role) {
      const replica = hardenBucket(ctx, repSite, replicaBucket, {
        writers: [],
        readers: this.readerArns,
        replication: { roleArn: role.arn, end: "destination" },
      });
      this.replicationAlarmName = createReplication(ctx, primary, replica, role);
      this.replicaBucketArn = replica.bucket.arn;
      this.replicaKmsKeyArn = replica.key.arn;
    }
    const policies = snapshotPolicies(ctx, primary);
    this.writerPolicyJson = policies.writerPolicyJson;
    this.readerPolicyJson = policies.readerPolicyJson;
    if (irsaRole) {
      attachIrsaWriterPolicy(ctx, irsaRole, this.writerPolicyJson);
      this.roleArn = irsaRole.arn;
    }

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
      writerArns: this.writerArns,
      readerArns: this.readerArns,
      deployerArns: this.deployerArns,
      roleArn: this.roleArn,
      replicaBucketArn: this.replicaBucketArn,
      replicaKmsKeyArn: this.replicaKmsKeyArn,
      replicationAlarmName: this.replicationAlarmName,
    });
  }
}

/**
 * Pulumi auto-names a bucket `<resource name>-` plus 7 lowercase characters; S3 refuses names with
 * capitals, underscores or reserved prefixes, and this package refuses dots. Checked before anything
 * is registered, naming the resource name.
 */
export function bucketAutoNameProblem(resourceName: string): ConfigProblem | undefined {
  const sample = `${resourceName}-abcdefg`;
  const p = bucketNameProblem(sample);
  return p
    ? {
        path: "(resource name)",
        message: `${show(resourceName)} names an auto-named S3 bucket (${show(`${resourceName}-`)} plus 7 random characters), and a name like ${show(sample)} ${p}; name the component with lowercase letters, digits and hyphens, or set the bucket name`,
      }
    : undefined;
}

/** Checks every plain arg before anything is registered; returns retention warnings and the key window. */
function validateStoreArgs(
  name: string,
  args: SnapshotStoreArgs,
  source: string,
): { warnings: string[]; deletionWindow: number } {
  const warnings = validateRetention(args.retention, source, args.objectLock);
  const deletionWindow = args.kmsKeyDeletionWindowDays ?? 30;
  const problems: ConfigProblem[] = [];
  if (!Number.isInteger(deletionWindow) || deletionWindow < 7 || deletionWindow > 30)
    problems.push({
      path: "kmsKeyDeletionWindowDays",
      message: `${show(deletionWindow)} is not a whole number of days from 7 to 30`,
    });
  if (!args.oidc && args.writerRoleArns === undefined)
    problems.push({
      path: "writerRoleArns",
      message:
        "is required without oidc: the key and bucket policies let only the snapshot writers upload, so name the roles that run the snapshot job (the control-plane node roles), or bind an IRSA role with oidc",
    });
  const autoNamed = [
    ...(args.bucketName === undefined ? [`${name}-bucket`] : []),
    ...(args.replication && args.replication.bucketName === undefined ? [`${name}-replica-bucket`] : []),
  ];
  for (const n of autoNamed) {
    const p = bucketAutoNameProblem(n);
    if (p) problems.push(p);
  }
  if (problems.length) throw new ConfigError(problems, source);
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
    .all([primary.bucket.arn, primary.key.arn, ctx.prefix, primary.region, ctx.deploy])
    .apply(([bucketArn, kmsKeyArn, prefix, region, d]) => ({
      bucketArn,
      kmsKeyArn,
      prefix,
      region,
      dnsSuffix: d.dnsSuffix,
    }));
  return {
    writerPolicyJson: location.apply((l) => JSON.stringify(snapshotWriterPolicy(l, ctx.source))),
    readerPolicyJson: location.apply((l) => JSON.stringify(snapshotReaderPolicy(l, ctx.source))),
  };
}
