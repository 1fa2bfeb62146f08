/**
 * Backup drill: the production snapshot path end to end on the running rehearsal cluster.
 *  1. the snapshot job (components/backup/runner, the files the CronJob runs with node) uploads a
 *     snapshot to moto (harness/snapshotBucket.ts: IAM enforced, the job signs as the writer policy's
 *     principal) — SSE-KMS headers, metadata, streamed multipart, verification, manifest, latest marker;
 *  2. with the first member stopped, the script takes the snapshot from the next member;
 *  3. the restore library refuses a corrupted copy of the object;
 *  4. the original cluster is stopped, the restore library (what `secure-etcd restore --apply` runs)
 *     restores every member from the SAME snapshot the latest marker names, and a fresh cluster with
 *     the same member names and addresses starts from those data dirs and serves exactly the data the
 *     snapshot holds (keys written after it are absent) — see backupRestore.ts;
 *  5. reports snapshot size, upload time, restore time and the RPO (the schedule's longest interval).
 * The original members are started again afterwards; everything the drill starts is stopped.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { resolveSnapshotSchedule, snapshotPrefix } from "../../components/config/backup";
import { cronMaxIntervalMinutes } from "../../components/config/cron";
import type { SecureEtcdSettings } from "../../components/config/schema";
import type { RunningCluster } from "../../harness/cluster";
import { etcdctlTlsArgs, runEtcdctl } from "../../harness/etcdctl";
import { layout } from "../../harness/layout";
import { startSnapshotBucket, type SnapshotBucket } from "../../harness/snapshotBucket";
import { runSnapshotJob, snapshotJobEnv, type JobRun } from "../../harness/snapshotJob";
import { restoreSnapshot, RestoreRefused } from "../../tools/restore";
import { restoredClusterServesTheSnapshot } from "./backupRestore";
import {
  clip,
  DrillFailure,
  expect,
  mib,
  runDrill,
  secs,
  sha256,
  writeKnownKeys,
  type DrillResult,
} from "./types";

export interface BackupDrillOptions {
  /** Artifacts directory (DIR/pki/..., DIR/manifests/<member>/etcd.yaml). */
  dir: string;
  /** The running rehearsal cluster; its members are stopped for the restore and started again after. */
  cluster: RunningCluster;
  /** Scratch space; the drill works under workDir/backup-drill. */
  workDir: string;
  settings: Pick<
    SecureEtcdSettings,
    "clusterName" | "environment" | "members" | "etcdVersion" | "paths" | "backup"
  >;
  /** The snapshot schedule and its RPO (default: {@link snapshotScheduleOf} the settings). */
  schedule?: SnapshotSchedule;
  /** The etcd CA (for startCluster's one-host peer certs when the restored cluster starts). */
  caKeyPem?: string;
  caCertPem?: string;
  /** A snapshot bucket to use instead of starting one (its prefix must be the stack's). */
  s3?: SnapshotBucket;
  /** Incompressible MiB written before the snapshot so the upload is multipart (default 6). */
  bulkMiB?: number;
  log?: (line: string) => void;
}

export interface SnapshotSchedule {
  cron: string;
  /** The longest interval between two runs: the most data a restore can lose. */
  rpoMinutes: number;
}

export interface BackupMetrics {
  snapshotKey: string;
  /** Uploaded (gzip) bytes, and the raw snapshot's bytes. */
  snapshotBytes: number;
  dbBytes: number;
  parts: number;
  revision: number;
  member: string;
  /** Whole script run (health, save, check, gzip, upload, verify, marker). */
  scriptSeconds: number;
  uploadSeconds: number;
  /** Restore library (download + checks + every member's restore) plus the restored cluster becoming healthy. */
  restoreSeconds: number;
  restoreBreakdown: { download: number; verify: number; apply: number; clusterStart: number };
  rpoMinutes: number;
  schedule: string;
}

export interface BackupDrillOutcome {
  drills: DrillResult[];
  /** For the report (`backup`). */
  extra: { backup: Partial<BackupMetrics> };
}

