/**
 * Backup drill: the production snapshot path end to end on the running rehearsal cluster.
 *  1. components/backup/snapshot.sh — the file the CronJob runs — with awscli uploads a snapshot to the
 *     local S3-compatible endpoint (SSE-KMS headers, metadata, multipart, verification, latest marker);
 *  2. with the first member stopped, the script takes the snapshot from the next member;
 *  3. the restore tool refuses a corrupted copy of the object;
 *  4. the original cluster is stopped, the restore tool (`npm run restore` logic, `--apply`) restores
 *     every member from the SAME snapshot the latest marker names, and a fresh cluster with the same
 *     member names and addresses starts from those data dirs and serves exactly the data the snapshot
 *     holds (keys written after it are absent);
 *  5. reports snapshot size, upload time, restore time and the RPO (the schedule interval).
 * The original members are started again afterwards; everything the drill starts is stopped.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { resolveSnapshotSchedule, snapshotPrefix } from "../../components/config/backup";
import { cronMaxIntervalMinutes } from "../../components/config/cron";
import { snapshotScriptPath } from "../../components/backup/snapshotScript";
import type { SecureEtcdSettings } from "../../components/config/schema";
import { peerUrl } from "../../components/manifests/urls";
import { layout } from "../../harness/artifacts";
import { etcdctlTlsArgs, runEtcdctl, startCluster, type RunningCluster } from "../../harness/cluster";
import * as localS3 from "../../harness/localS3";
import { cleanEnv } from "../../harness/process";
import { restoreSnapshot, RestoreRefused } from "../../tools/restore/restoreSnapshot";
import { clip, DrillFailure, expect, runDrill, writeKnownKeys, type DrillResult } from "./types";

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
  /** RPO = the snapshot schedule's interval, in minutes (default: the environment's default schedule, else prod's). */
  rpoMinutes?: number;
  /** The schedule that interval comes from, for the report. */
  schedule?: string;
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
  /** Restore tool (download + checks + every member's restore) plus the restored cluster becoming healthy. */
  restoreSeconds: number;
  restoreBreakdown: { download: number; verify: number; apply: number; clusterStart: number };
  rpoMinutes: number;
  schedule: string;
}

export interface BackupDrillOutcome {
  drills: DrillResult[];
  /** For the report's extra section (`extra.backup`). */
  extra: { backup: Partial<BackupMetrics> };
}

interface Line {
  t: number;
  text: string;
}

interface ScriptRun {
  code: number;
  lines: Line[];
  stderr: string;
  seconds: number;
}

function runScript(env: NodeJS.ProcessEnv, log: (l: string) => void): Promise<ScriptRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn("sh", [snapshotScriptPath], { env, stdio: ["ignore", "pipe", "pipe"] });
    const lines: Line[] = [];
    let partial = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      const now = Date.now();
      const parts = (partial + d.toString()).split("\n");
      partial = parts.pop() ?? "";
      for (const text of parts) {
        lines.push({ t: now, text });
        log(`    ${text}`);
      }
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 10 * 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (partial) lines.push({ t: Date.now(), text: partial });
      resolve({ code: code ?? 1, lines, stderr, seconds: (Date.now() - started) / 1000 });
    });
  });
}

const mb = (n: number) => `${(n / 1_048_576).toFixed(2)} MiB`;
const secs = (n: number) => `${n.toFixed(2)} s`;

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

function putStdin(etcdctl: string, args: string[], value: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(etcdctl, ["--dial-timeout=3s", "--command-timeout=10s", ...args], {
      env: cleanEnv({ ETCDCTL_API: "3" }),
      stdio: ["pipe", "ignore", "ignore"],
    });
    child.on("error", reject);
    child.on("close", (code) => resolve(code ?? 1));
    child.stdin.end(value);
  });
}

