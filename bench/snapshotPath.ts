/**
 * Section 3: the snapshot path and the restore at several DB sizes, against the component's TLS etcd
 * (the built 3.7 release, ECDSA-P256, the backup client cert) and moto (harness/snapshotBucket.ts, IAM
 * not enforced here, parts kept in memory: what the bench measures is the package's path, with as little
 * of the emulator's own cost as it can). Variants run interleaved side by side, run by run:
 *  - bare `etcdctl snapshot save` vs the snapshot job (components/backup/runner: save, hash, compress and
 *    upload in one pass, integrity, verify, manifest, marker) vs the job as it was at `baselineCommit`
 *    (components/backup/snapshot.sh with the AWS CLI), so before/after come from the same run;
 *  - bare `etcdutl snapshot restore` of the saved file vs the restore tool (tools/restore: download,
 *    decompress and hash in one pass, every check, the staged member restore) vs the restore tool as it
 *    was at `baselineCommit`.
 * Every run also records the CPU seconds of the process tree, of etcd and of moto, and the machine's load.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { initialClusterToken } from "../components/manifests/urls";
import { cleanEnv } from "../harness/process";
import { startSnapshotBucket, type SnapshotBucket } from "../harness/snapshotBucket";
import { runSnapshotJob, snapshotJobEnv, type JobRun } from "../harness/snapshotJob";
import { run, type RunResult } from "../tools/shared/process";
import { dbSize, startComponentTls, type BenchEtcd } from "./etcdServers";
import { cpuSeconds, loadWindow, type LoadWindow } from "./load";
import { clientFor } from "./loadgen";
import { median, MiB, round, sideBySide } from "./stats";

/** main's tip before this work: the "before" variants (snapshot.sh and the restore tool of then). */
export const baselineCommit = "e57fcfee5b0331b01f60ea0d105c3cf888bd083c";
const prefix = "bench/local/";

export interface SnapshotOptions {
  workDir: string;
  sizesMiB: number[];
  runsFor: (sizeMiB: number) => number;
  /** Also measure the variants as they were at baselineCommit (needs a git clone). */
  before: boolean;
  log: (line: string) => void;
}

export interface Timed {
  seconds: number[];
  medianSeconds: number;
  /** Raw DB MiB per second. */
  mibPerSec: number;
  /** Median CPU seconds: the variant's own process tree, etcd's, moto's. */
  cpu?: { own?: number; etcd?: number; moto?: number };
}

export type Phases = Record<string, number>;

export interface SizeResult {
  targetMiB: number;
  runs: number;
  dbBytes: number;
  /** The object the job uploaded, and the one the job before uploaded (gzip). */
  objectBytes: number;
  objectBytesBefore?: number;
  bareSave: Timed;
  job: Timed;
  jobBefore?: Timed;
  jobRatio: number;
  jobBeforeRatio?: number;
  bareRestore: Timed;
  restoreTool: Timed;
  restoreToolBefore?: Timed;
  restoreRatio: number;
  restoreBeforeRatio?: number;
  /** Median seconds per phase of the job (after), and of snapshot.sh (before). */
  jobPhases: Phases;
  jobBeforePhases?: Phases;
  load: LoadWindow;
}

export interface BigSnapshotResult {
  dbBytes: number;
  objectBytes: number;
  bareSave: Timed;
  job: Timed;
  jobRatio: number;
  jobPhases: Phases;
  /** Prod's schedule is every 15 minutes; its CronJob deadline (activeDeadlineSeconds) is 840 s. */
  windowSeconds: number;
  load: LoadWindow;
}

export interface SnapshotResult {
  server: string;
  etcd: string;
  emulator: string;
  baselineCommit?: string;
  sizes: SizeResult[];
}

