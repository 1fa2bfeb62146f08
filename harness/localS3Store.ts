/** The local S3 endpoint's buckets: objects in memory, multipart uploads in progress, injected faults. */
import { randomUUID } from "node:crypto";
import { etagOf, md5, S3Error } from "./localS3Wire";

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

export interface LocalS3Faults {
  /** DeleteObject answers 403 AccessDenied (like a writer role without s3:DeleteObject). */
  denyDelete?: boolean;
  /** Objects are stored one byte short (a store that loses data). */
  truncateUploads?: boolean;
  /** PutObject / CreateMultipartUpload for matching keys answer 403 AccessDenied. */
  denyPutKeys?: RegExp;
}

/** What an upload sends besides the bytes. */
export type ObjectHeaders = Pick<StoredObject, "contentType" | "metadata" | "sseHeaders">;

interface PendingUpload extends ObjectHeaders {
  bucket: string;
  key: string;
  uploadId: string;
  parts: Map<number, { body: Buffer; etag: string }>;
}

const id = (bucket: string, key: string) => `${bucket}\u0000${key}`;
const accessDenied = () => new S3Error(403, "AccessDenied", "Access Denied");
const noSuchUpload = () => new S3Error(404, "NoSuchUpload", "The specified multipart upload does not exist.");

export class BucketStore {
  readonly faults: LocalS3Faults = {};
  private readonly objects = new Map<string, StoredObject>();
  private readonly uploads = new Map<string, PendingUpload>();

  /** `buckets`: the buckets that exist; default: any bucket name exists. */
  constructor(private readonly buckets?: ReadonlySet<string>) {}

  requireBucket(bucket: string): void {
    if (this.buckets && !this.buckets.has(bucket))
      throw new S3Error(404, "NoSuchBucket", `The specified bucket does not exist: ${bucket}`);
  }

  get(bucket: string, key: string): StoredObject | undefined {
    return this.objects.get(id(bucket, key));
  }

  /** Objects of a bucket under `prefix` with keys after `after`, sorted by key. */
  list(bucket: string, prefix: string, after: string): StoredObject[] {
    return [...this.objects.values()]
      .filter((x) => x.bucket === bucket && x.key.startsWith(prefix) && x.key > after)
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Copies of every object's record, sorted by bucket and key. */
  all(): StoredObject[] {
    return [...this.objects.values()]
      .map((x) => ({ ...x, metadata: { ...x.metadata }, sseHeaders: { ...x.sseHeaders } }))
      .sort((a, b) => (a.bucket + "/" + a.key < b.bucket + "/" + b.key ? -1 : 1));
  }

  /** PutObject (and the end of a multipart upload): subject to the faults. */
  put(
    bucket: string,
    key: string,
    body: Buffer,
    h: ObjectHeaders,
    o: { etag?: string; parts?: number } = {},
  ) {
    if (o.parts === undefined && this.faults.denyPutKeys?.test(key)) throw accessDenied();
    const kept = this.faults.truncateUploads && body.length > 0 ? body.subarray(0, body.length - 1) : body;
    return this.store({
      bucket,
      key,
      body: kept,
      contentType: h.contentType,
      metadata: h.metadata,
      sseHeaders: h.sseHeaders,
      etag: o.etag ?? etagOf(body),
      parts: o.parts ?? 0,
    });
  }

  /** Stores an object as given: test setup, no faults. */
  store(p: Omit<StoredObject, "size" | "lastModified">): StoredObject {
    const obj: StoredObject = {
      ...p,
      body: Buffer.from(p.body),
      size: p.body.length,
      lastModified: new Date(),
    };
    this.objects.set(id(p.bucket, p.key), obj);
    return obj;
  }

  delete(bucket: string, key: string): void {
    if (this.faults.denyDelete) throw accessDenied();
    this.objects.delete(id(bucket, key));
  }

  /** Damages a stored object, keeping its metadata (see LocalS3.corrupt). */
  corrupt(bucket: string, key: string, how: "flip" | "truncate" | "empty"): void {
    const obj = this.get(bucket, key);
    if (!obj) throw new Error(`no object s3://${bucket}/${key} to corrupt`);
    let body: Buffer;
    if (how === "empty") body = Buffer.alloc(0);
    else if (how === "truncate") body = Buffer.from(obj.body.subarray(0, Math.floor(obj.body.length / 2)));
    else {
      body = Buffer.from(obj.body);
      const mid = Math.floor(body.length / 2);
      for (let i = mid; i < Math.min(body.length, mid + 64); i++) body[i] = body[i] ^ 0xff;
    }
    this.objects.set(id(bucket, key), { ...obj, body, size: body.length });
  }

  createUpload(bucket: string, key: string, h: ObjectHeaders): string {
    if (this.faults.denyPutKeys?.test(key)) throw accessDenied();
    const uploadId = randomUUID().replace(/-/g, "");
    const { contentType, metadata, sseHeaders } = h;
    this.uploads.set(uploadId, {
      bucket,
      key,
      uploadId,
      contentType,
      metadata,
      sseHeaders,
      parts: new Map(),
    });
    return uploadId;
  }

  uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Buffer): string {
    const up = this.upload(bucket, key, uploadId);
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10000)
      throw new S3Error(400, "InvalidArgument", "Part number must be an integer between 1 and 10000.");
    const etag = etagOf(body);
    up.parts.set(partNumber, { body, etag });
    return etag;
  }

  /** Joins the listed parts (ascending, each uploaded with that ETag) into the object. */
  completeUpload(bucket: string, key: string, uploadId: string, listed: { n: number; etag: string }[]) {
    const up = this.upload(bucket, key, uploadId);
    if (listed.length === 0) throw new S3Error(400, "MalformedXML", "No parts listed.");
    const bodies: Buffer[] = [];
    const digests: Buffer[] = [];
    let prev = 0;
    for (const p of listed) {
      if (p.n <= prev) throw new S3Error(400, "InvalidPartOrder", "Parts must be in ascending order.");
      prev = p.n;
      const part = up.parts.get(p.n);
      if (!part || part.etag !== `"${p.etag}"`)
        throw new S3Error(400, "InvalidPart", `Part ${p.n} was not uploaded or its ETag does not match.`);
      bodies.push(part.body);
      digests.push(Buffer.from(p.etag, "hex"));
    }
    this.uploads.delete(uploadId);
    const etag = `"${md5(Buffer.concat(digests)).toString("hex")}-${listed.length}"`;
    const obj = this.put(bucket, key, Buffer.concat(bodies), up, { etag, parts: listed.length });
    return { obj, sseHeaders: up.sseHeaders };
  }

  abortUpload(uploadId: string): void {
    if (!this.uploads.delete(uploadId)) throw noSuchUpload();
  }

  pending(): { bucket: string; key: string; uploadId: string; parts: number }[] {
    return [...this.uploads.values()].map((u) => ({
      bucket: u.bucket,
      key: u.key,
      uploadId: u.uploadId,
      parts: u.parts.size,
    }));
  }

  private upload(bucket: string, key: string, uploadId: string): PendingUpload {
    const up = this.uploads.get(uploadId);
    if (!up || up.bucket !== bucket || up.key !== key) throw noSuchUpload();
    return up;
  }
}
