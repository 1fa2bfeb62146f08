import { providerOrderOf } from "../components/cis";
import { known, stackOf, type StackResource, type Violation } from "./resources";

/*
 * What a stack policy can read about a SecureEtcd. The component is a local ComponentResource: its
 * constructor args never reach the engine, but what it passes to `registerOutputs` are its outputs, and
 * those are what AnalyzeStack hands the pack (secret ones included, unwrapped to plain values).
 */

export const secureEtcdType = "secure-etcd:index:SecureEtcd";

export const secureEtcds = (resources: readonly StackResource[]) =>
  resources.filter((r) => r.type === secureEtcdType);

const missing = (r: StackResource, output: string, why: string): Violation => ({
  urn: r.urn,
  message: `SecureEtcd ${r.name} registered no ${output} output, so ${why} cannot be checked (a secure-etcd version without it?)`,
});

/** Runs `check` on one output of every SecureEtcd; a missing output is itself a violation, never a pass. */
export function onOutput<T>(
  resources: readonly StackResource[],
  output: string,
  what: string,
  check: (value: T, r: StackResource) => Violation[],
): Violation[] {
  return secureEtcds(resources).flatMap((r) =>
    r.props[output] === undefined ? [missing(r, output, what)] : check(r.props[output] as T, r),
  );
}

/**
 * The EncryptionConfiguration's provider names in order, per resources group. From the non-secret
 * `encryptionProviders` output when the component registers it (known at preview); otherwise parsed from
 * the secret `encryptionConfiguration`. That one is unknown at preview until its keys exist: it is read
 * directly on purpose, so the engine's proxy throws its own unknown-value error and Pulumi reports the
 * policy as "can't run during preview" (advisory) — never a silent pass.
 */
export function providerGroupsOf(r: StackResource): string[][] | undefined {
  if ("encryptionProviders" in r.props) return [(r.props.encryptionProviders as unknown[]).map(String)];
  const config = r.props.encryptionConfiguration;
  return typeof config === "string" ? providerOrderOf(config) : undefined;
}

/** The `environment` output; else the stack name, which the component defaults its environment to. */
export function environmentOf(r: StackResource): string {
  const env = known(() => r.props.environment);
  return typeof env === "string" ? env : stackOf(r.urn);
}

/**
 * The `backupEnabled` output; else whether `snapshotBucketName` was registered at all (it is only when
 * backups are on — `in` does not read the value, so it works while the name is unknown at preview).
 */
export function backupEnabledOf(r: StackResource): boolean {
  const b = known(() => r.props.backupEnabled);
  return typeof b === "boolean" ? b : "snapshotBucketName" in r.props;
}
