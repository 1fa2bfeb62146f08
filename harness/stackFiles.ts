/** This repo's stack files (Pulumi.yaml's stackConfigDir, `stacks/`), or SECURE_ETCD_STACKS_DIR's. */
import * as path from "node:path";
import { readStackConfigFile, stackConfigDir, stackFileIn, stacksIn } from "../tools/shared/stackFiles";

export const repoRoot = path.resolve(__dirname, "..");
export const stackNames = ["local", "dev", "staging", "prod"] as const;

function stacksDir(): string {
  return process.env.SECURE_ETCD_STACKS_DIR
    ? path.resolve(process.env.SECURE_ETCD_STACKS_DIR)
    : stackConfigDir(repoRoot);
}

/** Stack names that have a file in the stacks dir. */
export const availableStacks = (): string[] => stacksIn(stacksDir());

/** A stack file's `config:` block as Pulumi hands it to a program: structured values as JSON text. */
export const readStackConfig = (stack: string): Record<string, string> =>
  readStackConfigFile(stackFileIn(stacksDir(), stack));
