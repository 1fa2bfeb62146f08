/**
 * A small S3-compatible endpoint on loopback for the snapshot tests and the backup drill: what awscli's
 * `s3 cp` and `s3api` use, with path-style addressing (awscli's choice for an IP endpoint).
 *
 * Supported: PutObject, CreateMultipartUpload / UploadPart / CompleteMultipartUpload /
 * AbortMultipartUpload, HeadObject, GetObject (with `Range`), ListObjectsV2, DeleteObject, HeadBucket.
 * `x-amz-meta-*` metadata is stored and returned; `x-amz-server-side-encryption*` request headers are
 * recorded with the object (and echoed back as S3 does: nothing is encrypted here). Request bodies sent
 * with `aws-chunked` encoding are decoded; `Content-MD5` and `x-amz-checksum-{crc32,sha256}` are
 * checked like S3 does. Any SigV4 signature is accepted (nothing is verified): loopback only, for tests.
 *
 * Test hooks: `stop()`/`restart()` make the endpoint unreachable and back (objects survive), `corrupt()`
 * damages a stored object without touching its metadata, and `faults` injects failures.
 */
import { createHash, randomUUID } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import * as zlib from "node:zlib";

export interface StoredObject {
  bucket: string;
  key: string;
  body: Buffer;
  size: number;
  etag: string;
  lastModified: Date;
  contentType: string;
  /** `x-amz-meta-*` headers without the prefix, lowercased names. */
  metadata: Record<string, string>;
  /** Every `x-amz-server-side-encryption*` request header as sent. */
  sseHeaders: Record<string, string>;
  /** Number of parts for a multipart upload, 0 for a single PUT. */
  parts: number;
}

export interface RequestRecord {
  method: string;
  operation: string;
  bucket: string;
  key: string;
  status: number;
}

export interface LocalS3Faults {
  /** DeleteObject answers 403 AccessDenied (like a writer role without s3:DeleteObject). */
  denyDelete?: boolean;
  /** Objects are stored one byte short (a store that loses data). */
  truncateUploads?: boolean;
  /** PutObject / CreateMultipartUpload for matching keys answer 403 AccessDenied. */
  denyPutKeys?: RegExp;
}

export interface LocalS3 {
  /** `http://127.0.0.1:<port>`, for `--endpoint-url` / AWS_ENDPOINT_URL. */
  url: string;
  port: number;
  /** Stops listening and drops open connections: the endpoint is "down". Objects are kept. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
  /** Copies of the stored objects' records, sorted by bucket and key. */
  objects(): StoredObject[];
  getObject(bucket: string, key: string): StoredObject | undefined;
  /** Stores an object directly (test setup). */
  putObject(bucket: string, key: string, body: Buffer, metadata?: Record<string, string>): void;
  /**
   * Damages a stored object, keeping its metadata: `flip` inverts bytes in the middle, `truncate` drops
   * the second half, `empty` leaves zero bytes.
   */
  corrupt(bucket: string, key: string, how?: "flip" | "truncate" | "empty"): void;
  /** Multipart uploads started and not completed or aborted. */
  pendingUploads(): { bucket: string; key: string; uploadId: string; parts: number }[];
  requests(): RequestRecord[];
  faults: LocalS3Faults;
}

export interface LocalS3Options {
  /** Port to listen on (default: any free port). */
  port?: number;
  /** Loopback address to listen on (default 127.0.0.1). */
  host?: string;
  /** Buckets that exist; default: any bucket name exists. */
  buckets?: string[];
}

interface PendingUpload {
  bucket: string;
  key: string;
  uploadId: string;
  contentType: string;
  metadata: Record<string, string>;
  sseHeaders: Record<string, string>;
  parts: Map<number, { body: Buffer; etag: string }>;
}

class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const xmlEscape = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const md5 = (b: Buffer) => createHash("md5").update(b).digest();
const quote = (s: string) => `"${s}"`;

function isLoopback(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === "::1" || host === "localhost";
}

