import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { iamPrincipalArn } from "../config/awsAccess";
import { ConfigError, type ConfigProblem } from "../config/errors";
import { show } from "../config/fields";
import type { AwsLocation } from "./naming";

/** Where the stack deploys, and who may deploy it. */
export interface DeployContext extends AwsLocation {
  /** The partition's DNS suffix (`amazonaws.com`, `amazonaws.com.cn`): service endpoints end with it. */
  dnsSuffix: string;
  /**
   * The principal running this deployment as `aws:PrincipalArn` sees it: an IAM user's ARN, or for an
   * assumed role the role's ARN (`aws.iam.getSessionContext`'s issuerArn), never the session ARN.
   */
  deployerArn: string;
  /**
   * Every principal the policies admit as a deployer: {@link deployerArn} first, then
   * `deployerPrincipalArns` (CI and break-glass roles). Only these may write, re-stage, re-key, restore,
   * replicate, delete or re-policy a secret, and administer the keys.
   */
  deployerArns: string[];
}

/** What the deployment was told about its deployers (config) and what it deployed last time. */
export interface DeployerSettings {
  /** `deployerPrincipalArns`: more principals that may deploy (CI, break-glass). */
  extra: readonly string[];
  /**
   * The deployers the last deployment's policies admitted (its `deployerArns` output). When given and
   * the principal running now is not among them, the run stops at preview: the policies it would have
   * to rewrite deny it, and a `pulumi refresh` by it would already have failed.
   */
  previous?: readonly string[];
}

/** Where a ConfigError about deployers points (`deployerPrincipalArns`, or `secure-etcd:…` from the program). */
export const DEPLOYERS_KEY = "deployerPrincipalArns";

const assumedRole = /^arn:aws[a-z-]*:sts::\d{12}:assumed-role\//;

function need(what: string, value: string | undefined, pattern: RegExp): string {
  if (value === undefined || !pattern.test(value))
    throw new Error(`secret store: ${what} is ${JSON.stringify(value)}; the AWS provider must answer it`);
  return value;
}

/**
 * Problems with an ARN from config once the stack's partition and account are known: a principal of
 * another partition or account can never be the one these policies mean (and KMS and Secrets Manager
 * reject policies naming a principal that does not exist, late and confusingly).
 */
export function arnLocationProblem(
  path: string,
  arn: string,
  at: { partition: string; accountId: string },
): ConfigProblem | undefined {
  const m = /^arn:([^:]*):[^:]*:[^:]*:([^:]*):/.exec(arn);
  if (!m) return { path, message: `${show(arn)} is not an ARN` };
  if (m[1] !== at.partition)
    return {
      path,
      message: `${show(arn)} is in partition ${show(m[1])}, but this stack deploys to ${show(at.partition)}`,
    };
  if (m[2] !== at.accountId)
    return {
      path,
      message: `${show(arn)} is in account ${m[2]}, but this stack deploys to account ${at.accountId}; principals of the stack's own account only`,
    };
  return undefined;
}

/** The deployers every policy admits, or a ConfigError naming `deployerPrincipalArns` (pure, tested). */
export function resolveDeployers(
  current: string,
  at: { partition: string; accountId: string },
  d: DeployerSettings,
): string[] {
  const problems = d.extra.flatMap((arn, i) => {
    const path = `${DEPLOYERS_KEY}[${i}]`;
    if (!iamPrincipalArn.test(arn))
      return [
        {
          path,
          message: `${show(arn)} is not an IAM role or user ARN (arn:<partition>:iam::<account>:role/<name>); for an assumed role give the role, not its session`,
        },
      ];
    const p = arnLocationProblem(path, arn, at);
    return p ? [p] : [];
  });
  if (problems.length) throw new ConfigError(problems, "deploying principals");
  const all = [...new Set([current, ...d.extra])];
  if (d.previous && d.previous.length > 0 && !d.previous.includes(current))
    throw new ConfigError(
      [
        {
          path: DEPLOYERS_KEY,
          message: `the principal running this deployment, ${show(current)}, is not one the deployed policies admit (${d.previous.map((a) => show(a)).join(", ")}): the secret and key policies deny it every write, so this deployment (and a \`pulumi refresh\` by it) would fail half-way. From one of those principals, add ${show(current)} to ${DEPLOYERS_KEY} and run \`pulumi up\`; then it may deploy.`,
        },
      ],
      "deploying principals",
    );
  return all;
}

/**
 * Account, region, partition (and its DNS suffix) and the deployers, from the provider's data sources
 * (aws.getCallerIdentity, aws.getRegion, aws.getPartition, and aws.iam.getSessionContext only when the
 * caller is an assumed role). All are invokes: known at preview, so the checks on them run at preview.
 */
