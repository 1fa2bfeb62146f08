/**
 * Step 4 of a restore (only with `apply`, only for members on loopback): run every member's restore
 * command, from the same snapshot, into fresh data dirs.
 */
import * as fs from "node:fs";
import type { RestorePlan } from "../../components/backup/restorePlan";
import { UsageError } from "../shared/commandLine";
import { isLoopbackIp } from "../shared/loopback";
import { lastLine, run } from "../shared/process";
import { RestoreRefused, type RestoreResult, type RestoreSettings, type StepContext } from "./types";

/** A restore runs for real only on this host: refuse before anything is downloaded. */
export function refuseRemoteTargets(members: RestoreSettings["members"]): void {
  const remote = members.filter((m) => !isLoopbackIp(m.ip));
  if (remote.length > 0)
    throw new UsageError(
      "--apply",
      `only restores local targets (members on 127.0.0.0/8 or ::1); ${remote.map((m) => `${m.name} is ${m.ip}`).join(", ")} — ` +
        "run the printed commands on the members instead",
    );
}

export async function applyRestore(
  plan: RestorePlan,
  target: string,
  ctx: StepContext,
): Promise<RestoreResult["applied"]> {
  fs.mkdirSync(target, { recursive: true, mode: 0o700 });
  for (const m of plan.members)
    if (fs.existsSync(m.dataDir) && fs.readdirSync(m.dataDir).length > 0)
      throw new RestoreRefused(`${m.dataDir} exists and is not empty; move it aside first`);
  const applied: RestoreResult["applied"] = [];
  for (const m of plan.members) {
    if (fs.existsSync(m.dataDir)) fs.rmdirSync(m.dataDir); // empty: restore wants to create it
    ctx.log(`restore: ${m.member}: ${m.command}`);
    const r = await run(m.argv[0], m.argv.slice(1), {
      env: { ...ctx.env, ...m.env },
      timeoutMs: 30 * 60_000,
    });
    if (r.code !== 0)
      throw new RestoreRefused(`restore of ${m.member} failed: ${lastLine(r.stderr) || lastLine(r.stdout)}`);
    fs.chmodSync(m.dataDir, 0o700);
    applied.push({ member: m.member, dataDir: m.dataDir });
  }
  ctx.log(`restore: restored ${applied.length} member(s) into ${target}`);
  return applied;
}