/** Decodes an `aws-chunked` body: `<hex-size>[;chunk-signature=...]\r\n<data>\r\n` ... `0\r\n[trailers]\r\n`. */
export function decodeAwsChunked(raw: Buffer): { body: Buffer; trailers: Record<string, string> } {
  const chunks: Buffer[] = [];
  const trailers: Record<string, string> = {};
  let pos = 0;
  for (;;) {
    const eol = raw.indexOf("\r\n", pos);
    if (eol < 0) throw new S3Error(400, "IncompleteBody", "aws-chunked body ends inside a chunk header");
    const header = raw.subarray(pos, eol).toString("latin1");
    const size = parseInt(header.split(";")[0], 16);
    if (!Number.isFinite(size) || size < 0)
      throw new S3Error(400, "InvalidRequest", `bad aws-chunked chunk header ${JSON.stringify(header)}`);
    pos = eol + 2;
    if (size === 0) break;
    if (pos + size > raw.length) throw new S3Error(400, "IncompleteBody", "aws-chunked body is truncated");
    chunks.push(raw.subarray(pos, pos + size));
    pos += size + 2; // data + CRLF
  }
  for (const line of raw.subarray(pos).toString("latin1").split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0) trailers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { body: Buffer.concat(chunks), trailers };
}

function checkChecksums(body: Buffer, headers: Record<string, string | undefined>): void {
  const contentMd5 = headers["content-md5"];
  if (contentMd5 && md5(body).toString("base64") !== contentMd5)
    throw new S3Error(400, "BadDigest", "The Content-MD5 you specified did not match what we received.");
  const sha = headers["x-amz-checksum-sha256"];
  if (sha && createHash("sha256").update(body).digest("base64") !== sha)
    throw new S3Error(400, "BadDigest", "The SHA256 you specified did not match the calculated checksum.");
  const crc = headers["x-amz-checksum-crc32"];
  const crc32 = (zlib as unknown as { crc32?: (b: Buffer) => number }).crc32;
  if (crc && crc32) {
    const expected = Buffer.alloc(4);
    expected.writeUInt32BE(crc32(body) >>> 0);
    if (expected.toString("base64") !== crc)
      throw new S3Error(400, "BadDigest", "The CRC32 you specified did not match the calculated checksum.");
  }
}

function pickHeaders(req: http.IncomingMessage, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers))
    if (k.startsWith(prefix) && v !== undefined) out[k] = Array.isArray(v) ? v.join(",") : v;
  return out;
}

function metadataOf(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(pickHeaders(req, "x-amz-meta-")))
    out[k.slice("x-amz-meta-".length)] = v;
  return out;
}

