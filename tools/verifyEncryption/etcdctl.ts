/**
 * Runs `etcdctl` (API v3) against a mutual-TLS etcd. Shipped: imports node built-ins only, so the
 * command works on a control-plane node that has etcdctl and nothing of the rehearsal harness.
 * Values go in on stdin, never on the command line: ciphertext is binary (argv cannot hold NUL bytes),
 * and argv is visible to every process on the node.
 */
import { spawn } from "node:child_process";

export interface EtcdctlConnection {
  /** etcdctl binary: a path, or a name looked up on PATH. */
  etcdctl: string;
  endpoints: readonly string[];
  cacert: string;
  cert: string;
  key: string;
}

export interface EtcdctlResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface EtcdctlOptions {
  stdin?: Buffer;
  /** Kill etcdctl after this long (default 60 s). */
  timeoutMs?: number;
  /** etcdctl's own --command-timeout (default 30s: a page of 500 values over TLS takes well under 1 s). */
  commandTimeout?: string;
}

/** An etcdctl call that failed; the message has the subcommand and etcdctl's error, never a value. */
export class EtcdctlError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly result: EtcdctlResult,
  ) {
    const why = result.timedOut ? "timed out" : (result.stderr.trim() || result.stdout.trim()).slice(-400);
    super(`etcdctl ${args.slice(0, 2).join(" ")} failed (exit ${result.code ?? "none"}): ${why}`);
    this.name = "EtcdctlError";
  }
}

/** The caller's ETCDCTL_* variables would silently override flags (and ETCDCTL_API=2 breaks every call). */
function etcdctlEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^ETCDCTL_/.test(k)) env[k] = v;
  return { ...env, ETCDCTL_API: "3" };
}

export function connectionArgs(c: EtcdctlConnection, commandTimeout = "30s"): string[] {
  return [
    `--endpoints=${c.endpoints.join(",")}`,
    `--cacert=${c.cacert}`,
    `--cert=${c.cert}`,
    `--key=${c.key}`,
    "--dial-timeout=5s",
    `--command-timeout=${commandTimeout}`,
  ];
}

/** Runs one etcdctl subcommand (never through a shell) and collects its output. */
export function runEtcdctl(
  c: EtcdctlConnection,
  args: readonly string[],
  o: EtcdctlOptions = {},
): Promise<EtcdctlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(c.etcdctl, [...connectionArgs(c, o.commandTimeout), ...args], {
      env: etcdctlEnv(),
      stdio: [o.stdin ? "pipe" : "ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    child.stdout?.on("data", (d: Buffer) => out.push(d));
    child.stderr?.on("data", (d: Buffer) => err.push(d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, o.timeoutMs ?? 60_000);
    child.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        e.code === "ENOENT"
          ? new Error(`${c.etcdctl} not found (install etcdctl, or pass --etcdctl PATH)`)
          : e,
      );
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString("utf8");
      resolve({ code, stdout, stderr: Buffer.concat(err).toString("utf8"), timedOut });
    });
    if (o.stdin) child.stdin?.end(o.stdin);
  });
}

/** Like runEtcdctl, but a non-zero exit is an EtcdctlError. */
export async function etcdctlOk(
  c: EtcdctlConnection,
  args: readonly string[],
  o: EtcdctlOptions = {},
): Promise<EtcdctlResult> {
  const r = await runEtcdctl(c, args, o);
  if (r.code !== 0) throw new EtcdctlError(args, r);
  return r;
}
