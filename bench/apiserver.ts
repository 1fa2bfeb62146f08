/**
 * Issue 20's last figure: Secret writes through the real kube-apiserver (v1.37.2, the flags the package
 * renders, harness/kubeApiserver.ts) with each encryption provider ÷ identity, throughput and p99.
 *
 * One component-TLS etcd (bench/etcdServers.ts, pinned to CPU 0 like the mTLS section) and one
 * kube-apiserver, restarted per run with an EncryptionConfiguration rendered by the package's own renderer
 * (components/encryption) whose single primary key is of the provider: secretbox, aescbc, aesgcm, or kms
 * v2 (the KMS v2 test plugin with the command components/kms renders, against moto's KMS); the other keys
 * follow as readers so each start can read earlier runs' Secrets (benchEncryptionConfig). The baseline,
 * identity, writes unencrypted (`identity: {}` first). Each run creates `namespace`, writes a warm-up, then `secrets`
 * Secrets of `valueBytes` random bytes, `concurrency` POSTs in flight over kept-alive TLS connections with
 * the admin client cert; throughput is Secrets / wall time, latency is request → 201. The providers take
 * turns (ABCDE, EDCBA, …) so the ratios come from one machine state; the figures are medians over runs.
 * Every run reads one of its Secrets raw from etcd and fails unless it is stored as its provider writes
 * (`k8s:enc:<provider>:v1:<key>:`, `k8s:enc:kms:v2:<key>:`, or unencrypted protobuf for identity).
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { CreateKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { parse, stringify } from "yaml";
import { defaults } from "../components/config/constants";
import { defaultKmsPluginImage } from "../components/kms/constants";
import { envelopeEncryptionContext } from "../components/kms/naming";
import { kmsPluginPlans } from "../components/kms/plan";
import { kmsPluginCommand } from "../components/kms/pluginManifest";
import { adminAgent, createNamespace, postSecret } from "../harness/apiserverWrites";
import { encryptionConfigFor, freshKey, storedPrefix, type AnyDrillKey } from "../harness/encryptionKeys";
import { startKmsPlugin, type RunningKmsPlugin } from "../harness/kmsPlugin";
import { startKubeApiservers, type KubeApiserverFleet } from "../harness/kubeApiserver";
import { layout } from "../harness/layout";
import { startMoto, type MotoServer } from "../harness/moto";
import { startComponentTls, type BenchEtcd } from "./etcdServers";
import { cpuSeconds, loadWindow, type LoadWindow } from "./load";
import { clientFor } from "./loadgen";
import { median, msSince, now, percentile, round, sideBySide } from "./stats";

export const apiserverProviders = ["identity", "secretbox", "aescbc", "aesgcm", "kms"] as const;
export type BenchProvider = (typeof apiserverProviders)[number];

const ETCD_CPU = "0";

export interface ProviderRun {
  secretsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  seconds: number;
  /** kube-apiserver CPU time (user + system, /proc) per measured Secret: steadier than wall time here. */
  apiserverCpuMicrosPerSecret: number;
  /** The machine meanwhile (all tenants). */
  load: LoadWindow;
  /** What the first measured Secret's value in etcd starts with. */
  storedPrefix: string;
}

export interface ProviderFigures {
  /** Medians over the runs. */
  secretsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  apiserverCpuMicrosPerSecret: number;
  /** Throughput ÷ identity's (higher is better); p99 and apiserver CPU per Secret ÷ identity's (lower is better). */
  throughputRatio: number;
  p99Ratio: number;
  cpuRatio: number;
  storedPrefix: string;
  runs: ProviderRun[];
}

export interface ApiserverResult {
  measured: true;
  kubeApiserver: string;
  etcd: string;
  /** The provider a stack writes with unless it says otherwise (components/config). */
  defaultProvider: BenchProvider;
  runs: number;
  secretsPerRun: number;
  warmup: number;
  concurrency: number;
  valueBytes: number;
  pinning: { etcd: string; apiserver: string; client: string };
  /** The harness's changes to the rendered kube-apiserver and kms plugin command lines. */
  remaps: string[];
  providers: Record<BenchProvider, ProviderFigures>;
}

export interface ApiserverOptions {
  workDir: string;
  runs: number;
  secrets: number;
  warmup: number;
  concurrency: number;
  valueBytes: number;
  log: (line: string) => void;
}

