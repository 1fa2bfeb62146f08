/** etcdctl (API v3) against a rehearsal cluster, with the client certs from the artifacts directory. */
import type { ClientRole } from "../components/secureEtcd";
import { run, type RunResult } from "../tools/shared/process";
import { layout } from "./layout";
import { cleanEnv, sleep, tailFile, type ManagedProcess } from "./process";

/** `--cacert/--cert/--key` for one of the client certs in the artifacts directory. */
export function etcdctlTlsArgs(dir: string, role: ClientRole): string[] {
  return [
    `--cacert=${layout.caCert(dir)}`,
    `--cert=${layout.client(dir, role, "crt")}`,
    `--key=${layout.client(dir, role, "key")}`,
  ];
}

/** Runs etcdctl with short dial/command timeouts so a refused connection fails fast. */
export function runEtcdctl(
  etcdctlBinary: string,
  args: readonly string[],
  o: { timeoutMs?: number; dialTimeout?: string; commandTimeout?: string; input?: Buffer } = {},
): Promise<RunResult> {
  const timeouts = [
    `--dial-timeout=${o.dialTimeout ?? "3s"}`,
    `--command-timeout=${o.commandTimeout ?? "5s"}`,
  ];
  return run(etcdctlBinary, [...timeouts, ...args], {
    env: cleanEnv({ ETCDCTL_API: "3" }),
    timeoutMs: o.timeoutMs ?? 20_000,
    input: o.input,
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
/**
 * Polls `etcdctl endpoint health` on one member until it passes. Throws, with the last lines of the
 * member's log, as soon as its process exits or once the deadline passes.
 */
export async function untilHealthy(o: {
  name: string;
  endpoint: string;
  /** `--cacert/--cert/--key` (none for a plaintext endpoint). */
  tlsArgs: readonly string[];
  proc: ManagedProcess | undefined;
  logFile: string;
  timeoutMs: number;
  /** Shared by members started together (default: now + timeoutMs). */
  deadline?: number;
  etcdctlBinary?: string;
}): Promise<void> {
  const deadline = o.deadline ?? Date.now() + o.timeoutMs;
  for (;;) {
    if (!o.proc || o.proc.exitStatus !== undefined)
      throw new Error(
        `etcd member ${o.name} exited (${o.proc?.exitStatus ?? "not started"}) before it became healthy; ` +
          `last lines of ${o.logFile}:\n${tailFile(o.logFile)}`,
      );
    const r = await runEtcdctl(o.etcdctlBinary ?? "etcdctl", [
      `--endpoints=${o.endpoint}`,
      ...o.tlsArgs,
      "endpoint",
      "health",
    ]);
    if (r.code === 0 && r.output.includes("is healthy")) return;
    if (Date.now() > deadline)
      throw new Error(
        `etcd member ${o.name} did not report healthy at ${o.endpoint} within ${Math.round(o.timeoutMs / 1000)} s ` +
          `(etcdctl endpoint health: ${r.output.split("\n").slice(-2).join(" ")}); last lines of ${o.logFile}:\n` +
          tailFile(o.logFile),
      );
    await sleep(300);
  }
}

export interface MemberRow {
  id: string;
  status: string;
  name: string;
  peerUrls: string[];
  clientUrls: string[];
}

/** `etcdctl member list -w simple` rows (ids stay exact hex strings; JSON would round them). */
export function parseMemberList(stdout: string): MemberRow[] {
  return stdout
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [id, status, name, peers, clients] = line.split(",").map((s) => s.trim());
      return {
        id,
        status,
        name,
        peerUrls: (peers ?? "").split(/\s+/).filter(Boolean),
        clientUrls: (clients ?? "").split(/\s+/).filter(Boolean),
      };
    });
}
