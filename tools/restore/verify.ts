/**
 * Step 2 of a restore: refuse anything corrupted or empty. In order: the file is non-empty, as long
 * as the object and hashes to the expected SHA-256; a .gz decompresses (gzip's own CRC-32 and length
 * check) and matches its `db-sha256` metadata; the snapshot's own SHA-256 trailer (what `snapshot
 * restore` verifies; a raw member/snap/db copy has none); `snapshot status -w json` (etcdutl, or
 * etcdctl for 3.4) reads it, and its hash and revision equal the object's metadata.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as zlib from "node:zlib";
import { findBinary, lastLine, run } from "../shared/process";
import type { FetchedSnapshot } from "./fetch";
import { RestoreRefused, type RestoreOptions, type SnapshotFacts, type StepContext } from "./types";

export async function verifySnapshot(
  f: FetchedSnapshot,
  o: Pick<RestoreOptions, "etcdctl" | "etcdutl">,
  work: string,
  ctx: StepContext,
): Promise<SnapshotFacts> {
  const { size, sha256 } = await checkDownload(f, ctx);
  const compressed = await isGzip(f.source);
  const digests = compressed ? await decompress(f, work) : undefined;
  const dbPath = digests?.dbPath ?? f.source;
  const dbSize = fs.statSync(dbPath).size;
  if (dbSize === 0) throw new RestoreRefused("the snapshot is empty");
  checkTrailer(dbSize, digests ?? (await trailerDigests(dbPath)));
  const status = await snapshotStatus(dbPath, f.metadata, o, ctx);
  return { dbPath, dbSize, sha256, size, compressed, ...status, metadata: f.metadata };
}

async function checkDownload(
  f: FetchedSnapshot,
  ctx: StepContext,
): Promise<{ size: number; sha256: string }> {
  const size = fs.statSync(f.source).size;
  if (size === 0) throw new RestoreRefused(`${f.label}: the ${f.downloaded ? "download" : "file"} is empty`);
  if (f.expectedSize !== undefined && size !== f.expectedSize)
    throw new RestoreRefused(`the download has ${size} bytes, the object ${f.expectedSize}`);
  const sha256 = await sha256File(f.source);
  if (f.expectedSha && sha256 !== f.expectedSha)
    throw new RestoreRefused(`SHA-256 mismatch: got ${sha256}, expected ${f.expectedSha}`);
  ctx.log(
    `restore: ${size} bytes, sha256 ${sha256}${f.expectedSha ? " (matches)" : " (no expected value given)"}`,
  );
  return { size, sha256 };
}

/** What one pass over the snapshot's bytes yields: its SHA-256, and the SHA-256 of all but its trailer. */
interface Digests {
  sha256: string;
  body: Buffer;
  trailer: Buffer;
}

/**
 * Hashes every byte (db-sha256) and, in the same pass, every byte but the last 32 (the trailer
 * `etcdctl snapshot save` appends): one read of the decompressed data instead of three.
 */
function digester(): { stream: Transform; result: () => Digests } {
  const all = createHash("sha256");
  const body = createHash("sha256");
  let tail = Buffer.alloc(0);
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done) {
      all.update(chunk);
      const joined = Buffer.concat([tail, chunk]);
      const keep = Math.min(32, joined.length);
      body.update(joined.subarray(0, joined.length - keep));
      tail = Buffer.from(joined.subarray(joined.length - keep));
      done(null, chunk);
    },
  });
  return { stream, result: () => ({ sha256: all.digest("hex"), body: body.digest(), trailer: tail }) };
}

