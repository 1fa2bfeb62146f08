/**
 * The plugin stopped, and separately the AWS key disabled: what the real kube-apiserver does, recorded,
 * and what the package promises, asserted — nothing is stored in plaintext, nothing already stored is
 * lost, everything is readable again once the plugin or the key is back; while the key is disabled the
 * CIS report's kms row and the restore's DescribeKey check both name the key.
 *
 * In each, apiserver-1 writes first; once the outage has begun another apiserver restarts (it needs a
 * new data-key seed) and writes if it can, so apiserver-1 is asked for objects under a seed it has never
 * decrypted (kubernetes#138950: which apiserver wrote an object decides whether a reader needs the
 * plugin). For the plugin stopped, that apiserver has its own node's plugin, which keeps running.
 */
import { DisableKeyCommand, EnableKeyCommand, DescribeKeyCommand } from "@aws-sdk/client-kms";
import { kmsPluginFindings } from "../../../components/cis";
import { apiserverMountedDirsOf } from "../../../components/kms/socketCoverage";
import { storedPrefix } from "../../../harness/encryptionKeys";
import { disabledKeyAnswer } from "../../../harness/kmsPlugin";
import type { KubeApiserver } from "../../../harness/kubeApiserver";
import { layout } from "../../../harness/layout";
import { sleep } from "../../../harness/process";
import { checkEnvelopeKeys } from "../../../tools/restore/envelopeKeys";
import { RestoreRefused } from "../../../tools/restore/types";
import { runVerifyEncryption } from "../encryptionAtRest";
import { DrillData, describeReads, allRead, type Written } from "../apiserverData";
import { drillResources } from "../encryptionAtRest";
import { clip, expect } from "../types";
import * as fs from "node:fs";
import type { KmsDrills } from "./context";

/** How long a drill watches the apiserver during the outage (its write grace is 3 minutes after the last good Status). */
const WATCH_MS = 240_000;

