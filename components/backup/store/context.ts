import * as pulumi from "@pulumi/pulumi";
import { snapshotPrefix } from "../../config/backup";
import type { DeployContext } from "../../secretStore/identity";
import type { SnapshotStoreArgs } from "./args";

/** What every step of a SnapshotStore builds on: its parent, its name, the resolved names and tags. */
export interface StoreContext {
  parent: pulumi.ComponentResource;
  /** The component's name: the prefix of every child resource's name. */
  name: string;
  /** `source` of ConfigErrors (`SnapshotStore "<name>" args`). */
  source: string;
  args: SnapshotStoreArgs;
  /** KMS key deletion window, validated. */
  deletionWindow: number;
  /** `<cluster>/<environment>/` */
  prefix: pulumi.Output<string>;
  tags: pulumi.Output<Record<string, string>>;
  /** `alias/secure-etcd/<cluster>-<environment>-snapshots`, sanitised for KMS. */
  aliasBase: pulumi.Output<string>;
  /** Account, region, partition, DNS suffix and the deployers (known at preview: invokes). */
  deploy: pulumi.Output<DeployContext>;
}

export function storeContext(
  parent: pulumi.ComponentResource,
  name: string,
  args: SnapshotStoreArgs,
  settings: { source: string; deletionWindow: number; deploy: pulumi.Output<DeployContext> },
): StoreContext {
  const cluster = pulumi.all([args.clusterName, args.environment]);
  return {
    parent,
    name,
    args,
    ...settings,
    prefix: cluster.apply(([c, env]) => snapshotPrefix(c, env)),
    tags: pulumi
      .all([args.clusterName, args.environment, pulumi.output(args.tags ?? {})])
      .apply(([c, env, extra]): Record<string, string> => ({
        "secure-etcd:cluster": c,
        "secure-etcd:environment": env,
        "secure-etcd:purpose": "etcd-snapshots",
        ...extra,
      })),
    aliasBase: cluster.apply(([c, env]) =>
      `alias/secure-etcd/${c}-${env}-snapshots`.replace(/[^A-Za-z0-9/_-]/g, "-"),
    ),
  };
}
