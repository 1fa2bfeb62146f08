import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

export const repoRoot = path.resolve(__dirname, "..");
export const stackNames = ["local", "dev", "staging", "prod"] as const;

/** A stack file's `config:` block as Pulumi hands it to a program: structured values as JSON text. */
export function stackFile(stack: string): string {
  return path.join(repoRoot, "stacks", `Pulumi.${stack}.yaml`);
}

/** Stack names that have a file in stacks/. */
export function availableStacks(): string[] {
  return fs
    .readdirSync(path.join(repoRoot, "stacks"))
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => !!s)
    .sort();
}

export function readStackConfig(stack: string): Record<string, string> {
  const file = stackFile(stack);
  const doc = parse(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> };
  return toPulumiConfig(doc.config ?? {});
}

export function toPulumiConfig(config: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(config))
    out[k] = typeof v === "object" && v !== null ? JSON.stringify(v) : String(v);
  return out;
}
