// @ts-check
/**
 * What the snapshot job needs of AWS, with nothing but Node: Signature Version 4, one keep-alive HTTP
 * client for every call of a run (instead of an AWS CLI process per call), retries of what is safe to
 * retry, and endpoints per partition. The S3 operations are in s3.js, the credential chain in
 * credentials.js. Never logs or returns credentials, signatures or request bodies.
 */
"use strict";

const crypto = require("node:crypto");
const http = require("node:http");
const https = require("node:https");

/** @typedef {{ accessKeyId: string, secretAccessKey: string, sessionToken?: string, expiration?: Date }} Credentials */
/** @typedef {{ get(): Promise<Credentials>, source: string }} CredentialProvider */
/** @typedef {{ status: number, headers: http.IncomingHttpHeaders, body: Buffer }} HttpResponse */

const EMPTY_SHA256 = crypto.createHash("sha256").digest("hex");

/** DNS suffix of a region's partition (aws, aws-cn; GovCloud and the ISO regions use amazonaws.com too). */
function dnsSuffix(/** @type {string} */ region) {
  return region.startsWith("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
}

/** RFC 3986 encoding as SigV4 wants it (unreserved characters bare, everything else %XX). */
function uriEncode(/** @type {string} */ s, encodeSlash = true) {
  let out = "";
  for (const ch of Buffer.from(s, "utf8")) {
    const c = String.fromCharCode(ch);
    if (/[A-Za-z0-9\-._~]/.test(c) || (!encodeSlash && c === "/")) out += c;
    else out += `%${ch.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** @param {string | Buffer} data */
const sha256hex = (data) => crypto.createHash("sha256").update(data).digest("hex");
/** @param {Buffer | string} key @param {string} data */
const hmac = (key, data) => crypto.createHmac("sha256", key).update(data, "utf8").digest();

/**
 * Signs a request in place (SigV4, header form): adds x-amz-date, x-amz-content-sha256,
 * x-amz-security-token and authorization.
 * @param {{ method: string, host: string, path: string, query: [string, string][],
 *   headers: Record<string, string>, payloadHash: string }} req  path already URI-encoded
 * @param {Credentials} creds
 * @param {string} region
 * @param {string} service
 * @param {Date} [now]
 */
function signV4(req, creds, region, service, now = new Date()) {
  const amzDate = now.toISOString().replace(/[:-]|\.\d{3}/g, "");
  const date = amzDate.slice(0, 8);
  req.headers["host"] = req.host;
  req.headers["x-amz-date"] = amzDate;
  req.headers["x-amz-content-sha256"] = req.payloadHash;
  if (creds.sessionToken) req.headers["x-amz-security-token"] = creds.sessionToken;
  const names = Object.keys(req.headers)
    .map((n) => n.toLowerCase())
    .filter(
      (n) =>
        n === "host" ||
        n.startsWith("x-amz-") ||
        n === "content-type" ||
        n === "content-md5" ||
        n === "if-none-match",
    )
    .sort();
  const canonicalHeaders = names
    .map((n) => `${n}:${String(req.headers[n]).trim().replace(/\s+/g, " ")}\n`)
    .join("");
  const signedHeaders = names.join(";");
  const canonicalQuery = req.query
    .map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonicalRequest = [
    req.method,
    req.path,
    canonicalQuery,
    canonicalHeaders,
    signedHeaders,
    req.payloadHash,
  ].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256hex(canonicalRequest)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${creds.secretAccessKey}`, date), region), service), "aws4_request");
  const signature = crypto.createHmac("sha256", key).update(stringToSign, "utf8").digest("hex");
  req.headers["authorization"] =
    `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return req;
}

/** An AWS error answer or a transport failure, with what failed (never a credential or a body). */
class AwsError extends Error {
  /**
   * @param {string} message
   * @param {{ status?: number, code?: string, retryable?: boolean, errno?: string }} [info]
   */
  constructor(message, info = {}) {
    super(message);
    this.status = info.status;
    this.code = info.code;
    this.errno = info.errno;
    this.retryable = info.retryable ?? false;
  }
}

/** Printable, one line, at most `max` characters: for text an AWS service sent, before it goes in a message. */
function clean(/** @type {string} */ s, max = 160) {
  return s
    .replace(/[^\x20-\x7e]+/g, " ")
    .trim()
    .slice(0, max);
}

/** `<Code>…</Code>` and `<Message>…</Message>` of an AWS XML error body. */
function xmlError(/** @type {Buffer} */ body) {
  const text = body.toString("utf8", 0, Math.min(body.length, 4096));
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
  return { code: code && clean(code, 60), message: message && clean(message) };
}

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);
const RETRYABLE_CODES = new Set([
  "RequestTimeout",
  "RequestTimeTooSkewed",
  "SlowDown",
  "InternalError",
  "ServiceUnavailable",
]);
const RETRYABLE_ERRNO = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNABORTED",
  "EHOSTUNREACH",
]);

/** One keep-alive HTTP(S) client for every AWS call a run makes. */
class HttpClient {
  /** @param {{ readTimeoutMs: number, connectTimeoutMs: number, maxSockets: number }} o */
  constructor(o) {
    this.o = o;
    const agentOptions = { keepAlive: true, maxSockets: o.maxSockets };
    this.agents = { "http:": new http.Agent(agentOptions), "https:": new https.Agent(agentOptions) };
  }

  /**
   * @param {URL} url
   * @param {{ method: string, headers: Record<string, string>, body?: Buffer | string }} req
   * @param {(chunk: Buffer) => void} [sink] receives a 2xx answer's body instead of buffering it
   * @returns {Promise<HttpResponse>}
   */
  send(url, req, sink) {
    const lib = url.protocol === "https:" ? https : http;
    const agent = this.agents[/** @type {"http:" | "https:"} */ (url.protocol)];
    return new Promise((resolve, reject) => {
      const r = lib.request(
        url,
        { method: req.method, headers: req.headers, agent, timeout: this.o.readTimeoutMs },
        (res) => {
          /** @type {Buffer[]} */
          const chunks = [];
          const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;
          res.on("data", (c) => (sink && ok ? sink(c) : chunks.push(c)));
          res.on("error", (e) => reject(transportError(e)));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          );
        },
      );
      const connectTimer = setTimeout(
        () => r.destroy(Object.assign(new Error("connect timeout"), { code: "ETIMEDOUT" })),
        this.o.connectTimeoutMs,
      );
      r.on("socket", (s) => {
        if (!s.connecting) clearTimeout(connectTimer);
        else s.once("connect", () => clearTimeout(connectTimer));
      });
      r.on("timeout", () => r.destroy(Object.assign(new Error("read timeout"), { code: "ETIMEDOUT" })));
      r.on("error", (e) => reject(transportError(e)));
      r.on("close", () => clearTimeout(connectTimer));
      r.end(req.body);
    });
  }

  close() {
    for (const a of Object.values(this.agents)) a.destroy();
  }
}

/** @param {Error} e */
function transportError(e) {
  const errno = /** @type {NodeJS.ErrnoException} */ (e).code ?? "";
  return new AwsError(`${errno || "network error"} (${clean(e.message, 80)})`, {
    errno,
    retryable: RETRYABLE_ERRNO.has(errno) || !errno,
  });
}

/**
 * Runs `attempt` up to `tries` times while it fails with a retryable error (exponential backoff).
 * @template T
 * @param {() => Promise<T>} attempt
 * @param {number} tries
 */
async function withRetries(attempt, tries) {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (e) {
      if (!(e instanceof AwsError) || !e.retryable || i >= tries) throw e;
      await new Promise((r) => setTimeout(r, Math.min(4000, 200 * 2 ** (i - 1)) * (0.5 + Math.random())));
    }
  }
}

/** Classifies an answer: resolves 2xx (and the statuses in `ok`), throws AwsError otherwise. */
function checkAnswer(
  /** @type {HttpResponse} */ res,
  /** @type {string} */ what,
  /** @type {number[]} */ ok = [],
) {
  if ((res.status >= 200 && res.status < 300) || ok.includes(res.status)) return res;
  const { code, message } = xmlError(res.body);
  throw new AwsError(
    `${what}: HTTP ${res.status}${code ? ` ${code}` : ""}${message ? ` (${message})` : ""}`,
    {
      status: res.status,
      code,
      retryable: RETRYABLE_STATUS.has(res.status) || (code !== undefined && RETRYABLE_CODES.has(code)),
    },
  );
}

module.exports = {
  AwsError,
  HttpClient,
  EMPTY_SHA256,
  checkAnswer,
  clean,
  dnsSuffix,
  sha256hex,
  signV4,
  uriEncode,
  withRetries,
  xmlError,
};
