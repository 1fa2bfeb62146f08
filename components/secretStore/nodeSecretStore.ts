import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { ResolvedSecretStore } from "../config/secretStore";
import { KEY_ARCHIVE_RECOVERY_WINDOW_DAYS } from "./defaults";
import { checkedSecretNames, type PreviousSecretStore } from "./existingSecrets";
import { checkedRoleArn, deployContext, type DeployContext } from "./identity";
import { keyArchiveSecretName, memberSecretName, nodeReadPolicyName, secretsKeyAlias } from "./naming";
import { nodeRole, type NodeRole } from "./nodeRole";
import { secretReadPolicy } from "./policies";
import { createSecretsKey, type NamedReader } from "./secretsKey";
import { createStoredSecret } from "./storedSecret";

export interface NodeSecretStoreArgs {
  clusterName: string;
  environment: string;
  /** Member names, in member order. */
  members: string[];
  /** Each member's node bundle (`renderNodeBundle`); stored as Pulumi secrets. */
  bundles: Record<string, pulumi.Input<string>>;
  /** The key archive JSON (`renderKeyArchive`); stored as a Pulumi secret. */
  keyArchive: pulumi.Input<string>;
  settings: ResolvedSecretStore;
  /** Principals besides the one running `pulumi up` that deploy the stack (`deployerPrincipalArns`). */
  deployerPrincipalArns: readonly string[];
  /** What the stack's last deployment exported (the program reads its own outputs); see PreviousSecretStore. */
  previous?: PreviousSecretStore;
}

type Tags = Record<string, string>;

/**
 * The node bundles in AWS Secrets Manager: a customer-managed KMS key (rotation on) whose key policy
 * names who may use it; per member one secret that only that member's role (and the deployer) can read,
 * and an IAM policy that reads only it; a key archive secret that no node role can read. Keys and
 * secrets are `protect`ed and `retainOnDelete`.
 */
export class NodeSecretStore extends pulumi.ComponentResource {
  readonly region: pulumi.Output<string>;
  /** The principal whose `pulumi up` writes the secrets (kept in every key and resource policy). */
  readonly deployerArn: pulumi.Output<string>;
  /** Every deployer the key and resource policies admit: the one running now, then `deployerPrincipalArns`. */
  readonly deployerArns: pulumi.Output<string[]>;
  /** Each member's role name (the snapshot writer policy and the KMS envelope key's grant attach to it). */
  readonly nodeRoleNames: Record<string, pulumi.Output<string>>;
  readonly kmsKeyArn: pulumi.Output<string>;
  /** The replica region's key (with `replicaRegion`). */
  readonly replicaKmsKeyArn?: pulumi.Output<string>;
  /** Secret name per member (`secure-etcd/<cluster>/<env>/<member>`): the bootstrap's SECURE_ETCD_SECRET_ID. */
  readonly secretNames: Record<string, string>;
  readonly secretArns: Record<string, pulumi.Output<string>>;
  readonly keyArchiveSecretName: string;
  readonly keyArchiveSecretArn: pulumi.Output<string>;
  /** Per member, the IAM policy (JSON) that reads only its own secret; attached to its role. */
  readonly nodeSecretPolicyJson: Record<string, pulumi.Output<string>>;
  readonly nodeRoleArns: Record<string, pulumi.Output<string>>;
  /** Instance profile per member whose role this component created (a role you pass keeps yours). */
  readonly nodeInstanceProfileNames: Record<string, pulumi.Output<string>>;
  /** IAM policy (JSON) for `restoreReaderRoleArn` that reads the key archive (only with that arg). */
  readonly keyArchiveReaderPolicyJson?: pulumi.Output<string>;

