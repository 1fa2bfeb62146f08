/**
 * moto's server (AWS S3, KMS, Secrets Manager, IAM, STS, EC2 … on one loopback port) for the drills and
 * tests, started from the virtualenv setup makes and stopped by pid. What moto checks and what it does
 * not is in DESIGN.md ("moto 5.x server"): it stores resource and key policies but does not evaluate
 * them; with IAM enforcement on it evaluates identity policies of credentials created in it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  IAMClient,
  PutUserPolicyCommand,
} from "@aws-sdk/client-iam";
import { freePort, sleep, spawnManaged, tailFile, type ManagedProcess } from "./process";
import { pythonVenv } from "./upstream";

/** moto accepts any key pair until IAM enforcement is on; these are its documented defaults. */
export const motoRootCredentials = { accessKeyId: "testing", secretAccessKey: "testing" } as const;
/** The account id moto gives every resource (its default). */
export const motoAccountId = "123456789012";

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface MotoServer {
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  host: string;
  port: number;
  pid: number;
  logFile: string;
  region: string;
  /** Environment for the AWS CLI (and SDKs that read it) against this server, with the given credentials. */
  env(credentials?: AwsCredentials): Record<string, string>;
  /** Client config for an AWS SDK v3 client against this server. */
  clientConfig(credentials?: AwsCredentials): {
    endpoint: string;
    region: string;
    forcePathStyle: true;
    credentials: AwsCredentials;
  };
  /** Drops every resource (moto's POST /moto-api/reset). */
  reset(): Promise<void>;
  /**
   * Turns IAM enforcement on after `freeCalls` more unauthenticated calls (moto's reset-auth): from then
   * on every call must be signed with credentials created in moto and is checked against their policies.
   */
  enforceIam(freeCalls?: number): Promise<void>;
  /** SIGTERM (then SIGKILL) by pid; resolves when the process is gone. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartMotoOptions {
  /** Where its log goes (workDir/moto.log). */
  workDir: string;
  /** Loopback address (default 127.0.0.1); the port is a free one. */
  host?: string;
  region?: string;
  /** How long it may take to answer (default 60 s: moto imports a lot on a loaded machine). */
  startTimeoutMs?: number;
  /**
   * Secrets Manager as AWS behaves where moto 5.2.6 does not (harness/motoSecretsByArn.py): calls
   * authorized against the secret's ARN instead of `*` (moto names a resource only for S3, IAM, STS and
   * SQS, so a policy scoped to one secret would refuse even that secret), and UpdateSecretVersionStage
   * moving what GetSecretValue reads.
   */
  secretsByArn?: boolean;
  /** Extra environment for moto (e.g. MOTO_S3_DEFAULT_KEY_BUFFER_SIZE). */
  env?: Record<string, string>;
}

async function post(url: string, body?: string): Promise<void> {
  const r = await fetch(url, { method: "POST", body });
  if (!r.ok) throw new Error(`POST ${url}: HTTP ${r.status}`);
}

async function untilAnswering(url: string, proc: ManagedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitStatus !== undefined)
      throw new Error(
        `moto_server exited (${proc.exitStatus}); last lines of ${proc.logFile}:\n${tailFile(proc.logFile)}`,
      );
    try {
      const r = await fetch(`${url}/moto-api/data.json`, { signal: AbortSignal.timeout(2000) });
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(
        `moto_server did not answer within ${timeoutMs} ms; last lines of ${proc.logFile}:\n${tailFile(proc.logFile)}`,
      );
    }
    await sleep(200);
  }
}

/** Starts moto's server on a loopback address and waits until it answers. */
export async function startMoto(o: StartMotoOptions): Promise<MotoServer> {
  const host = o.host ?? "127.0.0.1";
  const region = o.region ?? "us-east-1";
  const port = await freePort(host);
  fs.mkdirSync(o.workDir, { recursive: true, mode: 0o700 });
  const logFile = path.join(o.workDir, `moto-${port}.log`);
  const venv = pythonVenv();
  const listen = ["-H", host, "-p", String(port)];
  const proc = o.secretsByArn
    ? spawnManaged(
        "moto",
        venv.bin("python"),
        [path.join(__dirname, "motoSecretsByArn.py"), ...listen],
        logFile,
        o.env,
      )
    : spawnManaged("moto", venv.bin("moto_server"), listen, logFile, o.env);
  const endpoint = `http://${host}:${port}`;
  await untilAnswering(endpoint, proc, o.startTimeoutMs ?? 60_000);
  const credentialsOr = (c?: AwsCredentials): AwsCredentials => c ?? { ...motoRootCredentials };
  return {
    endpoint,
    host,
    port,
    pid: proc.pid,
    logFile,
    region,
    env(c) {
      const cred = credentialsOr(c);
      return {
        AWS_ACCESS_KEY_ID: cred.accessKeyId,
        AWS_SECRET_ACCESS_KEY: cred.secretAccessKey,
        ...(cred.sessionToken ? { AWS_SESSION_TOKEN: cred.sessionToken } : {}),
        AWS_DEFAULT_REGION: region,
        AWS_REGION: region,
        AWS_ENDPOINT_URL: endpoint,
        // Never a profile or IMDS of the machine: only what is set here.
        AWS_CONFIG_FILE: "/dev/null",
        AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_PAGER: "",
      };
    },
    clientConfig(c) {
      return { endpoint, region, forcePathStyle: true, credentials: credentialsOr(c) };
    },
    reset: () => post(`${endpoint}/moto-api/reset`),
    // moto reads the body as a bare number (`float(request.data)`), not JSON.
    enforceIam: (freeCalls = 0) => post(`${endpoint}/moto-api/reset-auth`, String(freeCalls)),
    stop: () => proc.stop(),
  };
}

/**
 * A moto IAM user with one inline policy and an access key: credentials that moto's IAM enforcement
 * judges by that policy alone. `iam` signs as a principal allowed to create users (root, before
 * enforcement is on, or an admin user).
 */
export async function motoUserWithPolicy(
  iam: IAMClient,
  user: string,
  policy: string | object,
  policyName = user,
): Promise<AwsCredentials> {
  await iam.send(new CreateUserCommand({ UserName: user }));
  await iam.send(
    new PutUserPolicyCommand({
      UserName: user,
      PolicyName: policyName,
      PolicyDocument: typeof policy === "string" ? policy : JSON.stringify(policy),
    }),
  );
  const k = (await iam.send(new CreateAccessKeyCommand({ UserName: user }))).AccessKey!;
  return { accessKeyId: k.AccessKeyId!, secretAccessKey: k.SecretAccessKey! };
}