/** Starts the endpoint on loopback. */
export async function start(o: LocalS3Options = {}): Promise<LocalS3> {
  const host = o.host ?? "127.0.0.1";
  if (!isLoopback(host)) throw new Error(`localS3 listens on loopback only (got host ${host})`);
  const buckets = o.buckets ? new Set(o.buckets) : undefined;
  const store = new Map<string, StoredObject>();
  const uploads = new Map<string, PendingUpload>();
  const log: RequestRecord[] = [];
  const faults: LocalS3Faults = {};
  const sockets = new Set<Socket>();
  const id = (bucket: string, key: string) => `${bucket}\u0000${key}`;

  function requireBucket(bucket: string): void {
    if (buckets && !buckets.has(bucket))
      throw new S3Error(404, "NoSuchBucket", `The specified bucket does not exist: ${bucket}`);
  }

  function objectHeaders(obj: StoredObject): Record<string, string> {
    const h: Record<string, string> = {
      "content-type": obj.contentType,
      etag: obj.etag,
      "last-modified": obj.lastModified.toUTCString(),
      "accept-ranges": "bytes",
    };
    for (const [k, v] of Object.entries(obj.metadata)) h[`x-amz-meta-${k}`] = v;
    for (const [k, v] of Object.entries(obj.sseHeaders))
      if (k !== "x-amz-server-side-encryption-context") h[k] = v;
    return h;
  }

  function store1(p: Omit<StoredObject, "size" | "lastModified">): StoredObject {
    const body = faults.truncateUploads && p.body.length > 0 ? p.body.subarray(0, p.body.length - 1) : p.body;
    const obj: StoredObject = { ...p, body: Buffer.from(body), size: body.length, lastModified: new Date() };
    store.set(id(p.bucket, p.key), obj);
    return obj;
  }

  async function readBody(req: http.IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const sha = String(req.headers["x-amz-content-sha256"] ?? "");
    const encoding = String(req.headers["content-encoding"] ?? "");
    if (sha.startsWith("STREAMING-") || encoding.split(",").some((e) => e.trim() === "aws-chunked")) {
      const { body, trailers } = decodeAwsChunked(raw);
      checkChecksums(body, trailers);
      return body;
    }
    return raw;
  }

  function listObjectsV2(bucket: string, q: URLSearchParams): string {
    const prefix = q.get("prefix") ?? "";
    const delimiter = q.get("delimiter") ?? "";
    const maxKeys = Math.min(Number(q.get("max-keys") ?? 1000) || 1000, 1000);
    const after = q.get("continuation-token") ?? q.get("start-after") ?? "";
    const urlEncode = q.get("encoding-type") === "url";
    const enc = (s: string) => (urlEncode ? encodeURIComponent(s).replace(/%2F/g, "/") : s);
    const keys = [...store.values()]
      .filter((x) => x.bucket === bucket && x.key.startsWith(prefix) && x.key > after)
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const contents: StoredObject[] = [];
    const commonPrefixes = new Set<string>();
    let truncated = false;
    let last = "";
    for (const obj of keys) {
      if (contents.length + commonPrefixes.size >= maxKeys) {
        truncated = true;
        break;
      }
      const rest = obj.key.slice(prefix.length);
      const d = delimiter ? rest.indexOf(delimiter) : -1;
      if (d >= 0) {
        const cp = prefix + rest.slice(0, d + delimiter.length);
        if (!commonPrefixes.has(cp)) commonPrefixes.add(cp);
      } else contents.push(obj);
      last = obj.key;
    }
    const parts = [
      `<?xml version="1.0" encoding="UTF-8"?>`,
      `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`,
      `<Name>${xmlEscape(bucket)}</Name><Prefix>${xmlEscape(enc(prefix))}</Prefix>`,
      delimiter ? `<Delimiter>${xmlEscape(enc(delimiter))}</Delimiter>` : "",
      urlEncode ? `<EncodingType>url</EncodingType>` : "",
      `<KeyCount>${contents.length + commonPrefixes.size}</KeyCount><MaxKeys>${maxKeys}</MaxKeys>`,
      `<IsTruncated>${truncated}</IsTruncated>`,
      truncated ? `<NextContinuationToken>${xmlEscape(last)}</NextContinuationToken>` : "",
      q.get("continuation-token")
        ? `<ContinuationToken>${xmlEscape(q.get("continuation-token")!)}</ContinuationToken>`
        : "",
      ...contents.map(
        (c) =>
          `<Contents><Key>${xmlEscape(enc(c.key))}</Key><LastModified>${c.lastModified.toISOString()}</LastModified>` +
          `<ETag>${xmlEscape(c.etag)}</ETag><Size>${c.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
      ),
      ...[...commonPrefixes].map(
        (p) => `<CommonPrefixes><Prefix>${xmlEscape(enc(p))}</Prefix></CommonPrefixes>`,
      ),
      `</ListBucketResult>`,
    ];
    return parts.join("");
  }

  async function handle(
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): Promise<{ op: string; bucket: string; key: string }> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const q = url.searchParams;
    const segments = url.pathname.split("/");
    const bucket = decodeURIComponent(segments[1] ?? "");
    const key = segments.slice(2).map(decodeURIComponent).join("/");
    const method = req.method ?? "GET";
    const send = (status: number, headers: Record<string, string>, body?: Buffer | string) => {
      const b = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
      res.writeHead(status, {
        "x-amz-request-id": randomUUID(),
        ...headers,
        ...(b && !("content-length" in headers) ? { "content-length": String(b.length) } : {}),
      });
      res.end(method === "HEAD" ? undefined : b);
    };
    const xml = (status: number, body: string, headers: Record<string, string> = {}) =>
      send(status, { "content-type": "application/xml", ...headers }, body);

    if (!bucket) throw new S3Error(501, "NotImplemented", "ListBuckets is not supported by this endpoint");
    requireBucket(bucket);

    if (!key) {
      if (method === "HEAD") {
        send(200, {});
        return { op: "HeadBucket", bucket, key };
      }
      if (method === "GET" && (q.get("list-type") === "2" || !q.has("list-type"))) {
        await readBody(req);
        xml(200, listObjectsV2(bucket, q));
        return { op: "ListObjectsV2", bucket, key };
      }
      throw new S3Error(501, "NotImplemented", `${method} on a bucket is not supported by this endpoint`);
    }

    const existing = store.get(id(bucket, key));
    const uploadId = q.get("uploadId");
    switch (method) {
      case "PUT": {
        if (req.headers["x-amz-copy-source"])
          throw new S3Error(501, "NotImplemented", "CopyObject is not supported by this endpoint");
        const body = await readBody(req);
        if (uploadId) {
          const up = uploads.get(uploadId);
          if (!up || up.bucket !== bucket || up.key !== key)
            throw new S3Error(404, "NoSuchUpload", "The specified multipart upload does not exist.");
          checkChecksums(body, req.headers as Record<string, string | undefined>);
          const partNumber = Number(q.get("partNumber"));
          if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10000)
            throw new S3Error(400, "InvalidArgument", "Part number must be an integer between 1 and 10000.");
          const etag = quote(md5(body).toString("hex"));
          up.parts.set(partNumber, { body, etag });
          send(200, { etag });
          return { op: "UploadPart", bucket, key };
        }
        if (faults.denyPutKeys?.test(key)) throw new S3Error(403, "AccessDenied", "Access Denied");
        checkChecksums(body, req.headers as Record<string, string | undefined>);
        const sseHeaders = pickHeaders(req, "x-amz-server-side-encryption");
        const obj = store1({
          bucket,
          key,
          body,
          etag: quote(md5(body).toString("hex")),
          contentType: String(req.headers["content-type"] ?? "binary/octet-stream"),
          metadata: metadataOf(req),
          sseHeaders,
          parts: 0,
        });
        send(200, { etag: obj.etag, ...sseHeaders });
        return { op: "PutObject", bucket, key };
      }
      case "POST": {
        const body = await readBody(req);
        if (q.has("uploads")) {
          if (faults.denyPutKeys?.test(key)) throw new S3Error(403, "AccessDenied", "Access Denied");
          const newId = randomUUID().replace(/-/g, "");
          const sseHeaders = pickHeaders(req, "x-amz-server-side-encryption");
          uploads.set(newId, {
            bucket,
            key,
            uploadId: newId,
            contentType: String(req.headers["content-type"] ?? "binary/octet-stream"),
            metadata: metadataOf(req),
            sseHeaders,
            parts: new Map(),
          });
          xml(
            200,
            `<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
              `<Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><UploadId>${newId}</UploadId></InitiateMultipartUploadResult>`,
            sseHeaders,
          );
          return { op: "CreateMultipartUpload", bucket, key };
        }
        if (uploadId) {
          const up = uploads.get(uploadId);
          if (!up || up.bucket !== bucket || up.key !== key)
            throw new S3Error(404, "NoSuchUpload", "The specified multipart upload does not exist.");
          const text = body.toString("utf8");
          const listed = [...text.matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map((m) => ({
            n: Number(/<PartNumber>(\d+)<\/PartNumber>/.exec(m[1])?.[1]),
            etag: (/<ETag>([\s\S]*?)<\/ETag>/.exec(m[1])?.[1] ?? "").replace(/&quot;/g, '"'),
          }));
          if (listed.length === 0) throw new S3Error(400, "MalformedXML", "No parts listed.");
          const bodies: Buffer[] = [];
          const digests: Buffer[] = [];
          let prev = 0;
          for (const p of listed) {
            if (p.n <= prev) throw new S3Error(400, "InvalidPartOrder", "Parts must be in ascending order.");
            prev = p.n;
            const part = up.parts.get(p.n);
            if (!part || part.etag !== quote(p.etag.replace(/"/g, "")))
              throw new S3Error(
                400,
                "InvalidPart",
                `Part ${p.n} was not uploaded or its ETag does not match.`,
              );
            bodies.push(part.body);
            digests.push(Buffer.from(part.etag.replace(/"/g, ""), "hex"));
          }
          uploads.delete(uploadId);
          const obj = store1({
            bucket,
            key,
            body: Buffer.concat(bodies),
            etag: quote(`${md5(Buffer.concat(digests)).toString("hex")}-${listed.length}`),
            contentType: up.contentType,
            metadata: up.metadata,
            sseHeaders: up.sseHeaders,
            parts: listed.length,
          });
          xml(
            200,
            `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
              `<Location>/${xmlEscape(bucket)}/${xmlEscape(key)}</Location><Bucket>${xmlEscape(bucket)}</Bucket>` +
              `<Key>${xmlEscape(key)}</Key><ETag>${xmlEscape(obj.etag)}</ETag></CompleteMultipartUploadResult>`,
            up.sseHeaders,
          );
          return { op: "CompleteMultipartUpload", bucket, key };
        }
        throw new S3Error(501, "NotImplemented", "This POST is not supported by this endpoint");
      }
      case "DELETE": {
        await readBody(req);
        if (uploadId) {
          if (!uploads.delete(uploadId))
            throw new S3Error(404, "NoSuchUpload", "The specified multipart upload does not exist.");
          send(204, {});
          return { op: "AbortMultipartUpload", bucket, key };
        }
        if (faults.denyDelete) throw new S3Error(403, "AccessDenied", "Access Denied");
        store.delete(id(bucket, key));
        send(204, {});
        return { op: "DeleteObject", bucket, key };
      }
      case "HEAD":
      case "GET": {
        const op = method === "HEAD" ? "HeadObject" : "GetObject";
        if (method === "GET") await readBody(req);
        if (!existing) {
          if (method === "HEAD") {
            send(404, {});
            return { op, bucket, key };
          }
          throw new S3Error(404, "NoSuchKey", "The specified key does not exist.");
        }
        const headers = objectHeaders(existing);
        const range = /^bytes=(\d*)-(\d*)$/.exec(String(req.headers.range ?? ""));
        if (range && (range[1] || range[2])) {
          const size = existing.size;
          const first = range[1] ? Number(range[1]) : Math.max(0, size - Number(range[2]));
          const last = range[1] && range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
          if (first >= size || first > last)
            throw new S3Error(416, "InvalidRange", "The requested range is not satisfiable");
          const slice = existing.body.subarray(first, last + 1);
          send(
            206,
            {
              ...headers,
              "content-range": `bytes ${first}-${last}/${size}`,
              "content-length": String(slice.length),
            },
            slice,
          );
        } else send(200, { ...headers, "content-length": String(existing.size) }, existing.body);
        return { op, bucket, key };
      }
      default:
        throw new S3Error(405, "MethodNotAllowed", `${method} is not allowed`);
    }
  }

  const server = http.createServer((req, res) => {
    const method = req.method ?? "GET";
    const url = new URL(req.url ?? "/", "http://localhost");
    const fallbackBucket = decodeURIComponent(url.pathname.split("/")[1] ?? "");
    const fallbackKey = url.pathname.split("/").slice(2).map(decodeURIComponent).join("/");
    handle(req, res)
      .then(({ op, bucket, key }) => log.push({ method, operation: op, bucket, key, status: res.statusCode }))
      .catch((e: unknown) => {
        const err =
          e instanceof S3Error
            ? e
            : new S3Error(500, "InternalError", e instanceof Error ? e.message : String(e));
        if (!res.headersSent) {
          const body =
            method === "HEAD"
              ? undefined
              : `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${err.code}</Code><Message>${xmlEscape(err.message)}</Message>` +
                `<Resource>${xmlEscape(url.pathname)}</Resource><RequestId>${randomUUID()}</RequestId></Error>`;
          res.writeHead(err.status, {
            "content-type": "application/xml",
            ...(body ? { "content-length": String(Buffer.byteLength(body)) } : {}),
          });
          res.end(body);
        } else res.destroy();
        // Drain what the client still sends so it sees the error response, not a reset.
        req.resume();
        log.push({
          method,
          operation: err.code,
          bucket: fallbackBucket,
          key: fallbackKey,
          status: err.status,
        });
      });
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });

  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port }, () => {
        server.removeListener("error", reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const port = await listen(o.port ?? 0);
  let listening = true;
  const hostForUrl = host.includes(":") ? `[${host}]` : host;

  const api: LocalS3 = {
    url: `http://${hostForUrl}:${port}`,
    port,
    faults,
    async stop() {
      if (!listening) return;
      listening = false;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
    async restart() {
      if (listening) return;
      await listen(port);
      listening = true;
    },
    objects: () =>
      [...store.values()]
        .map((x) => ({ ...x, metadata: { ...x.metadata }, sseHeaders: { ...x.sseHeaders } }))
        .sort((a, b) => (a.bucket + "/" + a.key < b.bucket + "/" + b.key ? -1 : 1)),
    getObject: (bucket, key) => store.get(id(bucket, key)),
    putObject(bucket, key, body, metadata = {}) {
      store.set(id(bucket, key), {
        bucket,
        key,
        body: Buffer.from(body),
        size: body.length,
        etag: quote(md5(body).toString("hex")),
        lastModified: new Date(),
        contentType: "binary/octet-stream",
        metadata: { ...metadata },
        sseHeaders: {},
        parts: 0,
      });
    },
    corrupt(bucket, key, how = "flip") {
      const obj = store.get(id(bucket, key));
      if (!obj) throw new Error(`no object s3://${bucket}/${key} to corrupt`);
      let body: Buffer;
      if (how === "empty") body = Buffer.alloc(0);
      else if (how === "truncate") body = Buffer.from(obj.body.subarray(0, Math.floor(obj.body.length / 2)));
      else {
        body = Buffer.from(obj.body);
        const mid = Math.floor(body.length / 2);
        for (let i = mid; i < Math.min(body.length, mid + 64); i++) body[i] = body[i] ^ 0xff;
      }
      store.set(id(bucket, key), { ...obj, body, size: body.length });
    },
    pendingUploads: () =>
      [...uploads.values()].map((u) => ({
        bucket: u.bucket,
        key: u.key,
        uploadId: u.uploadId,
        parts: u.parts.size,
      })),
    requests: () => [...log],
  };
  return api;
}
