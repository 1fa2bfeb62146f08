/**
 * Step 1 of a restore: where the snapshot's bytes come from, and what they must match.
 *
 * From S3 (`--from`), the object's own record says what it is:
 *  - format 2 (the snapshot job since brotli frames): metadata `snapshot-format: brotli-frames-v1` and a
 *    manifest `<key>.manifest.json` with sizes, SHA-256s, hash and revision — no manifest, no restore
 *    (a run that failed or was interrupted never writes one);
 *  - the format before (snapshot.sh, gzip): the `sha256`, `db-sha256`, `hash` and `revision` metadata;
 *  - objects a failed run left (empty, `snapshot-status=failed`) are refused.
 * A local file (`--file`) is checked against `--sha256` or a `PATH.sha256` file, and against a
 * `PATH.manifest.json` beside it when there is one. Nothing read here is ever quoted in a message.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Readable } from "node:stream";
import { z } from "zod";
import { UsageError } from "../shared/commandLine";
import { RestoreRefused, type RestoreOptions, type StepContext } from "./types";

/** The formats a snapshot comes in: what the first bytes say. */
export type SnapshotFormat = "brotli-frames-v1" | "gzip" | "raw";

/** What the snapshot records about itself, already checked for shape. */
export interface Expected {
  size?: number;
  sha256?: string;
  dbSize?: number;
  dbSha256?: string;
  hash?: number;
  revision?: number;
}

export interface SnapshotSource {
  /** The s3:// URL or the path, for messages. */
  label: string;
  downloaded: boolean;
  /** The format the object says it is (undefined: detect from the first bytes). */
  format?: SnapshotFormat;
  expected: Expected;
  /** What a `--sha256` flag demands of the object/file (besides what it records). */
  pinnedSha256?: string;
  /** String facts for the plan (`encryption-keys`, `member`, …), validated: safe to print. */
  metadata: Record<string, string>;
  /** `s3://BUCKET/PREFIX/` of a snapshot in S3 (for the marker step of the runbook). */
  location?: string;
  open(): Promise<AsyncIterable<Buffer>>;
}

export function parseS3Url(u: string): { bucket: string; key: string } | undefined {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/.exec(u);
  return m ? { bucket: m[1], key: m[2] } : undefined;
}

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const count = z.number().int().nonnegative();
/** Words the job writes into names; anything else is not printed. */
const WORD = /^[A-Za-z0-9:._ -]{0,512}$/;
/** The key list: `<provider>:<name>` words, a kms key as `kms:<name>=<AWS key ARN>` (ARNs have / and =). */
const KEY_WORDS = /^[A-Za-z0-9:._/= -]{0,4096}$/;
const word = z.string().regex(WORD);

/** The manifest the snapshot job writes beside every snapshot (runner/snapshot.js manifestOf). */
const manifestSchema = z.object({
  format: z.literal(2),
  compression: z.literal("brotli-frames-v1"),
  key: z.string(),
  size: count,
  sha256: hex64,
  dbSize: count,
  dbSha256: hex64,
  hash: count,
  revision: count.min(1),
  totalKey: count,
  member: word,
  etcdVersion: word,
  encryptionKeys: z.string().regex(KEY_WORDS),
});
export type SnapshotManifest = z.infer<typeof manifestSchema>;

/** Parses a manifest; refuses (without quoting it) anything that is not one. */
export function parseManifest(text: Buffer | string, label: string): SnapshotManifest {
  let json: unknown;
  try {
    json = JSON.parse(text.toString());
  } catch {
    throw new RestoreRefused(`the manifest of ${label} is not JSON`);
  }
  const r = manifestSchema.safeParse(json);
  if (!r.success)
    throw new RestoreRefused(
      `the manifest of ${label} is not a snapshot manifest (${r.error.issues.map((i) => i.path.join(".") || "(root)").join(", ")} invalid)`,
    );
  return r.data;
}

const fromManifest = (m: SnapshotManifest): Pick<SnapshotSource, "expected" | "metadata"> => ({
  expected: {
    size: m.size,
    sha256: m.sha256,
    dbSize: m.dbSize,
    dbSha256: m.dbSha256,
    hash: m.hash,
    revision: m.revision,
  },
  metadata: { "encryption-keys": m.encryptionKeys, member: m.member, "etcd-version": m.etcdVersion },
});

/** The metadata snapshot.sh wrote (the format before the manifest), checked for shape. */
function fromLegacyMetadata(
  meta: Record<string, string>,
  label: string,
): Pick<SnapshotSource, "expected" | "metadata"> {
  const sha = meta.sha256?.toLowerCase();
  if (!sha || !/^[0-9a-f]{64}$/.test(sha))
    throw new RestoreRefused(
      `${label} carries no usable sha256 metadata and no manifest; it was not written (completely) by the snapshot job`,
    );
  const number = (k: string) => {
    const v = meta[k];
    if (v === undefined) return undefined;
    if (!/^\d{1,15}$/.test(v)) throw new RestoreRefused(`${label}: its ${k} metadata is not a number`);
    return Number(v);
  };
  const dbSha = meta["db-sha256"]?.toLowerCase();
  if (dbSha !== undefined && !/^[0-9a-f]{64}$/.test(dbSha))
    throw new RestoreRefused(`${label}: its db-sha256 metadata is not a SHA-256`);
  const metadata: Record<string, string> = {};
  for (const k of ["encryption-keys", "member", "etcd-version"])
    if (meta[k] !== undefined && (k === "encryption-keys" ? KEY_WORDS : WORD).test(meta[k]))
      metadata[k] = meta[k];
  return {
    expected: { sha256: sha, dbSha256: dbSha, hash: number("hash"), revision: number("revision") },
    metadata,
  };
}

