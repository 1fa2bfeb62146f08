/**
 * Encryption at rest, proven by the real kube-apiserver: Secrets and ConfigMaps created with kubectl
 * through apiserver-1 are read raw from etcd with etcdctl and must start with the primary key's prefix
 * (`k8s:enc:secretbox:v1:<key>:` …) — with the stack's rendered EncryptionConfiguration, then with a fresh
 * key of each other local provider (aescbc, aesgcm) made primary — while a resource the configuration
 * does not list stays plaintext; `secure-etcd verify-encryption` over what the apiserver wrote must
 * agree. Details quote prefixes, never a value. The drills' stack-key objects stay (the snapshot drill
 * reads them back); each variant's objects are deleted before apiserver-1 goes back to the stack's file.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import {
  encryptionConfigFor,
  freshKey,
  localProviders,
  storedPrefix,
  type DrillKey,
  type KeyStates,
  type StackKeys,
} from "../../harness/encryptionKeys";
import { connectionFlags, type KubeApiserver, type KubeApiserverFleet } from "../../harness/kubeApiserver";
import type { DataResource } from "../../harness/kubectl";
import { layout } from "../../harness/layout";
import { encryptionConfigStatus } from "../../tools/encryptionConfigStatus/run";
import { etcdctlOk, type EtcdctlConnection } from "../../tools/verifyEncryption/etcdctl";
import { resourcePrefix } from "../../tools/verifyEncryption/objectKeys";
import { readPrefix } from "../../tools/verifyEncryption/readPrefix";
import { verifyEncryption } from "../../tools/verifyEncryption/run";
import type { ScanReport } from "../../tools/verifyEncryption/scan";
import { DrillData, quotedPrefix } from "./apiserverData";
import { clip, DrillFailure, expect, runDrill, type DrillResult } from "./types";

/** What every real-apiserver drill works with. */
export interface ApiserverDrillContext {
  /** Artifacts directory. */
  dir: string;
  fleet: KubeApiserverFleet;
  /** kube-apiserver's etcd client over every member: raw reads, verify-encryption. */
  etcd: EtcdctlConnection;
  stack: StackKeys;
  /** Everything the drills wrote: no tool's output may contain a value of it. */
  data: DrillData[];
  log: (line: string) => void;
}

/** The resources the drills write: those of secrets and configmaps the stack encrypts. */
export const drillResources = (stack: StackKeys): DataResource[] =>
  (["secrets", "configmaps"] as const).filter((r) => stack.resources.includes(r));

/** Values (and their base64) of every object written: what no output may hold. */
export const writtenValues = (sets: readonly DrillData[]) =>
  sets.flatMap((d) =>
    [...d.written.values()].flatMap((w) => [w.data.value, Buffer.from(w.data.value).toString("base64")]),
  );

export interface ToolRun {
  code: number;
  output: string;
}

/** Runs the shipped verify-encryption in-process; fails the drill if its output holds a written value. */
export async function runVerifyEncryption(
  ctx: ApiserverDrillContext,
  args: readonly string[],
): Promise<ToolRun> {
  const lines: string[] = [];
  const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
  const code = await verifyEncryption([...connectionFlags(ctx.etcd), ...args], io);
  const output = lines.join("\n");
  for (const v of writtenValues(ctx.data))
    if (output.includes(v))
      throw new DrillFailure(`verify-encryption printed a stored value (${v.length} chars)`);
  return { code, output };
}

/** Runs the shipped encryption-config-status in-process against `servers`, expecting `file` loaded. */
export async function runConfigStatus(
  fleet: KubeApiserverFleet,
  servers: readonly KubeApiserver[],
  file: string,
): Promise<ToolRun> {
  const lines: string[] = [];
  const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
  const args = [
    `--apiservers=${servers.map((s) => s.url).join(",")}`,
    `--expect=${file}`,
    `--kubeconfig=${fleet.pki.kubeconfig}`,
    `--kubectl=${fleet.kubectlBinary}`,
  ];
  return { code: await encryptionConfigStatus(args, io), output: lines.join("\n") };
}

export async function runEncryptionAtRestDrills(ctx: ApiserverDrillContext): Promise<DrillResult[]> {
  const [first] = ctx.fleet.servers;
  const stackData = newData(ctx, "drill-at-rest");
  const results = [
    await runDrill(
      `encryption at rest: kubectl writes are stored under ${storedPrefix(ctx.stack.primary)} (the stack's ${ctx.stack.primary.provider} key)`,
      () => storedUnderPrimary(ctx, first, stackData, ctx.stack.primary, 5),
    ),
  ];
  results.push(
    await runDrill(
      "encryption at rest: a resource the EncryptionConfiguration does not list stays plaintext",
      () => unlistedStaysPlaintext(ctx, first, stackData.namespace),
    ),
  );
  results.push(
    await runDrill(
      "encryption at rest: verify-encryption agrees with what the apiserver wrote (exit 0)",
      () => verifyAgrees(ctx, stackData),
    ),
  );
  for (const provider of localProviders.filter((p) => p !== ctx.stack.primary.provider))
    results.push(
      await runDrill(
        `encryption at rest: with a fresh ${provider} key primary, writes are stored under k8s:enc:${provider}:v1:<key>:`,
        () => providerVariant(ctx, first, provider),
      ),
    );
  results.push(
    await runDrill(
      "encryption at rest: apiserver-1 back on the stack's rendered EncryptionConfiguration",
      () => backOnStackConfig(ctx, first),
    ),
  );
  return results;
}

