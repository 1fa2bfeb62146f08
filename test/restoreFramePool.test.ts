import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import { compressFrame, FrameError, FrameReader, MAGIC, END } from "../components/backup/runner/frames";
import { FramePool, FrameThreadError } from "../tools/restore/framePool";

/** Frames as the restore's pass gets them from the object's bytes. */
async function framesOf(blocks: Buffer[]) {
  const obj = Buffer.concat([MAGIC, ...(await Promise.all(blocks.map((b) => compressFrame(b, 0)))), END]);
  const reader = new FrameReader(1 << 30);
  const frames = reader.push(obj);
  reader.finish();
  return frames;
}

/** Half noise, half repeats: a block brotli both compresses and must get byte-exact. */
const block = (bytes: number, seed: number) =>
  Buffer.concat([randomBytes(bytes >> 1), Buffer.alloc(bytes - (bytes >> 1), seed)]);

describe("the restore's frame pool (decompression on worker threads, into reused shared buffers)", function () {
  it("gives back every block byte for byte, in order, reusing each slot's buffers for later frames", async function () {
    const blocks = [
      block(1 << 20, 1),
      block(3 << 20, 2),
      block(2 << 20, 3),
      block(3 << 20, 4),
      block(777, 5),
    ];
    const frames = await framesOf(blocks);
    const pool = new FramePool(2);
    try {
      const seen = new Set<ArrayBufferLike>();
      // Two in flight, as the pass keeps them: each written, then released for the next frame.
      const queue = frames.slice(0, 2).map((f) => pool.decompress(f));
      for (let i = 0; i < frames.length; i++) {
        const got = await queue.shift()!;
        assert.ok(got.data.equals(blocks[i]), `block ${i}`);
        assert.ok(got.data.buffer instanceof SharedArrayBuffer);
        seen.add(got.data.buffer);
        got.release();
        if (i + 2 < frames.length) queue.push(pool.decompress(frames[i + 2]));
      }
      // Five frames through two slots: buffers reused, grown only when a larger block came.
      assert.ok(seen.size <= 4, `${seen.size} output buffers for 5 frames`);
    } finally {
      await pool.close();
    }
  });

  it("refuses a frame that decompresses past or short of what it declares, or not at all; the pool goes on", async function () {
    const raw = block(1 << 20, 9);
    const [good] = await framesOf([raw]);
    const pool = new FramePool(1);
    try {
      await assert.rejects(
        pool.decompress({ ...good, rawLength: 1024 }),
        (e: FrameError) =>
          e.kind === "limit" && /decompresses to more than the 1024 bytes it declares/.test(e.message),
      );
      await assert.rejects(
        pool.decompress({ ...good, rawLength: raw.length + 512 }),
        (e: FrameError) =>
          e.kind === "format" &&
          e.message.includes(`decompresses to ${raw.length} bytes, not the ${raw.length + 512} it declares`),
      );
      // Cut short: the brotli stream never ends.
      await assert.rejects(
        pool.decompress({ ...good, payload: good.payload.subarray(0, good.payload.length >> 1) }),
        (e: FrameError) => e.kind === "format" && /frame 0 does not decompress/.test(e.message),
      );
      // The one slot came back after each refusal.
      const ok = await pool.decompress(good);
      assert.ok(ok.data.equals(raw));
      ok.release();
    } finally {
      await pool.close();
    }
  });

  it("a frame sent to threads that have stopped fails as the host's fault, instead of waiting forever", async function () {
    const [frame] = await framesOf([block(4096, 3)]);
    const pool = new FramePool(1);
    await pool.close();
    await assert.rejects(
      pool.decompress(frame),
      (e: Error) => e instanceof FrameThreadError && /a decompression thread stopped/.test(e.message),
    );
  });
});