interface Watch {
  unhealthyAfter?: number;
  readyzSays?: string;
  /** Writes through apiserver-1 during the outage: seconds after it began, and the error if it failed. */
  writes: { at: number; error?: string }[];
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(0)} s`;

async function tryWrite(data: DrillData, s: KubeApiserver): Promise<string | undefined> {
  try {
    await data.write(s, "outage", ["secrets"]);
    return undefined;
  } catch (e) {
    return clip((e as Error).message.replace(/^kubectl create -f failed \(exit 1\): /, ""), 260);
  }
}

/**
 * Polls /readyz/kms-providers and writes every 5 s: until the check and a write have both failed, or
 * (`writesFor`) until the check has failed and writes have gone on that long after it.
 */
async function watchOutage(first: KubeApiserver, data: DrillData, writesFor?: number): Promise<Watch> {
  const t0 = Date.now();
  const w: Watch = { writes: [] };
  while (Date.now() - t0 < WATCH_MS) {
    if (
      writesFor !== undefined &&
      w.unhealthyAfter !== undefined &&
      Date.now() - t0 > w.unhealthyAfter + writesFor
    )
      break;
    const r = await first.get("/readyz/kms-providers").catch((e: Error) => ({ status: 0, body: e.message }));
    if (r.status !== 200 && w.unhealthyAfter === undefined) {
      w.unhealthyAfter = Date.now() - t0;
      w.readyzSays = clip(r.body, 200);
    }
    w.writes.push({ at: Date.now() - t0, error: await tryWrite(data, first) });
    if (w.unhealthyAfter !== undefined && w.writes.some((x) => x.error)) break;
    await sleep(5000);
  }
  return w;
}

/** Every apiserver answers /readyz ok again (the unhealthy Status is retried every 10 s). */
async function untilReady(servers: readonly KubeApiserver[], timeoutMs = 180_000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const all = await Promise.all(
      servers.map((s) => s.get("/readyz").catch(() => ({ status: 0, body: "" }))),
    );
    if (all.every((r) => r.status === 200)) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs)
      throw new Error(
        `not ready ${seconds(timeoutMs)} after the plugin/key came back: ${all.map((r) => r.status).join(", ")}`,
      );
    await sleep(2000);
  }
}

interface Scenario {
  label: string;
  /** The apiserver that restarts once the outage has begun (it needs a new data-key seed). */
  other: KubeApiserver;
  /** Before the outage (e.g. give `other` its own node's plugin). */
  prepare?(): Promise<void>;
  begin(): Promise<void>;
  /** How `other` restarts: "ready" when its node still reaches KMS, "serving" when it cannot. */
  otherUntil: "ready" | "serving";
  /** Stop watching this long after the check failed (default: once a write has failed too). */
  writesFor?: number;
  /** While the outage lasts (the key-disabled drill checks the CIS row and the restore here). */
  during?(): Promise<string>;
  end(): Promise<void>;
  /** After recovery (e.g. `other` back on the shared plugin). */
  cleanup?(): Promise<void>;
}

async function outage(k: KmsDrills, sc: Scenario): Promise<string> {
  const { rot } = k;
  const [first] = rot.servers;
  const data = new DrillData(
    `drill-kms-${sc.label}-${Date.now().toString(36)}`,
    drillResources(rot.ctx.stack),
  );
  rot.ctx.data.push(data);
  await data.createNamespace(first);
  const own: Written[] = await data.write(first, "before");
  await sc.prepare?.();
  await sc.begin();
  // Another apiserver restarts now: a new data-key seed, which first has never decrypted.
  await sc.other.restart({ until: sc.otherUntil });
  const otherReady = (await sc.other.get("/readyz")).status === 200;
  let theirs: Written[] = [];
  let theirWrite = "";
  try {
    theirs = await data.write(sc.other, "during");
  } catch (e) {
    theirWrite = clip((e as Error).message.replace(/^kubectl create -f failed \(exit 1\): /, ""), 220);
  }
  const ownRead = await first.kubectl.readEach(data.namespace, own);
  const theirRead = await first.kubectl.readEach(data.namespace, theirs);
  const watch = await watchOutage(first, data, sc.writesFor);
  const during = sc.during ? await sc.during() : "";
  await sc.end();
  const back = await untilReady(rot.servers);
  await sc.cleanup?.();
  const reads = await Promise.all(rot.servers.map((s) => data.readAll(s)));
  expect(allRead(reads), `after recovery: ${describeReads(reads)}`);
  const stored = await data.storedPrefixes(rot.ctx.etcd);
  const want = storedPrefix(k.primary);
  const notKms = [...stored].filter(([, p]) => p !== want);
  expect(
    notKms.length === 0,
    `stored under something else: ${notKms.map(([id, p]) => `${id} ${p}`).join(", ")}`,
  );
  const scan = await runVerifyEncryption(rot.ctx, [`--resources=${data.resources.join(",")}`]);
  expect(scan.code === 0, `verify-encryption exit ${scan.code}: ${clip(scan.output, 300)}`);
  expect(watch.unhealthyAfter !== undefined, `/readyz/kms-providers stayed ok for ${seconds(WATCH_MS)}`);
  const ok = watch.writes.filter((x) => !x.error);
  const failed = watch.writes.find((x) => x.error);
  const theirError = [...theirRead.errors.values()][0];
  return (
    `${sc.label}: ${first.name}'s /readyz/kms-providers failed after ${seconds(watch.unhealthyAfter!)} (${watch.readyzSays}); ` +
    `writes through it went on for ${ok.length ? seconds(ok[ok.length - 1].at) : "0 s"} (${ok.length} acknowledged, each stored under ${want})` +
    (failed
      ? `, then failed at ${seconds(failed.at)}: "${failed.error}"`
      : `, none failed within ${seconds(WATCH_MS)}`) +
    `; ${sc.other.name} restarted meanwhile: ${otherReady ? "ready" : "serving but not ready"}, ` +
    (theirWrite ? `its write failed: "${theirWrite}"` : `wrote ${theirs.length} objects under its new seed`) +
    `; reads through ${first.name}: its own objects ${ownRead.errors.size === 0 ? "read (data key cached)" : `failed: ${clip([...ownRead.errors.values()][0], 160)}`}` +
    (theirs.length
      ? `, ${sc.other.name}'s new ones ${theirRead.errors.size ? `failed: "${clip(theirError, 200)}"` : "read"}`
      : "") +
    (during ? `; ${during}` : "") +
    `; back: every apiserver ready after ${seconds(back)}; all ${data.written.size} acknowledged objects read back by all 3; ` +
    `every value in ${data.namespace} starts ${want} (none plaintext); verify-encryption exit 0`
  );
}

