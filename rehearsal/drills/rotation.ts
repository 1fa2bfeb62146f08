/**
 * Key rotation as the runbook does it, with three real kube-apiservers and ROLLING restarts: each
 * apiserver gets the next EncryptionConfiguration and restarts while the other two keep writing, and
 * after every restart every apiserver reads every object back (one GET each, straight from etcd).
 *   1 stage a new key (the stack's primary stays primary) · 2 make it primary (old → retired) ·
 *   3 rewrite every object (`kubectl get secrets,configmaps -A -o json | kubectl replace -f -`) ·
 *   4 `verify-encryption --retiring OLD` must pass · 5 archive the old keys (out of the config).
 * Each step is gated by `secure-etcd encryption-config-status --expect <the step's file>`: after the
 * first restart of a step it exits 1 naming the two apiservers that lag; only when all three have
 * loaded the file does it exit 0 and the next step start. Every step is also one that
 * components/encryption/transitions.ts accepts at preview. The unsafe orders: rotationUnsafe.ts.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { keyTransitionProblems } from "../../components/encryption/transitions";
import {
  describeStates,
  freshKey,
  stateRecords,
  storedPrefix,
  type AnyDrillKey,
  type KeyStates,
} from "../../harness/encryptionKeys";
import type { KubeApiserver } from "../../harness/kubeApiserver";
import { DrillData, whileWriting } from "./apiserverData";
import { drillResources, hashOf, runConfigStatus, type ApiserverDrillContext } from "./encryptionAtRest";
import {
  everyoneReadsAll,
  readsAfterRestart,
  retiringGate,
  Sequence,
  stepConfig,
  whereWritesWent,
  type Rotation,
} from "./rotationSteps";
import { runUnsafeOrders } from "./rotationUnsafe";
import { clip, DrillFailure, expect, type DrillResult } from "./types";

export async function runRotationDrill(ctx: ApiserverDrillContext, workDir: string): Promise<DrillResult[]> {
  const stepDir = path.join(workDir, "rotation-configs");
  fs.mkdirSync(stepDir, { recursive: true, mode: 0o700 });
  const data = new DrillData(`drill-rotation-${randomBytes(3).toString("hex")}`, drillResources(ctx.stack));
  ctx.data.push(data);
  const rot: Rotation = {
    ctx,
    servers: ctx.fleet.servers,
    data,
    keys: [...ctx.stack.keys],
    stepDir,
    identityFallback: ctx.stack.identityFallback,
    step: 0,
  };
  const seq = new Sequence();
  const old = ctx.stack.primary;
  const neu = freshKey("rot-new", old.provider);
  rot.keys.unshift(neu);
  const start = ctx.stack.states;
  const staged: KeyStates = { ...start, [neu.name]: "staged" };
  const promoted: KeyStates = { ...start, [neu.name]: "primary", [old.name]: "retired" };
  // The old keys leave the config; a key the stack only stages is left as it is.
  const archived: KeyStates = Object.fromEntries([
    ...Object.entries(start).map(([k, st]) => [k, st === "staged" ? "staged" : "archived"]),
    [neu.name, "primary"],
  ]);
  const readOnly = ctx.stack.keys.filter((k) => k.name !== old.name && start[k.name] === "retired");
  ctx.log(`rotation: ${old.provider} ${old.name} → ${neu.name}, namespace ${data.namespace}`);
  await seq.step("rotation 0 start: 3 apiservers on the stack's EncryptionConfiguration, all writing", () =>
    startAll(rot),
  );
  await rollingStep(rot, seq, "1 stage new key", start, staged);
  await rollingStep(rot, seq, "2 promote new key", staged, promoted);
  await seq.step(`rotation: before the rewrite, verify-encryption --retiring ${old.name} exits 1`, () =>
    retiringGate(rot, old, 1),
  );
  await seq.step(
    "rotation 3 rewrite: kubectl get … -A -o json | kubectl replace -f - while the others keep writing",
    () => rewrite(rot, neu),
  );
  await seq.step(
    `rotation 4 verify: verify-encryption --retiring exits 0 for ${[old, ...readOnly].map((k) => k.name).join(" and ")} (gates step 5)`,
    async () => (await Promise.all([old, ...readOnly].map((k) => retiringGate(rot, k, 0)))).join("; "),
  );
  await rollingStep(rot, seq, "5 archive old keys", promoted, archived);
  const safe = seq.results;
  if (!safe.every((r) => r.passed)) return safe;
  ctx.log("rotation: the unsafe orders (each must be caught)…");
  return [...safe, ...(await runUnsafeOrders(rot, archived))];
}

export async function startAll(rot: Rotation): Promise<string> {
  const [first, ...rest] = rot.servers;
  expect(first.running, `${first.name} is not running`);
  await Promise.all(rest.map((s) => (s.running ? undefined : s.start())));
  await rot.data.createNamespace(first);
  await Promise.all(rot.servers.map((s) => rot.data.write(s)));
  const status = await runConfigStatus(rot.ctx.fleet, rot.servers, first.encryptionConfig);
  expect(status.code === 0, `encryption-config-status: ${clip(status.output, 300)}`);
  return `${describeStates(rot.keys, rot.ctx.stack.states)}; each apiserver wrote; ${await everyoneReadsAll(rot)}; encryption-config-status: all 3 loaded ${hashOf(status.output)}`;
}

/** One row per apiserver (restart with `to` while the others write, all read all), then the gate row. */
export async function rollingStep(
  rot: Rotation,
  seq: Sequence,
  label: string,
  from: KeyStates,
  to: KeyStates,
): Promise<void> {
  const { file, yaml } = stepConfig(rot, to, label);
  const refused = keyTransitionProblems(stateRecords(rot.keys, from), stateRecords(rot.keys, to), 0);
  for (const [i, s] of rot.servers.entries())
    await seq.step(
      `rotation ${label}: ${s.name} restarted while the others write; it reads every object, they read its writes`,
      async () => {
        expect(
          refused.length === 0,
          `transitions.ts refuses this step: ${refused.map((p) => p.message).join("; ")}`,
        );
        s.writeEncryptionConfig(yaml);
        const others = rot.servers.filter((x) => x !== s);
        const before = new Set(rot.data.written.keys());
        const { writes } = await whileWriting(rot.data, others, s.restart());
        writes.push(...(await rot.data.write(s)));
        const reads = await readsAfterRestart(rot, s, before);
        const gate = i === 0 ? await lagNamed(rot, file, others) : "";
        return (
          `${s.name} now ${describeStates(rot.keys, to)}; ${writes.length} objects written meanwhile: ` +
          `${await whereWritesWent(rot, writes)}; ${reads}${gate}; transitions.ts: no objection`
        );
      },
    );
  await seq.step(
    `rotation ${label}: gate — encryption-config-status says every apiserver loaded the step's file; all read all`,
    async () => {
      const status = await runConfigStatus(rot.ctx.fleet, rot.servers, file);
      expect(status.code === 0, `exit ${status.code}: ${clip(status.output, 400)}`);
      return `exit 0: all 3 loaded ${hashOf(status.output)} (${path.basename(file)}); ${await everyoneReadsAll(rot)}`;
    },
  );
}

