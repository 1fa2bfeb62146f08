// @ts-check
/**
 * The snapshot job's side of etcd: which member answers (health, status, name), `etcdctl snapshot save`
 * with its output read back as it is written, and `snapshot status` of the saved file. etcdctl and
 * etcdutl are the ones the init containers copied out of the etcd image; they run without a shell.
 */
"use strict";

const { spawn } = require("node:child_process");
const fs = require("node:fs");

/** A member that could not give a snapshot; the job tries the next one. `noSpace`: WORK_DIR is full. */
class MemberError extends Error {
  /** @param {string} message @param {{ noSpace?: boolean }} [o] */
  constructor(message, o = {}) {
    super(message);
    this.noSpace = o.noSpace ?? false;
  }
}

/** Printable, one line, clipped: a tool's own error text, before it goes in a message. */
const oneLine = (/** @type {string} */ s, max = 200) =>
  (
    s
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean)
      .pop() ?? ""
  )
    .replace(/[^\x20-\x7e]+/g, " ")
    .slice(0, max);

/** @typedef {{ code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }} Ran */

/** Children still running, so a signal can stop them. */
/** @type {Set<import("node:child_process").ChildProcess>} */
const children = new Set();

/**
 * Runs a command to completion (no shell), killing it after `timeoutMs`.
 * @param {string} cmd @param {string[]} args @param {{ env: NodeJS.ProcessEnv, timeoutMs: number }} o
 * @returns {Promise<Ran & { timedOut: boolean }>}
 */
function run(cmd, args, o) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: o.env, stdio: ["ignore", "pipe", "pipe"] });
    children.add(child);
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, o.timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code: 127, signal: null, stdout, stderr: `cannot run ${cmd}: ${e.message}`, timedOut });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

function killChildren() {
  for (const c of children) c.kill("SIGKILL");
}

/**
 * @typedef {{ etcdctl: string, etcdutl: string, statusTool: "etcdutl" | "etcdctl", cacert: string, cert: string,
 *   key: string, dialTimeout: string, commandTimeout: string, snapshotTimeoutMs: number, env: NodeJS.ProcessEnv }} EtcdOptions
 */

/** @param {EtcdOptions} o @param {string} endpoint */
const tlsArgs = (o, endpoint) => [
  `--endpoints=${endpoint}`,
  `--cacert=${o.cacert}`,
  `--cert=${o.cert}`,
  `--key=${o.key}`,
  `--dial-timeout=${o.dialTimeout}`,
];

/**
 * Health (a quorum read), status (member id, cluster id, version) and the member's name, at once.
 * @param {EtcdOptions} o
 * @param {string} endpoint
 * @param {string | undefined} givenName
 * @returns {Promise<{ member: string, clusterId: string, serverVersion: string }>}
 */
async function probeMember(o, endpoint, givenName) {
  const ctl = (/** @type {string[]} */ args) =>
    run(o.etcdctl, [...tlsArgs(o, endpoint), `--command-timeout=${o.commandTimeout}`, ...args], {
      env: o.env,
      timeoutMs: 60_000,
    });
  const [health, status, members] = await Promise.all([
    ctl(["endpoint", "health"]),
    ctl(["endpoint", "status", "-w", "json"]),
    givenName ? Promise.resolve(undefined) : ctl(["member", "list", "-w", "json"]),
  ]);
  if (health.code !== 0)
    throw new MemberError(`not healthy (${oneLine(health.stderr) || `etcdctl exited ${health.code}`})`);
  // uint64 ids do not survive JSON.parse: read them as digits.
  const memberId = /"member_id":(\d+)/.exec(status.stdout)?.[1];
  const clusterId = /"cluster_id":(\d+)/.exec(status.stdout)?.[1] ?? "";
  const serverVersion = /"version":"(\d+\.\d+\.\d+)"/.exec(status.stdout)?.[1] ?? "";
  let name = givenName;
  if (!name && memberId && members?.code === 0) {
    for (const m of members.stdout.matchAll(/"ID":(\d+),"name":"([^"\\]*)"/g))
      if (m[1] === memberId) name = m[2];
  }
  if (!name) name = new URL(endpoint).hostname.replace(/^\[|\]$/g, "");
  return { member: name.replace(/[^A-Za-z0-9._-]/g, "-"), clusterId, serverVersion };
}

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/**
 * `etcdctl snapshot save DB`, handing every byte to `onChunk` while etcdctl writes it (it writes DB.part
 * and renames it when done): the save, the hashing, the compression and the upload run together.
 * The file is read straight into buffers of `blockBytes` (the compressor's block), each handed over
 * whole once full — never copied — and the last one as far as it got.
 * Resolves with the byte count once etcdctl exited 0 and the file is read to its end.
 * @param {EtcdOptions} o
 * @param {string} endpoint
 * @param {string} dbPath
 * @param {(chunk: Buffer) => Promise<void>} onChunk  owns the buffer it is given
 * @param {number} blockBytes
 * @param {AbortSignal} [signal] stops the save (the member's health check failed meanwhile)
 */
