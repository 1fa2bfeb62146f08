/**
 * What the real-apiserver drills write and check: Secrets and ConfigMaps created with kubectl through a
 * given apiserver, remembered with their values; read back through every apiserver (one GET per object,
 * straight from etcd, each error in the apiserver's own words); and read raw from etcd with etcdctl to
 * see which prefix protects each (the prefix only: never a value).
 */
import { randomBytes } from "node:crypto";
import type { KubeApiserver } from "../../harness/kubeApiserver";
import { sleep } from "../../harness/process";
import { objectId, type DataObject, type DataResource } from "../../harness/kubectl";
import { classifyStoredValue } from "../../components/encryption/classifyStoredValue";
import type { EtcdctlConnection } from "../../tools/verifyEncryption/etcdctl";
import { resourcePrefix } from "../../tools/verifyEncryption/objectKeys";
import { readPrefix } from "../../tools/verifyEncryption/readPrefix";

export interface Written extends DataObject {
  id: string;
  /** The apiserver that wrote it. */
  by: string;
}

export interface ServerReads {
  server: string;
  /** Objects read back with the value written. */
  read: number;
  /** id → the apiserver's error for it. */
  errors: Map<string, string>;
  /** Objects read back with other data, missing without an error, or errors naming no object. */
  wrong: string[];
}

/** The prefix of a stored value, as a drill may quote it: never a byte of the value after it. */
export function quotedPrefix(value: Buffer): string {
  const c = classifyStoredValue(value);
  if (c.encrypted) return `k8s:enc:${c.provider}:${c.version}:${c.keyName}:`;
  if (value.subarray(0, 4).equals(Buffer.from("k8s\x00", "latin1"))) return "k8s\\x00 (protobuf: plaintext)";
  return value[0] === 0x7b ? "{ (JSON: plaintext)" : "(no k8s:enc: prefix: plaintext)";
}

export class DrillData {
  readonly written = new Map<string, Written>();
  private n = 0;

  constructor(
    readonly namespace: string,
    readonly resources: readonly DataResource[],
  ) {}

  /** Creates the namespace through `server`. */
  async createNamespace(server: KubeApiserver): Promise<void> {
    await server.kubectl.create([{ namespace: this.namespace }]);
  }

  /** `server` creates one object of each resource (or of those given); remembered once kubectl says created. */
  async write(server: KubeApiserver, label = "w", resources = this.resources): Promise<Written[]> {
    const i = this.n++;
    const objects: Written[] = resources.map((resource) => {
      const o = {
        resource,
        namespace: this.namespace,
        name: `${label}-${String(i).padStart(4, "0")}-${server.name}`,
        data: { value: `drill-${randomBytes(9).toString("hex")}` },
      };
      return { ...o, id: objectId(o), by: server.name };
    });
    await server.kubectl.create(objects);
    for (const o of objects) this.written.set(o.id, o);
    return objects;
  }

  /** Every written object through `server`: each must come back with its value. */
  async readAll(server: KubeApiserver): Promise<ServerReads> {
    const all = [...this.written.values()];
    const r = await server.kubectl.readEach(this.namespace, all);
    const out: ServerReads = { server: server.name, read: 0, errors: r.errors, wrong: [...r.other] };
    for (const w of all) {
      const got = r.found.get(w.id);
      if (got?.value === w.data.value) out.read++;
      else if (got) out.wrong.push(`${w.id} came back with other data`);
      else if (!r.errors.has(w.id)) out.wrong.push(`${w.id} missing without an error`);
    }
    return out;
  }

  /** id → the stored value's quoted prefix, read raw from etcd (every object of the namespace). */
  async storedPrefixes(etcd: EtcdctlConnection): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const resource of this.resources) {
      const prefix = `${resourcePrefix(resource)}${this.namespace}/`;
      for await (const page of readPrefix(etcd, prefix))
        for (const kv of page.kvs)
          out.set(
            objectId({ resource, namespace: this.namespace, name: kv.key.slice(prefix.length) }),
            quotedPrefix(kv.value),
          );
    }
    return out;
  }
}

/** `apiserver-2 cannot read secrets/ns/x: <its error>` lines (at most `max`), or "" when all read all. */
export function describeReads(reads: readonly ServerReads[], max = 4): string {
  const lines = reads.flatMap((r) => [
    ...[...r.errors].map(([id, e]) => `${r.server} cannot read ${id}: ${e}`),
    ...r.wrong.map((w) => `${r.server}: ${w}`),
  ]);
  return lines.length <= max
    ? lines.join("; ")
    : `${lines.slice(0, max).join("; ")}; … ${lines.length - max} more`;
}

export const allRead = (reads: readonly ServerReads[]) =>
  reads.every((r) => r.errors.size === 0 && r.wrong.length === 0);

/**
 * Runs `step` while `writers` keep writing: round after round (at least one), each writer creates one
 * object (secrets and configmaps in turn), a pause between rounds so the drill's reads stay small.
 * Every write must succeed.
 */
export async function whileWriting<T>(
  data: DrillData,
  writers: readonly KubeApiserver[],
  step: Promise<T>,
  pauseMs = 1000,
): Promise<{ result: T; writes: Written[] }> {
  let done = false;
  const writes: Written[] = [];
  const loop = async () => {
    for (let round = 0; round === 0 || !done; round++) {
      const resource = data.resources[round % data.resources.length];
      const wrote = await Promise.all(writers.map((s) => data.write(s, "w", [resource])));
      writes.push(...wrote.flat());
      if (!done) await sleep(pauseMs);
    }
  };
  const [stepped, wrote] = await Promise.allSettled([step.finally(() => (done = true)), loop()]);
  if (stepped.status === "rejected") throw stepped.reason;
  if (wrote.status === "rejected") throw wrote.reason;
  return { result: stepped.value, writes };
}
