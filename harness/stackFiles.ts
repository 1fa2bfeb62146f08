import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

export const repoRoot = path.resolve(__dirname, "..");
export const stackNames = ["local", "dev", "staging", "prod"] as const;

/** Where stack files live: `stacks/` (Pulumi.yaml's stackConfigDir), or SECURE_ETCD_STACKS_DIR. */
export function stacksDir(): string {
  return process.env.SECURE_ETCD_STACKS_DIR
    ? path.resolve(process.env.SECURE_ETCD_STACKS_DIR)
    : path.join(repoRoot, "stacks");
}

export function stackFile(stack: string): string {
  return path.join(stacksDir(), `Pulumi.${stack}.yaml`);
}

/** Stack names that have a file in the stacks dir. */
export function availableStacks(): string[] {
  return fs
    .readdirSync(stacksDir())
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => !!s)
    .sort();
}

/** A stack file's `config:` block as Pulumi hands it to a program: structured values as JSON text. */
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
