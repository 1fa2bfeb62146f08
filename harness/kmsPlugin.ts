/**
 * The KMS v2 plugin for the drills: secure-etcd's test plugin (upstream/kms-plugin, the flags of
 * aws-encryption-provider, which this machine cannot build) started with the command line a rendered
 * static pod manifest gives, plus the few remaps one host needs — each one listed:
 *   - the binary: /aws-encryption-provider → the built test plugin;
 *   - `--listen`: the node's socket path → the same file name in the drill's socket directory (the
 *     drill's EncryptionConfiguration endpoint moves the same way);
 *   - `--health-port`: 127.0.0.1:<port> → a free port on the drill's loopback address;
 *   - `--key`: the ARN rendered (the emulated account's key) → the key created in moto, when they differ;
 *   - added `--kms-endpoint` (a flag aws-encryption-provider has too) → moto, or a fault proxy in front
 *     of it; and AWS credentials in the environment (a node uses its instance profile through IMDS).
 * Started and stopped by pid; it never outlives the process that started it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { freePort, sleep, spawnManaged, tailFile, type ManagedProcess } from "./process";
import { upstreamBinary } from "./upstream";

export interface KmsPluginRemapOptions {
  /** Where the drill's sockets live (the node's directory is replaced by this one). */
  socketDir: string;
  /** `host:port` for the health server. */
  healthAddress: string;
  /** The KMS endpoint (moto, or a fault proxy in front of it). */
  kmsEndpoint: string;
  /** The key created in moto, when it is not the ARN the manifest names. */
  keyArn?: string;
}

/** The rendered command with the remaps applied (pure), and each remap said once. */
export function remapKmsPluginCommand(
  rendered: readonly string[],
  o: KmsPluginRemapOptions,
): { args: string[]; remaps: string[]; socketPaths: string[] } {
  const remaps: string[] = [];
  const socketPaths: string[] = [];
  const [binary, ...flags] = rendered;
  remaps.push(`kms plugin: ${binary} → secure-etcd's KMS v2 test plugin (upstream/kms-plugin; same flags)`);
  const args = flags.map((f) => {
    const [name, ...rest] = f.split("=");
    const value = rest.join("=");
    if (name === "--listen") {
      const moved = value
        .split(",")
        .map((p) => path.join(o.socketDir, path.basename(p)))
        .join(",");
      socketPaths.push(...moved.split(","));
      remaps.push(`kms plugin: --listen=${value} → ${moved}`);
      return `--listen=${moved}`;
    }
    if (name === "--health-port") {
      remaps.push(`kms plugin: --health-port=${value} → ${o.healthAddress}`);
      return `--health-port=${o.healthAddress}`;
    }
    if (name === "--key" && o.keyArn && o.keyArn !== value) {
      remaps.push(`kms plugin: --key=${value} → ${o.keyArn} (the key created in moto)`);
      return `--key=${o.keyArn}`;
    }
    return f;
  });
  args.push(`--kms-endpoint=${o.kmsEndpoint}`);
  remaps.push(
    `kms plugin: + --kms-endpoint=${o.kmsEndpoint} and AWS credentials in its environment (a node uses its instance profile)`,
  );
  return { args, remaps, socketPaths };
}

export interface RunningKmsPlugin {
  pid: number;
  args: string[];
  remaps: string[];
  socketPaths: string[];
  healthUrl: string;
  logFile: string;
  proc: ManagedProcess;
  /** GET /healthz or /livez: the status code and body. */
  health(which?: "healthz" | "livez"): Promise<{ status: number; body: string }>;
  stop(): Promise<void>;
}

export interface StartKmsPluginOptions extends Omit<KmsPluginRemapOptions, "healthAddress"> {
  /** The rendered command (binary first), e.g. kmsPluginCommandOf(manifest). */
  command: readonly string[];
  /** Loopback address for the health server. */
  host: string;
  workDir: string;
  /** AWS_* environment for the plugin (credentials, region). */
  env: Record<string, string>;
  /** How long it may take until the socket exists and /livez answers (default 30 s). */
  startTimeoutMs?: number;
  name?: string;
}

/** Starts the plugin and waits until its socket exists and its health server answers. */
export async function startKmsPlugin(o: StartKmsPluginOptions): Promise<RunningKmsPlugin> {
  const port = await freePort(o.host);
  const healthAddress = `${o.host}:${port}`;
  const { args, remaps, socketPaths } = remapKmsPluginCommand(o.command, { ...o, healthAddress });
  fs.mkdirSync(o.socketDir, { recursive: true, mode: 0o700 });
  const name = o.name ?? `kms-plugin-${path.basename(socketPaths[0] ?? "socket")}`;
  const logFile = path.join(o.workDir, `${name}.log`);
  const proc = spawnManaged(name, upstreamBinary("kms-plugin", "kms-plugin"), args, logFile, o.env);
  const healthUrl = `http://${healthAddress}`;
  const health = async (which: "healthz" | "livez" = "healthz") => {
    const r = await fetch(`${healthUrl}/${which}`, { signal: AbortSignal.timeout(15_000) });
    return { status: r.status, body: await r.text() };
  };
  const deadline = Date.now() + (o.startTimeoutMs ?? 30_000);
  for (;;) {
    if (proc.exitStatus !== undefined)
      throw new Error(
        `kms plugin exited (${proc.exitStatus}); last lines of ${logFile}:\n${tailFile(logFile)}`,
      );
    const ready = socketPaths.every((p) => fs.existsSync(p));
    if (ready) {
      try {
        await health("livez");
        break;
      } catch {
        // not listening yet
      }
    }
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`kms plugin did not come up; last lines of ${logFile}:\n${tailFile(logFile)}`);
    }
    await sleep(100);
  }
  return {
    pid: proc.pid,
    args,
    remaps,
    socketPaths,
    healthUrl,
    logFile,
    proc,
    health,
    stop: () => proc.stop(),
  };
}

/** What real AWS KMS answers for a disabled key (moto 5.2.6 encrypts and decrypts under one anyway). */
export function disabledKeyAnswer(arn: string): { status: number; contentType: string; body: string } {
  return {
    status: 400,
    contentType: "application/x-amz-json-1.1",
    body: JSON.stringify({ __type: "DisabledException", message: `${arn} is disabled.` }),
  };
}
