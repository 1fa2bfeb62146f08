#!/usr/bin/env node
// @ts-check
/**
 * secure-etcd snapshot job: one verified, encrypted etcd snapshot in S3, or a loud failure.
 *
 * The CronJob runs this file (`node /scripts/snapshot.js`, with the other files of this directory beside
 * it); the integration tests, the rehearsal's backup drill and `npm run bench` run the same files with
 * node. It needs node ≥ 20, and etcdctl (plus etcdutl for etcd ≥ 3.5) — nothing else: no shell, no AWS
 * CLI, no gzip.
 *
 * One pass over the data:
 *   1. the members of ETCD_ENDPOINTS are tried in order; the first that answers `endpoint health` (a
 *      quorum read) on its own is snapshotted (a snapshot names ONE endpoint); a member whose health,
 *      save or integrity check fails is skipped and the next one is tried;
 *   2. `etcdctl snapshot save` with the backup client certificate; while it writes the file, every byte
 *      is read back (from the page cache), hashed (SHA-256 of the whole, and of all but the last 32
 *      bytes), compressed in 8 MiB brotli frames on COMPRESSION_THREADS threads, hashed again as the
 *      object, and uploaded in S3_PART_SIZE parts with SSE-KMS — the upload is done soon after the save;
 *   3. integrity, before anything is called good: the file's own SHA-256 trailer must match its content
 *      (what `snapshot restore` checks; `snapshot status` does not), and `snapshot status -w json` (the
 *      ETCD_STATUS_TOOL of the target etcd) must read it — run while the upload completes;
 *   4. the object is checked as it landed: HEAD gives its size, SSE-KMS and key, and the SHA-256 S3
 *      computed of the bytes it received (VERIFY_DOWNLOAD=true also reads it back and hashes it);
 *   5. `<key>.manifest.json` records what the object is (sizes, SHA-256s, hash, revision, keys, member,
 *      cluster, encryption keys): a snapshot without its manifest is not complete, and the restore tool
 *      refuses it;
 *   6. only then `<prefix>latest.json` (monitoring's freshness signal) moves to it — forward only: a marker
 *      that names a snapshot taken after this one stays; one that names a higher revision taken BEFORE
 *      this one means the store's revision went back (a restore): the job stops with exit 3 and says
 *      which command points the marker at the new lineage (secure-etcd snapshot-marker).
 *
 * On failure: exactly one line `snapshot: FAILED: <reason>` on stderr, progress lines on stdout, the
 * marker untouched, an unfinished multipart upload aborted, and an object that was (or may have been)
 * written but not verified deleted — or, where the writer role may not delete, overwritten with an empty
 * object marked `snapshot-status=failed`. The private work directory under WORK_DIR is removed on every
 * exit. Error messages never quote what etcd, a snapshot or the bucket returned as data.
 *
 * Exit status: 0 snapshot uploaded, verified, manifest written, marker moved (or rightly kept);
 * 1 failed; 2 bad configuration (names the variable); 3 the snapshot is stored and verified but the
 * marker names a higher revision taken earlier (revision went back); 4 no space left in WORK_DIR.
 *
 * Environment: see config.js and docs/snapshots-and-restore.md (ETCD_ENDPOINTS, S3_BUCKET,
 * S3_PREFIX or CLUSTER+ENVIRONMENT, KMS_KEY_ID, AWS_REGION, ETCD_STATUS_TOOL, ETCD_VERSION, …).
 */
"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const { AwsError, HttpClient, clean } = require("./aws.js");
const { ConfigProblem, readConfig } = require("./config.js");
const { credentialChain } = require("./credentials.js");
const { SnapshotDigest } = require("./digest.js");
const { MemberError, killChildren, probeMember, saveAndFollow, snapshotStatus } = require("./etcd.js");
const { BLOCK_BYTES, COMPRESSION } = require("./frames.js");
const { S3 } = require("./s3.js");
const { FrameCompressor, ObjectUpload } = require("./upload.js");

const EXIT = Object.freeze({ ok: 0, failed: 1, config: 2, markerBehind: 3, noSpace: 4 });

