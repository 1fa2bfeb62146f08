// @ts-check
/**
 * Where the snapshot job's AWS credentials come from, in the order the AWS SDKs use for a pod:
 *  1. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN);
 *  2. web identity (IRSA): AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE → STS AssumeRoleWithWebIdentity;
 *  3. container credentials (EKS Pod Identity, ECS): AWS_CONTAINER_CREDENTIALS_FULL_URI or
 *     _RELATIVE_URI, with AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE);
 *  4. the instance profile through IMDSv2 (unless AWS_EC2_METADATA_DISABLED=true).
 * Temporary credentials are refreshed five minutes before they expire. Nothing here is logged.
 */
"use strict";

const fs = require("node:fs");
const {
  AwsError,
  EMPTY_SHA256,
  HttpClient,
  checkAnswer,
  clean,
  dnsSuffix,
  withRetries,
} = require("./aws.js");

/** @typedef {import("./aws.js").Credentials} Credentials */
/** @typedef {import("./aws.js").CredentialProvider} CredentialProvider */

const REFRESH_BEFORE_MS = 5 * 60_000;

/**
 * Caches what `load` returns until five minutes before it expires.
 * @param {string} source
 * @param {() => Promise<Credentials>} load
 * @returns {CredentialProvider}
 */
function refreshing(source, load) {
  /** @type {Credentials | undefined} */
  let cached;
  /** @type {Promise<Credentials> | undefined} */
  let loading;
  return {
    source,
    async get() {
      if (cached && (!cached.expiration || cached.expiration.getTime() - Date.now() > REFRESH_BEFORE_MS))
        return cached;
      loading ??= load().finally(() => (loading = undefined));
      cached = await loading;
      return cached;
    },
  };
}

/** @param {string | undefined} s */
const dateOf = (s) => (s ? new Date(s) : undefined);

/**
 * @param {NodeJS.ProcessEnv} env
 * @param {HttpClient} client
 * @param {string} region
 * @returns {CredentialProvider}
 */
function credentialChain(env, client, region) {
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    const c = {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      sessionToken: env.AWS_SESSION_TOKEN || undefined,
    };
    return { source: "environment", get: async () => c };
  }
  if (env.AWS_ROLE_ARN && env.AWS_WEB_IDENTITY_TOKEN_FILE)
    return refreshing("web identity (IRSA)", () => webIdentity(env, client, region));
  if (env.AWS_CONTAINER_CREDENTIALS_FULL_URI || env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)
    return refreshing("container credentials", () => containerCredentials(env, client));
  if (String(env.AWS_EC2_METADATA_DISABLED).toLowerCase() !== "true")
    // Its own short timeouts: off EC2 nothing answers at 169.254.169.254, and that should fail fast.
    return refreshing("instance profile (IMDSv2)", async () => {
      const imds = new HttpClient({ readTimeoutMs: 5000, connectTimeoutMs: 1000, maxSockets: 2 });
      try {
        return await instanceProfile(env, imds);
      } finally {
        imds.close();
      }
    });
  return {
    source: "none",
    get: () =>
      Promise.reject(
        new AwsError(
          "no AWS credentials: set IRSA (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE), Pod Identity, an instance profile or AWS_ACCESS_KEY_ID",
        ),
      ),
  };
}

/** STS AssumeRoleWithWebIdentity (unsigned: the token is the proof). */
async function webIdentity(
  /** @type {NodeJS.ProcessEnv} */ env,
  /** @type {HttpClient} */ client,
  /** @type {string} */ region,
) {
  let token;
  try {
    token = fs.readFileSync(/** @type {string} */ (env.AWS_WEB_IDENTITY_TOKEN_FILE), "utf8").trim();
  } catch (e) {
    throw new AwsError(
      `cannot read the web identity token file AWS_WEB_IDENTITY_TOKEN_FILE (${/** @type {NodeJS.ErrnoException} */ (e).code})`,
    );
  }
  const endpoint =
    env.AWS_ENDPOINT_URL_STS || env.AWS_ENDPOINT_URL || `https://sts.${region}.${dnsSuffix(region)}`;
  const body = new URLSearchParams({
    Action: "AssumeRoleWithWebIdentity",
    Version: "2011-06-15",
    RoleArn: /** @type {string} */ (env.AWS_ROLE_ARN),
    RoleSessionName: env.AWS_ROLE_SESSION_NAME || `etcd-snapshot-${Date.now()}`,
    WebIdentityToken: token,
  }).toString();
  const res = await withRetries(
    async () =>
      checkAnswer(
        await client.send(new URL(endpoint), {
          method: "POST",
          headers: {
            "content-type": "application/x-www-form-urlencoded; charset=utf-8",
            "content-length": String(Buffer.byteLength(body)),
            "x-amz-content-sha256": EMPTY_SHA256,
          },
          body,
        }),
        "STS AssumeRoleWithWebIdentity",
      ),
    3,
  );
  const xml = res.body.toString("utf8");
  const field = (/** @type {string} */ n) => new RegExp(`<${n}>([^<]*)</${n}>`).exec(xml)?.[1];
  const c = {
    accessKeyId: field("AccessKeyId"),
    secretAccessKey: field("SecretAccessKey"),
    sessionToken: field("SessionToken"),
    expiration: dateOf(field("Expiration")),
  };
  if (!c.accessKeyId || !c.secretAccessKey || !c.sessionToken)
    throw new AwsError("STS AssumeRoleWithWebIdentity answered without credentials");
  return /** @type {Credentials} */ (c);
}

