/**
 * kubectl against one kube-apiserver (`--server`, the fleet's admin kubeconfig): what the drills do to a
 * cluster, they do the way an operator does it. Objects go in on stdin (never in argv); reads of many
 * objects are one `kubectl get` whose per-object errors (the apiserver's own words) are kept by object.
 */
import { run, type RunResult } from "../tools/shared/process";
import { cleanEnv } from "./process";

/** The two resources the package encrypts by default, as kubectl and etcd keys name them. */
export type DataResource = "secrets" | "configmaps";

export interface DataObject {
  resource: DataResource;
  namespace: string;
  name: string;
  /** Plain values (kubectl base64-encodes a Secret's `data`). */
  data: Record<string, string>;
}

/** `secrets/ns/name`: how the drills name an object (its etcd key without /registry/). */
export const objectId = (o: { resource: string; namespace: string; name: string }) =>
  `${o.resource}/${o.namespace}/${o.name}`;

export class KubectlError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly result: RunResult,
  ) {
    super(
      `kubectl ${args.slice(0, 2).join(" ")} failed (exit ${result.code ?? result.signal}): ${result.stderr.trim().slice(-600)}`,
    );
    this.name = "KubectlError";
  }
}

export interface ReadBack {
  /** id → the object's data as read back (decoded). */
  found: Map<string, Record<string, string>>;
  /** id → what the apiserver answered instead (e.g. `Internal error occurred: StorageError: corrupt object, …`). */
  errors: Map<string, string>;
  /** Error lines that name no requested object. */
  other: string[];
}

export class Kubectl {
  constructor(
    readonly binary: string,
    readonly kubeconfig: string,
    readonly server: string,
  ) {}

  run(args: readonly string[], o: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    return run(
      this.binary,
      [`--kubeconfig=${this.kubeconfig}`, `--server=${this.server}`, "--request-timeout=30s", ...args],
      { env: cleanEnv({ KUBECONFIG: this.kubeconfig }), input: o.input, timeoutMs: o.timeoutMs ?? 90_000 },
    );
  }

  async ok(args: readonly string[], o: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    const r = await this.run(args, o);
    if (r.code !== 0) throw new KubectlError(args, r);
    return r;
  }

  /** `kubectl create -f -` of Namespaces, Secrets and ConfigMaps in one List. */
  async create(objects: readonly (DataObject | { namespace: string })[]): Promise<RunResult> {
    return this.createManifests(objects.map(manifest));
  }

  /** `kubectl create -f -` of any manifests, in one List. */
  async createManifests(items: readonly object[]): Promise<RunResult> {
    return this.ok(["create", "-f", "-", "-o", "name"], {
      input: JSON.stringify({ apiVersion: "v1", kind: "List", items }),
    });
  }

  /**
   * Reads each object by name (one GET per object, straight from etcd), all of one namespace in one
   * kubectl. An object the apiserver cannot read is an entry in `errors`, with its own message.
   */
  async readEach(
    namespace: string,
    ids: readonly { resource: DataResource; name: string }[],
  ): Promise<ReadBack> {
    const out: ReadBack = { found: new Map(), errors: new Map(), other: [] };
    if (ids.length === 0) return out;
    const args = [
      "get",
      "-n",
      namespace,
      "-o",
      "json",
      ...ids.map((i) => `${singular[i.resource]}/${i.name}`),
    ];
    const r = await this.run(args, { timeoutMs: 180_000 });
    if (r.timedOut) throw new KubectlError(args, r);
    const text = r.stdout.trim();
    if (text) {
      const doc = JSON.parse(text) as KubeDoc & { items?: KubeDoc[] };
      for (const item of doc.kind === "List" ? (doc.items ?? []) : [doc]) {
        const resource = item.kind === "Secret" ? "secrets" : "configmaps";
        const data = item.data ?? {};
        out.found.set(
          objectId({ resource, namespace, name: item.metadata.name }),
          resource === "secrets" ? decodeValues(data) : data,
        );
      }
    }
    for (const line of r.stderr.split("\n").filter((l) => l.trim())) {
      const id = errorObject(line, namespace);
      if (id) out.errors.set(id, line.replace(/^Error from server \([A-Za-z]+\): /, ""));
      else out.other.push(line);
    }
    return out;
  }

  /** The runbook's rewrite: `kubectl get <resources> -A -o json | kubectl replace -f -`; returns how many were replaced. */
  async rewriteAll(resources: readonly string[]): Promise<number> {
    const got = await this.ok(["get", resources.join(","), "-A", "-o", "json"], { timeoutMs: 180_000 });
    const replaced = await this.ok(["replace", "-f", "-", "-o", "name"], {
      input: got.stdout,
      timeoutMs: 180_000,
    });
    return replaced.stdout.split("\n").filter((l) => l.trim()).length;
  }
}

interface KubeDoc {
  kind: string;
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
}

const singular: Record<DataResource, string> = { secrets: "secret", configmaps: "configmap" };

function manifest(o: DataObject | { namespace: string }): object {
  if (!("resource" in o)) return { apiVersion: "v1", kind: "Namespace", metadata: { name: o.namespace } };
  const metadata = { name: o.name, namespace: o.namespace };
  return o.resource === "secrets"
    ? { apiVersion: "v1", kind: "Secret", metadata, type: "Opaque", stringData: o.data }
    : { apiVersion: "v1", kind: "ConfigMap", metadata, data: o.data };
}

const decodeValues = (data: Record<string, string>) =>
  Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));

/**
 * The object an error line of `kubectl get` is about: a storage error names its key (`Key: /secrets/ns/x`,
 * with or without the /registry prefix), a NotFound names the resource and the name.
 */
function errorObject(line: string, namespace: string): string | undefined {
  const key = /Key: (?:\/registry)?\/(secrets|configmaps)\/([^/\s,]+)\/([^\s,]+),/.exec(line);
  if (key) return objectId({ resource: key[1], namespace: key[2], name: key[3] });
  const missing = /\((NotFound)\): (secrets|configmaps) "([^"]+)" not found/.exec(line);
  if (missing) return objectId({ resource: missing[2], namespace, name: missing[3] });
  return undefined;
}