/** After the first restart of a step the check must exit 1 and name exactly the apiservers not restarted yet. */
async function lagNamed(rot: Rotation, file: string, lagging: readonly KubeApiserver[]): Promise<string> {
  const status = await runConfigStatus(rot.ctx.fleet, rot.servers, file);
  const named = rot.servers.filter((s) =>
    new RegExp(`^${s.url.replace(/\./g, "\\.")} .*LAGS$`, "m").test(status.output),
  );
  expect(
    status.code === 1 && named.length === lagging.length && lagging.every((l) => named.includes(l)),
    `encryption-config-status exited ${status.code} naming ${named.map((s) => s.name).join(", ") || "none"} as lagging; ` +
      `expected exit 1 naming ${lagging.map((s) => s.name).join(", ")}: ${clip(status.output, 300)}`,
  );
  return `; encryption-config-status: exit 1, ${lagging.map((s) => `${s.name} (${s.url})`).join(" and ")} LAG (the gate holds the next step)`;
}

export async function rewrite(rot: Rotation, neu: AnyDrillKey): Promise<string> {
  const [first, ...others] = rot.servers;
  const svm = await storageVersionMigration(first, rot.data.resources);
  const { result: replaced, writes } = await whileWriting(
    rot.data,
    others,
    first.kubectl.rewriteAll(rot.data.resources),
  );
  const stored = await rot.data.storedPrefixes(rot.ctx.etcd);
  const notNew = [...rot.data.written.keys()].filter((id) => stored.get(id) !== storedPrefix(neu));
  expect(
    notNew.length === 0,
    `${notNew.length} objects not under ${storedPrefix(neu)} after the rewrite, e.g. ${notNew[0]}: ${stored.get(notNew[0])}`,
  );
  const status = await svm.status();
  return (
    `${first.name} replaced ${replaced} objects (every secret and configmap of every namespace) while ` +
    `${others.map((s) => s.name).join(" and ")} wrote ${writes.length}; every drill object now starts ${storedPrefix(neu)}; ` +
    `${await everyoneReadsAll(rot)}. The storage version migration API instead: ${svm.created}; after the rewrite its ` +
    `status is still ${status} — nothing in kube-apiserver acts on it (the migrator is kube-controller-manager's ` +
    `storage-version-migrator controller), so without a controller manager the kubectl rewrite is the way`
  );
}

/** Creates StorageVersionMigrations (storagemigration.k8s.io/v1) for the resources; reads their status later. */
async function storageVersionMigration(s: KubeApiserver, resources: readonly string[]) {
  const name = (r: string) => `drill-rewrite-${r}`;
  await s.kubectl.createManifests(
    resources.map((r) => ({
      apiVersion: "storagemigration.k8s.io/v1",
      kind: "StorageVersionMigration",
      metadata: { name: name(r) },
      spec: { resource: { group: "", resource: r } },
    })),
  );
  return {
    created: `kubectl create StorageVersionMigration ${resources.map(name).join(", ")} (storagemigration.k8s.io/v1) was accepted`,
    async status(): Promise<string> {
      const r = await s.kubectl.ok(["get", "storageversionmigrations", ...resources.map(name), "-o", "json"]);
      const items = (JSON.parse(r.stdout) as { items: { status?: { conditions?: { type: string }[] } }[] })
        .items;
      const conditions = items.flatMap((i) => i.status?.conditions ?? []).map((c) => c.type);
      if (conditions.length > 0)
        throw new DrillFailure(
          `a StorageVersionMigration has conditions ${conditions.join(", ")}: something runs it here`,
        );
      return "empty (no Running or Succeeded condition)";
    },
  };
}
