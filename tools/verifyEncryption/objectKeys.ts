/**
 * Where kube-apiserver keeps objects in etcd: `<etcd-prefix>/<resource>/<namespace>/<name>` for
 * namespaced resources, `<etcd-prefix>/<resource>/<name>` for cluster-scoped ones (etcd-prefix is
 * kube-apiserver's --etcd-prefix, default /registry). Used to name objects without reading values.
 */
import { escapeBytes } from "./displayText";

export const defaultEtcdPrefix = "/registry";

export interface ObjectRef {
  resource: string;
  /** Absent for cluster-scoped objects. Escaped like `name`. */
  namespace?: string;
  /**
   * As escapeBytes shows the stored key's bytes: a Kubernetes name as it is, anything kube-apiserver
   * never writes (control characters, ANSI escapes, newlines, bytes that are not UTF-8) as `\xHH`.
   */
  name: string;
}

/** `/registry/secrets/` — the prefix a resource's objects share. */
export function resourcePrefix(resource: string, etcdPrefix = defaultEtcdPrefix): string {
  return `${etcdPrefix.replace(/\/+$/, "")}/${resource}/`;
}

export function objectKey(ref: ObjectRef, etcdPrefix = defaultEtcdPrefix): string {
  const base = resourcePrefix(ref.resource, etcdPrefix);
  return ref.namespace === undefined ? `${base}${ref.name}` : `${base}${ref.namespace}/${ref.name}`;
}

/** The object a key under `resourcePrefix(resource)` stores, its names escaped for display. */
export function objectRefOf(
  key: string | Uint8Array,
  resource: string,
  etcdPrefix = defaultEtcdPrefix,
): ObjectRef {
  const base = resourcePrefix(resource, etcdPrefix);
  const rest = after(Buffer.from(key), base);
  if (rest === undefined) throw new Error(`a key is not under ${base}`);
  return { resource, ...namesOf(rest) };
}

/**
 * Any key under `<etcdPrefix>/`, named as kube-apiserver lays keys out: `<resource>/…`, or
 * `<group>/<resource>/…` when the first segment has a dot (an API group: core resources have none),
 * shown `<resource>.<group>` as kubectl names it. Resource "-" for a key with no segment after the
 * prefix. Everything escaped like the names.
 */
export function anyObjectRefOf(key: Uint8Array, etcdPrefix = defaultEtcdPrefix): ObjectRef {
  const base = `${etcdPrefix.replace(/\/+$/, "")}/`;
  const rest = after(Buffer.from(key), base);
  if (rest === undefined) throw new Error(`a key is not under ${base}`);
  const slash = rest.indexOf(0x2f);
  if (slash < 0) return { resource: "-", name: escapeBytes(rest) };
  const first = rest.subarray(0, slash);
  const tail = rest.subarray(slash + 1);
  const next = tail.indexOf(0x2f);
  if (first.includes(0x2e) && next > 0)
    return {
      resource: `${escapeBytes(tail.subarray(0, next))}.${escapeBytes(first)}`,
      ...namesOf(tail.subarray(next + 1)),
    };
  return { resource: escapeBytes(first), ...namesOf(tail) };
}

/** The stored first segment after `<etcdPrefix>/` (the resource), or undefined when there is none. */
export function resourceSegmentOf(key: Uint8Array, etcdPrefix = defaultEtcdPrefix): Buffer | undefined {
  const rest = after(Buffer.from(key), `${etcdPrefix.replace(/\/+$/, "")}/`);
  const slash = rest?.indexOf(0x2f) ?? -1;
  return slash < 0 ? undefined : rest!.subarray(0, slash);
}

function after(bytes: Buffer, prefix: string): Buffer | undefined {
  const base = Buffer.from(prefix, "utf8");
  return bytes.length >= base.length && bytes.subarray(0, base.length).equals(base)
    ? bytes.subarray(base.length)
    : undefined;
}

/** `namespace/name` or `name`, each escaped. */
function namesOf(rest: Buffer): { namespace?: string; name: string } {
  const slash = rest.indexOf(0x2f);
  return slash < 0
    ? { name: escapeBytes(rest) }
    : { namespace: escapeBytes(rest.subarray(0, slash)), name: escapeBytes(rest.subarray(slash + 1)) };
}

/** `default/db-password` (or just the name when cluster-scoped). */
export const objectName = (r: ObjectRef) => (r.namespace === undefined ? r.name : `${r.namespace}/${r.name}`);
