/**
 * The etcd servers the bench measures, each one member of the built release `BENCH_ETCD` (harness/upstream)
 * on a free 127.0.0.x address, optionally pinned to CPUs with taskset:
 *  - plaintext: http:// client and peer URLs and no certs (the baseline);
 *  - component TLS: the flags of the member's rendered static pod manifest (harness/artifacts renders
 *    the real program under the provider emulation for a key algorithm; harness/clusterPlan maps node
 *    paths onto the artifacts), with client AND peer mutual TLS, cipher suites and all. Only the
 *    listeners change: kubeadm's shared `https://127.0.0.1:2379` client listener and the
 *    `127.0.0.1:2381` metrics listener move to the member's own address (another etcd on this shared
 *    machine may hold 127.0.0.1).
 * The manifests are rendered for the newest version the capability table supports at or below the release
 * (the flags the bench's release accepts are the same). Every process is stopped by its pid.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { KeyAlgorithm } from "../components/config/constants";
import type { SecureEtcdSettings } from "../components/config/schema";
import { unsupportedVersionReason } from "../components/etcd/capabilities";
import { renderArtifacts } from "../harness/artifacts";
import { planCluster } from "../harness/clusterPlan";
import { withFlags } from "../harness/etcdFlags";
import { etcdctlTlsArgs, runEtcdctl, untilHealthy } from "../harness/etcdctl";
import { layout } from "../harness/layout";
import { freeLoopbackAddress, spawnManaged, type ManagedProcess } from "../harness/process";
import { etcdReleaseFor, type EtcdRelease } from "../harness/upstream";

/** The etcd the bench runs: the 3.7 build (issue 20: ratios on etcd 3.6 or 3.7). */
export const BENCH_ETCD = "3.7.4";

export function benchRelease(): EtcdRelease {
  const r = etcdReleaseFor(BENCH_ETCD);
  if (!r) throw new Error(`no etcd ${BENCH_ETCD} build known (upstream/binaries.json)`);
  return r.release;
}

/** The version the stack settings name: the release's own when the table supports it, else 3.6's newest. */
export function settingsVersionFor(release: EtcdRelease): string {
  return unsupportedVersionReason(release.version) ? "3.6.17" : release.version;
}

export interface ClientTls {
  ca: string;
  cert: string;
  key: string;
}

export interface BenchEtcd {
  label: string;
  ip: string;
  clientUrl: string;
  dataDir: string;
  release: EtcdRelease;
  /** Client cert files (the backup client's) for TLS servers. */
  tls?: ClientTls;
  /** The artifacts directory and the settings they were rendered from (TLS servers). */
  artifactsDir?: string;
  settings?: SecureEtcdSettings;
  proc: ManagedProcess;
  /** `--cacert/--cert/--key` for etcdctl (empty for plaintext). */
  etcdctlTls: string[];
  stop(): Promise<void>;
}

export interface StartOptions {
  /** taskset CPU list for the server (e.g. "0"), when pinned. */
  cpus?: string;
  dataDir?: string;
  quotaBytes?: number;
}

const usedIps: string[] = [];

async function ipFor(): Promise<string> {
  const ip = await freeLoopbackAddress([2379, 2380, 2381], usedIps);
  usedIps.push(ip);
  return ip;
}

async function waitHealthy(e: Omit<BenchEtcd, "stop">): Promise<void> {
  try {
    await untilHealthy({
      name: e.label,
      endpoint: e.clientUrl,
      tlsArgs: e.etcdctlTls,
      proc: e.proc,
      logFile: e.proc.logFile,
      timeoutMs: 60_000,
      etcdctlBinary: e.release.etcdctl,
    });
  } catch (err) {
    await e.proc.stop();
    throw err;
  }
}

function finish(e: Omit<BenchEtcd, "stop">): BenchEtcd {
  return { ...e, stop: () => e.proc.stop() };
}

/** etcd (pinned with taskset when `cpus` is given). */
function spawnEtcd(name: string, release: EtcdRelease, args: string[], logFile: string, cpus?: string) {
  return cpus
    ? spawnManaged(name, "taskset", ["-c", cpus, release.etcd, ...args], logFile)
    : spawnManaged(name, release.etcd, args, logFile);
}

