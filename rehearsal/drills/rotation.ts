/**
 * Key rotation on the live cluster, as the README's runbook does it, with three API servers (three
 * storage layers, each on its own etcd member and its own EncryptionConfiguration) and ROLLING
 * restarts: each server moves to the next configuration one at a time while all three keep writing,
 * and after every single restart every server must read every object back.
 *   1 stage the new key (old stays primary) · 2 promote it (old → retired) · 3 rewrite every object ·
 *   4 `verify-encryption --retiring OLD` must pass: it gates · 5 archive the old key (out of the config).
 * Then the two unsafe orders, each "passing" only when the damage it causes is detected and named:
 *   (a) new key primary without the staged step, (b) old key dropped before the rewrite.
 * Then every change between two keys' states is tried and compared with what
 * components/encryption/transitions.ts refuses at preview. Fresh random keys; everything written is
 * deleted at the end.
 */
import { randomBytes } from "node:crypto";
import type { RunningCluster } from "../../harness/cluster";
import { type LocalEncryptionProvider } from "../../components/encryption/classifyStoredValue";
import { keyTransitionProblems } from "../../components/encryption/transitions";
import {
  describeStates,
  encryptionConfigFor,
  freshKey,
  stateRecords,
  type DrillKey,
  type KeyStates,
} from "../../harness/kubeStorage/drillKeys";
import {
  describeReadProblems,
  Fleet,
  type ReadCheck,
  type WrittenObject,
} from "../../harness/kubeStorage/fleet";
import type { KubeResource } from "../../harness/kubeStorage/objects";
import {
  describeRoles,
  judgeProbe,
  probeTransition,
  twoKeyStateSets,
  type ProbeResult,
} from "../../harness/kubeStorage/transitionProbe";
import { apiserverConnection, stackEncryption } from "../../harness/kubeStorage/rehearsalInputs";
import { etcdctlOk, type EtcdctlConnection } from "../../tools/verifyEncryption/etcdctl";
import { resourcePrefix } from "../../tools/verifyEncryption/objectKeys";
import { readPrefix } from "../../tools/verifyEncryption/readPrefix";
import type { ScanReport } from "../../tools/verifyEncryption/scan";
import { runVerifyEncryption } from "./liveEncryption";
import { clip, DrillFailure, expect, runDrill, type DrillResult } from "./types";

export interface RotationDrillOptions {
  /** Artifacts directory (the stack's encryption-config.yaml and client certs). */
  dir: string;
  cluster: RunningCluster;
  /** Accepted like the other live drills; this one writes only to etcd. */
  workDir: string;
  /** Compare every two-key transition with transitions.ts (56 probes, ~20 s; default true). */
  transitionProbes?: boolean;
  log?: (line: string) => void;
}

/** What every part of the drill shares. */
interface RotationContext {
  provider: LocalEncryptionProvider;
  resources: KubeResource[];
  /** apiserver-1..3, each on its own member's endpoint. */
  servers: { name: string; etcd: EtcdctlConnection }[];
  /** Every member: what verify-encryption is pointed at. */
  scan: EtcdctlConnection;
  /** Every fleet so far: verify-encryption's output must not hold any value they wrote. */
  fleets: Fleet[];
  log: (line: string) => void;
}

/** Every namespace the drill writes starts with this, so clean-up also catches a probe that failed midway. */
const namespacePrefix = "drill-rot-";

/** The README's key states, in order, for an old and a new key. */
function safeOrder(old: DrillKey, neu: DrillKey): KeyStates[] {
  return [
    { [old.name]: "primary" },
    { [old.name]: "primary", [neu.name]: "staged" },
    { [neu.name]: "primary", [old.name]: "retired" },
    { [neu.name]: "primary", [old.name]: "archived" },
  ];
}

export async function runRotationDrill(o: RotationDrillOptions): Promise<DrillResult[]> {
  const ctx = rotationContext(o);
  const results: DrillResult[] = [];
  try {
    results.push(...(await safeRotation(ctx)));
    ctx.log("rotation: the unsafe orders (each must be caught)…");
    results.push(await unsafePromoteWithoutStaging(ctx));
    results.push(await unsafeDropBeforeRewrite(ctx));
    if (o.transitionProbes ?? true) {
      ctx.log("rotation: every two-key transition, live, against transitions.ts…");
      results.push(await transitionAgreement(ctx));
    }
  } finally {
    results.push(await cleanUp(ctx));
  }
  return results;
}

