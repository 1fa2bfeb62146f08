/**
 * Which cluster a command works on, from its flags: a stack of the Pulumi project in the current
 * directory (`--stack NAME`), a stack file anywhere (`--stack-file PATH`), or the few settings given
 * as flags. Every source is validated by the package's own schema, so a bad value is the same
 * ConfigError, naming the key, that `pulumi preview` would show.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { settingsFromStackConfig } from "../../components/config/stackConfig";
import { validateSettings, type SecureEtcdSettings } from "../../components/config/schema";
import { UsageError, type FlagValues } from "./commandLine";
import { readStackConfigFile, stackConfigDir, stackFileIn, stackNameOfFile, stacksIn } from "./stackFiles";

export const stackSettingsFlags = {
  stack: { type: "string" },
  "stack-file": { type: "string" },
  "cluster-name": { type: "string" },
  environment: { type: "string" },
  "etcd-version": { type: "string" },
  member: { type: "string", multiple: true },
  "pki-dir": { type: "string" },
  "manifest-dir": { type: "string" },
  "data-dir": { type: "string" },
} as const;

const requiredFlags = ["cluster-name", "environment", "etcd-version", "member"] as const;
const settingFlags = [...requiredFlags, "pki-dir", "manifest-dir", "data-dir"] as const;

/** The `<settings>` part of a command's usage. */
export const stackSettingsUsage = [
  "  <settings>, one of:",
  "    --stack NAME        Pulumi.NAME.yaml in the stackConfigDir of ./Pulumi.yaml (else in .)",
  "    --stack-file PATH   a stack file anywhere",
  "    --cluster-name NAME --environment ENV --etcd-version X.Y.Z --member NAME=IP [--member NAME=IP ...]",
  "                        [--pki-dir DIR] [--manifest-dir DIR] [--data-dir DIR] (default: kubeadm's paths)",
].join("\n");

export type SettingsSource =
  | { kind: "stack" | "stack-file"; stack: string; file: string }
  | { kind: "flags"; raw: Record<string, unknown> };

type Values = FlagValues<typeof stackSettingsFlags>;

/** Which source the flags name (files are only checked to exist); throws a UsageError naming the flag. */
export function settingsSourceFrom(v: Values, cwd: string): SettingsSource {
  const flagsGiven = settingFlags.filter((f) => v[f] !== undefined);
  if (v.stack !== undefined && v["stack-file"] !== undefined)
    throw new UsageError("--stack-file", "give either --stack or --stack-file, not both");
  if (v.stack !== undefined || v["stack-file"] !== undefined) {
    if (flagsGiven.length > 0)
      throw new UsageError(
        `--${flagsGiven[0]}`,
        "only applies without --stack/--stack-file (the stack file has it)",
      );
    return v.stack !== undefined ? stackSource(v.stack, cwd) : stackFileSource(v["stack-file"]!, cwd);
  }
  if (flagsGiven.length === 0)
    throw new UsageError(
      "--stack",
      `is required (available: ${availableStacks(cwd)}), or --stack-file PATH, or the settings as flags`,
    );
  for (const f of requiredFlags)
    if (v[f] === undefined)
      throw new UsageError(`--${f}`, `is required when the settings come from flags (or give --stack NAME)`);
  return { kind: "flags", raw: rawSettingsFromFlags(v) };
}

/** Reads and validates the settings; throws ConfigError naming the key. */
export function loadSettings(source: SettingsSource): SecureEtcdSettings {
  if (source.kind === "flags") return validateSettings(source.raw, "", "settings given as flags");
  let config: Record<string, string>;
  try {
    config = readStackConfigFile(source.file);
  } catch (e) {
    throw new UsageError(
      `--${source.kind}`,
      `${source.file} is not a readable stack file: ${(e as Error).message}`,
    );
  }
  return settingsFromStackConfig(config, source.stack);
}

function availableStacks(cwd: string): string {
  return stacksIn(stackConfigDir(cwd)).join(", ") || `none in ${stackConfigDir(cwd)}`;
}

function stackSource(stack: string, cwd: string): SettingsSource {
  if (!/^[A-Za-z0-9_.-]+$/.test(stack))
    throw new UsageError("--stack", `${JSON.stringify(stack)} is not a stack name`);
  const file = stackFileIn(stackConfigDir(cwd), stack);
  if (!fs.existsSync(file))
    throw new UsageError(
      "--stack",
      `no stack file ${path.relative(cwd, file)} (available: ${availableStacks(cwd)})`,
    );
  return { kind: "stack", stack, file };
}

function stackFileSource(given: string, cwd: string): SettingsSource {
  const file = path.resolve(cwd, given);
  if (!fs.existsSync(file)) throw new UsageError("--stack-file", `${file} does not exist`);
  return { kind: "stack-file", stack: stackNameOfFile(file), file };
}

function rawSettingsFromFlags(v: Values): Record<string, unknown> {
  const members = v.member!.map((m) => {
    const eq = m.indexOf("=");
    if (eq <= 0 || eq === m.length - 1)
      throw new UsageError("--member", `${JSON.stringify(m)} is not NAME=IP (e.g. cp-1=10.0.1.10)`);
    return { name: m.slice(0, eq), ip: m.slice(eq + 1) };
  });
  const paths = Object.fromEntries(
    (
      [
        ["pkiDir", v["pki-dir"]],
        ["manifestDir", v["manifest-dir"]],
        ["dataDir", v["data-dir"]],
      ] as const
    ).filter(([, value]) => value !== undefined),
  );
  return {
    clusterName: v["cluster-name"],
    environment: v.environment,
    etcdVersion: v["etcd-version"],
    members,
    paths,
    // Commands read no backup settings; without this an environment other than dev/staging/prod
    // would be refused for lacking a snapshot schedule it does not need here.
    backup: { enabled: false },
  };
}
