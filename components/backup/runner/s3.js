// @ts-check
/**
 * The S3 calls the snapshot job makes, over one keep-alive client: HEAD/GET/PUT/DELETE of objects and
 * the multipart upload (create, parts, complete, abort). Every body is sent with its SHA-256 as the signed
 * payload hash (S3 refuses a body that does not match: nothing altered in transit is stored) and, for
 * uploads, as an x-amz-checksum-sha256 that S3 keeps and HEAD returns (with multipart: the SHA-256 of the
 * parts' SHA-256s, "-N"), so the job can compare what landed with what it sent without reading it back.
 * Path-style for a custom endpoint (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL), virtual-hosted otherwise.
 */
"use strict";

const crypto = require("node:crypto");
const {
  AwsError,
  EMPTY_SHA256,
  HttpClient,
  checkAnswer,
  dnsSuffix,
  signV4,
  uriEncode,
  withRetries,
  xmlError,
} = require("./aws.js");

/** @typedef {import("./aws.js").CredentialProvider} CredentialProvider */
/** @typedef {import("./aws.js").HttpResponse} HttpResponse */
/** @typedef {{ partNumber: number, etag: string, sha256: Buffer }} UploadedPart */

class S3 {
  /**
   * @param {{ region: string, endpoint?: string, credentials: CredentialProvider, client: HttpClient, tries?: number }} o
   */
  constructor(o) {
    this.o = o;
    this.tries = o.tries ?? 4;
    /** Requests sent, by operation (for the job's summary line and the tests). */
    /** @type {Record<string, number>} */
    this.calls = {};
  }

  /**
   * @param {string} bucket
   * @param {string} key
   * @param {[string, string][]} query
   */
  urlOf(bucket, key, query) {
    const path = `/${key
      .split("/")
      .map((s) => uriEncode(s))
      .join("/")}`;
    let base;
    let canonicalPath;
    if (this.o.endpoint) {
      const e = new URL(this.o.endpoint);
      const prefix = e.pathname.replace(/\/$/, "");
      base = `${e.protocol}//${e.host}`;
      canonicalPath = `${prefix}/${uriEncode(bucket)}${key ? path : ""}`;
    } else if (bucket.includes(".")) {
      // A dotted name does not match the *.s3 certificate as a host: path-style.
      base = `https://s3.${this.o.region}.${dnsSuffix(this.o.region)}`;
      canonicalPath = `/${uriEncode(bucket)}${key ? path : ""}`;
    } else {
      base = `https://${bucket}.s3.${this.o.region}.${dnsSuffix(this.o.region)}`;
      canonicalPath = key ? path : "/";
    }
    const search = query.length
      ? `?${query.map(([k, v]) => (v === "" ? uriEncode(k) : `${uriEncode(k)}=${uriEncode(v)}`)).join("&")}`
      : "";
    return { url: new URL(`${base}${canonicalPath}${search}`), canonicalPath };
  }

  /**
   * One signed request, retried while the failure is retryable.
   * @param {string} operation e.g. "PutObject"
   * @param {{ method: string, bucket: string, key: string, query?: [string, string][], headers?: Record<string, string>,
   *   body?: Buffer, bodySha256?: Buffer, ok?: number[], sink?: (chunk: Buffer) => void, tries?: number }} r
   *   bodySha256: the body's SHA-256 when the caller has it already (it is the signed payload hash)
   * @returns {Promise<HttpResponse>}
   */
  async request(operation, r) {
    const query = r.query ?? [];
    const { url, canonicalPath } = this.urlOf(r.bucket, r.key, query);
    const payloadHash = r.body
      ? (r.bodySha256 ?? crypto.createHash("sha256").update(r.body).digest()).toString("hex")
      : EMPTY_SHA256;
    const target = `s3://${r.bucket}/${r.key}`;
    return withRetries(async () => {
      this.calls[operation] = (this.calls[operation] ?? 0) + 1;
      const creds = await this.o.credentials.get();
      /** @type {Record<string, string>} */
      const headers = { ...(r.headers ?? {}) };
      if (r.body) headers["content-length"] = String(r.body.length);
      signV4(
        { method: r.method, host: url.host, path: canonicalPath, query, headers, payloadHash },
        creds,
        this.o.region,
        "s3",
      );
      const res = await this.o.client.send(url, { method: r.method, headers, body: r.body }, r.sink);
      return checkAnswer(res, `${operation} ${target}`, r.ok);
    }, r.tries ?? this.tries);
  }

  /**
   * HEAD of an object; `undefined` when it does not exist (404, or 403 when the caller may not list: S3
   * answers 403 for a missing key then).
   * @param {string} bucket @param {string} key @param {{ checksum?: boolean }} [o]
   */
  async head(bucket, key, o = {}) {
    const res = await this.request("HeadObject", {
      method: "HEAD",
      bucket,
      key,
      headers: o.checksum ? { "x-amz-checksum-mode": "ENABLED" } : {},
      ok: [403, 404],
    });
    if (res.status === 403 || res.status === 404) return undefined;
    const h = res.headers;
    /** @type {Record<string, string>} */
    const metadata = {};
    for (const [k, v] of Object.entries(h))
      if (k.startsWith("x-amz-meta-") && typeof v === "string") metadata[k.slice(11)] = v;
    return {
      size: Number(h["content-length"]),
      sse: /** @type {string | undefined} */ (h["x-amz-server-side-encryption"]),
      kmsKeyId: /** @type {string | undefined} */ (h["x-amz-server-side-encryption-aws-kms-key-id"]),
      checksumSha256: /** @type {string | undefined} */ (h["x-amz-checksum-sha256"]),
      metadata,
    };
  }

