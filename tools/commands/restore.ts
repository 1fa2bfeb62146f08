/**
 * `secure-etcd restore`: the restore library's command line.
 *
 *   secure-etcd restore (--stack NAME | --stack-file PATH | --cluster-name … --member NAME=IP …)
 *     (--from s3://BUCKET/KEY | --file PATH) [--endpoint-url URL] [--sha256 HEX] [--max-size SIZE]
 *     [--node-path PATH] [--apply --target-dir DIR] [--keep-download]
 *
 * In this repo: `npm run restore -- …` (the same command, run through tsx).
 *
 * Verifies the snapshot and prints the restore runbook for the members, the same snapshot for every
 * member; with `--apply` (every member on loopback) it also runs the member restores into DIR/<member>,
 * staged and swapped in (a failure leaves DIR as it was; run it again). `--sha256` pins the object
 * (`--from`) or file (`--file`) to a digest, besides what the snapshot records.
 *
 * Exit status: 0 ok; 1 refused (`restore: REFUSED: <check>`) or failed; 2 a bad argument (names the
 * flag) or a settings error (names the config key); 3 the snapshot is larger than allowed (its record or
 * what it decompresses to exceeds --max-size, default 16GiB); 4 not enough disk space (work dir or target).
 */
import * as path from "node:path";
import {
  DEFAULT_MAX_SNAPSHOT_BYTES,
  parseS3Url,
  parseSize,
  RESTORE_EXIT,
  restoreSnapshot,
  RestoreNoSpace,
  RestoreRefused,
  RestoreTooLarge,
} from "../restore";
import { parseFlags, reportFailure, UsageError, type CommandIo } from "../shared/commandLine";
import {
  loadSettings,
  settingsSourceFrom,
  stackSettingsFlags,
  stackSettingsUsage,
  type SettingsSource,
} from "../shared/stackSettings";

export const restoreUsage =
  "usage: secure-etcd restore <settings> (--from s3://BUCKET/KEY | --file PATH) [--endpoint-url URL]\n" +
  "         [--sha256 HEX] [--max-size SIZE] [--node-path PATH] [--apply --target-dir DIR] [--keep-download]\n" +
  stackSettingsUsage +
  "\n  exit: 0 ok, 1 refused/failed, 2 bad argument or settings, 3 larger than --max-size (default 16GiB), 4 no disk space";

const restoreFlags = {
  ...stackSettingsFlags,
  from: { type: "string" },
  file: { type: "string" },
  "endpoint-url": { type: "string" },
  sha256: { type: "string" },
  "max-size": { type: "string" },
  "node-path": { type: "string" },
  apply: { type: "boolean" },
  "target-dir": { type: "string" },
  "keep-download": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export interface RestoreArgs {
  settings: SettingsSource;
  from?: string;
  file?: string;
  endpointUrl?: string;
  sha256?: string;
  maxSize?: number;
  nodePath?: string;
  apply: boolean;
  targetDir?: string;
  keepDownload: boolean;
}

/** Checks the arguments (and that a named stack file exists); throws a UsageError naming the flag. */
export function parseRestoreArgs(argv: readonly string[], cwd = process.cwd()): RestoreArgs {
  const v = parseFlags(argv, restoreFlags);
  const settings = settingsSourceFrom(v, cwd);
  const a: RestoreArgs = {
    settings,
    from: v.from,
    file: v.file,
    endpointUrl: v["endpoint-url"],
    sha256: v.sha256,
    maxSize: v["max-size"] === undefined ? undefined : sizeFlag(v["max-size"]),
    nodePath: v["node-path"],
    apply: v.apply ?? false,
    targetDir: v["target-dir"],
    keepDownload: v["keep-download"] ?? false,
  };
  checkSnapshotFlags(a);
  return a;
}

function sizeFlag(text: string): number {
  const n = parseSize(text);
  if (n === undefined) throw new UsageError("--max-size", "must be a size like 16GiB or 512MiB");
  return n;
}

function checkSnapshotFlags(a: RestoreArgs): void {
  if (a.from && a.file) throw new UsageError("--from", "give either --from or --file, not both");
  if (!a.from && !a.file)
    throw new UsageError("--from", "one of --from s3://BUCKET/KEY or --file PATH is required");
  if (a.from && !parseS3Url(a.from))
    throw new UsageError("--from", `${JSON.stringify(a.from)} is not an s3://BUCKET/KEY URL`);
  if (a.endpointUrl && !/^https?:\/\/[^\s/]+/.test(a.endpointUrl))
    throw new UsageError("--endpoint-url", `${JSON.stringify(a.endpointUrl)} is not an http(s) URL`);
  if (a.endpointUrl && !a.from) throw new UsageError("--endpoint-url", "only applies with --from");
  if (a.sha256 && !/^[0-9a-f]{64}$/i.test(a.sha256))
    throw new UsageError("--sha256", "must be 64 hex digits");
  if (a.nodePath && !path.posix.isAbsolute(a.nodePath))
    throw new UsageError("--node-path", "must be an absolute path on the members");
  if (a.apply && !a.targetDir) throw new UsageError("--target-dir", "is required with --apply");
  if (a.targetDir && !a.apply) throw new UsageError("--target-dir", "only applies with --apply");
}

/** Returns the exit code: 0 ok, 1 refused or failed, 2 bad arguments or settings, 3 too large, 4 no space. */
export async function restoreCommand(
  argv: readonly string[],
  io: CommandIo = { out: console.log, err: console.error },
): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.out(restoreUsage);
    return 0;
  }
  let args: RestoreArgs;
  let settings: ReturnType<typeof loadSettings>;
  try {
    args = parseRestoreArgs(argv, io.cwd);
    settings = loadSettings(args.settings);
  } catch (e) {
    return reportFailure("restore", e, io, restoreUsage);
  }
  const keepDownload = args.keepDownload || !args.apply;
  try {
    const r = await restoreSnapshot({
      settings,
      from: args.from,
      file: args.file && path.resolve(io.cwd ?? process.cwd(), args.file),
      endpointUrl: args.endpointUrl,
      sha256: args.sha256,
      maxSnapshotBytes: args.maxSize ?? DEFAULT_MAX_SNAPSHOT_BYTES,
      nodePath: args.nodePath,
      apply: args.apply ? { targetDir: path.resolve(io.cwd ?? process.cwd(), args.targetDir!) } : undefined,
      keepDownload,
      env: io.env,
      log: io.out,
    });
    io.out("");
    io.out(r.planText);
    if (keepDownload) io.out(`\nverified snapshot kept at ${r.snapshot.dbPath}`);
    return 0;
  } catch (e) {
    if (e instanceof RestoreRefused) {
      io.err(`restore: REFUSED: ${e.message}`);
      return RESTORE_EXIT.refused;
    }
    if (e instanceof RestoreTooLarge) {
      io.err(`restore: TOO LARGE: ${e.message}`);
      return RESTORE_EXIT.tooLarge;
    }
    if (e instanceof RestoreNoSpace) {
      io.err(`restore: NO SPACE: ${e.message}`);
      return RESTORE_EXIT.noSpace;
    }
    return reportFailure("restore", e, io);
  }
}
