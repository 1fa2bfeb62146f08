/**
 * Process control for the harness, on top of tools/shared/process (running a command to completion):
 * etcd's environment, loopback ports, and a registry that guarantees no etcd we start outlives us
 * (killed on stop, on errors, on process exit, on SIGINT/SIGTERM, and by a watchdog if this process
 * is SIGKILLed).
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { findBinary } from "../tools/shared/process";

// test/pulumiEngine.test.ts still imports findBinary from here.
export { findBinary };

export const installHint = "apt-get install -y etcd-server etcd-client";

/** This process's environment without ETCD_* and ETCDCTL_* settings (they would silently change flags). */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^ETCD(CTL)?_/.test(k) && k !== "ETCD_UNSUPPORTED_ARCH") continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/** Like findBinary, but throws an error that says how to install etcd. */
export function requireBinary(name: string): string {
  const found = findBinary(name);
  if (!found)
    throw new Error(
      `${name} not found${name.includes("/") ? "" : " on PATH"}; install etcd 3.4 with: ${installHint}`,
    );
  return found;
}

/** Resolves with undefined when host:port can be bound, else with the bind error's code/message. */
export function portProblem(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", (e: NodeJS.ErrnoException) => resolve(e.code === "EADDRINUSE" ? "in use" : e.message));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(undefined)));
  });
}

/** A port the kernel says is free on `host` right now. */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Where free addresses come from: 127.0.0.100–249, or one half of it per test lane (scripts/test.mjs
 * sets SECURE_ETCD_TEST_LANE), so two lanes checking "is this address free?" at once never pick the same.
 */
function loopbackRange(): { first: number; count: number } {
  const lane = process.env.SECURE_ETCD_TEST_LANE;
  if (lane === "0") return { first: 100, count: 75 };
  if (lane === "1") return { first: 175, count: 75 };
  return { first: 100, count: 150 };
}

/** A 127.0.0.x address in loopbackRange() nobody listens on at the given ports. */
export async function freeLoopbackAddress(ports: number[], avoid: readonly string[] = []): Promise<string> {
  const { first, count } = loopbackRange();
  const start = Math.floor(Math.random() * count);
  for (let i = 0; i < count; i++) {
    const ip = `127.0.0.${first + ((start + i) % count)}`;
    if (avoid.includes(ip)) continue;
    const problems = await Promise.all(ports.map((p) => portProblem(ip, p)));
    if (problems.every((p) => p === undefined)) return ip;
  }
  throw new Error(
    `no free loopback address in 127.0.0.${first}-${first + count - 1} for ports ${ports.join(", ")}`,
  );
}

export function tailFile(file: string, lines = 25): string {
  try {
    const text = fs.readFileSync(file, "utf8").trimEnd().split("\n");
    return text.slice(-lines).join("\n");
  } catch (e) {
    return `(no log: ${(e as Error).message})`;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Long-running children (etcd): tracked so none outlives this process.

export interface ManagedProcess {
  name: string;
  pid: number;
  logFile: string;
  child: ChildProcess;
  /** Settles when the process has exited (code, or the signal name). */
  exited: Promise<number | string>;
  exitStatus?: number | string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Map<number, ManagedProcess>();
let hooksInstalled = false;
let watchdog: ChildProcess | undefined;
let pidFile: string | undefined;

function killAllNow(): void {
  for (const p of live.values()) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  live.clear();
  writePidFile();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", () => {
    killAllNow();
    if (pidFile) fs.rmSync(pidFile, { force: true });
  });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const handler = () => {
      killAllNow();
      // Only we listen: restore the default action (terminate) and re-raise.
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, handler);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, handler);
  }
}

/** Keeps a file with the live pids; a detached shell kills them if this process dies without cleanup. */
function writePidFile(): void {
  if (live.size === 0) {
    if (pidFile) fs.rmSync(pidFile, { force: true });
    if (watchdog?.pid) {
      try {
        process.kill(watchdog.pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    watchdog = undefined;
    return;
  }
  pidFile ??= path.join(os.tmpdir(), `secure-etcd-rehearsal-${process.pid}.pids`);
  fs.writeFileSync(pidFile, [...live.keys()].join(" ") + "\n");
  if (!watchdog) {
    const script =
      'while kill -0 "$1" 2>/dev/null && [ -f "$2" ]; do sleep 1; done; ' +
      'if [ -f "$2" ]; then kill -9 $(cat "$2") 2>/dev/null; rm -f "$2"; fi';
    watchdog = spawn("/bin/sh", ["-c", script, "watchdog", String(process.pid), pidFile], {
      detached: true,
      stdio: "ignore",
    });
    watchdog.unref();
  }
}

/** Pids of every process started with {@link spawnManaged} that has not exited yet. */
export function livePids(): number[] {
  return [...live.keys()];
}

/** True while a process with this pid exists (and is not a zombie). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return true;
  }
}

/** Starts a long-running process with stdout+stderr appended to `logFile`, tracked for cleanup. */
export function spawnManaged(
  name: string,
  cmd: string,
  args: readonly string[],
  logFile: string,
  extraEnv: Record<string, string> = {},
): ManagedProcess {
  installHooks();
  fs.mkdirSync(path.dirname(logFile), { recursive: true, mode: 0o700 });
  const fd = fs.openSync(logFile, "a", 0o600);
  let child: ChildProcess;
  try {
    child = spawn(cmd, args, { env: cleanEnv(extraEnv), stdio: ["ignore", fd, fd] });
  } finally {
    fs.closeSync(fd);
  }
  if (child.pid === undefined) throw new Error(`could not start ${cmd} for ${name}`);
  const pid = child.pid;
  let resolveExit!: (v: number | string) => void;
  const exited = new Promise<number | string>((r) => (resolveExit = r));
  const mp: ManagedProcess = {
    name,
    pid,
    logFile,
    child,
    exited,
    async stop(graceMs = 8000) {
      if (mp.exitStatus !== undefined) return;
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // gone
      }
      const timer = setTimeout(() => {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  child.on("exit", (code, signal) => {
    mp.exitStatus = code ?? signal ?? "unknown";
    live.delete(pid);
    writePidFile();
    resolveExit(mp.exitStatus);
  });
  child.on("error", (e) => {
    mp.exitStatus = e.message;
    live.delete(pid);
    writePidFile();
    resolveExit(e.message);
  });
  live.set(pid, mp);
  writePidFile();
  return mp;
}
