/**
 * Backup and recovery drill on a running rehearsal cluster, with etcd's own tools (etcd 3.4: etcdctl
 * does save, status and restore; etcdutl arrived in 3.5):
 *  1. write known keys with the apiserver client cert, `etcdctl snapshot save` naming ONE endpoint with
 *     the backup-client cert;
 *  2. integrity: `snapshot status -w json` (hash, revision, total keys) agrees with what was written,
 *     and a copy with one flipped byte is refused by `snapshot restore` (its SHA-256 check);
 *  3. restore into a fresh data dir as a new single-member cluster on fresh loopback ports, start etcd
 *     from it with the same TLS flags, and read every key back over mutual TLS.
 * Everything it starts is stopped before it returns.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { RunningCluster } from "../../harness/cluster";
import { flagValue, withFlags } from "../../harness/etcdFlags";
import { endpointHealth, etcdctlTlsArgs, runEtcdctl } from "../../harness/etcdctl";
import { freePort, sleep, spawnManaged, tailFile, type ManagedProcess } from "../../harness/process";
import { lastLine } from "../../tools/shared/process";
import { clip, DrillFailure, expect, runDrill, writeKnownKeys, type DrillResult } from "./types";

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

/** `etcdctl snapshot status -w json` of a file. */
export async function snapshotStatus(etcdctl: string, file: string): Promise<SnapshotStatus> {
  const r = await runEtcdctl(etcdctl, ["snapshot", "status", file, "-w", "json"]);
  if (r.code !== 0) throw new DrillFailure(`etcdctl snapshot status ${file} failed: ${clip(r.output)}`);
  return JSON.parse(r.stdout) as SnapshotStatus;
}

/** Key/value pairs from `etcdctl get --prefix` output (alternating key and value lines). */
function parseGet(stdout: string): Map<string, string> {
  const lines = stdout.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const out = new Map<string, string>();
  for (let i = 0; i + 1 < lines.length; i += 2) out.set(lines[i], lines[i + 1]);
  return out;
}

