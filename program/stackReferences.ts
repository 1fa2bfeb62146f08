import * as pulumi from "@pulumi/pulumi";
import {
  ConfigError,
  promotionGateProblems,
  promotionRecord,
  type KeyStateRecord,
  type PromotionRecord,
  type StackSettings,
} from "../components";
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

/** What this stack's own last deployment says: its key states and the etcd version it rendered. */
export interface PreviousDeployment {
  encryptionKeys?: KeyStateRecord[];
  etcdVersion?: string;
}

export async function previousDeployment(clusterName: string): Promise<PreviousDeployment> {
  const self = new pulumi.StackReference(`${clusterName}-previous-deployment`, {
    name: projectStack(pulumi.getStack()),
  });
  const states = await output<KeyStateRecord[]>(self, "encryptionKeyStates");
  // Deployments from before the `etcdVersion` output carry it in their promotion record.
  const version =
    (await output<string>(self, "etcdVersion")) ??
    (await output<PromotionRecord>(self, "promotion"))?.settings?.etcdVersion;
  return {
    encryptionKeys: Array.isArray(states) ? states : undefined,
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
