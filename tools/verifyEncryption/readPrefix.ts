/**
 * Reads every key under a prefix in pages, all pages at the revision of the first one, so a scan of
 * 10k+ objects is one consistent view (as kube-apiserver's chunked LIST is) and no single response has
 * to hold them all.
 *
 * Paging is on raw key bytes. Each page is one `etcdctl txn -w json` whose single `get` names its range
 * on stdin as Go-quoted byte strings (`"\x2f\x72…"`, which etcdctl's txn reader unquotes): argv (a
 * JavaScript string, sent as UTF-8) cannot carry a key that is not valid UTF-8, nor a NUL, and the next
 * page must start exactly at `last key + \0`. Every page is checked against the one before — etcd's
 * `count` is the number of keys left in the range at the fixed revision — so a key skipped, repeated,
 * out of order or outside the range fails the read (ScanError): a caller never counts less than is
 * stored. A page whose output would pass `maxPageBytes` is re-read in halves; a single key that alone
 * passes it is a PageTooLargeError. Errors name the prefix and what was wrong, never a key or a value.
 */
import { runEtcdctl, EtcdctlError, type EtcdctlConnection } from "./etcdctl";
import { escapeBytes } from "./displayText";

export interface StoredKv {
  /** The key as text (UTF-8; bytes that are not valid UTF-8 read as U+FFFD). */
  key: string;
  /** The key as stored. */
  keyBytes: Buffer;
  value: Buffer;
  modRevision: number;
}

export interface Page {
  /** The revision every page is read at. */
  revision: number;
  kvs: StoredKv[];
}

export interface ReadPrefixOptions {
  /** Keys per etcdctl call (default 500, kube-apiserver's usual LIST chunk). */
  pageSize?: number;
  /** Read at this revision (default: the current one, fixed by the first page). */
  revision?: number;
  /** Most etcdctl output held at once (default 64 MiB). */
  maxPageBytes?: number;
}

export const defaultMaxPageBytes = 64 * 1024 * 1024;

/** etcd could not be read completely, or answered in a way that cannot be trusted: nothing was verified. */
export class ScanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ScanError";
  }
}

/** One key's value alone passes the memory bound: it cannot be read, so nothing was verified. */
export class PageTooLargeError extends ScanError {
  constructor(
    readonly prefix: string,
    readonly maxPageBytes: number,
  ) {
    super(
      `a single key under ${prefix} returns more than ${mib(maxPageBytes)} (the memory bound of one page); ` +
        `nothing was verified: raise --max-page-mib if this host has the memory`,
    );
    this.name = "PageTooLargeError";
  }
}

const mib = (n: number) => `${+(n / 1024 / 1024).toFixed(2)} MiB`;

/** The first key after every key that starts with `prefix` (etcd's `--prefix` range end). */
export function prefixRangeEndBytes(prefix: Uint8Array): Buffer {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i] < 0xff) {
      const end = Buffer.from(prefix.subarray(0, i + 1));
      end[i] += 1;
      return end;
    }
  }
  throw new Error(`prefix ${escapeBytes(prefix)} has no range end`);
}

/** prefixRangeEnd of a text prefix, as text (for ASCII prefixes such as /registry/secrets/). */
export function prefixRangeEnd(prefix: string): string {
  return prefixRangeEndBytes(Buffer.from(prefix, "utf8")).toString("utf8");
}

/** Bytes as a Go double-quoted string of `\xHH` escapes: pure ASCII, one token, any byte. */
export function goQuoted(bytes: Uint8Array): string {
  let out = '"';
  for (const b of bytes) out += `\\x${b.toString(16).padStart(2, "0")}`;
  return `${out}"`;
}