/** A failure of the whole run, with its exit status. */
class JobError extends Error {
  /** @param {string} message @param {number} [exitCode] */
  constructor(message, exitCode = EXIT.failed) {
    super(message);
    this.exitCode = exitCode;
  }
}

const log = (/** @type {string} */ line) => process.stdout.write(`snapshot: ${line}\n`);
const seconds = (/** @type {number} */ since) => ((Date.now() - since) / 1000).toFixed(1);

/**
 * @typedef {import("./config.js").JobConfig} JobConfig
 * @typedef {{ step: string, workDir?: string, client?: HttpClient, s3?: S3, bucket: string, kmsKeyId: string,
 *   upload?: ObjectUpload, verified: boolean }} RunState
 * @typedef {{ key: string, member: string, clusterId: string, etcdVersion: string, snapshotTime: string,
 *   time: string, dbSize: number, dbSha256: string, hash: number, revision: number, totalKey: number,
 *   size: number, sha256: string, parts: number, checksumSha256: string, frames: number }} Snapshot
 */

/** @param {JobConfig} cfg */
function etcdOptions(cfg) {
  return {
    etcdctl: cfg.etcdctl,
    etcdutl: cfg.etcdutl,
    statusTool: cfg.statusTool,
    cacert: cfg.cacert,
    cert: cfg.cert,
    key: cfg.key,
    dialTimeout: cfg.dialTimeout,
    commandTimeout: cfg.commandTimeout,
    snapshotTimeoutMs: cfg.snapshotTimeoutMs,
    env: { ...process.env, ETCDCTL_API: "3" },
  };
}

/** Headers that create the object: SSE-KMS with the snapshot key, and what a restore reads first. */
function objectHeaders(
  /** @type {JobConfig} */ cfg,
  /** @type {string} */ member,
  /** @type {string} */ etcdVersion,
) {
  return {
    "x-amz-server-side-encryption": "aws:kms",
    "x-amz-server-side-encryption-aws-kms-key-id": cfg.kmsKeyId,
    "content-type": "application/octet-stream",
    "x-amz-meta-snapshot-format": COMPRESSION,
    "x-amz-meta-member": member,
    "x-amz-meta-etcd-version": etcdVersion,
    "x-amz-meta-encryption-keys": cfg.encryptionKeys,
  };
}

/**
 * Health, save (streamed through digest, compressor and upload), integrity and upload of one member.
 * @param {JobConfig} cfg @param {RunState} state @param {{ name?: string, url: string }} ep
 * @param {string} stamp @param {string} runId
 * @returns {Promise<Snapshot>}
 */
