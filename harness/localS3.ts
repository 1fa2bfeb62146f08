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
import { randomUUID } from "node:crypto";
import * as http from "node:http";
import { listenOnLoopback } from "./loopbackServer";
import { BucketStore, type LocalS3Faults, type ObjectHeaders, type StoredObject } from "./localS3Store";
import {
  checkChecksums,
  completeUploadXml,
  errorXml,
  etagOf,
  initiateUploadXml,
  listBucketXml,
  listedParts,
  metadataOf,
  readBody,
  S3Error,
  sseHeadersOf,
} from "./localS3Wire";

export type { LocalS3Faults, StoredObject };

export interface RequestRecord {
  method: string;
  operation: string;
  bucket: string;
  key: string;
  status: number;
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

/** Starts the endpoint on loopback. */
export async function start(o: LocalS3Options = {}): Promise<LocalS3> {
  const host = o.host ?? "127.0.0.1";
  const store = new BucketStore(o.buckets ? new Set(o.buckets) : undefined);
  const log: RequestRecord[] = [];
  const server = http.createServer((req, res) => serve(store, log, req, res));
  const listener = await listenOnLoopback(server, "localS3", host, o.port ?? 0);
  return {
    url: listener.url,
    port: listener.port,
    faults: store.faults,
    stop: listener.stop,
    restart: listener.restart,
    objects: () => store.all(),
    getObject: (bucket, key) => store.get(bucket, key),
    putObject: (bucket, key, body, metadata = {}) =>
      void store.store({
        bucket,
        key,
        body,
        etag: etagOf(body),
        contentType: "binary/octet-stream",
        metadata: { ...metadata },
        sseHeaders: {},
        parts: 0,
      }),
    corrupt: (bucket, key, how = "flip") => store.corrupt(bucket, key, how),
    pendingUploads: () => store.pending(),
    requests: () => [...log],
  };
}

/** One request as the handlers see it. */
interface Call {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  method: string;
  path: string;
  bucket: string;
  key: string;
  q: URLSearchParams;
}

function serve(
  store: BucketStore,
  log: RequestRecord[],
  req: http.IncomingMessage,
  res: http.ServerResponse,
) {
  const url = new URL(req.url ?? "/", "http://localhost");
  const segments = url.pathname.split("/");
  const c: Call = {
    req,
    res,
    method: req.method ?? "GET",
    path: url.pathname,
    bucket: decodeURIComponent(segments[1] ?? ""),
    key: segments.slice(2).map(decodeURIComponent).join("/"),
    q: url.searchParams,
  };
  const record = (operation: string, status: number) =>
    log.push({ method: c.method, operation, bucket: c.bucket, key: c.key, status });
  route(store, c).then(
    (operation) => record(operation, res.statusCode),
    (e: unknown) => {
      const err =
        e instanceof S3Error
          ? e
          : new S3Error(500, "InternalError", e instanceof Error ? e.message : String(e));
      sendError(c, err);
      record(err.code, err.status);
    },
  );
}

/** Handles one request; resolves with the S3 operation's name. */
async function route(store: BucketStore, c: Call): Promise<string> {
  if (!c.bucket) throw new S3Error(501, "NotImplemented", "ListBuckets is not supported by this endpoint");
  store.requireBucket(c.bucket);
  if (!c.key) return bucketOperation(store, c);
  switch (c.method) {
    case "PUT":
      return putOperation(store, c);
    case "POST":
      return postOperation(store, c);
    case "DELETE":
      return deleteOperation(store, c);
    case "HEAD":
    case "GET":
      return readOperation(store, c);
    default:
      throw new S3Error(405, "MethodNotAllowed", `${c.method} is not allowed`);
  }
}

async function bucketOperation(store: BucketStore, c: Call): Promise<string> {
  if (c.method === "HEAD") {
    send(c, 200, {});
    return "HeadBucket";
  }
  if (c.method === "GET" && (c.q.get("list-type") === "2" || !c.q.has("list-type"))) {
    await readBody(c.req);
    const after = c.q.get("continuation-token") ?? c.q.get("start-after") ?? "";
    sendXml(c, 200, listBucketXml(c.bucket, store.list(c.bucket, c.q.get("prefix") ?? "", after), c.q));
    return "ListObjectsV2";
  }
  throw new S3Error(501, "NotImplemented", `${c.method} on a bucket is not supported by this endpoint`);
}

const headersOf = (req: http.IncomingMessage): ObjectHeaders => ({
  contentType: String(req.headers["content-type"] ?? "binary/octet-stream"),
  metadata: metadataOf(req),
  sseHeaders: sseHeadersOf(req),
});

async function putOperation(store: BucketStore, c: Call): Promise<string> {
  if (c.req.headers["x-amz-copy-source"])
    throw new S3Error(501, "NotImplemented", "CopyObject is not supported by this endpoint");
  const body = await readBody(c.req);
  checkChecksums(body, c.req.headers);
  const uploadId = c.q.get("uploadId");
  if (uploadId) {
    const etag = store.uploadPart(c.bucket, c.key, uploadId, Number(c.q.get("partNumber")), body);
    send(c, 200, { etag });
    return "UploadPart";
  }
  const h = headersOf(c.req);
  const obj = store.put(c.bucket, c.key, body, h);
  send(c, 200, { etag: obj.etag, ...h.sseHeaders });
  return "PutObject";
}

async function postOperation(store: BucketStore, c: Call): Promise<string> {
  const body = await readBody(c.req);
  const uploadId = c.q.get("uploadId");
  if (c.q.has("uploads")) {
    const h = headersOf(c.req);
    const created = store.createUpload(c.bucket, c.key, h);
    sendXml(c, 200, initiateUploadXml(c.bucket, c.key, created), h.sseHeaders);
    return "CreateMultipartUpload";
  }
  if (uploadId) {
    const { obj, sseHeaders } = store.completeUpload(c.bucket, c.key, uploadId, listedParts(body));
    sendXml(c, 200, completeUploadXml(c.bucket, c.key, obj.etag), sseHeaders);
    return "CompleteMultipartUpload";
  }
  throw new S3Error(501, "NotImplemented", "This POST is not supported by this endpoint");
}

async function deleteOperation(store: BucketStore, c: Call): Promise<string> {
  await readBody(c.req);
  const uploadId = c.q.get("uploadId");
  if (uploadId) store.abortUpload(uploadId);
  else store.delete(c.bucket, c.key);
  send(c, 204, {});
  return uploadId ? "AbortMultipartUpload" : "DeleteObject";
}

async function readOperation(store: BucketStore, c: Call): Promise<string> {
  const op = c.method === "HEAD" ? "HeadObject" : "GetObject";
  if (c.method === "GET") await readBody(c.req);
  const obj = store.get(c.bucket, c.key);
  if (!obj) {
    if (c.method !== "HEAD") throw new S3Error(404, "NoSuchKey", "The specified key does not exist.");
    send(c, 404, {});
    return op;
  }
  const headers = objectHeaders(obj);
  const range = /^bytes=(\d*)-(\d*)$/.exec(String(c.req.headers.range ?? ""));
  if (!range || (!range[1] && !range[2])) {
    send(c, 200, { ...headers, "content-length": String(obj.size) }, obj.body);
    return op;
  }
  const first = range[1] ? Number(range[1]) : Math.max(0, obj.size - Number(range[2]));
  const last = range[1] && range[2] ? Math.min(Number(range[2]), obj.size - 1) : obj.size - 1;
  if (first >= obj.size || first > last)
    throw new S3Error(416, "InvalidRange", "The requested range is not satisfiable");
  const slice = obj.body.subarray(first, last + 1);
  send(
    c,
    206,
    {
      ...headers,
      "content-range": `bytes ${first}-${last}/${obj.size}`,
      "content-length": String(slice.length),
    },
    slice,
  );
  return op;
}

/** What HeadObject and GetObject answer with. */
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

function send(c: Call, status: number, headers: Record<string, string>, body?: Buffer | string): void {
  const b = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
  c.res.writeHead(status, {
    "x-amz-request-id": randomUUID(),
    ...headers,
    ...(b && !("content-length" in headers) ? { "content-length": String(b.length) } : {}),
  });
  c.res.end(c.method === "HEAD" ? undefined : b);
}

const sendXml = (c: Call, status: number, body: string, headers: Record<string, string> = {}) =>
  send(c, status, { "content-type": "application/xml", ...headers }, body);

function sendError(c: Call, err: S3Error): void {
  if (!c.res.headersSent) {
    const body = c.method === "HEAD" ? undefined : errorXml(err, c.path, randomUUID());
    c.res.writeHead(err.status, {
      "content-type": "application/xml",
      ...(body ? { "content-length": String(Buffer.byteLength(body)) } : {}),
    });
    c.res.end(body);
  } else c.res.destroy();
  // Drain what the client still sends so it sees the error response, not a reset.
  c.req.resume();
}
