/**
 * `npm run restore -- --stack NAME (--from s3://BUCKET/KEY | --file PATH) [--endpoint-url URL]
 *                     [--sha256 HEX] [--node-path PATH] [--apply --target-dir DIR] [--keep-download]`
 *
 * Gets a snapshot written by components/backup/snapshot.sh, refuses it unless every check passes, and
 * prints the restore runbook for the stack's members (the same snapshot for every member). With
 * `--apply` (local targets only: every member on 127.0.0.0/8) it also runs the member restore commands
 * into DIR/<member>.
 *
 * Checks, in order (any failure: exit 1 with `restore: REFUSED: <reason>`):
 *   --from: the object's metadata must carry `sha256` (objects from failed runs carry none); the download
 *           must be non-empty, as long as the object, and hash to that SHA-256;
 *   --file: non-empty; `--sha256` (or a `PATH.sha256` file) when given must match;
 *   .gz:    decompresses without error (gzip's own CRC-32 and length check), `db-sha256` metadata matches;
 *   the snapshot's own SHA-256 trailer (what `snapshot restore` verifies; a raw member/snap/db copy has
 *   none and is refused), and `snapshot status -w json` (etcdutl, or etcdctl for 3.4) reads it; its hash
 *   and revision must equal the object's metadata.
 * Exit 2: bad arguments (the message names the flag) or a stack config error (names the key).
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import * as zlib from "node:zlib";
import { formatRestorePlan, renderRestorePlan, type RestorePlan } from "../../components/backup/restorePlan";
import { ConfigError } from "../../components/config/errors";
import { settingsFromStackConfig } from "../../components/config/stackConfig";
import type { SecureEtcdSettings } from "../../components/config/schema";
import { initialClusterToken } from "../../components/manifests/urls";
import { availableStacks, readStackConfig, stackFile } from "../../harness/stackFiles";

export class UsageError extends Error {
  constructor(
    readonly flag: string,
    message: string,
  ) {
    super(`${flag}: ${message}`);
  }
}

/** A snapshot that failed a check; the CLI exits 1 with this message. */
export class RestoreRefused extends Error {}

export interface RestoreArgs {
  stack: string;
  from?: string;
  file?: string;
  endpointUrl?: string;
  sha256?: string;
  nodePath?: string;
  apply: boolean;
  targetDir?: string;
  keepDownload: boolean;
}

const usage =
  "usage: npm run restore -- --stack NAME (--from s3://BUCKET/KEY | --file PATH) [--endpoint-url URL] " +
  "[--sha256 HEX] [--node-path PATH] [--apply --target-dir DIR] [--keep-download]";

