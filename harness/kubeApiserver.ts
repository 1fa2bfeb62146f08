/**
 * Real kube-apiserver processes against a rehearsal etcd: each runs the flags the package renders plus
 * what a bare test apiserver needs (harness/kubeApiserverFlags.ts lists every change), is started and
 * stopped by pid (harness/process.ts spawnManaged: none outlives us), and counts as up once its
 * /readyz says ok. The apiservers of one fleet share one cluster CA, admin client and service-account
 * key (harness/kubePki.ts), as the apiservers of one kubeadm cluster do.
 */
import * as fs from "node:fs";
import * as https from "node:https";
import * as path from "node:path";
import type { SecureEtcdSettings } from "../components/config/schema";
import type { EtcdctlConnection } from "../tools/verifyEncryption/etcdctl";
import { planKubeApiserver, type KubeApiserverPlan } from "./kubeApiserverFlags";
import { createKubePki, type KubePki } from "./kubePki";
import { Kubectl } from "./kubectl";
import { layout } from "./layout";
import { portProblem, sleep, spawnManaged, tailFile, type ManagedProcess } from "./process";
import { kubernetesBinaries } from "./upstream";

/** kubeadm's secure port. */
export const apiserverPort = 6443;

export interface HttpsAnswer {
  status: number;
  body: string;
}

export interface StartOptions {
  until?: "ready" | "serving";
  timeoutMs?: number;
}

export interface KubeApiserver {
  readonly name: string;
  readonly url: string;
  readonly plan: KubeApiserverPlan;
  /** The file its --encryption-provider-config names. */
  readonly encryptionConfig: string;
  /** Current (or last) pid; 0 before the first start. */
  readonly pid: number;
  readonly pids: readonly number[];
  readonly running: boolean;
  /** kubectl against this apiserver alone (--server), as the fleet's admin. */
  readonly kubectl: Kubectl;
  /**
   * Starts the process; waits until /readyz says ok, or (`until: "serving"`) only until it answers
   * requests (/version) — an apiserver that cannot read what it must (a missing key) serves requests
   * but never becomes ready, and its /livez waits a minute on its post-start hooks.
   */
  start(o?: StartOptions): Promise<void>;
  /** SIGTERM (SIGKILL after a grace period); resolves once the process is gone. */
  stop(): Promise<void>;
  /** A rolling-restart step: stop, then start with whatever its EncryptionConfiguration file holds now. */
  restart(o?: StartOptions): Promise<void>;
  /** Writes its EncryptionConfiguration file (0600), as the node bootstrap installs a new one. */
  writeEncryptionConfig(yaml: string): void;
  /** GET on this apiserver with the admin client (e.g. /readyz?verbose, /version). */
  get(pathAndQuery: string): Promise<HttpsAnswer>;
}

export interface FleetOptions {
  /** Artifacts directory. */
  dir: string;
  settings: Pick<SecureEtcdSettings, "paths">;
  /** Scratch: workDir/kube-pki, workDir/<apiserver>/, workDir/logs/. */
  workDir: string;
  /** One loopback address per apiserver (e.g. the etcd members' addresses: a control-plane node each). */
  addresses: readonly string[];
  /** Per apiserver, the node root the bootstrap installed its node's files in (else the artifacts). */
  nodeRoots?: readonly (string | undefined)[];
  /** How many to start now (default all); the others with `server.start()`. */
  startNow?: number;
  log?: (line: string) => void;
}

export interface KubeApiserverFleet {
  readonly servers: KubeApiserver[];
  readonly pki: KubePki;
  readonly binary: string;
  readonly kubectlBinary: string;
  /** Every remap: the bare flags once, each apiserver's paths and address. */
  readonly remaps: string[];
  server(name: string): KubeApiserver;
  /** What a running apiserver reports at /version (gitVersion, e.g. v1.37.2). */
  version(): Promise<string>;
  /** Stops every running apiserver. Safe to call twice. */
  stop(): Promise<void>;
}

/** Plans `addresses.length` apiservers, starts `startNow` of them and waits until each is ready. */
export async function startKubeApiservers(o: FleetOptions): Promise<KubeApiserverFleet> {
  const bins = kubernetesBinaries();
  fs.mkdirSync(o.workDir, { recursive: true, mode: 0o700 });
  const pki = createKubePki(path.join(o.workDir, "kube-pki"));
  const log = o.log ?? (() => undefined);
  const servers = o.addresses.map((ip, i) => {
    const plan = planKubeApiserver({
      name: `apiserver-${i + 1}`,
      dir: o.dir,
      settings: o.settings,
      nodeRoot: o.nodeRoots?.[i],
      ip,
      port: apiserverPort,
      workDir: o.workDir,
      pki,
    });
    return new LocalApiserver(
      plan,
      bins.kubeApiserver,
      new Kubectl(bins.kubectl, pki.kubeconfig, plan.url),
      pki,
      log,
    );
  });
  const fleet: KubeApiserverFleet = {
    servers,
    pki,
    binary: bins.kubeApiserver,
    kubectlBinary: bins.kubectl,
    remaps: [...new Set(servers.flatMap((s) => s.plan.remaps))],
    server(name) {
      const s = servers.find((x) => x.name === name);
      if (!s) throw new Error(`no ${name}; apiservers: ${servers.map((x) => x.name).join(", ")}`);
      return s;
    },
    async version() {
      const s = servers.find((x) => x.running);
      if (!s) throw new Error("no kube-apiserver is running");
      const r = await s.get("/version");
      const v = (JSON.parse(r.body) as { gitVersion?: string }).gitVersion;
      if (r.status !== 200 || !v)
        throw new Error(`${s.name} /version answered ${r.status}: ${r.body.slice(0, 200)}`);
      return v;
    },
    async stop() {
      for (const s of servers) await s.stop();
    },
  };
  try {
    await Promise.all(servers.slice(0, o.startNow ?? servers.length).map((s) => s.start()));
  } catch (e) {
    await fleet.stop();
    throw e;
  }
  return fleet;
}

