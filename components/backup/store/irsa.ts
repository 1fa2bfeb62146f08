import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_SNAPSHOT_NAME, DEFAULT_SNAPSHOT_NAMESPACE } from "../defaults";
import { ConfigError } from "../../config/errors";
import { arnLocationProblem } from "../../secretStore/identity";
import { irsaTrustPolicy } from "../policies";
import type { SnapshotIrsa } from "./args";
import type { StoreContext } from "./context";

/**
 * The IRSA role of the snapshot job: only the snapshot ServiceAccount's web-identity tokens may assume
 * it. Created before the key (whose policy names it); its writer policy comes after the key
 * ({@link attachIrsaWriterPolicy}).
 */
export function createIrsaRole(ctx: StoreContext, oidc: SnapshotIrsa): aws.iam.Role {
  return new aws.iam.Role(
    `${ctx.name}-irsa-role`,
    {
      description: pulumi.interpolate`etcd snapshot writer for ${ctx.args.clusterName}/${ctx.args.environment} (IRSA)`,
      assumeRolePolicy: pulumi
        .all([
          oidc.providerArn,
          oidc.providerUrl,
          oidc.namespace ?? DEFAULT_SNAPSHOT_NAMESPACE,
          oidc.serviceAccount ?? DEFAULT_SNAPSHOT_NAME,
          ctx.deploy,
        ])
        .apply(([providerArn, providerUrl, namespace, serviceAccount, d]) => {
          const trust = irsaTrustPolicy({ providerArn, providerUrl, namespace, serviceAccount }, ctx.source);
          // The OIDC provider is registered in the stack's own account and partition.
          const p = arnLocationProblem("oidc.providerArn", providerArn, d);
          if (p) throw new ConfigError([p], ctx.source);
          return JSON.stringify(trust);
        }),
      maxSessionDuration: 3600,
      tags: ctx.tags,
    },
    { parent: ctx.parent },
  );
}

/** The writer policy on the IRSA role. */
export function attachIrsaWriterPolicy(
  ctx: StoreContext,
  role: aws.iam.Role,
  writerPolicyJson: pulumi.Output<string>,
): void {
  new aws.iam.RolePolicy(
    `${ctx.name}-irsa-writer`,
    { role: role.id, name: "etcd-snapshot-writer", policy: writerPolicyJson },
    { parent: ctx.parent },
  );
}