  constructor(name: string, args: NodeSecretStoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("secure-etcd:index:NodeSecretStore", name, {}, opts);
    const { clusterName: cluster, environment: env, settings: s, members } = args;
    const ctx = deployContext(this, {
      extra: args.deployerPrincipalArns,
      previous: args.previous?.deployed ? args.previous.deployerArns : undefined,
    });
    this.region = ctx.region;
    this.deployerArn = ctx.deployerArn;
    this.deployerArns = ctx.deployerArns;
    const gen = s.generation;
    this.secretNames = Object.fromEntries(members.map((m) => [m, memberSecretName(cluster, env, m, gen)]));
    this.keyArchiveSecretName = keyArchiveSecretName(cluster, env, gen);
    // Created only under names no secret outside this stack's record holds (checked at preview).
    const names = checkedSecretNames(
      [...Object.values(this.secretNames), this.keyArchiveSecretName],
      gen,
      args.previous,
      this,
    );
    const checkedName = (name: string) => names.apply(() => name);
    const tags = tagger(cluster, env);
    const roles: Record<string, NodeRole> = Object.fromEntries(
      members.map((m) => [m, nodeRole(`${name}-${m}`, m, s.nodeRoles[m], tags("etcd-node-role", m), this)]),
    );
    // Of the stack's partition and account (checked at preview, once those are known).
    const restoreReader = s.restoreReaderRoleArn
      ? checkedRoleArn("secretStore.restoreReaderRoleArn", s.restoreReaderRoleArn, ctx, "secret store")
      : undefined;
    const keys = this.createKeys(
      name,
      cluster,
      env,
      s,
      ctx,
      roles,
      restoreReader,
      tags("etcd-node-secrets-key"),
    );
    this.kmsKeyArn = keys.primary.arn;
    this.replicaKmsKeyArn = keys.replica?.arn;
    const where = {
      ctx,
      kmsKeyArn: keys.primary.arn,
      replica:
        keys.replica && s.replicaRegion
          ? { region: s.replicaRegion, kmsKeyArn: keys.replica.arn }
          : undefined,
    };

    this.secretArns = {};
    this.nodeSecretPolicyJson = {};
    this.nodeRoleArns = {};
    this.nodeRoleNames = {};
    this.nodeInstanceProfileNames = {};
    for (const m of members) {
      const secret = createStoredSecret(
        `${name}-${m}`,
        {
          ...where,
          secretName: checkedName(this.secretNames[m]),
          description: `secure-etcd node bundle of etcd member ${m} (${cluster}/${env})`,
          value: args.bundles[m],
          recoveryWindowDays: s.recoveryWindowDays,
          readerRoleArns: [roles[m].roleArn],
          tags: tags("etcd-node-bundle", m),
          retain: false,
        },
        this,
      );
      this.secretArns[m] = secret.arn;
      this.nodeSecretPolicyJson[m] = this.attachReadPolicy(`${name}-${m}-read`, roles[m], {
        secretArn: secret.arn,
        kmsKeyArn: keys.primary.arn,
        ctx,
        policyName: nodeReadPolicyName(cluster, env, m),
      });
      this.nodeRoleArns[m] = roles[m].roleArn;
      this.nodeRoleNames[m] = roles[m].roleName;
      const profile = roles[m].instanceProfileName;
      if (profile) this.nodeInstanceProfileNames[m] = profile;
    }

    const archive = createStoredSecret(
      `${name}-archive`,
      {
        ...where,
        secretName: checkedName(this.keyArchiveSecretName),
        description: `secure-etcd encryption key archive (${cluster}/${env})`,
        value: args.keyArchive,
        recoveryWindowDays: KEY_ARCHIVE_RECOVERY_WINDOW_DAYS,
        readerRoleArns: restoreReader ? [restoreReader] : [],
        tags: tags("etcd-encryption-key-archive"),
        retain: true,
      },
      this,
    );
    this.keyArchiveSecretArn = archive.arn;
    this.keyArchiveReaderPolicyJson = s.restoreReaderRoleArn
      ? readPolicyJson(archive.arn, keys.primary.arn, ctx)
      : undefined;

    for (const w of s.warnings) pulumi.log.warn(`${name}: ${w}`, this);
    this.registerOutputs({
      kmsKeyArn: this.kmsKeyArn,
      secretArns: this.secretArns,
      keyArchiveSecretArn: this.keyArchiveSecretArn,
      nodeRoleArns: this.nodeRoleArns,
      nodeInstanceProfileNames: this.nodeInstanceProfileNames,
      nodeSecretPolicyJson: this.nodeSecretPolicyJson,
      deployerArns: this.deployerArns,
    });
  }

