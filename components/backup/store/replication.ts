import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { replicationRolePolicy, replicationTrustPolicy } from "../policies";
import type { SnapshotReplication } from "./args";
import { createHardenedBucket, type HardenedBucket } from "./bucket";
import type { StoreContext } from "./context";

/**
 * Cross-region replication of the prefix: a replica hardened like the primary (own key in the
 * destination region), a role S3 assumes to copy, and the replication rule. Delete markers stay behind.
 */
export function createReplication(
  ctx: StoreContext,
  primary: HardenedBucket,
  rep: SnapshotReplication,
): HardenedBucket {
  const { clusterName, environment } = ctx.args;
  const replica = createHardenedBucket(ctx, {
    base: `${ctx.name}-replica`,
    keyDescription: pulumi.interpolate`etcd snapshot replicas of ${clusterName}/${environment}`,
    aliasName: ctx.aliasBase.apply((a) => `${a}-replica`),
    bucketName: rep.bucketName,
    region: rep.destinationRegion,
    provider: rep.destinationProvider,
  });
  const { role, rolePolicy } = createReplicationRole(ctx, primary, replica);
  new aws.s3.BucketReplicationConfig(
    `${ctx.name}-replication`,
    {
      bucket: primary.bucket.id,
      role: role.arn,
      rules: [
        {
          id: "etcd-snapshots",
          status: "Enabled",
          priority: 1,
          filter: { prefix: ctx.prefix },
          deleteMarkerReplication: { status: "Disabled" },
          sourceSelectionCriteria: { sseKmsEncryptedObjects: { status: "Enabled" } },
          destination: {
            bucket: replica.bucket.arn,
            encryptionConfiguration: { replicaKmsKeyId: replica.key.arn },
          },
        },
      ],
    },
    // S3 refuses a replication rule until both buckets are versioned and the role may copy.
    { parent: ctx.parent, dependsOn: [primary.versioning, replica.versioning, rolePolicy] },
  );
  return replica;
}

/** The role S3 assumes to replicate: read the prefix's versions, write replicas, decrypt and re-encrypt. */
function createReplicationRole(
  ctx: StoreContext,
  primary: HardenedBucket,
  replica: HardenedBucket,
): { role: aws.iam.Role; rolePolicy: aws.iam.RolePolicy } {
  const { clusterName, environment } = ctx.args;
  const local = { parent: ctx.parent };
  const role = new aws.iam.Role(
    `${ctx.name}-replication-role`,
    {
      description: pulumi.interpolate`S3 replication of etcd snapshots ${clusterName}/${environment}`,
      assumeRolePolicy: JSON.stringify(replicationTrustPolicy()),
      tags: ctx.tags,
    },
    local,
  );
  const rolePolicy = new aws.iam.RolePolicy(
    `${ctx.name}-replication-policy`,
    {
      role: role.id,
      policy: pulumi
        .all([primary.bucket.arn, primary.key.arn, replica.bucket.arn, replica.key.arn, ctx.prefix])
        .apply(([sb, sk, db, dk, p]) =>
          JSON.stringify(
            replicationRolePolicy(
              {
                sourceBucketArn: sb,
                sourceKmsKeyArn: sk,
                destinationBucketArn: db,
                destinationKmsKeyArn: dk,
                prefix: p,
              },
              ctx.source,
            ),
          ),
        ),
    },
    local,
  );
  return { role, rolePolicy };
}
