/**
 * The real-apiserver drills on the running rehearsal cluster, sharing one set of kube-apiservers (one
 * per control-plane node: the members' addresses, reading the files the node bootstrap installed):
 *  1. kube-apiserver accepts the package's rendered flags and serves (apiserver-1);
 *  2. encryption at rest through kubectl and the real apiserver (encryptionAtRest.ts);
 *  3. a snapshot is saved while the stack's keys are in force;
 *  4. key rotation with three apiservers, and the unsafe orders (rotation.ts, rotationUnsafe.ts);
 *  5. that snapshot restored into a fresh cluster and read back, or not, by a real apiserver
 *     (apiserverRestore.ts).
 * Returns the version the apiserver reports and every remap, for the report.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { SecureEtcdSettings } from "../../components/config/schema";
import type { RunningCluster } from "../../harness/cluster";
import { stackKeys, type StackKeys } from "../../harness/encryptionKeys";
import {
  apiserverEtcdConnection,
  apiserverPort,
  startKubeApiservers,
  type KubeApiserverFleet,
} from "../../harness/kubeApiserver";
import { layout } from "../../harness/layout";
import { freeLoopbackAddress } from "../../harness/process";
import { saveSnapshot, runRestoreReadback, type SavedSnapshot } from "./apiserverRestore";
import { runEncryptionAtRestDrills, type ApiserverDrillContext } from "./encryptionAtRest";
import { runRotationDrill } from "./rotation";
import { DrillFailure, runDrill, type DrillResult } from "./types";

export interface ApiserverDrillsOptions {
  /** Artifacts directory. */
  dir: string;
  settings: SecureEtcdSettings;
  cluster: RunningCluster;
  workDir: string;
  /** Per member, the node root the bootstrap installed (the apiserver on that node reads its files there). */
  nodeRoots?: Record<string, string>;
  caKeyPem?: string;
  caCertPem?: string;
  log: (line: string) => void;
}

export interface ApiserverDrillsOutcome {
  drills: DrillResult[];
  /** What the real kube-apiserver reports at /version. */
  version?: string;
  remaps: string[];
}

const flagsRow =
  "kube-apiserver: the package's rendered flags are accepted by the real kube-apiserver, which serves";

export async function runApiserverDrills(o: ApiserverDrillsOptions): Promise<ApiserverDrillsOutcome> {
  let stack: StackKeys;
  try {
    stack = stackKeys(o.dir, o.settings);
  } catch (e) {
    return { drills: [await runDrill(flagsRow, () => Promise.reject(e as Error))], remaps: [] };
  }
  const work = path.join(o.workDir, "apiservers");
  let fleet: KubeApiserverFleet | undefined;
  let version: string | undefined;
  const drills: DrillResult[] = [];
  try {
    drills.push(
      await runDrill(flagsRow, async () => {
        const started = Date.now();
        fleet = await startKubeApiservers({
          dir: o.dir,
          settings: o.settings,
          workDir: work,
          addresses: await apiserverAddresses(o.settings),
          nodeRoots: o.settings.members.slice(0, 3).map((m) => o.nodeRoots?.[m.name]),
          startNow: 1,
          log: o.log,
        });
        version = await fleet.version();
        const [first] = fleet.servers;
        return (
          `${version} (${fleet.binary}) ran ${first.plan.renderedFlags.map((f) => f.split("=")[0]).join(" ")} as ` +
          `rendered (node paths → ${o.nodeRoots ? "the files the node bootstrap installed" : "the artifacts"}) plus ` +
          `the bare-apiserver flags listed as remaps; /readyz ok after ${((Date.now() - started) / 1000).toFixed(1)} s`
        );
      }),
    );
    if (!fleet) return { drills: [...drills, ...notRun(drills[0])], remaps: [] };
    const ctx: ApiserverDrillContext = {
      dir: o.dir,
      fleet,
      etcd: apiserverEtcdConnection(o.dir, o.cluster.etcdctlBinary, o.cluster.clientUrls()),
      stack,
      data: [],
      log: o.log,
    };
    o.log("• encryption at rest through the real kube-apiserver (kubectl writes, etcdctl reads raw)…");
    drills.push(...(await runEncryptionAtRestDrills(ctx)));
    const snapshot = await snapshotForReadback(o, ctx, drills);
    o.log("• key rotation: three kube-apiservers, rolling restarts, gated on encryption-config-status…");
    drills.push(...(await runRotationDrill(ctx, work)));
    const currentConfig = fs.readFileSync(fleet.servers[0].encryptionConfig, "utf8");
    await fleet.stop();
    if (snapshot) {
      o.log("• snapshot readback: the pre-rotation snapshot with the right keys and with today's…");
      drills.push(
        ...(await runRestoreReadback({
          dir: o.dir,
          settings: o.settings,
          cluster: o.cluster,
          caKeyPem: o.caKeyPem,
          caCertPem: o.caCertPem,
          snapshot,
          currentConfig,
          workDir: work,
          log: o.log,
        })),
      );
    }
    return { drills, version, remaps: fleet.remaps };
  } finally {
    await fleet?.stop();
  }
}

/** The members' addresses (a node each), then free loopback ones: three apiservers whatever the size. */
async function apiserverAddresses(s: SecureEtcdSettings): Promise<string[]> {
  const out = s.members.slice(0, 3).map((m) => m.ip);
  while (out.length < 3) out.push(await freeLoopbackAddress([apiserverPort], out));
  return out;
}

/** Saves the snapshot the readback drill restores; a failure is a failed row, and the readback is skipped. */
async function snapshotForReadback(
  o: ApiserverDrillsOptions,
  ctx: ApiserverDrillContext,
  drills: DrillResult[],
): Promise<SavedSnapshot | undefined> {
  const [data] = ctx.data;
  if (!data || data.written.size === 0) return undefined;
  try {
    const saved = await saveSnapshot(
      o.dir,
      o.cluster,
      path.join(o.workDir, "apiservers", `readback-${randomBytes(3).toString("hex")}.db`),
    );
    return {
      ...saved,
      keysInForce: ctx.stack.keys.map((k) => `${k.provider}:${k.name}`),
      config: fs.readFileSync(layout.encryptionConfig(o.dir), "utf8"),
      data,
    };
  } catch (e) {
    drills.push(await runDrill("snapshot readback: snapshot saved", () => Promise.reject(e as Error)));
    return undefined;
  }
}

function notRun(blocker: DrillResult): DrillResult[] {
  return [
    {
      name: "kube-apiserver drills",
      passed: false,
      seconds: 0,
      detail: new DrillFailure(`not run: "${blocker.name}" did not pass`).message,
    },
  ];
}
