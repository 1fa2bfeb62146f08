import * as pulumi from "@pulumi/pulumi";
import {
  ConfigError,
  promotionGateProblems,
  promotionRecord,
  type KeyStateRecord,
  type PromotionRecord,
  type StackSettings,
} from "../components";
import type { PreviousSecretStore } from "../components/secretStore/existingSecrets";
import { packageVersion } from "../components/packageInfo";

/*
 * What other deployments say, read through StackReferences before anything is created:
 * - this stack's own last deployment: the encryption key states SecureEtcd exported and the etcd
 *   version it rendered, so an unsafe rotation step or etcd version step is refused at preview (a stack
 *   never deployed has no outputs: nothing is checked);
 * - with `secure-etcd:promotedFrom`, the source stack's promotion record: the gate.
 */

/** A stack of this project by name (`<org>/<project>/<stack>`). */
export function projectStack(stack: string): string {
  return `${pulumi.getOrganization()}/${pulumi.getProject()}/${stack}`;
}

async function output<T>(ref: pulumi.StackReference, name: string): Promise<T | undefined> {
  const details = await ref.getOutputDetails(name);
  return (details.value ?? details.secretValue) as T | undefined;
}

/** What this stack's own last deployment exported that the next one checks against. */
export interface PreviousDeployment {
  encryptionKeys?: KeyStateRecord[];
  secretStore: PreviousSecretStore;
  etcdVersion?: string;
}

const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];

/**
 * This stack's last deployment, read through a StackReference to itself: the encryption key states, the
 * secret store's secrets and deployers, and the etcd version it rendered (a stack never deployed, or
 * destroyed, has no outputs).
 */
export async function previousDeployment(clusterName: string): Promise<PreviousDeployment> {
  const self = new pulumi.StackReference(`${clusterName}-previous-deployment`, {
    name: projectStack(pulumi.getStack()),
  });
  const [states, deployedCluster, secretArns, archiveArn, deployers, etcdVersion, promotion] =
    await Promise.all([
      output<KeyStateRecord[]>(self, "encryptionKeyStates"),
      output<string>(self, "clusterName"),
      output<Record<string, string>>(self, "nodeSecretArns"),
      output<string>(self, "keyArchiveSecretArn"),
      output<string[]>(self, "deployerArns"),
      output<string>(self, "etcdVersion"),
      output<PromotionRecord>(self, "promotion"),
    ]);
  // Deployments from before the `etcdVersion` output carry it in their promotion record.
  const version = etcdVersion ?? promotion?.settings?.etcdVersion;
  return {
    encryptionKeys: Array.isArray(states) ? states : undefined,
    secretStore: {
      deployed: deployedCluster !== undefined,
      secretArns: [...strings(Object.values(secretArns ?? {})), ...strings([archiveArn])],
      deployerArns: strings(deployers),
    },
    etcdVersion: typeof version === "string" ? version : undefined,
  };
}

/**
 * The promotion gate: when the stack names the stack it is promoted from, that stack must have deployed
 * the same package version and the same promotable settings. Throws a ConfigError naming what differs.
 */
export async function checkPromotionGate(stack: StackSettings): Promise<void> {
  const from = stack.program.promotedFrom;
  if (from === undefined) return;
  const ref = new pulumi.StackReference(`${stack.settings.clusterName}-promoted-from`, {
    name: from.includes("/") ? from : projectStack(from),
  });
  const source = await output<PromotionRecord>(ref, "promotion");
  const problems = promotionGateProblems(from, source, promotionRecord(stack.args, packageVersion()));
  if (problems.length > 0)
    throw new ConfigError(
      problems.map((message) => ({ path: "secure-etcd:promotedFrom", message })),
      `promotion of stack ${JSON.stringify(pulumi.getStack())} from ${JSON.stringify(from)}`,
    );
}
