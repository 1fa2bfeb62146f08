// @ts-check
/**
 * One decompression thread of a restore (framePool.ts): a brotli frame from the shared input buffer into
 * the shared output buffer. The Buffer zlib returns is this thread's garbage, collected in this thread's
 * small heap, never the restore's.
 */
"use strict";

const { parentPort } = require("node:worker_threads");
const zlib = require("node:zlib");
const { decompressOptions } = require("../../components/backup/runner/frames.js");

/**
 * @typedef {{ input: SharedArrayBuffer, inputLength: number, output: SharedArrayBuffer, rawLength: number }} Job
 * @typedef {{ length: number } | { error: string }} Done
 */

const port = /** @type {import("node:worker_threads").MessagePort} */ (parentPort);
port.on("message", (/** @type {Job} */ job) => {
  /** @type {Done} */
  let done;
  try {
    const input = Buffer.from(job.input, 0, job.inputLength);
    const raw = zlib.brotliDecompressSync(input, decompressOptions(job.rawLength));
    raw.copy(Buffer.from(job.output), 0, 0, Math.min(raw.length, job.output.byteLength));
    done = { length: raw.length };
  } catch (e) {
    done = { error: String(/** @type {NodeJS.ErrnoException} */ (e).code ?? "decompress") };
  }
  port.postMessage(done);
});