function rotationContext(o: RotationDrillOptions): RotationContext {
  const stack = stackEncryption(o.dir);
  const p = stack.primary.provider;
  // The stack's write provider is the starting point; kms needs a plugin, so a local provider stands in.
  const provider: LocalEncryptionProvider =
    p === "aescbc" || p === "aesgcm" || p === "secretbox" ? p : "secretbox";
  const urls = o.cluster.clientUrls();
  if (urls.length === 0) throw new Error("rotation drill: no etcd member is running");
  const servers = [1, 2, 3].map((i) => ({
    name: `apiserver-${i}`,
    etcd: apiserverConnection(o.dir, o.cluster.etcdctlBinary, [urls[(i - 1) % urls.length]]),
  }));
  return {
    provider,
    resources: stack.resources.length > 0 ? stack.resources : ["secrets"],
    servers,
    scan: apiserverConnection(o.dir, o.cluster.etcdctlBinary, urls),
    fleets: [],
    log: o.log ?? (() => undefined),
  };
}

function newFleet(ctx: RotationContext, label: string, encryptionConfig: string): Fleet {
  const namespace = `${namespacePrefix}${label}-${randomBytes(3).toString("hex")}`;
  const fleet = new Fleet({ servers: ctx.servers, encryptionConfig, namespace, resources: ctx.resources });
  ctx.fleets.push(fleet);
  return fleet;
}

/** Every value a fleet wrote (and its base64): verify-encryption's output must hold none of them. */
const writtenValues = (fleets: readonly Fleet[]) =>
  fleets.flatMap((f) =>
    [...f.written.values()].flatMap((w) => [
      w.input.data.value,
      Buffer.from(w.input.data.value).toString("base64"),
    ]),
  );

/** Runs a row only while every earlier row of the sequence passed. */
class Sequence {
  readonly results: DrillResult[] = [];
  async step(name: string, fn: () => Promise<string>): Promise<boolean> {
    const blocker = this.results.find((r) => !r.passed);
    const r = await runDrill(name, async () => {
      if (blocker) throw new DrillFailure(`not run: "${blocker.name}" did not pass`);
      return fn();
    });
    this.results.push(r);
    return r.passed;
  }
}

async function safeRotation(ctx: RotationContext): Promise<DrillResult[]> {
  const old = freshKey("rot-old", ctx.provider);
  const neu = freshKey("rot-new", ctx.provider);
  const keys = [old, neu];
  const [start, staged, promoted, archived] = safeOrder(old, neu);
  const fleet = newFleet(ctx, "safe", encryptionConfigFor(keys, start, ctx.resources));
  const seq = new Sequence();
  ctx.log(`rotation: ${ctx.provider} ${old.name} → ${neu.name}, namespace ${fleet.o.namespace}`);
  await seq.step("rotation 0 start: 3 API servers on the old key, all writing", async () => {
    await fleet.writeRound();
    const check = await fleet.checkReads();
    expect(check.ok, describeReadProblems(check));
    return `${describeStates(keys, start)}; ${check.objects} objects (${ctx.resources.join(", ")}) written by 3 servers, each on its own member; all readable by all`;
  });
  await rollingStep(ctx, seq, fleet, "1 stage new key", keys, start, staged);
  await rollingStep(ctx, seq, fleet, "2 promote new key", keys, staged, promoted);
  await seq.step("rotation: before the rewrite, verify-encryption --retiring old exits 1", () =>
    retiringGate(ctx, fleet, old, 1),
  );
  await seq.step("rotation 3 rewrite: every object rewritten while the others keep writing", () =>
    rewriteStep(fleet, neu),
  );
  await seq.step("rotation 4 verify: verify-encryption --retiring old exits 0 (gates step 5)", () =>
    retiringGate(ctx, fleet, old, 0),
  );
  await rollingStep(ctx, seq, fleet, "5 archive old key", keys, promoted, archived);
  return seq.results;
}

