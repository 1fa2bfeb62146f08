// @ts-check
/**
 * The snapshot object format (manifest `compression: "brotli-frames-v1"`): the raw snapshot cut into
 * blocks, each compressed on its own, so the job compresses blocks on several threads and the restore
 * decompresses them on several threads, in one pass each way.
 *
 *   object := MAGIC frame* END
 *   MAGIC  := the 8 ASCII bytes "SETCDBR1"
 *   frame  := rawLength:u32be compressedLength:u32be brotli(raw block)   (1 ≤ rawLength ≤ MAX_BLOCK)
 *   END    := 8 zero bytes (rawLength 0, compressedLength 0)
 *
 * Every frame says how long its block decompresses to, so a reader refuses a block that would grow past
 * it (a decompression bomb) before writing it, and a missing END is a truncated object. Brotli at quality
 * 0–1 compresses etcd data about as well as gzip -1 at roughly three times the speed (npm run bench).
 */
"use strict";

const zlib = require("node:zlib");

const MAGIC = Buffer.from("SETCDBR1", "ascii");
const HEADER_BYTES = 8;
const END = Buffer.alloc(HEADER_BYTES);
/** Largest block a reader accepts (the job writes BLOCK_BYTES). */
const MAX_BLOCK = 64 * 1024 * 1024;
/** Raw bytes per block the job compresses. */
const BLOCK_BYTES = 8 * 1024 * 1024;
const COMPRESSION = "brotli-frames-v1";

/** Brotli's worst case grows incompressible input by a few bytes per 64 KiB; anything bigger is not ours. */
const maxCompressed = (/** @type {number} */ raw) => raw + (raw >> 10) + 1024;

/**
 * Compresses one block into a frame (header + payload) on the libuv thread pool.
 * @param {Buffer} raw
 * @param {number} quality brotli quality 0–11
 * @returns {Promise<Buffer>}
 */
function compressFrame(raw, quality) {
  return new Promise((resolve, reject) => {
    zlib.brotliCompress(
      raw,
      {
        // One output buffer per frame: at the default 16 KiB chunk every frame would come back to the
        // main thread hundreds of times, and those copies cost as much CPU as the compression saves.
        chunkSize: maxCompressed(raw.length),
        params: {
          [zlib.constants.BROTLI_PARAM_QUALITY]: quality,
          [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
          [zlib.constants.BROTLI_PARAM_LGWIN]: 22,
        },
      },
      (err, payload) => {
        if (err) return reject(err);
        const head = Buffer.alloc(HEADER_BYTES);
        head.writeUInt32BE(raw.length, 0);
        head.writeUInt32BE(payload.length, 4);
        resolve(Buffer.concat([head, payload]));
      },
    );
  });
}

/** Why a frame stream is refused; `kind` "limit" means a size cap, anything else a damaged object. */
class FrameError extends Error {
  /** @param {string} message @param {"format" | "limit"} [kind] */
  constructor(message, kind = "format") {
    super(message);
    this.kind = kind;
  }
}

/**
 * Splits a byte stream into frames as the bytes arrive.
 * @typedef {{ index: number, rawLength: number, payload: Buffer }} Frame
 */
class FrameReader {
  /** @param {number} maxTotalRaw the most raw bytes the frames may declare altogether (a size cap) */
  constructor(maxTotalRaw) {
    this.maxTotalRaw = maxTotalRaw;
    /** @type {Buffer[]} */
    this.pending = [];
    this.pendingBytes = 0;
    this.sawMagic = false;
    this.ended = false;
    this.index = 0;
    this.declaredRaw = 0;
    /** The header of the frame being collected. @type {{ raw: number, compressed: number } | undefined} */
    this.header = undefined;
  }

  /**
   * The first n pending bytes, removed; each byte is copied at most once (chunks arrive small, frames
   * are megabytes).
   * @param {number} n
   * @returns {Buffer}
   */
  take(n) {
    /** @type {Buffer[]} */
    const parts = [];
    let got = 0;
    while (got < n) {
      const head = /** @type {Buffer} */ (this.pending[0]);
      const want = n - got;
      if (head.length <= want) {
        parts.push(head);
        got += head.length;
        this.pending.shift();
      } else {
        parts.push(head.subarray(0, want));
        this.pending[0] = head.subarray(want);
        got += want;
      }
    }
    this.pendingBytes -= n;
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, n);
  }

  /**
   * @param {Buffer} chunk
   * @returns {Frame[]} the frames completed by this chunk
   */
  push(chunk) {
    if (this.ended) {
      if (chunk.length) throw new FrameError("data after the end of the snapshot object");
      return [];
    }
    if (chunk.length) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
    }
    /** @type {Frame[]} */
    const out = [];
    if (!this.sawMagic) {
      if (this.pendingBytes < MAGIC.length) return out;
      if (!this.take(MAGIC.length).equals(MAGIC))
        throw new FrameError("not a secure-etcd snapshot object (bad magic)");
      this.sawMagic = true;
    }
    for (;;) {
      if (!this.header) {
        if (this.pendingBytes < HEADER_BYTES) break;
        const h = this.take(HEADER_BYTES);
        const raw = h.readUInt32BE(0);
        const compressed = h.readUInt32BE(4);
        if (raw === 0 && compressed === 0) {
          this.ended = true;
          if (this.pendingBytes) throw new FrameError("data after the end of the snapshot object");
          return out;
        }
        if (raw === 0 || raw > MAX_BLOCK || compressed === 0 || compressed > maxCompressed(raw))
          throw new FrameError(
            `frame ${this.index} has an impossible header (block of ${raw} bytes in ${compressed})`,
          );
        if (this.declaredRaw + raw > this.maxTotalRaw)
          throw new FrameError(`the frames declare more than the ${this.maxTotalRaw}-byte cap`, "limit");
        this.declaredRaw += raw;
        this.header = { raw, compressed };
      }
      if (this.pendingBytes < this.header.compressed) break;
      out.push({
        index: this.index++,
        rawLength: this.header.raw,
        payload: this.take(this.header.compressed),
      });
      this.header = undefined;
    }
    return out;
  }

  /** Throws unless the stream ended with END. */
  finish() {
    if (!this.sawMagic || !this.ended)
      throw new FrameError("the snapshot object is truncated (no end frame)");
  }
}

