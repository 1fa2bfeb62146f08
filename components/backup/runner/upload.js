// @ts-check
/**
 * The write side of the job's single pass: raw snapshot bytes → brotli frames compressed on several
 * threads (in order) → SHA-256 of the object → parts uploaded while the snapshot is still being saved.
 * Memory stays bounded: a few blocks being compressed, a few parts in flight, and the writer waits when
 * either is full. A snapshot smaller than one part is one PutObject; the upload never replaces an
 * existing object (If-None-Match: *).
 */
"use strict";

const crypto = require("node:crypto");
const { BLOCK_BYTES, END, MAGIC, compressFrame } = require("./frames.js");
const { compositeSha256 } = require("./s3.js");

/** @typedef {import("./s3.js").S3} S3 */
/** @typedef {import("./s3.js").UploadedPart} UploadedPart */

/** Raw bytes in → frames out, in order, `threads` blocks compressing at once. */
class FrameCompressor {
  /**
   * @param {{ quality: number, threads: number, sink: (frame: Buffer) => Promise<void> }} o
   */
  constructor(o) {
    this.o = o;
    /** @type {Buffer[]} */
    this.block = [];
    this.blockBytes = 0;
    /** @type {Promise<Buffer>[]} */
    this.inFlight = [];
    this.rawBytes = 0;
    this.frames = 0;
    this.started = false;
  }

  /** @param {Buffer} chunk */
  async push(chunk) {
    if (!this.started) {
      this.started = true;
      await this.o.sink(MAGIC);
    }
    this.rawBytes += chunk.length;
    let rest = chunk;
    while (rest.length) {
      const take = Math.min(rest.length, BLOCK_BYTES - this.blockBytes);
      this.block.push(rest.subarray(0, take));
      this.blockBytes += take;
      rest = rest.subarray(take);
      if (this.blockBytes === BLOCK_BYTES) await this.submit();
    }
  }

  async submit() {
    const raw = this.block.length === 1 ? this.block[0] : Buffer.concat(this.block);
    this.block = [];
    this.blockBytes = 0;
    const job = compressFrame(raw, this.o.quality);
    job.catch(() => undefined); // awaited in order below; never an unhandled rejection meanwhile
    this.inFlight.push(job);
    this.frames++;
    while (this.inFlight.length >= this.o.threads)
      await this.o.sink(await /** @type {Promise<Buffer>} */ (this.inFlight.shift()));
  }

  async finish() {
    if (!this.started) {
      this.started = true;
      await this.o.sink(MAGIC);
    }
    if (this.blockBytes) await this.submit();
    while (this.inFlight.length)
      await this.o.sink(await /** @type {Promise<Buffer>} */ (this.inFlight.shift()));
    await this.o.sink(END);
  }
}

/** Compressed bytes in (in order) → one S3 object, multipart once it outgrows one part. */
class ObjectUpload {
  /**
   * @param {{ s3: S3, bucket: string, key: string, headers: Record<string, string>, partBytes: number,
   *   partsInFlight: number }} o  headers: SSE-KMS, content type and metadata, sent when the object is created
   */
  constructor(o) {
    this.o = o;
    this.hash = crypto.createHash("sha256");
    this.size = 0;
    /** @type {Buffer[]} */
    this.part = [];
    this.partSize = 0;
    /** @type {string | undefined} */
    this.uploadId = undefined;
    /** @type {Promise<UploadedPart>[]} */
    this.inFlight = [];
    /** @type {UploadedPart[]} */
    this.done = [];
    /** Set once a request that could leave an object behind was sent. */
    this.mayExist = false;
    this.completed = false;
  }

  /** @param {Buffer} bytes */
  async write(bytes) {
    this.hash.update(bytes);
    this.size += bytes.length;
    this.part.push(bytes);
    this.partSize += bytes.length;
    if (this.partSize >= this.o.partBytes) await this.flushPart();
  }

  async flushPart() {
    const body = Buffer.concat(this.part);
    this.part = [];
    this.partSize = 0;
    if (!this.uploadId) {
      this.uploadId = await this.o.s3.createMultipart(this.o.bucket, this.o.key, this.o.headers);
    }
    const n = this.done.length + this.inFlight.length + 1;
    const sha = crypto.createHash("sha256").update(body).digest();
    const job = this.o.s3.uploadPart(this.o.bucket, this.o.key, this.uploadId, n, body, sha);
    job.catch(() => undefined);
    this.inFlight.push(job);
    while (this.inFlight.length >= this.o.partsInFlight)
      this.done.push(await /** @type {Promise<UploadedPart>} */ (this.inFlight.shift()));
  }

  /**
   * Sends what is left and completes the object.
   * @returns {Promise<{ size: number, sha256: string, parts: number, checksumSha256: string }>}
   *   checksumSha256: what S3 reports for it (x-amz-checksum-sha256)
   */
  async finish() {
    try {
      return await this.complete();
    } catch (e) {
      // 412: the key existed, so nothing of this run was written there (and cleanup must not touch it).
      if (/** @type {{ status?: number }} */ (e).status === 412) this.mayExist = false;
      throw e;
    }
  }

  /** @returns {Promise<{ size: number, sha256: string, parts: number, checksumSha256: string }>} */
  async complete() {
    const sha256 = this.hash.digest("hex");
    const conditional = { "if-none-match": "*" };
    if (!this.uploadId) {
      const body = Buffer.concat(this.part);
      const digest = crypto.createHash("sha256").update(body).digest();
      this.mayExist = true;
      await this.o.s3.put(this.o.bucket, this.o.key, body, { ...this.o.headers, ...conditional }, digest);
      this.completed = true;
      return { size: this.size, sha256, parts: 0, checksumSha256: digest.toString("base64") };
    }
    if (this.partSize) await this.flushPart();
    while (this.inFlight.length)
      this.done.push(await /** @type {Promise<UploadedPart>} */ (this.inFlight.shift()));
    this.mayExist = true;
    await this.o.s3.completeMultipart(this.o.bucket, this.o.key, this.uploadId, this.done, conditional);
    this.completed = true;
    return {
      size: this.size,
      sha256,
      parts: this.done.length,
      checksumSha256: compositeSha256(this.done.map((p) => p.sha256)),
    };
  }

  /** Best effort: drops an unfinished multipart upload (the writer role may abort, never delete). */
  async abort() {
    if (!this.uploadId || this.completed) return;
    await Promise.allSettled(this.inFlight);
    await this.o.s3.abortMultipart(this.o.bucket, this.o.key, this.uploadId);
  }
}

module.exports = { FrameCompressor, ObjectUpload };