async function saveAndFollow(o, endpoint, dbPath, onChunk, blockBytes, signal) {
  const child = spawn(o.etcdctl, [...tlsArgs(o, endpoint), "snapshot", "save", dbPath], {
    env: o.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  const onAbort = () => child.kill("SIGKILL");
  signal?.addEventListener("abort", onAbort);
  let stderr = "";
  child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-8192)));
  child.stdout.resume();
  /** @type {{ code: number | null, signal: NodeJS.Signals | null, error?: string } | undefined} */
  let exit;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, o.snapshotTimeoutMs);
  child.on("error", (e) => (exit = { code: 127, signal: null, error: e.message }));
  child.on("close", (code, signal) => {
    clearTimeout(timer);
    children.delete(child);
    exit ??= { code, signal };
  });
  const failed = () => {
    if (signal?.aborted) return new MemberError("the snapshot save was stopped");
    if (timedOut)
      return new MemberError(
        `snapshot save took longer than ETCD_SNAPSHOT_TIMEOUT=${o.snapshotTimeoutMs / 1000}s`,
      );
    const why = exit?.error ?? oneLine(stderr) ?? "";
    return new MemberError(
      `snapshot save failed (${why || `etcdctl exited ${exit?.code ?? exit?.signal}`})`,
      {
        noSpace: /no space left on device/i.test(stderr),
      },
    );
  };
  /** @type {number | undefined} */
  let fd;
  try {
    const part = `${dbPath}.part`;
    while (fd === undefined) {
      try {
        fd = fs.openSync(part, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
      } catch (e) {
        if (/** @type {NodeJS.ErrnoException} */ (e).code !== "ENOENT") throw e;
        if (exit) {
          if (exit.code === 0 && fs.existsSync(dbPath))
            fd = fs.openSync(dbPath, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
          else throw failed();
        } else if (signal?.aborted) throw failed();
        else await sleep(10);
      }
    }
    let block = Buffer.allocUnsafe(blockBytes);
    let filled = 0;
    let offset = 0;
    for (;;) {
      if (signal?.aborted) throw failed();
      const wasDone = exit !== undefined;
      const n = fs.readSync(fd, block, filled, block.length - filled, offset);
      if (n > 0) {
        offset += n;
        filled += n;
        if (filled === block.length) {
          await onChunk(block);
          block = Buffer.allocUnsafe(blockBytes);
          filled = 0;
        }
        continue;
      }
      // Nothing new: done only if etcdctl had exited before this read found the end.
      if (wasDone) break;
      await sleep(15);
    }
    if (filled) await onChunk(block.subarray(0, filled));
    if (exit?.code !== 0) throw failed();
    if (offset === 0) throw new MemberError("snapshot save wrote no data");
    const final = fs.statSync(dbPath).size;
    if (final !== offset)
      throw new MemberError(
        `the saved snapshot has ${final} bytes, ${offset} were read while it was written`,
      );
    return offset;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
    if (!exit) child.kill("SIGKILL");
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * `snapshot status -w json` of the saved file: bolt's own consistency as etcd reads it.
 * @param {EtcdOptions} o @param {string} dbPath
 * @returns {Promise<{ hash: number, revision: number, totalKey: number }>}
 */
async function snapshotStatus(o, dbPath) {
  const tool = o.statusTool === "etcdutl" ? o.etcdutl : o.etcdctl;
  const r = await run(tool, ["snapshot", "status", dbPath, "-w", "json"], {
    env: { ...o.env, ETCDCTL_API: "3" },
    timeoutMs: 30 * 60_000,
  });
  if (r.code !== 0)
    throw new MemberError(
      `${o.statusTool} snapshot status rejected the snapshot (${oneLine(r.stderr) || `exit ${r.code}`})`,
    );
  const num = (/** @type {string} */ k) => {
    const m = new RegExp(`"${k}":(\\d+)`).exec(r.stdout);
    return m ? Number(m[1]) : undefined;
  };
  const hash = num("hash");
  const revision = num("revision");
  const totalKey = num("totalKey");
  // Never quote what it printed: it is read from the snapshot.
  if (hash === undefined || revision === undefined || totalKey === undefined)
    throw new MemberError(`${o.statusTool} snapshot status printed no usable hash/revision/totalKey`);
  return { hash, revision, totalKey };
}

module.exports = { MemberError, probeMember, saveAndFollow, snapshotStatus, killChildren, oneLine };
