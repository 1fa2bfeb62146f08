import * as fs from "node:fs";
import * as path from "node:path";

/**
 * The snapshot job's code: the files of ./runner (plain CommonJS, `// @ts-check`), which the CronJob's
 * ConfigMap holds and `node /scripts/snapshot.js` runs — the same files the tests, the rehearsal's backup
 * drill and `npm run bench` run. In the built package they are copied beside this module.
 */
export const snapshotRunnerDir = path.join(__dirname, "runner");

/** The entry file, for running the job locally: `node <snapshotRunnerPath>`. */
export const snapshotRunnerPath = path.join(snapshotRunnerDir, "snapshot.js");

/** Every runner file by name (the ConfigMap's data). */
export function readSnapshotRunner(): Record<string, string> {
  const files = fs
    .readdirSync(snapshotRunnerDir)
    .filter((f) => /^[a-z0-9]+\.js$/.test(f))
    .sort();
  return Object.fromEntries(files.map((f) => [f, fs.readFileSync(path.join(snapshotRunnerDir, f), "utf8")]));
}
