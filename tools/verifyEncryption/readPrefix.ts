/**
 * Reads every key under a prefix in pages (`etcdctl get START END --limit N -w json`), all pages at the
 * revision of the first one, so a scan of 10k+ objects is one consistent view (as kube-apiserver's
 * chunked LIST is) and no single response has to hold them all. Values arrive base64 in the JSON.
 */
import { etcdctlOk, type EtcdctlConnection } from "./etcdctl";

export interface StoredKv {
  key: string;
  value: Buffer;
  modRevision: number;
}

export interface Page {
  /** The revision every page is read at. */
  revision: number;
  kvs: StoredKv[];
}

export interface ReadPrefixOptions {
  /** Keys per etcdctl call (default 500, kube-apiserver's usual LIST chunk). At least 2. */
  pageSize?: number;
  /** Read at this revision (default: the current one, fixed by the first page). */
  revision?: number;
}

interface GetJson {
  header?: { revision?: number | string };
  kvs?: { key: string; value?: string; mod_revision?: number | string }[];
  more?: boolean;
}

/** The first key after every key that starts with `prefix` (etcd's `--prefix` range end). */
export function prefixRangeEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, "utf8");
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i] < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i] += 1;
      return end.toString("utf8");
    }
  }
  throw new Error(`prefix ${JSON.stringify(prefix)} has no range end`);
}

/** Pages of the keys under `prefix`, in key order. */
export async function* readPrefix(
  c: EtcdctlConnection,
  prefix: string,
  o: ReadPrefixOptions = {},
): AsyncGenerator<Page> {
  const pageSize = o.pageSize ?? 500;
  if (!Number.isInteger(pageSize) || pageSize < 2) throw new Error(`page size must be ≥ 2, got ${pageSize}`);
  const end = prefixRangeEnd(prefix);
  let revision = o.revision;
  let start = prefix;
  let first = true;
  for (;;) {
    // After the first page, start AT the last key seen (argv cannot carry the `key\0` that would start
    // right after it) and ask for one more, dropping the repeat.
    const limit = first ? pageSize : pageSize + 1;
    const args = ["get", start, end, `--limit=${limit}`, "-w", "json"];
    if (revision !== undefined) args.push(`--rev=${revision}`);
    const r = await etcdctlOk(c, args);
    const json = JSON.parse(r.stdout) as GetJson;
    revision ??= Number(json.header?.revision ?? 0);
    let kvs = (json.kvs ?? []).map((kv): StoredKv => ({
      key: Buffer.from(kv.key, "base64").toString("utf8"),
      value: Buffer.from(kv.value ?? "", "base64"),
      modRevision: Number(kv.mod_revision ?? 0),
    }));
    if (!first && kvs[0]?.key === start) kvs = kvs.slice(1);
    // The first page is yielded even when empty: it fixes the revision for the caller's next reads.
    if (kvs.length > 0 || first) yield { revision, kvs };
    const last = kvs[kvs.length - 1]?.key;
    if (!json.more || last === undefined) return;
    if (last.includes("\0"))
      throw new Error(`key ${JSON.stringify(last)} contains NUL; etcdctl cannot page past it`);
    start = last;
    first = false;
  }
}
