import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { DeployContext } from "./identity";
import { secretResourcePolicy } from "./policies";

export interface StoredSecretArgs {
  ctx: pulumi.Output<DeployContext>;
  secretName: string;
  description: string;
  /** The secret's value; stored as a Pulumi secret whatever is passed. */
  value: pulumi.Input<string>;
  kmsKeyArn: pulumi.Input<string>;
  /** Replicate into this region, under that region's key. */
  replica?: { region: string; kmsKeyArn: pulumi.Input<string> };
  recoveryWindowDays: number;
  /** Roles that may read the secret; every other principal but the deployer is denied. */
  readerRoleArns: pulumi.Input<string>[];
  tags: Record<string, string>;
}

/**
 * One secret under a customer-managed key, its current version, and a resource policy (BlockPublicPolicy)
 * that denies GetSecretValue to everyone but the readers and the deployer. The secret is `protect`ed and
 * `retainOnDelete`; its version and policy are `retainOnDelete` so that a secret Pulumi forgets keeps its
 * value and its protection.
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
    { parent, protect: true, retainOnDelete: true },
  );
  const policy = new aws.secretsmanager.SecretPolicy(
    `${base}-policy`,
    {
      secretArn: secret.arn,
      blockPublicPolicy: true,
      policy: pulumi
        .all([pulumi.all(a.readerRoleArns), a.ctx])
        .apply(([readerRoleArns, ctx]) =>
          JSON.stringify(secretResourcePolicy({ readerRoleArns, deployerArn: ctx.deployerArn })),
        ),
    },
    { parent, retainOnDelete: true },
  );
  new aws.secretsmanager.SecretVersion(
    `${base}-version`,
    { secretId: secret.id, secretString: pulumi.secret(a.value) },
    // After the policy: when the deploying principal changes, the policy that lets it read the secret
    // back must be in place before the provider writes (and reads) the new version.
    { parent, retainOnDelete: true, dependsOn: [policy] },
  );
  return secret;
}