function newData(ctx: ApiserverDrillContext, label: string): DrillData {
  const d = new DrillData(`${label}-${randomBytes(3).toString("hex")}`, drillResources(ctx.stack));
  ctx.data.push(d);
  return d;
}

/** `rounds` objects of each resource through `server`; each stored under `key`'s prefix and read back. */
async function storedUnderPrimary(
  ctx: ApiserverDrillContext,
  server: KubeApiserver,
  data: DrillData,
  key: DrillKey,
  rounds: number,
): Promise<string> {
  expect(
    data.resources.length > 0,
    "the stack's EncryptionConfiguration lists neither secrets nor configmaps",
  );
  await data.createNamespace(server);
  for (let i = 0; i < rounds; i++) await data.write(server, "at-rest");
  const want = storedPrefix(key);
  const stored = await data.storedPrefixes(ctx.etcd);
  const other = [...data.written.keys()].filter((id) => stored.get(id) !== want);
  expect(
    other.length === 0,
    `${other.length} objects not stored under ${want}, e.g. ${other[0]} starts ${stored.get(other[0]) ?? "(missing from etcd)"}`,
  );
  const reads = await data.readAll(server);
  expect(
    reads.read === data.written.size,
    `read back ${reads.read} of ${data.written.size}: ${[...reads.errors.values(), ...reads.wrong][0]}`,
  );
  return (
    `${data.written.size} objects (${data.resources.join(", ")}) created with kubectl through ${server.name} in ` +
    `namespace ${data.namespace}; etcdctl get of each: every value starts ${want}; all read back through kubectl`
  );
}

async function unlistedStaysPlaintext(
  ctx: ApiserverDrillContext,
  server: KubeApiserver,
  namespace: string,
): Promise<string> {
  const resource = "serviceaccounts";
  expect(
    !ctx.stack.resources.some((r) => r === resource || r.startsWith("*.")),
    `the stack lists ${resource} (or a wildcard)`,
  );
  const name = "drill-unlisted";
  await server.kubectl.createManifests([
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace } },
  ]);
  const key = `${resourcePrefix(resource)}${namespace}/${name}`;
  const got = await etcdctlOk(ctx.etcd, ["get", key, "-w", "json"]);
  const kv = (JSON.parse(got.stdout) as { kvs?: { value: string }[] }).kvs?.[0];
  expect(kv, `${key} is not in etcd`);
  const prefix = quotedPrefix(Buffer.from(kv.value, "base64"));
  expect(!prefix.startsWith("k8s:enc:"), `${key} is encrypted (${prefix}) though no entry lists ${resource}`);
  const run = await runVerifyEncryption(ctx, [`--resources=${resource}`]);
  expect(
    run.code === 1,
    `verify-encryption --resources=${resource} exited ${run.code}, expected 1: ${clip(run.output, 300)}`,
  );
  const named = `${resource} ${namespace}/${name}`;
  expect(run.output.includes(named), `verify-encryption does not name ${named}: ${clip(run.output, 300)}`);
  return `ServiceAccount ${namespace}/${name} via kubectl: etcd holds it as ${prefix}; verify-encryption --resources=${resource} exit 1 naming "${named}"`;
}

