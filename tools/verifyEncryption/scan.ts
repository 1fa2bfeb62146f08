/**
 * The verify-encryption scan: every value of the named resources, classified by its stored prefix and
 * counted per provider and key; plaintext entries and entries still under the retiring key are kept BY
 * NAME only. Values are read and dropped page by page; none is kept or returned.
 */
import {
  classifyStoredValue,
  storedValueLabel,
  type StoredValueClass,
} from "../../components/encryption/classifyStoredValue";
import type { EtcdctlConnection } from "./etcdctl";
import { defaultEtcdPrefix, objectRefOf, resourcePrefix, type ObjectRef } from "./objectKeys";
import { readPrefix } from "./readPrefix";

export interface ScanOptions {
  resources: readonly string[];
  /** kube-apiserver's --etcd-prefix (default /registry). */
  etcdPrefix?: string;
  /** Key (or kms provider) name that is about to leave the EncryptionConfiguration. */
  retiring?: string;
  pageSize?: number;
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
  retiring?: { name: string; count: number; objects: ObjectRef[] };
}

/** Reads every value of every resource once, at one revision. Throws EtcdctlError if etcd cannot be read. */
export async function scanEncryption(c: EtcdctlConnection, o: ScanOptions): Promise<ScanReport> {
  const started = process.hrtime.bigint();
  const etcdPrefix = o.etcdPrefix ?? defaultEtcdPrefix;
  const counts = new Map<string, ProviderCount>();
  const plaintext: PlaintextEntry[] = [];
  const retiring =
    o.retiring === undefined ? undefined : { name: o.retiring, count: 0, objects: [] as ObjectRef[] };
  let revision: number | undefined;
  let scanned = 0;
  let pages = 0;
  for (const resource of o.resources) {
    for await (const page of readPrefix(c, resourcePrefix(resource, etcdPrefix), {
      pageSize: o.pageSize,
      revision,
    })) {
      revision = page.revision;
      pages++;
      for (const kv of page.kvs) {
        scanned++;
        const cls = classifyStoredValue(kv.value);
        count(counts, resource, cls);
        const ref = objectRefOf(kv.key, resource, etcdPrefix);
        if (!cls.encrypted)
          plaintext.push(
            cls.reason === "unrecognized-prefix"
              ? { ...ref, note: "starts with k8s:enc: but in no form a provider writes" }
              : ref,
          );
        else if (retiring && cls.keyName === retiring.name) {
          retiring.count++;
          retiring.objects.push(ref);
        }
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