const timed = (seconds: number[], bytes: number, cpu?: Timed["cpu"][]): Timed => {
  const m = median(seconds);
  const med = (k: "own" | "etcd" | "moto") => {
    const xs = (cpu ?? []).map((c) => c?.[k]).filter((x): x is number => x !== undefined);
    return xs.length ? round(median(xs), 2) : undefined;
  };
  return {
    seconds: seconds.map((s) => round(s, 2)),
    medianSeconds: round(m, 2),
    mibPerSec: round(bytes / MiB / m, 1),
    ...(cpu ? { cpu: { own: med("own"), etcd: med("etcd"), moto: med("moto") } } : {}),
  };
};

/** Semi-compressible ~64 KiB values (JSON-ish text and base64 noise; compression keeps ~40%). */
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
    // Asks etcd for its size only once the values written should have reached the target.
    let estimate = size;
    let i = 0;
    while (size < bytes) {
      await Promise.all(
        Array.from({ length: 64 }, () => c.put(`/bench/bulk/${Date.now()}-${i++}`).value(value()).exec()),
      );
      estimate += 64 * 65_536;
      if (estimate >= bytes) estimate = size = await dbSize(e);
    }
    log(`snapshot: DB at ${round(size / MiB, 1)} MiB`);
    return size;
  } finally {
    c.close();
  }
}

interface Ctx {
  e: BenchEtcd;
  s3: SnapshotBucket;
  work: string;
  home: string;
  /** The tree as it was at baselineCommit (snapshot.sh and tools/restore), when measured. */
  beforeTree?: string;
  log: (line: string) => void;
}

/** `/usr/bin/time` around a command: CPU seconds of its whole tree, from its last stderr line. */
const TIME = ["/usr/bin/time", "-f", "CPU %U %S"];
const ownCpu = (r: RunResult) => {
  const m = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr);
  return m ? round(Number(m[1]) + Number(m[2]), 2) : undefined;
};

interface Measured {
  seconds: number;
  cpu: Timed["cpu"];
  lines?: JobRun["lines"];
  started?: number;
}

/** Runs `fn` recording etcd's and moto's CPU beside the variant's own. */
async function measured(
  c: Ctx,
  fn: () => Promise<{ seconds: number; own?: number; lines?: JobRun["lines"]; started?: number }>,
): Promise<Measured> {
  const e0 = cpuSeconds(c.e.proc.pid);
  const m0 = cpuSeconds(c.s3.moto.pid);
  const r = await fn();
  const e1 = cpuSeconds(c.e.proc.pid);
  const m1 = cpuSeconds(c.s3.moto.pid);
  const d = (a?: number, b?: number) => (a !== undefined && b !== undefined ? round(b - a, 2) : undefined);
  return {
    seconds: r.seconds,
    cpu: { own: r.own, etcd: d(e0, e1), moto: d(m0, m1) },
    lines: r.lines,
    started: r.started,
  };
}

/** The job (after), as the CronJob runs it, straight to moto. */
async function runJob(
  c: Ctx,
): Promise<{ seconds: number; own?: number; lines: JobRun["lines"]; started: number }> {
  const work = fs.mkdtempSync(path.join(c.work, "job-"));
  const env = snapshotJobEnv(
    c.s3,
    {
      endpoints: [c.e.clientUrl],
      tls: c.e.tls!,
      etcdVersion: c.e.release.version,
      etcdctl: c.e.release.etcdctl,
      etcdutl: c.e.release.etcdutl,
    },
    { workDir: work, home: c.home, extra: { AWS_ENDPOINT_URL: c.s3.moto.endpoint } },
  );
  const r = await runSnapshotJob(env, { timeoutMs: 30 * 60_000, wrapper: TIME });
  fs.rmSync(work, { recursive: true, force: true });
  if (r.code !== 0) throw new Error(`the snapshot job exited ${r.code}: ${r.output.slice(-1500)}`);
  return { seconds: r.seconds, own: ownCpu(r), lines: r.lines, started: r.started };
}