/** Medians per provider and their ratios to identity's (pure). */
export function providerFigures(
  samples: Record<BenchProvider, ProviderRun[]>,
): Record<BenchProvider, ProviderFigures> {
  const figures = (runs: ProviderRun[]) => ({
    secretsPerSec: round(median(runs.map((r) => r.secretsPerSec)), 1),
    p50Ms: round(median(runs.map((r) => r.p50Ms))),
    p99Ms: round(median(runs.map((r) => r.p99Ms))),
    apiserverCpuMicrosPerSecret: round(median(runs.map((r) => r.apiserverCpuMicrosPerSecret)), 0),
  });
  const base = figures(samples.identity);
  return Object.fromEntries(
    apiserverProviders.map((p) => {
      const f = figures(samples[p]);
      return [
        p,
        {
          ...f,
          throughputRatio: round(f.secretsPerSec / base.secretsPerSec, 3),
          p99Ratio: round(f.p99Ms / base.p99Ms, 3),
          cpuRatio: round(f.apiserverCpuMicrosPerSecret / base.apiserverCpuMicrosPerSecret, 3),
          storedPrefix: samples[p][0]?.storedPrefix ?? "",
          runs: samples[p],
        },
      ];
    }),
  ) as Record<BenchProvider, ProviderFigures>;
}

/**
 * The configuration for `primary` (a key, or identity): every apiserver start must read what earlier runs
 * stored, so the other keys follow as readers (retired) and identity comes last — or, for the identity
 * baseline, first: the renderer's output with the `identity: {}` entry moved to the front (it refuses a
 * configuration without a primary key). Writes use the first provider only.
 */
export function benchEncryptionConfig(
  keys: readonly AnyDrillKey[],
  primary: AnyDrillKey | "identity",
  resources: readonly string[],
): string {
  const first = primary === "identity" ? keys[0] : primary;
  const states = Object.fromEntries(keys.map((k) => [k.name, k === first ? "primary" : "retired"] as const));
  const yaml = encryptionConfigFor(keys, states, resources, true);
  if (primary !== "identity") return yaml;
  const doc = parse(yaml) as { resources: { providers: Record<string, unknown>[] }[] };
  for (const r of doc.resources) {
    const identity = r.providers.filter((p) => "identity" in p);
    r.providers = [...identity, ...r.providers.filter((p) => !("identity" in p))];
  }
  return stringify(doc);
}

/** Moto's KMS, one AWS key, and the KMS v2 plugin started with the command the package renders. */
async function startKms(
  workDir: string,
  host: string,
  clusterName: string,
  environment: string,
): Promise<{ moto: MotoServer; plugin: RunningKmsPlugin; key: AnyDrillKey; remaps: string[] }> {
  const region = "us-east-1";
  const moto = await startMoto({ workDir: path.join(workDir, "moto"), region });
  try {
    const made = await new KMSClient({ ...moto.clientConfig(), region }).send(
      new CreateKeyCommand({ Description: "secure-etcd bench envelope key" }),
    );
    const name = "bench-kms";
    const [plan] = kmsPluginPlans([
      { name, state: "primary", provider: "kms", endpoint: "unix:///var/run/kmsplugin/bench-kms.sock" },
    ]);
    const command = kmsPluginCommand({
      plan,
      keyArn: made.KeyMetadata!.Arn!,
      region,
      image: defaultKmsPluginImage,
      encryptionContext: envelopeEncryptionContext(clusterName, environment),
    });
    const plugin = await startKmsPlugin({
      command,
      host,
      socketDir: path.join(workDir, "kmsplugin"),
      kmsEndpoint: moto.endpoint,
      workDir: path.join(workDir, "logs"),
      env: moto.env(),
      name: "kms-plugin-bench",
    });
    const key = { name, provider: "kms" as const, endpoint: `unix://${plugin.socketPaths[0]}` };
    return { moto, plugin, key, remaps: plugin.remaps };
  } catch (e) {
    await moto.stop();
    throw e;
  }
}

/** What the first bytes of a stored Secret say: the encryption prefix, or unencrypted protobuf. */
export function prefixOf(value: Buffer): string {
  const text = value.toString("latin1");
  const m = /^k8s:enc:[a-z]+:v[12]:[^:]+:/.exec(text);
  if (m) return m[0];
  return text.startsWith("k8s\u0000")
    ? "k8s\\x00 (protobuf, not encrypted)"
    : JSON.stringify(text.slice(0, 20));
}

