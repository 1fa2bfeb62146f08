/**
 * The etcd servers the bench measures, each one member on a free 127.0.0.x address:
 *  - plaintext: `etcd` with http:// client and peer URLs and no certs (the baseline);
 *  - component TLS: the flags of the member's rendered static pod manifest (harness/artifacts renders
 *    the real program under the provider emulation for a key algorithm; harness/clusterPlan maps node
 *    paths onto the artifacts), with client AND peer mutual TLS, cipher suites and all. Only the
 *    listeners change: kubeadm's shared `https://127.0.0.1:2379` client listener and the
 *    `127.0.0.1:2381` metrics listener move to the member's own address (another etcd on this shared
 *    machine may hold 127.0.0.1).
 * Every process is stopped by its pid (ManagedProcess.stop); data lives under the caller's temp dir.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { KeyAlgorithm } from "../components/config/constants";
import type { SecureEtcdSettings } from "../components/config/schema";
import { renderArtifacts } from "../harness/artifacts";
import { planCluster } from "../harness/clusterPlan";
import { withFlags } from "../harness/etcdFlags";
import { etcdctlTlsArgs, runEtcdctl, untilHealthy } from "../harness/etcdctl";
import { layout } from "../harness/layout";
import { freeLoopbackAddress, spawnManaged, type ManagedProcess } from "../harness/process";

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
      timeoutMs: 30_000,
    });
  } catch (err) {
    await e.proc.stop();
    throw err;
  }
}

function finish(e: Omit<BenchEtcd, "stop">): BenchEtcd {
  return { ...e, stop: () => e.proc.stop() };
}

/** Big enough for the 1 GiB snapshot case (etcd's default quota is 2 GiB). */
const quota = `--quota-backend-bytes=${4 * 1024 ** 3}`;

/** A plaintext single-member etcd. */
export async function startPlaintext(workDir: string, label = "plaintext"): Promise<BenchEtcd> {
  const ip = await ipFor();
  const clientUrl = `http://${ip}:2379`;
  const peer = `http://${ip}:2380`;
  const dataDir = path.join(workDir, "data", label);
  const args = [
    `--name=${label}`,
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=${label}=${peer}`,
    `--snapshot-count=10000`,
    quota,
  ];
  const proc = spawnManaged(label, "etcd", args, path.join(workDir, "logs", `${label}.log`));
  const e = { label, ip, clientUrl, dataDir, proc, etcdctlTls: [] };
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
      "secure-etcd:members": JSON.stringify([{ name: member, ip }]),
    },
  });
  return { dir, ip, member, settings: rendered.settings };
}

/** The component's single-member etcd (client + peer mutual TLS) for one key algorithm. */
export async function startComponentTls(
  workDir: string,
  keyAlgorithm: KeyAlgorithm,
  dataDir?: string,
): Promise<BenchEtcd> {
  const { dir, ip, member, settings } = await renderMember(workDir, keyAlgorithm);
  const [plan] = planCluster(dir, path.join(workDir, "cluster", keyAlgorithm));
  const label = `tls-${keyAlgorithm}`;
  const data = dataDir ?? plan.dataDir;
  fs.mkdirSync(path.dirname(data), { recursive: true, mode: 0o700 });
  const args = withFlags(plan.args, {
    "--listen-client-urls": plan.clientUrl,
    "--listen-metrics-urls": `http://${ip}:2381`,
    "--data-dir": data,
    "--quota-backend-bytes": quota.split("=")[1],
  });
  const proc = spawnManaged(member, "etcd", args, path.join(workDir, "logs", `${label}.log`));
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
  const r = await runEtcdctl("etcdctl", [
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
