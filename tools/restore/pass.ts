/**
 * Step 2 of a restore, in one pass over the bytes as they arrive: the SHA-256 of the object, its
 * decompression (brotli frames on several threads, or gzip for snapshots of the format before), the
 * SHA-256 of the snapshot and of all but its 32-byte trailer (runner/digest.js, the job's own), and the
 * write of the snapshot file — with size caps that stop the pass before the disk fills (a small object
 * that decompresses to gigabytes), and a full disk reported as one.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as zlib from "node:zlib";
import { SnapshotDigest } from "../../components/backup/runner/digest";
import { FrameError, FrameReader, MAGIC } from "../../components/backup/runner/frames";
import { FramePool, FrameThreadError, type Decompressed } from "./framePool";
import type { SnapshotFormat, SnapshotSource } from "./source";
import { RestoreNoSpace, RestoreRefused, RestoreTooLarge } from "./types";

export interface PassResult {
  format: SnapshotFormat;
  /** Bytes and SHA-256 of what was read (the object). */
  size: number;
  sha256: string;
  /** Bytes and SHA-256 of the snapshot written. */
  dbSize: number;
  dbSha256: string;
  /** 512·n + 32 bytes: a bolt db and its trailer. */
  shapeOk: boolean;
  /** The trailer equals the SHA-256 of the bytes before it. */
  trailerOk: boolean;
}

const noSpaceCodes = new Set(["ENOSPC", "EDQUOT"]);

/** Free bytes for an unprivileged writer in `dir`'s filesystem. */
export function freeBytes(dir: string): number {
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
}

/**
 * Writes the snapshot file: size cap, digest, and ENOSPC as "no space". The writes are synchronous on
 * purpose: a block into the page cache takes milliseconds, and the block is a view of a decompression
 * slot's shared buffer (framePool.ts), which goes back to the next frame as soon as the write returns.
 */
class RawSink {
  readonly digest = new SnapshotDigest();
  written = 0;

  constructor(
    private readonly fd: number,
    private readonly file: string,
    private readonly cap: number,
    private readonly capReason: string,
  ) {}

  async write(b: Buffer): Promise<void> {
    if (this.written + b.length > this.cap)
      throw new RestoreTooLarge(
        `the snapshot decompresses to more than ${this.capReason}; stopped after ${this.written} bytes`,
      );
    this.digest.update(b);
    try {
      for (let at = 0; at < b.length;) at += fs.writeSync(this.fd, b, at, b.length - at);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "";
      if (noSpaceCodes.has(code))
        throw new RestoreNoSpace(
          `no space left in ${path.dirname(this.file)} after ${this.written} bytes of the snapshot (${code}); free space or give another --work-dir`,
        );
      throw e;
    }
    this.written += b.length;
  }
}