/** `n` POSTs, `concurrency` in flight; the latencies in ms and the wall time in s. */
async function writeSecrets(
  post: (name: string, value: Buffer) => Promise<number>,
  label: string,
  n: number,
  concurrency: number,
  valueBytes: number,
): Promise<{ latencies: number[]; seconds: number; names: string[] }> {
  const values = Array.from({ length: n }, () => randomBytes(valueBytes));
  const names = values.map((_, i) => `${label}-${String(i).padStart(5, "0")}`);
  const latencies: number[] = [];
  let next = 0;
  const t0 = now();
  const worker = async () => {
    for (let i = next++; i < n; i = next++) latencies.push(await post(names[i], values[i]));
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return { latencies, seconds: msSince(t0) / 1000, names };
}

export async function runApiserver(o: ApiserverOptions): Promise<ApiserverResult> {
  fs.mkdirSync(o.workDir, { recursive: true, mode: 0o700 });
  const etcd: BenchEtcd = await startComponentTls(o.workDir, "ECDSA-P256", { cpus: ETCD_CPU });
  let fleet: KubeApiserverFleet | undefined;
  let kms: Awaited<ReturnType<typeof startKms>> | undefined;
  const dir = etcd.artifactsDir!;
  const settings = etcd.settings!;
  const raw = clientFor({
    ...etcd,
    tls: {
      ca: layout.caCert(dir),
      cert: layout.client(dir, "apiserver-etcd-client", "crt"),
      key: layout.client(dir, "apiserver-etcd-client", "key"),
    },
  });
  try {
    fleet = await startKubeApiservers({
      dir,
      settings,
      workDir: path.join(o.workDir, "apiserver"),
      addresses: [etcd.ip],
      startNow: 0,
      log: o.log,
    });
    const [server] = fleet.servers;
    kms = await startKms(o.workDir, etcd.ip, settings.clusterName, settings.environment);
    const resources = settings.encryption.resources;
    const keys: Record<Exclude<BenchProvider, "identity">, AnyDrillKey> = {
      secretbox: freshKey("bench-secretbox", "secretbox"),
      aescbc: freshKey("bench-aescbc", "aescbc"),
      aesgcm: freshKey("bench-aesgcm", "aesgcm"),
      kms: kms.key,
    };
    const all = Object.values(keys);
    const configFor = (p: BenchProvider) =>
      benchEncryptionConfig(all, p === "identity" ? "identity" : keys[p], resources);
    const expected = (p: BenchProvider) =>
      p === "identity" ? "k8s\\x00 (protobuf, not encrypted)" : storedPrefix(keys[p]);
    let version = "";
    const samples = await sideBySide(o.runs, apiserverProviders, async (p, run): Promise<ProviderRun> => {
      server.writeEncryptionConfig(configFor(p));
      await server.start();
      const agent = adminAgent(fleet!.pki, o.concurrency);
      try {
        version ||= await fleet!.version();
        const ns = `bench-${p}-${run}`;
        await createNamespace(agent, server, ns);
        const post = (name: string, value: Buffer) => postSecret(agent, server, ns, name, value);
        await writeSecrets(post, "warm", o.warmup, o.concurrency, o.valueBytes);
        const window = loadWindow();
        const cpu0 = cpuSeconds(server.pid);
        const w = await writeSecrets(post, "s", o.secrets, o.concurrency, o.valueBytes);
        const cpu1 = cpuSeconds(server.pid);
        const load = window();
        if (cpu0 === undefined || cpu1 === undefined)
          throw new Error(`${p} run ${run + 1}: no CPU time for ${server.name}`);
        const got = await raw.get(`/registry/secrets/${ns}/${w.names[0]}`).buffer();
        const stored = got ? prefixOf(got) : "(missing)";
        if (stored !== expected(p))
          throw new Error(
            `${p} run ${run + 1}: ${ns}/${w.names[0]} is stored as ${stored}, expected ${expected(p)}`,
          );
        const r: ProviderRun = {
          secretsPerSec: round(o.secrets / w.seconds, 1),
          p50Ms: round(percentile(w.latencies, 50)),
          p99Ms: round(percentile(w.latencies, 99)),
          seconds: round(w.seconds, 3),
          apiserverCpuMicrosPerSecret: round(((cpu1 - cpu0) * 1e6) / o.secrets, 0),
          load,
          storedPrefix: stored,
        };
        o.log(
          `apiserver ${p} run ${run + 1}: ${r.secretsPerSec} Secrets/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, ` +
            `apiserver CPU ${r.apiserverCpuMicrosPerSecret} µs/Secret, load ${load.loadStart}, stored as ${stored}`,
        );
        return r;
      } finally {
        agent.destroy();
        await server.stop();
      }
    });
    return {
      measured: true,
      kubeApiserver: version,
      etcd: `${etcd.release.version} (component mTLS, ECDSA-P256)`,
      defaultProvider: defaults.encryptionProvider as BenchProvider,
      runs: o.runs,
      secretsPerRun: o.secrets,
      warmup: o.warmup,
      concurrency: o.concurrency,
      valueBytes: o.valueBytes,
      pinning: {
        etcd: `taskset -c ${ETCD_CPU}`,
        apiserver: "not pinned",
        client: "not pinned (this process)",
      },
      remaps: [...fleet.remaps, ...kms.remaps],
      providers: providerFigures(samples),
    };
  } finally {
    raw.close();
    await fleet?.stop();
    await kms?.plugin.stop();
    await kms?.moto.stop();
    await etcd.stop();
  }
}
