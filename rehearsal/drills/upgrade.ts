/**
 * Rolling upgrade drill: a live 3-member cluster moves 3.5 → 3.6 → 3.7 (the releases given, oldest
 * first) member by member while a writer keeps writing, each step with the manifests the package renders
 * for that step's etcdVersion — the same certs, new flags (feature gates instead of --experimental-*,
 * /livez and /readyz) — as a node does when its static pod manifest changes. Before each step the shipped
 * preflight checks the live cluster (on the first step it must also name a "zombie" member that was
 * added and never started, and pass once it is removed). Proves: no acknowledged write is lost, every key
 * written before the upgrade is read after it, and the cluster version etcd reports moves each step.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { SecureEtcdSettings } from "../../components/config/schema";
import { renderEtcdManifest } from "../../components/manifests/etcdManifest";
import { renderArtifacts, type RenderedArtifacts } from "../../harness/artifacts";
import { startCluster, type RunningCluster } from "../../harness/cluster";
import { etcdctlTlsArgs, runEtcdctl } from "../../harness/etcdctl";
import { layout } from "../../harness/layout";
import type { EtcdRelease } from "../../harness/upstream";
import { formatPreflight, runPreflight, type PreflightResult } from "../../tools/preflight";
import { clusterVersion } from "../../tools/preflight/live";
import { clip, DrillFailure, expect, runDrill, writeKnownKeys, type DrillResult } from "./types";
import { sleep } from "../../harness/process";
import { lastLine } from "../../tools/shared/process";
import { startWriter, type Writer } from "./upgradeWriter";

export interface UpgradeDrillOptions {
  stack: string;
  /** Scratch directory (artifacts in outDir, the cluster under outDir/run). */
  outDir: string;
  /** Releases to go through, oldest first, one minor apart (e.g. 3.5.36, 3.6.17, 3.7.4). */
  releases: EtcdRelease[];
  log?: (line: string) => void;
}

export interface UpgradeDrillOutcome {
  drills: DrillResult[];
  remaps: string[];
  /** The cluster version etcd reported at the start and after each step. */
  clusterVersions: string[];
}

interface UpgradeRun {
  o: UpgradeDrillOptions;
  a: RenderedArtifacts;
  c: RunningCluster;
  writer: Writer;
  before: Map<string, string>;
  prefix: string;
  clusterVersions: string[];
  log: (line: string) => void;
}

const healthTls = (dir: string) => ({
  cacert: layout.caCert(dir),
  cert: layout.client(dir, "healthcheck-client", "crt"),
  key: layout.client(dir, "healthcheck-client", "key"),
});

export async function runUpgradeDrill(o: UpgradeDrillOptions): Promise<UpgradeDrillOutcome> {
  const log = o.log ?? (() => undefined);
  const [first, ...steps] = o.releases;
  if (!first || steps.length === 0) throw new Error("the upgrade drill needs at least two releases");
  fs.rmSync(o.outDir, { recursive: true, force: true });
  const a = await renderArtifacts({
    stack: o.stack,
    outDir: o.outDir,
    mapMembersToLoopback: true,
    configOverrides: { "secure-etcd:etcdVersion": first.version },
  });
  const c = await startCluster({
    dir: a.outDir,
    workDir: path.join(a.outDir, "run"),
    existingData: "wipe",
    release: first,
    caKeyPem: a.caKeyPem,
    caCertPem: a.caCertPem,
    log: (l) => log(`  ${l}`),
  });
  const prefix = `/rehearsal/upgrade-drill/${Date.now()}/`;
  const r: UpgradeRun = { o, a, c, writer: undefined!, before: new Map(), prefix, clusterVersions: [], log };
  const drills: DrillResult[] = [];
  try {
    drills.push(
      await runDrill(`upgrade: ${first.version} cluster up, keys written, writer started`, () => start(r)),
    );
    let from = first;
    for (const [i, to] of steps.entries()) {
      if (i === 0)
        drills.push(
          await runDrill(
            "upgrade: preflight names a never-started (zombie) member, passes once it is removed",
            () => zombieRefused(r, to),
          ),
        );
      drills.push(
        await runDrill(
          `upgrade: preflight before ${from.version} → ${to.version} passes on the live cluster`,
          () => preflightPasses(r, from, to),
        ),
      );
      drills.push(
        await runDrill(
          `upgrade ${from.version} → ${to.version}: members replaced one at a time with the rendered ${to.minor} manifests under writes; cluster version moves`,
          () => rollTo(r, to),
        ),
      );
      from = to;
    }
    drills.push(
      await runDrill("upgrade: no acknowledged write lost; every key written before is read after", () =>
        readBack(r),
      ),
    );
  } finally {
    await r.writer?.stop();
    await c.stop();
  }
  return { drills, remaps: [...a.remaps, ...c.remaps], clusterVersions: r.clusterVersions };
}

