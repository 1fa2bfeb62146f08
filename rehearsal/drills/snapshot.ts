/**
 * Backup and recovery drill on a running rehearsal cluster, with etcd's own tools: etcdctl saves;
 * status and restore use the tool the capability table names for the cluster's release (etcdctl on
 * 3.4, etcdutl from 3.5 — etcdctl lost both in 3.6):
 *  1. write known keys with the apiserver client cert, `etcdctl snapshot save` naming ONE endpoint with
 *     the backup-client cert;
 *  2. integrity: `snapshot status -w json` (hash, revision, total keys) agrees with what was written,
 *     and a copy with one flipped byte is refused by `snapshot restore` (its SHA-256 check);
 *  3. restore into a fresh data dir as a new single-member cluster on fresh loopback ports, start etcd
 *     from it with the same TLS flags, and read every key back over mutual TLS.
 * Everything it starts is stopped before it returns.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { ClusterMember, RunningCluster } from "../../harness/cluster";
import { flagValue, withFlags } from "../../harness/etcdFlags";
import { endpointHealth, etcdctlTlsArgs, runEtcdctl } from "../../harness/etcdctl";
import { freePort, sleep, spawnManaged, tailFile, type ManagedProcess } from "../../harness/process";
import { parseEtcdVersion, snapshotFileTool } from "../../components/etcd/capabilities";
import { lastLine, run, type RunResult } from "../../tools/shared/process";
import { clip, DrillFailure, expect, runDrill, sha256, writeKnownKeys, type DrillResult } from "./types";

export interface SnapshotDrillOptions {
  /** Artifacts directory. */
  dir: string;
  cluster: RunningCluster;
  /** Scratch space: the snapshot file and the restored data dir go under workDir/snapshot-drill. */
  workDir: string;
  /** Member to take the snapshot from (default: the first running member). */
  from?: string;
  /** How many keys to write before the snapshot (default 25). */
  keys?: number;
  log?: (line: string) => void;
}

export interface SnapshotStatus {
  hash: number;
  revision: number;
  totalKey: number;
  totalSize: number;
}

/** The tool that reads and restores snapshot files for a cluster's release, and its binary. */
export interface SnapshotFileTool {
  name: "etcdutl" | "etcdctl";
  binary: string;
}

export function snapshotFileToolOf(c: RunningCluster): SnapshotFileTool {
  const v = parseEtcdVersion(c.release.version);
  const name = v ? snapshotFileTool(v) : "etcdctl";
  const binary = name === "etcdutl" ? c.etcdutlBinary : c.etcdctlBinary;
  if (!binary)
    throw new DrillFailure(`etcd ${c.release.version} needs etcdutl for snapshot files; none found`);
  return { name, binary };
}

/** `snapshot status|restore …` with that tool (etcdutl takes no client flags). */
export function runSnapshotFileTool(tool: SnapshotFileTool, args: readonly string[]): Promise<RunResult> {
  return tool.name === "etcdctl"
    ? runEtcdctl(tool.binary, args)
    : run(tool.binary, args, { timeoutMs: 60_000 });
}

/** `snapshot status -w json` of a file. */
export async function snapshotStatus(tool: SnapshotFileTool, file: string): Promise<SnapshotStatus> {
  const r = await runSnapshotFileTool(tool, ["snapshot", "status", file, "-w", "json"]);
  if (r.code !== 0) throw new DrillFailure(`${tool.name} snapshot status ${file} failed: ${clip(r.output)}`);
  return JSON.parse(r.stdout) as SnapshotStatus;
}

/** What the drill's steps share. */
interface SnapshotRun {
  o: SnapshotDrillOptions;
  c: RunningCluster;
  source: ClusterMember;
  work: string;
  snapshotFile: string;
  /** Where the drill's keys live, what it wrote there, and the revision after the writes. */
  prefix: string;
  written: Map<string, string>;
  lastRevision: number;
}

export async function runSnapshotDrill(o: SnapshotDrillOptions): Promise<DrillResult[]> {
  const log = o.log ?? (() => undefined);
  const c = o.cluster;
  const source = o.from ? c.member(o.from) : c.members.find((m) => m.running);
  if (!source?.running) throw new Error(`snapshot drill: member ${o.from ?? "(any)"} is not running`);
  const work = path.join(o.workDir, "snapshot-drill");
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true, mode: 0o700 });
  const r: SnapshotRun = {
    o,
    c,
    source,
    work,
    snapshotFile: path.join(work, "snapshot.db"),
    prefix: `/rehearsal/snapshot-drill/${Date.now()}/`,
    written: new Map(),
    lastRevision: 0,
  };
  log(`snapshot drill: writing keys and saving a snapshot from ${source.name}…`);
  const save = await runDrill("snapshot: save from one endpoint with the backup-client cert", () =>
    saveSnapshot(r),
  );
  const afterSave = (name: string, fn: () => Promise<string>) =>
    runDrill(name, () => (save.passed ? fn() : Promise.reject(new DrillFailure("not run: the save failed"))));
  log("snapshot drill: integrity check…");
  const integrity = await afterSave(
    "snapshot: integrity check (status, SHA-256 refuses a corrupted copy)",
    () => checkIntegrity(r),
  );
  log("snapshot drill: restore into a fresh data dir and start a member from it…");
  const restored = await afterSave(
    "snapshot: restore into a fresh data dir; a member started from it serves the keys",
    () => restoreAndServe(r),
  );
  return [save, integrity, restored];
}