/** snapshot.sh as it was at baselineCommit, with the AWS CLI, straight to moto. */
async function runJobBefore(
  c: Ctx,
): Promise<{ seconds: number; own?: number; lines: JobRun["lines"]; started: number }> {
  const work = fs.mkdtempSync(path.join(c.work, "job-before-"));
  const base = cleanEnv();
  for (const k of Object.keys(base)) if (k.startsWith("AWS_")) delete base[k];
  const lines: JobRun["lines"] = [];
  const started = Date.now();
  const r = await run(
    TIME[0],
    [...TIME.slice(1), "sh", path.join(c.beforeTree!, "components", "backup", "snapshot.sh")],
    {
      timeoutMs: 30 * 60_000,
      onLine: (text) => lines.push({ t: Date.now(), text }),
      env: {
        ...base,
        ...c.s3.moto.env(c.s3.credentials.writer),
        AWS_CONFIG_FILE: "",
        HOME: c.home,
        PATH: `${path.dirname(c.e.release.etcdctl)}:${process.env.PATH}`,
        ETCD_ENDPOINTS: c.e.clientUrl,
        S3_BUCKET: c.s3.bucket,
        S3_PREFIX: prefix,
        KMS_KEY_ID: c.s3.kmsKeyArn,
        ETCD_VERSION: c.e.release.version,
        ETCD_CACERT: c.e.tls!.ca,
        ETCD_CERT: c.e.tls!.cert,
        ETCD_KEY: c.e.tls!.key,
        WORK_DIR: work,
      },
    },
  );
  fs.rmSync(work, { recursive: true, force: true });
  if (r.code !== 0) throw new Error(`snapshot.sh (before) exited ${r.code}: ${r.output.slice(-1500)}`);
  return { seconds: r.seconds, own: ownCpu(r), lines, started };
}

async function bareSave(c: Ctx, file: string): Promise<{ seconds: number; own?: number }> {
  fs.rmSync(file, { force: true });
  const r = await run(
    TIME[0],
    [
      ...TIME.slice(1),
      c.e.release.etcdctl,
      `--endpoints=${c.e.clientUrl}`,
      ...c.e.etcdctlTls,
      "snapshot",
      "save",
      file,
    ],
    { env: cleanEnv({ ETCDCTL_API: "3" }), timeoutMs: 30 * 60_000 },
  );
  if (r.code !== 0) throw new Error(`etcdctl snapshot save: ${r.output}`);
  return { seconds: r.seconds, own: ownCpu(r) };
}

/** etcdutl snapshot restore of one member, with the flags the restore plan uses (its hash check included). */
async function bareRestore(c: Ctx, db: string, target: string): Promise<{ seconds: number; own?: number }> {
  fs.rmSync(target, { recursive: true, force: true });
  const m = c.e.settings!.members[0];
  const peer = `https://${m.ip}:2380`;
  const s = c.e.settings!;
  const r = await run(
    TIME[0],
    [
      ...TIME.slice(1),
      c.e.release.etcdutl!,
      "snapshot",
      "restore",
      db,
      `--name=${m.name}`,
      `--data-dir=${target}`,
      `--initial-cluster=${m.name}=${peer}`,
      `--initial-cluster-token=${initialClusterToken(s.clusterName, s.environment)}`,
      `--initial-advertise-peer-urls=${peer}`,
      "--bump-revision=1000000000",
      "--mark-compacted",
    ],
    { env: cleanEnv(), timeoutMs: 30 * 60_000 },
  );
  if (r.code !== 0) throw new Error(`etcdutl snapshot restore: ${r.output}`);
  return { seconds: r.seconds, own: ownCpu(r) };
}

const restoreEnv = (c: Ctx) => ({
  ...c.s3.moto.env(c.s3.credentials.reader),
  HOME: c.home,
  PATH: `${path.dirname(c.e.release.etcdutl!)}:${process.env.PATH}`,
});

