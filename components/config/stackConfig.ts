import { z } from "zod";
import { resourceNameProblem } from "../naming";
import { ConfigError, parseOrThrow } from "./errors";
import { flag } from "./fields";
import { parseSettings, type SecureEtcdConfig, type SecureEtcdSettings } from "./schema";

/** Stack config keys live under this namespace: `secure-etcd:clusterName`, `secure-etcd:members`, … */
export const configNamespace = "secure-etcd";

/**
 * Keys only the program (index.ts) reads; `SecureEtcd` never sees them. They sit in the `backup` block
 * of a stack file because that is where a user looks for them.
 */
const programBackupKeys = z
  .object({
    /** Create the snapshot job in the cluster the ambient kubeconfig points at, instead of only rendering it. */
    deployJob: flag().default(false),
    /** kubeconfig context for deployJob (default: the current context). */
    kubeContext: z.string().min(1).optional(),
  })
  .strict();

/** Top-level keys only the program reads. */
const programTopKeys = z
  .object({
    /**
     * The stack this one is promoted from (e.g. `dev` for staging). The program then refuses to deploy
     * unless that stack has deployed the same package version and the same promotable settings.
     */
    promotedFrom: z
      .string()
      .regex(/^[A-Za-z0-9._/-]+$/, { error: (iss) => `${JSON.stringify(iss.input)} is not a stack name` })
      .optional(),
  })
  .strict();

export type ProgramBackupKeys = z.output<typeof programBackupKeys>;
export type ProgramTopKeys = z.output<typeof programTopKeys>;
export type ProgramSettings = ProgramBackupKeys & ProgramTopKeys;

export interface StackSettings {
  /** The component's args, parsed (hand them to `new SecureEtcd`). */
  args: SecureEtcdConfig;
  /** The same, resolved: what the component renders from. */
  settings: SecureEtcdSettings;
  /** What only the program reads. */
  program: ProgramSettings;
}

/**
 * Turns a stack's flat config (as `pulumi.runtime.allConfig()` returns it: `{"secure-etcd:members": "<json>"}`)
 * into validated settings. Runs before any resource is created; unknown `secure-etcd:` keys are errors
 * (a typo must not silently fall back to a default).
 */
export function loadStackConfig(allConfig: Record<string, string>, stackName: string): StackSettings {
  const prefix = `${configNamespace}:`;
  const source = `stack config for stack ${JSON.stringify(stackName)}`;
  const raw: Record<string, unknown> = {};
  for (const [fullKey, value] of Object.entries(allConfig)) {
    if (!fullKey.startsWith(prefix)) continue;
    raw[fullKey.slice(prefix.length)] = decodeValue(value);
  }
  if (raw.environment === undefined) raw.environment = stackName;
  const topRaw: Record<string, unknown> = {};
  if (raw.promotedFrom !== undefined) {
    topRaw.promotedFrom = raw.promotedFrom;
    delete raw.promotedFrom;
  }
  const programRaw: Record<string, unknown> = {};
  if (isRecord(raw.backup)) {
    const { deployJob, kubeContext, ...backup } = raw.backup;
    raw.backup = backup;
    Object.assign(
      programRaw,
      deployJob === undefined ? {} : { deployJob },
      kubeContext === undefined ? {} : { kubeContext },
    );
  }
  // The AWS provider deploys to aws:region (when the stack file sets it): replicas must go elsewhere.
  const region = allConfig["aws:region"];
  const { config, settings } = parseSettings(raw, prefix, source, {
    stackRegion: region?.trim() || undefined,
    stackRegionSource: "aws:region",
  });
  // The program names SecureEtcd after the cluster, so the cluster name carries the physical-name budget.
  const nameProblem = resourceNameProblem(settings.clusterName, settings);
  if (nameProblem) throw new ConfigError([{ path: `${prefix}clusterName`, message: nameProblem }], source);
  const program = {
    ...parseOrThrow(programBackupKeys, programRaw, `${prefix}backup`, source),
    ...parseOrThrow(programTopKeys, topRaw, prefix, source),
  };
  return { args: config, settings, program };
}

/** The settings of a stack's config (program-only keys set aside). */
export function settingsFromStackConfig(
  allConfig: Record<string, string>,
  stackName: string,
): SecureEtcdSettings {
  return loadStackConfig(allConfig, stackName).settings;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Structured values arrive as JSON text; scalars as plain strings. */
function decodeValue(value: string): unknown {
  const t = value.trim();
  if (t.startsWith("{") || t.startsWith("[")) {
    try {
      return JSON.parse(t);
    } catch {
      return value;
    }
  }
  return value;
}