export function parseRestoreArgs(argv: readonly string[]): RestoreArgs {
  const out: Partial<RestoreArgs> & { apply: boolean; keepDownload: boolean } = {
    apply: false,
    keepDownload: false,
  };
  const valued: Record<string, keyof RestoreArgs> = {
    "--stack": "stack",
    "--from": "from",
    "--file": "file",
    "--endpoint-url": "endpointUrl",
    "--sha256": "sha256",
    "--node-path": "nodePath",
    "--target-dir": "targetDir",
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    if (name === "--apply" || name === "--keep-download") {
      if (eq > 0) throw new UsageError(name, "takes no value");
      if (name === "--apply") out.apply = true;
      else out.keepDownload = true;
      continue;
    }
    const field = valued[name];
    if (!field)
      throw new UsageError(
        arg.startsWith("-") ? name : "(argument)",
        `unknown ${arg.startsWith("-") ? "flag" : `argument ${JSON.stringify(arg)}`}; ${usage}`,
      );
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === "" || (eq < 0 && value.startsWith("--")))
      throw new UsageError(name, "needs a value");
    if (out[field] !== undefined) throw new UsageError(name, "given twice");
    (out as Record<string, unknown>)[field] = value;
  }
  if (!out.stack) throw new UsageError("--stack", `is required (available: ${availableStacks().join(", ")})`);
  if (!/^[A-Za-z0-9_.-]+$/.test(out.stack))
    throw new UsageError("--stack", `${JSON.stringify(out.stack)} is not a stack name`);
  if (out.from && out.file) throw new UsageError("--from", "give either --from or --file, not both");
  if (!out.from && !out.file)
    throw new UsageError("--from", "one of --from s3://BUCKET/KEY or --file PATH is required");
  if (out.from && !parseS3Url(out.from))
    throw new UsageError("--from", `${JSON.stringify(out.from)} is not an s3://BUCKET/KEY URL`);
  if (out.endpointUrl && !/^https?:\/\/[^\s/]+/.test(out.endpointUrl))
    throw new UsageError("--endpoint-url", `${JSON.stringify(out.endpointUrl)} is not an http(s) URL`);
  if (out.endpointUrl && !out.from) throw new UsageError("--endpoint-url", "only applies with --from");
  if (out.sha256 && !/^[0-9a-f]{64}$/i.test(out.sha256))
    throw new UsageError("--sha256", "must be 64 hex digits");
  if (out.nodePath && !path.posix.isAbsolute(out.nodePath))
    throw new UsageError("--node-path", "must be an absolute path on the members");
  if (out.apply && !out.targetDir) throw new UsageError("--target-dir", "is required with --apply");
  if (out.targetDir && !out.apply) throw new UsageError("--target-dir", "only applies with --apply");
  if (!fs.existsSync(stackFile(out.stack)))
    throw new UsageError(
      "--stack",
      `no stack file ${path.relative(process.cwd(), stackFile(out.stack))} (available: ${availableStacks().join(", ")})`,
    );
  return out as RestoreArgs;
}

export function parseS3Url(u: string): { bucket: string; key: string } | undefined {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/.exec(u);
  return m ? { bucket: m[1], key: m[2] } : undefined;
}

// ----------------------------------------------------------------------------------------------

export interface RestoreOptions {
  settings: Pick<SecureEtcdSettings, "clusterName" | "environment" | "members" | "etcdVersion" | "paths">;
  from?: string;
  file?: string;
  endpointUrl?: string;
  /** Expected SHA-256 of the file given with `file`. */
  sha256?: string;
  /** Where the printed plan expects the snapshot on every member. */
  nodePath?: string;
  /** Run the member restores into `targetDir/<member>` (loopback members only). */
  apply?: { targetDir: string };
  /** Scratch directory for the download (default: a new temp dir). */
  workDir?: string;
  /** Keep the new temp dir with the verified snapshot (default: kept unless `apply`; a given workDir is always kept). */
  keepDownload?: boolean;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  awsCli?: string;
  etcdctl?: string;
  etcdutl?: string;
}

export interface SnapshotFacts {
  /** The verified, decompressed snapshot. */
  dbPath: string;
  dbSize: number;
  /** SHA-256 of what was downloaded/read (the .gz for compressed snapshots). */
  sha256: string;
  size: number;
  hash: number;
  revision: number;
  totalKey: number;
  metadata: Record<string, string>;
  statusTool: string;
}

export interface RestoreResult {
  snapshot: SnapshotFacts;
  plan: RestorePlan;
  planText: string;
  applied: { member: string; dataDir: string }[];
  seconds: { download: number; verify: number; apply: number };
}

interface Exec {
  code: number;
  stdout: string;
  stderr: string;
}

function exec(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 30 * 60_000,
): Promise<Exec> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${cmd}: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

const lastLine = (s: string) =>
  s
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .pop() ?? "";

function onPath(bin: string, env: NodeJS.ProcessEnv): boolean {
  if (bin.includes("/")) return fs.existsSync(bin);
  return (env.PATH ?? "").split(":").some((d) => d && fs.existsSync(path.join(d, bin)));
}

async function sha256File(file: string): Promise<string> {
  const h = createHash("sha256");
  await pipeline(fs.createReadStream(file), h);
  return h.digest("hex");
}

/**
 * The SHA-256 trailer `etcdctl snapshot save` keeps (the maintenance API appends it to the bolt db):
 * `snapshot restore` verifies it; a raw member/snap/db copy has none.
 */