/** The stack's snapshot schedule (its own, else its environment's default, else prod's) and its RPO. */
export function snapshotScheduleOf(s: Pick<SecureEtcdSettings, "backup">): SnapshotSchedule {
  // With backups off the drill still exercises the snapshot path, on prod's schedule.
  if (!s.backup.enabled) {
    const cron = resolveSnapshotSchedule("prod").schedule;
    return { cron: `${cron} (prod default: backups are off)`, rpoMinutes: cronMaxIntervalMinutes(cron) };
  }
  return { cron: s.backup.schedule.schedule, rpoMinutes: s.backup.rpoMinutes };
}

/** What the drill's steps share. */
export interface BackupRun {
  o: BackupDrillOptions;
  c: RunningCluster;
  s3: SnapshotBucket;
  work: string;
  prefix: string;
  /** Where the drill's keys live, and what it wrote there (key → value; 1 MiB values by digest). */
  dataPrefix: string;
  written: Map<string, string>;
  bulkDigests: Map<string, string>;
  apiserverTls: string[];
  metrics: Partial<BackupMetrics>;
  log: (line: string) => void;
  /** The restore tool's environment: the reader policy's principal, through the fault proxy. */
  readerEnv(): NodeJS.ProcessEnv;
  latest(): Promise<
    { key: string; size: number; revision: number; sha256: string; parts: number } | undefined
  >;
}

export async function runBackupDrill(o: BackupDrillOptions): Promise<BackupDrillOutcome> {
  const schedule = o.schedule ?? snapshotScheduleOf(o.settings);
  const r = await backupRun(o, { rpoMinutes: schedule.rpoMinutes, schedule: schedule.cron });
  const drills: DrillResult[] = [];
  try {
    r.log("backup drill: snapshot job → moto (SSE-KMS, streamed multipart, verify, manifest, marker)…");
    drills.push(
      await runDrill(
        "backup: the snapshot job uploads a verified SSE-KMS snapshot and updates the marker",
        () => scheduledSnapshot(r),
      ),
    );
    if (r.c.members.filter((m) => m.running).length >= 3)
      drills.push(
        await runDrill("backup: with the first member stopped the snapshot comes from the next one", () =>
          snapshotWithFirstMemberDown(r),
        ),
      );
    drills.push(
      await runDrill("backup: the restore tool refuses a corrupted snapshot download", () =>
        corruptedDownloadRefused(r),
      ),
    );
    drills.push(
      await runDrill("backup: restore brings a fresh cluster back with the snapshot's data", () =>
        restoredClusterServesTheSnapshot(r),
      ),
    );
  } finally {
    await handBackCluster(r);
    if (!o.s3) await r.s3.stop();
  }
  drills.push(await runDrill("backup: RPO and measured times", () => measuredTimes(r.metrics)));
  return { drills, extra: { backup: r.metrics } };
}

async function backupRun(o: BackupDrillOptions, metrics: Partial<BackupMetrics>): Promise<BackupRun> {
  const work = path.join(o.workDir, "backup-drill");
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(path.join(work, "home"), { recursive: true, mode: 0o700 });
  const prefix = snapshotPrefix(o.settings.clusterName, o.settings.environment);
  const s3 =
    o.s3 ??
    (await startSnapshotBucket({
      workDir: path.join(work, "moto"),
      bucket: "etcd-snapshots-rehearsal",
      prefix,
    }));
  return {
    o,
    c: o.cluster,
    s3,
    work,
    prefix,
    dataPrefix: `/rehearsal/backup-drill/${Date.now()}/`,
    written: new Map(),
    bulkDigests: new Map(),
    apiserverTls: etcdctlTlsArgs(o.dir, "apiserver-etcd-client"),
    metrics,
    log: o.log ?? (() => undefined),
    readerEnv: () => ({ ...s3.env("reader"), HOME: path.join(work, "home") }),
    async latest() {
      const m = await s3.get(`${prefix}latest.json`);
      return m ? (JSON.parse(m.body.toString()) as Awaited<ReturnType<BackupRun["latest"]>>) : undefined;
    },
  };
}

