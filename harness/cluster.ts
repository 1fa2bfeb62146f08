/**
 * Runs a real etcd cluster on this machine from rendered artifacts: one etcd process per member with
 * the flags of that member's static pod manifest, as rendered. Only what cannot work on one host is
 * changed, and every change is returned in `remaps`:
 *  - node paths (kubeadm's /etc/kubernetes/pki/..., /var/lib/etcd) → the files in the artifacts
 *    directory and a per-member data dir under workDir;
 *  - listeners every member declares identically (kubeadm's `https://127.0.0.1:2379` client listener
 *    and `http://127.0.0.1:2381` metrics) → the shared client listener is dropped (the member still
 *    serves clients on its own address), metrics move to the member's own address.
 *  - peer certs: etcd (3.2+) checks that a connecting peer's source address is one of the SANs of the
 *    client cert it presents. On one Linux host every connection between 127.0.0.x addresses comes
 *    from 127.0.0.1, so each member's peer cert is re-issued by the same CA, with the same key,
 *    subject, usages and SANs plus IP 127.0.0.1 (needs the CA key; skipped if the SAN is already there).
 * TLS flags, cipher suites, --initial-cluster, the token and everything else are passed through.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { layout } from "./artifacts";
import { certSans, loopbackSource, reissueWithExtraIps, type CaPair } from "./oneHostPki";
import {
  installHint,
  isLoopbackIp,
  livePids,
  portProblem,
  requireBinary,
  run,
  cleanEnv,
  sleep,
  spawnManaged,
  tailFile,
  type ManagedProcess,
  type RunResult,
} from "./process";

export { installHint, livePids };

export type { ClientRole } from "../components/secureEtcd";
import type { ClientRole } from "../components/secureEtcd";

export interface StartClusterOptions {
  /** Artifacts directory (DIR/pki, DIR/manifests/<member>/etcd.yaml, ...). */
  dir: string;
  /** Scratch space: data dirs (workDir/data/<member>) and logs (workDir/logs/<member>.log). */
  workDir: string;
  /** Members to start now (default: every member with a manifest); the others can be started later. */
  members?: string[];
  /** Progress lines. */
  log?: (line: string) => void;
  etcdBinary?: string;
  etcdctlBinary?: string;
  /** How long every started member may take to report healthy (default 60 s). */
  healthTimeoutMs?: number;
  /** Skip the health wait (e.g. when starting fewer members than a quorum). */
  waitHealthy?: boolean;
  /** What to do with a non-empty data dir from an earlier run: refuse (default), wipe it, or reuse it. */
  existingData?: "error" | "wipe" | "reuse";
  /** The etcd CA key (never written to DIR): needed to re-issue peer certs for one host (see above). */
  caKeyPem?: string;
  /** The etcd CA cert; default DIR/pki/ca.crt. */
  caCertPem?: string;
}

export interface ClusterMember {
  name: string;
  /** The member's (loopback) address, from its advertised client URL. */
  ip: string;
  /** pid of the current (or last) etcd process; 0 if never started. */
  pid: number;
  running: boolean;
  clientUrl: string;
  peerUrl: string;
  metricsUrl: string;
  dataDir: string;
  logFile: string;
  /** Arguments as rendered in the manifest (without the `etcd` command). */
  renderedArgs: string[];
  /** Arguments etcd actually runs with, after the remaps. */
  args: string[];
}

export interface RunningCluster {
  dir: string;
  workDir: string;
  etcdBinary: string;
  etcdctlBinary: string;
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
  /** Waits until each named (default: every running) member reports healthy. */
  waitHealthy(names?: string[], timeoutMs?: number): Promise<void>;
  /** Stops every member; resolves when all processes have exited. Safe to call twice. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Flags

export type Flag = [name: string, value: string | undefined];

export function parseFlags(args: readonly string[]): Flag[] {
  return args.map((a) => {
    if (!a.startsWith("--"))
      throw new Error(`unexpected etcd argument ${JSON.stringify(a)} (expected --flag=value)`);
    const eq = a.indexOf("=");
    return eq < 0 ? [a, undefined] : [a.slice(0, eq), a.slice(eq + 1)];
  });
}

export const formatFlags = (flags: readonly Flag[]) =>
  flags.map(([k, v]) => (v === undefined ? k : `${k}=${v}`));

export function flagValue(args: readonly string[], name: string): string | undefined {
  return parseFlags(args).find(([k]) => k === name)?.[1];
}

/** Replaces (or appends) flags; `undefined` removes a flag. */
export function withFlags(args: readonly string[], changes: Record<string, string | undefined>): string[] {
  const seen = new Set<string>();
  const out: Flag[] = [];
  for (const [k, v] of parseFlags(args)) {
    if (!(k in changes)) out.push([k, v]);
    else if (!seen.has(k)) {
      seen.add(k);
      if (changes[k] !== undefined) out.push([k, changes[k]]);
    }
  }
  for (const [k, v] of Object.entries(changes)) if (!seen.has(k) && v !== undefined) out.push([k, v]);
  return formatFlags(out);
}

const splitUrls = (v: string | undefined) => (v ? v.split(",").filter(Boolean) : []);
const hostPort = (u: string) => {
  const url = new URL(u);
  return { host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port) };
};
const listenKey = (u: string) => {
  const { host, port } = hostPort(u);
  return `${host}:${port}`;
};

