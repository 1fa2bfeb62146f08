import * as aws from "@pulumi/aws";
import * as awsConfig from "@pulumi/aws/config";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "./config/errors";
import { selfReplicationProblems, type DeploymentContext } from "./config/replication";
import type { SecureEtcdConfig } from "./config/schema";

/*
 * The region a SecureEtcd deploys to, for the checks that refuse a replica in that same region. With the
 * default AWS provider it is known at construction (aws:region, else AWS_REGION / AWS_DEFAULT_REGION,
 * as the provider reads them); with an explicit provider it is that provider's `region`, an Output.
 */

/** The region known at construction, or none when the component has its own AWS provider. */
export function constructionContext(component: pulumi.Resource): DeploymentContext {
  if (component.getProvider("aws:index:Provider") !== undefined) return {};
  const region = awsConfig.region?.trim();
  return region ? { stackRegion: region, stackRegionSource: "the default aws provider's region" } : {};
}

/**
 * `value`, rejected with the ConfigError naming the replication key once an explicit AWS provider's
 * region resolves to a replica region (everything rendered waits on `value`, so the rejection stops them).
 */
export function checkedAgainstProviderRegion<T>(
  component: pulumi.Resource,
  config: SecureEtcdConfig,
  source: string,
  value: pulumi.Output<T>,
): pulumi.Output<T> {
  const provider = component.getProvider("aws:index:Provider");
  if (!(provider instanceof aws.Provider)) return value;
  return pulumi.all([value, provider.region]).apply(([v, region]) => {
    const problems = selfReplicationProblems(config, {
      stackRegion: region ?? undefined,
      stackRegionSource: "the aws provider's region",
    });
    if (problems.length > 0) throw new ConfigError(problems, source);
    return v;
  }) as pulumi.Output<T>;
}