async function checkEmbeddedHash(dbPath: string): Promise<void> {
  const size = fs.statSync(dbPath).size;
  if (size % 512 !== 32)
    throw new RestoreRefused(
      `the snapshot has no SHA-256 trailer (size ${size} is not 512·n + 32): not an etcd snapshot, or a raw ` +
        `member/snap/db copy that restore could only load with --skip-hash-check`,
    );
  const h = createHash("sha256");
  await pipeline(fs.createReadStream(dbPath, { start: 0, end: size - 33 }), h);
  const fd = fs.openSync(dbPath, "r");
  const trailer = Buffer.alloc(32);
  fs.readSync(fd, trailer, 0, 32, size - 32);
  fs.closeSync(fd);
  if (!h.digest().equals(trailer))
    throw new RestoreRefused("the snapshot's own SHA-256 trailer does not match its content (corrupted)");
}

function awsArgs(o: RestoreOptions, args: string[]): string[] {
  return [...(o.endpointUrl ? ["--endpoint-url", o.endpointUrl] : []), ...args];
}

/** Gets, verifies and plans a restore; with `apply`, restores local members. Throws RestoreRefused. */
export async function restoreSnapshot(o: RestoreOptions): Promise<RestoreResult> {
  const log = o.log ?? (() => undefined);
  const env: NodeJS.ProcessEnv = { AWS_PAGER: "", ...(o.env ?? process.env) };
  const aws = o.awsCli ?? "aws";
  const work = o.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "etcd-restore-"));
  fs.mkdirSync(work, { recursive: true, mode: 0o700 });
  // Without --apply the operator still needs the verified file to copy to the members: keep it.
  const cleanup = !(o.keepDownload ?? !o.apply) && !o.workDir;
  const t0 = Date.now();
  let succeeded = false;
  try {
    if (o.apply) {
      const remote = o.settings.members.filter((m) => !/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(m.ip));
      if (remote.length > 0)
        throw new UsageError(
          "--apply",
          `only restores local targets (members on 127.0.0.0/8); ${remote.map((m) => `${m.name} is ${m.ip}`).join(", ")} — ` +
            "run the printed commands on the members instead",
        );
    }

    let metadata: Record<string, string> = {};
    let source: string;
    let expectedSize: number | undefined;
    let expectedSha = o.sha256?.toLowerCase();
    if (o.from) {
      const loc = parseS3Url(o.from);
      if (!loc) throw new UsageError("--from", `${JSON.stringify(o.from)} is not an s3://BUCKET/KEY URL`);
      log(`restore: reading ${o.from}`);
      const head = await exec(
        aws,
        awsArgs(o, ["s3api", "head-object", "--bucket", loc.bucket, "--key", loc.key, "--output", "json"]),
        env,
      );
      if (head.code !== 0) throw new RestoreRefused(`cannot read ${o.from}: ${lastLine(head.stderr)}`);
      const info = JSON.parse(head.stdout) as { ContentLength?: number; Metadata?: Record<string, string> };
      metadata = Object.fromEntries(
        Object.entries(info.Metadata ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
      );
      expectedSize = info.ContentLength;
      if (metadata["snapshot-status"] === "failed")
        throw new RestoreRefused(
          `${o.from} is marked snapshot-status=failed (left by a snapshot run that failed)`,
        );
      if (!expectedSize) throw new RestoreRefused(`${o.from} is empty`);
      expectedSha = metadata.sha256?.toLowerCase();
      if (!expectedSha || !/^[0-9a-f]{64}$/.test(expectedSha))
        throw new RestoreRefused(
          `${o.from} carries no sha256 metadata; it was not written (completely) by snapshot.sh`,
        );
      source = path.join(work, path.basename(loc.key).replace(/[^A-Za-z0-9._-]/g, "_") || "snapshot.db.gz");
      const cp = await exec(aws, awsArgs(o, ["s3", "cp", o.from, source, "--only-show-errors"]), env);
      if (cp.code !== 0) throw new RestoreRefused(`download of ${o.from} failed: ${lastLine(cp.stderr)}`);
    } else {
      source = path.resolve(o.file!);
      if (!fs.existsSync(source)) throw new UsageError("--file", `${source} does not exist`);
      if (!expectedSha && fs.existsSync(`${source}.sha256`))
        expectedSha = fs.readFileSync(`${source}.sha256`, "utf8").trim().split(/\s+/)[0]?.toLowerCase();
    }
    const download = (Date.now() - t0) / 1000;
    const t1 = Date.now();

    const size = fs.statSync(source).size;
    if (size === 0)
      throw new RestoreRefused(`${o.from ?? source}: the ${o.from ? "download" : "file"} is empty`);
    if (expectedSize !== undefined && size !== expectedSize)
      throw new RestoreRefused(`the download has ${size} bytes, the object ${expectedSize}`);
    const sha256 = await sha256File(source);
    if (expectedSha && sha256 !== expectedSha)
      throw new RestoreRefused(`SHA-256 mismatch: got ${sha256}, expected ${expectedSha}`);
    log(
      `restore: ${size} bytes, sha256 ${sha256}${expectedSha ? " (matches)" : " (no expected value given)"}`,
    );

    const gz = await isGzip(source);
    let dbPath = source;
    if (gz) {
      dbPath = path.join(work, "snapshot.db");
      try {
        await pipeline(
          fs.createReadStream(source),
          zlib.createGunzip(),
          fs.createWriteStream(dbPath, { mode: 0o600 }),
        );
      } catch (e) {
        throw new RestoreRefused(`the snapshot does not decompress: ${(e as Error).message}`);
      }
      if (metadata["db-sha256"] && (await sha256File(dbPath)) !== metadata["db-sha256"].toLowerCase())
        throw new RestoreRefused("the decompressed snapshot does not match its db-sha256 metadata");
    }
    const dbSize = fs.statSync(dbPath).size;
    if (dbSize === 0) throw new RestoreRefused("the snapshot is empty");
    await checkEmbeddedHash(dbPath);

    // The snapshot's own integrity, by the tool of the version that reads it.
    const etcdutl = o.etcdutl ?? "etcdutl";
    const etcdctl = o.etcdctl ?? "etcdctl";
    const useUtl = onPath(etcdutl, env);
    const statusTool = useUtl ? etcdutl : etcdctl;
    const st = await exec(statusTool, ["snapshot", "status", dbPath, "-w", "json"], {
      ...env,
      ETCDCTL_API: "3",
    });
    if (st.code !== 0)
      throw new RestoreRefused(
        `${path.basename(statusTool)} snapshot status rejects the snapshot: ${lastLine(st.stderr)}`,
      );
    let status: { hash?: number; revision?: number; totalKey?: number };
    try {
      status = JSON.parse(st.stdout) as typeof status;
    } catch {
      throw new RestoreRefused(`snapshot status printed no JSON: ${lastLine(st.stdout)}`);
    }
    if (typeof status.hash !== "number" || typeof status.revision !== "number" || status.revision < 1)
      throw new RestoreRefused(`snapshot status gave no usable hash/revision: ${st.stdout.trim()}`);
    for (const [k, actual] of [
      ["hash", status.hash],
      ["revision", status.revision],
    ] as const)
      if (metadata[k] !== undefined && String(actual) !== metadata[k])
        throw new RestoreRefused(
          `snapshot ${k} ${actual} differs from the object's metadata ${k}=${metadata[k]}`,
        );
    log(
      `restore: integrity ok (${path.basename(statusTool)}): hash ${status.hash}, revision ${status.revision}, ` +
        `${status.totalKey ?? "?"} keys, SHA-256 trailer ok`,
    );
    const verify = (Date.now() - t1) / 1000;

    const s = o.settings;
    const nodePath = o.nodePath ?? `/var/lib/etcd-restore/${path.basename(dbPath)}`;
    const target = o.apply ? path.resolve(o.apply.targetDir) : undefined;
    const plan = renderRestorePlan({
      snapshotPath: target ? dbPath : nodePath,
      localSnapshotPath: dbPath,
      members: s.members,
      clusterToken: initialClusterToken(s.clusterName, s.environment),
      etcdVersion: s.etcdVersion,
      dataDir: target ? (m) => path.join(target, m.name) : s.paths.dataDir,
      manifestDir: s.paths.manifestDir,
      pkiDir: s.paths.pkiDir,
      snapshotSha256: gz ? undefined : sha256,
      etcdctlBinary: o.etcdctl,
      etcdutlBinary: o.etcdutl,
    });
    const facts: SnapshotFacts = {
      dbPath,
      dbSize,
      sha256,
      size,
      hash: status.hash,
      revision: status.revision,
      totalKey: status.totalKey ?? 0,
      metadata,
      statusTool: path.basename(statusTool),
    };

    const applied: RestoreResult["applied"] = [];
    const t2 = Date.now();
    if (target) {
      fs.mkdirSync(target, { recursive: true, mode: 0o700 });
      for (const m of plan.members)
        if (fs.existsSync(m.dataDir) && fs.readdirSync(m.dataDir).length > 0)
          throw new RestoreRefused(`${m.dataDir} exists and is not empty; move it aside first`);
      for (const m of plan.members) {
        if (fs.existsSync(m.dataDir)) fs.rmdirSync(m.dataDir); // empty: restore wants to create it
        log(`restore: ${m.member}: ${m.command}`);
        const r = await exec(m.argv[0], m.argv.slice(1), { ...env, ...m.env });
        if (r.code !== 0)
          throw new RestoreRefused(
            `restore of ${m.member} failed: ${lastLine(r.stderr) || lastLine(r.stdout)}`,
          );
        fs.chmodSync(m.dataDir, 0o700);
        applied.push({ member: m.member, dataDir: m.dataDir });
      }
      log(`restore: restored ${applied.length} member(s) into ${target}`);
    }
    succeeded = true;
    return {
      snapshot: facts,
      plan,
      planText: formatRestorePlan(plan),
      applied,
      seconds: { download, verify, apply: (Date.now() - t2) / 1000 },
    };
  } finally {
    // A refused or failed restore leaves nothing behind; a good one keeps the verified file when asked.
    if (!o.workDir && (cleanup || !succeeded)) fs.rmSync(work, { recursive: true, force: true });
  }
}

