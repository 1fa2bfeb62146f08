/**
 * Step 4 of the backup drill: stop the original cluster, restore every member from the snapshot the
 * latest marker names (the restore library with `apply`), start a fresh cluster with the same member
 * names and addresses from those data dirs, and prove it serves exactly the snapshot's data.
 */
import * as path from "node:path";
import { peerUrl } from "../../components/manifests/urls";
import { startCluster, type RunningCluster } from "../../harness/cluster";
import { parseMemberList, runEtcdctl } from "../../harness/etcdctl";
import { restoreSnapshot } from "../../tools/restore";
import type { BackupRun } from "./backup";
import { clip, expect, secs, sha256 } from "./types";

export async function restoredClusterServesTheSnapshot(r: BackupRun): Promise<string> {
  const marker = await r.latest();
  expect(marker, "no latest marker to restore from");
  const members = r.c.members.map((m) => ({ name: m.name, ip: m.ip, dnsNames: [] as string[] }));
  for (const m of r.c.members)
    expect(
      peerUrl(m) === m.peerUrl,
      `member ${m.name} peers at ${m.peerUrl}, the restore plan would use ${peerUrl(m)}`,
    );
  // Written after the snapshot: must NOT be in the restored cluster.
  const afterKey = `${r.dataPrefix}written-after-the-snapshot`;
  const after = await etcdctl(r, r.c.clientUrls(), ["put", afterKey, "x"]);
  expect(after.code === 0, `put ${afterKey} failed: ${clip(after.output)}`);
  r.log("backup drill: stopping the original cluster, restoring every member from the same snapshot…");
  for (const m of r.c.members) await r.c.stopMember(m.name);
  const freshWork = path.join(r.work, "restored-cluster");
  const t0 = Date.now();
  const restored = await restoreSnapshot({
    settings: { ...r.o.settings, members },
    from: `s3://${r.s3.bucket}/${marker.key}`,
    endpointUrl: r.s3.endpoint,
    apply: { targetDir: path.join(freshWork, "data") },
    env: r.readerEnv(),
    etcdctl: r.c.etcdctlBinary,
    etcdutl: r.c.etcdutlBinary,
    log: (l) => r.log(`    ${l}`),
  });
  expect(
    restored.applied.length === members.length,
    `restored ${restored.applied.length} of ${members.length} members`,
  );
  const t1 = Date.now();
  const fresh = await startCluster({
    dir: r.o.dir,
    workDir: freshWork,
    existingData: "reuse",
    release: r.c.release,
    caKeyPem: r.o.caKeyPem,
    caCertPem: r.o.caCertPem,
    log: (l) => r.log(`    ${l}`),
  });
  const clusterStart = (Date.now() - t1) / 1000;
  try {
    await checkRestoredData(r, fresh, afterKey);
    await checkRestoredMembers(
      r,
      fresh,
      members.map((m) => m.name),
    );
  } finally {
    await fresh.stop();
  }
  const { download, verify, apply } = restored.seconds;
  r.metrics.restoreBreakdown = { download, verify, apply, clusterStart };
  r.metrics.restoreSeconds = (Date.now() - t0) / 1000;
  return (
    `${members.length} member(s) restored from ${marker.key} (revision ${restored.snapshot.revision}, ${restored.plan.tool}) into ` +
    `fresh data dirs and started with the same names and addresses: all ${r.written.size} keys and ` +
    `the ${r.bulkDigests.size} incompressible 1 MiB values back (sha256), the key written after the snapshot absent; ` +
    `restore ${secs(r.metrics.restoreSeconds)} (download ${secs(download)}, checks ${secs(verify)}, ` +
    `member restores ${secs(apply)}, cluster healthy ${secs(clusterStart)})`
  );
}

const etcdctl = (r: BackupRun, endpoints: string[], args: string[]) =>
  runEtcdctl(r.c.etcdctlBinary, [`--endpoints=${endpoints.join(",")}`, ...r.apiserverTls, ...args]);

/** Every key the drill wrote before the snapshot is back with its value; the one written after is not. */
async function checkRestoredData(r: BackupRun, fresh: RunningCluster, afterKey: string): Promise<void> {
  const got = await etcdctl(r, fresh.clientUrls(), ["get", r.dataPrefix, "--prefix", "-w", "json"]);
  expect(got.code === 0, `get from the restored cluster failed: ${clip(got.output)}`);
  const kv = parseGetJson(got.stdout);
  for (const [k, v] of r.written)
    expect(
      kv.get(k)?.toString() === v,
      `restored cluster: ${k} is ${kv.get(k)?.toString() ?? "missing"}, expected ${v}`,
    );
  for (const [k, digest] of r.bulkDigests)
    expect(
      kv.has(k) && sha256(kv.get(k)!) === digest,
      `restored cluster: the 1 MiB value ${k} differs or is missing`,
    );
  expect(!kv.has(afterKey), `restored cluster has ${afterKey}, written after the snapshot`);
}

async function checkRestoredMembers(r: BackupRun, fresh: RunningCluster, expected: string[]): Promise<void> {
  const list = await etcdctl(r, fresh.clientUrls().slice(0, 1), ["member", "list", "-w", "simple"]);
  const names = parseMemberList(list.stdout)
    .map((m) => m.name)
    .sort();
  expect(
    JSON.stringify(names) === JSON.stringify([...expected].sort()),
    `restored members ${names.join(",")} differ from ${expected.join(",")}`,
  );
}

/** `etcdctl get ... -w json` → key → value bytes (keys and values arrive base64-encoded, so binary is safe). */
function parseGetJson(stdout: string): Map<string, Buffer> {
  const doc = JSON.parse(stdout) as { kvs?: { key: string; value?: string }[] };
  const out = new Map<string, Buffer>();
  for (const kv of doc.kvs ?? [])
    out.set(Buffer.from(kv.key, "base64").toString(), Buffer.from(kv.value ?? "", "base64"));
  return out;
}
