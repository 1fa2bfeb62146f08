/**
 * The node bootstrap (tools/bootstrap/secure-etcd-bootstrap.sh) as the rest of the package sees it: where
 * the script is, its exit codes, the environment it reads, and a runner for tests and the rehearsal
 * (which install members through the script into scratch roots, as a node would at boot).
 */
import { spawn } from "node:child_process";
import * as path from "node:path";

/** Path of the POSIX sh script (shipped in the package's `files`). */
export const bootstrapScriptPath = path.join(__dirname, "secure-etcd-bootstrap.sh");

/** The script's exit codes (sysexits.h names). */
export const bootstrapExit = {
  /** Installed, or nothing changed. */
  ok: 0,
  /** Bad configuration (EX_USAGE). */
  usage: 64,
  /** Bundle refused, nothing written (EX_DATAERR). */
  refused: 65,
  /** A write failed (disk full, read-only): every staged file removed, nothing changed (EX_IOERR). */
  cannotWrite: 74,
  /** Secret or its current version not there yet, or Secrets Manager unreachable: retry later (EX_TEMPFAIL). */
  retryLater: 75,
  /**
   * Installed, except the EncryptionConfiguration: the rotation check held it back (a step out of order,
   * or a node that missed steps). The operator takes it with SECURE_ETCD_ACCEPT_KEYS=1.
   */
  keysHeld: 79,
} as const;

export interface BootstrapOptions {
  /** Secret name or ARN (SECURE_ETCD_SECRET_ID). */
  secretId: string;
  region: string;
  /** The member this node is (SECURE_ETCD_MEMBER): a bundle for another member is refused. */
  member: string;
  /** SECURE_ETCD_CLUSTER and SECURE_ETCD_ENVIRONMENT: a bundle of another is refused. */
  cluster: string;
  environment: string;
  /** SECURE_ETCD_SIGNING_KEY: the bundle-signing public key, base64 DER. */
  signingKey: string;
  /** SECURE_ETCD_ACCEPT_KEYS=1: take encryption keys the rotation check would hold back (the documented way out). */
  acceptKeys?: boolean;
  /** `aws --endpoint-url`, e.g. a loopback Secrets Manager. */
  endpointUrl?: string;
  /** Prefix for every path the script writes (default `/`). */
  root?: string;
  /** Where installed-version and installed-keys live, under the root (default /var/lib/secure-etcd). */
  stateDir?: string;
  /** uid:gid or user:group for every file and dir written (default root:root). */
  owner?: string;
  /** Seconds per AWS call (connect and read; default 30). */
  timeoutSeconds?: number;
  /** Extra environment (e.g. AWS_ACCESS_KEY_ID, PATH to pick an AWS CLI); the caller's environment is the base. */
  env?: Record<string, string | undefined>;
  /** The shell that runs the script (default /bin/sh; Debian's is dash). */
  shell?: string;
  /** Kill the script after this long (default 120 s). */
  killAfterMs?: number;
}

export interface BootstrapResult {
  code: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** The script's environment for these options. */
export function bootstrapEnv(o: BootstrapOptions): Record<string, string> {
  const env: Record<string, string> = {
    SECURE_ETCD_SECRET_ID: o.secretId,
    SECURE_ETCD_REGION: o.region,
    SECURE_ETCD_MEMBER: o.member,
    SECURE_ETCD_CLUSTER: o.cluster,
    SECURE_ETCD_ENVIRONMENT: o.environment,
    SECURE_ETCD_SIGNING_KEY: o.signingKey,
  };
  if (o.acceptKeys) env.SECURE_ETCD_ACCEPT_KEYS = "1";
  if (o.endpointUrl) env.SECURE_ETCD_ENDPOINT_URL = o.endpointUrl;
  if (o.root) env.SECURE_ETCD_ROOT = o.root;
  if (o.stateDir) env.SECURE_ETCD_STATE_DIR = o.stateDir;
  if (o.owner) env.SECURE_ETCD_OWNER = o.owner;
  if (o.timeoutSeconds !== undefined) env.SECURE_ETCD_TIMEOUT = String(o.timeoutSeconds);
  return env;
}

/** Runs the script once and collects its output (it never prints a secret). */
export function runBootstrap(o: BootstrapOptions): Promise<BootstrapResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...o.env, ...bootstrapEnv(o) };
  for (const [k, v] of Object.entries(o.env ?? {})) if (v === undefined) delete env[k];
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(o.shell ?? "/bin/sh", [bootstrapScriptPath], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), o.killAfterMs ?? 120_000);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, durationMs: Date.now() - started });
    });
  });
}
