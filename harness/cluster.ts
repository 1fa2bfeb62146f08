/**
 * Runs a real etcd cluster on this machine from rendered artifacts: one etcd process per member with
 * the flags of that member's static pod manifest, changed only where one host forces it (see
 * clusterPlan.ts; every change is in `remaps`, for the caller to list once), with the binaries of the
 * release the manifests name (the built release of that minor, harness/upstream.ts) unless told which.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  manifestEtcdVersion,
  manifestMembers,
  planCluster,
  type InstalledNode,
  type MemberPlan,
} from "./clusterPlan";
import { etcdctlTlsArgs, untilHealthy } from "./etcdctl";
import { layout } from "./layout";
import { portProblem, requireBinary, spawnManaged, type ManagedProcess } from "./process";
import { etcdReleaseAt, etcdReleaseFor, type EtcdRelease } from "./upstream";

export interface StartClusterOptions {
  /** Artifacts directory (DIR/pki, DIR/manifests/<member>/etcd.yaml, ...). */
  dir: string;
  /** Scratch space: data dirs (workDir/data/<member>) and logs (workDir/logs/<member>.log). */
  workDir: string;
  /** Members to start now (default: every member with a manifest); the others can be started later. */
  members?: string[];
  /** Progress lines. */
  log?: (line: string) => void;
  /**
   * The etcd release to run (binaries and version). Default: the built (or Debian's) release of the
   * minor the manifests' image tag names, a different patch listed as a remap; else etcd on PATH.
   */
  release?: EtcdRelease;
  /** Explicit binaries (override `release`). */
  etcdBinary?: string;
  etcdctlBinary?: string;
  /** How long every started member may take to report healthy (default 60 s). */
  healthTimeoutMs?: number;
  /** Skip the health wait (e.g. when starting fewer members than a quorum). */
  waitHealthy?: boolean;
  /** What to do with a non-empty data dir from an earlier run: refuse (default), wipe it, or reuse it. */
  existingData?: ExistingData;
  /** The etcd CA key (never written to DIR): needed to re-issue peer certs for one host. */
  caKeyPem?: string;
  /** The etcd CA cert; default DIR/pki/ca.crt. */
  caCertPem?: string;
  /**
   * Members installed into scratch node roots (by the node bootstrap): each runs from its root's manifest
   * and files instead of DIR's. See clusterPlan.ts.
   */
  installed?: Record<string, InstalledNode>;
}

type ExistingData = "error" | "wipe" | "reuse";

export interface ClusterMember {
  name: string;
  /** The member's (loopback) address, from its advertised client URL. */
  ip: string;
  /** pid of the current (or last) etcd process; 0 if never started. */
  pid: number;
  /** Every pid this member ran as, restarts included, in order. */
  pids: number[];
  running: boolean;
  clientUrl: string;
  peerUrl: string;
  metricsUrl: string;
  dataDir: string;
  logFile: string;
  /** The etcd release this member runs (members differ while an upgrade rolls through). */
  etcdVersion: string;
  /** Arguments as rendered in the manifest (without the `etcd` command). */
  renderedArgs: string[];
  /** Arguments etcd actually runs with, after the remaps. */
  args: string[];
}

export interface RunningCluster {
  dir: string;
  workDir: string;
  /** The release the cluster was started with (see StartClusterOptions.release). */
  release: EtcdRelease;
  etcdBinary: string;
  etcdctlBinary: string;
  /** etcdutl of that release (3.5+). */
  etcdutlBinary?: string;
  members: ClusterMember[];
  /** Human-readable, one line per change made to the rendered flags. */
  remaps: string[];
  member(name: string): ClusterMember;
  /** Client URLs of the members that are running. */
  clientUrls(): string[];
  /** Stops one member (SIGTERM, then SIGKILL) and waits until its process is gone. */
  stopMember(name: string): Promise<void>;
  /** Starts a member (again) with the same flags and data dir; waits until healthy unless told not to. */
  startMember(name: string, o?: { waitHealthy?: boolean; timeoutMs?: number }): Promise<ClusterMember>;
  /**
   * Replaces one member's etcd with another release, as a node does when its static pod manifest changes:
   * stops it, reads its (new) manifest again, starts the release's etcd on the same data dir and waits
   * until it is healthy. Returns the remaps of the new command line.
   */
  replaceMember(name: string, release: EtcdRelease, o?: { timeoutMs?: number }): Promise<string[]>;
  /** Waits until each named (default: every running) member reports healthy. */
  waitHealthy(names?: string[], timeoutMs?: number): Promise<void>;
  /** Stops every member; resolves when all processes have exited. Safe to call twice. */
  stop(): Promise<void>;
}

