/**
 * One kube-apiserver's storage layer, as far as encryption at rest goes: objects are written to etcd at
 * Kubernetes' keys in Kubernetes' stored format through this server's EncryptionConfiguration. Writes
 * use the FIRST provider of the resource's entry (identity = plaintext; aesgcm authenticates the etcd
 * key), reads try every provider in order (harness/encryptionFormat implements both, byte-exact).
 * The etcd connection is etcdctl with a client cert, values on stdin.
 */
import {
  parseEncryptionConfiguration,
  resolveProviders,
  type ParsedEncryptionConfig,
} from "../encryptionFormat/config";
import { decryptStoredValue, encryptStoredValue } from "../encryptionFormat/storedValue";
import { classifyStoredValue, storedValueLabel } from "../../components/encryption/classifyStoredValue";
import { etcdctlOk, type EtcdctlConnection } from "../../tools/verifyEncryption/etcdctl";
import { defaultEtcdPrefix, objectKey, resourcePrefix } from "../../tools/verifyEncryption/objectKeys";
import { readPrefix } from "../../tools/verifyEncryption/readPrefix";
import {
  created,
  decodeObject,
  encodeObject,
  type KubeObject,
  type KubeResource,
  type ObjectInput,
} from "./objects";

/** A stored object this server cannot read: the etcd key and kube-apiserver's reason. */
export class UnreadableObjectError extends Error {
  constructor(
    readonly server: string,
    readonly key: string,
    readonly reason: string,
  ) {
    super(`${server} cannot read ${key}: ${reason}`);
    this.name = "UnreadableObjectError";
  }
}

export interface ApiServerStorageOptions {
  /** e.g. apiserver-1: named in every error. */
  name: string;
  /** The EncryptionConfiguration YAML (what --encryption-provider-config points at). */
  encryptionConfig: string;
  etcd: EtcdctlConnection;
  /** kube-apiserver's --etcd-prefix (default /registry). */
  etcdPrefix?: string;
}

export interface WriteResult {
  key: string;
  /** How the value was stored: `secretbox/key-1`, `plaintext`, … (from its prefix). */
  storedAs: string;
}

export interface ReadEvery {
  objects: KubeObject[];
  unreadable: UnreadableObjectError[];
}

export class ApiServerStorage {
  readonly name: string;
  readonly etcd: EtcdctlConnection;
  readonly etcdPrefix: string;
  private config: ParsedEncryptionConfig;
  private configText: string;

  constructor(o: ApiServerStorageOptions) {
    this.name = o.name;
    this.etcd = o.etcd;
    this.etcdPrefix = o.etcdPrefix ?? defaultEtcdPrefix;
    this.config = parseEncryptionConfiguration(o.encryptionConfig);
    this.configText = o.encryptionConfig;
  }

  /** The EncryptionConfiguration in force. */
  get encryptionConfig(): string {
    return this.configText;
  }

  /**
   * "Restart with a new EncryptionConfiguration": kube-apiserver reads the file only at start. A file it
   * cannot load keeps it from starting; here that throws and the old configuration stays in force.
   */
  restart(encryptionConfig: string): void {
    this.config = parseEncryptionConfiguration(encryptionConfig);
    this.configText = encryptionConfig;
  }

  key(resource: KubeResource, namespace: string, name: string): string {
    return objectKey({ resource, namespace, name }, this.etcdPrefix);
  }

  /** Create or update (last writer wins: the drills' writers never share an object). */
  async put(input: ObjectInput | KubeObject): Promise<WriteResult> {
    const obj = created(input);
    const key = this.key(obj.resource, obj.namespace, obj.name);
    const stored = this.seal(obj.resource, key, encodeObject(obj));
    await etcdctlOk(this.etcd, ["put", key], { stdin: stored });
    return { key, storedAs: storedValueLabel(classifyStoredValue(stored)) };
  }

  /** Throws UnreadableObjectError when this server's providers cannot read the stored value. */
  async get(resource: KubeResource, namespace: string, name: string): Promise<KubeObject> {
    const key = this.key(resource, namespace, name);
    const r = await etcdctlOk(this.etcd, ["get", key, "-w", "json"]);
    const kv = (JSON.parse(r.stdout) as { kvs?: { value?: string }[] }).kvs?.[0];
    if (!kv) throw new Error(`${this.name}: ${key} not found`);
    return this.open(resource, key, Buffer.from(kv.value ?? "", "base64"));
  }

  /** Every object of a resource (in one namespace, or all); one that cannot be read fails the list. */
  async list(resource: KubeResource, namespace?: string): Promise<KubeObject[]> {
    const all = await this.readEvery(resource, namespace);
    if (all.unreadable.length > 0)
      throw new Error(`list ${resource} failed: ${all.unreadable.map((u) => u.message).join("; ")}`);
    return all.objects;
  }

  /** Reads every object, collecting the unreadable ones instead of stopping at the first. */
  async readEvery(resource: KubeResource, namespace?: string): Promise<ReadEvery> {
    const out: ReadEvery = { objects: [], unreadable: [] };
    const prefix = `${resourcePrefix(resource, this.etcdPrefix)}${namespace === undefined ? "" : `${namespace}/`}`;
    for await (const page of readPrefix(this.etcd, prefix))
      for (const kv of page.kvs) {
        try {
          out.objects.push(this.open(resource, kv.key, kv.value));
        } catch (e) {
          if (!(e instanceof UnreadableObjectError)) throw e;
          out.unreadable.push(e);
        }
      }
    return out;
  }

  /**
   * `kubectl get <resource> -A -o json | kubectl replace -f -`: read every object, then write each back
   * through the current first provider. Like `kubectl get`, one unreadable object stops it before any write.
   */
  async rewrite(resource: KubeResource, namespace?: string): Promise<WriteResult[]> {
    const objects = await this.list(resource, namespace);
    const out: WriteResult[] = [];
    for (const o of objects) out.push(await this.put(o));
    return out;
  }

  /** Deletes every object of `resource` in `namespace`; returns how many keys went. */
  async deleteAll(resource: KubeResource, namespace: string): Promise<number> {
    const r = await etcdctlOk(this.etcd, [
      "del",
      "--prefix",
      `${resourcePrefix(resource, this.etcdPrefix)}${namespace}/`,
    ]);
    return Number(r.stdout.trim() || 0);
  }

  /** The bytes kube-apiserver would store for `payload` at `key`. */
  seal(resource: KubeResource, key: string, payload: Buffer): Buffer {
    const first = resolveProviders(this.config, resource)?.[0];
    if (first === undefined || first.type === "identity") return payload;
    if (first.type === "kms")
      throw new Error(
        `${this.name}: ${resource} are written with kms provider "${first.name}", which needs its KMS plugin`,
      );
    const k = first.keys[0];
    return encryptStoredValue({
      provider: first.type,
      keyName: k.name,
      key: k.secret,
      plaintext: payload,
      dataContext: key,
    });
  }

  /** Decrypts and decodes a stored value, or throws UnreadableObjectError naming the key and why. */
  open(resource: KubeResource, key: string, stored: Buffer): KubeObject {
    try {
      return decodeObject(resource, decryptStoredValue(this.config, resource, stored, key).plaintext);
    } catch (e) {
      throw new UnreadableObjectError(this.name, key, (e as Error).message);
    }
  }
}