  /** The IAM policy that reads only this secret, attached to the member's role; returns its JSON. */
  private attachReadPolicy(
    base: string,
    role: NodeRole,
    a: {
      secretArn: pulumi.Output<string>;
      kmsKeyArn: pulumi.Output<string>;
      ctx: pulumi.Output<DeployContext>;
      policyName: string;
    },
  ): pulumi.Output<string> {
    const policy = readPolicyJson(a.secretArn, a.kmsKeyArn, a.ctx);
    new aws.iam.RolePolicy(base, { role: role.roleName, name: a.policyName, policy }, { parent: this });
    return policy;
  }

  /** The stack region's key (members decrypt their own secret) and, with a replica region, that region's. */
  private createKeys(
    name: string,
    cluster: string,
    env: string,
    s: ResolvedSecretStore,
    ctx: pulumi.Output<DeployContext>,
    roles: Record<string, NodeRole>,
    reader: pulumi.Output<string> | undefined,
    tags: Tags,
  ): { primary: aws.kms.Key; replica?: aws.kms.Key } {
    const archiveName = this.keyArchiveSecretName;
    const restoreReader: NamedReader[] = reader
      ? [{ sid: "RestoreReader", roleArn: reader, secretName: archiveName }]
      : [];
    const memberReaders: NamedReader[] = Object.entries(roles).map(([m, role], i) => ({
      sid: `Member${i + 1}${m.replace(/[^A-Za-z0-9]/g, "")}`,
      roleArn: role.roleArn,
      secretName: this.secretNames[m],
    }));
    const common = { ctx, deletionWindowDays: s.kmsKeyDeletionWindowDays, tags };
    const primary = createSecretsKey(
      `${name}-key`,
      {
        ...common,
        peerRegion: s.replicaRegion,
        readers: [...memberReaders, ...restoreReader],
        description: `secure-etcd node secrets of ${cluster}/${env}`,
        alias: secretsKeyAlias(cluster, env),
      },
      this,
    );
    if (!s.replicaRegion) return { primary };
    // Replicas serve restores in the other region: only the restore reader decrypts there, never a node.
    const replica = createSecretsKey(
      `${name}-replica-key`,
      {
        ...common,
        region: s.replicaRegion,
        readers: restoreReader,
        description: `secure-etcd node secret replicas of ${cluster}/${env}`,
        alias: secretsKeyAlias(cluster, env, true),
      },
      this,
    );
    return { primary, replica };
  }
}

/** The tags of every resource: cluster, environment, purpose and (for a member's) the member. */
function tagger(cluster: string, env: string): (purpose: string, member?: string) => Tags {
  return (purpose, member) => ({
    "secure-etcd:cluster": cluster,
    "secure-etcd:environment": env,
    "secure-etcd:purpose": purpose,
    ...(member !== undefined ? { "secure-etcd:member": member } : {}),
  });
}

function readPolicyJson(
  secretArn: pulumi.Output<string>,
  kmsKeyArn: pulumi.Output<string>,
  ctx: pulumi.Output<DeployContext>,
): pulumi.Output<string> {
  return pulumi
    .all([secretArn, kmsKeyArn, ctx])
    .apply(([arn, key, c]) =>
      JSON.stringify(
        secretReadPolicy({ secretArn: arn, kmsKeyArn: key, region: c.region, dnsSuffix: c.dnsSuffix }),
      ),
    );
}