/** The job as the CronJob runs it, pointed at this cluster's members and the drill's bucket. */
async function runJob(r: BackupRun): Promise<JobRun> {
  const env = snapshotJobEnv(
    r.s3,
    {
      endpoints: r.c.members.map((m) => m.clientUrl),
      tls: {
        ca: layout.caCert(r.o.dir),
        cert: layout.client(r.o.dir, "backup-client", "crt"),
        key: layout.client(r.o.dir, "backup-client", "key"),
      },
      etcdVersion: r.o.settings.etcdVersion,
      etcdctl: r.c.etcdctlBinary,
      etcdutl: r.c.etcdutlBinary ?? path.join(path.dirname(r.c.etcdctlBinary), "etcdutl"),
    },
    {
      workDir: fs.mkdtempSync(path.join(r.work, "job-")),
      home: path.join(r.work, "home"),
      extra: {
        ETCD_DIAL_TIMEOUT: "2s",
        ETCD_COMMAND_TIMEOUT: "3s",
        VERIFY_DOWNLOAD: "true",
        // Small parts so the rehearsal's few MiB go through the multipart path production uses for GiBs.
        S3_PART_SIZE: "5MiB",
      },
    },
  );
  return runSnapshotJob(env, { onLine: (text) => r.log(`    ${text}`) });
}

/** Known keys plus incompressible 1 MiB values, so the snapshot is large enough for a multipart upload. */
async function writeTestData(r: BackupRun): Promise<void> {
  const endpoints = `--endpoints=${r.c.clientUrls().join(",")}`;
  const put = (key: string, value: string) =>
    runEtcdctl(r.c.etcdctlBinary, [endpoints, ...r.apiserverTls, "put", key, value]);
  await writeKnownKeys(put, r.dataPrefix, 25, r.written);
  for (let i = 0; i < (r.o.bulkMiB ?? 6); i++) {
    const key = `${r.dataPrefix}bulk-${i}`;
    const value = bulk(key, 1 << 20);
    const res = await runEtcdctl(r.c.etcdctlBinary, [endpoints, ...r.apiserverTls, "put", key], {
      input: value,
      commandTimeout: "10s",
    });
    expect(res.code === 0, `put of 1 MiB value ${key} failed: ${clip(res.output)}`);
    r.bulkDigests.set(key, sha256(value));
  }
}

async function scheduledSnapshot(r: BackupRun): Promise<string> {
  await writeTestData(r);
  const snapshots = async () => (await r.s3.list()).filter((x) => x.key.endsWith(".db.brf"));
  const before = (await snapshots()).length;
  const job = await runJob(r);
  expect(job.code === 0, `the snapshot job exited ${job.code}: ${clip(job.stderr)}`);
  expect(job.stderr.trim() === "", `the snapshot job wrote to stderr on success: ${clip(job.stderr)}`);
  const marker = await r.latest();
  expect(marker, "no latest.json marker after a successful run");
  const obj = await r.s3.get(marker.key);
  expect(obj, `the marker names ${marker.key}, which is not in the bucket`);
  const manifestObj = await r.s3.get(`${marker.key}.manifest.json`);
  expect(manifestObj, `${marker.key} has no manifest`);
  const manifest = JSON.parse(manifestObj.body.toString()) as Record<string, unknown>;
  expect((await snapshots()).length === before + 1, "expected exactly one new snapshot object");
  const sha = sha256(obj.body);
  expect(manifest.sha256 === sha && marker.sha256 === sha, "manifest/marker sha256 differ from the object");
  expect(obj.sse === "aws:kms", "upload did not ask for SSE-KMS");
  expect(obj.kmsKeyId === r.s3.kmsKeyArn, "upload did not name the KMS key");
  for (const k of ["hash", "revision", "dbSha256", "etcdVersion"])
    expect(manifest[k] !== undefined, `manifest ${k} missing`);
  const at = (re: RegExp) => job.lines.find((l) => re.test(l.text))?.t;
  const [saveStart, upEnd] = [at(/ is healthy; saving a snapshot$/), at(/^snapshot: uploaded /)];
  const m = r.metrics;
  Object.assign(m, {
    snapshotKey: obj.key,
    snapshotBytes: obj.size,
    dbBytes: Number(manifest.dbSize),
    parts: Number(manifest.parts),
    revision: Number(manifest.revision),
    member: String(manifest.member),
    scriptSeconds: job.seconds,
    uploadSeconds: saveStart && upEnd ? (upEnd - saveStart) / 1000 : NaN,
  });
  return (
    `s3://${r.s3.bucket}/${obj.key}: ${mib(obj.size)} brotli frames (snapshot ${mib(m.dbBytes!)}), from ${m.member}, ` +
    `revision ${m.revision}, ${m.parts! > 0 ? `multipart ${m.parts} parts` : "single PUT"}, ` +
    `SSE-KMS requested with the bucket's key; size + S3's SHA-256 + re-download verified; manifest and marker written; ` +
    `job ${secs(job.seconds)}, save-to-uploaded ${secs(m.uploadSeconds!)} (as the writer-policy principal, IAM enforced)`
  );
}