/**
 * The restore tool (the current tree's, or with `tree` the baseline's) in a process of its own, as the
 * command runs: bench/restoreChild.ts times it inside that process. In the bench's own process the
 * restore would pay for the bench's heap (every collection V8 runs there walks it).
 */
async function toolRestore(
  c: Ctx,
  key: string,
  target: string,
  tree = path.join(__dirname, ".."),
): Promise<{ seconds: number; own?: number }> {
  fs.rmSync(target, { recursive: true, force: true });
  const o = {
    settings: c.e.settings,
    from: `s3://${c.s3.bucket}/${key}`,
    endpointUrl: c.s3.moto.endpoint,
    apply: { targetDir: target },
  };
  const r = await run(
    path.join(__dirname, "..", "node_modules", ".bin", "tsx"),
    [path.join(tree, "bench", "restoreChild.ts"), JSON.stringify(o)],
    { env: { ...cleanEnv(), ...restoreEnv(c), AWS_CONFIG_FILE: "" }, timeoutMs: 30 * 60_000 },
  );
  const out = /\{"seconds":[\d.e-]+,"own":[\d.e-]+\}/.exec(r.stdout)?.[0];
  if (r.code !== 0 || !out) throw new Error(`restore tool exited ${r.code}: ${r.output.slice(-1500)}`);
  const m = JSON.parse(out) as { seconds: number; own: number };
  return { seconds: m.seconds, own: round(m.own, 2) };
}

/** The job's progress lines that end each phase, in order (after). */
const jobPhaseEnds: [string, RegExp][] = [
  ["probe", /is healthy; saving a snapshot$/],
  ["saveAndStream", /^snapshot: saved \d+ bytes/],
  ["completeAndStatus", /^snapshot: uploaded /],
  ["verify", /^snapshot: verified: /],
  ["manifestAndMarker", /^snapshot: OK /],
];
/** snapshot.sh's (before). */
const beforePhaseEnds: [string, RegExp][] = [
  ["health", /is healthy; saving/],
  ["save", /^snapshot: saved \d+ bytes/],
  ["status", /^snapshot: integrity ok/],
  ["compress", /^snapshot: compressed to/],
  ["keyCheck", /^snapshot: uploading to/],
  ["upload", /^snapshot: uploaded /],
  ["verifyAndMarker", /^snapshot: OK /],
];

function phasesOf(ends: [string, RegExp][], m: Measured): Phases {
  const out: Phases = {};
  let prev = m.started ?? 0;
  for (const [phase, re] of ends) {
    const at = m.lines?.find((l) => re.test(l.text))?.t;
    if (at === undefined) continue;
    out[phase] = round((at - prev) / 1000, 2);
    prev = at;
  }
  return out;
}

function medianPhases(ends: [string, RegExp][], runs: Measured[]): Phases {
  const all = runs.map((r) => phasesOf(ends, r));
  const out: Phases = {};
  for (const [phase] of ends) {
    const xs = all.map((r) => r[phase]).filter((x) => x !== undefined);
    if (xs.length) out[phase] = round(median(xs), 2);
  }
  return out;
}

async function latestKey(c: Ctx, suffix: string): Promise<{ key: string; size: number }> {
  const objs = (await c.s3.list(prefix)).filter((o) => o.key.endsWith(suffix));
  const last = objs[objs.length - 1];
  if (!last) throw new Error(`no ${suffix} object in the bucket`);
  return last;
}

async function emptyBucket(c: Ctx): Promise<void> {
  const { DeleteObjectsCommand } = await import("@aws-sdk/client-s3");
  const keys = await c.s3.list(prefix);
  for (let i = 0; i < keys.length; i += 500)
    await c.s3.s3.send(
      new DeleteObjectsCommand({
        Bucket: c.s3.bucket,
        Delete: { Objects: keys.slice(i, i + 500).map((k) => ({ Key: k.key })) },
      }),
    );
}