/** One row per server: restart it with `to`, all three write, every server reads everything. */
async function rollingStep(
  ctx: RotationContext,
  seq: Sequence,
  fleet: Fleet,
  label: string,
  keys: DrillKey[],
  from: KeyStates,
  to: KeyStates,
): Promise<void> {
  const config = encryptionConfigFor(keys, to, ctx.resources);
  const refused = keyTransitionProblems(stateRecords(keys, from), stateRecords(keys, to), 0);
  for (const s of fleet.servers)
    await seq.step(`rotation ${label}: ${s.name} restarted, all keep writing, all read all`, async () => {
      expect(
        refused.length === 0,
        `transitions.ts refuses this step: ${refused.map((p) => p.message).join("; ")}`,
      );
      s.restart(config);
      const writes = await fleet.writeRound();
      const check = await fleet.checkReads();
      expect(check.ok, describeReadProblems(check));
      return (
        `${s.name} now ${describeStates(keys, to)}; this round's writes: ${describeWrites(writes)}; ` +
        `all ${check.objects} objects readable by all ${fleet.servers.length} servers; transitions.ts: no objection`
      );
    });
}

/** `apiserver-1 → secretbox/rot-new-…, apiserver-2 → …` (one entry per server and key). */
function describeWrites(writes: WrittenObject[]): string {
  return [...new Set(writes.map((w) => `${w.by} → ${w.storedAs}`))].join(", ");
}

/** How many of a fleet's objects were last stored under `key`. */
const storedUnder = (fleet: Fleet, key: DrillKey) =>
  [...fleet.written.values()].filter((w) => w.storedAs.endsWith(`/${key.name}`));

/** Runs verify-encryption --retiring KEY over every member and expects `code`. */
async function retiringGate(ctx: RotationContext, fleet: Fleet, key: DrillKey, code: 0 | 1): Promise<string> {
  const args = ["--json", `--resources=${ctx.resources.join(",")}`, `--retiring=${key.name}`];
  const run = await runVerifyEncryption(ctx.scan, args, writtenValues(ctx.fleets));
  expect(
    run.code === code,
    `verify-encryption ${args.join(" ")} exited ${run.code}, expected ${code}: ${clip(run.output, 300)}`,
  );
  const report = JSON.parse(run.output) as ScanReport;
  const expected = storedUnder(fleet, key).length;
  expect(
    report.retiring?.count === expected,
    `verify-encryption counts ${report.retiring?.count} values under ${key.name}; the drill stored ${expected} there`,
  );
  return (
    `exit ${run.code}: ${expected} value(s) under ${key.name} among ${report.scanned} scanned in ${report.seconds.toFixed(2)} s` +
    (code === 1 ? ": removing the key now would make them unreadable" : ": the old key may leave the config")
  );
}

async function rewriteStep(fleet: Fleet, neu: DrillKey): Promise<string> {
  const [writer, ...others] = fleet.servers;
  const [rewritten] = await Promise.all([fleet.rewrite(writer), fleet.writeRound(others.map((s) => s.name))]);
  const notNew = rewritten.filter((w) => !w.storedAs.endsWith(`/${neu.name}`));
  expect(
    notNew.length === 0,
    `${notNew.length} objects rewritten as something else, e.g. ${notNew[0]?.key} as ${notNew[0]?.storedAs}`,
  );
  const check = await fleet.checkReads();
  expect(check.ok, describeReadProblems(check));
  return (
    `${writer.name} rewrote ${rewritten.length} objects (${fleet.o.resources.join(", ")}; read, then written back as ` +
    `${rewritten[0]?.storedAs ?? "-"}) while ${others.map((s) => s.name).join(" and ")} kept writing; ` +
    `all ${check.objects} objects readable by all`
  );
}

/** `apiserver-2 secrets/ns/x` for each read that failed, sorted: what an unsafe order is judged by. */
function failedReads(check: ReadCheck): string[] {
  return check.perServer.flatMap((p) => p.unreadable.map((u) => `${p.server} ${u.key}`)).sort();
}

const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