/** File flags the manifest sets, and where each one's file is in the artifacts directory. */
function artifactFile(dir: string, member: string, flag: string): string | undefined {
  switch (flag) {
    case "--cert-file":
      return layout.member(dir, member, "server", "crt");
    case "--key-file":
      return layout.member(dir, member, "server", "key");
    case "--peer-cert-file":
      return layout.member(dir, member, "peer", "crt");
    case "--peer-key-file":
      return layout.member(dir, member, "peer", "key");
    case "--trusted-ca-file":
    case "--peer-trusted-ca-file":
      return layout.caCert(dir);
    default:
      return undefined;
  }
}

const listenerFlags = ["--listen-client-urls", "--listen-peer-urls", "--listen-metrics-urls"] as const;

interface MemberPlan {
  name: string;
  ip: string;
  renderedArgs: string[];
  args: string[];
  remaps: string[];
  clientUrl: string;
  peerUrl: string;
  metricsUrl: string;
  dataDir: string;
  logFile: string;
  /** host:port → flag, for the port check before start. */
  listeners: { key: string; flag: string }[];
}

/** Reads DIR/manifests/<member>/etcd.yaml and returns the etcd arguments as rendered. */
export function readManifestArgs(dir: string, member: string): string[] {
  const file = layout.etcdManifest(dir, member);
  const pod = parse(fs.readFileSync(file, "utf8")) as {
    spec?: { containers?: { name?: string; command?: string[]; args?: string[] }[] };
  };
  const container = pod.spec?.containers?.find((c) => c.name === "etcd") ?? pod.spec?.containers?.[0];
  const command = [...(container?.command ?? []), ...(container?.args ?? [])];
  if (command.length === 0 || path.basename(command[0]) !== "etcd")
    throw new Error(`${file}: the etcd container has no command starting with "etcd"`);
  return command.slice(1);
}

/** Members that have a manifest in DIR/manifests/<member>/etcd.yaml, sorted. */
export function manifestMembers(dir: string): string[] {
  const root = path.dirname(path.dirname(layout.etcdManifest(dir, "x")));
  if (!fs.existsSync(root)) throw new Error(`${root} does not exist; render the artifacts first`);
  return fs
    .readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(layout.etcdManifest(dir, e.name)))
    .map((e) => e.name)
    .sort();
}

/**
 * Works out every member's remapped command line. Reads the manifests; writes nothing except re-issued
 * peer certs (workDir/pki/<member>/peer.crt) when `ca` is given and they are needed.
 */
