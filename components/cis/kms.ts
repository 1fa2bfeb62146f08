import {
  kmsProvidersOf,
  kmsSocketProblems,
  renderedKmsPluginOf,
  type KmsProviderEntry,
} from "../kms/socketCoverage";
import type { FileFact } from "./files";
import { pass, warn, type CheckInfo, type Finding, type TargetFinding } from "./types";

/**
 * Guidance beyond CIS (kube-bench's 1.2.28 reads only the first provider's name): a kms provider is only
 * as good as the plugin behind it and the AWS key behind that. One row, present when a kms provider is.
 */
export const kmsPluginCheck: CheckInfo = {
  id: "G-5",
  title:
    "Every kms provider is served: a KMS v2 plugin listens on its socket, both pods mount it, the plugin's pod spec is 0600 root:root, and its AWS key is Enabled",
  source: "guidance",
  scored: false,
};

export interface KmsCisInput {
  /** The EncryptionConfiguration's text (its kms providers; no key material is read). */
  encryptionConfiguration: string;
  /** Each kms key's rendered plugin manifest. */
  plugins: { key: string; manifest: string }[];
  /** Host directories the kube-apiserver patch mounts. */
  apiserverMountedDirs: string[];
  /** Per member, the plugin manifests as its node bootstrap installs them. */
  installed?: { member: string; facts: FileFact[]; manifestPaths: Record<string, string> }[];
  /** DescribeKey's KeyState per kms key name, when the report was given AWS access (the drills do). */
  keyStates?: Record<string, { arn: string; keyState: string }>;
}

const arnOf = (manifest: string) => /secure-etcd\/kms-key-arn:\s*(\S+)/.exec(manifest)?.[1];

function providerFinding(p: KmsProviderEntry, i: KmsCisInput): Finding {
  const plugins = i.plugins.map((q) => renderedKmsPluginOf(q.key, q.manifest));
  const problems = kmsSocketProblems([p], plugins, i.apiserverMountedDirs);
  const manifest = i.plugins.find((q) => q.key === p.name)?.manifest ?? "";
  const arn = arnOf(manifest) ?? "no AWS key named";
  if (problems.length)
    return warn(`kms key ${p.name} (${arn}): ${problems.map((x) => x.message).join("; ")}`);
  const state = i.keyStates?.[p.name];
  if (state && state.keyState !== "Enabled")
    return warn(
      `kms key ${p.name}: its AWS key ${state.arn} is ${state.keyState}; kube-apiserver can neither encrypt new data keys nor decrypt Secrets it has not cached (aws kms enable-key --key-id ${state.arn})`,
    );
  return pass(
    `kms key ${p.name}: plugin on ${p.endpoint}, AWS key ${arn}${state ? ` (${state.keyState})` : " (key state not checked: no AWS access)"}`,
  );
}

/** The row's findings: per kms provider, then per member the installed plugin manifests' mode and owner. */
export function kmsPluginFindings(i: KmsCisInput): TargetFinding[] {
  const providers = kmsProvidersOf(i.encryptionConfiguration);
  if (providers.length === 0) return [];
  const out: TargetFinding[] = providers.map((p) => ({ target: `kms:${p.name}`, ...providerFinding(p, i) }));
  for (const n of i.installed ?? [])
    for (const [key, at] of Object.entries(n.manifestPaths)) {
      const f = n.facts.find((x) => x.kind === "file" && x.path === at);
      const finding: Finding = !f
        ? warn(`plugin manifest of ${key} not installed by the node bootstrap`)
        : (f.mode & ~0o600) !== 0 || f.owner !== "root:root"
          ? warn(
              `plugin manifest ${f.mode.toString(8)} ${f.owner ?? "unknown owner"}; expected 600 root:root`,
            )
          : pass("plugin manifest 600 root:root");
      out.push({ target: `${n.member}:${at}`, ...finding });
    }
  return out;
}