async function isGzip(file: string): Promise<boolean> {
  const fd = await fs.promises.open(file, "r");
  try {
    const b = Buffer.alloc(2);
    await fd.read(b, 0, 2, 0);
    return b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fd.close();
  }
}

// ----------------------------------------------------------------------------------------------

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** The CLI: returns the exit code (0 ok, 1 refused/failed, 2 bad arguments or stack config). */
export async function main(
  argv: readonly string[],
  io: CliIo = { out: console.log, err: console.error },
): Promise<number> {
  let args: RestoreArgs;
  let settings: SecureEtcdSettings;
  if (argv.includes("--help") || argv.includes("-h")) {
    io.out(usage);
    return 0;
  }
  try {
    args = parseRestoreArgs(argv);
    settings = settingsFromStackConfig(readStackConfig(args.stack), args.stack);
  } catch (e) {
    io.err(`restore: ${e instanceof Error ? e.message : String(e)}`);
    if (!(e instanceof UsageError) && !(e instanceof ConfigError)) return 1;
    if (e instanceof UsageError) io.err(usage);
    return 2;
  }
  try {
    const r = await restoreSnapshot({
      settings,
      from: args.from,
      file: args.file,
      endpointUrl: args.endpointUrl,
      sha256: args.sha256,
      nodePath: args.nodePath,
      apply: args.apply ? { targetDir: args.targetDir! } : undefined,
      keepDownload: args.keepDownload || !args.apply,
      env: io.env,
      log: io.out,
    });
    io.out("");
    io.out(r.planText);
    if (args.keepDownload || !args.apply) io.out(`\nverified snapshot kept at ${r.snapshot.dbPath}`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`restore: ${e.message}`);
      return 2;
    }
    const word = e instanceof RestoreRefused ? "REFUSED" : "FAILED";
    io.err(`restore: ${word}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