async function snapshotFrom(cfg, state, ep, stamp, runId) {
  const s3 = /** @type {S3} */ (state.s3);
  const etcd = etcdOptions(cfg);
  state.step = `checking the health of ${ep.name ?? ep.url} while saving a snapshot`;
  // The save starts at once, beside the health check (whose answer names the member, hence the key);
  // its bytes wait for the check before anything is uploaded, and a failed check stops the save.
  const stop = new AbortController();
  const probed = probeMember(etcd, ep.url, ep.name);
  probed.catch(() => stop.abort());
  /** @type {{ member: string, etcdVersion: string, key: string, keyFree: Promise<void>, upload: ObjectUpload } | undefined} */
  let current;
  const started = async () => {
    if (current) return current;
    const probe = await probed;
    const member = probe.member;
    const etcdVersion = cfg.etcdVersion || probe.serverVersion;
    log(`member ${member} (${ep.url}) is healthy; saving a snapshot`);
    state.step = `saving a snapshot from ${member}`;
    const key = `${cfg.prefix}${stamp}-${runId}-${member}.db.brf`;
    // Never write over an object that exists: it would belong to another run (and cleanup would hit it).
    // Checked while the save runs; the upload itself is conditional too (If-None-Match: *).
    const keyFree = s3.head(cfg.bucket, key).then((h) => {
      if (h)
        throw new JobError(
          `s3://${cfg.bucket}/${key} already exists; refusing to overwrite another run's snapshot`,
        );
    });
    keyFree.catch(() => undefined);
    const upload = new ObjectUpload({
      s3,
      bucket: cfg.bucket,
      key,
      headers: objectHeaders(cfg, member, etcdVersion),
      partBytes: cfg.partBytes,
      partsInFlight: cfg.partsInFlight,
    });
    state.upload = upload;
    current = { member, etcdVersion, key, keyFree, upload };
    return current;
  };
  const digest = new SnapshotDigest();
  const compressor = new FrameCompressor({
    quality: cfg.quality,
    threads: cfg.threads,
    sink: async (f) => (await started()).upload.write(f),
  });
  const dbPath = path.join(/** @type {string} */ (state.workDir), "snapshot.db");
  fs.rmSync(dbPath, { force: true });

  const snapshotTime = new Date().toISOString();
  const t0 = Date.now();
  /** @type {number} */
  let dbSize;
  try {
    dbSize = await saveAndFollow(
      etcd,
      ep.url,
      dbPath,
      async (chunk) => {
        digest.update(chunk);
        await compressor.push(chunk);
      },
      BLOCK_BYTES,
      stop.signal,
    );
  } catch (e) {
    await probed; // an unhealthy member is the reason, not the save its check stopped
    throw e;
  }
  const { member, etcdVersion, key, keyFree, upload } = await started();
  const target = `s3://${cfg.bucket}/${key}`;
  // The file is whole: its trailer is checked now, and `snapshot status` reads it while the last
  // blocks are still compressed and uploaded.
  state.step = "checking the snapshot's integrity";
  const raw = digest.finish();
  if (!raw.shapeOk)
    throw new MemberError(
      `the snapshot has no SHA-256 integrity trailer (${dbSize} bytes is not 512·n + 32)`,
    );
  if (!raw.trailerOk)
    throw new MemberError("the snapshot's own SHA-256 integrity trailer does not match its content");
  const statusRun = snapshotStatus(etcd, dbPath);
  statusRun.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
  await compressor.finish();
  state.step = "checking that this run's key is free";
  await keyFree;
  log(
    `saved ${dbSize} bytes from ${member} in ${seconds(t0)}s, compressed and uploaded as it was written (${upload.size} bytes so far)`,
  );
  state.step = `completing the upload while ${cfg.statusTool} reads the snapshot`;
  const [status, uploaded] = await Promise.allSettled([statusRun, upload.finish()]);
  if (uploaded.status === "rejected") throw uploaded.reason;
  if (status.status === "rejected") throw status.reason;
  const { hash, revision, totalKey } = status.value;
  if (revision < 1)
    throw new MemberError(
      `${cfg.statusTool} snapshot status reports revision ${revision}: not a store with data`,
    );
  log(
    `integrity ok (${cfg.statusTool}): hash ${hash}, revision ${revision}, ${totalKey} keys; SHA-256 trailer ok`,
  );
  log(
    `uploaded ${target} (${uploaded.value.size} bytes, ${uploaded.value.parts ? `${uploaded.value.parts} parts` : "one PUT"}) in ${seconds(t0)}s from the start of the save`,
  );
  fs.rmSync(dbPath, { force: true });
  return {
    key,
    member,
    clusterId: (await probed).clusterId,
    etcdVersion,
    snapshotTime,
    time: new Date().toISOString(),
    dbSize,
    dbSha256: raw.sha256,
    hash,
    revision,
    totalKey,
    frames: compressor.frames,
    ...uploaded.value,
  };
}

