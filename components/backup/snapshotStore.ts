import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import {
  snapshotPrefix,
  validateRetention,
  type SnapshotObjectLock,
  type SnapshotRetention,
} from "../config/backup";
import { ConfigError } from "../config/errors";
import { DEFAULT_COLD_STORAGE_CLASS, DEFAULT_SNAPSHOT_NAME, DEFAULT_SNAPSHOT_NAMESPACE } from "./defaults";
import {
  irsaTrustPolicy,
  replicationRolePolicy,
  replicationTrustPolicy,
  snapshotBucketPolicy,
  snapshotReaderPolicy,
  snapshotWriterPolicy,
} from "./policies";

export type { SnapshotObjectLock, SnapshotRetention } from "../config/backup";

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
   * When given, an IAM role for the snapshot ServiceAccount (IRSA) is created with the writer policy.
   * Otherwise attach `writerPolicyJson` to the control-plane node role yourself.
   */
  oidc?: SnapshotIrsa;
  /** Waiting period before a scheduled KMS key deletion takes effect, 7–30 days. Default 30. */
  kmsKeyDeletionWindowDays?: number;
  /** Extra tags for every taggable resource. */
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

interface Hardened {
  versioning: aws.s3.BucketVersioning;
}

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
    // Validate plain values before anything is registered.
    const source = `SnapshotStore ${JSON.stringify(name)} args`;
    const warnings = validateRetention(args.retention, source, args.objectLock);
    const deletionWindow = args.kmsKeyDeletionWindowDays ?? 30;
    if (!Number.isInteger(deletionWindow) || deletionWindow < 7 || deletionWindow > 30)
      throw new ConfigError(
        [
          {
            path: "kmsKeyDeletionWindowDays",
            message: `${String(deletionWindow)} is not a whole number of days from 7 to 30`,
          },
        ],
        source,
      );
    checkAccessLoggingTarget(name, args);
    if (typeof args.clusterName === "string" && typeof args.environment === "string") {
      snapshotPrefix(args.clusterName, args.environment); // throws naming the bad arg
    }

    super("secure-etcd:index:SnapshotStore", name, {}, opts);
    for (const w of warnings) pulumi.log.warn(`SnapshotStore ${name}: ${w}`, this);

    const prefix = pulumi
      .all([args.clusterName, args.environment])
      .apply(([cluster, env]) => snapshotPrefix(cluster, env));
    const tags = pulumi
      .all([args.clusterName, args.environment, pulumi.output(args.tags ?? {})])
      .apply(([cluster, env, extra]) => ({
        "secure-etcd:cluster": cluster,
        "secure-etcd:environment": env,
        "secure-etcd:purpose": "etcd-snapshots",
        ...extra,
      }));
    const aliasBase = pulumi
      .all([args.clusterName, args.environment])
      .apply(([cluster, env]) =>
        `alias/secure-etcd/${cluster}-${env}-snapshots`.replace(/[^A-Za-z0-9/_-]/g, "-"),
      );

    const local: pulumi.CustomResourceOptions = { parent: this };
    const keep: pulumi.CustomResourceOptions = { parent: this, protect: true, retainOnDelete: true };

    // ---- primary key and bucket -----------------------------------------------------------------------
    this.kmsKey = new aws.kms.Key(
      `${name}-key`,
      {
        description: pulumi.interpolate`etcd snapshots of ${args.clusterName}/${args.environment}`,
        enableKeyRotation: true,
        deletionWindowInDays: deletionWindow,
        tags,
      },
      keep,
    );
    new aws.kms.Alias(`${name}-key-alias`, { name: aliasBase, targetKeyId: this.kmsKey.keyId }, local);

    this.bucket = new aws.s3.Bucket(
      `${name}-bucket`,
      {
        ...(args.bucketName !== undefined ? { bucket: args.bucketName } : {}),
        forceDestroy: false,
        objectLockEnabled: args.objectLock ? true : undefined,
        tags,
      },
      { ...keep, ignoreChanges: ["objectLockEnabled"] },
    );

    const primary = hardenBucket(this, `${name}`, {
      bucket: this.bucket,
      key: this.kmsKey,
      prefix,
      retention: args.retention,
      objectLock: args.objectLock,
    });

    // ---- access logging ------------------------------------------------------------------------------
    if (args.accessLogging) {
      const al = args.accessLogging;
      const target = pulumi.all([this.bucket.bucket, al.targetBucket]).apply(([own, t]) => {
        if (own === t) {
          throw new Error(accessLoggingSelfTargetMessage(name, own, args.objectLock !== undefined));
        }
        return t;
      });
      new aws.s3.BucketLogging(
        `${name}-logging`,
        { bucket: this.bucket.id, targetBucket: target, targetPrefix: al.targetPrefix },
        local,
      );
    }

    // ---- replication -----------------------------------------------------------------------------------
    if (args.replication) {
      const rep = args.replication;
      const repOpts = (extra: pulumi.CustomResourceOptions = {}): pulumi.CustomResourceOptions => ({
        parent: this,
        ...(rep.destinationProvider ? { provider: rep.destinationProvider } : {}),
        ...extra,
      });
      const replicaKey = new aws.kms.Key(
        `${name}-replica-key`,
        {
          description: pulumi.interpolate`etcd snapshot replicas of ${args.clusterName}/${args.environment}`,
          enableKeyRotation: true,
          deletionWindowInDays: deletionWindow,
          region: rep.destinationRegion,
          tags,
        },
        repOpts({ protect: true, retainOnDelete: true }),
      );
      new aws.kms.Alias(
        `${name}-replica-key-alias`,
        {
          name: aliasBase.apply((a) => `${a}-replica`),
          targetKeyId: replicaKey.keyId,
          region: rep.destinationRegion,
        },
        repOpts(),
      );
      const replicaBucket = new aws.s3.Bucket(
        `${name}-replica-bucket`,
        {
          ...(rep.bucketName !== undefined ? { bucket: rep.bucketName } : {}),
          forceDestroy: false,
          objectLockEnabled: args.objectLock ? true : undefined,
          region: rep.destinationRegion,
          tags,
        },
        repOpts({ protect: true, retainOnDelete: true, ignoreChanges: ["objectLockEnabled"] }),
      );
      const replica = hardenBucket(this, `${name}-replica`, {
        bucket: replicaBucket,
        key: replicaKey,
        prefix,
        retention: args.retention,
        objectLock: args.objectLock,
        region: rep.destinationRegion,
        provider: rep.destinationProvider,
      });

      const role = new aws.iam.Role(
        `${name}-replication-role`,
        {
          description: pulumi.interpolate`S3 replication of etcd snapshots ${args.clusterName}/${args.environment}`,
          assumeRolePolicy: JSON.stringify(replicationTrustPolicy()),
          tags,
        },
        local,
      );
      const rolePolicy = new aws.iam.RolePolicy(
        `${name}-replication-policy`,
        {
          role: role.id,
          policy: pulumi
            .all([this.bucket.arn, this.kmsKey.arn, replicaBucket.arn, replicaKey.arn, prefix])
            .apply(([sb, sk, db, dk, p]) =>
              JSON.stringify(
                replicationRolePolicy({
                  sourceBucketArn: sb,
                  sourceKmsKeyArn: sk,
                  destinationBucketArn: db,
                  destinationKmsKeyArn: dk,
                  prefix: p,
                }),
              ),
            ),
        },
        local,
      );
      new aws.s3.BucketReplicationConfig(
        `${name}-replication`,
        {
          bucket: this.bucket.id,
          role: role.arn,
          rules: [
            {
              id: "etcd-snapshots",
              status: "Enabled",
              priority: 1,
              filter: { prefix },
              deleteMarkerReplication: { status: "Disabled" },
              sourceSelectionCriteria: { sseKmsEncryptedObjects: { status: "Enabled" } },
              destination: {
                bucket: replicaBucket.arn,
                encryptionConfiguration: { replicaKmsKeyId: replicaKey.arn },
              },
            },
          ],
        },
        { parent: this, dependsOn: [primary.versioning, replica.versioning, rolePolicy] },
      );
      this.replicaBucketArn = replicaBucket.arn;
      this.replicaKmsKeyArn = replicaKey.arn;
    }

    // ---- least-privilege policies ----------------------------------------------------------------------
    const location = pulumi
      .all([this.bucket.arn, this.kmsKey.arn, prefix, this.bucket.region])
      .apply(([bucketArn, kmsKeyArn, p, region]) => ({ bucketArn, kmsKeyArn, prefix: p, region }));
    this.writerPolicyJson = location.apply((l) => JSON.stringify(snapshotWriterPolicy(l)));
    this.readerPolicyJson = location.apply((l) => JSON.stringify(snapshotReaderPolicy(l)));

    if (args.oidc) {
      const oidc = args.oidc;
      const role = new aws.iam.Role(
        `${name}-irsa-role`,
        {
          description: pulumi.interpolate`etcd snapshot writer for ${args.clusterName}/${args.environment} (IRSA)`,
          assumeRolePolicy: pulumi
            .all([
              oidc.providerArn,
              oidc.providerUrl,
              oidc.namespace ?? DEFAULT_SNAPSHOT_NAMESPACE,
              oidc.serviceAccount ?? DEFAULT_SNAPSHOT_NAME,
            ])
            .apply(([providerArn, providerUrl, namespace, serviceAccount]) =>
              JSON.stringify(irsaTrustPolicy({ providerArn, providerUrl, namespace, serviceAccount })),
            ),
          maxSessionDuration: 3600,
          tags,
        },
        local,
      );
      new aws.iam.RolePolicy(
        `${name}-irsa-writer`,
        { role: role.id, name: "etcd-snapshot-writer", policy: this.writerPolicyJson },
        local,
      );
      this.roleArn = role.arn;
    }

    this.bucketName = this.bucket.bucket;
    this.bucketArn = this.bucket.arn;
    this.region = this.bucket.region;
    this.kmsKeyArn = this.kmsKey.arn;
    this.prefix = prefix;

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