/** The JSON shape container endpoints and IMDS answer with. */
function fromJson(/** @type {Buffer} */ body, /** @type {string} */ what) {
  /** @type {{ AccessKeyId?: string, SecretAccessKey?: string, Token?: string, Expiration?: string }} */
  let j;
  try {
    j = JSON.parse(body.toString("utf8"));
  } catch {
    throw new AwsError(`${what} answered with something that is not JSON`);
  }
  if (!j.AccessKeyId || !j.SecretAccessKey) throw new AwsError(`${what} answered without credentials`);
  return {
    accessKeyId: j.AccessKeyId,
    secretAccessKey: j.SecretAccessKey,
    sessionToken: j.Token,
    expiration: dateOf(j.Expiration),
  };
}

/** Hosts a plain-http container credentials URI may name (the SDKs' rule: loopback, ECS, EKS Pod Identity). */
const CONTAINER_HTTP_HOSTS =
  /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost|169\.254\.170\.2|169\.254\.170\.23|\[fd00:ec2::23\])$/;

async function containerCredentials(/** @type {NodeJS.ProcessEnv} */ env, /** @type {HttpClient} */ client) {
  const url = env.AWS_CONTAINER_CREDENTIALS_FULL_URI
    ? new URL(env.AWS_CONTAINER_CREDENTIALS_FULL_URI)
    : new URL(`http://169.254.170.2${env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI}`);
  if (url.protocol !== "https:" && !CONTAINER_HTTP_HOSTS.test(url.hostname))
    throw new AwsError(
      `AWS_CONTAINER_CREDENTIALS_FULL_URI must be https or a loopback/ECS/EKS Pod Identity address (got host ${clean(url.hostname, 60)})`,
    );
  /** @type {Record<string, string>} */
  const headers = {};
  const token = env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
    ? fs.readFileSync(env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, "utf8").trim()
    : env.AWS_CONTAINER_AUTHORIZATION_TOKEN;
  if (token) headers.authorization = token;
  const res = await withRetries(
    async () =>
      checkAnswer(await client.send(url, { method: "GET", headers }), "container credentials endpoint"),
    3,
  );
  return fromJson(res.body, "the container credentials endpoint");
}

async function instanceProfile(/** @type {NodeJS.ProcessEnv} */ env, /** @type {HttpClient} */ client) {
  const base = (env.AWS_EC2_METADATA_SERVICE_ENDPOINT || "http://169.254.169.254").replace(/\/$/, "");
  const send = async (
    /** @type {string} */ method,
    /** @type {string} */ path,
    /** @type {Record<string, string>} */ headers,
  ) => checkAnswer(await client.send(new URL(`${base}${path}`), { method, headers }), `IMDS ${path}`);
  const token = (
    await withRetries(
      () => send("PUT", "/latest/api/token", { "x-aws-ec2-metadata-token-ttl-seconds": "21600" }),
      2,
    )
  ).body
    .toString()
    .trim();
  const auth = { "x-aws-ec2-metadata-token": token };
  const role = (
    await withRetries(() => send("GET", "/latest/meta-data/iam/security-credentials/", auth), 2)
  ).body
    .toString()
    .trim()
    .split("\n")[0];
  if (!role) throw new AwsError("the instance has no IAM role (IMDS lists no security credentials)");
  const res = await withRetries(
    () => send("GET", `/latest/meta-data/iam/security-credentials/${encodeURIComponent(role)}`, auth),
    2,
  );
  return fromJson(res.body, "IMDS");
}

module.exports = { credentialChain };
