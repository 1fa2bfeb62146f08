/**
 * Backup drill: the production snapshot path end to end on the running rehearsal cluster.
 *  1. components/backup/snapshot.sh — the file the CronJob runs — with awscli uploads a snapshot to the
 *     local S3-compatible endpoint (SSE-KMS headers, metadata, multipart, verification, latest marker);
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
import { snapshotScriptPath } from "../../components/backup/snapshotScript";
import { cronMaxIntervalMinutes } from "../../components/config/cron";
import type { SecureEtcdSettings } from "../../components/config/schema";
import type { RunningCluster } from "../../harness/cluster";
import { etcdctlTlsArgs, runEtcdctl } from "../../harness/etcdctl";
import { layout } from "../../harness/layout";
import * as localS3 from "../../harness/localS3";
import { cleanEnv } from "../../harness/process";
import { restoreSnapshot, RestoreRefused } from "../../tools/restore";
import { run } from "../../tools/shared/process";
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
  /** An endpoint to use instead of starting one. */
  s3?: localS3.LocalS3;
  bucket?: string;
  kmsKeyId?: string;
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
  s3: localS3.LocalS3;
  work: string;
  bucket: string;
  kmsKeyId: string;
  prefix: string;
  /** Where the drill's keys live, and what it wrote there (key → value; 1 MiB values by digest). */
  dataPrefix: string;
  written: Map<string, string>;
  bulkDigests: Map<string, string>;
  apiserverTls: string[];
  metrics: Partial<BackupMetrics>;
  log: (line: string) => void;
  awsEnv(): NodeJS.ProcessEnv;
  latest(): { key: string; size: number; revision: number; sha256: string } | undefined;
}