function accessLoggingSelfTargetMessage(name: string, bucket: string, locked: boolean): string {
  return locked
    ? `SnapshotStore ${name}: accessLogging.targetBucket must not be the snapshot bucket itself ("${bucket}"): ` +
        "objectLock is set, and S3 cannot deliver server access logs into a bucket with Object Lock. " +
        "Point accessLogging.targetBucket at a separate log bucket without Object Lock."
    : `SnapshotStore ${name}: accessLogging.targetBucket must not be the snapshot bucket itself ("${bucket}"): ` +
        "logging a bucket into itself logs its own log deliveries forever. Use a separate log bucket.";
}

/** Construction-time checks of accessLogging.targetBucket against the names we already know. */
function checkAccessLoggingTarget(name: string, args: SnapshotStoreArgs): void {
  const target = args.accessLogging?.targetBucket;
  if (typeof target !== "string") return; // Outputs are checked again when they resolve.
  if (target.trim() === "")
    throw new Error(`SnapshotStore ${name}: accessLogging.targetBucket must not be empty`);
  if (args.bucketName !== undefined && target === args.bucketName) {
    throw new Error(accessLoggingSelfTargetMessage(name, target, args.objectLock !== undefined));
  }
  if (
    args.objectLock &&
    args.replication?.bucketName !== undefined &&
    target === args.replication.bucketName
  ) {
    throw new Error(
      `SnapshotStore ${name}: accessLogging.targetBucket must not be the replica bucket ("${target}"): ` +
        "objectLock is set (the replica is locked too), and S3 cannot deliver server access logs into a bucket " +
        "with Object Lock.",
    );
  }
}