/** Starts the members' etcd processes and waits until each reports healthy over mutual TLS. */
export async function startCluster(o: StartClusterOptions): Promise<RunningCluster> {
  const dir = path.resolve(o.dir);
  const workDir = path.resolve(o.workDir);
  fs.mkdirSync(workDir, { recursive: true, mode: 0o700 });
  const { release, remap } = chooseRelease(o, dir);
  const ca = o.caKeyPem
    ? { keyPem: o.caKeyPem, certPem: o.caCertPem ?? fs.readFileSync(layout.caCert(dir), "utf8") }
    : undefined;
  const plan = () => planCluster(dir, workDir, ca, o.installed);
  const cluster = new LocalCluster(o, { dir, workDir, release, plan }, remap);
  const selected = o.members ?? cluster.members.map((m) => m.name);
  try {
    for (const name of selected) await cluster.launch(name, o.existingData ?? "error");
    if (o.waitHealthy ?? true) await cluster.waitHealthy(selected);
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  return cluster;
}

/**
 * Which etcd runs the cluster: explicit binaries, else the given release, else the release of the
 * version the manifests' image names (built, or Debian's for 3.4), else etcd on PATH.
 */
function chooseRelease(o: StartClusterOptions, dir: string): { release: EtcdRelease; remap?: string } {
  if (o.etcdBinary || o.etcdctlBinary) {
    const etcd = requireBinary(o.etcdBinary ?? "etcd");
    return { release: etcdReleaseAt(etcd, requireBinary(o.etcdctlBinary ?? "etcdctl")) };
  }
  const first = o.installed ? Object.values(o.installed)[0]?.manifestFile : undefined;
  const file = first ?? layout.etcdManifest(dir, manifestMembers(dir)[0]);
  const rendered = manifestEtcdVersion(file);
  if (o.release) {
    const r = o.release;
    const remap =
      rendered && rendered !== r.version
        ? `etcd ${rendered} → ${r.version} (the manifests name ${rendered}; this run uses ${r.source === "debian" ? "Debian's etcd" : `the ${r.source} release`} ${r.version})`
        : undefined;
    return { release: r, remap };
  }
  const found = rendered ? etcdReleaseFor(rendered) : undefined;
  if (found) return found;
  return { release: etcdReleaseAt(requireBinary("etcd"), requireBinary("etcdctl")) };
}

class LocalCluster implements RunningCluster {
  readonly dir: string;
  readonly workDir: string;
  readonly release: EtcdRelease;
  readonly etcdBinary: string;
  readonly etcdctlBinary: string;
  readonly etcdutlBinary?: string;
  readonly members: ClusterMember[];
  readonly remaps: string[];
  private plans: Map<string, MemberPlan>;
  private readonly releases = new Map<string, EtcdRelease>();
  private readonly plan: () => MemberPlan[];
  private readonly procs = new Map<string, ManagedProcess>();
  private readonly stopping = new Set<ManagedProcess>();
  private readonly log: (line: string) => void;
  private stopped = false;

  constructor(
    private readonly o: StartClusterOptions,
    where: { dir: string; workDir: string; release: EtcdRelease; plan: () => MemberPlan[] },
    releaseRemap: string | undefined,
  ) {
    this.dir = where.dir;
    this.workDir = where.workDir;
    this.release = where.release;
    this.etcdBinary = where.release.etcd;
    this.etcdctlBinary = where.release.etcdctl;
    this.etcdutlBinary = where.release.etcdutl;
    this.log = o.log ?? (() => undefined);
    this.plan = where.plan;
    const plans = this.plan();
    this.plans = new Map(plans.map((p) => [p.name, p]));
    this.remaps = [...(releaseRemap ? [releaseRemap] : []), ...plans.flatMap((p) => p.remaps)];
    for (const p of plans) this.releases.set(p.name, where.release);
    this.members = plans.map((p) => ({
      name: p.name,
      ip: p.ip,
      pid: 0,
      pids: [],
      running: false,
      clientUrl: p.clientUrl,
      peerUrl: p.peerUrl,
      metricsUrl: p.metricsUrl,
      dataDir: p.dataDir,
      logFile: p.logFile,
      etcdVersion: where.release.version,
      renderedArgs: p.renderedArgs,
      args: p.args,
    }));
  }

  member(name: string): ClusterMember {
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new Error(`no member ${name}; members: ${this.members.map((x) => x.name).join(", ")}`);
    return m;
  }

  clientUrls(): string[] {
    return this.members.filter((m) => m.running).map((m) => m.clientUrl);
  }

  async launch(name: string, existingData: ExistingData): Promise<void> {
    const m = this.member(name);
    const p = this.plans.get(m.name)!;
    if (m.running) throw new Error(`member ${name} is already running (pid ${m.pid})`);
    await checkPorts(p);
    prepareDataDir(p.dataDir, existingData);
    fs.mkdirSync(path.dirname(p.logFile), { recursive: true, mode: 0o700 });
    const binary = (this.releases.get(name) ?? this.release).etcd;
    fs.appendFileSync(p.logFile, `--- ${new Date().toISOString()} ${binary} ${p.args.join(" ")}\n`, {
      mode: 0o600,
    });
    const release = this.releases.get(name) ?? this.release;
    const proc = spawnManaged(name, release.etcd, p.args, p.logFile);
    this.procs.set(name, proc);
    m.pid = proc.pid;
    m.pids.push(proc.pid);
    m.running = true;
    void proc.exited.then((status) => {
      if (this.procs.get(name) !== proc) return;
      m.running = false;
      // Only an exit nobody asked for is news; stopMember and stop say so themselves.
      if (!this.stopping.has(proc)) this.log(`${name}: etcd pid ${proc.pid} exited (${status})`);
    });
    this.log(
      `${name}: started etcd pid ${proc.pid} (client ${p.clientUrl}, peer ${p.peerUrl}, log ${p.logFile})`,
    );
  }

  async waitHealthy(names?: string[], timeoutMs = this.o.healthTimeoutMs ?? 60_000): Promise<void> {
    const targets = names ?? this.members.filter((m) => m.running).map((m) => m.name);
    const deadline = Date.now() + timeoutMs;
    await Promise.all(targets.map((name) => this.untilHealthy(name, deadline, timeoutMs)));
  }

  private async untilHealthy(name: string, deadline: number, timeoutMs: number): Promise<void> {
    const m = this.member(name);
    await untilHealthy({
      name,
      endpoint: m.clientUrl,
      tlsArgs: etcdctlTlsArgs(this.dir, "healthcheck-client"),
      proc: this.procs.get(name),
      logFile: m.logFile,
      timeoutMs,
      deadline,
      etcdctlBinary: this.etcdctlBinary,
    });
    this.log(`${name}: healthy at ${m.clientUrl}`);
  }

  async stopMember(name: string): Promise<void> {
    const m = this.member(name);
    const proc = this.procs.get(name);
    if (!proc) return;
    this.stopping.add(proc);
    await proc.stop();
    m.running = false;
    this.log(`${name}: stopped (pid ${proc.pid})`);
  }

  async startMember(
    name: string,
    so: { waitHealthy?: boolean; timeoutMs?: number } = {},
  ): Promise<ClusterMember> {
    if (this.stopped) throw new Error("the cluster was stopped");
    await this.launch(name, "reuse");
    if (so.waitHealthy ?? true) await this.waitHealthy([name], so.timeoutMs);
    return this.member(name);
  }

  async replaceMember(name: string, release: EtcdRelease, o: { timeoutMs?: number } = {}): Promise<string[]> {
    if (this.stopped) throw new Error("the cluster was stopped");
    const m = this.member(name);
    await this.stopMember(name);
    const plan = this.plan().find((p) => p.name === name);
    if (!plan) throw new Error(`no manifest for member ${name} any more`);
    if (plan.dataDir !== m.dataDir)
      throw new Error(
        `member ${name}'s data dir moved (${m.dataDir} → ${plan.dataDir}); refusing to start it empty`,
      );
    this.plans.set(name, plan);
    this.releases.set(name, release);
    Object.assign(m, { renderedArgs: plan.renderedArgs, args: plan.args, etcdVersion: release.version });
    this.log(`${name}: replacing etcd with ${release.version} (${release.etcd})`);
    await this.startMember(name, { timeoutMs: o.timeoutMs });
    return plan.remaps;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // One at a time: a leader that gets SIGTERM hands leadership to a connected peer first; if all
    // stop at once it waits ~7 s for a transfer to a peer that is itself shutting down.
    for (const p of this.procs.values()) {
      this.stopping.add(p);
      await p.stop();
    }
    for (const m of this.members) m.running = false;
    if (this.procs.size > 0) this.log(`stopped ${this.procs.size} etcd process(es)`);
    this.procs.clear();
  }
}

async function checkPorts(p: MemberPlan): Promise<void> {
  for (const l of p.listeners) {
    const problem = await portProblem(l.host, l.port);
    if (problem)
      throw new Error(
        `cannot start ${p.name}: ${l.host}:${l.port} (${l.flag}) is ${problem}; stop whatever holds it`,
      );
  }
}

function prepareDataDir(dataDir: string, mode: ExistingData): void {
  fs.mkdirSync(path.dirname(dataDir), { recursive: true, mode: 0o700 });
  if (fs.existsSync(dataDir) && fs.readdirSync(dataDir).length > 0) {
    if (mode === "wipe") fs.rmSync(dataDir, { recursive: true, force: true });
    else if (mode !== "reuse")
      throw new Error(
        `data dir ${dataDir} is not empty (an earlier run?); remove it or pass existingData: "wipe" | "reuse"`,
      );
  }
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dataDir, 0o700);
}