export function planCluster(dir: string, workDir: string, ca?: CaPair): MemberPlan[] {
  const names = manifestMembers(dir);
  if (names.length === 0) throw new Error(`no etcd manifests under ${path.join(dir, "manifests")}`);
  const rendered = names.map((name) => ({ name, args: readManifestArgs(dir, name) }));

  // Which listeners would collide when every member runs on this one host.
  const owners = new Map<string, Set<string>>();
  for (const r of rendered)
    for (const f of listenerFlags)
      for (const u of splitUrls(flagValue(r.args, f))) {
        const k = listenKey(u);
        owners.set(k, (owners.get(k) ?? new Set()).add(r.name));
      }
  const shared = (u: string) => (owners.get(listenKey(u))?.size ?? 0) > 1;

  return rendered.map(({ name, args }) => {
    const remaps: string[] = [];
    const note = (s: string) => remaps.push(`${name}: ${s}`);
    const flagName = flagValue(args, "--name");
    if (flagName !== name)
      throw new Error(`manifest of ${name} runs etcd with --name=${flagName ?? "(unset)"}; expected ${name}`);
    const advertised = splitUrls(flagValue(args, "--advertise-client-urls"))[0];
    const peerAdvertised = splitUrls(flagValue(args, "--initial-advertise-peer-urls"))[0];
    if (!advertised || !peerAdvertised)
      throw new Error(`manifest of ${name} has no --advertise-client-urls or --initial-advertise-peer-urls`);
    const ip = hostPort(advertised).host;
    if (!isLoopbackIp(ip))
      throw new Error(
        `member ${name} advertises ${advertised}, not a loopback address; a local rehearsal only runs members ` +
          `on 127.0.0.0/8 (render the artifacts with members mapped onto loopback addresses)`,
      );
    for (const f of ["--auto-tls", "--peer-auto-tls"])
      if (args.some((a) => a === f || a === `${f}=true`))
        throw new Error(`manifest of ${name} sets ${f}; refusing to rehearse with self-signed auto TLS`);

    const dataDir = path.join(workDir, "data", name);
    let metricsUrl = "";
    const out: Flag[] = [];
    for (const [k, v] of parseFlags(args)) {
      const file = artifactFile(dir, name, k);
      if (file !== undefined) {
        if (!fs.existsSync(file)) throw new Error(`${k} of ${name}: ${file} does not exist`);
        if (k === "--peer-cert-file" && names.length > 1) {
          const reissued = peerCertForOneHost(dir, workDir, name, file, ca);
          if (reissued) {
            note(
              `${k} ${v} → ${reissued} (${file} re-issued by the same CA with the same key, subject, usages and ` +
                `SANs plus IP ${loopbackSource}: etcd checks a peer's source address against its cert's SANs, ` +
                `and on one host every peer connects from ${loopbackSource})`,
            );
            out.push([k, reissued]);
            continue;
          }
        }
        note(`${k} ${v} → ${file}`);
        out.push([k, file]);
      } else if (k === "--data-dir" || k === "--wal-dir") {
        const target = k === "--data-dir" ? dataDir : path.join(workDir, "wal", name);
        note(`${k} ${v} → ${target}`);
        out.push([k, target]);
      } else if (k === "--listen-client-urls") {
        const urls = splitUrls(v);
        const keep = urls.filter((u) => !shared(u));
        if (keep.length === 0)
          throw new Error(`every --listen-client-urls of ${name} (${v}) is shared with another member`);
        for (const u of urls.filter(shared))
          note(
            `${k}: dropped ${u} (every member listens there; one host can bind it once) — serving ${keep.join(",")}`,
          );
        out.push([k, keep.join(",")]);
      } else if (k === "--listen-peer-urls") {
        const shares = splitUrls(v).filter(shared);
        if (shares.length > 0)
          throw new Error(`--listen-peer-urls ${shares.join(",")} of ${name} is shared with another member`);
        out.push([k, v]);
      } else if (k === "--listen-metrics-urls") {
        const urls = splitUrls(v).map((u) => {
          if (!shared(u)) return u;
          const url = new URL(u);
          url.hostname = ip.includes(":") ? `[${ip}]` : ip;
          const moved = url.toString().replace(/\/$/, "");
          if (shared(moved)) throw new Error(`cannot move ${k} ${u} of ${name}: ${moved} is shared too`);
          note(`${k}: ${u} → ${moved} (every member uses ${u}; one host can bind it once)`);
          return moved;
        });
        metricsUrl = urls[0] ?? "";
        out.push([k, urls.join(",")]);
      } else {
        if (v?.startsWith("/"))
          throw new Error(`${k}=${v} of ${name} names a node path the rehearsal does not know how to map`);
        out.push([k, v]);
      }
    }
    const finalArgs = formatFlags(out);
    const listeners = listenerFlags.flatMap((f) =>
      splitUrls(flagValue(finalArgs, f)).map((u) => ({ key: listenKey(u), flag: f })),
    );
    return {
      name,
      ip,
      renderedArgs: args,
      args: finalArgs,
      remaps,
      clientUrl: advertised,
      peerUrl: peerAdvertised,
      metricsUrl,
      dataDir,
      logFile: path.join(workDir, "logs", `${name}.log`),
      listeners,
    };
  });
}