async function measureSize(c: Ctx, targetMiB: number, runs: number): Promise<SizeResult> {
  const dbBytes = await fillTo(c.e, targetMiB * MiB, c.log);
  const window = loadWindow();
  const bareFile = path.join(c.work, "bare.db");
  const saveVariants = (c.beforeTree ? ["bare", "job", "before"] : ["bare", "job"]) as (
    "bare" | "job" | "before"
  )[];
  c.log(`snapshot: ${targetMiB} MiB, ${runs} runs of ${saveVariants.join(" / ")}…`);
  const save = await sideBySide(runs, saveVariants, async (v) => {
    if (v === "bare") return measured(c, () => bareSave(c, bareFile));
    await emptyBucket(c);
    return measured(c, () => (v === "job" ? runJob(c) : runJobBefore(c)));
  });
  // The objects the restores start from: one of each format.
  if (!fs.existsSync(bareFile)) await bareSave(c, bareFile);
  await emptyBucket(c);
  await runJob(c);
  const after = await latestKey(c, ".db.brf");
  const before = c.beforeTree ? (await runJobBefore(c), await latestKey(c, ".db.gz")) : undefined;
  const target = path.join(c.work, "restored");
  const restoreVariants = (c.beforeTree ? ["bare", "tool", "before"] : ["bare", "tool"]) as (
    "bare" | "tool" | "before"
  )[];
  c.log(
    `snapshot: ${targetMiB} MiB, ${runs} runs of ${restoreVariants.map((v) => `${v} restore`).join(" / ")}…`,
  );
  const restore = await sideBySide(runs, restoreVariants, (v) =>
    measured(c, () =>
      v === "bare"
        ? bareRestore(c, bareFile, target)
        : v === "tool"
          ? toolRestore(c, after.key, target)
          : toolRestore(c, before!.key, target, c.beforeTree),
    ),
  );
  await emptyBucket(c);
  fs.rmSync(target, { recursive: true, force: true });
  fs.rmSync(bareFile, { force: true });
  const t = (xs: Measured[]) =>
    timed(
      xs.map((x) => x.seconds),
      dbBytes,
      xs.map((x) => x.cpu),
    );
  const bareSaveT = t(save.bare);
  const job = t(save.job);
  const jobBefore = c.beforeTree ? t(save.before) : undefined;
  const bareRestoreT = t(restore.bare);
  const restoreTool = t(restore.tool);
  const restoreToolBefore = c.beforeTree ? t(restore.before) : undefined;
  return {
    targetMiB,
    runs,
    dbBytes,
    objectBytes: after.size,
    objectBytesBefore: before?.size,
    bareSave: bareSaveT,
    job,
    jobBefore,
    jobRatio: round(job.medianSeconds / bareSaveT.medianSeconds, 2),
    jobBeforeRatio: jobBefore ? round(jobBefore.medianSeconds / bareSaveT.medianSeconds, 2) : undefined,
    bareRestore: bareRestoreT,
    restoreTool,
    restoreToolBefore,
    restoreRatio: round(restoreTool.medianSeconds / bareRestoreT.medianSeconds, 2),
    restoreBeforeRatio: restoreToolBefore
      ? round(restoreToolBefore.medianSeconds / bareRestoreT.medianSeconds, 2)
      : undefined,
    jobPhases: medianPhases(jobPhaseEnds, save.job),
    jobBeforePhases: c.beforeTree ? medianPhases(beforePhaseEnds, save.before) : undefined,
    load: window(),
  };
}