class LocalApiserver implements KubeApiserver {
  private proc?: ManagedProcess;
  readonly pids: number[] = [];

  constructor(
    readonly plan: KubeApiserverPlan,
    private readonly binary: string,
    readonly kubectl: Kubectl,
    private readonly pki: KubePki,
    private readonly log: (line: string) => void,
  ) {}

  get name() {
    return this.plan.name;
  }
  get url() {
    return this.plan.url;
  }
  get encryptionConfig() {
    return this.plan.encryptionConfig;
  }
  get pid() {
    return this.proc?.pid ?? 0;
  }
  get running() {
    return this.proc !== undefined && this.proc.exitStatus === undefined;
  }

  async start(o: StartOptions = {}): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running (pid ${this.pid})`);
    const busy = await portProblem(this.plan.ip, this.plan.port);
    if (busy) throw new Error(`cannot start ${this.name}: ${this.plan.ip}:${this.plan.port} is ${busy}`);
    fs.mkdirSync(path.dirname(this.plan.logFile), { recursive: true, mode: 0o700 });
    fs.appendFileSync(
      this.plan.logFile,
      `--- ${new Date().toISOString()} kube-apiserver ${this.plan.args.join(" ")}\n`,
      {
        mode: 0o600,
      },
    );
    this.proc = spawnManaged(this.name, this.binary, this.plan.args, this.plan.logFile);
    this.pids.push(this.proc.pid);
    const started = Date.now();
    await this.until(o.until ?? "ready", o.timeoutMs ?? 180_000);
    this.log(
      `${this.name}: kube-apiserver pid ${this.pid} ${o.until ?? "ready"} at ${this.url} ` +
        `in ${((Date.now() - started) / 1000).toFixed(1)} s (log ${this.plan.logFile})`,
    );
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    await this.proc!.stop(20_000);
    this.log(`${this.name}: stopped (pid ${this.pid})`);
  }

  async restart(o?: StartOptions): Promise<void> {
    await this.stop();
    await this.start(o);
  }

  writeEncryptionConfig(yaml: string): void {
    fs.writeFileSync(this.encryptionConfig, yaml, { mode: 0o600 });
    fs.chmodSync(this.encryptionConfig, 0o600);
  }

  get(pathAndQuery: string): Promise<HttpsAnswer> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: this.plan.ip,
          port: this.plan.port,
          path: pathAndQuery,
          ca: this.pki.ca.certPem,
          cert: fs.readFileSync(this.pki.admin.cert),
          key: fs.readFileSync(this.pki.admin.key),
          timeout: 10_000,
        },
        (res) => {
          let body = "";
          res.on("data", (d: Buffer) => (body += d.toString()));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on("timeout", () => req.destroy(new Error(`GET ${this.url}${pathAndQuery} timed out`)));
      req.on("error", reject);
      req.end();
    });
  }

  /** Polls /readyz (or /version) until it answers ok; throws with the failing checks and the log's tail. */
  private async until(what: "ready" | "serving", timeoutMs: number): Promise<void> {
    const endpoint = what === "ready" ? "/readyz" : "/version";
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let last: string;
      if (!this.running)
        throw new Error(
          `${this.name}: kube-apiserver exited (${this.proc?.exitStatus}) before it was ${what}; last lines of ` +
            `${this.plan.logFile}:\n${tailFile(this.plan.logFile)}`,
        );
      try {
        const r = await this.get(endpoint);
        if (r.status === 200 && (what === "serving" || r.body.trim() === "ok")) return;
        last = `${r.status}: ${what === "ready" ? failingChecks((await this.get("/readyz?verbose")).body) : r.body.slice(0, 200)}`;
      } catch (e) {
        last = (e as Error).message;
      }
      if (Date.now() > deadline)
        throw new Error(
          `${this.name}: kube-apiserver not ${what} within ${Math.round(timeoutMs / 1000)} s (${endpoint} ${last}); ` +
            `last lines of ${this.plan.logFile}:\n${tailFile(this.plan.logFile)}`,
        );
      await sleep(250);
    }
  }
}

/** The `[-]name failed` lines of a verbose /readyz or /livez answer, joined. */
export function failingChecks(verbose: string): string {
  const failed = verbose
    .split("\n")
    .filter((l) => l.startsWith("[-]"))
    .map((l) => l.slice(3).trim());
  return failed.length > 0 ? failed.join("; ") : verbose.trim().slice(0, 200);
}

/** kube-apiserver's own etcd connection (the apiserver-etcd-client cert of the artifacts), for etcdctl. */
export function apiserverEtcdConnection(
  dir: string,
  etcdctl: string,
  endpoints: readonly string[],
): EtcdctlConnection {
  return {
    etcdctl,
    endpoints,
    cacert: layout.caCert(dir),
    cert: layout.client(dir, "apiserver-etcd-client", "crt"),
    key: layout.client(dir, "apiserver-etcd-client", "key"),
  };
}

/** verify-encryption's connection flags for the same client. */
export const connectionFlags = (c: EtcdctlConnection) => [
  `--endpoints=${c.endpoints.join(",")}`,
  `--cacert=${c.cacert}`,
  `--cert=${c.cert}`,
  `--key=${c.key}`,
  `--etcdctl=${c.etcdctl}`,
];
