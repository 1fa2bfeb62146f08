/**
 * Where kube-apiserver keeps objects in etcd: `<etcd-prefix>/<resource>/<namespace>/<name>` for
 * namespaced resources, `<etcd-prefix>/<resource>/<name>` for cluster-scoped ones (etcd-prefix is
 * kube-apiserver's --etcd-prefix, default /registry). Used to name objects without reading values.
 */

export const defaultEtcdPrefix = "/registry";

export interface ObjectRef {
  resource: string;
  /** Absent for cluster-scoped objects. */
  namespace?: string;
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

/** The object a key under `resourcePrefix(resource)` stores. */
export function objectRefOf(key: string, resource: string, etcdPrefix = defaultEtcdPrefix): ObjectRef {
  const base = resourcePrefix(resource, etcdPrefix);
  if (!key.startsWith(base)) throw new Error(`${key} is not under ${base}`);
  const rest = key.slice(base.length);
  const slash = rest.indexOf("/");
  return slash < 0
    ? { resource, name: rest }
    : { resource, namespace: rest.slice(0, slash), name: rest.slice(slash + 1) };
}

/** `default/db-password` (or just the name when cluster-scoped). */
export const objectName = (r: ObjectRef) => (r.namespace === undefined ? r.name : `${r.namespace}/${r.name}`);
