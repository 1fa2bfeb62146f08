import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../config/errors";
import { replicaRegionProblem, type DeployContext } from "./identity";
import { secretArnPattern } from "./naming";
import { secretsKeyPolicy, type SecretReader } from "./policies";

/** Who decrypts which secret (by name: the key policy names secrets by their ARN pattern). */
export interface NamedReader {
  sid: string;
  roleArn: pulumi.Input<string>;
  secretName: pulumi.Input<string>;
}

export interface SecretsKeyArgs {
  ctx: pulumi.Output<DeployContext>;
  /** The key's region (a replica's); the stack's region when undefined. */
  region?: string;
  /**
   * Another region whose Secrets Manager uses this key for the deployers (replication). The stack's
   * region always may.
   */
  peerRegion?: string;
  readers: NamedReader[];
  deletionWindowDays: number;
  description: string;
  alias: string;
  tags: Record<string, string>;
}

/**
 * A customer-managed KMS key for secrets (yearly automatic rotation), its key policy and its alias.
 * The key is `protect`ed and `retainOnDelete`: deleting it would make every secret under it unreadable.
 */
export function createSecretsKey(base: string, a: SecretsKeyArgs, parent: pulumi.Resource): aws.kms.Key {
  const regionArg = a.region !== undefined ? { region: a.region } : {};
  const policy = pulumi
    .all([
      a.ctx,
      pulumi.all(a.readers.map((r) => pulumi.output(r.roleArn))),
      pulumi.all(a.readers.map((r) => pulumi.output(r.secretName))),
    ])
    .apply(([ctx, roleArns, names]) => {
      if (a.region !== undefined) {
        const p = replicaRegionProblem("secretStore.replicaRegion", a.region, ctx);
        if (p) throw new ConfigError([p], "secret store");
      }
      const at = { ...ctx, region: a.region ?? ctx.region };
      const readers: SecretReader[] = a.readers.map((r, i) => ({
        sid: r.sid,
        roleArn: roleArns[i],
        secretArn: secretArnPattern(at, names[i]),
      }));
      const deployerRegions = [at.region, ctx.region, ...(a.peerRegion !== undefined ? [a.peerRegion] : [])];
      return JSON.stringify(
        secretsKeyPolicy({
          partition: at.partition,
          accountId: at.accountId,
          region: at.region,
          dnsSuffix: ctx.dnsSuffix,
          deployerRegions,
          deployerArns: ctx.deployerArns,
          readers,
        }),
      );
    });
  const key = new aws.kms.Key(
    base,
    {
      description: a.description,
      enableKeyRotation: true,
      deletionWindowInDays: a.deletionWindowDays,
      policy,
      tags: a.tags,
      ...regionArg,
    },
    { parent, protect: true, retainOnDelete: true },
  );
  // Not retained, on purpose: a retained alias would collide with the same name when the stack is
  // rebuilt; the retained key keeps its id and ARN.
  new aws.kms.Alias(`${base}-alias`, { name: a.alias, targetKeyId: key.keyId, ...regionArg }, { parent });
  return key;
}