/** What landed must be what was sent: size, SSE-KMS with this key, S3's own SHA-256 of it. */
async function verifyObject(
  /** @type {JobConfig} */ cfg,
  /** @type {RunState} */ state,
  /** @type {Snapshot} */ snap,
) {
  const s3 = /** @type {S3} */ (state.s3);
  const target = `s3://${cfg.bucket}/${snap.key}`;
  state.step = "verifying the uploaded object";
  const h = await s3.head(cfg.bucket, snap.key, { checksum: true });
  if (!h) throw new JobError(`cannot read back ${target}: it is not there`);
  if (h.size !== snap.size)
    throw new JobError(`uploaded object ${target} has ${h.size} bytes, expected ${snap.size}`);
  if (h.sse !== "aws:kms")
    throw new JobError(
      `uploaded object ${target} is not SSE-KMS encrypted (ServerSideEncryption=${clean(h.sse ?? "none", 20)})`,
    );
  if (cfg.kmsKeyId.startsWith("arn:") && h.kmsKeyId && h.kmsKeyId !== cfg.kmsKeyId)
    throw new JobError(`uploaded object ${target} is encrypted with another KMS key than KMS_KEY_ID`);
  const checks = ["size", "SSE-KMS"];
  if (h.checksumSha256 !== undefined) {
    // S3 reports a multipart object's checksum as "<base64>-<parts>"; some stores leave out the suffix.
    const [theirs, theirParts] = h.checksumSha256.split("-");
    const [ours, ourParts] = snap.checksumSha256.split("-");
    if (theirs !== ours || (theirParts !== undefined && theirParts !== ourParts))
      throw new JobError(`the SHA-256 S3 computed of ${target} differs from the SHA-256 of the bytes sent`);
    checks.push("the SHA-256 S3 computed on receipt");
  }
  if (cfg.verifyDownload) {
    const hash = crypto.createHash("sha256");
    const size = await s3.getTo(cfg.bucket, snap.key, (c) => hash.update(c));
    if (size !== snap.size || hash.digest("hex") !== snap.sha256)
      throw new JobError(`the downloaded copy of ${target} does not match sha256 ${snap.sha256}`);
    checks.push("a downloaded copy's SHA-256");
  }
  log(`verified: ${checks.join(", ")}`);
}

/** The per-snapshot record a restore starts from; the marker repeats it. */
function manifestOf(/** @type {JobConfig} */ cfg, /** @type {Snapshot} */ s) {
  return {
    format: 2,
    compression: COMPRESSION,
    blockBytes: BLOCK_BYTES,
    bucket: cfg.bucket,
    key: s.key,
    manifestKey: `${s.key}.manifest.json`,
    size: s.size,
    sha256: s.sha256,
    checksumSha256: s.checksumSha256,
    parts: s.parts,
    frames: s.frames,
    dbSize: s.dbSize,
    dbSha256: s.dbSha256,
    hash: s.hash,
    revision: s.revision,
    totalKey: s.totalKey,
    member: s.member,
    clusterId: s.clusterId,
    etcdVersion: s.etcdVersion,
    encryptionKeys: cfg.encryptionKeys,
    snapshotTime: s.snapshotTime,
    time: s.time,
  };
}

const jsonHeaders = (/** @type {JobConfig} */ cfg) => ({
  "x-amz-server-side-encryption": "aws:kms",
  "x-amz-server-side-encryption-aws-kms-key-id": cfg.kmsKeyId,
  "content-type": "application/json",
});

/**
 * Moves `<prefix>latest.json` to this snapshot unless it names a later one.
 * @returns {Promise<number>} the exit status
 */
async function moveMarker(
  /** @type {JobConfig} */ cfg,
  /** @type {RunState} */ state,
  /** @type {Snapshot} */ snap,
  /** @type {object} */ manifest,
) {
  const s3 = /** @type {S3} */ (state.s3);
  const markerKey = `${cfg.prefix}latest.json`;
  const target = `s3://${cfg.bucket}/${snap.key}`;
  const marker = `s3://${cfg.bucket}/${markerKey}`;
  state.step = "reading the latest marker";
  const ok = () => log(`OK ${target} size=${snap.size} revision=${snap.revision} sha256=${snap.sha256}`);
  const current = await s3.getSmall(cfg.bucket, markerKey, 1024 * 1024);
  /** @type {{ revision?: unknown, time?: unknown, snapshotTime?: unknown } | undefined} */
  let named;
  try {
    named = current ? JSON.parse(current.toString("utf8")) : undefined;
  } catch {
    log(`the marker ${marker} is not JSON; replacing it`);
  }
  const namedRevision =
    typeof named?.revision === "number" && Number.isSafeInteger(named.revision) ? named.revision : undefined;
  if (namedRevision !== undefined && namedRevision > snap.revision) {
    const when = Date.parse(String(named?.snapshotTime ?? named?.time ?? ""));
    if (Number.isFinite(when) && when > Date.parse(snap.snapshotTime)) {
      log(
        `kept the marker: it names a snapshot taken after this one (revision ${namedRevision} > ${snap.revision})`,
      );
      ok();
      return EXIT.ok;
    }
    throw new JobError(
      `snapshot ${target} is stored and verified, but the marker ${marker} names revision ${namedRevision}, taken before this snapshot ` +
        `at revision ${snap.revision}: the store's revision went back (a restore), so the marker would never move again; ` +
        `point it at this snapshot with: secure-etcd snapshot-marker --stack <stack> --from ${target}` +
        ` (the stack, or --stack-file, that deploys this cluster)`,
      EXIT.markerBehind,
    );
  }
  state.step = "updating the latest marker";
  try {
    await s3.put(cfg.bucket, markerKey, Buffer.from(`${JSON.stringify(manifest)}\n`), jsonHeaders(cfg));
  } catch (e) {
    throw new JobError(
      `snapshot ${target} is uploaded and verified, but the marker ${marker} could not be updated (${messageOf(e)})`,
    );
  }
  log(`marker ${marker} -> ${snap.key}`);
  ok();
  return EXIT.ok;
}