/** Path of a re-issued peer cert that also names 127.0.0.1, or undefined if the original already does. */
function peerCertForOneHost(
  dir: string,
  workDir: string,
  member: string,
  certFile: string,
  ca: CaPair | undefined,
): string | undefined {
  const certPem = fs.readFileSync(certFile, "utf8");
  if (certSans(certPem).ipAddresses.includes(loopbackSource)) return undefined;
  if (!ca)
    throw new Error(
      `the peer cert of ${member} (${certFile}) does not name ${loopbackSource}. etcd 3.4 rejects a peer whose ` +
        `source address is not among its cert's SANs (3.5 added --experimental-peer-skip-client-san-verification), ` +
        `and on one host every peer connects from ${loopbackSource}; pass caKeyPem so the rehearsal can re-issue ` +
        `the peer certs with that extra SAN`,
    );
  const keyPem = fs.readFileSync(layout.member(dir, member, "peer", "key"), "utf8");
  const out = path.join(workDir, "pki", member, "peer.crt");
  fs.mkdirSync(path.dirname(out), { recursive: true, mode: 0o700 });
  fs.writeFileSync(out, reissueWithExtraIps({ certPem, keyPem, ca, extraIps: [loopbackSource] }), {
    mode: 0o644,
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// etcdctl

/** `--cacert/--cert/--key` for one of the client certs in the artifacts directory. */
export function etcdctlTlsArgs(dir: string, role: ClientRole): string[] {
  return [
    `--cacert=${layout.caCert(dir)}`,
    `--cert=${layout.client(dir, role, "crt")}`,
    `--key=${layout.client(dir, role, "key")}`,
  ];
}

/** Runs etcdctl (API v3) with short dial/command timeouts so a refused connection fails fast. */
export function runEtcdctl(
  etcdctlBinary: string,
  args: readonly string[],
  o: { timeoutMs?: number; dialTimeout?: string; commandTimeout?: string } = {},
): Promise<RunResult> {
  const timeouts = [
    `--dial-timeout=${o.dialTimeout ?? "3s"}`,
    `--command-timeout=${o.commandTimeout ?? "5s"}`,
  ];
  return run(etcdctlBinary, [...timeouts, ...args], {
    env: cleanEnv({ ETCDCTL_API: "3" }),
    timeoutMs: o.timeoutMs ?? 20_000,
  });
}

/** `etcdctl endpoint health` with the healthcheck client cert. */
export async function endpointHealth(
  etcdctlBinary: string,
  dir: string,
  endpoint: string,
): Promise<{ healthy: boolean; output: string }> {
  const r = await runEtcdctl(etcdctlBinary, [
    `--endpoints=${endpoint}`,
    ...etcdctlTlsArgs(dir, "healthcheck-client"),
    "endpoint",
    "health",
  ]);
  return { healthy: r.code === 0 && r.output.includes("is healthy"), output: r.output };
}

// ---------------------------------------------------------------------------------------------
// Cluster

function prepareDataDir(dataDir: string, mode: StartClusterOptions["existingData"]): void {
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

/** Starts the members' etcd processes and waits until each reports healthy over mutual TLS. */
export async function startCluster(o: StartClusterOptions): Promise<RunningCluster> {
  const log = o.log ?? (() => undefined);
  const etcdBinary = requireBinary(o.etcdBinary ?? "etcd");
  const etcdctlBinary = requireBinary(o.etcdctlBinary ?? "etcdctl");
  const dir = path.resolve(o.dir);
  const workDir = path.resolve(o.workDir);
  fs.mkdirSync(workDir, { recursive: true, mode: 0o700 });
  const ca = o.caKeyPem
    ? { keyPem: o.caKeyPem, certPem: o.caCertPem ?? fs.readFileSync(layout.caCert(dir), "utf8") }
    : undefined;
  const plans = planCluster(dir, workDir, ca);
  const byName = new Map(plans.map((p) => [p.name, p]));
  const selected = o.members ?? plans.map((p) => p.name);
  for (const n of selected)
    if (!byName.has(n))
      throw new Error(`no manifest for member ${n}; members: ${[...byName.keys()].join(", ")}`);

  const procs = new Map<string, ManagedProcess>();
  const members: ClusterMember[] = plans.map((p) => ({
    name: p.name,
    ip: p.ip,
    pid: 0,
    running: false,
    clientUrl: p.clientUrl,
    peerUrl: p.peerUrl,
    metricsUrl: p.metricsUrl,
    dataDir: p.dataDir,
    logFile: p.logFile,
    renderedArgs: p.renderedArgs,
    args: p.args,
  }));
  const member = (name: string) => {
    const m = members.find((x) => x.name === name);
    if (!m) throw new Error(`no member ${name}; members: ${members.map((x) => x.name).join(", ")}`);
    return m;
  };

  async function checkPorts(p: MemberPlan): Promise<void> {
    for (const l of p.listeners) {
      const [host, port] = [
        l.key.slice(0, l.key.lastIndexOf(":")),
        Number(l.key.slice(l.key.lastIndexOf(":") + 1)),
      ];
      const problem = await portProblem(host, port);
      if (problem)
        throw new Error(
          `cannot start ${p.name}: ${host}:${port} (${l.flag}) is ${problem}; stop whatever holds it`,
        );
    }
  }

  async function launch(name: string, dataMode: StartClusterOptions["existingData"]): Promise<void> {
    const p = byName.get(name)!;
    const m = member(name);
    if (m.running) throw new Error(`member ${name} is already running (pid ${m.pid})`);
    await checkPorts(p);
    prepareDataDir(p.dataDir, dataMode);
    fs.mkdirSync(path.dirname(p.logFile), { recursive: true, mode: 0o700 });
    fs.appendFileSync(p.logFile, `--- ${new Date().toISOString()} etcd ${p.args.join(" ")}\n`, {
      mode: 0o600,
    });
    const proc = spawnManaged(name, etcdBinary, p.args, p.logFile);
    procs.set(name, proc);
    m.pid = proc.pid;
    m.running = true;
    void proc.exited.then((status) => {
      if (procs.get(name) === proc) {
        m.running = false;
        log(`${name}: etcd pid ${proc.pid} exited (${status})`);
      }
    });
    log(`${name}: started etcd pid ${proc.pid} (client ${p.clientUrl}, peer ${p.peerUrl}, log ${p.logFile})`);
  }

  async function waitHealthy(names?: string[], timeoutMs = o.healthTimeoutMs ?? 60_000): Promise<void> {
    const targets = names ?? members.filter((m) => m.running).map((m) => m.name);
    const deadline = Date.now() + timeoutMs;
    await Promise.all(
      targets.map(async (name) => {
        const m = member(name);
        const proc = procs.get(name);
        for (;;) {
          if (!proc || proc.exitStatus !== undefined)
            throw new Error(
              `etcd member ${name} exited (${proc?.exitStatus ?? "not started"}) before it became healthy; ` +
                `last lines of ${m.logFile}:\n${tailFile(m.logFile)}`,
            );
          const h = await endpointHealth(etcdctlBinary, dir, m.clientUrl);
          if (h.healthy) {
            log(`${name}: healthy at ${m.clientUrl}`);
            return;
          }
          if (Date.now() > deadline)
            throw new Error(
              `etcd member ${name} did not report healthy at ${m.clientUrl} within ${Math.round(timeoutMs / 1000)} s ` +
                `(etcdctl endpoint health: ${h.output.split("\n").slice(-2).join(" ")}); last lines of ${m.logFile}:\n` +
                tailFile(m.logFile),
            );
          await sleep(300);
        }
      }),
    );
  }

  let stopped = false;
  const cluster: RunningCluster = {
    dir,
    workDir,
    etcdBinary,
    etcdctlBinary,
    members,
    remaps: plans.flatMap((p) => p.remaps),
    member,
    clientUrls: () => members.filter((m) => m.running).map((m) => m.clientUrl),
    async stopMember(name) {
      const m = member(name);
      const proc = procs.get(name);
      if (!proc) return;
      await proc.stop();
      m.running = false;
      log(`${name}: stopped (pid ${proc.pid})`);
    },
    async startMember(name, so = {}) {
      if (stopped) throw new Error("the cluster was stopped");
      await launch(name, "reuse");
      if (so.waitHealthy ?? true) await waitHealthy([name], so.timeoutMs);
      return member(name);
    },
    waitHealthy,
    async stop() {
      stopped = true;
      // One at a time: a leader that gets SIGTERM hands leadership to a connected peer first; if all
      // stop at once it waits ~7 s for a transfer to a peer that is itself shutting down.
      for (const p of procs.values()) await p.stop();
      for (const m of members) m.running = false;
      if (procs.size > 0) log(`stopped ${procs.size} etcd process(es)`);
      procs.clear();
    },
  };

  try {
    for (const r of cluster.remaps) log(`remap ${r}`);
    for (const name of selected) await launch(name, o.existingData ?? "error");
    if (o.waitHealthy ?? true) await waitHealthy(selected);
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  return cluster;
}
