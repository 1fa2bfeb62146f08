/**
 * Encryption at rest proven in the live etcd: Secrets and ConfigMaps written through the stack's
 * rendered EncryptionConfiguration (as kube-apiserver would) are what `secure-etcd verify-encryption`
 * finds encrypted; a plaintext Secret put behind the API server's back is named and fails the scan.
 * Everything the drill writes is deleted at the end.
 */
import { randomBytes } from "node:crypto";
import type { RunningCluster } from "../../harness/cluster";
import { ApiServerStorage } from "../../harness/kubeStorage/apiServerStorage";
import { created, encodeObject } from "../../harness/kubeStorage/objects";
import {
  apiserverConnection,
  connectionFlags,
  stackEncryption,
  type StackEncryption,
} from "../../harness/kubeStorage/rehearsalInputs";
import { verifyEncryption } from "../../tools/verifyEncryption/run";
import { etcdctlOk, type EtcdctlConnection } from "../../tools/verifyEncryption/etcdctl";
import type { ScanReport } from "../../tools/verifyEncryption/scan";
import { clip, DrillFailure, expect, runDrill, type DrillResult } from "./types";

export interface LiveEncryptionDrillOptions {
  /** Artifacts directory (the stack's encryption-config.yaml and client certs). */
  dir: string;
  cluster: RunningCluster;
  /** Accepted like the other live drills; this one writes only to etcd. */
  workDir: string;
  /** Objects written per resource (default 10). */
  objects?: number;
  log?: (line: string) => void;
}

export interface VerifyRun {
  code: number;
  output: string;
}

/**
 * Runs the shipped command in-process with captured output, and fails the drill if the output holds any
 * of `secrets` (the values written): verify-encryption reads values but must never print one.
 */
export async function runVerifyEncryption(
  c: EtcdctlConnection,
  extraArgs: readonly string[],
  secrets: Iterable<string>,
): Promise<VerifyRun> {
  const lines: string[] = [];
  const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
  const code = await verifyEncryption([...connectionFlags(c), ...extraArgs], io);
  const output = lines.join("\n");
  for (const s of secrets)
    if (output.includes(s))
      throw new DrillFailure(`verify-encryption printed a stored value (${s.length} chars)`);
  return { code, output };
}

export async function runLiveEncryptionDrill(o: LiveEncryptionDrillOptions): Promise<DrillResult[]> {
  const stack = stackEncryption(o.dir);
  const conn = apiserverConnection(o.dir, o.cluster.etcdctlBinary, o.cluster.clientUrls());
  const storage = new ApiServerStorage({ name: "apiserver", encryptionConfig: stack.yaml, etcd: conn });
  const namespace = `drill-live-${randomBytes(4).toString("hex")}`;
  const values: string[] = [];
  const results: DrillResult[] = [];
  o.log?.(
    `live encryption: writing into namespace ${namespace} through the stack's EncryptionConfiguration…`,
  );
  try {
    results.push(await writeThroughConfig(storage, stack, namespace, o.objects ?? 10, values));
    results.push(await scanPasses(conn, stack, values, results[0].passed));
    results.push(await plaintextNamed(storage, stack, namespace, values));
  } finally {
    const cleanup = await runDrill("live encryption: drill objects deleted from etcd", async () => {
      let n = 0;
      for (const r of stack.resources) n += await storage.deleteAll(r, namespace);
      return `${n} keys under namespace ${namespace} deleted`;
    });
    if (!cleanup.passed) results.push(cleanup);
  }
  return results;
}

function writeThroughConfig(
  s: ApiServerStorage,
  stack: StackEncryption,
  namespace: string,
  count: number,
  values: string[],
): Promise<DrillResult> {
  return runDrill("live encryption: Secrets and ConfigMaps written through the stack's config", async () => {
    expect(
      stack.resources.length > 0,
      "the stack's EncryptionConfiguration covers neither secrets nor configmaps",
    );
    const storedAs = new Map<string, number>();
    for (const resource of stack.resources)
      for (let i = 0; i < count; i++) {
        const value = `live-${randomBytes(12).toString("hex")}`;
        values.push(value, Buffer.from(value).toString("base64"));
        const w = await s.put({ resource, namespace, name: `obj-${i}`, data: { value } });
        storedAs.set(w.storedAs, (storedAs.get(w.storedAs) ?? 0) + 1);
        const back = await s.get(resource, namespace, `obj-${i}`);
        expect(back.data.value === value, `${w.key} read back with other data`);
      }
    const want = `${stack.primary.provider}/${stack.primary.keyName}`;
    expect(
      storedAs.size === 1 && storedAs.has(want),
      `expected every value under ${want}, got ${[...storedAs].map(([k, n]) => `${k}: ${n}`).join(", ")}`,
    );
    return (
      `${count} of each of ${stack.resources.join(", ")} in namespace ${namespace} via ${s.etcd.endpoints.length} ` +
      `endpoints, every value stored as ${want} and read back`
    );
  });
}

function scanPasses(
  conn: EtcdctlConnection,
  stack: StackEncryption,
  values: string[],
  wrote: boolean,
): Promise<DrillResult> {
  return runDrill("live encryption: verify-encryption finds no plaintext (exit 0)", async () => {
    expect(wrote, "not run: the objects could not be written");
    // The stack's read-only keys encrypt nothing here: every write went through the primary.
    const retiring = stack.readOnlyKeys[0]?.name;
    const args = [
      "--json",
      `--resources=${stack.resources.join(",")}`,
      ...(retiring ? [`--retiring=${retiring}`] : []),
    ];
    const run = await runVerifyEncryption(conn, args, values);
    expect(
      run.code === 0,
      `verify-encryption ${args.join(" ")} exited ${run.code}: ${clip(run.output, 400)}`,
    );
    const report = JSON.parse(run.output) as ScanReport;
    const counts = report.counts.map((c) => `${c.resource} ${c.provider}/${c.keyName ?? "-"}: ${c.count}`);
    return (
      `exit 0 over ${report.scanned} values at revision ${report.revision} in ${report.seconds.toFixed(2)} s: ` +
      `${counts.join(", ")}; plaintext 0${retiring ? `; --retiring ${retiring}: 0 values` : ""}; no value in the output`
    );
  });
}

function plaintextNamed(
  s: ApiServerStorage,
  stack: StackEncryption,
  namespace: string,
  values: string[],
): Promise<DrillResult> {
  return runDrill("live encryption: a plaintext Secret put directly is named (exit 1)", async () => {
    const value = `plain-${randomBytes(12).toString("hex")}`;
    values.push(value, Buffer.from(value).toString("base64"));
    const obj = created({
      resource: "secrets",
      namespace,
      name: "written-around-the-apiserver",
      data: { value },
    });
    // Straight into etcd, around the API server: no EncryptionConfiguration touches it.
    const key = s.key("secrets", namespace, obj.name);
    await etcdctlOk(s.etcd, ["put", key], { stdin: encodeObject(obj) });
    const run = await runVerifyEncryption(s.etcd, [`--resources=${stack.resources.join(",")}`], values);
    expect(run.code === 1, `verify-encryption exited ${run.code}, expected 1: ${clip(run.output, 400)}`);
    const named = `secrets ${namespace}/${obj.name}`;
    expect(run.output.includes(named), `the output does not name ${named}: ${clip(run.output, 400)}`);
    expect(
      /plaintext: 1\b/.test(run.output),
      `expected exactly one plaintext entry: ${clip(run.output, 400)}`,
    );
    return `etcdctl put ${key} (a JSON Secret, no k8s:enc: prefix): verify-encryption exit 1, output names "${named}", no value printed`;
  });
}