function unsafePromoteWithoutStaging(ctx: RotationContext): Promise<DrillResult> {
  return runDrill("rotation unsafe (a): new key primary without the staged step is caught", async () => {
    const keys = [freshKey("rot-a-old", ctx.provider), freshKey("rot-a-new", ctx.provider)];
    const [old, neu] = keys;
    const [start, , promoted] = safeOrder(old, neu);
    const fleet = newFleet(ctx, "unsafe-a", encryptionConfigFor(keys, start, ctx.resources));
    await fleet.writeRound();
    const refused = keyTransitionProblems(stateRecords(keys, start), stateRecords(keys, promoted), 0);
    expect(
      refused.some((p) => p.key === neu.name),
      `transitions.ts does not refuse ${describeStates(keys, promoted)}`,
    );
    const [first, ...rest] = fleet.servers;
    first.restart(encryptionConfigFor(keys, promoted, ctx.resources));
    const writes = await fleet.writeRound();
    const check = await fleet.checkReads();
    const failed = failedReads(check);
    const byFirst = writes.filter((w) => w.by === first.name).map((w) => w.key);
    const expected = rest.flatMap((s) => byFirst.map((k) => `${s.name} ${k}`)).sort();
    expect(
      failed.length > 0,
      `NOT CAUGHT: every server read every object after ${first.name} skipped the staged step`,
    );
    expect(
      sameList(failed, expected),
      `unreadable: ${failed.join(", ")}; expected exactly: ${expected.join(", ")}`,
    );
    // Finish the rolling restart: once every server has the key, the objects are readable again.
    for (const s of rest) s.restart(encryptionConfigFor(keys, promoted, ctx.resources));
    const after = await fleet.checkReads();
    expect(after.ok, `still unreadable after every server restarted: ${describeReadProblems(after)}`);
    return (
      `caught: ${first.name} restarted with ${neu.name} primary while ${rest.map((s) => s.name).join(" and ")} ` +
      `had only ${old.name}; ${failed.length} reads failed: ${describeReadProblems(check, 4)}. ` +
      `transitions.ts refuses the step at preview: "${clip(refused[0].message, 120)}". ` +
      `Once all 3 servers restarted, all ${after.objects} objects read again: an outage in the window, not loss`
    );
  });
}

function unsafeDropBeforeRewrite(ctx: RotationContext): Promise<DrillResult> {
  return runDrill("rotation unsafe (b): old key dropped before the rewrite is caught", async () => {
    const keys = [freshKey("rot-b-old", ctx.provider), freshKey("rot-b-new", ctx.provider)];
    const [old, neu] = keys;
    const [start, staged, promoted, archived] = safeOrder(old, neu);
    const config = (s: KeyStates) => encryptionConfigFor(keys, s, ctx.resources);
    const fleet = newFleet(ctx, "unsafe-b", config(start));
    await fleet.writeRound();
    for (const step of [staged, promoted])
      for (const s of fleet.servers) {
        s.restart(config(step));
        await fleet.writeRound();
      }
    // The rewrite is skipped. The gate sees it; transitions.ts cannot (it does not read etcd).
    const gate = await retiringGate(ctx, fleet, old, 1);
    const accepted = keyTransitionProblems(stateRecords(keys, promoted), stateRecords(keys, archived), 0);
    const deleted = keyTransitionProblems(
      stateRecords(keys, promoted),
      stateRecords(keys, { [neu.name]: "primary" }),
      0,
    );
    expect(
      accepted.length === 0,
      `transitions.ts refuses retired → archived: ${accepted.map((p) => p.message).join("; ")}`,
    );
    expect(
      deleted.some((p) => p.key === old.name),
      "transitions.ts accepts deleting a retired key outright",
    );
    const underOld = storedUnder(fleet, old).map((w) => w.key);
    const [first, ...rest] = fleet.servers;
    first.restart(config(archived));
    await fleet.writeRound();
    const check = await fleet.checkReads();
    const failed = failedReads(check);
    expect(failed.length > 0, `NOT CAUGHT: ${first.name} read every object without ${old.name}`);
    expect(
      sameList(failed, underOld.map((k) => `${first.name} ${k}`).sort()),
      `unreadable: ${failed.join(", ")}; expected the ${underOld.length} objects under ${old.name}`,
    );
    for (const s of rest) s.restart(config(archived));
    const lost = failedReads(await fleet.checkReads());
    expect(
      lost.length === underOld.length * fleet.servers.length,
      `after every restart ${lost.length} failed reads, expected ${underOld.length * fleet.servers.length}`,
    );
    return (
      `caught: after stage and promote without the rewrite, ${first.name} restarted without ${old.name} cannot read ` +
      `${underOld.length} objects: ${describeReadProblems(check, 4)}; once all 3 restarted no server can read them ` +
      `(data loss). The gate would have stopped it: ${gate}. transitions.ts accepts retired → archived (it cannot ` +
      `see etcd) and refuses deleting the key outright: "${clip(deleted[0].message, 100)}"`
    );
  });
}

