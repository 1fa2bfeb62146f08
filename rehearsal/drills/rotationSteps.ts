/**
 * What the rotation drill (rotation.ts) and its unsafe orders (rotationUnsafe.ts) share: the drill's
 * state, each step's EncryptionConfiguration file, and the checks every step repeats.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { encryptionConfigFor, type AnyDrillKey, type KeyStates } from "../../harness/encryptionKeys";
import type { KubeApiserver } from "../../harness/kubeApiserver";
import type { ScanReport } from "../../tools/verifyEncryption/scan";
import { allRead, describeReads, type DrillData, type Written } from "./apiserverData";
import { runVerifyEncryption, type ApiserverDrillContext } from "./encryptionAtRest";
import { clip, DrillFailure, expect, runDrill, type DrillResult } from "./types";

/** What the rotation and its unsafe orders share. */
export interface Rotation {
  ctx: ApiserverDrillContext;
  servers: KubeApiserver[];
  data: DrillData;
  /** Every key the drill has deployed, in the order the configs list them. */
  keys: AnyDrillKey[];
  /** Where each step's EncryptionConfiguration is written (what --expect names). */
  stepDir: string;
  identityFallback: boolean;
  step: number;
}

/** Writes the config for `states` to the next step file and returns its path and text. */
export function stepConfig(rot: Rotation, states: KeyStates, label: string): { file: string; yaml: string } {
  const yaml = encryptionConfigFor(rot.keys, states, rot.ctx.stack.resources, rot.identityFallback);
  const file = path.join(
    rot.stepDir,
    `${String(++rot.step).padStart(2, "0")}-${label.replace(/\W+/g, "-")}.yaml`,
  );
  fs.writeFileSync(file, yaml, { mode: 0o600 });
  return { file, yaml };
}

/** Every running apiserver reads every object; returns the detail or throws naming what failed. */
export async function everyoneReadsAll(rot: Rotation): Promise<string> {
  const reads = await Promise.all(rot.servers.filter((s) => s.running).map((s) => rot.data.readAll(s)));
  expect(allRead(reads), describeReads(reads));
  return `all ${rot.data.written.size} objects read back by ${reads.map((r) => r.server).join(", ")}`;
}

/**
 * After one apiserver's restart: it reads every object (the old keys must still be in its new config),
 * and every other apiserver reads what was written since the restart began (perhaps under a key it must
 * already know). Each apiserver has then read every object since its config last changed.
 */
export async function readsAfterRestart(
  rot: Rotation,
  restarted: KubeApiserver,
  before: ReadonlySet<string>,
): Promise<string> {
  const fresh = [...rot.data.written.values()].filter((w) => !before.has(w.id));
  const others = rot.servers.filter((s) => s !== restarted && s.running);
  const reads = await Promise.all([
    rot.data.readAll(restarted),
    ...others.map((s) => rot.data.readAll(s, fresh)),
  ]);
  expect(allRead(reads), describeReads(reads));
  return (
    `${restarted.name} read all ${rot.data.written.size} objects back, ${others.map((s) => s.name).join(" and ")} ` +
    `the ${fresh.length} written since it went down`
  );
}

/** `apiserver-1 → k8s:enc:secretbox:v1:rot-new-…:` per writer, from the raw prefixes of `writes`. */
export async function whereWritesWent(rot: Rotation, writes: readonly Written[]): Promise<string> {
  const stored = await rot.data.storedPrefixes(rot.ctx.etcd);
  return [...new Set(writes.map((w) => `${w.by} → ${stored.get(w.id) ?? "(not in etcd)"}`))]
    .sort()
    .join(", ");
}

/** Runs a row only while every earlier row passed. */
export class Sequence {
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

/** verify-encryption --retiring KEY over every member must exit `code`. */
export async function retiringGate(rot: Rotation, key: AnyDrillKey, code: 0 | 1): Promise<string> {
  const args = ["--json", `--resources=${rot.data.resources.join(",")}`, `--retiring=${key.name}`];
  const run = await runVerifyEncryption(rot.ctx, args);
  expect(
    run.code === code,
    `verify-encryption ${args.join(" ")} exited ${run.code}, expected ${code}: ${clip(run.output, 300)}`,
  );
  const report = JSON.parse(run.output) as ScanReport;
  return (
    `verify-encryption --retiring ${key.name}: exit ${run.code}, ${report.retiring?.count ?? 0} of ${report.scanned} values under it` +
    (code === 1 ? ": dropping the key now would make them unreadable" : "")
  );
}
