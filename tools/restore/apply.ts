/**
 * Step 4 of a restore (only with `apply`, only for members on loopback): every member's restore, from the
 * same verified snapshot, staged and then swapped in. The members restore into a private staging
 * directory beside the target; only when all of them succeeded (and `snapshot status` accepted the
 * snapshot) are they renamed into place, so a failure — a full disk, a refused snapshot, a killed run —
 * leaves the target as it was, and the same command can simply run again.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { RestorePlan } from "../../components/backup/restorePlan";
import { UsageError } from "../shared/commandLine";
import { isLoopbackIp } from "../shared/loopback";
import { lastLine, run } from "../shared/process";
import { freeBytes } from "./pass";
import {
  RestoreNoSpace,
  RestoreRefused,
  type RestoreResult,
  type RestoreSettings,
  type StepContext,
} from "./types";

const STAGING_PREFIX = ".restore-staging-";

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

/**
 * Before the download: the target exists (0700), holds no member's data, and no staging left by an
 * earlier run that was killed (ours by name: removed).
 */
export function prepareTarget(target: string, dataDirs: string[]): void {
  fs.mkdirSync(target, { recursive: true, mode: 0o700 });
  for (const entry of fs.readdirSync(target))
    if (entry.startsWith(STAGING_PREFIX))
      fs.rmSync(path.join(target, entry), { recursive: true, force: true });
  for (const d of dataDirs)
    if (fs.existsSync(d) && fs.readdirSync(d).length > 0)
      throw new RestoreRefused(`${d} exists and is not empty; move it aside first`);
}

/** Every member needs its own copy of the snapshot: refuse before staging what cannot fit. */
export function checkTargetSpace(target: string, members: number, dbSize: number): void {
  // etcdutl copies the snapshot and adds a WAL and a snap file: a little margin per member.
  const needed = members * (dbSize + 64 * 1024 * 1024);
  const free = freeBytes(target);
  if (free < needed)
    throw new RestoreNoSpace(
      `no space for the restore: ${members} member(s) need about ${needed} bytes in ${target}, ${free} are free`,
    );
}

export interface StagedApply {
  staging: string;
  /** Member name → its data dir inside the staging directory. */
  stagedDir: (member: string) => string;
}

export function createStaging(target: string): StagedApply {
  const staging = fs.mkdtempSync(path.join(target, STAGING_PREFIX));
  fs.chmodSync(staging, 0o700);
  return { staging, stagedDir: (m) => path.join(staging, m) };
}

/** Runs every member's restore command (they name staged data dirs). */
export async function runMemberRestores(plan: RestorePlan, ctx: StepContext): Promise<void> {
  for (const m of plan.members) {
    ctx.log(`restore: ${m.member}: ${m.command}`);
    const r = await run(m.argv[0], m.argv.slice(1), {
      env: { ...ctx.env, ...m.env },
      timeoutMs: 30 * 60_000,
    });
    if (r.code === 0) {
      fs.chmodSync(m.dataDir, 0o700);
      continue;
    }
    const why = (lastLine(r.stderr) || lastLine(r.stdout)).replace(/[^\x20-\x7e]+/g, " ").slice(0, 300);
    if (/no space left on device|disk quota exceeded/i.test(r.output))
      throw new RestoreNoSpace(`no space left while restoring ${m.member} (${why}); nothing was swapped in`);
    throw new RestoreRefused(`restore of ${m.member} failed: ${why}`);
  }
}

/**
 * Moves the staged members into place, all or none: a rename that fails puts back the ones already moved.
 * @param finals member name → final data dir (empty or absent, checked by prepareTarget)
 */
export function swapIn(
  s: StagedApply,
  finals: { member: string; dataDir: string }[],
): RestoreResult["applied"] {
  const moved: { member: string; dataDir: string }[] = [];
  try {
    for (const f of finals) {
      if (fs.existsSync(f.dataDir)) fs.rmdirSync(f.dataDir); // empty: checked before the download
      fs.renameSync(s.stagedDir(f.member), f.dataDir);
      moved.push(f);
    }
  } catch (e) {
    for (const f of moved.reverse()) fs.renameSync(f.dataDir, s.stagedDir(f.member));
    throw e;
  } finally {
    fs.rmSync(s.staging, { recursive: true, force: true });
  }
  return moved;
}
