import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { DeployContext } from "./identity";
import { secretResourcePolicy } from "./policies";

export interface StoredSecretArgs {
  ctx: pulumi.Output<DeployContext>;
  /** The name, once checked against what already exists in AWS (see NodeSecretStore). */
  secretName: pulumi.Input<string>;
  description: string;
  /** The secret's value; stored as a Pulumi secret whatever is passed. */
  value: pulumi.Input<string>;
  kmsKeyArn: pulumi.Input<string>;
  /** Replicate into this region, under that region's key. */
  replica?: { region: string; kmsKeyArn: pulumi.Input<string> };
  recoveryWindowDays: number;
  /** Roles that may read the secret; every other principal but the deployers is denied. */
  readerRoleArns: pulumi.Input<string>[];
  tags: Record<string, string>;
  /**
   * `protect` + `retainOnDelete` (the key archive: snapshots need it after the stack is gone), or
   * deleted with its recovery window when Pulumi deletes it (a member's bundle: removing or renaming
   * the member must not abort the update, and a removed member's private keys must not linger).
   */
  retain: boolean;
}

/**
 * One secret under a customer-managed key, its current version, and a resource policy (BlockPublicPolicy)
 * that denies GetSecretValue to everyone but the readers and the deployers, and every write to everyone
 * but the deployers. The version and the policy are `retainOnDelete` whatever the secret's lifecycle:
 * they go with the secret (a deleted secret takes them along; a retained one keeps its value and its
 * protection), and Pulumi never strips the policy off a secret that still exists.
 */
export function createStoredSecret(
  base: string,
  a: StoredSecretArgs,
  parent: pulumi.Resource,
): aws.secretsmanager.Secret {
  const secret = new aws.secretsmanager.Secret(
    base,
    {
      name: a.secretName,
      description: a.description,
      kmsKeyId: a.kmsKeyArn,
      recoveryWindowInDays: a.recoveryWindowDays,
      replicas: a.replica ? [{ region: a.replica.region, kmsKeyId: a.replica.kmsKeyArn }] : undefined,
      tags: a.tags,
    },
    { parent, protect: a.retain, retainOnDelete: a.retain },
  );
  const policy = new aws.secretsmanager.SecretPolicy(
    `${base}-policy`,
    {
      secretArn: secret.arn,
      blockPublicPolicy: true,
      policy: pulumi
        .all([pulumi.all(a.readerRoleArns), a.ctx])
        .apply(([readerRoleArns, ctx]) =>
          JSON.stringify(secretResourcePolicy({ readerRoleArns, deployerArns: ctx.deployerArns })),
        ),
    },
    { parent, retainOnDelete: true },
  );
  new aws.secretsmanager.SecretVersion(
    `${base}-version`,
    { secretId: secret.id, secretString: pulumi.secret(a.value) },
    // After the policy: when a deployer is added, the policy that lets it read the secret back must be
    // in place before the provider writes (and reads) the new version.
    { parent, retainOnDelete: true, dependsOn: [policy] },
  );
  return secret;
}
