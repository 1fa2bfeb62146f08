import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { AwsLocation } from "./naming";

/** Where the stack deploys, and who deploys it. */
export interface DeployContext extends AwsLocation {
  /**
   * The deploying principal as `aws:PrincipalArn` sees it: an IAM user's ARN, or for an assumed role the
   * role's ARN (`aws.iam.getSessionContext`'s issuerArn), never the short-lived session ARN.
   */
  deployerArn: string;
}

const assumedRole = /^arn:aws[a-z-]*:sts::\d{12}:assumed-role\//;

function need(what: string, value: string | undefined, pattern: RegExp): string {
  if (value === undefined || !pattern.test(value))
    throw new Error(`secret store: ${what} is ${JSON.stringify(value)}; the AWS provider must answer it`);
  return value;
}

/**
 * Account, region, partition and deployer, from the provider's data sources (aws.getCallerIdentity,
 * aws.getRegion, aws.getPartition, and aws.iam.getSessionContext only when the caller is an assumed role).
 */
export function deployContext(parent: pulumi.Resource): pulumi.Output<DeployContext> {
  const opts = { parent };
  const caller = aws.getCallerIdentityOutput({}, opts);
  const deployerArn = caller.arn.apply((arn) =>
    assumedRole.test(arn) ? aws.iam.getSessionContextOutput({ arn }, opts).issuerArn : pulumi.output(arn),
  );
  return pulumi
    .all([
      caller.accountId,
      aws.getRegionOutput({}, opts).region,
      aws.getPartitionOutput({}, opts).partition,
      deployerArn,
    ])
    .apply(([accountId, region, partition, deployer]) => ({
      accountId: need("aws.getCallerIdentity accountId", accountId, /^\d{12}$/),
      region: need("aws.getRegion region", region, /^[a-z]{2}(-[a-z]+)+-\d$/),
      partition: need("aws.getPartition partition", partition, /^aws[a-z-]*$/),
      deployerArn: need(
        "the deploying principal (getCallerIdentity arn / getSessionContext issuerArn)",
        deployer,
        /^arn:aws[a-z-]*:(iam::\d{12}:(root|user\/.+|role\/.+)|sts::\d{12}:federated-user\/.+)$/,
      ),
    }));
}