/** @param {JobConfig} cfg @param {RunState} state @returns {Promise<number>} */
async function run(cfg, state) {
  state.step = "preparing the work directory";
  for (const [name, file] of [
    ["ETCD_CACERT", cfg.cacert],
    ["ETCD_CERT", cfg.cert],
    ["ETCD_KEY", cfg.key],
  ])
    try {
      fs.accessSync(file, fs.constants.R_OK);
    } catch {
      throw new JobError(`cannot read ${file} (${name}: the backup client CA/cert/key)`, EXIT.config);
    }
  try {
    state.workDir = fs.mkdtempSync(path.join(cfg.workDir, "etcd-snapshot."));
    fs.chmodSync(state.workDir, 0o700);
  } catch (e) {
    const code = /** @type {NodeJS.ErrnoException} */ (e).code;
    throw new JobError(
      `WORK_DIR ${cfg.workDir} is not a writable directory (${code})`,
      code === "ENOSPC" ? EXIT.noSpace : EXIT.config,
    );
  }
  state.client = new HttpClient({
    readTimeoutMs: cfg.readTimeoutMs,
    connectTimeoutMs: cfg.connectTimeoutMs,
    maxSockets: cfg.partsInFlight + 4,
  });
  state.s3 = new S3({
    region: cfg.region,
    endpoint: cfg.s3Endpoint,
    client: state.client,
    credentials: credentialChain(process.env, state.client, cfg.region),
  });
  log(
    `s3: ${cfg.s3Endpoint ?? `region ${cfg.region}`}, parts of ${cfg.partBytes} bytes, ${cfg.partsInFlight} at a time; brotli quality ${cfg.quality} on ${cfg.threads} threads`,
  );

  const stamp = new Date().toISOString().replace(/[-:]|\.\d{3}/g, "");
  const runId = crypto.randomBytes(4).toString("hex");
  const failures = [];
  /** @type {Snapshot | undefined} */
  let snap;
  for (const ep of cfg.endpoints) {
    const label = ep.name ?? ep.url;
    try {
      snap = await snapshotFrom(cfg, state, ep, stamp, runId);
      break;
    } catch (e) {
      if (!(e instanceof MemberError)) throw e;
      const note = await discard(state);
      if (e.noSpace)
        throw new JobError(
          `no space left in WORK_DIR ${cfg.workDir} while saving from ${label}: it must hold the whole snapshot (${e.message})${note}`,
          EXIT.noSpace,
        );
      log(`skipping ${label}: ${e.message}${note}`);
      failures.push(`${label}: ${e.message}`);
    }
  }
  if (!snap) throw new JobError(`no member produced a verified snapshot (${failures.join("; ")})`);
  await verifyObject(cfg, state, snap);
  const manifest = manifestOf(cfg, snap);
  state.step = "writing the manifest";
  await /** @type {S3} */ (state.s3).put(
    cfg.bucket,
    manifest.manifestKey,
    Buffer.from(`${JSON.stringify(manifest, null, 1)}\n`),
    {
      ...jsonHeaders(cfg),
      "if-none-match": "*",
    },
  );
  log(`manifest s3://${cfg.bucket}/${manifest.manifestKey}`);
  state.verified = true;
  return moveMarker(cfg, state, snap, manifest);
}