/** Big enough for the 1 GiB snapshot case (etcd's default quota is 2 GiB). */
const defaultQuota = 4 * 1024 ** 3;

/** A plaintext single-member etcd. */
export async function startPlaintext(
  workDir: string,
  label = "plaintext",
  o: StartOptions = {},
): Promise<BenchEtcd> {
  const release = benchRelease();
  const ip = await ipFor();
  const clientUrl = `http://${ip}:2379`;
  const peer = `http://${ip}:2380`;
  const dataDir = o.dataDir ?? path.join(workDir, "data", label);
  const args = [
    `--name=${label}`,
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=${label}=${peer}`,
    `--listen-metrics-urls=http://${ip}:2381`,
    `--snapshot-count=10000`,
    `--quota-backend-bytes=${o.quotaBytes ?? defaultQuota}`,
  ];
  const proc = spawnEtcd(label, release, args, path.join(workDir, "logs", `${label}.log`), o.cpus);
  const e = { label, ip, clientUrl, dataDir, release, proc, etcdctlTls: [] };
  await waitHealthy(e);
  return finish(e);
}

/** Renders the component's artifacts for one member with `keyAlgorithm` (real keys and certs). */
export async function renderMember(
  workDir: string,
  keyAlgorithm: KeyAlgorithm,
): Promise<{ dir: string; ip: string; member: string; settings: SecureEtcdSettings }> {
  const ip = await ipFor();
  const member = `bench-${keyAlgorithm.toLowerCase()}`;
  const dir = path.join(workDir, "artifacts", keyAlgorithm);
  const rendered = await renderArtifacts({
    stack: "local",
    outDir: dir,
    configOverrides: {
      "secure-etcd:keyAlgorithm": keyAlgorithm,
      "secure-etcd:etcdVersion": settingsVersionFor(benchRelease()),
      "secure-etcd:members": JSON.stringify([{ name: member, ip }]),
    },
  });
  return { dir, ip, member, settings: rendered.settings };
}

/** The component's single-member etcd (client + peer mutual TLS) for one key algorithm. */
export async function startComponentTls(
  workDir: string,
  keyAlgorithm: KeyAlgorithm,
  o: StartOptions = {},
): Promise<BenchEtcd> {
  const release = benchRelease();
  const { dir, ip, member, settings } = await renderMember(workDir, keyAlgorithm);
  const [plan] = planCluster(dir, path.join(workDir, "cluster", keyAlgorithm));
  const label = `tls-${keyAlgorithm}`;
  const data = o.dataDir ?? plan.dataDir;
  fs.mkdirSync(path.dirname(data), { recursive: true, mode: 0o700 });
  const args = withFlags(plan.args, {
    "--listen-client-urls": plan.clientUrl,
    "--listen-metrics-urls": `http://${ip}:2381`,
    "--data-dir": data,
    "--quota-backend-bytes": String(o.quotaBytes ?? defaultQuota),
  });
  const proc = spawnEtcd(member, release, args, path.join(workDir, "logs", `${label}.log`), o.cpus);
  const tls = {
    ca: layout.caCert(dir),
    cert: layout.client(dir, "backup-client", "crt"),
    key: layout.client(dir, "backup-client", "key"),
  };
  const e = {
    label,
    ip,
    clientUrl: plan.clientUrl,
    dataDir: data,
    release,
    tls,
    artifactsDir: dir,
    settings,
    proc,
    etcdctlTls: etcdctlTlsArgs(dir, "backup-client"),
  };
  await waitHealthy(e);
  return finish(e);
}

/** `etcdctl endpoint status -w json` → dbSize in bytes. */
export async function dbSize(e: BenchEtcd): Promise<number> {
  const r = await runEtcdctl(e.release.etcdctl, [
    `--endpoints=${e.clientUrl}`,
    ...e.etcdctlTls,
    "endpoint",
    "status",
    "-w",
    "json",
  ]);
  const m = /"dbSize":(\d+)/.exec(r.stdout);
  if (r.code !== 0 || !m) throw new Error(`endpoint status of ${e.label}: ${r.output}`);
  return Number(m[1]);
}