export async function runSnapshotDrill(o: SnapshotDrillOptions): Promise<DrillResult[]> {
  const log = o.log ?? (() => undefined);
  const c = o.cluster;
  const source = o.from ? c.member(o.from) : c.members.find((m) => m.running);
  if (!source?.running) throw new Error(`snapshot drill: member ${o.from ?? "(any)"} is not running`);
  const etcdctl = c.etcdctlBinary;
  const work = path.join(o.workDir, "snapshot-drill");
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true, mode: 0o700 });
  const snapshotFile = path.join(work, "snapshot.db");
  const prefix = `/rehearsal/snapshot-drill/${Date.now()}/`;
  const written = new Map<string, string>();
  let lastRevision = 0;
  let status: SnapshotStatus | undefined;
  const results: DrillResult[] = [];
  const notRun = (name: string, why: string) =>
    runDrill(name, () => {
      throw new DrillFailure(`not run: ${why}`);
    });

  log(`snapshot drill: writing keys and saving a snapshot from ${source.name}…`);
  const save = await runDrill("snapshot: save from one endpoint with the backup-client cert", async () => {
    const apiserver = etcdctlTlsArgs(o.dir, "apiserver-etcd-client");
    const writeVia = c.clientUrls();
    const put = (key: string, value: string) =>
      runEtcdctl(etcdctl, [`--endpoints=${writeVia.join(",")}`, ...apiserver, "put", key, value]);
    await writeKnownKeys(put, prefix, o.keys ?? 25, written);
    const rev = await runEtcdctl(etcdctl, [
      `--endpoints=${source.clientUrl}`,
      ...apiserver,
      "get",
      prefix,
      "--prefix",
      "--keys-only",
      "-w",
      "json",
    ]);
    lastRevision = Number(/"revision":(\d+)/.exec(rev.stdout)?.[1] ?? 0);

    const backup = etcdctlTlsArgs(o.dir, "backup-client");
    // etcdctl refuses a snapshot from several endpoints: it must name one member.
    const many = await runEtcdctl(etcdctl, [
      `--endpoints=${c.clientUrls().join(",")}`,
      ...backup,
      "snapshot",
      "save",
      path.join(work, "refused.db"),
    ]);
    const r = await runEtcdctl(
      etcdctl,
      [`--endpoints=${source.clientUrl}`, ...backup, "snapshot", "save", snapshotFile],
      { commandTimeout: "30s", timeoutMs: 60_000 },
    );
    expect(r.code === 0, `etcdctl snapshot save via ${source.clientUrl} failed: ${clip(r.output)}`);
    fs.chmodSync(snapshotFile, 0o600);
    const size = fs.statSync(snapshotFile).size;
    return (
      `wrote ${written.size} keys under ${prefix} (apiserver-etcd-client cert, revision ${lastRevision}); ` +
      `snapshot of ${source.name} (${source.clientUrl}) with the backup-client cert: ${size} bytes` +
      (c.clientUrls().length > 1
        ? many.code !== 0
          ? `; naming ${c.clientUrls().length} endpoints was refused (${clip(lastLine(many.output, "(no output)"), 90)})`
          : `; NOTE: etcdctl accepted several endpoints`
        : "")
    );
  });
  results.push(save);

  log("snapshot drill: integrity check…");
  results.push(
    save.passed
      ? await runDrill("snapshot: integrity check (status, SHA-256 refuses a corrupted copy)", async () => {
          status = await snapshotStatus(etcdctl, snapshotFile);
          expect(status.hash !== 0 && status.totalSize > 0, `empty status: ${JSON.stringify(status)}`);
          expect(
            status.revision >= lastRevision,
            `snapshot revision ${status.revision} < ${lastRevision}, the revision after the writes`,
          );
          expect(
            status.totalKey >= written.size,
            `snapshot holds ${status.totalKey} keys, wrote ${written.size}`,
          );
          // A flipped byte must be caught by the SHA-256 that `snapshot save` appended.
          const corrupted = path.join(work, "corrupted.db");
          const bytes = fs.readFileSync(snapshotFile);
          const at = Math.floor(bytes.length / 2);
          bytes[at] ^= 0xff;
          fs.writeFileSync(corrupted, bytes, { mode: 0o600 });
          const r = await runEtcdctl(etcdctl, [
            "snapshot",
            "restore",
            corrupted,
            `--data-dir=${path.join(work, "corrupted-restore")}`,
          ]);
          expect(r.code !== 0, `a snapshot with byte ${at} flipped was RESTORED`);
          const sha = createHash("sha256").update(fs.readFileSync(snapshotFile)).digest("hex");
          return (
            `status: hash ${status.hash}, revision ${status.revision} (>= ${lastRevision}), ` +
            `${status.totalKey} keys (>= ${written.size}), ${status.totalSize} bytes; file sha256 ${sha.slice(0, 16)}…; ` +
            `copy with byte ${at} flipped refused by restore: ${restoreError(r.output)}`
          );
        })
      : await notRun(
          "snapshot: integrity check (status, SHA-256 refuses a corrupted copy)",
          "the save failed",
        ),
  );

  log("snapshot drill: restore into a fresh data dir and start a member from it…");
  const restoreName = "snapshot: restore into a fresh data dir; a member started from it serves the keys";
  results.push(
    save.passed
      ? await runDrill(restoreName, () =>
          restoreAndServe({ ...o, source, work, snapshotFile, written, prefix }),
        )
      : await notRun(restoreName, "the save failed"),
  );
  return results;
}

/** etcdctl prints both hashes as long byte lists; keep the gist. */
const restoreError = (output: string) =>
  /expected sha256/.test(output)
    ? "Error: expected sha256 […], got […] (SHA-256 mismatch)"
    : clip(lastLine(output, "(no output)"), 120);

