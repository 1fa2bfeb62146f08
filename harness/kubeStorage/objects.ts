/**
 * The payload inside the envelope: a v1 Secret or ConfigMap serialized as JSON, exactly what
 * kube-apiserver stores with `--storage-media-type=application/json` (json.Encoder output, so with a
 * trailing newline). Why JSON and not the protobuf (`k8s\x00` magic + runtime.Unknown) kube-apiserver
 * writes by default: its storage decoder recognizes both for built-in types, the encryption layer
 * never looks inside the payload (the ciphertext and prefix are the same either way), and JSON needs no
 * hand-written protobuf encoder of ObjectMeta that nothing here could check against the real one.
 */
import { randomUUID } from "node:crypto";

export type KubeResource = "secrets" | "configmaps";
export const kubeResources: readonly KubeResource[] = ["secrets", "configmaps"];

export interface ObjectInput {
  resource: KubeResource;
  namespace: string;
  name: string;
  /** Secret: the decoded values (stored base64, as `data` is); ConfigMap: `data` as is. */
  data: Record<string, string>;
}

export interface KubeObject extends ObjectInput {
  uid: string;
  creationTimestamp: string;
}

const kinds: Record<KubeResource, string> = { secrets: "Secret", configmaps: "ConfigMap" };
/** What kube-apiserver's protobuf storage serializer puts first; this harness writes and reads JSON. */
const protobufMagic = Buffer.from("k8s\x00", "latin1");

/** Fills what the API server sets on create (uid, creationTimestamp) unless the object already has it. */
export function created(o: ObjectInput | KubeObject): KubeObject {
  return {
    ...o,
    uid: "uid" in o ? o.uid : randomUUID(),
    creationTimestamp:
      "creationTimestamp" in o ? o.creationTimestamp : new Date().toISOString().replace(/\.\d+Z$/, "Z"),
  };
}

export function encodeObject(o: KubeObject): Buffer {
  const metadata = {
    name: o.name,
    namespace: o.namespace,
    uid: o.uid,
    creationTimestamp: o.creationTimestamp,
  };
  const doc =
    o.resource === "secrets"
      ? {
          kind: kinds.secrets,
          apiVersion: "v1",
          metadata,
          data: mapValues(o.data, (v) => Buffer.from(v).toString("base64")),
          type: "Opaque",
        }
      : { kind: kinds.configmaps, apiVersion: "v1", metadata, data: o.data };
  return Buffer.from(`${JSON.stringify(doc)}\n`, "utf8");
}

export function decodeObject(resource: KubeResource, payload: Buffer): KubeObject {
  if (payload.subarray(0, protobufMagic.length).equals(protobufMagic))
    throw new Error("protobuf payload (kube-apiserver's default media type); this harness decodes JSON only");
  const doc = JSON.parse(payload.toString("utf8")) as {
    kind?: string;
    metadata?: { name?: string; namespace?: string; uid?: string; creationTimestamp?: string };
    data?: Record<string, string>;
  };
  if (doc.kind !== kinds[resource])
    throw new Error(`payload is a ${doc.kind ?? "?"}, expected ${kinds[resource]}`);
  const m = doc.metadata ?? {};
  const data = doc.data ?? {};
  return {
    resource,
    namespace: m.namespace ?? "",
    name: m.name ?? "",
    uid: m.uid ?? "",
    creationTimestamp: m.creationTimestamp ?? "",
    data: resource === "secrets" ? mapValues(data, (v) => Buffer.from(v, "base64").toString("utf8")) : data,
  };
}

function mapValues(r: Record<string, string>, f: (v: string) => string): Record<string, string> {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, f(v)]));
}
