// @ts-check
/**
 * One pass over an etcd snapshot's raw bytes: its SHA-256 (what the manifest records as dbSha256) and,
 * from the same hash state, the SHA-256 of everything but the last 32 bytes — the integrity trailer
 * `etcdctl snapshot save` appends and `snapshot restore` checks. Used by the snapshot job (before the
 * marker may move) and by the restore tool (before anything is restored).
 */
"use strict";

const crypto = require("node:crypto");

/** etcd's trailer: SHA-256 of the bolt db, appended to it; the db itself is a whole number of 512-byte pages. */
const TRAILER_BYTES = 32;

class SnapshotDigest {
  constructor() {
    this.hash = crypto.createHash("sha256");
    /** The last TRAILER_BYTES seen, not yet hashed. */
    this.tail = Buffer.alloc(0);
    this.size = 0;
  }

  /** @param {Buffer} chunk */
  update(chunk) {
    this.size += chunk.length;
    if (chunk.length >= TRAILER_BYTES) {
      if (this.tail.length) this.hash.update(this.tail);
      this.hash.update(chunk.subarray(0, chunk.length - TRAILER_BYTES));
      this.tail = Buffer.from(chunk.subarray(chunk.length - TRAILER_BYTES));
      return;
    }
    const joined = Buffer.concat([this.tail, chunk]);
    const keep = Math.min(TRAILER_BYTES, joined.length);
    this.hash.update(joined.subarray(0, joined.length - keep));
    this.tail = Buffer.from(joined.subarray(joined.length - keep));
  }

  /**
   * Ends the pass.
   * @returns {{ size: number, sha256: string, trailerOk: boolean, shapeOk: boolean }}
   *   sha256: of every byte; shapeOk: the size is 512·n + 32 (a db plus a trailer); trailerOk: the trailer
   *   equals the SHA-256 of the bytes before it.
   */
  finish() {
    const body = this.hash.copy().digest();
    this.hash.update(this.tail);
    const sha256 = this.hash.digest("hex");
    const shapeOk = this.size % 512 === TRAILER_BYTES;
    return { size: this.size, sha256, shapeOk, trailerOk: shapeOk && body.equals(this.tail) };
  }
}

module.exports = { SnapshotDigest, TRAILER_BYTES };