/**
 * How a frame's block is decompressed: never more than the frame declares, and in one output buffer (see
 * compressFrame). The restore's threads (tools/restore/frameWorker.js) use the same.
 * @param {number} rawLength
 * @returns {zlib.BrotliOptions}
 */
const decompressOptions = (rawLength) => ({ maxOutputLength: rawLength, chunkSize: Math.max(rawLength, 64) });

/**
 * Why a frame's block is refused, if it is: from zlib's error code, or the length it decompressed to.
 * @param {{ index: number, rawLength: number }} f
 * @param {string | undefined} code zlib's error code (undefined: it decompressed)
 * @param {number} length
 * @returns {FrameError | undefined}
 */
function frameRefusal(f, code, length) {
  if (code === "ERR_BUFFER_TOO_LARGE")
    return new FrameError(
      `frame ${f.index} decompresses to more than the ${f.rawLength} bytes it declares`,
      "limit",
    );
  if (code !== undefined) return new FrameError(`frame ${f.index} does not decompress`);
  if (length !== f.rawLength)
    return new FrameError(
      `frame ${f.index} decompresses to ${length} bytes, not the ${f.rawLength} it declares`,
    );
  return undefined;
}

/**
 * Decompresses one frame on the thread pool; never produces more than the frame declares. The simple
 * decoder (tests read objects with it); the restore decompresses on threads of its own, into reused
 * buffers (tools/restore/framePool.ts).
 * @param {Frame} f
 * @returns {Promise<Buffer>}
 */
function decompressFrame(f) {
  return new Promise((resolve, reject) => {
    zlib.brotliDecompress(f.payload, decompressOptions(f.rawLength), (err, raw) => {
      const code = err ? String(/** @type {NodeJS.ErrnoException} */ (err).code) : undefined;
      const refused = frameRefusal(f, code, err ? 0 : raw.length);
      if (refused) reject(refused);
      else resolve(raw);
    });
  });
}

module.exports = {
  MAGIC,
  END,
  BLOCK_BYTES,
  MAX_BLOCK,
  COMPRESSION,
  compressFrame,
  decompressFrame,
  decompressOptions,
  frameRefusal,
  FrameReader,
  FrameError,
};
