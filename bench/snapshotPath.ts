/**
 * Section 3: the snapshot path at several DB sizes, against the component's TLS etcd (ECDSA-P256,
 * backup client cert) and the local S3 endpoint (harness/localS3), runs interleaved side by side:
 *  - bare `etcdctl snapshot save` vs components/backup/snapshot.sh (save, verify, compress, checksum,
 *    upload, head-object check, marker) — and, where git has it, the script as it was before this
 *    bench's changes (`baselineCommit`), so before/after come from the same run;
 *  - bare `etcdctl snapshot restore` of the saved file vs the restore tool (tools/restore: download,
 *    SHA-256, gunzip, db-sha256, trailer, `snapshot status`, then the member restore).
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { snapshotScriptPath } from "../components/backup/snapshotScript";
import { initialClusterToken } from "../components/manifests/urls";
import * as localS3 from "../harness/localS3";
import { cleanEnv } from "../harness/process";
import { restoreSnapshot } from "../tools/restore";
import { run } from "../tools/shared/process";
import { dbSize, startComponentTls, type BenchEtcd } from "./etcdServers";
import { clientFor } from "./loadgen";
import { median, MiB, round, sideBySide } from "./stats";

/** main's tip when the bench was written: the snapshot.sh "before" variant. */
export const baselineCommit = "d49f627a6a010aa70e852630666a3382e334ccc3";
const bucket = "etcd-snapshots-bench";
const prefix = "bench/local/";
const kmsKeyId = "arn:aws:kms:eu-west-1:111122223333:key/bench-local-snapshots";

export interface SnapshotOptions {
  workDir: string;
  sizesMiB: number[];
  runsFor: (sizeMiB: number) => number;
  log: (line: string) => void;
}

export interface Timed {
  seconds: number[];
  medianSeconds: number;
  /** Raw DB MiB per second. */
  mibPerSec: number;
}

export interface SizeResult {
  targetMiB: number;
  runs: number;
  dbBytes: number;
  gzBytes: number;
  bareSave: Timed;
  script: Timed;
  scriptBefore?: Timed;
  scriptRatio: number;
  scriptBeforeRatio?: number;
  bareRestore: Timed;
  restoreTool: Timed;
  restoreRatio: number;
  /** Median seconds per snapshot.sh phase (after, and before where measured). */
  scriptPhases: Phases;
  scriptBeforePhases?: Phases;
}

export interface SnapshotResult {
  server: string;
  baselineCommit?: string;
  sizes: SizeResult[];
}

const timed = (seconds: number[], bytes: number): Timed => {
  const m = median(seconds);
  return {
    seconds: seconds.map((s) => round(s, 2)),
    medianSeconds: round(m, 2),
    mibPerSec: round(bytes / MiB / m, 1),
  };
};

/** Semi-compressible ~64 KiB values (JSON-ish text and base64 noise; gzip keeps ~40%). */
function value(): Buffer {
  const text =
    '{"kind":"ConfigMap","apiVersion":"v1","metadata":{"namespace":"default","labels":{"app":"bench"}},"data":{"k":"';
  const parts: string[] = [];
  let n = 0;
  while (n < 65_536) {
    const chunk = text + randomBytes(96).toString("base64");
    parts.push(chunk);
    n += chunk.length;
  }
  return Buffer.from(parts.join("").slice(0, 65_536));
}

async function fillTo(e: BenchEtcd, bytes: number, log: (l: string) => void): Promise<number> {
  const c = clientFor(e);
  try {
    let size = await dbSize(e);
    let i = 0;
    while (size < bytes) {
      await Promise.all(
        Array.from({ length: 64 }, () => c.put(`/bench/bulk/${Date.now()}-${i++}`).value(value()).exec()),
      );
      size = await dbSize(e);
    }
    log(`snapshot: DB at ${round(size / MiB, 1)} MiB`);
    return size;
  } finally {
    c.close();
  }
}

interface Ctx {
  e: BenchEtcd;
  s3: localS3.LocalS3;
  work: string;
  home: string;
  before?: string;
  log: (line: string) => void;
}

/** awscli against the local endpoint only: none of the caller's AWS settings or credentials. */
function awsEnv(c: Ctx): NodeJS.ProcessEnv {
  const base = cleanEnv();
  for (const k of Object.keys(base)) if (k.startsWith("AWS_")) delete base[k];
  return {
    ...base,
    HOME: c.home,
    AWS_ACCESS_KEY_ID: "AKIDBENCH",
    AWS_SECRET_ACCESS_KEY: "bench-not-a-secret",
    AWS_REGION: "eu-west-1",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_MAX_ATTEMPTS: "2",
  };
}

