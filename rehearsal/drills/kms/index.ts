/**
 * The KMS v2 drills (`npm run rehearse -- --stack prod`; every name starts `kms:`), on the running
 * rehearsal cluster with three real kube-apiservers, the KMS v2 test plugin with the rendered command,
 * and moto's KMS:
 *   the plugin · the stack's history secretbox → kms (writers running, verify-encryption gating the last
 *   step), Secrets stored as k8s:enc:kms:v2:<name>: on the shipped configuration · a snapshot · the
 *   plugin stopped · the key disabled · a move to a new AWS key · the extra latency of a Secret write
 *   with kms v2 against secretbox · the snapshot restored into a fresh cluster and read back.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { SecureEtcdSettings } from "../../../components/config/schema";
import { kmsPluginPlans } from "../../../components/kms/plan";
import { encryptionConfigFor, type StackKeys } from "../../../harness/encryptionKeys";
import {
  apiserverEtcdConnection,
  apiserverPort,
  startKubeApiservers,
  type KubeApiserverFleet,
} from "../../../harness/kubeApiserver";
import { layout } from "../../../harness/layout";
import { freeLoopbackAddress } from "../../../harness/process";
import { DrillData } from "../apiserverData";
import type { ApiserverDrillsOptions, ApiserverDrillsOutcome } from "../apiservers";
import { drillResources } from "../encryptionAtRest";
import { startAll } from "../rotation";
import { Sequence, type Rotation } from "../rotationSteps";
import { clip, expect, type DrillResult } from "../types";
import type { KmsDrills } from "./context";
import { historyStack, installedPluginCommand, renderedLocalKeys, startKmsEnv, type KmsEnv } from "./env";
import { runHistory } from "./history";
import { measureLatency, QUICK_WRITES_PER_CONFIG, WRITES_PER_CONFIG, type LatencyResult } from "./latency";
import { runNewKey } from "./newKey";
import { keyDisabled, pluginStopped } from "./outage";
import { restoreAndRead, takeKmsSnapshot, type KmsSnapshot } from "./readback";

/** The apiserver drills' options (the kms drills run on the same cluster and nodes), and --quick. */
export interface KmsDrillsOptions extends ApiserverDrillsOptions {
  /** --quick: the outages and the move to a new AWS key are left out (each named through `skip`). */
  quick?: boolean;
  skip?: (name: string, why: string) => void;
}

export interface KmsDrillsOutcome extends ApiserverDrillsOutcome {
  latency?: LatencyResult;
}

const asKms = (r: DrillResult): DrillResult =>
  r.name.startsWith("kms:") ? r : { ...r, name: `kms: ${r.name}` };

