import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_COLD_STORAGE_CLASS } from "../defaults";
import { snapshotBucketPolicy } from "../policies";
import type { StoreContext } from "./context";
import { snapshotKeyPolicy } from "./keyPolicy";

/*
 * One hardened snapshot bucket with its own customer-managed key: the primary, and (with replication)
 * the replica in another region. Both get the same protections, so a replica is never the weak copy.
 * The bucket is created first (the key policy names it), then its key, then its hardening.
 */

/** Where a hardened bucket lives. Resource names are `<base>-key`, `<base>-bucket`, `<base>-versioning`, … */
export interface BucketSite {
  base: string;
  keyDescription: pulumi.Input<string>;
  aliasName: pulumi.Input<string>;
  /** Physical bucket name; default auto-named. */
  bucketName?: string;
  /** Set as every resource's `region` (the replica's destination region). */
  region?: pulumi.Input<string>;
  provider?: aws.Provider;
}

/** Who may use a site's key and read its objects (besides administration by the deployers). */
export interface SitePrincipals {
  /** Upload (GenerateDataKey, Decrypt) and read back: the snapshot job's role(s). */
  writers: pulumi.Input<string[]>;
  /** Restore: Decrypt and read. */
  readers: pulumi.Input<string[]>;
  /** The S3 replication role, and which end of the rule this site is. */
  replication?: { roleArn: pulumi.Input<string>; end: "source" | "destination" };
}

export interface HardenedBucket {
  key: aws.kms.Key;
  bucket: aws.s3.Bucket;
  versioning: aws.s3.BucketVersioning;
  /** The site's region (the stack's for the primary). */
  region: pulumi.Output<string>;
}

type Options = (extra?: pulumi.CustomResourceOptions) => pulumi.CustomResourceOptions;

/** `{ region }` for a site in another region; nothing for the primary (its provider's region). */
function regionArg(site: BucketSite): { region?: pulumi.Input<string> } {
  return site.region !== undefined ? { region: site.region } : {};
}

/** Resource options for a site: the component as parent, the site's provider if any. */
function siteOptions(ctx: StoreContext, site: BucketSite): Options {
  return (extra = {}) => ({
    parent: ctx.parent,
    ...(site.provider ? { provider: site.provider } : {}),
    ...extra,
  });
}

/**
 * Every configuration resource of a bucket is retained on delete like the bucket: a retained bucket
 * keeps its protections, its lifecycle (snapshots still expire), its logging and its replication,
 * instead of being left open or growing forever. (Key aliases are the one exception, on purpose: a
 * retained alias would collide with the same name when the stack is rebuilt.)
 */
export function retainedOptions(ctx: StoreContext, site: BucketSite): Options {
  const opts = siteOptions(ctx, site);
  return (extra = {}) => opts({ retainOnDelete: true, ...extra });
}

/** The bucket (never force-destroyed), protected and retained: `pulumi destroy` stops at it. */
export function createSiteBucket(ctx: StoreContext, site: BucketSite): aws.s3.Bucket {
  return new aws.s3.Bucket(
    `${site.base}-bucket`,
    {
      ...(site.bucketName !== undefined ? { bucket: site.bucketName } : {}),
      forceDestroy: false,
      objectLockEnabled: ctx.args.objectLock ? true : undefined,
      ...regionArg(site),
      tags: ctx.tags,
    },
    // objectLockEnabled is replace-only on a protected bucket: a later lock goes through
    // BucketObjectLockConfiguration instead.
    siteOptions(ctx, site)({ protect: true, retainOnDelete: true, ignoreChanges: ["objectLockEnabled"] }),
  );
}

/**
 * The key (rotating, with an alias and its own key policy) and the bucket's hardening. The key is
 * protected and retained: Pulumi never deletes it.
 */