/** The tree at baselineCommit (git archive), with a driver for its restore library; undefined outside a clone. */
async function baselineTree(work: string): Promise<string | undefined> {
  const dir = path.join(work, "before-tree");
  fs.mkdirSync(dir, { recursive: true });
  const r = await run(
    "sh",
    ["-c", `git archive ${baselineCommit} components tools | tar -x -C "$1"`, "sh", dir],
    {
      timeoutMs: 60_000,
      cwd: path.join(__dirname, ".."),
    },
  );
  if (r.code !== 0) return undefined;
  fs.symlinkSync(path.join(__dirname, "..", "node_modules"), path.join(dir, "node_modules"));
  // The same driver as the current tree's, importing the baseline's restore library.
  fs.mkdirSync(path.join(dir, "bench"));
  fs.copyFileSync(path.join(__dirname, "restoreChild.ts"), path.join(dir, "bench", "restoreChild.ts"));
  return dir;
}

async function withServers<T>(
  o: {
    workDir: string;
    quotaBytes?: number;
    before: boolean;
    partsInMemory: boolean;
    log: (l: string) => void;
  },
  fn: (c: Ctx) => Promise<T>,
) {
  const work = path.join(o.workDir, "snapshot-path");
  const home = path.join(work, "home");
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const e = await startComponentTls(o.workDir, "ECDSA-P256", {
    dataDir: path.join(work, "etcd-data"),
    quotaBytes: o.quotaBytes,
  });
  let s3: SnapshotBucket | undefined;
  try {
    // Parts and the completed object stay in moto's memory (its default spools every one over 5 MiB to
    // a temp file, and a 64 MiB buffer still spooled a 1 GiB DB's object: +1.2 moto CPU-seconds a run),
    // except for the large DB, whose parts would not fit beside the copies moto makes to complete it.
    s3 = await startSnapshotBucket({
      workDir: path.join(work, "moto"),
      prefix,
      enforceIam: false,
      motoEnv: o.partsInMemory ? { MOTO_S3_DEFAULT_KEY_BUFFER_SIZE: String(4096 * MiB) } : {},
    });
    return await fn({
      e,
      s3,
      work,
      home,
      beforeTree: o.before ? await baselineTree(work) : undefined,
      log: o.log,
    });
  } finally {
    await s3?.stop();
    await e.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

export async function runSnapshotPath(o: SnapshotOptions): Promise<SnapshotResult> {
  return withServers({ ...o, partsInMemory: true }, async (c) => {
    const sizes: SizeResult[] = [];
    for (const mib of o.sizesMiB) sizes.push(await measureSize(c, mib, o.runsFor(mib)));
    return {
      server: c.e.label,
      etcd: c.e.release.version,
      emulator: "moto_server (no IAM enforcement, parts in memory)",
      baselineCommit: c.beforeTree ? baselineCommit : undefined,
      sizes,
    };
  });
}

/** The whole snapshot path once for a large DB (8 GiB): does it fit prod's 15-minute schedule? */
export async function runBigSnapshot(o: {
  workDir: string;
  mib: number;
  log: (l: string) => void;
}): Promise<BigSnapshotResult> {
  return withServers(
    { ...o, quotaBytes: (o.mib + 2048) * MiB, before: false, partsInMemory: false },
    async (c) => {
      c.log(`snapshot: filling the DB to ${o.mib} MiB (once)…`);
      const dbBytes = await fillTo(c.e, o.mib * MiB, c.log);
      const window = loadWindow();
      const bareFile = path.join(c.work, "bare.db");
      c.log("snapshot: bare save…");
      const bare = await measured(c, () => bareSave(c, bareFile));
      fs.rmSync(bareFile, { force: true });
      c.log("snapshot: the snapshot job…");
      const job = await measured(c, () => runJob(c));
      const obj = await latestKey(c, ".db.brf");
      const bareT = timed([bare.seconds], dbBytes, [bare.cpu]);
      const jobT = timed([job.seconds], dbBytes, [job.cpu]);
      await emptyBucket(c);
      return {
        dbBytes,
        objectBytes: obj.size,
        bareSave: bareT,
        job: jobT,
        jobRatio: round(jobT.medianSeconds / bareT.medianSeconds, 2),
        jobPhases: phasesOf(jobPhaseEnds, job),
        windowSeconds: 900,
        load: window(),
      };
    },
  );
}
