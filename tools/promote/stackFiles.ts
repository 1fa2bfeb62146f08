import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

/**
 * Where a project keeps its stack files: Pulumi.yaml's `stackConfigDir`, else the project directory.
 * Works in any Pulumi project (this repo or a consumer's), from its root.
 */
export function projectStacksDir(projectDir = process.cwd()): string {
  const file = path.join(projectDir, "Pulumi.yaml");
  if (!fs.existsSync(file)) return projectDir;
  const doc = parse(fs.readFileSync(file, "utf8")) as { stackConfigDir?: string } | null;
  return path.resolve(projectDir, doc?.stackConfigDir ?? ".");
}

export const stackFilePath = (dir: string, stack: string) => path.join(dir, `Pulumi.${stack}.yaml`);