/** The first bytes say the format: brotli frames, gzip, or a raw snapshot. */
function formatOf(head: Buffer): SnapshotFormat {
  if (head.length >= MAGIC.length && head.subarray(0, MAGIC.length).equals(MAGIC)) return "brotli-frames-v1";
  if (head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  return "raw";
}

/**
 * Frames decompressed at a time, each on its own worker thread: one per core and one more, at most four.
 * More than that leaves this thread — hashing, writing and reading the download — a smaller share of the
 * cores, and the whole pass waits on it (measured on 2 cores: 4 in flight ≈ 1.3× slower than 3).
 */
const FRAMES_IN_FLIGHT = Math.min(4, os.availableParallelism() + 1);

async function framesInto(input: AsyncIterable<Buffer>, sink: RawSink, cap: number): Promise<void> {
  const reader = new FrameReader(cap);
  const pool = new FramePool(FRAMES_IN_FLIGHT);
  const queue: Promise<Decompressed>[] = [];
  const writeNext = async () => {
    const block = await queue.shift()!;
    try {
      await sink.write(block.data);
    } finally {
      block.release();
    }
  };
  try {
    for await (const chunk of input)
      for (const f of reader.push(chunk)) {
        const job = pool.decompress(f);
        job.catch(() => undefined);
        queue.push(job);
        while (queue.length >= FRAMES_IN_FLIGHT) await writeNext();
      }
    reader.finish();
    while (queue.length) await writeNext();
  } finally {
    await pool.close();
  }
}

async function gzipInto(input: AsyncIterable<Buffer>, sink: RawSink): Promise<void> {
  await pipeline(
    Readable.from(input),
    zlib.createGunzip({ chunkSize: 1024 * 1024 }),
    new Writable({
      highWaterMark: 4 * 1024 * 1024,
      write: (c: Buffer, _enc, done) => void sink.write(c).then(() => done(), done),
    }),
  );
}

/** Why a decoder stopped, as a refusal that quotes nothing it read. */
function decodeFailure(e: unknown, format: SnapshotFormat): Error {
  if (e instanceof RestoreTooLarge || e instanceof RestoreNoSpace || e instanceof RestoreRefused) return e;
  if (e instanceof FrameError)
    return e.kind === "limit"
      ? new RestoreTooLarge(e.message)
      : new RestoreRefused(`the snapshot object is damaged: ${e.message}`);
  const code = (e as NodeJS.ErrnoException).code;
  if (format === "gzip" && code?.startsWith("Z_"))
    return new RestoreRefused(`the snapshot does not decompress (gzip: ${code})`);
  return e as Error;
}

/**
 * Reads the source once into `dbPath`. `cap` bounds the raw bytes (the declared size when the snapshot
 * records it, else the caller's maximum).
 */
export async function decodeToFile(
  src: SnapshotSource,
  dbPath: string,
  cap: { bytes: number; reason: string },
): Promise<PassResult> {
  const objectHash = createHash("sha256");
  let size = 0;
  const input = await src.open();
  const iterator = input[Symbol.asyncIterator]();
  // Hashes every byte of the object as the decoder pulls it.
  const hashed: AsyncIterable<Buffer> = {
    [Symbol.asyncIterator]: () => ({
      next: async () => {
        const r = await iterator.next();
        if (!r.done) {
          objectHash.update(r.value);
          size += r.value.length;
        }
        return r;
      },
    }),
  };
  // Peek the first chunk for the format, then hand it back to the decoder.
  const first = await hashed[Symbol.asyncIterator]().next();
  const head: Buffer = first.done ? Buffer.alloc(0) : (first.value as Buffer);
  const format = src.format ?? formatOf(head);
  const rest: AsyncIterable<Buffer> = {
    [Symbol.asyncIterator]: () => {
      let gaveHead = head.length === 0;
      const it = hashed[Symbol.asyncIterator]();
      return {
        next: async () => {
          if (!gaveHead) {
            gaveHead = true;
            return { done: false, value: head };
          }
          return it.next();
        },
      };
    },
  };
  const fd = fs.openSync(dbPath, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  const sink = new RawSink(fd, dbPath, cap.bytes, cap.reason);
  try {
    try {
      if (format === "brotli-frames-v1") await framesInto(rest, sink, cap.bytes);
      else if (format === "gzip") await gzipInto(rest, sink);
      else for await (const c of rest) await sink.write(c);
    } catch (e) {
      const failure = decodeFailure(e, format);
      // A damaged object: read the rest, so the refusal names the root cause when the object is not
      // what the job uploaded (its SHA-256 differs), rather than what the damage did to the decoder.
      if (failure instanceof RestoreRefused && src.expected.sha256) {
        const drain = hashed[Symbol.asyncIterator]();
        for (;;) if ((await drain.next()).done) break;
        const got = objectHash.digest("hex");
        if (got !== src.expected.sha256)
          throw new RestoreRefused(`SHA-256 mismatch: got ${got}, expected ${src.expected.sha256}`);
      }
      if (
        failure === e &&
        !(
          e instanceof RestoreTooLarge ||
          e instanceof RestoreNoSpace ||
          e instanceof RestoreRefused ||
          e instanceof FrameThreadError
        )
      ) {
        // The source broke off (a dropped connection, a read error): say where, not what it carried.
        const err = e as NodeJS.ErrnoException;
        throw new Error(
          `reading ${src.label} stopped after ${size} bytes (${(err.code ?? err.message ?? "error").replace(/[^\x20-\x7e]+/g, " ").slice(0, 100)})`,
          { cause: e },
        );
      }
      throw failure;
    }
  } finally {
    fs.closeSync(fd);
    (input as Partial<Readable>).destroy?.();
  }
  const raw = sink.digest.finish();
  return {
    format,
    size,
    sha256: objectHash.digest("hex"),
    dbSize: raw.size,
    dbSha256: raw.sha256,
    shapeOk: raw.shapeOk,
    trailerOk: raw.trailerOk,
  };
}