/** snapshot.sh's progress lines that end each phase, in order. */
const phaseEnds: [phase: string, line: RegExp][] = [
  ["health", /is healthy; saving/],
  ["save", /^snapshot: saved \d+ bytes/],
  ["status", /^snapshot: integrity ok/],
  ["compress", /^snapshot: compressed to/],
  ["keyCheck", /^snapshot: uploading to/],
  ["upload", /^snapshot: uploaded /],
  ["verifyAndMarker", /^snapshot: OK /],
];

export type Phases = Record<string, number>;

/** Seconds per phase, from the time each progress line arrived. */
function phasesOf(t0: number, lines: { t: number; text: string }[]): Phases {
  const out: Phases = {};
  let prev = t0;
  for (const [phase, re] of phaseEnds) {
    const at = lines.find((l) => re.test(l.text))?.t;
    if (at === undefined) continue;
    out[phase] = round((at - prev) / 1000, 2);
    prev = at;
  }
  return out;
}

const lastPhases = new Map<string, Phases[]>();

async function runScript(c: Ctx, script: string): Promise<number> {
  const work = fs.mkdtempSync(path.join(c.work, "job-"));
  const lines: { t: number; text: string }[] = [];
  const t0 = Date.now();
  const r = await run("sh", [script], {
    timeoutMs: 20 * 60_000,
    onLine: (text) => lines.push({ t: Date.now(), text }),
    env: {
      ...awsEnv(c),
      ETCD_ENDPOINTS: c.e.clientUrl,
      S3_BUCKET: bucket,
      S3_PREFIX: prefix,
      KMS_KEY_ID: kmsKeyId,
      ETCD_VERSION: c.e.settings!.etcdVersion,
      ETCD_CACERT: c.e.tls!.ca,
      ETCD_CERT: c.e.tls!.cert,
      ETCD_KEY: c.e.tls!.key,
      WORK_DIR: work,
      AWS_ENDPOINT_URL: c.s3.url,
    },
  });
  fs.rmSync(work, { recursive: true, force: true });
  if (r.code !== 0) throw new Error(`snapshot.sh (${script}) exited ${r.code}: ${r.output.slice(-1500)}`);
  lastPhases.set(script, [...(lastPhases.get(script) ?? []), phasesOf(t0, lines)]);
  return r.seconds;
}

async function bareSave(c: Ctx, file: string): Promise<number> {
  fs.rmSync(file, { force: true });
  const r = await run(
    "etcdctl",
    [`--endpoints=${c.e.clientUrl}`, ...c.e.etcdctlTls, "snapshot", "save", file],
    {
      env: cleanEnv({ ETCDCTL_API: "3" }),
      timeoutMs: 20 * 60_000,
    },
  );
  if (r.code !== 0) throw new Error(`etcdctl snapshot save: ${r.output}`);
  return r.seconds;
}

async function emptyBucket(c: Ctx): Promise<void> {
  const r = await run(
    "aws",
    ["--endpoint-url", c.s3.url, "s3", "rm", `s3://${bucket}/${prefix}`, "--recursive"],
    {
      env: awsEnv(c),
      timeoutMs: 120_000,
    },
  );
  if (r.code !== 0) throw new Error(`aws s3 rm: ${r.output}`);
}

async function bareRestore(c: Ctx, db: string, target: string): Promise<number> {
  fs.rmSync(target, { recursive: true, force: true });
  const m = c.e.settings!.members[0];
  const peer = `https://${m.ip}:2380`;
  const s = c.e.settings!;
  const r = await run(
    "etcdctl",
    [
      "snapshot",
      "restore",
      db,
      `--name=${m.name}`,
      `--data-dir=${target}`,
      `--initial-cluster=${m.name}=${peer}`,
      `--initial-cluster-token=${initialClusterToken(s.clusterName, s.environment)}`,
      `--initial-advertise-peer-urls=${peer}`,
    ],
    { env: cleanEnv({ ETCDCTL_API: "3" }), timeoutMs: 20 * 60_000 },
  );
  if (r.code !== 0) throw new Error(`etcdctl snapshot restore: ${r.output}`);
  return r.seconds;
}

async function toolRestore(c: Ctx, key: string, target: string): Promise<number> {
  fs.rmSync(target, { recursive: true, force: true });
  const t0 = Date.now();
  await restoreSnapshot({
    settings: c.e.settings!,
    from: `s3://${bucket}/${key}`,
    endpointUrl: c.s3.url,
    env: awsEnv(c),
    apply: { targetDir: target },
  });
  return (Date.now() - t0) / 1000;
}

