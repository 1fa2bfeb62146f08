/**
 * S3's wire format as the local endpoint speaks it: errors, request bodies (including awscli's
 * `aws-chunked` encoding), the checksums S3 verifies, `x-amz-*` headers and the XML responses.
 */
import { createHash } from "node:crypto";
import type * as http from "node:http";
import * as zlib from "node:zlib";

/** An S3 error response: HTTP status, S3's error code and message. */
export class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const xmlEscape = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
export const md5 = (b: Buffer) => createHash("md5").update(b).digest();
/** An ETag as S3 sends it: the MD5 hex in double quotes. */
export const etagOf = (b: Buffer) => `"${md5(b).toString("hex")}"`;

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>`;
const s3Namespace = `xmlns="http://s3.amazonaws.com/doc/2006-03-01/"`;

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

/** `Content-MD5` and `x-amz-checksum-{sha256,crc32}` (headers or aws-chunked trailers), checked like S3 does. */
export function checkChecksums(body: Buffer, headers: Record<string, string | string[] | undefined>): void {
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

/** The request body, decoded from aws-chunked (and its trailing checksums checked) when sent that way. */
export async function readBody(req: http.IncomingMessage): Promise<Buffer> {
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

function pickHeaders(req: http.IncomingMessage, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers))
    if (k.startsWith(prefix) && v !== undefined) out[k] = Array.isArray(v) ? v.join(",") : v;
  return out;
}

/** `x-amz-meta-*` headers without the prefix. */
export function metadataOf(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(pickHeaders(req, "x-amz-meta-")))
    out[k.slice("x-amz-meta-".length)] = v;
  return out;
}

/** Every `x-amz-server-side-encryption*` request header as sent. */
export const sseHeadersOf = (req: http.IncomingMessage) => pickHeaders(req, "x-amz-server-side-encryption");

export interface ListedObject {
  key: string;
  lastModified: Date;
  etag: string;
  size: number;
}

/** ListObjectsV2's answer for `objects` (already filtered by prefix and start, sorted by key). */
export function listBucketXml(bucket: string, objects: readonly ListedObject[], q: URLSearchParams): string {
  const prefix = q.get("prefix") ?? "";
  const delimiter = q.get("delimiter") ?? "";
  const maxKeys = Math.min(Number(q.get("max-keys") ?? 1000) || 1000, 1000);
  const urlEncode = q.get("encoding-type") === "url";
  const enc = (s: string) => xmlEscape(urlEncode ? encodeURIComponent(s).replace(/%2F/g, "/") : s);
  const contents: ListedObject[] = [];
  const commonPrefixes = new Set<string>();
  let truncated = false;
  let last = "";
  for (const obj of objects) {
    if (contents.length + commonPrefixes.size >= maxKeys) {
      truncated = true;
      break;
    }
    const rest = obj.key.slice(prefix.length);
    const d = delimiter ? rest.indexOf(delimiter) : -1;
    if (d >= 0) commonPrefixes.add(prefix + rest.slice(0, d + delimiter.length));
    else contents.push(obj);
    last = obj.key;
  }
  const token = q.get("continuation-token");
  return [
    xmlHeader,
    `<ListBucketResult ${s3Namespace}>`,
    `<Name>${xmlEscape(bucket)}</Name><Prefix>${enc(prefix)}</Prefix>`,
    delimiter ? `<Delimiter>${enc(delimiter)}</Delimiter>` : "",
    urlEncode ? `<EncodingType>url</EncodingType>` : "",
    `<KeyCount>${contents.length + commonPrefixes.size}</KeyCount><MaxKeys>${maxKeys}</MaxKeys>`,
    `<IsTruncated>${truncated}</IsTruncated>`,
    truncated ? `<NextContinuationToken>${xmlEscape(last)}</NextContinuationToken>` : "",
    token ? `<ContinuationToken>${xmlEscape(token)}</ContinuationToken>` : "",
    ...contents.map(
      (c) =>
        `<Contents><Key>${enc(c.key)}</Key><LastModified>${c.lastModified.toISOString()}</LastModified>` +
        `<ETag>${xmlEscape(c.etag)}</ETag><Size>${c.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
    ),
    ...[...commonPrefixes].map((p) => `<CommonPrefixes><Prefix>${enc(p)}</Prefix></CommonPrefixes>`),
    `</ListBucketResult>`,
  ].join("");
}

export const initiateUploadXml = (bucket: string, key: string, uploadId: string) =>
  `${xmlHeader}<InitiateMultipartUploadResult ${s3Namespace}>` +
  `<Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><UploadId>${uploadId}</UploadId></InitiateMultipartUploadResult>`;

export const completeUploadXml = (bucket: string, key: string, etag: string) =>
  `${xmlHeader}<CompleteMultipartUploadResult ${s3Namespace}>` +
  `<Location>/${xmlEscape(bucket)}/${xmlEscape(key)}</Location><Bucket>${xmlEscape(bucket)}</Bucket>` +
  `<Key>${xmlEscape(key)}</Key><ETag>${xmlEscape(etag)}</ETag></CompleteMultipartUploadResult>`;

export const errorXml = (err: S3Error, resource: string, requestId: string) =>
  `${xmlHeader}<Error><Code>${err.code}</Code><Message>${xmlEscape(err.message)}</Message>` +
  `<Resource>${xmlEscape(resource)}</Resource><RequestId>${requestId}</RequestId></Error>`;

/** The parts a CompleteMultipartUpload body lists: part number and ETag (quotes stripped). */
export function listedParts(body: Buffer): { n: number; etag: string }[] {
  return [...body.toString("utf8").matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map((m) => ({
    n: Number(/<PartNumber>(\d+)<\/PartNumber>/.exec(m[1])?.[1]),
    etag: (/<ETag>([\s\S]*?)<\/ETag>/.exec(m[1])?.[1] ?? "").replace(/&quot;/g, '"').replace(/"/g, ""),
  }));
}