export async function runKmsDrills(o: KmsDrillsOptions): Promise<KmsDrillsOutcome> {
  const work = path.join(o.workDir, "kms");
  const seq = new Sequence();
  const [plan] = kmsPluginPlans(o.settings.encryption.keys);
  const firstRoot = o.nodeRoots?.[o.settings.members[0].name];
  let env: KmsEnv | undefined;
  let fleet: KubeApiserverFleet | undefined;
  let k: KmsDrills | undefined;
  let latency: LatencyResult | undefined;
  let version: string | undefined;
  try {
    await seq.step(
      `kms: the rendered plugin command (aws-encryption-provider's flags, as the node bootstrap installed it) runs and its health check round-trips Encrypt+Decrypt through KMS`,
      async () => {
        expect(plan, "the stack has no kms key in its EncryptionConfiguration");
        const rendered = installedPluginCommand(o.dir, o.settings, plan.key, firstRoot);
        const region = rendered.command.find((a) => a.startsWith("--region="))!.slice(9);
        env = await startKmsEnv({ workDir: work, region, host: o.settings.members[0].ip });
        const key = await env.addKey(plan.key, rendered.command, rendered.source);
        const plugin = await env.startPlugin(plan.key);
        const h = await plugin.health("healthz");
        expect(h.status === 200, `healthz ${h.status}: ${h.body}`);
        const calls = env.proxy.records
          .filter((r) => /TrentService/.test(r.target ?? ""))
          .map((r) => r.target);
        return (
          `${rendered.source}: ${rendered.command.join(" ")}; ran as ${plugin.args.join(" ")} (remaps listed); ` +
          `AWS key ${key.arn} in moto (${region}); healthz 200 after ${[...new Set(calls)].join(" + ")}`
        );
      },
    );
    if (!env) return { drills: seq.results.map(asKms), remaps: [] };
    const e = env;
    const kmsKey = e.keys.get(plan.key)!.key;
    const local = renderedLocalKeys(o.dir);
    const stack: StackKeys = historyStack(o.settings, local);
    const shippedConfigFile = path.join(work, "shipped-encryption-config.yaml");
    fs.writeFileSync(
      shippedConfigFile,
      e.remapConfig(fs.readFileSync(layout.encryptionConfig(o.dir), "utf8")),
      {
        mode: 0o600,
      },
    );
    await seq.step(
      `kms: kube-apiserver runs the rendered flags; prod's history starts with 3 apiservers on secretbox ${stack.primary.name}`,
      async () => {
        fleet = await startKubeApiservers({
          dir: o.dir,
          settings: o.settings,
          workDir: path.join(work, "apiservers"),
          addresses: await addresses(o.settings),
          nodeRoots: o.settings.members.slice(0, 3).map((m) => o.nodeRoots?.[m.name]),
          startNow: 0,
          log: o.log,
        });
        const start = encryptionConfigFor(stack.keys, stack.states, stack.resources, stack.identityFallback);
        for (const s of fleet.servers) s.writeEncryptionConfig(start);
        await fleet.servers[0].start();
        version = await fleet.version();
        return `${version}: ${fleet.servers[0].name} ready on ${stack.primary.provider} ${stack.primary.name} primary (the stack's former key)`;
      },
    );
    if (!fleet) return { drills: seq.results.map(asKms), remaps: e.remaps };
    const rotationData = new DrillData(
      `drill-kms-rotation-${Date.now().toString(36)}`,
      drillResources(stack),
    );
    const rot: Rotation = {
      ctx: {
        dir: o.dir,
        fleet,
        etcd: apiserverEtcdConnection(o.dir, o.cluster.etcdctlBinary, o.cluster.clientUrls()),
        stack,
        data: [rotationData],
        log: o.log,
      },
      servers: fleet.servers,
      data: rotationData,
      keys: [kmsKey, ...local],
      stepDir: path.join(work, "configs"),
      identityFallback: stack.identityFallback,
      step: 0,
    };
    fs.mkdirSync(rot.stepDir, { recursive: true, mode: 0o700 });
    k = {
      dir: o.dir,
      settings: o.settings,
      cluster: o.cluster,
      env: e,
      rot,
      kmsKey,
      formerKey: stack.primary,
      shippedConfigFile,
      primary: kmsKey,
      workDir: work,
      caKeyPem: o.caKeyPem,
      caCertPem: o.caCertPem,
      log: o.log,
    };
    await seq.step("kms: secretbox → kms 0 start: all 3 apiservers write and read every object", () =>
      startAll(rot),
    );
    o.log("• kms: the stack's history secretbox → kms, with writers running…");
    await runHistory(k, seq);
    let snapshot: KmsSnapshot | undefined;
    await seq.step("kms: snapshot saved while kms v2 is primary (for the readback)", async () => {
      snapshot = await takeKmsSnapshot(k!);
      return `${path.basename(snapshot.file)} (sha256 ${snapshot.sha256.slice(0, 12)}…), keys in force: ${snapshot.words.join(" ")}`;
    });
    if (o.quick) {
      const why =
        "--quick: it waits minutes on kube-apiserver's own timers; npm run rehearse -- --stack prod runs it";
      for (const name of [
        "kms: the plugin stopped",
        "kms: the AWS key disabled in moto",
        "kms: new AWS key (rotation kms → new AWS key)",
      ])
        o.skip?.(name, why);
    } else {
      o.log("• kms: the plugin stopped, then the key disabled…");
      await seq.step(
        "kms: the plugin stopped — what kube-apiserver does; nothing plaintext, nothing lost, all readable once back",
        () => pluginStopped(k!),
      );
      await seq.step(
        "kms: the AWS key disabled in moto — what kube-apiserver does; the CIS row and the restore check name the key; all readable once enabled",
        () => keyDisabled(k!),
      );
      o.log("• kms: moving to a new AWS key…");
      await runNewKey(k, seq);
    }
    const writes = o.quick ? QUICK_WRITES_PER_CONFIG : WRITES_PER_CONFIG;
    await seq.step(
      `kms: extra latency of a Secret write with kms v2 vs secretbox on the same real apiserver (median of ${writes.toLocaleString("en")} each)`,
      async () => {
        const m = await measureLatency(k!, writes);
        latency = m.result;
        return m.detail;
      },
    );
    await fleet.stop();
    if (snapshot)
      await seq.step(
        "kms: the snapshot restored into a fresh cluster (DescribeKey checked first) is read back by a real apiserver through the plugin",
        () => restoreAndRead(k!, snapshot!),
      );
    return { drills: seq.results.map(asKms), version, remaps: [...e.remaps, ...fleet.remaps], latency };
  } catch (err) {
    seq.results.push({
      name: "kms: drills",
      passed: false,
      seconds: 0,
      detail: clip((err as Error).message, 600),
    });
    return { drills: seq.results.map(asKms), version, remaps: env?.remaps ?? [], latency };
  } finally {
    await fleet?.stop();
    await env?.stop();
  }
}

/** The members' addresses (a node each), then free loopback ones: three apiservers whatever the size. */
async function addresses(s: SecureEtcdSettings): Promise<string[]> {
  const out = s.members.slice(0, 3).map((m) => m.ip);
  while (out.length < 3) out.push(await freeLoopbackAddress([apiserverPort], out));
  return out;
}