async function measureSize(c: Ctx, targetMiB: number, runs: number): Promise<SizeResult> {
  const dbBytes = await fillTo(c.e, targetMiB * MiB, c.log);
  const bareFile = path.join(c.work, "bare.db");
  lastPhases.clear();
  const variants = c.before ? (["bare", "script", "before"] as const) : (["bare", "script"] as const);
  c.log(`snapshot: ${targetMiB} MiB, ${runs} runs of ${variants.join(" / ")}…`);
  const save = await sideBySide(runs, variants as readonly ("bare" | "script" | "before")[], async (v) => {
    if (v === "bare") return bareSave(c, bareFile);
    await emptyBucket(c);
    return runScript(c, v === "script" ? snapshotScriptPath : c.before!);
  });
  const phases = (script: string): Phases => medianPhases(lastPhases.get(script) ?? []);
  const scriptPhases = phases(snapshotScriptPath);
  const scriptBeforePhases = c.before ? phases(c.before) : undefined;
  // The object the last run uploaded, for the restore tool.
  if (!fs.existsSync(bareFile)) await bareSave(c, bareFile);
  await emptyBucket(c);
  await runScript(c, snapshotScriptPath);
  const obj = c.s3.objects().find((o) => o.key.endsWith(".db.gz"));
  if (!obj) throw new Error("snapshot.sh uploaded no .db.gz");
  const target = path.join(c.work, "restored");
  c.log(`snapshot: ${targetMiB} MiB, ${runs} runs of bare restore / restore tool…`);
  const restore = await sideBySide(runs, ["bare", "tool"] as const, (v) =>
    v === "bare" ? bareRestore(c, bareFile, target) : toolRestore(c, obj.key, target),
  );
  await emptyBucket(c);
  fs.rmSync(target, { recursive: true, force: true });
  fs.rmSync(bareFile, { force: true });
  const bareSaveT = timed(save.bare, dbBytes);
  const script = timed(save.script, dbBytes);
  const scriptBefore = c.before ? timed(save.before, dbBytes) : undefined;
  const bareRestoreT = timed(restore.bare, dbBytes);
  const restoreTool = timed(restore.tool, dbBytes);
  return {
    targetMiB,
    runs,
    dbBytes,
    gzBytes: obj.size,
    bareSave: bareSaveT,
    script,
    scriptBefore,
    scriptRatio: round(script.medianSeconds / bareSaveT.medianSeconds, 2),
    scriptBeforeRatio: scriptBefore
      ? round(scriptBefore.medianSeconds / bareSaveT.medianSeconds, 2)
      : undefined,
    bareRestore: bareRestoreT,
    restoreTool,
    restoreRatio: round(restoreTool.medianSeconds / bareRestoreT.medianSeconds, 2),
    scriptPhases,
    scriptBeforePhases,
  };
}

function medianPhases(runs: Phases[]): Phases {
  const out: Phases = {};
  for (const [phase] of phaseEnds) {
    const xs = runs.map((r) => r[phase]).filter((x) => x !== undefined);
    if (xs.length) out[phase] = round(median(xs), 2);
  }
  return out;
}

/** The script as of `baselineCommit`, from git (undefined outside a clone). */
async function baselineScript(work: string): Promise<string | undefined> {
  const r = await run("git", ["show", `${baselineCommit}:components/backup/snapshot.sh`], {
    timeoutMs: 20_000,
  });
  if (r.code !== 0) return undefined;
  const file = path.join(work, "snapshot-before.sh");
  fs.writeFileSync(file, r.stdout, { mode: 0o700 });
  return file;
}

export async function runSnapshotPath(o: SnapshotOptions): Promise<SnapshotResult> {
  const work = path.join(o.workDir, "snapshot-path");
  const home = path.join(work, "home");
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const e = await startComponentTls(o.workDir, "ECDSA-P256", path.join(work, "etcd-data"));
  const s3 = await localS3.start();
  try {
    const c: Ctx = { e, s3, work, home, before: await baselineScript(work), log: o.log };
    const sizes: SizeResult[] = [];
    for (const mib of o.sizesMiB) sizes.push(await measureSize(c, mib, o.runsFor(mib)));
    return { server: e.label, baselineCommit: c.before ? baselineCommit : undefined, sizes };
  } finally {
    await s3.stop();
    await e.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}
