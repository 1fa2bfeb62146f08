/**
 * Several API servers (one ApiServerStorage each, each on its own etcd endpoint and with its own
 * EncryptionConfiguration) writing into one namespace, with what a rolling rotation needs: rounds of
 * interleaved writes, one-at-a-time restarts, and the check that every server reads every object back.
 */
import { randomBytes } from "node:crypto";
import type { EtcdctlConnection } from "../../tools/verifyEncryption/etcdctl";
import { ApiServerStorage, type UnreadableObjectError, type WriteResult } from "./apiServerStorage";
import type { KubeResource, ObjectInput } from "./objects";

export interface FleetOptions {
  servers: { name: string; etcd: EtcdctlConnection }[];
  encryptionConfig: string;
  namespace: string;
  resources: readonly KubeResource[];
}

export interface WrittenObject {
  /** The etcd key. */
  key: string;
  input: ObjectInput;
  by: string;
  /** How it is stored now (provider/key): updated when a rewrite stores it again. */
  storedAs: string;
}

export interface ServerReads {
  server: string;
  read: number;
  unreadable: UnreadableObjectError[];
  /** Keys written but not listed, or read back with other data. */
  wrong: string[];
}

export interface ReadCheck {
  objects: number;
  perServer: ServerReads[];
  ok: boolean;
}

export class Fleet {
  readonly servers: ApiServerStorage[];
  readonly written = new Map<string, WrittenObject>();
  private round = 0;

  constructor(readonly o: FleetOptions) {
    this.servers = o.servers.map(
      (s) => new ApiServerStorage({ name: s.name, etcd: s.etcd, encryptionConfig: o.encryptionConfig }),
    );
  }

  server(name: string): ApiServerStorage {
    const s = this.servers.find((x) => x.name === name);
    if (!s) throw new Error(`no API server ${name}`);
    return s;
  }

  /** Each server in turn writes one new object per resource (the interleaving a rolling restart sees). */
  async writeRound(only?: readonly string[]): Promise<WrittenObject[]> {
    this.round++;
    const out: WrittenObject[] = [];
    for (const s of this.servers.filter((x) => !only || only.includes(x.name)))
      for (const resource of this.o.resources)
        out.push(await this.write(s, resource, `r${this.round}-${s.name}`));
    return out;
  }

  async write(s: ApiServerStorage, resource: KubeResource, name: string): Promise<WrittenObject> {
    const input: ObjectInput = {
      resource,
      namespace: this.o.namespace,
      name,
      data: { value: `drill-${randomBytes(9).toString("hex")}` },
    };
    const w = await s.put(input);
    const record = { key: w.key, input, by: s.name, storedAs: w.storedAs };
    this.written.set(w.key, record);
    return record;
  }

  /** `server` rewrites every object of the namespace; the record of how each is stored follows. */
  async rewrite(server: ApiServerStorage): Promise<WriteResult[]> {
    const out: WriteResult[] = [];
    for (const r of this.o.resources) out.push(...(await server.rewrite(r, this.o.namespace)));
    for (const w of out) {
      const rec = this.written.get(w.key);
      if (rec) rec.storedAs = w.storedAs;
    }
    return out;
  }

  /** Every server lists every resource in the namespace; each object must decrypt to what was written. */
  async checkReads(servers: readonly ApiServerStorage[] = this.servers): Promise<ReadCheck> {
    const perServer = await Promise.all(servers.map((s) => this.readsOf(s)));
    const ok = perServer.every((p) => p.unreadable.length === 0 && p.wrong.length === 0);
    return { objects: this.written.size, perServer, ok };
  }

  private async readsOf(s: ApiServerStorage): Promise<ServerReads> {
    const r: ServerReads = { server: s.name, read: 0, unreadable: [], wrong: [] };
    const seen = new Set<string>();
    for (const resource of this.o.resources) {
      const all = await s.readEvery(resource, this.o.namespace);
      r.unreadable.push(...all.unreadable);
      all.unreadable.forEach((u) => seen.add(u.key));
      for (const obj of all.objects) {
        const key = s.key(resource, obj.namespace, obj.name);
        seen.add(key);
        r.read++;
        if (this.written.get(key)?.input.data.value !== obj.data.value) r.wrong.push(key);
      }
    }
    for (const key of this.written.keys()) if (!seen.has(key)) r.wrong.push(key);
    return r;
  }

  /** Deletes every object of the namespace; returns how many keys went. */
  async deleteAll(): Promise<number> {
    let n = 0;
    for (const resource of this.o.resources) n += await this.servers[0].deleteAll(resource, this.o.namespace);
    return n;
  }
}

/** `apiserver-2 cannot read secrets/ns/x (reason)` lines, or "" when every server read everything. */
export function describeReadProblems(c: ReadCheck, max = 6): string {
  const lines = c.perServer.flatMap((p) => [
    ...p.unreadable.map((u) => `${p.server} cannot read ${u.key} (${u.reason})`),
    ...p.wrong.map((k) => `${p.server} did not get back ${k} as written`),
  ]);
  return lines.length <= max
    ? lines.join("; ")
    : `${lines.slice(0, max).join("; ")}; … ${lines.length - max} more`;
}