async function start(r: UpgradeRun): Promise<string> {
  const tls = etcdctlTlsArgs(r.a.outDir, "apiserver-etcd-client");
  const put = (key: string, value: string) =>
    runEtcdctl(r.c.etcdctlBinary, [`--endpoints=${r.c.clientUrls().join(",")}`, ...tls, "put", key, value]);
  await writeKnownKeys(put, `${r.prefix}before/`, 50, r.before);
  const v = await clusterVersion(r.c.members[0].clientUrl, healthTls(r.a.outDir));
  r.clusterVersions.push(v.cluster);
  r.writer = startWriter({
    etcdctl: r.c.etcdctlBinary,
    dir: r.a.outDir,
    endpoints: () => r.c.members.map((m) => m.clientUrl),
    prefix: `${r.prefix}writer/`,
  });
  await untilWritten(r, "start", 5);
  return (
    `${r.c.members.length} members on etcd ${r.c.members.map((m) => m.etcdVersion).join(", ")} (cluster version ` +
    `${v.cluster}); ${r.before.size} keys written before the upgrade; writer acknowledged ${r.writer.count("start")} so far`
  );
}

/** Waits until the writer has had `n` writes acknowledged in `phase`. */
async function untilWritten(r: UpgradeRun, phase: string, n: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (r.writer.count(phase) < n) {
    if (Date.now() > deadline)
      throw new DrillFailure(
        `the writer got ${r.writer.count(phase)} writes acknowledged in "${phase}" in ${timeoutMs / 1000} s ` +
          `(${r.writer.retries} retries)`,
      );
    await sleep(100);
  }
}

/** The stack's settings with another etcdVersion: what the package renders for that step. */
function settingsFor(r: UpgradeRun, release: EtcdRelease): SecureEtcdSettings {
  const version = release.version;
  return { ...r.a.settings, etcdVersion: version, etcdImage: `registry.k8s.io/etcd:${version}-0` };
}

function preflight(r: UpgradeRun, to: EtcdRelease, from: EtcdRelease): Promise<PreflightResult> {
  return runPreflight({
    settings: settingsFor(r, to),
    endpoints: r.c.members.map((m) => m.clientUrl),
    tls: healthTls(r.a.outDir),
    etcdctl: from.etcdctl,
    etcdutl: from.etcdutl ?? "etcdutl",
    v2storeDataDirs: r.c.members.map((m) => m.dataDir),
  });
}

async function zombieRefused(r: UpgradeRun, to: EtcdRelease): Promise<string> {
  const tls = etcdctlTlsArgs(r.a.outDir, "healthcheck-client");
  const ctl = (...args: string[]) =>
    runEtcdctl(r.c.etcdctlBinary, [`--endpoints=${r.c.clientUrls().join(",")}`, ...tls, ...args]);
  // A replaced node's member: added, never started (its address is nobody's).
  const zombiePeer = "https://127.0.0.19:2380";
  // etcd refuses a new voting member until every member has been connected for 5 s ("unhealthy cluster").
  let added = await ctl("member", "add", "zombie-cp", `--peer-urls=${zombiePeer}`);
  for (let i = 0; added.code !== 0 && /unhealthy cluster/.test(added.output) && i < 30; i++) {
    await sleep(1000);
    added = await ctl("member", "add", "zombie-cp", `--peer-urls=${zombiePeer}`);
  }
  expect(added.code === 0, `etcdctl member add failed: ${lastLine(added.output)}`);
  // etcdctl prints the id with %16x: space-padded when it has fewer than 16 hex digits.
  const id = /Member\s+([0-9a-f]+)\s+added/.exec(added.stdout)?.[1];
  expect(id, `no member id in: ${clip(added.stdout)}`);
  let refusedDetail: string;
  try {
    const refused = await preflight(r, to, r.c.release);
    const check = refused.checks.find((c) => c.name.startsWith("member list"));
    expect(
      refused.exitCode === 1,
      `preflight exited ${refused.exitCode} with a zombie member:\n${formatPreflight(refused).join("\n")}`,
    );
    expect(
      check?.status === "fail" &&
        check.detail.includes(id) &&
        check.detail.includes(`etcdctl member remove ${id}`),
      `the member list check did not name ${id} and its removal: ${check?.detail}`,
    );
    refusedDetail = check.detail;
  } finally {
    const removed = await ctl("member", "remove", id);
    expect(removed.code === 0, `etcdctl member remove ${id} failed: ${lastLine(removed.output)}`);
  }
  const after = await preflight(r, to, r.c.release);
  const check = after.checks.find((c) => c.name.startsWith("member list"));
  expect(check?.status === "pass", `after removing ${id}: ${check?.detail}`);
  return `refused (exit 1): ${clip(refusedDetail, 220)}; after etcdctl member remove ${id}: ${clip(check.detail, 140)}`;
}