/**
 * Versioning, SSE-KMS with Bucket Key, public access block, owner-enforced ownership, TLS/SSE bucket
 * policy, prefix-scoped lifecycle and (optionally) Object Lock for one bucket.
 */
function hardenBucket(
  parent: pulumi.Resource,
  base: string,
  a: {
    bucket: aws.s3.Bucket;
    key: aws.kms.Key;
    prefix: pulumi.Output<string>;
    retention: SnapshotRetention;
    objectLock?: SnapshotObjectLock;
    region?: pulumi.Input<string>;
    provider?: aws.Provider;
  },
): Hardened {
  const regionArg = a.region !== undefined ? { region: a.region } : {};
  const opts = (extra: pulumi.CustomResourceOptions = {}): pulumi.CustomResourceOptions => ({
    parent,
    ...(a.provider ? { provider: a.provider } : {}),
    ...extra,
  });
  const retained = (extra: pulumi.CustomResourceOptions = {}) => opts({ retainOnDelete: true, ...extra });

  const versioning = new aws.s3.BucketVersioning(
    `${base}-versioning`,
    { bucket: a.bucket.id, versioningConfiguration: { status: "Enabled" }, ...regionArg },
    retained(),
  );
  const sse = new aws.s3.BucketServerSideEncryptionConfiguration(
    `${base}-sse`,
    {
      bucket: a.bucket.id,
      rules: [
        {
          applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: a.key.arn },
          bucketKeyEnabled: true,
        },
      ],
      ...regionArg,
    },
    retained(),
  );
  const pab = new aws.s3.BucketPublicAccessBlock(
    `${base}-public-access-block`,
    {
      bucket: a.bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
      ...regionArg,
    },
    retained(),
  );
  new aws.s3.BucketOwnershipControls(
    `${base}-ownership`,
    { bucket: a.bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" }, ...regionArg },
    retained(),
  );
  new aws.s3.BucketPolicy(
    `${base}-policy`,
    {
      bucket: a.bucket.id,
      policy: pulumi
        .all([a.bucket.arn, a.key.arn])
        .apply(([bucketArn, kmsKeyArn]) => JSON.stringify(snapshotBucketPolicy({ bucketArn, kmsKeyArn }))),
      ...regionArg,
    },
    // The public access block must exist first, or a policy change could briefly race it.
    retained({ dependsOn: [pab] }),
  );

  const r = a.retention;
  new aws.s3.BucketLifecycleConfiguration(
    `${base}-lifecycle`,
    {
      bucket: a.bucket.id,
      rules: [
        {
          id: "etcd-snapshots-retention",
          status: "Enabled",
          filter: { prefix: a.prefix },
          ...(r.transitionToColdAfterDays !== undefined
            ? {
                transitions: [
                  {
                    days: r.transitionToColdAfterDays,
                    storageClass: r.coldStorageClass ?? DEFAULT_COLD_STORAGE_CLASS,
                  },
                ],
              }
            : {}),
          expiration: { days: r.days },
          noncurrentVersionExpiration: { noncurrentDays: r.noncurrentVersionDays },
          abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
        },
      ],
      ...regionArg,
    },
    // Noncurrent-version rules need versioning in place first.
    opts({ dependsOn: [versioning] }),
  );

  if (a.objectLock) {
    new aws.s3.BucketObjectLockConfiguration(
      `${base}-object-lock`,
      {
        bucket: a.bucket.id,
        objectLockEnabled: "Enabled",
        rule: { defaultRetention: { mode: a.objectLock.mode, days: a.objectLock.days } },
        ...regionArg,
      },
      // Object Lock requires versioning: enable it before the lock (also for existing buckets).
      retained({ dependsOn: [versioning, sse] }),
    );
  }
  return { versioning };
}