/** @param {unknown} e */
function messageOf(e) {
  return e instanceof Error ? clean(e.message, 300) : clean(String(e), 300);
}

/**
 * Leaves nothing that looks complete: aborts an unfinished multipart upload; deletes an object that may
 * have been written, or (the writer role may not delete) overwrites it with an empty failed marker.
 * @param {RunState} state
 * @returns {Promise<string>} what was done, for the reason line ("" when nothing was there)
 */
async function discard(state) {
  const upload = state.upload;
  const s3 = state.s3;
  state.upload = undefined;
  if (!upload || !s3) return "";
  const target = `s3://${state.bucket}/${upload.o.key}`;
  if (!upload.mayExist) {
    try {
      await upload.abort();
      return "";
    } catch (e) {
      return `; could not abort the multipart upload of ${target} (${messageOf(e)}; the bucket's lifecycle rule removes it after a day)`;
    }
  }
  try {
    if (!(await s3.head(state.bucket, upload.o.key))) return "";
  } catch (e) {
    return `; could not check whether a partial object ${target} exists (${messageOf(e)})`;
  }
  try {
    await s3.delete(state.bucket, upload.o.key);
    return `; removed the unverified object ${target}`;
  } catch (e) {
    const why = messageOf(e);
    try {
      await s3.put(state.bucket, upload.o.key, Buffer.alloc(0), {
        "x-amz-server-side-encryption": "aws:kms",
        "x-amz-server-side-encryption-aws-kms-key-id": state.kmsKeyId,
        "x-amz-meta-snapshot-status": "failed",
      });
      return `; could not delete the unverified object ${target} (${why}), overwrote it with an empty object marked snapshot-status=failed`;
    } catch (e2) {
      return `; WARNING: the unverified object ${target} could not be removed (${why}; ${messageOf(e2)})`;
    }
  }
}

async function main() {
  /** @type {JobConfig} */
  let cfg;
  try {
    cfg = readConfig(process.env);
  } catch (e) {
    if (!(e instanceof ConfigProblem)) throw e;
    process.stderr.write(`snapshot: FAILED: ${messageOf(e)}\n`);
    return EXIT.config;
  }
  /** @type {RunState} */
  const state = { step: "starting", bucket: cfg.bucket, kmsKeyId: cfg.kmsKeyId, verified: false };
  /** @type {(sig: string) => void} */
  let onSignal = () => undefined;
  const interrupted = new Promise((_, reject) => {
    onSignal = (sig) => reject(new JobError(`interrupted by ${sig} while ${state.step}`));
  });
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) process.once(sig, () => onSignal(sig));
  try {
    return await Promise.race([run(cfg, state), interrupted]);
  } catch (e) {
    killChildren();
    const exitCode = e instanceof JobError ? e.exitCode : EXIT.failed;
    let reason =
      e instanceof JobError
        ? e.message
        : e instanceof AwsError || e instanceof MemberError
          ? `${e.message} (while ${state.step})`
          : `unexpected error while ${state.step}: ${messageOf(e)}`;
    if (!state.verified) reason += await discard(state);
    process.stderr.write(`snapshot: FAILED: ${reason.replace(/[\r\n\t]+/g, " ")}\n`);
    return exitCode;
  } finally {
    state.client?.close();
    if (state.workDir) fs.rmSync(state.workDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  // Whatever happens, one FAILED line and a documented status: never a stack trace.
  process.on("uncaughtException", (e) => {
    process.stderr.write(`snapshot: FAILED: unexpected error: ${messageOf(e)}\n`);
    process.exit(EXIT.failed);
  });
  main().then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`snapshot: FAILED: unexpected error: ${messageOf(e)}\n`);
      process.exit(EXIT.failed);
    },
  );
}

module.exports = { EXIT };