async function verifyAgrees(ctx: ApiserverDrillContext, data: DrillData): Promise<string> {
  // A key the stack only reads with (retired, staged) encrypts nothing the apiserver wrote.
  const [readOnly] = ctx.stack.keys.filter((k) => k.name !== ctx.stack.primary.name).map((k) => k.name);
  const args = [
    "--json",
    `--resources=${data.resources.join(",")}`,
    ...(readOnly ? [`--retiring=${readOnly}`] : []),
  ];
  const run = await runVerifyEncryption(ctx, args);
  expect(run.code === 0, `verify-encryption ${args.join(" ")} exited ${run.code}: ${clip(run.output, 400)}`);
  const report = JSON.parse(run.output) as ScanReport;
  // The same count without the shipped classifier: every value of those resources, prefix compared as bytes.
  const want = Buffer.from(storedPrefix(ctx.stack.primary), "latin1");
  let raw = 0;
  let under = 0;
  for (const r of data.resources)
    for await (const page of readPrefix(ctx.etcd, resourcePrefix(r)))
      for (const kv of page.kvs) {
        raw++;
        if (kv.value.subarray(0, want.length).equals(want)) under++;
      }
  const counted = report.counts
    .filter((c) => c.keyName === ctx.stack.primary.name)
    .reduce((n, c) => n + c.count, 0);
  expect(
    report.plaintext.length === 0,
    `verify-encryption found plaintext: ${report.plaintext.map((p) => p.name).join(", ")}`,
  );
  expect(
    counted === under && under === raw && report.scanned === raw,
    `verify-encryption counts ${counted} of ${report.scanned} under ${ctx.stack.primary.name}; etcdctl reads ${under} of ${raw} starting ${want.toString("latin1")}`,
  );
  const own = raw - data.written.size;
  return (
    `exit 0 over ${report.scanned} values: ${report.counts.map((c) => `${c.resource} ${c.provider}/${c.keyName}: ${c.count}`).join(", ")}; ` +
    `the same ${under} of ${raw} start ${want.toString("latin1")} read raw with etcdctl (the drill's ${data.written.size} and ` +
    `${own} the apiserver wrote itself, e.g. kube-system/extension-apiserver-authentication); plaintext 0` +
    (readOnly ? `; --retiring ${readOnly}: 0 values` : "") +
    "; no value in the output"
  );
}

/** The stack's keys, the primary turned retired (still read), with `key` primary in front. */
function withNewPrimary(stack: StackKeys, key: DrillKey): { keys: DrillKey[]; states: KeyStates } {
  const states: Record<string, KeyStates[string]> = { [key.name]: "primary" };
  for (const k of stack.keys)
    states[k.name] = stack.states[k.name] === "primary" ? "retired" : stack.states[k.name];
  return { keys: [key, ...stack.keys], states };
}

async function providerVariant(
  ctx: ApiserverDrillContext,
  server: KubeApiserver,
  provider: (typeof localProviders)[number],
): Promise<string> {
  const key = freshKey(`at-rest-${provider}`, provider);
  const { keys, states } = withNewPrimary(ctx.stack, key);
  server.writeEncryptionConfig(
    encryptionConfigFor(keys, states, ctx.stack.resources, ctx.stack.identityFallback),
  );
  await server.restart();
  const status = await runConfigStatus(ctx.fleet, [server], server.encryptionConfig);
  expect(status.code === 0, `encryption-config-status: ${clip(status.output, 300)}`);
  const data = newData(ctx, `drill-at-rest-${provider}`);
  const stored = await storedUnderPrimary(ctx, server, data, key, 3);
  const scan = await runVerifyEncryption(ctx, ["--json", `--resources=${data.resources.join(",")}`]);
  const report = JSON.parse(scan.output) as ScanReport;
  const counted = report.counts
    .filter((c) => c.keyName === key.name && c.provider === provider)
    .reduce((n, c) => n + c.count, 0);
  expect(
    counted === data.written.size,
    `verify-encryption counts ${counted} values under ${provider}/${key.name}; the drill wrote ${data.written.size}`,
  );
  await server.kubectl.ok(["delete", data.resources.join(","), "--all", "-n", data.namespace]);
  data.written.clear();
  const gone = await runVerifyEncryption(ctx, [
    `--resources=${data.resources.join(",")}`,
    `--retiring=${key.name}`,
  ]);
  expect(
    gone.code === 0,
    `after deleting them, verify-encryption --retiring ${key.name} exited ${gone.code}: ${clip(gone.output, 300)}`,
  );
  return (
    `${server.name} restarted with ${key.name} primary (the stack's keys still read); encryption-config-status: it loaded ` +
    `${hashOf(status.output)}; ${stored}; verify-encryption counts ${counted} under ${provider}/${key.name}; deleted ` +
    `with kubectl, after which --retiring ${key.name} exits 0`
  );
}

async function backOnStackConfig(ctx: ApiserverDrillContext, server: KubeApiserver): Promise<string> {
  server.writeEncryptionConfig(fs.readFileSync(layout.encryptionConfig(ctx.dir), "utf8"));
  await server.restart();
  const status = await runConfigStatus(ctx.fleet, [server], layout.encryptionConfig(ctx.dir));
  expect(
    status.code === 0,
    `encryption-config-status --expect ${layout.encryptionConfig(ctx.dir)}: ${clip(status.output, 300)}`,
  );
  return `${server.name} restarted with the rendered file; encryption-config-status --expect it: exit 0 (${hashOf(status.output)})`;
}

/** The `sha256:…` an encryption-config-status text output names first. */
export const hashOf = (output: string) => /sha256:[0-9a-f]{64}/.exec(output)?.[0] ?? "(no hash)";
