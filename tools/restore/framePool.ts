/**
 * A restore's brotli frames, decompressed on worker threads (frameWorker.js) into shared buffers that are
 * reused from frame to frame.
 *
 * Why not zlib's own thread pool (runner/frames.js decompressFrame): each frame it decompresses comes back
 * as a fresh 8 MiB Buffer on this thread, counted as external memory, and V8 answers every few tens of MiB
 * of that with a full mark-compact of this process's heap. In a process that has loaded the AWS SDK or
 * more (the restore command, the bench) that cost more CPU than the decompression: one pass over a 1 GiB
 * snapshot took 3.9 user CPU-seconds in a bare process and 10–13 in the bench's. Here this thread
 * allocates nothing per frame.
 */
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { frameRefusal } from "../../components/backup/runner/frames";

/** A decompressed frame: `data` is valid until `release()`, which hands its buffers to the next frame. */
export interface Decompressed {
  data: Buffer;
  release(): void;
}

interface Slot {
  worker: Worker;
  input: SharedArrayBuffer;
  output: SharedArrayBuffer;
  /** Settles the frame in this slot's worker (set while one is). */
  settle?: (done: { length?: number; error?: string }) => void;
}

const workerFile = path.join(__dirname, "frameWorker.js");

/** A decompression thread that could not start or died: this host's fault, not the snapshot's. */
export class FrameThreadError extends Error {
  constructor(cause: Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    super(`a decompression thread stopped (${code ?? cause.name})`, { cause });
  }
}

/** A shared buffer of at least `bytes`: the slot's own when it is big enough (frames are one size). */
const atLeast = (b: SharedArrayBuffer, bytes: number) =>
  b.byteLength >= bytes ? b : new SharedArrayBuffer(bytes);

export class FramePool {
  private readonly idle: Slot[] = [];
  private readonly waiting: ((s: Slot) => void)[] = [];
  private readonly all: Slot[] = [];
  private failure?: FrameThreadError;

  /** @param threads frames decompressed at once (each a worker and a pair of buffers) */
  constructor(threads: number) {
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(workerFile);
      const slot: Slot = { worker, input: new SharedArrayBuffer(0), output: new SharedArrayBuffer(0) };
      worker.on("message", (done: { length?: number; error?: string }) => slot.settle?.(done));
      // A thread that dies fails its frame and every later one; the pass reports it and stops.
      worker.on("error", (e) => {
        this.failure ??= new FrameThreadError(e);
        slot.settle?.({ error: "worker" });
      });
      // One that exits without an error (stopped from outside) must not leave its frame waiting forever.
      worker.on("exit", (code) => {
        this.failure ??= new FrameThreadError(Object.assign(new Error("exit"), { code: `exit ${code}` }));
        slot.settle?.({ error: "worker" });
      });
      this.all.push(slot);
      this.idle.push(slot);
    }
  }

  /**
   * Decompresses one frame: its payload is copied into a slot's input buffer and the block comes back in
   * the slot's output buffer. Refused as decompressFrame refuses (frameRefusal).
   */
  async decompress(f: { index: number; rawLength: number; payload: Buffer }): Promise<Decompressed> {
    const slot = await this.take();
    try {
      slot.input = atLeast(slot.input, f.payload.length);
      slot.output = atLeast(slot.output, f.rawLength);
      f.payload.copy(Buffer.from(slot.input));
      const done = await new Promise<{ length?: number; error?: string }>((resolve) => {
        slot.settle = resolve;
        if (this.failure) return resolve({ error: "worker" });
        slot.worker.postMessage({
          input: slot.input,
          inputLength: f.payload.length,
          output: slot.output,
          rawLength: f.rawLength,
        });
      });
      slot.settle = undefined;
      if (done.error === "worker") throw this.failure ?? new FrameThreadError(new Error("exit"));
      const refused = frameRefusal(f, done.error, done.length ?? 0);
      if (refused) throw refused;
    } catch (e) {
      this.give(slot);
      throw e;
    }
    let released = false;
    return {
      data: Buffer.from(slot.output, 0, f.rawLength),
      release: () => {
        if (released) return;
        released = true;
        this.give(slot);
      },
    };
  }

  /** Stops the threads. */
  async close(): Promise<void> {
    await Promise.all(this.all.map((s) => s.worker.terminate()));
  }

  private take(): Promise<Slot> {
    const s = this.idle.pop();
    return s ? Promise.resolve(s) : new Promise((resolve) => this.waiting.push(resolve));
  }

  private give(s: Slot): void {
    const next = this.waiting.shift();
    if (next) next(s);
    else this.idle.push(s);
  }
}