export function deployContext(
  parent: pulumi.Resource,
  deployers: DeployerSettings = { extra: [] },
): pulumi.Output<DeployContext> {
  const opts = { parent };
  const caller = aws.getCallerIdentityOutput({}, opts);
  const deployerArn = caller.arn.apply((arn) =>
    assumedRole.test(arn) ? aws.iam.getSessionContextOutput({ arn }, opts).issuerArn : pulumi.output(arn),
  );
  const partition = aws.getPartitionOutput({}, opts);
  return pulumi
    .all([caller.accountId, aws.getRegionOutput({}, opts).region, partition.partition, partition.dnsSuffix])
    .apply(([accountId, region, part, dnsSuffix]) => ({
      accountId: need("aws.getCallerIdentity accountId", accountId, /^\d{12}$/),
      region: need("aws.getRegion region", region, /^[a-z]{2}(-[a-z]+)+-\d$/),
      partition: need("aws.getPartition partition", part, /^aws[a-z-]*$/),
      dnsSuffix: need("aws.getPartition dnsSuffix", dnsSuffix, /^[a-z0-9.-]+\.[a-z]+$/),
    }))
    .apply((at) =>
      deployerArn.apply((d) => {
        const current = need(
          "the deploying principal (getCallerIdentity arn / getSessionContext issuerArn)",
          d,
          /^arn:aws[a-z-]*:(iam::\d{12}:(root|user\/.+|role\/.+)|sts::\d{12}:federated-user\/.+)$/,
        );
        return { ...at, deployerArn: current, deployerArns: resolveDeployers(current, at, deployers) };
      }),
    );
}

/**
 * The service principal AWS expects in this partition and region (`ec2.amazonaws.com`; other forms in
 * some partitions), from aws.getServicePrincipal rather than a hard-coded `.amazonaws.com`.
 */
export function servicePrincipal(
  service: string,
  parent: pulumi.Resource,
  region?: pulumi.Input<string>,
): pulumi.Output<string> {
  return aws
    .getServicePrincipalOutput({ serviceName: service, ...(region ? { region } : {}) }, { parent })
    .name.apply((name) => need(`aws.getServicePrincipal(${service}) name`, name, /^[a-z0-9.-]+$/));
}

/**
 * Role ARNs from config, checked against the stack's partition and account once those are known (at
 * preview: they come from invokes). A ConfigError names `path[i]`.
 */
export function checkedRoleArns(
  path: string,
  arns: pulumi.Input<pulumi.Input<string>[]> | undefined,
  at: pulumi.Output<{ partition: string; accountId: string }>,
  source: string,
): pulumi.Output<string[]> {
  return pulumi.all([pulumi.output(arns ?? []), at]).apply(([list, where]) => {
    const problems = list.flatMap((arn, i) => {
      if (!/^arn:[^:]+:iam::\d{12}:role\/[\w+=,.@/-]+$/.test(arn))
        return [
          {
            path: `${path}[${i}]`,
            message: `${show(arn)} is not an IAM role ARN (arn:<partition>:iam::<account>:role/<name>)`,
          },
        ];
      const p = arnLocationProblem(`${path}[${i}]`, arn, where);
      return p ? [p] : [];
    });
    if (problems.length) throw new ConfigError(problems, source);
    return [...new Set(list)];
  });
}

/** One role ARN from config, checked like {@link checkedRoleArns}; the ConfigError names `path`. */
export function checkedRoleArn(
  path: string,
  arn: string,
  at: pulumi.Output<{ partition: string; accountId: string }>,
  source: string,
): pulumi.Output<string> {
  return at.apply((where) => {
    const p = arnLocationProblem(path, arn, where);
    if (p) throw new ConfigError([p], source);
    return arn;
  });
}

/**
 * The partition a region belongs to, from its name (AWS names regions per partition: `cn-…` China,
 * `us-gov-…` GovCloud, `us-iso-…`/`us-isob-…` the isolated ones). A replica in another partition than
 * the stack cannot share its account, keys or principals.
 */
export function partitionOfRegion(region: string): string {
  if (region.startsWith("cn-")) return "aws-cn";
  if (region.startsWith("us-gov-")) return "aws-us-gov";
  const iso = /^[a-z]{2}-(iso[a-z]?)-/.exec(region);
  return iso ? (iso[1] === "iso" ? "aws-iso" : `aws-iso-${iso[1].slice(3)}`) : "aws";
}

/** A ConfigError naming `path` when a replica region is the stack's own or lies in another partition. */
export function replicaRegionProblem(
  path: string,
  replicaRegion: string,
  at: { region: string; partition: string },
): ConfigProblem | undefined {
  if (replicaRegion === at.region)
    return {
      path,
      message: `${show(replicaRegion)} is the stack's own region; a replica needs another region`,
    };
  const p = partitionOfRegion(replicaRegion);
  if (p !== at.partition)
    return {
      path,
      message: `${show(replicaRegion)} is in partition ${show(p)}, but this stack deploys to ${show(at.partition)} (${show(at.region)}); a replica must stay in the stack's partition`,
    };
  return undefined;
}
