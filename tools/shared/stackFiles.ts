/**
 * Pulumi stack files as the Pulumi CLI finds them: `Pulumi.<stack>.yaml` in the project's
 * `stackConfigDir` (from Pulumi.yaml; default the project directory itself).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

/** The directory holding a project's stack files: Pulumi.yaml's `stackConfigDir`, else the project dir. */
export function stackConfigDir(projectDir: string): string {
  const projectFile = path.join(projectDir, "Pulumi.yaml");
  if (!fs.existsSync(projectFile)) return path.resolve(projectDir);
  const project = (parse(fs.readFileSync(projectFile, "utf8")) ?? {}) as { stackConfigDir?: unknown };
  const dir = typeof project.stackConfigDir === "string" ? project.stackConfigDir : ".";
  return path.resolve(projectDir, dir);
}

export const stackFileIn = (dir: string, stack: string): string => path.join(dir, `Pulumi.${stack}.yaml`);

/** Stack names that have a file in `dir`, sorted. */
export function stacksIn(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => !!s)
    .sort();
}

/** The stack a file is for: `Pulumi.<stack>.yaml` → `<stack>`, else the file name without `.yaml`. */
export function stackNameOfFile(file: string): string {
  const base = path.basename(file);
  return /^Pulumi\.(.+)\.ya?ml$/.exec(base)?.[1] ?? base.replace(/\.ya?ml$/, "");
}

/** A stack file's `config:` block as Pulumi hands it to a program: structured values as JSON text. */
export function readStackConfigFile(file: string): Record<string, string> {
  const doc = (parse(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  return toPulumiConfig(doc.config ?? {});
}

export function toPulumiConfig(config: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(config))
    out[k] = typeof v === "object" && v !== null ? JSON.stringify(v) : String(v);
  return out;
}
