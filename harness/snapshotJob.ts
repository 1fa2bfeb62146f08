/**
 * Running the snapshot job here as the CronJob runs it: `node components/backup/runner/snapshot.js` with
 * the environment renderCronJob.ts gives the container (the tool that reads a snapshot from the etcd
 * capability table, the bucket, prefix and key, the backup client's files), pointed at a local etcd and
 * the snapshot bucket (harness/snapshotBucket.ts). Used by the tests, the backup drill and the bench.
 */
import * as path from "node:path";
import { snapshotRunnerPath } from "../components/backup/snapshotRunner";
import { etcdCapabilities, parseEtcdVersion } from "../components/etcd/capabilities";
import { run, type RunResult } from "../tools/shared/process";
import { cleanEnv } from "./process";
import type { BucketRole, SnapshotBucket } from "./snapshotBucket";

export interface SnapshotJobTarget {
  /** Client URLs in member order (`https://…:2379`, or `name=https://…`). */
  endpoints: string[];
  tls: { ca: string; cert: string; key: string };
  /** The etcd version the stack runs (ETCD_VERSION; the capability table picks the status tool from it). */
  etcdVersion: string;
  /** etcdctl (and etcdutl) of that version; their directory goes first on PATH. */
  etcdctl: string;
  etcdutl?: string;
}

/** The tool of `version` that reads a snapshot, from the capability table (as the CronJob is rendered). */
export function statusToolFor(version: string): "etcdutl" | "etcdctl" {
  const v = parseEtcdVersion(version);
  if (!v) throw new Error(`not an etcd version: ${version}`);
  return etcdCapabilities(v).etcdutl ? "etcdutl" : "etcdctl";
}

export function snapshotJobEnv(
  b: SnapshotBucket,
  t: SnapshotJobTarget,
  o: {
    workDir: string;
    home: string;
    role?: BucketRole;
    encryptionKeys?: string;
    extra?: Record<string, string>;
  },
): NodeJS.ProcessEnv {
  const base = cleanEnv();
  for (const k of Object.keys(base)) if (k.startsWith("AWS_")) delete base[k];
  return {
    ...base,
    ...b.env(o.role ?? "writer"),
    HOME: o.home,
    PATH: `${path.dirname(t.etcdctl)}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    ETCDCTL: t.etcdctl,
    ETCDUTL: t.etcdutl ?? "etcdutl",
    ETCD_ENDPOINTS: t.endpoints.join(","),
    S3_BUCKET: b.bucket,
    S3_PREFIX: b.prefix,
    KMS_KEY_ID: b.kmsKeyArn,
    ETCD_VERSION: t.etcdVersion,
    ETCD_STATUS_TOOL: statusToolFor(t.etcdVersion),
    ENCRYPTION_KEYS: o.encryptionKeys ?? "",
    ETCD_CACERT: t.tls.ca,
    ETCD_CERT: t.tls.cert,
    ETCD_KEY: t.tls.key,
    WORK_DIR: o.workDir,
    ...(o.extra ?? {}),
  };
}

export interface JobRun extends RunResult {
  /** stdout lines with the time each arrived (phases and upload timing come from them). */
  lines: { t: number; text: string }[];
  started: number;
}

export async function runSnapshotJob(
  env: NodeJS.ProcessEnv,
  o: { timeoutMs?: number; onLine?: (line: string) => void; node?: string; wrapper?: string[] } = {},
): Promise<JobRun> {
  const lines: JobRun["lines"] = [];
  const started = Date.now();
  // `wrapper` runs it under another command (the bench's /usr/bin/time).
  const [cmd, ...args] = [...(o.wrapper ?? []), o.node ?? process.execPath, snapshotRunnerPath];
  const r = await run(cmd, args, {
    env,
    timeoutMs: o.timeoutMs ?? 10 * 60_000,
    onLine: (text) => {
      lines.push({ t: Date.now(), text });
      o.onLine?.(text);
    },
  });
  return { ...r, lines, started };
}
