/**
 * The join drill: `member add` an intruder, start a real etcd for it with a peer cert from a CA
 * other than the cluster's and --initial-cluster-state=existing, and show it never joins; then
 * remove it again. With the real CA the same drill fails (the intruder joins), which the tests show.
 */
import { X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ClusterMember, RunningCluster } from "../../harness/cluster";
import { withFlags } from "../../harness/etcdFlags";
import { etcdctlTlsArgs, parseMemberList, runEtcdctl } from "../../harness/etcdctl";
import { issueLeaf, loopbackSource, writePair, type CaPair } from "../../harness/oneHostPki";
import {
  freeLoopbackAddress,
  sleep,
  spawnManaged,
  tailFile,
  type ManagedProcess,
} from "../../harness/process";
import type { RunResult } from "../../tools/shared/process";
import { logSize, rejectionLines } from "./etcdLog";
import { clip, DrillFailure, expect, runDrill, type DrillResult } from "./types";

/** What the drill needs of the TLS drills' context. */
export interface PeerJoinContext {
  dir: string;
  cluster: RunningCluster;
  etcdctl: string;
  running: ClusterMember[];
  /** Whose flags the intruder copies. */
  first: ClusterMember;
  /** The CA the intruder's certs come from unless the caller names another. */
  foreign: CaPair;
  /** Where the intruder's certs, data dir and log go. */
  foreignDir: string;
}

export function peerJoinDrill(
  c: PeerJoinContext,
  o: { peerCa?: CaPair; waitMs?: number } = {},
): Promise<DrillResult> {
  return runDrill("rejected: peer with a foreign-CA cert trying to join", async () => {
    const ca = o.peerCa ?? c.foreign;
    const intruder = await addIntruder(c, ca);
    const offsets = c.running.map((m) => logSize(m.logFile));
    let proc: ManagedProcess | undefined;
    let watched: { joined: boolean; status: string };
    try {
      proc = spawnManaged("intruder", c.cluster.etcdBinary, intruderArgs(c, intruder), intruder.logFile);
      watched = await watchIntruder(c, intruder.id, proc, o.waitMs ?? 6000);
    } finally {
      await removeIntruder(c, intruder.id, proc);
    }
    const after = await memberList(c);
    expect(
      !after.some((r) => r.id === intruder.id),
      `the intruder ${intruder.id} is still listed after member remove: ${after.map((r) => r.id).join(", ")}`,
    );
    if (watched.joined)
      throw new DrillFailure(
        `the intruder with a peer cert from "${new X509Certificate(ca.certPem).subject}" JOINED the cluster ` +
          `(member ${intruder.id} started); removed it again`,
      );
    const said = c.running
      .map((m, i) => rejectionLines(m.logFile, offsets[i])[0])
      .find((l) => l !== undefined);
    const intruderSaid = tailFile(intruder.logFile, 40)
      .split("\n")
      .reverse()
      .find((l) => /error|could not|failed|rejected/i.test(l));
    return (
      `member add intruder (${intruder.peerUrl}) then a real etcd with a foreign-CA peer cert: never started ` +
      `(last status ${watched.status || "unstarted"}; etcd ${proc?.exitStatus !== undefined ? `exited ${proc.exitStatus}` : "kept trying"})` +
      (said ? `; a member logged: ${clip(said, 200)}` : "") +
      (intruderSaid
        ? `; intruder logged: ${clip(intruderSaid.replace(/^\S+ \S+ [A-Z] \| /, ""), 200)}`
        : "") +
      `; member ${intruder.id} removed, ${after.length} members left`
    );
  });
}

interface Intruder {
  id: string;
  ip: string;
  peerUrl: string;
  initialCluster: string;
  server: { cert: string; key: string };
  peer: { cert: string; key: string };
  dataDir: string;
  logFile: string;
}

const tlsOf = (c: PeerJoinContext) => [
  `--endpoints=${c.running.map((m) => m.clientUrl).join(",")}`,
  ...etcdctlTlsArgs(c.dir, "apiserver-etcd-client"),
];