/** One node's plugin stopped: apiserver-2 has its own node's plugin, which keeps running. */
export async function pluginStopped(k: KmsDrills): Promise<string> {
  const name = k.primary.name;
  const [, other] = k.rot.servers;
  const shared = fs.readFileSync(other.encryptionConfig, "utf8");
  return outage(k, {
    label: "plugin-stopped",
    other,
    otherUntil: "ready",
    async prepare() {
      const { endpoint } = await k.env.startNodePlugin(name, other.name);
      other.writeEncryptionConfig(shared.split(k.primary.endpoint).join(endpoint));
    },
    begin: () => k.env.stopPlugin(name),
    end: async () => void (await k.env.startPlugin(name)),
    async cleanup() {
      other.writeEncryptionConfig(shared);
      await other.restart();
    },
  });
}

/** The AWS key disabled: every node's plugin gets DisabledException from KMS. */
export async function keyDisabled(k: KmsDrills): Promise<string> {
  const key = k.env.keys.get(k.primary.name)!;
  const kms = k.env.kms();
  const fault = {
    match: (r: { target?: string }) =>
      r.target === "TrentService.Encrypt" || r.target === "TrentService.Decrypt",
    action: { kind: "respond" as const, ...disabledKeyAnswer(key.arn) },
  };
  return outage(k, {
    label: "key-disabled",
    other: k.rot.servers[2],
    otherUntil: "serving",
    // The plugin still answers Status (unhealthy, same key id): kube-apiserver keeps its seed alive.
    writesFor: 60_000,
    async begin() {
      await kms.send(new DisableKeyCommand({ KeyId: key.keyId }));
      k.env.proxy.faults.push(fault);
    },
    during: () => namesTheKey(k, key.arn),
    async end() {
      k.env.proxy.faults.splice(k.env.proxy.faults.indexOf(fault), 1);
      await kms.send(new EnableKeyCommand({ KeyId: key.keyId }));
    },
  });
}

/** While the key is disabled: the CIS report's kms row and the restore's check name it. */
async function namesTheKey(k: KmsDrills, arn: string): Promise<string> {
  const name = k.primary.name;
  const state = (await k.env.kms().send(new DescribeKeyCommand({ KeyId: arn }))).KeyMetadata?.KeyState;
  expect(state === "Disabled", `moto says the key is ${state}`);
  // The report as `npm run cis` reads the rendered stack, given the key's state (DescribeKey).
  const [row] = kmsPluginFindings({
    encryptionConfiguration: fs.readFileSync(layout.encryptionConfig(k.dir), "utf8"),
    plugins: [{ key: name, manifest: fs.readFileSync(layout.kmsPluginManifest(k.dir, name), "utf8") }],
    apiserverMountedDirs: apiserverMountedDirsOf(fs.readFileSync(layout.apiserverPatch(k.dir), "utf8")),
    keyStates: { [name]: { arn, keyState: state! } },
  }).filter((f) => f.target === `kms:${name}`);
  expect(row?.status === "WARN" && row.reason.includes(arn), `CIS kms row: ${row?.status} ${row?.reason}`);
  let refused = "";
  try {
    await checkEnvelopeKeys(
      [`kms:${name}=${arn}`],
      { endpointUrl: k.env.moto.endpoint },
      { env: { ...process.env, ...k.env.moto.env() }, log: () => undefined },
    );
  } catch (e) {
    if (!(e instanceof RestoreRefused)) throw e;
    refused = e.message;
  }
  expect(
    refused.includes(name) && refused.includes("Disabled"),
    `the restore check did not refuse: "${refused}"`,
  );
  return `while disabled: the CIS report's G-5 row WARNs "${clip(row.reason, 160)}"; the restore's DescribeKey check refuses: "${clip(refused, 200)}"`;
}