/** Pages of the keys under `prefix`, in key order. */
export async function* readPrefix(
  c: EtcdctlConnection,
  prefix: string | Uint8Array,
  o: ReadPrefixOptions = {},
): AsyncGenerator<Page> {
  let limit = o.pageSize ?? 500;
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`page size must be ≥ 1, got ${limit}`);
  const maxPageBytes = o.maxPageBytes ?? defaultMaxPageBytes;
  const from = Buffer.from(prefix);
  const shown = escapeBytes(from);
  const end = prefixRangeEndBytes(from);
  let revision = o.revision;
  let start = from;
  let left: number | undefined;
  let last: Buffer | undefined;
  let first = true;
  for (let page = 1; ; page++) {
    const r = await readRange(c, { start, end, limit, revision, maxPageBytes });
    if (r === "too-large") {
      if (limit === 1) throw new PageTooLargeError(shown, maxPageBytes);
      limit = Math.ceil(limit / 2);
      page--;
      continue;
    }
    const where = `page ${page} under ${shown}`;
    revision ??= r.revision;
    const untrusted = (why: string) =>
      new ScanError(`etcd's answer for ${where} cannot be trusted (${why}); nothing was verified`);
    if (r.kvs.length > limit) throw untrusted(`${r.kvs.length} keys for a limit of ${limit}`);
    if (r.count < r.kvs.length) throw untrusted(`count ${r.count} below the ${r.kvs.length} keys returned`);
    if (r.more !== r.count > r.kvs.length)
      throw untrusted(`"more" is ${r.more} with ${r.count} keys left and ${r.kvs.length} returned`);
    if (left !== undefined && r.count !== left)
      throw untrusted(`${r.count} keys left in the range where the previous page left ${left}`);
    if (r.more && r.kvs.length === 0) throw untrusted("no key returned, yet more to come");
    for (const kv of r.kvs) {
      if (Buffer.compare(kv.keyBytes, start) < 0 || Buffer.compare(kv.keyBytes, end) >= 0)
        throw untrusted("a key outside the range asked for");
      if (last && Buffer.compare(kv.keyBytes, last) <= 0) throw untrusted("keys repeated or out of order");
      last = kv.keyBytes;
    }
    left = r.count - r.kvs.length;
    // The first page is yielded even when empty: it fixes the revision for the caller's next reads.
    if (r.kvs.length > 0 || first) yield { revision, kvs: r.kvs };
    if (!r.more) return;
    start = Buffer.concat([last!, Buffer.from([0])]);
    first = false;
  }
}

interface RangeAnswer {
  revision: number;
  kvs: StoredKv[];
  more: boolean;
  count: number;
}

interface RangeAsk {
  start: Buffer;
  end: Buffer;
  limit: number;
  revision?: number;
  maxPageBytes: number;
}

/** One page: a txn with a single get, read from stdin (compares, success ops, failure ops). */
async function readRange(c: EtcdctlConnection, a: RangeAsk): Promise<RangeAnswer | "too-large"> {
  const get = `get ${goQuoted(a.start)} ${goQuoted(a.end)} --limit=${a.limit}${a.revision === undefined ? "" : ` --rev=${a.revision}`}`;
  const args = ["txn", "-w", "json"];
  const r = await runEtcdctl(c, args, {
    stdin: Buffer.from(`\n${get}\n\n\n`),
    maxOutputBytes: a.maxPageBytes,
  });
  if (r.overflowed) return "too-large";
  if (r.code !== 0) throw new EtcdctlError(args, r);
  return parseRangeAnswer(r.stdout);
}

/** Standard padded base64 (what Go's encoding/json writes for []byte); linear on multi-MiB values. */
const isBase64 = (s: string) => s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s);

/**
 * etcdctl's txn JSON: `{header:{revision}, succeeded, responses:[{Response:{response_range:{kvs,more,
 * count}}}]}` (etcdctl 3.4 spells it `ResponseRange`; Go's omitempty drops false, zero and empty
 * fields). Anything else is a ScanError that quotes none of it: JSON.parse's own message would.
 */
export function parseRangeAnswer(stdout: string): RangeAnswer {
  const bad = (what: string) =>
    new ScanError(`etcdctl txn printed ${what} (${stdout.length} bytes, not shown); nothing was verified`);
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    throw bad("output that is not JSON");
  }
  const txn = record(json);
  const response = record(record(array(txn?.responses)?.[0])?.Response);
  const range = record(response?.response_range ?? response?.ResponseRange);
  const revision = count(record(txn?.header)?.revision);
  const kvs = range?.kvs === undefined ? [] : array(range.kvs);
  const rangeCount = range?.count === undefined ? 0 : count(range.count);
  const more = range?.more === undefined ? false : range.more;
  if (
    !txn ||
    txn.succeeded !== true ||
    array(txn.responses)?.length !== 1 ||
    !range ||
    revision === undefined ||
    revision < 1 ||
    !kvs ||
    rangeCount === undefined ||
    typeof more !== "boolean"
  )
    throw bad("JSON that is not one range response");
  return {
    revision,
    more,
    count: rangeCount,
    kvs: kvs.map((raw) => {
      const kv = record(raw);
      const value = kv?.value ?? "";
      const modRevision = count(kv?.mod_revision ?? 0);
      if (
        typeof kv?.key !== "string" ||
        !kv.key ||
        !isBase64(kv.key) ||
        typeof value !== "string" ||
        !isBase64(value) ||
        modRevision === undefined
      )
        throw bad("a key-value that is not base64 key and value");
      const keyBytes = Buffer.from(kv.key, "base64");
      return { key: keyBytes.toString("utf8"), keyBytes, value: Buffer.from(value, "base64"), modRevision };
    }),
  };
}

const record = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
const array = (v: unknown): unknown[] | undefined => (Array.isArray(v) ? v : undefined);
/** A non-negative integer, as a JSON number or (int64 in some printers) a decimal string. */
function count(v: unknown): number | undefined {
  const n = typeof v === "number" ? v : typeof v === "string" && /^\d+$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}
