/**
 * A small AWS Secrets Manager endpoint on loopback for the node-bootstrap tests and the rehearsal: the
 * wire protocol the real AWS CLI speaks (JSON 1.1 over HTTP POST, `X-Amz-Target: secretsmanager.<Op>`,
 * errors as `{"__type": "...", "Message": "..."}` with HTTP 400), pointed at with `--endpoint-url`.
 *
 * Operations: GetSecretValue, DescribeSecret, CreateSecret, PutSecretValue, DeleteSecret (immediate).
 * Version semantics as AWS documents them: a put version gets AWSCURRENT, the version that had it gets
 * AWSPREVIOUS, the one that had AWSPREVIOUS loses its last label (it stays readable by VersionId);
 * GetSecretValue without VersionId/VersionStage reads AWSCURRENT; both given must agree; a secret
 * created without a value has no AWSCURRENT and reads as ResourceNotFoundException. `ClientRequestToken`
 * becomes the VersionId (the CLI sends a UUID); repeating it with the same value is a no-op, with
 * another value ResourceExistsException. A secret is found by name, full ARN or ARN without the random
 * suffix.
 *
 * A SigV4 `Authorization` header must be present (else MissingAuthenticationTokenException); its
 * signature is NOT verified (loopback, tests only). The credential scope's region and service are
 * recorded per request so tests can check what the client sent.
 *
 * Test hooks: `put()`/`create()` publish without the CLI, `stop()`/`restart()` make the endpoint
 * unreachable and back (secrets survive), `faults` answers slowly or with a given error.
 */
import { randomBytes, randomUUID } from "node:crypto";
import * as http from "node:http";
import { listenOnLoopback } from "./loopbackServer";

export const currentStage = "AWSCURRENT";
export const previousStage = "AWSPREVIOUS";

export interface SecretVersion {
  versionId: string;
  secretString: string;
  stages: string[];
  createdDate: Date;
}

export interface StoredSecret {
  name: string;
  arn: string;
  description?: string;
  kmsKeyId?: string;
  tags: { Key: string; Value: string }[];
  createdDate: Date;
  lastChangedDate: Date;
  /** Oldest first. */
  versions: SecretVersion[];
}

export interface SecretsRequestRecord {
  /** The operation (X-Amz-Target without the `secretsmanager.` prefix). */
  operation: string;
  secretId?: string;
  versionId?: string;
  versionStage?: string;
  status: number;
  /** The `__type` of an error answer. */
  errorType?: string;
  /** Region and service named in the SigV4 credential scope. */
  region?: string;
  service?: string;
  /** The client's User-Agent (e.g. `aws-cli/2.9.19 …`: which CLI sent it). */
  userAgent?: string;
}

export interface LocalSecretsManagerFaults {
  /** Wait this long before answering each request (a slow endpoint; the client may time out first). */
  delayMs?: number;
  /** Answer every request (of `operations`, if given) with this error instead. */
  error?: { status: number; type: string; message?: string; operations?: string[] };
}

export interface LocalSecretsManager {
  /** `http://127.0.0.1:<port>`, for `--endpoint-url`. */
  url: string;
  port: number;
  region: string;
  accountId: string;
  faults: LocalSecretsManagerFaults;
  /** Creates a secret (optionally with a first version); returns its ARN and the version id, if any. */
  create(name: string, secretString?: string): { arn: string; versionId?: string };
  /** Publishes a new AWSCURRENT version (creating the secret if needed); returns its VersionId. */
  put(secretId: string, secretString: string, versionId?: string): string;
  /** Removes a secret and every version at once. */
  delete(secretId: string): void;
  /** A copy of a stored secret, or undefined. */
  get(secretId: string): StoredSecret | undefined;
  /** The AWSCURRENT version id of a secret. */
  currentVersion(secretId: string): string | undefined;
  requests(): SecretsRequestRecord[];
  /** Stops listening and drops open connections: the endpoint is "down". Secrets are kept. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
}

export interface LocalSecretsManagerOptions {
  port?: number;
  /** Loopback address to listen on (default 127.0.0.1). */
  host?: string;
  /** Region used in ARNs (default us-east-1). */
  region?: string;
  accountId?: string;
}

class SmError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const notFound = (what = "Secrets Manager can't find the specified secret.") =>
  new SmError("ResourceNotFoundException", what);
const epoch = (d: Date) => d.getTime() / 1000;
const secretName = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const str = (v: unknown, field: string): string | undefined => {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new SmError("InvalidParameterException", `${field} must be a string`);
  return v;
};

