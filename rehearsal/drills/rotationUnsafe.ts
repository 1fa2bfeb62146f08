/**
 * The two unsafe rotation orders, each "passing" only when the real apiserver shows the damage and the
 * drill names every object it cannot read, with the apiserver's own error:
 *  (a) a new key made primary on one apiserver without the staged step: the others cannot read what it
 *      writes until they have the key too (an outage in the window; transitions.ts refuses it at preview);
 *  (b) the old key dropped before the rewrite: the apiserver without it never becomes ready and cannot
 *      read anything still under the old key (data loss once every apiserver runs that way; preview
 *      cannot see etcd, so `verify-encryption --retiring` is the gate that stops it).
 * Each ends with the cluster whole again (the rolling restart completed; the old key put back).
 */
import { keyTransitionProblems } from "../../components/encryption/transitions";
import { freshKey, stateRecords, storedPrefix, type KeyStates } from "../../harness/encryptionKeys";
import { failingChecks } from "../../harness/kubeApiserver";
import { whileWriting, type ServerReads } from "./apiserverData";
import { hashOf, runConfigStatus } from "./encryptionAtRest";
import { everyoneReadsAll, retiringGate, stepConfig, type Rotation } from "./rotationSteps";
import { clip, expect, runDrill, type DrillResult } from "./types";

/** Runs (a) then (b) from `current` (the states every apiserver runs after the safe rotation). */
export async function runUnsafeOrders(rot: Rotation, current: KeyStates): Promise<DrillResult[]> {
  const holder = { states: current };
  const a = await runDrill(
    "rotation unsafe (a): a new key made primary without the staged step is caught",
    () => promoteWithoutStaging(rot, holder),
  );
  if (!a.passed) return [a];
  const b = await runDrill("rotation unsafe (b): the old key dropped before the rewrite is caught", () =>
    dropBeforeRewrite(rot, holder.states),
  );
  return [a, b];
}

const sorted = (ids: Iterable<string>) => [...ids].sort();
const same = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
/** The ids whose stored value starts with `prefix`. */
const storedUnder = (stored: Map<string, string>, prefix: string) =>
  sorted([...stored].filter(([, p]) => p === prefix).map(([id]) => id));

/** `secrets/ns/x: <error>` for one failed read, as the apiserver said it. */
function firstError(r: ServerReads): string {
  const [id, e] = [...r.errors][0] ?? ["-", "-"];
  return `${id}: ${clip(e, 320)}`;
}

async function promoteWithoutStaging(rot: Rotation, holder: { states: KeyStates }): Promise<string> {
  const from = holder.states;
  const current = Object.keys(from).find((k) => from[k] === "primary")!;
  const provider = rot.keys.find((k) => k.name === current)!.provider;
  const neu = freshKey("rot-unsafe-a", provider === "kms" ? "secretbox" : provider);
  rot.keys.unshift(neu);
  const to: KeyStates = { ...from, [neu.name]: "primary", [current]: "retired" };
  const refused = keyTransitionProblems(stateRecords(rot.keys, from), stateRecords(rot.keys, to), 0);
  const refusal = refused.find((p) => p.key === neu.name);
  expect(refusal, `transitions.ts does not refuse making ${neu.name} primary without staging`);
  const { file, yaml } = stepConfig(rot, to, "unsafe-a");
  const [first, ...rest] = rot.servers;
  first.writeEncryptionConfig(yaml);
  await whileWriting(rot.data, rest, first.restart());
  await Promise.all(rot.servers.map((s) => rot.data.write(s, "unsafe-a")));
  const underNew = storedUnder(await rot.data.storedPrefixes(rot.ctx.etcd), storedPrefix(neu));
  expect(underNew.length > 0, `${first.name} stored nothing under ${storedPrefix(neu)}`);
  const reads = await Promise.all(rot.servers.map((s) => rot.data.readAll(s)));
  expect(
    reads[0].errors.size === 0 && reads[0].wrong.length === 0,
    `${first.name} cannot read its own writes`,
  );
  for (const r of reads.slice(1)) {
    expect(
      r.errors.size > 0,
      `NOT CAUGHT: ${r.server} read every object ${first.name} wrote with ${neu.name}`,
    );
    expect(
      same(sorted(r.errors.keys()), underNew),
      `${r.server} cannot read ${sorted(r.errors.keys()).join(", ")}; expected exactly the ${underNew.length} objects under ${neu.name}: ${underNew.join(", ")}`,
    );
  }
  const gate = await runConfigStatus(rot.ctx.fleet, rot.servers, file);
  expect(
    gate.code === 1,
    `encryption-config-status exited ${gate.code} while ${rest.map((s) => s.name).join(", ")} lacked the key`,
  );
  // Finish the rolling restart (both at once): once every apiserver has the key, everything reads again.
  for (const s of rest) s.writeEncryptionConfig(yaml);
  await whileWriting(rot.data, [first], Promise.all(rest.map((s) => s.restart())));
  const after = await everyoneReadsAll(rot);
  holder.states = to;
  return (
    `caught: ${first.name} restarted with ${neu.name} primary while ${rest.map((s) => s.name).join(" and ")} had never ` +
    `loaded it; ${underNew.length} objects went to etcd as ${storedPrefix(neu)} and each of the others failed exactly ` +
    `those: ${reads[1].server} ${firstError(reads[1])} (${reads
      .slice(1)
      .map((r) => `${r.server}: ${r.errors.size}`)
      .join(", ")} ` +
    `failed reads). transitions.ts refuses the step at preview: "${clip(refusal.message, 140)}"; encryption-config-status ` +
    `exit ${gate.code} (only ${first.name} loaded ${hashOf(gate.output)}). Once all 3 restarted: ${after} — an outage in ` +
    `the window, not loss`
  );
}

