import * as fs from "node:fs";
import * as path from "node:path";

/** Path of the snapshot script: the same file the CronJob runs (via its ConfigMap) and the tests run. */
export const snapshotScriptPath = path.join(__dirname, "snapshot.sh");

export function readSnapshotScript(): string {
  return fs.readFileSync(snapshotScriptPath, "utf8");
}
