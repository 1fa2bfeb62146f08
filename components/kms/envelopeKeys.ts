import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { EncryptionKeySpec } from "../config/schema";
import { deployContext } from "../secretStore/identity";
import { envelopeEncryptionContext, envelopeKeyAlias, envelopeKeyTags } from "./naming";
import { envelopeKeyGrantPolicy, envelopeKeyPolicy } from "./policies";

/** A control-plane node's role: the grant attaches to it by name, the key policy names its ARN. */
export interface ControlPlaneRole {
  roleName: pulumi.Input<string>;
  roleArn: pulumi.Input<string>;
}

export interface EnvelopeKeysArgs {
  clusterName: string;
  environment: string;
  /** The kms keys of the encryption settings (other providers are ignored). */
  keys: EncryptionKeySpec[];
  /** AWS's waiting period of a scheduled deletion (7–30 days). */
  deletionWindowDays: number;
  /** Member name → its node role (the secret store's). */
  nodeRoles: Record<string, ControlPlaneRole>;
  /** Allowed DescribeKey for the restore's pre-flight check. */
  restoreReaderRoleArn?: string;
  /** How long a snapshot lives (retention + noncurrent versions): an archived key is kept that long. */
  snapshotLifeDays: number;
}

/** The day an archived key's deletion stops being refused: `archivedOn` + the longest snapshot life. */
export function retainUntil(archivedOn: string, snapshotLifeDays: number): string {
  const start = Date.parse(`${archivedOn}T00:00:00Z`);
  if (Number.isNaN(start))
    throw new Error(`envelope key: archivedOn ${JSON.stringify(archivedOn)} is not a date`);
  return new Date(start + snapshotLifeDays * 86_400_000).toISOString().slice(0, 10);
}

/**
 * The AWS KMS keys behind the EncryptionConfiguration's kms providers — one per kms key, so moving to a
 * new AWS key is a new kms key taken through staged → primary → rewrite → retired → archived — with their
 * aliases, key policies (see policies.ts) and the node roles' grant. Separate from the secret store's key:
 * a separate blast radius. Keys are `protect`ed and `retainOnDelete`: `pulumi destroy` leaves them, and
 * their policy refuses ScheduleKeyDeletion while snapshots may need them.
 */
export class EnvelopeKeys extends pulumi.ComponentResource {
  /** kms key name → the AWS key's ARN (what the plugin's `--key` names). */
  readonly keyArns: Record<string, pulumi.Output<string>>;
  /** kms key name → its key policy (JSON). */
  readonly keyPolicies: Record<string, pulumi.Output<string>>;
  readonly region: pulumi.Output<string>;
  /** The node roles' grant (JSON), when some kms key is in the EncryptionConfiguration. */
  readonly grantPolicyJson?: pulumi.Output<string>;
  readonly encryptionContext: Record<string, string>;

  constructor(name: string, args: EnvelopeKeysArgs, opts?: pulumi.ComponentResourceOptions) {
    super("secure-etcd:index:EnvelopeKeys", name, {}, opts);
    const { clusterName: cluster, environment: env } = args;
    const ctx = deployContext(this);
    this.region = ctx.region;
    this.encryptionContext = envelopeEncryptionContext(cluster, env);
    const roleArns = pulumi.all(Object.values(args.nodeRoles).map((r) => pulumi.output(r.roleArn)));
    this.keyArns = {};
    this.keyPolicies = {};
    const kmsKeys = args.keys.filter((k) => k.provider === "kms");
    for (const k of kmsKeys) {
      const archived = k.state === "archived";
      const policy = pulumi.all([ctx, roleArns]).apply(([c, arns]) =>
        JSON.stringify(
          envelopeKeyPolicy({
            partition: c.partition,
            accountId: c.accountId,
            deployerArn: c.deployerArn,
            // An archived key serves no plugin: the nodes lose their use of it.
            nodeRoleArns: archived ? [] : arns,
            encryptionContext: this.encryptionContext,
            restoreReaderRoleArn: args.restoreReaderRoleArn,
            retainUntil: archived ? retainUntil(k.archivedOn!, args.snapshotLifeDays) : undefined,
          }),
        ),
      );
      const key = new aws.kms.Key(
        `${name}-${k.name}`,
        {
          description: `secure-etcd Kubernetes envelope key ${k.name} (kms v2 provider) of ${cluster}/${env}`,
          keyUsage: "ENCRYPT_DECRYPT",
          customerMasterKeySpec: "SYMMETRIC_DEFAULT",
          enableKeyRotation: true,
          deletionWindowInDays: args.deletionWindowDays,
          policy,
          tags: envelopeKeyTags(cluster, env, k.name),
        },
        { parent: this, protect: true, retainOnDelete: true },
      );
      new aws.kms.Alias(
        `${name}-${k.name}-alias`,
        { name: envelopeKeyAlias(cluster, env, k.name), targetKeyId: key.keyId },
        { parent: this },
      );
      this.keyArns[k.name] = key.arn;
      this.keyPolicies[k.name] = policy;
    }

    const inUse = kmsKeys.filter((k) => k.state !== "archived").map((k) => this.keyArns[k.name]);
    if (inUse.length) {
      const grant = pulumi
        .all(inUse)
        .apply((keyArns) =>
          JSON.stringify(envelopeKeyGrantPolicy({ keyArns, encryptionContext: this.encryptionContext })),
        );
      for (const [member, role] of Object.entries(args.nodeRoles))
        new aws.iam.RolePolicy(
          `${name}-${member}-grant`,
          { role: role.roleName, name: `secure-etcd-${cluster}-${env}-${member}-kms-plugin`, policy: grant },
          { parent: this },
        );
      this.grantPolicyJson = grant;
    }
    this.registerOutputs({
      keyArns: this.keyArns,
      keyPolicies: this.keyPolicies,
      grantPolicyJson: this.grantPolicyJson,
    });
  }
}
