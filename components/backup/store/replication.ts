import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../../config/errors";
import { replicaRegionProblem, servicePrincipal } from "../../secretStore/identity";
import { replicationRolePolicy, replicationTrustPolicy } from "../policies";
import type { SnapshotReplication } from "./args";
import type { BucketSite, HardenedBucket } from "./bucket";
import type { StoreContext } from "./context";

/*
 * Cross-region replication of the prefix: a replica hardened like the primary (own key in the
 * destination region), a role only S3 — replicating this account's source bucket — may assume, the
 * replication rule with replication metrics, and an alarm on failed replications. Delete markers stay
 * behind. Like the buckets, all of it is retained on delete: a retained bucket keeps replicating.
 */

export const REPLICATION_RULE_ID = "etcd-snapshots";

/**
 * Where the replica lives (resource names `<name>-replica-…`). Its region is checked once the stack's
 * region and partition are known (at preview): another region, in the same partition.
 */
export function replicaSite(ctx: StoreContext, rep: SnapshotReplication): BucketSite {
  const { clusterName, environment } = ctx.args;
  const region = pulumi.all([rep.destinationRegion, ctx.deploy]).apply(([r, d]) => {
    const p = replicaRegionProblem("replication.destinationRegion", r, d);
    if (p) throw new ConfigError([p], ctx.source);
    return r;
  });
  return {
    base: `${ctx.name}-replica`,
    keyDescription: pulumi.interpolate`etcd snapshot replicas of ${clusterName}/${environment}`,
    aliasName: ctx.aliasBase.apply((a) => `${a}-replica`),
    bucketName: rep.bucketName,
    region,
    provider: rep.destinationProvider,
  };
}

/** The role S3 assumes to replicate; its trust names the source bucket and account (confused deputy). */
export function createReplicationRole(ctx: StoreContext, sourceBucket: aws.s3.Bucket): aws.iam.Role {
  const { clusterName, environment } = ctx.args;
  const principal = servicePrincipal("s3", ctx.parent);
  return new aws.iam.Role(
    `${ctx.name}-replication-role`,
    {
      description: pulumi.interpolate`S3 replication of etcd snapshots ${clusterName}/${environment}`,
      assumeRolePolicy: pulumi
        .all([principal, ctx.deploy, sourceBucket.arn])
        .apply(([s3ServicePrincipal, d, sourceBucketArn]) =>
          JSON.stringify(
            replicationTrustPolicy(
              { s3ServicePrincipal, accountId: d.accountId, sourceBucketArn },
              ctx.source,
            ),
          ),
        ),
      tags: ctx.tags,
    },
    // Retained with the buckets: the retained replication rule names this role.
    { parent: ctx.parent, retainOnDelete: true },
  );
}

/** The role's permissions, the rule, and the alarm. Returns the alarm's name. */
export function createReplication(
  ctx: StoreContext,
  primary: HardenedBucket,
  replica: HardenedBucket,
  role: aws.iam.Role,
): pulumi.Output<string> {
  const rolePolicy = new aws.iam.RolePolicy(
    `${ctx.name}-replication-policy`,
    {
      role: role.id,
      policy: pulumi
        .all([
          primary.bucket.arn,
          primary.key.arn,
          primary.region,
          replica.bucket.arn,
          replica.key.arn,
          replica.region,
          ctx.prefix,
          ctx.deploy,
        ])
        .apply(([sb, sk, sr, db, dk, dr, prefix, d]) =>
          JSON.stringify(
            replicationRolePolicy(
              {
                sourceBucketArn: sb,
                sourceKmsKeyArn: sk,
                sourceRegion: sr,
                destinationBucketArn: db,
                destinationKmsKeyArn: dk,
                destinationRegion: dr,
                prefix,
                dnsSuffix: d.dnsSuffix,
              },
              ctx.source,
            ),
          ),
        ),
    },
    { parent: ctx.parent, retainOnDelete: true },
  );
  new aws.s3.BucketReplicationConfig(
    `${ctx.name}-replication`,
    {
      bucket: primary.bucket.id,
      role: role.arn,
      rules: [
        {
          id: REPLICATION_RULE_ID,
          status: "Enabled",
          priority: 1,
          filter: { prefix: ctx.prefix },
          deleteMarkerReplication: { status: "Disabled" },
          sourceSelectionCriteria: { sseKmsEncryptedObjects: { status: "Enabled" } },
          destination: {
            bucket: replica.bucket.arn,
            encryptionConfiguration: { replicaKmsKeyId: replica.key.arn },
            // Replication metrics: without them a failed replication shows nowhere but on each object.
            metrics: { status: "Enabled" },
          },
        },
      ],
    },
    // S3 refuses a replication rule until both buckets are versioned and the role may copy.
    // Retained with the buckets, like every configuration of a retained bucket.
    {
      parent: ctx.parent,
      retainOnDelete: true,
      dependsOn: [primary.versioning, replica.versioning, rolePolicy],
    },
  );
  return replicationAlarm(ctx, primary, replica).name;
}

/**
 * A CloudWatch alarm on `OperationsFailedReplication` (replication metrics, AWS/S3): any failed
 * replication in five minutes turns it to ALARM. Route it where you page (an EventBridge rule on
 * "CloudWatch Alarm State Change", or alarm actions of your own); docs/aws-access.md has the commands.
 */
function replicationAlarm(
  ctx: StoreContext,
  primary: HardenedBucket,
  replica: HardenedBucket,
): aws.cloudwatch.MetricAlarm {
  return new aws.cloudwatch.MetricAlarm(
    `${ctx.name}-replication-failures`,
    {
      alarmDescription: pulumi.interpolate`etcd snapshots of ${ctx.args.clusterName}/${ctx.args.environment} failed to replicate`,
      namespace: "AWS/S3",
      metricName: "OperationsFailedReplication",
      dimensions: {
        SourceBucket: primary.bucket.bucket,
        DestinationBucket: replica.bucket.bucket,
        RuleId: REPLICATION_RULE_ID,
      },
      statistic: "Sum",
      period: 300,
      evaluationPeriods: 1,
      threshold: 0,
      comparisonOperator: "GreaterThanThreshold",
      treatMissingData: "notBreaching",
      tags: ctx.tags,
    },
    { parent: ctx.parent },
  );
}