async function snapshotWithFirstMemberDown(r: BackupRun): Promise<string> {
  const [first, next] = r.c.members;
  await r.c.stopMember(first.name);
  try {
    const job = await runJob(r);
    expect(job.code === 0, `the snapshot job exited ${job.code}: ${clip(job.stderr)}`);
    const marker = await r.latest();
    expect(marker, "no marker");
    expect(
      marker.key.endsWith(`-${next.name}.db.brf`),
      `expected a snapshot from ${next.name}, got ${marker.key}`,
    );
    const skipped = job.lines.find((l) => l.text.startsWith("snapshot: skipping"))?.text ?? "";
    return `${first.name} stopped → ${clip(skipped)}; uploaded ${marker.key} (${secs(job.seconds)})`;
  } finally {
    await r.c.startMember(first.name);
  }
}

async function corruptedDownloadRefused(r: BackupRun): Promise<string> {
  const marker = await r.latest();
  expect(marker, "no snapshot to corrupt");
  const good = (await r.s3.get(marker.key))!;
  const manifest = JSON.parse((await r.s3.get(`${marker.key}.manifest.json`))!.body.toString()) as {
    key: string;
  };
  // A copy with one byte flipped in the middle, beside a manifest that describes it (as the original).
  const key = `${r.prefix}corrupted-copy.db.brf`;
  const body = Buffer.from(good.body);
  body[Math.floor(body.length / 2)] ^= 0xff;
  await r.s3.put(key, body, good.metadata);
  await r.s3.put(`${key}.manifest.json`, Buffer.from(JSON.stringify({ ...manifest, key })));
  try {
    await restoreSnapshot({
      settings: r.o.settings,
      from: `s3://${r.s3.bucket}/${key}`,
      endpointUrl: r.s3.endpoint,
      env: r.readerEnv(),
      workDir: path.join(r.work, "corrupted"),
      etcdctl: r.c.etcdctlBinary,
      etcdutl: r.c.etcdutlBinary,
    });
  } catch (e) {
    if (e instanceof RestoreRefused) return `refused: ${e.message}`;
    throw e;
  }
  throw new DrillFailure("the restore tool accepted a corrupted download");
}

/** Leave the caller's cluster as it was handed over: every member running. */
async function handBackCluster(r: BackupRun): Promise<void> {
  const stopped = r.c.members.filter((m) => !m.running);
  if (stopped.length === 0) return;
  r.log(`backup drill: starting the original members again (${stopped.map((m) => m.name).join(", ")})…`);
  for (const m of stopped) await r.c.startMember(m.name, { waitHealthy: false });
  await r.c.waitHealthy();
}

function measuredTimes(m: Partial<BackupMetrics>): string {
  expect(m.snapshotBytes !== undefined, "no snapshot was taken");
  expect(m.restoreSeconds !== undefined, "no restore completed");
  return (
    `RPO ${m.rpoMinutes} min (schedule ${m.schedule}); snapshot ${mib(m.snapshotBytes)} compressed ` +
    `(${mib(m.dbBytes ?? 0)} raw); upload ${secs(m.uploadSeconds ?? NaN)}; ` +
    `restore ${secs(m.restoreSeconds)} to a healthy cluster`
  );
}

/** Deterministic incompressible bytes. */
function bulk(seed: string, bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  let block = createHash("sha256").update(seed).digest();
  for (let off = 0; off < bytes; off += 32) {
    block.copy(out, off);
    block = createHash("sha256").update(block).digest();
  }
  return out;
}