/** Tries every change between the states of two keys and compares each outcome with transitions.ts. */
function transitionAgreement(ctx: RotationContext): Promise<DrillResult> {
  return runDrill("rotation: the drill and transitions.ts agree on every two-key transition", async () => {
    const sets = twoKeyStateSets();
    const tally: Tally = { safe: 0, unsafe: 0, gated: [], stricter: [], disagree: [] };
    for (const from of sets)
      for (const to of sets) {
        if (from === to) continue;
        const namespace = `${namespacePrefix}probe-${randomBytes(3).toString("hex")}`;
        const probe = await probeTransition({
          servers: ctx.servers,
          provider: ctx.provider,
          namespace,
          from,
          to,
        });
        try {
          await tallyProbe(ctx, probe, tally);
        } finally {
          await probe.fleet.deleteAll();
        }
      }
    expect(
      tally.disagree.length === 0,
      `${tally.disagree.length} disagreement(s): ${tally.disagree.join(" | ")}`,
    );
    const total = tally.safe + tally.unsafe + tally.gated.length + tally.stricter.length;
    return (
      `${total} transitions tried live (3 servers, one restarted): ${tally.safe} safe and accepted, ${tally.unsafe} ` +
      `unsafe and refused at preview; ${tally.gated.length} accepted though unsafe before a rewrite (${tally.gated.join(", ")}: ` +
      `a retired key archived; verify-encryption --retiring exited 1 on each, so the gate catches them); ` +
      `${tally.stricter.length} refused though nothing became unreadable (${tally.stricter.join(", ")}: a staged key archived instead of removed)`
    );
  });
}

/** Counts of agreement, and the transitions behind each kind of disagreement (see judgeProbe). */
interface Tally {
  safe: number;
  unsafe: number;
  gated: string[];
  stricter: string[];
  disagree: string[];
}

/** Files one probe under its verdict; a `gated` one counts only if verify-encryption does catch it. */
async function tallyProbe(ctx: RotationContext, probe: ProbeResult, tally: Tally): Promise<void> {
  const label = `${describeRoles(probe.from)} → ${describeRoles(probe.to)}`;
  const v = judgeProbe(probe);
  if (v.kind === "agree") tally[v.unsafe ? "unsafe" : "safe"]++;
  else if (v.kind === "stricter") tally.stricter.push(label);
  else if (v.kind === "disagree") tally.disagree.push(`${label}: ${v.why}`);
  else {
    const args = ["--json", "--resources=secrets", `--retiring=${v.retiredKeys[0]}`];
    const run = await runVerifyEncryption(ctx.scan, args, writtenValues([probe.fleet]));
    const count = run.code === 3 ? 0 : ((JSON.parse(run.output) as ScanReport).retiring?.count ?? 0);
    if (run.code === 1 && count > 0) tally.gated.push(label);
    else
      tally.disagree.push(
        `${label}: unsafe, yet verify-encryption --retiring exited ${run.code} (${count} values)`,
      );
  }
}

/** Deletes every drill namespace and proves nothing is left under them. */
function cleanUp(ctx: RotationContext): Promise<DrillResult> {
  return runDrill("rotation: drill objects deleted from etcd", async () => {
    let deleted = 0;
    const left: string[] = [];
    for (const r of new Set<string>([...ctx.resources, "secrets"])) {
      const prefix = `${resourcePrefix(r)}${namespacePrefix}`;
      const del = await etcdctlOk(ctx.scan, ["del", "--prefix", prefix]);
      deleted += Number(del.stdout.trim() || 0);
      for await (const page of readPrefix(ctx.scan, prefix)) left.push(...page.kvs.map((kv) => kv.key));
    }
    expect(left.length === 0, `${left.length} keys left, e.g. ${left[0]}`);
    return `${deleted} keys deleted under ${ctx.fleets.length} drill namespaces and the probes' (${namespacePrefix}*); none left`;
  });
}