/** `etcdctl get ... -w json` → key → value bytes (keys and values arrive base64-encoded, so binary is safe). */
function parseGetJson(stdout: string): Map<string, Buffer> {
  const doc = JSON.parse(stdout) as { kvs?: { key: string; value?: string }[] };
  const out = new Map<string, Buffer>();
  for (const kv of doc.kvs ?? [])
    out.set(Buffer.from(kv.key, "base64").toString(), Buffer.from(kv.value ?? "", "base64"));
  return out;
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/**
 * The stack's snapshot schedule and the RPO it implies (its longest gap). With backups off, prod's: the
 * drill still exercises the snapshot path.
 */
export function snapshotScheduleOf(s: Pick<SecureEtcdSettings, "backup">): {
  cron: string;
  rpoMinutes: number;
} {
  if (s.backup.enabled) return { cron: s.backup.schedule.schedule, rpoMinutes: s.backup.rpoMinutes };
  const cron = `${resolveSnapshotSchedule("prod").schedule}`;
  return { cron: `${cron} (prod default: backups are off)`, rpoMinutes: cronMaxIntervalMinutes(cron) };
}

export async function runBackupDrill(o: BackupDrillOptions): Promise<BackupDrillOutcome> {
  const log = o.log ?? (() => undefined);
  const c = o.cluster;
  const etcdctl = c.etcdctlBinary;
  const work = path.join(o.workDir, "backup-drill");
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(path.join(work, "home"), { recursive: true, mode: 0o700 });
  const bucket = o.bucket ?? "etcd-snapshots-rehearsal";
  const kmsKeyId = o.kmsKeyId ?? "arn:aws:kms:eu-west-1:111122223333:key/rehearsal-local-snapshots";
  const prefix = snapshotPrefix(o.settings.clusterName, o.settings.environment);
  const stackSchedule = snapshotScheduleOf(o.settings);
  const rpoMinutes = o.rpoMinutes ?? stackSchedule.rpoMinutes;
  const schedule = o.schedule ?? stackSchedule.cron;
  const metrics: Partial<BackupMetrics> = { rpoMinutes, schedule };
  const drills: DrillResult[] = [];
  const ownS3 = !o.s3;
  const s3 = o.s3 ?? (await localS3.start());
  const dataPrefix = `/rehearsal/backup-drill/${Date.now()}/`;
  const written = new Map<string, string>();
  const bulkDigests = new Map<string, string>();
  const apiserver = etcdctlTlsArgs(o.dir, "apiserver-etcd-client");

  const awsEnv = (): NodeJS.ProcessEnv => {
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
  };
  const scriptEnv = (endpoints: string[]): NodeJS.ProcessEnv => {
    const runDir = fs.mkdtempSync(path.join(work, "job-"));
    return {
      ...awsEnv(),
      PATH: `${path.dirname(etcdctl)}:${process.env.PATH ?? "/usr/bin:/bin"}`,
      ETCDCTL: etcdctl,
      ETCD_ENDPOINTS: endpoints.join(","),
      CLUSTER: o.settings.clusterName,
      ENVIRONMENT: o.settings.environment,
      S3_BUCKET: bucket,
      S3_PREFIX: prefix,
      KMS_KEY_ID: kmsKeyId,
      ETCD_VERSION: o.settings.etcdVersion,
      ETCD_CACERT: layout.caCert(o.dir),
      ETCD_CERT: layout.client(o.dir, "backup-client", "crt"),
      ETCD_KEY: layout.client(o.dir, "backup-client", "key"),
      WORK_DIR: runDir,
      AWS_ENDPOINT_URL: s3.url,
      ETCD_DIAL_TIMEOUT: "2s",
      ETCD_COMMAND_TIMEOUT: "3s",
      VERIFY_DOWNLOAD: "true",
      // Small parts so the rehearsal's few MiB go through the multipart path production uses for GiBs.
      S3_MULTIPART_THRESHOLD: "5MB",
      S3_MULTIPART_CHUNKSIZE: "5MB",
    };
  };
  const snapshotObjects = () => s3.objects().filter((x) => x.bucket === bucket && x.key.endsWith(".db.gz"));
  const latest = () => {
    const m = s3.getObject(bucket, `${prefix}latest.json`);
    return m
      ? (JSON.parse(m.body.toString()) as { key: string; size: number; revision: number; sha256: string })
      : undefined;
  };

  try {
    // ------------------------------------------------------------------ 1. scheduled snapshot, as the CronJob runs it
    log("backup drill: snapshot.sh → local S3 (SSE-KMS, multipart, verify, marker)…");
    drills.push(
      await runDrill(
        "backup: snapshot.sh uploads a verified SSE-KMS snapshot and updates the marker",
        async () => {
          const endpoints = c.clientUrls();
          const put = (key: string, value: string) =>
            runEtcdctl(etcdctl, [`--endpoints=${endpoints.join(",")}`, ...apiserver, "put", key, value]);
          await writeKnownKeys(put, dataPrefix, 25, written);
          for (let i = 0; i < (o.bulkMiB ?? 6); i++) {
            const key = `${dataPrefix}bulk-${i}`;
            const value = bulk(key, 1 << 20);
            const code = await putStdin(
              etcdctl,
              [`--endpoints=${endpoints.join(",")}`, ...apiserver, "put", key],
              value,
            );
            expect(code === 0, `put of 1 MiB value ${key} failed`);
            bulkDigests.set(key, sha256(value));
          }
          const before = snapshotObjects().length;
          const run = await runScript(scriptEnv(c.members.map((m) => m.clientUrl)), log);
          expect(run.code === 0, `snapshot.sh exited ${run.code}: ${clip(run.stderr)}`);
          expect(run.stderr.trim() === "", `snapshot.sh wrote to stderr on success: ${clip(run.stderr)}`);
          const marker = latest();
          expect(marker, "no latest.json marker after a successful run");
          const obj = s3.getObject(bucket, marker.key);
          expect(obj, `the marker names ${marker.key}, which is not in the bucket`);
          expect(snapshotObjects().length === before + 1, "expected exactly one new snapshot object");
          const sha = createHash("sha256").update(obj.body).digest("hex");
          expect(
            obj.metadata.sha256 === sha && marker.sha256 === sha,
            "sha256 metadata/marker differ from the object",
          );
          expect(
            obj.sseHeaders["x-amz-server-side-encryption"] === "aws:kms",
            "upload did not ask for SSE-KMS",
          );
          expect(
            obj.sseHeaders["x-amz-server-side-encryption-aws-kms-key-id"] === kmsKeyId,
            "upload did not name the KMS key",
          );
          for (const k of ["hash", "revision", "etcd-version"])
            expect(obj.metadata[k], `metadata ${k} missing`);
          const at = (re: RegExp) => run.lines.find((l) => re.test(l.text))?.t;
          const upStart = at(/^snapshot: uploading to /);
          const upEnd = at(/^snapshot: uploaded /);
          metrics.snapshotKey = obj.key;
          metrics.snapshotBytes = obj.size;
          metrics.dbBytes = Number(
            /saved (\d+) bytes/.exec(run.lines.map((l) => l.text).join("\n"))?.[1] ?? 0,
          );
          metrics.parts = obj.parts;
          metrics.revision = Number(obj.metadata.revision);
          metrics.member = obj.metadata.member;
          metrics.scriptSeconds = run.seconds;
          metrics.uploadSeconds = upStart && upEnd ? (upEnd - upStart) / 1000 : NaN;
          return (
            `s3://${bucket}/${obj.key}: ${mb(obj.size)} gzip (snapshot ${mb(metrics.dbBytes)}), from ${obj.metadata.member}, ` +
            `revision ${obj.metadata.revision}, ${obj.parts > 0 ? `multipart ${obj.parts} parts` : "single PUT"}, ` +
            `SSE-KMS requested with ${kmsKeyId}; sha256 + size + re-download verified; marker updated; ` +
            `script ${secs(run.seconds)}, upload ${secs(metrics.uploadSeconds)}`
          );
        },
      ),
    );

    // ------------------------------------------------------------------ 2. first member down
    const running = c.members.filter((m) => m.running);
    if (running.length >= 3) {
      drills.push(
        await runDrill(
          "backup: with the first member stopped the snapshot comes from the next one",
          async () => {
            const first = c.members[0];
            await c.stopMember(first.name);
            try {
              const run = await runScript(scriptEnv(c.members.map((m) => m.clientUrl)), log);
              expect(run.code === 0, `snapshot.sh exited ${run.code}: ${clip(run.stderr)}`);
              const marker = latest();
              expect(marker, "no marker");
              expect(
                marker.key.endsWith(`-${c.members[1].name}.db.gz`),
                `expected a snapshot from ${c.members[1].name}, got ${marker.key}`,
              );
              const skipped = run.lines.find((l) => l.text.startsWith("snapshot: skipping"))?.text ?? "";
              return `${first.name} stopped → ${clip(skipped)}; uploaded ${marker.key} (${secs(run.seconds)})`;
            } finally {
              await c.startMember(first.name);
            }
          },
        ),
      );
    }

    const afterKey = `${dataPrefix}written-after-the-snapshot`;

    // ------------------------------------------------------------------ 3. corrupted download refused
    drills.push(
      await runDrill("backup: the restore tool refuses a corrupted snapshot download", async () => {
        const marker = latest();
        expect(marker, "no snapshot to corrupt");
        const good = s3.getObject(bucket, marker.key)!;
        const key = `${prefix}corrupted-copy.db.gz`;
        s3.putObject(bucket, key, good.body, good.metadata);
        s3.corrupt(bucket, key, "flip");
        try {
          await restoreSnapshot({
            settings: o.settings,
            from: `s3://${bucket}/${key}`,
            endpointUrl: s3.url,
            env: awsEnv(),
            workDir: path.join(work, "corrupted"),
            etcdctl,
          });
        } catch (e) {
          if (e instanceof RestoreRefused) return `refused: ${e.message}`;
          throw e;
        }
        throw new DrillFailure("the restore tool accepted a corrupted download");
      }),
    );

    // ------------------------------------------------------------------ 4. restore a fresh cluster
    drills.push(
      await runDrill("backup: restore brings a fresh cluster back with the snapshot's data", async () => {
        const marker = latest();
        expect(marker, "no latest marker to restore from");
        const members = c.members.map((m) => ({ name: m.name, ip: m.ip, dnsNames: [] as string[] }));
        for (const m of c.members)
          expect(
            peerUrl(m) === m.peerUrl,
            `member ${m.name} peers at ${m.peerUrl}, the restore plan would use ${peerUrl(m)}`,
          );
        // Written after the snapshot: must NOT be in the restored cluster.
        const after = await runEtcdctl(etcdctl, [
          `--endpoints=${c.clientUrls().join(",")}`,
          ...apiserver,
          "put",
          afterKey,
          "x",
        ]);
        expect(after.code === 0, `put ${afterKey} failed: ${clip(after.output)}`);
        log("backup drill: stopping the original cluster, restoring every member from the same snapshot…");
        for (const m of c.members) await c.stopMember(m.name);
        const freshWork = path.join(work, "restored-cluster");
        const t0 = Date.now();
        const r = await restoreSnapshot({
          settings: { ...o.settings, members },
          from: `s3://${bucket}/${marker.key}`,
          endpointUrl: s3.url,
          apply: { targetDir: path.join(freshWork, "data") },
          env: awsEnv(),
          etcdctl,
          log: (l) => log(`    ${l}`),
        });
        expect(
          r.applied.length === members.length,
          `restored ${r.applied.length} of ${members.length} members`,
        );
        const t1 = Date.now();
        const fresh = await startCluster({
          dir: o.dir,
          workDir: freshWork,
          existingData: "reuse",
          caKeyPem: o.caKeyPem,
          caCertPem: o.caCertPem,
          log: (l) => log(`    ${l}`),
        });
        const clusterStart = (Date.now() - t1) / 1000;
        try {
          const endpoints = fresh.clientUrls();
          const got = await runEtcdctl(etcdctl, [
            `--endpoints=${endpoints.join(",")}`,
            ...apiserver,
            "get",
            dataPrefix,
            "--prefix",
            "-w",
            "json",
          ]);
          expect(got.code === 0, `get from the restored cluster failed: ${clip(got.output)}`);
          const kv = parseGetJson(got.stdout);
          for (const [k, v] of written)
            expect(
              kv.get(k)?.toString() === v,
              `restored cluster: ${k} is ${kv.get(k)?.toString() ?? "missing"}, expected ${v}`,
            );
          for (const [k, digest] of bulkDigests)
            expect(
              kv.has(k) && sha256(kv.get(k)!) === digest,
              `restored cluster: the 1 MiB value ${k} differs or is missing`,
            );
          expect(!kv.has(afterKey), `restored cluster has ${afterKey}, written after the snapshot`);
          const list = await runEtcdctl(etcdctl, [
            `--endpoints=${endpoints[0]}`,
            ...apiserver,
            "member",
            "list",
            "-w",
            "simple",
          ]);
          const names = list.stdout
            .split("\n")
            .filter(Boolean)
            .map((l) => l.split(",")[2]?.trim())
            .sort();
          expect(
            JSON.stringify(names) === JSON.stringify(members.map((m) => m.name).sort()),
            `restored members ${names.join(",")} differ from ${members.map((m) => m.name).join(",")}`,
          );
          metrics.restoreBreakdown = {
            download: r.seconds.download,
            verify: r.seconds.verify,
            apply: r.seconds.apply,
            clusterStart,
          };
          metrics.restoreSeconds = (Date.now() - t0) / 1000;
          return (
            `${members.length} member(s) restored from ${marker.key} (revision ${r.snapshot.revision}, ${r.plan.tool}) into ` +
            `fresh data dirs and started with the same names and addresses: all ${written.size} keys and ` +
            `the ${bulkDigests.size} incompressible 1 MiB values back (sha256), the key written after the snapshot absent; restore ${secs(metrics.restoreSeconds)} ` +
            `(download ${secs(r.seconds.download)}, checks ${secs(r.seconds.verify)}, member restores ${secs(r.seconds.apply)}, ` +
            `cluster healthy ${secs(clusterStart)})`
          );
        } finally {
          await fresh.stop();
        }
      }),
    );
  } finally {
    // Leave the caller's cluster as it was handed over: every member running.
    const stopped = c.members.filter((m) => !m.running);
    if (stopped.length > 0) {
      log(`backup drill: starting the original members again (${stopped.map((m) => m.name).join(", ")})…`);
      for (const m of stopped) await c.startMember(m.name, { waitHealthy: false });
      await c.waitHealthy();
    }
    if (ownS3) await s3.stop();
  }

  // ------------------------------------------------------------------ 5. the numbers
  drills.push(
    await runDrill("backup: RPO and measured times", () => {
      expect(metrics.snapshotBytes !== undefined, "no snapshot was taken");
      expect(metrics.restoreSeconds !== undefined, "no restore completed");
      return (
        `RPO ${rpoMinutes} min (schedule ${schedule}); snapshot ${mb(metrics.snapshotBytes)} gzip ` +
        `(${mb(metrics.dbBytes ?? 0)} raw); upload ${secs(metrics.uploadSeconds ?? NaN)}; ` +
        `restore ${secs(metrics.restoreSeconds)} to a healthy cluster`
      );
    }),
  );
  return { drills, extra: { backup: metrics } };
}