export function hardenBucket(
  ctx: StoreContext,
  site: BucketSite,
  bucket: aws.s3.Bucket,
  who: SitePrincipals,
): HardenedBucket {
  const opts = siteOptions(ctx, site);
  const region = pulumi.all([site.region, ctx.deploy]).apply(([r, d]) => r ?? d.region);
  const key = new aws.kms.Key(
    `${site.base}-key`,
    {
      description: site.keyDescription,
      enableKeyRotation: true,
      deletionWindowInDays: ctx.deletionWindow,
      policy: pulumi
        .all([ctx.deploy, region, bucket.arn, ctx.prefix, who.writers, who.readers, who.replication?.roleArn])
        .apply(([d, r, bucketArn, prefix, writerArns, readerArns, replicationRoleArn]) =>
          JSON.stringify(
            snapshotKeyPolicy(
              {
                partition: d.partition,
                accountId: d.accountId,
                region: r,
                dnsSuffix: d.dnsSuffix,
                bucketArn,
                prefix,
                deployerArns: d.deployerArns,
                writerArns,
                readerArns,
                replicationRoleArn,
                replicationRole: who.replication?.end,
              },
              ctx.source,
            ),
          ),
        ),
      ...regionArg(site),
      tags: ctx.tags,
    },
    opts({ protect: true, retainOnDelete: true }),
  );
  new aws.kms.Alias(
    `${site.base}-key-alias`,
    { name: site.aliasName, targetKeyId: key.keyId, ...regionArg(site) },
    opts(),
  );
  const { versioning, sse } = protectBucket(ctx, site, bucket, key, who);
  retainSnapshots(ctx, site, bucket, versioning);
  lockBucket(ctx, site, bucket, [versioning, sse]);
  return { key, bucket, versioning, region };
}

/** Versioning, SSE-KMS with Bucket Key, public access block, owner-enforced ownership, the bucket policy. */
function protectBucket(
  ctx: StoreContext,
  site: BucketSite,
  bucket: aws.s3.Bucket,
  key: aws.kms.Key,
  who: SitePrincipals,
): { versioning: aws.s3.BucketVersioning; sse: aws.s3.BucketServerSideEncryptionConfiguration } {
  const retained = retainedOptions(ctx, site);
  const region = regionArg(site);
  const versioning = new aws.s3.BucketVersioning(
    `${site.base}-versioning`,
    { bucket: bucket.id, versioningConfiguration: { status: "Enabled" }, ...region },
    retained(),
  );
  const sse = new aws.s3.BucketServerSideEncryptionConfiguration(
    `${site.base}-sse`,
    {
      bucket: bucket.id,
      rules: [
        {
          applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: key.arn },
          bucketKeyEnabled: true,
        },
      ],
      ...region,
    },
    retained(),
  );
  const pab = new aws.s3.BucketPublicAccessBlock(
    `${site.base}-public-access-block`,
    {
      bucket: bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
      ...region,
    },
    retained(),
  );
  new aws.s3.BucketOwnershipControls(
    `${site.base}-ownership`,
    { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" }, ...region },
    retained(),
  );
  new aws.s3.BucketPolicy(
    `${site.base}-policy`,
    {
      bucket: bucket.id,
      policy: pulumi
        .all([bucket.arn, key.arn, who.writers, who.readers, who.replication?.roleArn, ctx.deploy])
        .apply(([bucketArn, kmsKeyArn, writers, readers, replicationRole, d]) =>
          JSON.stringify(
            snapshotBucketPolicy(
              {
                bucketArn,
                kmsKeyArn,
                objectReaders: [...writers, ...readers, ...(replicationRole ? [replicationRole] : [])],
                deployers: d.deployerArns,
              },
              ctx.source,
            ),
          ),
        ),
      ...region,
    },
    // The public access block must exist first, or a policy change could briefly race it.
    retained({ dependsOn: [pab] }),
  );
  return { versioning, sse };
}

/** The retention lifecycle, scoped to the prefix: optional cold transition, expiry, noncurrent expiry. */
function retainSnapshots(
  ctx: StoreContext,
  site: BucketSite,
  bucket: aws.s3.Bucket,
  versioning: aws.s3.BucketVersioning,
): void {
  const r = ctx.args.retention;
  new aws.s3.BucketLifecycleConfiguration(
    `${site.base}-lifecycle`,
    {
      bucket: bucket.id,
      rules: [
        {
          id: "etcd-snapshots-retention",
          status: "Enabled",
          filter: { prefix: ctx.prefix },
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
      ...regionArg(site),
    },
    // Noncurrent-version rules need versioning in place first.
    retainedOptions(ctx, site)({ dependsOn: [versioning] }),
  );
}

/** The default Object Lock retention (when asked for). Irreversible: S3 never turns a lock off. */
function lockBucket(
  ctx: StoreContext,
  site: BucketSite,
  bucket: aws.s3.Bucket,
  after: pulumi.Resource[],
): void {
  const lock = ctx.args.objectLock;
  if (!lock) return;
  new aws.s3.BucketObjectLockConfiguration(
    `${site.base}-object-lock`,
    {
      bucket: bucket.id,
      objectLockEnabled: "Enabled",
      rule: { defaultRetention: { mode: lock.mode, days: lock.days } },
      ...regionArg(site),
    },
    // Object Lock requires versioning: enable it before the lock (also for existing buckets).
    retainedOptions(ctx, site)({ dependsOn: after }),
  );
}
