import type { PolicyPackArgs, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { packPolicies } from "./policies";
import type { PackPolicy } from "./types";

/** The metadata every @pulumi/policy policy carries, from our plain definition. */
function metadata(p: PackPolicy) {
  return {
    name: p.name,
    displayName: p.displayName,
    description: p.description,
    enforcementLevel: p.enforcementLevel,
    severity: p.severity,
    remediationSteps: p.remediationSteps,
    ...(p.configSchema ? { configSchema: p.configSchema } : {}),
    ...(p.cis
      ? {
          framework: {
            name: "CIS Kubernetes Benchmark",
            version: "1.12",
            reference: p.cis.id,
            specification: p.cis.title,
          },
        }
      : {}),
  };
}

/** A plain policy as @pulumi/policy runs it: stack violations attach to their resource's URN. */
export function toPulumiPolicy(p: PackPolicy): ResourceValidationPolicy | StackValidationPolicy {
  if (p.kind === "stack")
    return {
      ...metadata(p),
      validateStack: (args, report) => {
        for (const v of p.validate(args.resources, args.getConfig<Record<string, unknown>>()))
          report(v.message, v.urn);
      },
    };
  return {
    ...metadata(p),
    validateResource: (args, report) => {
      if (!p.types.includes(args.type)) return;
      for (const m of p.validate(args, args.getConfig<Record<string, unknown>>())) report(m);
    },
  };
}

export const packName = "secure-etcd";

export function packArgs(): PolicyPackArgs {
  return {
    description:
      "CIS Kubernetes etcd and API-server checks over what SecureEtcd renders, and the hardening of its buckets, keys and secrets.",
    enforcementLevel: "mandatory",
    policies: packPolicies.map(toPulumiPolicy),
  };
}
