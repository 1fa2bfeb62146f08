/**
 * Runs `etcdctl` (API v3) against a mutual-TLS etcd. Shipped: it needs etcdctl and nothing of the
 * rehearsal harness, so the command works on a control-plane node.
 * Values go in on stdin, never on the command line: ciphertext is binary (argv cannot hold NUL bytes),
 * and argv is visible to every process on the node.
 */
import { run } from "../shared/process";
import { quotableDiagnostic } from "./displayText";

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
  signal?: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Killed for passing `maxOutputBytes`. */
  overflowed?: boolean;
}

export interface EtcdctlOptions {
  stdin?: Buffer;
  /** Kill etcdctl after this long (default 60 s). */
  timeoutMs?: number;
  /** etcdctl's own --command-timeout (default 30s: a page of 500 values over TLS takes well under 1 s). */
  commandTimeout?: string;
  /** Kill etcdctl once its output passes this many bytes (see run()). */
  maxOutputBytes?: number;
}

/**
 * An etcdctl call that failed. The message names the subcommand, how it ended and the last line of
 * etcdctl's error output (escaped, capped); never its standard output, which holds what etcd returned
 * (a killed `get` leaves half a page of stored values there).
 */
export class EtcdctlError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly result: EtcdctlResult,
  ) {
    const ended = result.timedOut
      ? "timed out"
      : result.code === null
        ? `killed${result.signal ? ` by ${result.signal}` : ""}`
        : `exit ${result.code}`;
    const why = quotableDiagnostic(result.stderr) || "no error output";
    super(`etcdctl ${args[0] ?? ""} failed (${ended}): ${why}`);
    this.name = "EtcdctlError";
  }
}

/** etcdctl could not be started at all (not installed, not executable). */
export class EtcdctlNotRunnable extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = "EtcdctlNotRunnable";
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

/** Runs one etcdctl subcommand through the one process helper (stdin carries values). */
export async function runEtcdctl(
  c: EtcdctlConnection,
  args: readonly string[],
  o: EtcdctlOptions = {},
): Promise<EtcdctlResult> {
  try {
    const r = await run(c.etcdctl, [...connectionArgs(c, o.commandTimeout), ...args], {
      env: etcdctlEnv(),
      input: o.stdin,
      timeoutMs: o.timeoutMs ?? 60_000,
      maxOutputBytes: o.maxOutputBytes,
    });
    return {
      code: r.code,
      signal: r.signal,
      stdout: r.stdout,
      stderr: r.stderr,
      timedOut: r.timedOut,
      overflowed: r.overflowed,
    };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT")
      throw new EtcdctlNotRunnable(`${c.etcdctl} not found (install etcdctl, or pass --etcdctl PATH)`, e);
    throw new EtcdctlNotRunnable((e as Error).message, e);
  }
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