async function saveSnapshot(r: SnapshotRun): Promise<string> {
  const { c, source } = r;
  const etcdctl = c.etcdctlBinary;
  const apiserver = etcdctlTlsArgs(r.o.dir, "apiserver-etcd-client");
  const writeVia = c.clientUrls();
  const put = (key: string, value: string) =>
    runEtcdctl(etcdctl, [`--endpoints=${writeVia.join(",")}`, ...apiserver, "put", key, value]);
  await writeKnownKeys(put, r.prefix, r.o.keys ?? 25, r.written);
  const rev = await runEtcdctl(etcdctl, [
    `--endpoints=${source.clientUrl}`,
    ...apiserver,
    ...["get", r.prefix, "--prefix", "--keys-only", "-w", "json"],
  ]);
  r.lastRevision = Number(/"revision":(\d+)/.exec(rev.stdout)?.[1] ?? 0);

  const backup = etcdctlTlsArgs(r.o.dir, "backup-client");
  // etcdctl refuses a snapshot from several endpoints: it must name one member.
  const many = await runEtcdctl(etcdctl, [
    `--endpoints=${c.clientUrls().join(",")}`,
    ...backup,
    ...["snapshot", "save", path.join(r.work, "refused.db")],
  ]);
  const saved = await runEtcdctl(
    etcdctl,
    [`--endpoints=${source.clientUrl}`, ...backup, "snapshot", "save", r.snapshotFile],
    { commandTimeout: "30s", timeoutMs: 60_000 },
  );
  expect(saved.code === 0, `etcdctl snapshot save via ${source.clientUrl} failed: ${clip(saved.output)}`);
  fs.chmodSync(r.snapshotFile, 0o600);
  const size = fs.statSync(r.snapshotFile).size;
  const several = c.clientUrls().length;
  return (
    `wrote ${r.written.size} keys under ${r.prefix} (apiserver-etcd-client cert, revision ${r.lastRevision}); ` +
    `snapshot of ${source.name} (${source.clientUrl}) with the backup-client cert: ${size} bytes` +
    (several > 1
      ? many.code !== 0
        ? `; naming ${several} endpoints was refused (${clip(lastLine(many.output, "(no output)"), 90)})`
        : `; NOTE: etcdctl accepted several endpoints`
      : "")
  );
}

async function checkIntegrity(r: SnapshotRun): Promise<string> {
  const tool = snapshotFileToolOf(r.c);
  const status = await snapshotStatus(tool, r.snapshotFile);
  expect(status.hash !== 0 && status.totalSize > 0, `empty status: ${JSON.stringify(status)}`);
  expect(
    status.revision >= r.lastRevision,
    `snapshot revision ${status.revision} < ${r.lastRevision}, the revision after the writes`,
  );
  expect(
    status.totalKey >= r.written.size,
    `snapshot holds ${status.totalKey} keys, wrote ${r.written.size}`,
  );
  // A flipped byte must be caught by the SHA-256 that `snapshot save` appended.
  const corrupted = path.join(r.work, "corrupted.db");
  const bytes = fs.readFileSync(r.snapshotFile);
  const at = Math.floor(bytes.length / 2);
  bytes[at] ^= 0xff;
  fs.writeFileSync(corrupted, bytes, { mode: 0o600 });
  const restore = await runSnapshotFileTool(tool, [
    ...["snapshot", "restore", corrupted],
    `--data-dir=${path.join(r.work, "corrupted-restore")}`,
  ]);
  expect(restore.code !== 0, `a snapshot with byte ${at} flipped was RESTORED`);
  const sha = sha256(fs.readFileSync(r.snapshotFile));
  return (
    `${tool.name} status: hash ${status.hash}, revision ${status.revision} (>= ${r.lastRevision}), ` +
    `${status.totalKey} keys (>= ${r.written.size}), ${status.totalSize} bytes; file sha256 ${sha.slice(0, 16)}…; ` +
    `copy with byte ${at} flipped refused by restore: ${restoreError(restore.output)}`
  );
}

/** etcdctl prints both hashes as long byte lists; keep the gist. */
const restoreError = (output: string) =>
  /expected sha256/.test(output)
    ? "Error: expected sha256 […], got […] (SHA-256 mismatch)"
    : clip(lastLine(output, "(no output)"), 120);

/** A fresh single-member cluster restored from the snapshot, on 127.0.0.1 (the server cert names it). */
interface RestoredMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  metricsUrl: string;
  token: string;
  dataDir: string;
}