export async function startLocalSecretsManager(
  o: LocalSecretsManagerOptions = {},
): Promise<LocalSecretsManager> {
  const host = o.host ?? "127.0.0.1";
  const region = o.region ?? "us-east-1";
  const accountId = o.accountId ?? "123456789012";
  const secrets = new Map<string, StoredSecret>();
  const log: SecretsRequestRecord[] = [];
  const faults: LocalSecretsManagerFaults = {};

  function find(id: string): StoredSecret | undefined {
    const byName = secrets.get(id);
    if (byName) return byName;
    for (const s of secrets.values())
      if (s.arn === id || s.arn.slice(0, -7) === id || (id.startsWith("arn:") && s.arn.startsWith(`${id}-`)))
        return s;
    return undefined;
  }
  const mustFind = (id: string | undefined) => {
    if (!id) throw new SmError("InvalidParameterException", "SecretId is required");
    const s = find(id);
    if (!s) throw notFound();
    return s;
  };

  function createSecret(name: string, description?: string, kmsKeyId?: string, tags?: StoredSecret["tags"]) {
    if (!secretName.test(name))
      throw new SmError(
        "InvalidParameterException",
        `Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!`,
      );
    if (find(name))
      throw new SmError(
        "ResourceExistsException",
        `The operation failed because the secret ${name} already exists.`,
      );
    const now = new Date();
    const suffix = randomBytes(6)
      .toString("base64")
      .replace(/[^A-Za-z0-9]/g, "x")
      .slice(0, 6);
    const s: StoredSecret = {
      name,
      arn: `arn:aws:secretsmanager:${region}:${accountId}:secret:${name}-${suffix}`,
      description,
      kmsKeyId,
      tags: tags ?? [],
      createdDate: now,
      lastChangedDate: now,
      versions: [],
    };
    secrets.set(name, s);
    return s;
  }

  function putVersion(s: StoredSecret, secretString: string, token?: string): SecretVersion {
    const versionId = token ?? randomUUID();
    if (versionId.length < 32 || versionId.length > 64)
      throw new SmError("InvalidParameterException", "ClientRequestToken must be 32 to 64 characters long");
    const existing = s.versions.find((v) => v.versionId === versionId);
    if (existing) {
      if (existing.secretString === secretString) return existing;
      throw new SmError(
        "ResourceExistsException",
        "You can't modify an existing version, you can only create a new version.",
      );
    }
    for (const v of s.versions) v.stages = v.stages.filter((st) => st !== previousStage);
    for (const v of s.versions)
      if (v.stages.includes(currentStage))
        v.stages = [...v.stages.filter((st) => st !== currentStage), previousStage];
    const version: SecretVersion = {
      versionId,
      secretString,
      stages: [currentStage],
      createdDate: new Date(),
    };
    s.versions.push(version);
    s.lastChangedDate = version.createdDate;
    return version;
  }

  function handle(op: string, body: Record<string, unknown>, rec: SecretsRequestRecord): unknown {
    const secretId = str(body.SecretId, "SecretId");
    rec.secretId = secretId ?? str(body.Name, "Name");
    switch (op) {
      case "GetSecretValue": {
        const s = mustFind(secretId);
        const versionId = str(body.VersionId, "VersionId");
        const stage = str(body.VersionStage, "VersionStage");
        rec.versionId = versionId;
        rec.versionStage = stage;
        let v: SecretVersion | undefined;
        if (versionId) {
          v = s.versions.find((x) => x.versionId === versionId);
          if (!v)
            throw notFound(
              `Secrets Manager can't find the specified secret value for VersionId: ${versionId}`,
            );
          if (stage && !v.stages.includes(stage))
            throw new SmError(
              "InvalidRequestException",
              `You provided a VersionStage that is not associated to the provided VersionId.`,
            );
        } else {
          const want = stage ?? currentStage;
          v = s.versions.find((x) => x.stages.includes(want));
          if (!v)
            throw notFound(
              `Secrets Manager can't find the specified secret value for staging label: ${want}`,
            );
        }
        return {
          ARN: s.arn,
          Name: s.name,
          VersionId: v.versionId,
          SecretString: v.secretString,
          VersionStages: [...v.stages],
          CreatedDate: epoch(v.createdDate),
        };
      }
      case "DescribeSecret": {
        const s = mustFind(secretId);
        return {
          ARN: s.arn,
          Name: s.name,
          ...(s.description !== undefined ? { Description: s.description } : {}),
          ...(s.kmsKeyId !== undefined ? { KmsKeyId: s.kmsKeyId } : {}),
          RotationEnabled: false,
          LastChangedDate: epoch(s.lastChangedDate),
          CreatedDate: epoch(s.createdDate),
          Tags: s.tags,
          VersionIdsToStages: Object.fromEntries(
            s.versions.filter((v) => v.stages.length > 0).map((v) => [v.versionId, [...v.stages]]),
          ),
        };
      }
      case "CreateSecret": {
        const name = str(body.Name, "Name");
        if (!name) throw new SmError("InvalidParameterException", "Name is required");
        if (body.SecretBinary !== undefined)
          throw new SmError(
            "InvalidParameterException",
            "SecretBinary is not supported by this local endpoint",
          );
        const s = createSecret(
          name,
          str(body.Description, "Description"),
          str(body.KmsKeyId, "KmsKeyId"),
          body.Tags as StoredSecret["tags"] | undefined,
        );
        const value = str(body.SecretString, "SecretString");
        const v =
          value === undefined
            ? undefined
            : putVersion(s, value, str(body.ClientRequestToken, "ClientRequestToken"));
        return { ARN: s.arn, Name: s.name, ...(v ? { VersionId: v.versionId } : {}) };
      }
      case "PutSecretValue": {
        const s = mustFind(secretId);
        const value = str(body.SecretString, "SecretString");
        if (value === undefined)
          throw new SmError(
            "InvalidParameterException",
            "SecretString is required (SecretBinary is not supported here)",
          );
        if (body.VersionStages !== undefined)
          throw new SmError(
            "InvalidParameterException",
            "VersionStages is not supported by this local endpoint",
          );
        const v = putVersion(s, value, str(body.ClientRequestToken, "ClientRequestToken"));
        return { ARN: s.arn, Name: s.name, VersionId: v.versionId, VersionStages: [...v.stages] };
      }
      case "DeleteSecret": {
        const s = mustFind(secretId);
        secrets.delete(s.name);
        return { ARN: s.arn, Name: s.name, DeletionDate: epoch(new Date()) };
      }
      default:
        throw new SmError("UnknownOperationException", `Unknown operation ${op}`);
    }
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const target = String(req.headers["x-amz-target"] ?? "");
      const op = target.startsWith("secretsmanager.") ? target.slice("secretsmanager.".length) : target;
      const rec: SecretsRequestRecord = { operation: op, status: 200, userAgent: req.headers["user-agent"] };
      const scope = /Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(
        String(req.headers.authorization ?? ""),
      );
      if (scope) [rec.region, rec.service] = [scope[1], scope[2]];
      let status = 200;
      let payload: unknown;
      try {
        if (req.method !== "POST" || !target.startsWith("secretsmanager."))
          throw new SmError(
            "UnknownOperationException",
            `expected POST with X-Amz-Target: secretsmanager.<Operation>`,
          );
        if (!String(req.headers.authorization ?? "").startsWith("AWS4-HMAC-SHA256 "))
          throw new SmError("MissingAuthenticationTokenException", "Missing Authentication Token");
        const fault = faults.error;
        if (fault && (!fault.operations || fault.operations.includes(op)))
          throw new SmError(fault.type, fault.message ?? `injected ${fault.type}`, fault.status);
        const text = Buffer.concat(chunks).toString("utf8");
        let body: unknown;
        try {
          body = text ? JSON.parse(text) : {};
        } catch {
          throw new SmError("SerializationException", "the request body is not JSON");
        }
        if (typeof body !== "object" || body === null || Array.isArray(body))
          throw new SmError("SerializationException", "the request body is not a JSON object");
        payload = handle(op, body as Record<string, unknown>, rec);
      } catch (e) {
        const err = e instanceof SmError ? e : new SmError("InternalServiceError", (e as Error).message, 500);
        status = err.status;
        rec.errorType = err.type;
        payload = { __type: err.type, Message: err.message };
      }
      rec.status = status;
      log.push(rec);
      const out = JSON.stringify(payload);
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(status, {
          "content-type": "application/x-amz-json-1.1",
          "content-length": Buffer.byteLength(out),
          "x-amzn-requestid": randomUUID(),
          ...(rec.errorType ? { "x-amzn-errortype": rec.errorType } : {}),
        });
        res.end(out);
      };
      if (faults.delayMs) setTimeout(send, faults.delayMs).unref();
      else send();
    });
  });
  const listener = await listenOnLoopback(server, "localSecretsManager", host, o.port ?? 0);
  const port = listener.port;

  const copy = (s: StoredSecret): StoredSecret => ({
    ...s,
    tags: s.tags.map((t) => ({ ...t })),
    versions: s.versions.map((v) => ({ ...v, stages: [...v.stages] })),
  });

  return {
    url: listener.url,
    port,
    region,
    accountId,
    faults,
    create(name, secretString) {
      const s = createSecret(name);
      const v = secretString === undefined ? undefined : putVersion(s, secretString);
      return { arn: s.arn, versionId: v?.versionId };
    },
    put(secretId, secretString, versionId) {
      const s = find(secretId) ?? createSecret(secretId);
      return putVersion(s, secretString, versionId).versionId;
    },
    delete(secretId) {
      secrets.delete(mustFind(secretId).name);
    },
    get(secretId) {
      const s = find(secretId);
      return s && copy(s);
    },
    currentVersion(secretId) {
      return find(secretId)?.versions.find((v) => v.stages.includes(currentStage))?.versionId;
    },
    requests: () => log.map((r) => ({ ...r })),
    stop: listener.stop,
    restart: listener.restart,
  };
}
