/**
 * The verify-encryption scan: every value of the named resources, classified by its stored prefix and
 * counted per provider and key; plaintext entries and entries still under the retiring key are kept BY
 * NAME only (escaped). Values are read and dropped page by page; none is kept or returned.
 *
 * With a retiring key the scan reads every value under `<etcd-prefix>/`, not only the named resources:
 * its report is the gate for dropping that key, and a key that still encrypts anything anywhere (an
 * Event, a CRD, a resource the EncryptionConfiguration once covered) must not pass it. Values outside
 * the named resources are only looked at for that key.
 */
import {
  classifyStoredValue,
  storedValueLabel,
  type StoredValueClass,
} from "../../components/encryption/classifyStoredValue";
import type { EtcdctlConnection } from "./etcdctl";
import {
  anyObjectRefOf,
  defaultEtcdPrefix,
  objectRefOf,
  resourcePrefix,
  resourceSegmentOf,
  type ObjectRef,
} from "./objectKeys";
import { readPrefix } from "./readPrefix";

export interface ScanOptions {
  resources: readonly string[];
  /** kube-apiserver's --etcd-prefix (default /registry). */
  etcdPrefix?: string;
  /** Key (or kms provider) name that is about to leave the EncryptionConfiguration. */
  retiring?: string;
  pageSize?: number;
  /** Most etcdctl output held in memory at once (readPrefix's bound; default 64 MiB). */
  maxPageBytes?: number;
}

export interface ProviderCount {
  resource: string;
  /** aescbc, aesgcm, secretbox, kms, or plaintext. */
  provider: string;
  /** v1/v2 (kms); v1 for the local providers; absent for plaintext. */
  version?: string;
  /** Key or kms provider name; absent for plaintext. */
  keyName?: string;
  count: number;
}

export interface PlaintextEntry extends ObjectRef {
  /** Set when the value starts with k8s:enc: but in no form a provider writes. */
  note?: string;
}

export interface ScanReport {
  endpoints: readonly string[];
  etcdPrefix: string;
  resources: readonly string[];
  /** The one etcd revision every page was read at. */
  revision: number;
  scanned: number;
  pages: number;
  seconds: number;
  counts: ProviderCount[];
  plaintext: PlaintextEntry[];
  retiring?: RetiringReport;
}

export interface RetiringReport {
  name: string;
  /** Values under the key, anywhere under `<etcdPrefix>/`. */
  count: number;
  objects: ObjectRef[];
  /** Every value under `<etcdPrefix>/` was searched for the key: how many. */
  searched: number;
  /**
   * Values outside the named resources that start with `k8s:enc:` in no form a provider writes: the
   * key may encrypt them (inside the named resources they are plaintext entries), so they fail the gate.
   */
  unrecognized: ObjectRef[];
}

/**
 * Reads every value of every resource once (with a retiring key: every value under the prefix), at one
 * revision. Throws EtcdctlError or ScanError if etcd cannot be read completely.
 */
export async function scanEncryption(c: EtcdctlConnection, o: ScanOptions): Promise<ScanReport> {
  const started = process.hrtime.bigint();
  const etcdPrefix = o.etcdPrefix ?? defaultEtcdPrefix;
  const counts = new Map<string, ProviderCount>();
  const plaintext: PlaintextEntry[] = [];
  const named = new Map(o.resources.map((r) => [r, Buffer.from(r)]));
  const retiring: RetiringReport | undefined =
    o.retiring === undefined
      ? undefined
      : { name: o.retiring, count: 0, objects: [], searched: 0, unrecognized: [] };
  const ranges = retiring
    ? [`${etcdPrefix.replace(/\/+$/, "")}/`]
    : o.resources.map((r) => resourcePrefix(r, etcdPrefix));
  let revision: number | undefined;
  let scanned = 0;
  let pages = 0;
  for (const range of ranges) {
    for await (const page of readPrefix(c, range, {
      pageSize: o.pageSize,
      revision,
      maxPageBytes: o.maxPageBytes,
    })) {
      revision = page.revision;
      pages++;
      for (const kv of page.kvs) {
        const segment = resourceSegmentOf(kv.keyBytes, etcdPrefix);
        const resource = [...named].find(([, b]) => segment?.equals(b))?.[0];
        const cls = classifyStoredValue(kv.value);
        const ref = () =>
          resource === undefined
            ? anyObjectRefOf(kv.keyBytes, etcdPrefix)
            : objectRefOf(kv.keyBytes, resource, etcdPrefix);
        if (resource !== undefined) {
          scanned++;
          count(counts, resource, cls);
          if (!cls.encrypted)
            plaintext.push(
              cls.reason === "unrecognized-prefix"
                ? { ...ref(), note: "starts with k8s:enc: but in no form a provider writes" }
                : ref(),
            );
        }
        if (!retiring) continue;
        retiring.searched++;
        if (cls.encrypted && cls.keyName === retiring.name) {
          retiring.count++;
          retiring.objects.push(ref());
        } else if (resource === undefined && !cls.encrypted && cls.reason === "unrecognized-prefix")
          retiring.unrecognized.push(ref());
      }
    }
  }
  return {
    endpoints: c.endpoints,
    etcdPrefix,
    resources: o.resources,
    revision: revision ?? 0,
    scanned,
    pages,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    counts: [...counts.values()],
    plaintext,
    retiring,
  };
}

function count(counts: Map<string, ProviderCount>, resource: string, cls: StoredValueClass): void {
  const id = `${resource}\0${storedValueLabel(cls)}`;
  const entry =
    counts.get(id) ??
    (cls.encrypted
      ? { resource, provider: cls.provider, version: cls.version, keyName: cls.keyName, count: 0 }
      : { resource, provider: "plaintext", count: 0 });
  entry.count++;
  counts.set(id, entry);
}