async function restoreAndServe(r: SnapshotRun): Promise<string> {
  const m = await restoreFreshMember(r);
  let proc: ManagedProcess | undefined;
  try {
    proc = await startRestoredMember(r, m);
    const tls = etcdctlTlsArgs(r.o.dir, "apiserver-etcd-client");
    const etcdctl = (...args: string[]) =>
      runEtcdctl(r.c.etcdctlBinary, [`--endpoints=${m.clientUrl}`, ...tls, ...args]);
    const get = await etcdctl("get", r.prefix, "--prefix");
    expect(get.code === 0, `get from the restored member failed: ${clip(get.output)}`);
    const got = parseGet(get.stdout);
    const missing = [...r.written].filter(([k, v]) => got.get(k) !== v).map(([k]) => k);
    expect(
      missing.length === 0,
      `${missing.length} of ${r.written.size} keys missing or different, e.g. ${missing[0]}`,
    );
    const list = await etcdctl("member", "list", "-w", "simple");
    const members = list.stdout.trim().split("\n").filter(Boolean);
    expect(
      members.length === 1 && members[0].includes(m.name),
      `the restored cluster should have exactly one member ${m.name}: ${clip(list.stdout)}`,
    );
    return (
      `restored into ${m.dataDir} (new cluster ${m.name} at ${m.clientUrl}, token ${m.token}), started etcd with ` +
      `${r.source.name}'s TLS flags; all ${r.written.size} keys read back with the apiserver-etcd-client cert; ` +
      `member list: 1 member`
    );
  } finally {
    if (proc) await proc.stop();
  }
}

async function restoreFreshMember(r: SnapshotRun): Promise<RestoredMember> {
  const host = "127.0.0.1";
  const [clientPort, peerPort, metricsPort] = [
    await freePort(host),
    await freePort(host),
    await freePort(host),
  ];
  const name = `${r.source.name}-restored`;
  const m: RestoredMember = {
    name,
    clientUrl: `https://${host}:${clientPort}`,
    peerUrl: `https://${host}:${peerPort}`,
    metricsUrl: `http://${host}:${metricsPort}`,
    token: `${flagValue(r.source.args, "--initial-cluster-token") ?? "etcd"}-restore-${Date.now()}`,
    dataDir: path.join(r.work, "restored-data"),
  };
  fs.rmSync(m.dataDir, { recursive: true, force: true });
  const tool = snapshotFileToolOf(r.c);
  const restore = await runSnapshotFileTool(tool, [
    ...["snapshot", "restore", r.snapshotFile],
    `--name=${name}`,
    `--initial-cluster=${name}=${m.peerUrl}`,
    `--initial-cluster-token=${m.token}`,
    `--initial-advertise-peer-urls=${m.peerUrl}`,
    `--data-dir=${m.dataDir}`,
  ]);
  expect(restore.code === 0, `${tool.name} snapshot restore failed: ${clip(restore.output)}`);
  fs.chmodSync(m.dataDir, 0o700);
  return m;
}

/** The source member's command line (same TLS flags and cipher suites) with the restored identity. */
async function startRestoredMember(r: SnapshotRun, m: RestoredMember): Promise<ManagedProcess> {
  const args = withFlags(r.source.args, {
    "--name": m.name,
    "--data-dir": m.dataDir,
    "--listen-client-urls": m.clientUrl,
    "--advertise-client-urls": m.clientUrl,
    "--listen-peer-urls": m.peerUrl,
    "--initial-advertise-peer-urls": m.peerUrl,
    "--initial-cluster": `${m.name}=${m.peerUrl}`,
    "--initial-cluster-token": m.token,
    "--initial-cluster-state": "new",
    "--listen-metrics-urls": m.metricsUrl,
  });
  const logFile = path.join(r.work, `${m.name}.log`);
  const proc = spawnManaged(m.name, r.c.etcdBinary, args, logFile);
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (proc.exitStatus !== undefined)
        throw new DrillFailure(
          `restored etcd exited (${proc.exitStatus}): ${clip(tailFile(logFile, 5), 400)}`,
        );
      const h = await endpointHealth(r.c.etcdctlBinary, r.o.dir, m.clientUrl);
      if (h.healthy) return proc;
      if (Date.now() > deadline)
        throw new DrillFailure(
          `restored etcd not healthy in 30 s: ${clip(h.output)}; log: ${clip(tailFile(logFile, 5), 400)}`,
        );
      await sleep(300);
    }
  } catch (e) {
    await proc.stop();
    throw e;
  }
}

/** Key/value pairs from `etcdctl get --prefix` output (alternating key and value lines). */
function parseGet(stdout: string): Map<string, string> {
  const lines = stdout.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const out = new Map<string, string>();
  for (let i = 0; i + 1 < lines.length; i += 2) out.set(lines[i], lines[i + 1]);
  return out;
}