async function decompress(f: FetchedSnapshot, work: string): Promise<Digests & { dbPath: string }> {
  const dbPath = path.join(work, "snapshot.db");
  const d = digester();
  try {
    await pipeline(
      fs.createReadStream(f.source),
      zlib.createGunzip(),
      d.stream,
      fs.createWriteStream(dbPath, { mode: 0o600 }),
    );
  } catch (e) {
    throw new RestoreRefused(`the snapshot does not decompress: ${(e as Error).message}`);
  }
  const digests = d.result();
  const expected = f.metadata["db-sha256"];
  if (expected && digests.sha256 !== expected.toLowerCase())
    throw new RestoreRefused("the decompressed snapshot does not match its db-sha256 metadata");
  return { ...digests, dbPath };
}

/** {@link Digests} of an uncompressed snapshot file. */
async function trailerDigests(dbPath: string): Promise<Digests> {
  const d = digester();
  const discard = new Writable({ write: (_chunk, _enc, done) => done() });
  await pipeline(fs.createReadStream(dbPath), d.stream, discard);
  return d.result();
}

/**
 * The SHA-256 trailer `etcdctl snapshot save` keeps (the maintenance API appends it to the bolt db):
 * `snapshot restore` verifies it; a raw member/snap/db copy has none.
 */
function checkTrailer(size: number, d: Digests): void {
  if (size % 512 !== 32)
    throw new RestoreRefused(
      `the snapshot has no SHA-256 trailer (size ${size} is not 512·n + 32): not an etcd snapshot, or a raw ` +
        `member/snap/db copy that restore could only load with --skip-hash-check`,
    );
  if (!d.body.equals(d.trailer))
    throw new RestoreRefused("the snapshot's own SHA-256 trailer does not match its content (corrupted)");
}

/** The snapshot's own integrity, by the tool of the version that reads it: etcdutl where installed. */
async function snapshotStatus(
  dbPath: string,
  metadata: Record<string, string>,
  o: Pick<RestoreOptions, "etcdctl" | "etcdutl">,
  ctx: StepContext,
): Promise<Pick<SnapshotFacts, "hash" | "revision" | "totalKey" | "statusTool">> {
  const etcdutl = o.etcdutl ?? "etcdutl";
  const tool = findBinary(etcdutl, ctx.env) ? etcdutl : (o.etcdctl ?? "etcdctl");
  const name = path.basename(tool);
  const st = await run(tool, ["snapshot", "status", dbPath, "-w", "json"], {
    env: { ...ctx.env, ETCDCTL_API: "3" },
    timeoutMs: 30 * 60_000,
  });
  if (st.code !== 0)
    throw new RestoreRefused(`${name} snapshot status rejects the snapshot: ${lastLine(st.stderr)}`);
  let status: { hash?: number; revision?: number; totalKey?: number };
  try {
    status = JSON.parse(st.stdout) as typeof status;
  } catch {
    throw new RestoreRefused(`snapshot status printed no JSON: ${lastLine(st.stdout)}`);
  }
  const { hash, revision } = status;
  if (typeof hash !== "number" || typeof revision !== "number" || revision < 1)
    throw new RestoreRefused(`snapshot status gave no usable hash/revision: ${st.stdout.trim()}`);
  for (const [k, actual] of [
    ["hash", hash],
    ["revision", revision],
  ] as const)
    if (metadata[k] !== undefined && String(actual) !== metadata[k])
      throw new RestoreRefused(
        `snapshot ${k} ${actual} differs from the object's metadata ${k}=${metadata[k]}`,
      );
  ctx.log(
    `restore: integrity ok (${name}): hash ${hash}, revision ${revision}, ` +
      `${status.totalKey ?? "?"} keys, SHA-256 trailer ok`,
  );
  return { hash, revision, totalKey: status.totalKey ?? 0, statusTool: name };
}

async function sha256File(file: string): Promise<string> {
  const h = createHash("sha256");
  await pipeline(fs.createReadStream(file), h);
  return h.digest("hex");
}

async function isGzip(file: string): Promise<boolean> {
  const fd = await fs.promises.open(file, "r");
  try {
    const b = Buffer.alloc(2);
    await fd.read(b, 0, 2, 0);
    return b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fd.close();
  }
}