async function preflightPasses(r: UpgradeRun, from: EtcdRelease, to: EtcdRelease): Promise<string> {
  const result = await preflight(r, to, from);
  expect(
    result.exitCode === 0,
    `preflight exited ${result.exitCode}:\n${formatPreflight(result).join("\n")}`,
  );
  return result.checks.map((c) => `${c.name}: ${clip(c.detail, 140)}`).join("; ");
}

/** Replaces every member with `to`'s etcd and rendered manifest, one at a time, and waits for the cluster version. */
async function rollTo(r: UpgradeRun, to: EtcdRelease): Promise<string> {
  const s = settingsFor(r, to);
  const wanted = `${to.minor}.0`;
  const notes: string[] = [];
  for (const m of r.c.members) {
    const manifest = renderEtcdManifest(
      s,
      s.members.find((x) => x.name === m.name)!,
    );
    fs.writeFileSync(layout.etcdManifest(r.a.outDir, m.name), manifest, { mode: 0o600 });
    const phase = `${to.minor}: ${m.name}`;
    r.writer.phase(`${phase} down`);
    await r.c.replaceMember(m.name, to, { timeoutMs: 60_000 });
    r.writer.phase(phase);
    await untilWritten(r, phase, 3);
    const flags = m.args.filter((f) => /feature-gates|watch-progress|experimental/.test(f));
    notes.push(
      `${m.name} → ${to.version} (${flags.join(" ") || "no version flags"}; ${r.writer.count(`${phase} down`)} writes while it restarted)`,
    );
  }
  const deadline = Date.now() + 60_000;
  let seen: string;
  for (;;) {
    const versions = await Promise.all(
      r.c.members.map((m) => clusterVersion(m.clientUrl, healthTls(r.a.outDir))),
    );
    seen = versions.map((v) => v.cluster).join(",");
    if (versions.every((v) => v.cluster === wanted && v.server === to.version)) break;
    if (Date.now() > deadline)
      throw new DrillFailure(`cluster version still ${seen} 60 s after every member ran ${to.version}`);
    await sleep(500);
  }
  const previous = r.clusterVersions[r.clusterVersions.length - 1];
  r.clusterVersions.push(wanted);
  return `${notes.join("; ")}; cluster version ${previous} → ${wanted} (read from every member's /version)`;
}

async function readBack(r: UpgradeRun): Promise<string> {
  await r.writer.stop();
  const tls = etcdctlTlsArgs(r.a.outDir, "apiserver-etcd-client");
  const got = await runEtcdctl(
    r.c.etcdctlBinary,
    [`--endpoints=${r.c.clientUrls().join(",")}`, ...tls, "get", r.prefix, "--prefix", "-w", "json"],
    { commandTimeout: "20s", timeoutMs: 60_000 },
  );
  expect(got.code === 0, `get ${r.prefix} failed: ${clip(got.output)}`);
  const doc = JSON.parse(got.stdout) as { kvs?: { key: string; value?: string }[] };
  const kv = new Map(
    (doc.kvs ?? []).map((x) => [
      Buffer.from(x.key, "base64").toString(),
      Buffer.from(x.value ?? "", "base64").toString(),
    ]),
  );
  const lostBefore = [...r.before].filter(([k, v]) => kv.get(k) !== v).map(([k]) => k);
  expect(
    lostBefore.length === 0,
    `${lostBefore.length} keys written before the upgrade are missing or changed, e.g. ${lostBefore[0]}`,
  );
  const lost = r.writer.acked.filter((w) => kv.get(w.key) !== w.value);
  expect(
    lost.length === 0,
    `${lost.length} acknowledged writes lost, e.g. ${lost[0]?.key} (${lost[0]?.phase})`,
  );
  const phases = [...new Set(r.writer.acked.map((w) => w.phase))];
  expect(r.writer.acked.length > 0, "the writer wrote nothing");
  return (
    `${r.before.size} keys written before read back; all ${r.writer.acked.length} acknowledged writes read back ` +
    `(${r.writer.retries} unacknowledged attempts retried while members restarted), written across ` +
    `${phases.length} phases; cluster version ${r.clusterVersions.join(" → ")}`
  );
}