async function memberList(c: PeerJoinContext) {
  const list = await runEtcdctl(c.etcdctl, [...tlsOf(c), "member", "list", "-w", "simple"]);
  return parseMemberList(list.stdout);
}

/** `member add` for an intruder on a free loopback address, with certs from `ca`. */
async function addIntruder(c: PeerJoinContext, ca: CaPair): Promise<Intruder> {
  const ip = await freeLoopbackAddress(
    [2379, 2380],
    c.cluster.members.map((m) => m.ip),
  );
  const peerUrl = `https://${ip}:2380`;
  const pair = (kind: string) =>
    writePair(
      path.join(c.foreignDir, `intruder-${kind}-${ip}`),
      issueLeaf({
        ca,
        commonName: "intruder",
        uses: ["server_auth", "client_auth"],
        ipAddresses: [ip, loopbackSource],
      }),
    );
  const [peer, server] = [pair("peer"), pair("server")];
  const add = await runEtcdctl(c.etcdctl, [
    ...tlsOf(c),
    "member",
    "add",
    "intruder",
    `--peer-urls=${peerUrl}`,
  ]);
  expect(add.code === 0, `etcdctl member add failed: ${clip(add.output)}`);
  const id = /Member\s+([0-9a-f]+)\s+added/.exec(add.stdout)?.[1];
  const initialCluster = /ETCD_INITIAL_CLUSTER="([^"]+)"/.exec(add.stdout)?.[1];
  expect(id && initialCluster, `unexpected member add output: ${clip(add.stdout)}`);
  const dataDir = path.join(c.foreignDir, `intruder-data-${ip}`);
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  return {
    id,
    ip,
    peerUrl,
    initialCluster,
    server,
    peer,
    dataDir,
    logFile: path.join(c.foreignDir, `intruder-${ip}.log`),
  };
}

/** The real member's flags, with the intruder's identity, address and certs (it trusts the real CA: that cert is public). */
function intruderArgs(c: PeerJoinContext, i: Intruder): string[] {
  return withFlags(c.first.args, {
    "--name": "intruder",
    "--data-dir": i.dataDir,
    "--advertise-client-urls": `https://${i.ip}:2379`,
    "--listen-client-urls": `https://${i.ip}:2379`,
    "--listen-peer-urls": i.peerUrl,
    "--initial-advertise-peer-urls": i.peerUrl,
    "--initial-cluster": i.initialCluster,
    "--initial-cluster-state": "existing",
    "--listen-metrics-urls": undefined,
    "--cert-file": i.server.cert,
    "--key-file": i.server.key,
    "--peer-cert-file": i.peer.cert,
    "--peer-key-file": i.peer.key,
  });
}

/** Polls `member list` until the intruder is started (joined), its etcd exits, or `waitMs` passes. */
async function watchIntruder(c: PeerJoinContext, id: string, proc: ManagedProcess, waitMs: number) {
  const deadline = Date.now() + waitMs;
  let status = "";
  while (Date.now() < deadline && proc.exitStatus === undefined) {
    const row = (await memberList(c)).find((r) => r.id === id);
    status = row ? `${row.status}${row.name ? ` as ${row.name}` : ""}` : "gone";
    if (row?.status === "started") return { joined: true, status };
    await sleep(500);
  }
  return { joined: false, status };
}

/** `member remove` (retried: right after an add the cluster may be busy), then stop the intruder's etcd. */
async function removeIntruder(
  c: PeerJoinContext,
  id: string,
  proc: ManagedProcess | undefined,
): Promise<void> {
  let removed: RunResult | undefined;
  for (let attempt = 0; attempt < 3 && removed?.code !== 0; attempt++) {
    if (attempt > 0) await sleep(1000);
    removed = await runEtcdctl(c.etcdctl, [...tlsOf(c), "member", "remove", id]);
  }
  if (proc) await proc.stop(3000);
  if (removed?.code !== 0)
    throw new DrillFailure(
      `could not remove the intruder ${id} again (the cluster now lists it): ${clip(removed?.output ?? "")}`,
    );
}