export async function runBackupDrill(o: BackupDrillOptions): Promise<BackupDrillOutcome> {
  const schedule = o.schedule ?? snapshotScheduleOf(o.settings);
  const r = await backupRun(o, { rpoMinutes: schedule.rpoMinutes, schedule: schedule.cron });
  const drills: DrillResult[] = [];
  try {
    r.log("backup drill: snapshot.sh → local S3 (SSE-KMS, multipart, verify, marker)…");
    drills.push(
      await runDrill("backup: snapshot.sh uploads a verified SSE-KMS snapshot and updates the marker", () =>
        scheduledSnapshot(r),
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
  const s3 = o.s3 ?? (await localS3.start());
  const bucket = o.bucket ?? "etcd-snapshots-rehearsal";
  const prefix = snapshotPrefix(o.settings.clusterName, o.settings.environment);
  return {
    o,
    c: o.cluster,
    s3,
    work,
    bucket,
    kmsKeyId: o.kmsKeyId ?? "arn:aws:kms:eu-west-1:111122223333:key/rehearsal-local-snapshots",
    prefix,
    dataPrefix: `/rehearsal/backup-drill/${Date.now()}/`,
    written: new Map(),
    bulkDigests: new Map(),
    apiserverTls: etcdctlTlsArgs(o.dir, "apiserver-etcd-client"),
    metrics,
    log: o.log ?? (() => undefined),
    awsEnv: () => awsEnv(work),
    latest() {
      const m = s3.getObject(bucket, `${prefix}latest.json`);
      return m ? (JSON.parse(m.body.toString()) as ReturnType<BackupRun["latest"]>) : undefined;
    },
  };
}

/** awscli against the local endpoint only: none of the caller's AWS settings or credentials. */
function awsEnv(work: string): NodeJS.ProcessEnv {
  const base = cleanEnv();
  for (const k of Object.keys(base)) if (k.startsWith("AWS_")) delete base[k];
  return {
    ...base,
    HOME: path.join(work, "home"),
    AWS_ACCESS_KEY_ID: "AKIDREHEARSAL",
    AWS_SECRET_ACCESS_KEY: "rehearsal-not-a-secret",
    AWS_REGION: "eu-west-1",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_MAX_ATTEMPTS: "2",
  };
}

/** The environment the CronJob gives snapshot.sh, pointed at this cluster and the local endpoint. */
function scriptEnv(r: BackupRun): NodeJS.ProcessEnv {
  const etcdctl = r.c.etcdctlBinary;
  return {
    ...r.awsEnv(),
    PATH: `${path.dirname(etcdctl)}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    ETCDCTL: etcdctl,
    // The cluster's own release: snapshot.sh picks etcdutl for status from 3.5 (etcdctl lost it in 3.6).
    ...(r.c.etcdutlBinary && { ETCDUTL: r.c.etcdutlBinary }),
    ETCD_ENDPOINTS: r.c.members.map((m) => m.clientUrl).join(","),
    CLUSTER: r.o.settings.clusterName,
    ENVIRONMENT: r.o.settings.environment,
    S3_BUCKET: r.bucket,
    S3_PREFIX: r.prefix,
    KMS_KEY_ID: r.kmsKeyId,
    ETCD_VERSION: r.o.settings.etcdVersion,
    ETCD_CACERT: layout.caCert(r.o.dir),
    ETCD_CERT: layout.client(r.o.dir, "backup-client", "crt"),
    ETCD_KEY: layout.client(r.o.dir, "backup-client", "key"),
    WORK_DIR: fs.mkdtempSync(path.join(r.work, "job-")),
    AWS_ENDPOINT_URL: r.s3.url,
    ETCD_DIAL_TIMEOUT: "2s",
    ETCD_COMMAND_TIMEOUT: "3s",
    VERIFY_DOWNLOAD: "true",
    // Small parts so the rehearsal's few MiB go through the multipart path production uses for GiBs.
    S3_MULTIPART_THRESHOLD: "5MB",
    S3_MULTIPART_CHUNKSIZE: "5MB",
  };
}

interface ScriptRun {
  code: number | null;
  /** stdout lines with the time each arrived (upload timing comes from them). */
  lines: { t: number; text: string }[];
  stderr: string;
  seconds: number;
}

async function runSnapshotScript(r: BackupRun): Promise<ScriptRun> {
  const lines: ScriptRun["lines"] = [];
  const res = await run("sh", [snapshotScriptPath], {
    env: scriptEnv(r),
    timeoutMs: 10 * 60_000,
    onLine: (text) => {
      lines.push({ t: Date.now(), text });
      r.log(`    ${text}`);
    },
  });
  return { code: res.code, lines, stderr: res.stderr, seconds: res.seconds };
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
  const snapshots = () => r.s3.objects().filter((x) => x.bucket === r.bucket && x.key.endsWith(".db.gz"));
  const before = snapshots().length;
  const script = await runSnapshotScript(r);
  expect(script.code === 0, `snapshot.sh exited ${script.code}: ${clip(script.stderr)}`);
  expect(script.stderr.trim() === "", `snapshot.sh wrote to stderr on success: ${clip(script.stderr)}`);
  const marker = r.latest();
  expect(marker, "no latest.json marker after a successful run");
  const obj = r.s3.getObject(r.bucket, marker.key);
  expect(obj, `the marker names ${marker.key}, which is not in the bucket`);
  expect(snapshots().length === before + 1, "expected exactly one new snapshot object");
  const sha = sha256(obj.body);
  expect(
    obj.metadata.sha256 === sha && marker.sha256 === sha,
    "sha256 metadata/marker differ from the object",
  );
  expect(obj.sseHeaders["x-amz-server-side-encryption"] === "aws:kms", "upload did not ask for SSE-KMS");
  expect(
    obj.sseHeaders["x-amz-server-side-encryption-aws-kms-key-id"] === r.kmsKeyId,
    "upload did not name the KMS key",
  );
  for (const k of ["hash", "revision", "etcd-version"]) expect(obj.metadata[k], `metadata ${k} missing`);
  const at = (re: RegExp) => script.lines.find((l) => re.test(l.text))?.t;
  const [upStart, upEnd] = [at(/^snapshot: uploading to /), at(/^snapshot: uploaded /)];
  const m = r.metrics;
  Object.assign(m, {
    snapshotKey: obj.key,
    snapshotBytes: obj.size,
    dbBytes: Number(/saved (\d+) bytes/.exec(script.lines.map((l) => l.text).join("\n"))?.[1] ?? 0),
    parts: obj.parts,
    revision: Number(obj.metadata.revision),
    member: obj.metadata.member,
    scriptSeconds: script.seconds,
    uploadSeconds: upStart && upEnd ? (upEnd - upStart) / 1000 : NaN,
  });
  return (
    `s3://${r.bucket}/${obj.key}: ${mib(obj.size)} gzip (snapshot ${mib(m.dbBytes!)}), from ${obj.metadata.member}, ` +
    `revision ${obj.metadata.revision}, ${obj.parts > 0 ? `multipart ${obj.parts} parts` : "single PUT"}, ` +
    `SSE-KMS requested with ${r.kmsKeyId}; sha256 + size + re-download verified; marker updated; ` +
    `script ${secs(script.seconds)}, upload ${secs(m.uploadSeconds!)}`
  );
}

async function snapshotWithFirstMemberDown(r: BackupRun): Promise<string> {
  const [first, next] = r.c.members;
  await r.c.stopMember(first.name);
  try {
    const script = await runSnapshotScript(r);
    expect(script.code === 0, `snapshot.sh exited ${script.code}: ${clip(script.stderr)}`);
    const marker = r.latest();
    expect(marker, "no marker");
    expect(
      marker.key.endsWith(`-${next.name}.db.gz`),
      `expected a snapshot from ${next.name}, got ${marker.key}`,
    );
    const skipped = script.lines.find((l) => l.text.startsWith("snapshot: skipping"))?.text ?? "";
    return `${first.name} stopped → ${clip(skipped)}; uploaded ${marker.key} (${secs(script.seconds)})`;
  } finally {
    await r.c.startMember(first.name);
  }
}

async function corruptedDownloadRefused(r: BackupRun): Promise<string> {
  const marker = r.latest();
  expect(marker, "no snapshot to corrupt");
  const good = r.s3.getObject(r.bucket, marker.key)!;
  const key = `${r.prefix}corrupted-copy.db.gz`;
  r.s3.putObject(r.bucket, key, good.body, good.metadata);
  r.s3.corrupt(r.bucket, key, "flip");
  try {
    await restoreSnapshot({
      settings: r.o.settings,
      from: `s3://${r.bucket}/${key}`,
      endpointUrl: r.s3.url,
      env: r.awsEnv(),
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
    `RPO ${m.rpoMinutes} min (schedule ${m.schedule}); snapshot ${mib(m.snapshotBytes)} gzip ` +
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