async function restoreAndServe(o: {
  dir: string;
  cluster: RunningCluster;
  source: RunningCluster["members"][number];
  work: string;
  snapshotFile: string;
  written: Map<string, string>;
  prefix: string;
}): Promise<string> {
  const etcdctl = o.cluster.etcdctlBinary;
  // A fresh single-member cluster on 127.0.0.1 (the server cert names it) and free ports.
  const host = "127.0.0.1";
  const [clientPort, peerPort, metricsPort] = [
    await freePort(host),
    await freePort(host),
    await freePort(host),
  ];
  const name = `${o.source.name}-restored`;
  const peerUrl = `https://${host}:${peerPort}`;
  const clientUrl = `https://${host}:${clientPort}`;
  const token = `${flagValue(o.source.args, "--initial-cluster-token") ?? "etcd"}-restore-${Date.now()}`;
  const dataDir = path.join(o.work, "restored-data");
  fs.rmSync(dataDir, { recursive: true, force: true });
  const restore = await runEtcdctl(etcdctl, [
    "snapshot",
    "restore",
    o.snapshotFile,
    `--name=${name}`,
    `--initial-cluster=${name}=${peerUrl}`,
    `--initial-cluster-token=${token}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--data-dir=${dataDir}`,
  ]);
  expect(restore.code === 0, `etcdctl snapshot restore failed: ${clip(restore.output)}`);
  fs.chmodSync(dataDir, 0o700);

  // The source member's command line (same TLS flags and cipher suites), with the new identity.
  const args = withFlags(o.source.args, {
    "--name": name,
    "--data-dir": dataDir,
    "--listen-client-urls": clientUrl,
    "--advertise-client-urls": clientUrl,
    "--listen-peer-urls": peerUrl,
    "--initial-advertise-peer-urls": peerUrl,
    "--initial-cluster": `${name}=${peerUrl}`,
    "--initial-cluster-token": token,
    "--initial-cluster-state": "new",
    "--listen-metrics-urls": `http://${host}:${metricsPort}`,
  });
  const logFile = path.join(o.work, `${name}.log`);
  let proc: ManagedProcess | undefined;
  try {
    proc = spawnManaged(name, o.cluster.etcdBinary, args, logFile);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (proc.exitStatus !== undefined)
        throw new DrillFailure(
          `restored etcd exited (${proc.exitStatus}): ${clip(tailFile(logFile, 5), 400)}`,
        );
      const h = await endpointHealth(etcdctl, o.dir, clientUrl);
      if (h.healthy) break;
      if (Date.now() > deadline)
        throw new DrillFailure(
          `restored etcd not healthy in 30 s: ${clip(h.output)}; log: ${clip(tailFile(logFile, 5), 400)}`,
        );
      await sleep(300);
    }
    const apiserver = etcdctlTlsArgs(o.dir, "apiserver-etcd-client");
    const get = await runEtcdctl(etcdctl, [
      `--endpoints=${clientUrl}`,
      ...apiserver,
      "get",
      o.prefix,
      "--prefix",
    ]);
    expect(get.code === 0, `get from the restored member failed: ${clip(get.output)}`);
    const got = parseGet(get.stdout);
    const missing = [...o.written].filter(([k, v]) => got.get(k) !== v).map(([k]) => k);
    expect(
      missing.length === 0,
      `${missing.length} of ${o.written.size} keys missing or different, e.g. ${missing[0]}`,
    );
    const list = await runEtcdctl(etcdctl, [
      `--endpoints=${clientUrl}`,
      ...apiserver,
      "member",
      "list",
      "-w",
      "simple",
    ]);
    const members = list.stdout.trim().split("\n").filter(Boolean);
    expect(
      members.length === 1 && members[0].includes(name),
      `the restored cluster should have exactly one member ${name}: ${clip(list.stdout)}`,
    );
    return (
      `restored into ${dataDir} (new cluster ${name} at ${clientUrl}, token ${token}), started etcd with ` +
      `${o.source.name}'s TLS flags; all ${o.written.size} keys read back with the apiserver-etcd-client cert; ` +
      `member list: 1 member`
    );
  } finally {
    if (proc) await proc.stop();
  }
}