  /**
   * A small object's bytes (a marker, a manifest), or undefined when it does not exist (404/403).
   * @param {string} bucket @param {string} key @param {number} maxBytes refuses anything larger
   */
  async getSmall(bucket, key, maxBytes) {
    const res = await this.request("GetObject", { method: "GET", bucket, key, ok: [403, 404] });
    if (res.status === 403 || res.status === 404) {
      const { code } = xmlError(res.body);
      if (res.status === 404 || code === "AccessDenied" || code === undefined) return undefined;
    }
    if (res.body.length > maxBytes)
      throw new AwsError(`GetObject s3://${bucket}/${key}: larger than ${maxBytes} bytes`);
    return res.body;
  }

  /**
   * Streams an object through `sink` (VERIFY_DOWNLOAD), returning its size.
   * @param {string} bucket @param {string} key @param {(chunk: Buffer) => void} sink
   */
  async getTo(bucket, key, sink) {
    let size = 0;
    // Not retried: the sink has seen part of the body once a read fails.
    await this.request("GetObject", {
      method: "GET",
      bucket,
      key,
      tries: 1,
      sink: (c) => {
        size += c.length;
        sink(c);
      },
    });
    return size;
  }

  /**
   * @param {string} bucket @param {string} key @param {Buffer} body @param {Record<string, string>} headers
   * @param {Buffer} [sha256] the body's SHA-256 when already known
   */
  async put(bucket, key, body, headers, sha256) {
    const digest = sha256 ?? crypto.createHash("sha256").update(body).digest();
    await this.request("PutObject", {
      method: "PUT",
      bucket,
      key,
      body,
      bodySha256: digest,
      headers: {
        ...headers,
        "x-amz-sdk-checksum-algorithm": "SHA256",
        "x-amz-checksum-sha256": digest.toString("base64"),
      },
    });
  }

  /** @param {string} bucket @param {string} key */
  async delete(bucket, key) {
    await this.request("DeleteObject", { method: "DELETE", bucket, key });
  }

  /** @param {string} bucket @param {string} key @param {Record<string, string>} headers @returns {Promise<string>} */
  async createMultipart(bucket, key, headers) {
    const res = await this.request("CreateMultipartUpload", {
      method: "POST",
      bucket,
      key,
      query: [["uploads", ""]],
      headers: { ...headers, "x-amz-checksum-algorithm": "SHA256" },
    });
    const id = /<UploadId>([^<]+)<\/UploadId>/.exec(res.body.toString("utf8"))?.[1];
    if (!id) throw new AwsError(`CreateMultipartUpload s3://${bucket}/${key}: no UploadId in the answer`);
    return id;
  }

  /**
   * @param {string} bucket @param {string} key @param {string} uploadId @param {number} partNumber
   * @param {Buffer} body @param {Buffer} sha256
   * @returns {Promise<UploadedPart>}
   */
  async uploadPart(bucket, key, uploadId, partNumber, body, sha256) {
    const res = await this.request("UploadPart", {
      method: "PUT",
      bucket,
      key,
      body,
      bodySha256: sha256,
      query: [
        ["partNumber", String(partNumber)],
        ["uploadId", uploadId],
      ],
      headers: {
        "x-amz-sdk-checksum-algorithm": "SHA256",
        "x-amz-checksum-sha256": sha256.toString("base64"),
      },
    });
    const etag = res.headers.etag;
    if (typeof etag !== "string" || !etag)
      throw new AwsError(`UploadPart ${partNumber} of s3://${bucket}/${key}: no ETag in the answer`);
    return { partNumber, etag, sha256 };
  }

  /**
   * @param {string} bucket @param {string} key @param {string} uploadId @param {UploadedPart[]} parts
   * @param {Record<string, string>} headers
   */
  async completeMultipart(bucket, key, uploadId, parts, headers) {
    const xml =
      "<CompleteMultipartUpload>" +
      parts
        .map(
          (p) =>
            `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${p.etag.replace(/[<>&]/g, "")}</ETag>` +
            `<ChecksumSHA256>${p.sha256.toString("base64")}</ChecksumSHA256></Part>`,
        )
        .join("") +
      "</CompleteMultipartUpload>";
    const res = await this.request("CompleteMultipartUpload", {
      method: "POST",
      bucket,
      key,
      query: [["uploadId", uploadId]],
      body: Buffer.from(xml),
      headers: { ...headers, "content-type": "application/xml" },
    });
    // S3 may answer 200 and report the failure in the body.
    if (/<Error>/.test(res.body.toString("utf8", 0, 512))) {
      const { code, message } = xmlError(res.body);
      throw new AwsError(
        `CompleteMultipartUpload s3://${bucket}/${key}: ${code ?? "error"}${message ? ` (${message})` : ""}`,
        { code },
      );
    }
  }

  /** @param {string} bucket @param {string} key @param {string} uploadId */
  async abortMultipart(bucket, key, uploadId) {
    await this.request("AbortMultipartUpload", {
      method: "DELETE",
      bucket,
      key,
      query: [["uploadId", uploadId]],
      ok: [404],
    });
  }
}

/** The checksum S3 reports for a multipart object: SHA-256 of the parts' SHA-256s, "-<parts>". */
function compositeSha256(/** @type {Buffer[]} */ partDigests) {
  const h = crypto.createHash("sha256");
  for (const d of partDigests) h.update(d);
  return `${h.digest("base64")}-${partDigests.length}`;
}

module.exports = { S3, HttpClient, compositeSha256 };
