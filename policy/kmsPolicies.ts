import { envelopeKeyPolicyProblems } from "../components/kms/policies";
import {
  apiserverMountedDirsOf,
  kmsProvidersOf,
  kmsSocketProblems,
  renderedKmsPluginOf,
  type KmsProviderEntry,
} from "../components/kms/socketCoverage";
import { aws } from "./awsTypes";
import { typeChainOf, type ResourceInput, type StackResource, type Violation } from "./resources";
import { secureEtcds } from "./secureEtcdOutputs";
import type { PackPolicy } from "./types";

/*
 * KMS v2: every kms provider of the EncryptionConfiguration is served by a rendered plugin that
 * kube-apiserver can reach, and every envelope key keeps its guard rails. The same checks as SecureEtcd's
 * preview refusal and the CIS report's G-5 row (components/kms).
 */

const envelopeKeysType = "secure-etcd:index:EnvelopeKeys";

/**
 * The kms providers: from the EncryptionConfiguration when registered; else (a pack that must not read
 * the secret) the non-archived kms keys of `encryptionKeyStates`, at the endpoint `kmsPlugins` gives
 * them — a kms key without a `kmsPlugins` entry is itself a violation. Undefined: nothing to read.
 */
function kmsProvidersOfOutputs(
  r: StackResource,
): { providers: KmsProviderEntry[]; unlisted: string[] } | undefined {
  const config = r.props.encryptionConfiguration;
  if (typeof config === "string") return { providers: kmsProvidersOf(config), unlisted: [] };
  if (!Array.isArray(r.props.encryptionKeyStates)) return undefined;
  const keys = (r.props.encryptionKeyStates as { name: string; state: string; provider: string }[]).filter(
    (k) => k.provider === "kms" && k.state !== "archived",
  );
  const listed = new Map(
    ((r.props.kmsPlugins ?? []) as { key: string; endpoint: string }[]).map((p) => [p.key, p.endpoint]),
  );
  return {
    providers: keys
      .filter((k) => listed.has(k.name))
      .map((k) => ({ name: k.name, endpoint: listed.get(k.name)! })),
    unlisted: keys.filter((k) => !listed.has(k.name)).map((k) => k.name),
  };
}

/** Every kms provider has a plugin on its socket (outputs read directly: unknown at preview defers it). */
function socketViolations(rs: readonly StackResource[]): Violation[] {
  return secureEtcds(rs).flatMap((r): Violation[] => {
    const found = kmsProvidersOfOutputs(r);
    if (!found)
      return [
        {
          urn: r.urn,
          message: `SecureEtcd ${r.name} registered neither encryptionConfiguration nor encryptionKeyStates: its kms providers cannot be checked`,
        },
      ];
    const { providers, unlisted } = found;
    const missing = unlisted.map((k) => ({
      urn: r.urn,
      message: `kms key ${k}: no KMS plugin is rendered for it (kmsPlugins)`,
    }));
    if (providers.length === 0) return missing;
    const manifests = (r.props.kmsPluginManifests ?? {}) as Record<string, string>;
    const patch = r.props.kubeApiserverPatch;
    const plugins = Object.entries(manifests).map(([key, m]) => renderedKmsPluginOf(key, m));
    return kmsSocketProblems(
      providers,
      plugins,
      typeof patch === "string" ? apiserverMountedDirsOf(patch) : undefined,
    )
      .map((p) => ({ urn: r.urn, message: `kms key ${p.key}: ${p.message}` }))
      .concat(missing);
  });
}

function envelopeKeyViolations(r: ResourceInput): string[] {
  if (r.type !== aws.kmsKey || !typeChainOf(r.urn).slice(0, -1).includes(envelopeKeysType)) return [];
  const policy = r.props.policy;
  if (typeof policy !== "string")
    return [`envelope key ${r.name} has no key policy: AWS's default lets IAM hand it to anyone`];
  const problems = envelopeKeyPolicyProblems(JSON.parse(policy));
  const window = r.props.deletionWindowInDays;
  if (typeof window === "number" && window < 7)
    problems.push(`deletionWindowInDays ${window} (AWS minimum is 7)`);
  return problems.map((p) => `envelope key ${r.name}: ${p}`);
}

export const kmsPolicies: PackPolicy[] = [
  {
    kind: "stack",
    name: "kms-plugin-serves-every-kms-provider",
    displayName:
      "Every kms provider has a KMS v2 plugin listening on its socket, reachable by kube-apiserver",
    description:
      "A kms provider whose socket no plugin listens on never becomes healthy: kube-apiserver could write no Secret.",
    enforcementLevel: "mandatory",
    severity: "critical",
    remediationSteps:
      "Render the plugins with SecureEtcd (kmsPluginManifests) and apply kubeApiserverPatch, which mounts the socket directories.",
    validate: socketViolations,
  },
  {
    kind: "resource",
    name: "kms-envelope-key-policy",
    displayName:
      "Envelope keys: deletion refused while snapshots need them, use only with the cluster's context",
    description:
      "The AWS KMS keys behind kms providers deny ScheduleKeyDeletion and allow Encrypt/Decrypt only to the control-plane roles with the encryption context.",
    enforcementLevel: "mandatory",
    severity: "critical",
    remediationSteps: "Let SecureEtcd write the envelope key's policy (components/kms/policies.ts).",
    types: [aws.kmsKey],
    validate: envelopeKeyViolations,
  },
];