async function dropBeforeRewrite(rot: Rotation, from: KeyStates): Promise<string> {
  const primary = Object.keys(from).find((k) => from[k] === "primary")!;
  const old = rot.keys.find((k) => from[k.name] === "retired")!;
  const stored = await rot.data.storedPrefixes(rot.ctx.etcd);
  const underOld = storedUnder(stored, storedPrefix(old));
  expect(underOld.length > 0, `nothing is stored under ${old.name}: no rewrite was skipped`);
  const gate = await retiringGate(rot, old, 1);
  const to: KeyStates = { ...from, [old.name]: "archived" };
  const accepted = keyTransitionProblems(stateRecords(rot.keys, from), stateRecords(rot.keys, to), 0);
  const { [old.name]: _dropped, ...withoutOld } = from;
  const deleted = keyTransitionProblems(stateRecords(rot.keys, from), stateRecords(rot.keys, withoutOld), 0);
  expect(
    accepted.length === 0,
    `transitions.ts refuses retired → archived: ${accepted.map((p) => p.message).join("; ")}`,
  );
  const deletion = deleted.find((p) => p.key === old.name);
  expect(deletion, `transitions.ts accepts deleting the retired key ${old.name} outright`);
  const [first] = rot.servers;
  first.writeEncryptionConfig(stepConfig(rot, to, "unsafe-b").yaml);
  // It cannot read what it must (its own configmaps too): it serves requests but cannot become ready.
  await first.restart({ until: "serving" });
  const reads = await rot.data.readAll(first);
  const readyz = await first.get("/readyz?verbose");
  expect(reads.errors.size > 0, `NOT CAUGHT: ${first.name} read every object without ${old.name}`);
  expect(
    same(sorted(reads.errors.keys()), underOld),
    `${first.name} cannot read ${sorted(reads.errors.keys()).join(", ")}; expected exactly the ${underOld.length} objects under ${old.name}`,
  );
  expect(readyz.status !== 200, `${first.name} reports ready without ${old.name}`);
  // Put the key back: the data was never lost, because the key still existed.
  first.writeEncryptionConfig(stepConfig(rot, from, "unsafe-b-recovered").yaml);
  await first.restart();
  const after = await everyoneReadsAll(rot);
  return (
    `caught: ${first.name} restarted without ${old.name} (${primary} primary, no rewrite) is not ready ` +
    `(/readyz ${readyz.status}: ${failingChecks(readyz.body)}) and cannot read exactly the ${underOld.length} objects ` +
    `still under ${storedPrefix(old)}: ${firstError(reads)}. With every apiserver restarted that way they would be ` +
    `lost. The gate would have stopped it: ${gate}. transitions.ts accepts retired → archived (it cannot see etcd) and ` +
    `refuses deleting the key outright: "${clip(deletion.message, 120)}". With ${old.name} put back: ${after}`
  );
}