/** The S3 client for `--from`: the caller's credentials chain, or the environment given (tests, moto). */
async function s3Client(o: RestoreOptions, env: NodeJS.ProcessEnv) {
  const { S3Client } = await import("@aws-sdk/client-s3");
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1";
  const credentials =
    env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? {
          accessKeyId: env.AWS_ACCESS_KEY_ID,
          secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
          sessionToken: env.AWS_SESSION_TOKEN || undefined,
        }
      : undefined;
  return new S3Client({
    region,
    credentials,
    followRegionRedirects: true,
    maxAttempts: 4,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    ...(o.endpointUrl ? { endpoint: o.endpointUrl, forcePathStyle: true } : {}),
  });
}

/** The AWS error's name and status only: what failed, never a body. */
function awsReason(e: unknown): string {
  const err = e as {
    name?: string;
    $metadata?: { httpStatusCode?: number };
    code?: string;
    message?: string;
  };
  const status = err.$metadata?.httpStatusCode;
  const name = err.name && err.name !== "Error" ? err.name : (err.code ?? "error");
  return `${String(name).replace(/[^A-Za-z0-9.]/g, "")}${status ? ` (HTTP ${status})` : ""}`;
}

export async function openSource(o: RestoreOptions, ctx: StepContext): Promise<SnapshotSource> {
  const pinnedSha256 = o.sha256?.toLowerCase();
  if (o.from) return { ...(await s3Source(o, o.from, ctx)), pinnedSha256 };
  const file = path.resolve(o.file!);
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new UsageError("--file", `${file} does not exist`);
  }
  if (!st.isFile()) throw new UsageError("--file", `${file} is not a regular file`);
  let pinned = pinnedSha256;
  if (!pinned && fs.existsSync(`${file}.sha256`)) {
    const sidecar = fs.readFileSync(`${file}.sha256`, "utf8").trim().split(/\s+/)[0]?.toLowerCase() ?? "";
    if (!/^[0-9a-f]{64}$/.test(sidecar)) throw new RestoreRefused(`${file}.sha256 holds no SHA-256`);
    pinned = sidecar;
  }
  const manifestFile = `${file}.manifest.json`;
  const described = fs.existsSync(manifestFile)
    ? fromManifest(parseManifest(fs.readFileSync(manifestFile), file))
    : { expected: {}, metadata: {} };
  if (described.expected.size !== undefined && described.expected.size !== st.size)
    throw new RestoreRefused(`${file} has ${st.size} bytes, its manifest says ${described.expected.size}`);
  return {
    label: file,
    downloaded: false,
    ...described,
    pinnedSha256: pinned,
    open: async () => fs.createReadStream(file, { highWaterMark: 4 * 1024 * 1024 }),
  };
}

async function s3Source(o: RestoreOptions, from: string, ctx: StepContext): Promise<SnapshotSource> {
  const loc = parseS3Url(from);
  if (!loc) throw new UsageError("--from", `${JSON.stringify(from)} is not an s3://BUCKET/KEY URL`);
  const { HeadObjectCommand, GetObjectCommand } = await import("@aws-sdk/client-s3");
  const s3 = await s3Client(o, ctx.env);
  ctx.log(`restore: reading ${from}`);
  let head: { ContentLength?: number; Metadata?: Record<string, string> };
  try {
    head = await s3.send(new HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
  } catch (e) {
    throw new RestoreRefused(`cannot read ${from}: ${awsReason(e)}`);
  }
  const meta = Object.fromEntries(Object.entries(head.Metadata ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  if (meta["snapshot-status"] === "failed")
    throw new RestoreRefused(`${from} is marked snapshot-status=failed (left by a snapshot run that failed)`);
  if (!head.ContentLength) throw new RestoreRefused(`${from} is empty`);
  let described: Pick<SnapshotSource, "expected" | "metadata">;
  let format: SnapshotFormat | undefined;
  if (meta["snapshot-format"] === "brotli-frames-v1") {
    format = "brotli-frames-v1";
    const manifestKey = `${loc.key}.manifest.json`;
    let text: string;
    try {
      const got = await s3.send(new GetObjectCommand({ Bucket: loc.bucket, Key: manifestKey }));
      if ((got.ContentLength ?? 0) > 1024 * 1024)
        throw new RestoreRefused(`the manifest of ${from} is too large`);
      text = await got.Body!.transformToString();
    } catch (e) {
      if (e instanceof RestoreRefused) throw e;
      throw new RestoreRefused(
        `${from} has no readable manifest (${manifestKey}: ${awsReason(e)}); the snapshot job writes it only after the snapshot is verified`,
      );
    }
    const manifest = parseManifest(text, from);
    if (manifest.key !== loc.key)
      throw new RestoreRefused(`the manifest of ${from} describes another object`);
    described = fromManifest(manifest);
  } else {
    described = fromLegacyMetadata(meta, from);
  }
  if (described.expected.size !== undefined && described.expected.size !== head.ContentLength)
    throw new RestoreRefused(
      `${from} has ${head.ContentLength} bytes, its manifest says ${described.expected.size}`,
    );
  const expected = { ...described.expected, size: head.ContentLength };
  return {
    label: from,
    downloaded: true,
    format,
    expected,
    metadata: described.metadata,
    location: `s3://${loc.bucket}/${loc.key.slice(0, loc.key.lastIndexOf("/") + 1)}`,
    open: async () => {
      try {
        const got = await s3.send(new GetObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
        return got.Body as Readable;
      } catch (e) {
        throw new RestoreRefused(`download of ${from} failed: ${awsReason(e)}`);
      }
    },
  };
}
