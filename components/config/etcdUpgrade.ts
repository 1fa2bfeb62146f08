import {
  compareVersions,
  formatVersion,
  minorOf,
  minorStepRequirements,
  newestCheckedOn,
  parseEtcdVersion,
  type EtcdVersion,
} from "../etcd/capabilities";
import { ConfigError } from "./errors";

/*
 * Whether moving a cluster from the etcd release it runs (or last deployed) to another is a step etcd
 * supports: one minor at a time, upward, from at least the patch etcd's upgrade guide sets for that step
 * (capabilities.ts `minorSteps`). Pure; the preview check (SecureEtcd's `previousEtcdVersion`) and the
 * `secure-etcd preflight` command both ask it, so they never disagree.
 */

export interface EtcdStep {
  /** Reasons the step is refused, each naming the safe next step. */
  problems: string[];
  /** Allowed, but worth saying (a patch downgrade; a minor step's live checks). */
  warnings: string[];
  /** The step changes minor (3.5 → 3.6): members must be rolled one at a time and checked first. */
  minorStep: boolean;
}

const parse = (v: string) => parseEtcdVersion(v);

/** The release to step to next from `from`, toward `to` (the newest checked patch of the next minor). */
function nextMinorRelease(from: EtcdVersion): string {
  const next: EtcdVersion = { major: from.major, minor: from.minor + 1, patch: 0 };
  return newestCheckedOn(next) ?? `${minorOf(next)}.x`;
}

/** The step from `from` (what the cluster runs or last deployed) to `to`. Versions must parse. */
export function etcdStep(fromText: string, toText: string): EtcdStep {
  const from = parse(fromText);
  const to = parse(toText);
  if (!from || !to) throw new Error(`etcdStep: ${JSON.stringify(fromText)} → ${JSON.stringify(toText)}`);
  const out: EtcdStep = { problems: [], warnings: [], minorStep: false };
  const f = formatVersion(from);
  const t = formatVersion(to);
  const minors = (to.major - from.major) * 1000 + (to.minor - from.minor);
  if (minors < 0) {
    out.problems.push(
      `${t} is a downgrade from ${f}: etcd cannot go back a minor by swapping binaries (a cluster ` +
        `fully upgraded to ${minorOf(from)} has a ${minorOf(from)} storage version); keep ${f}, or follow ` +
        `etcd's downgrade guide (etcdctl downgrade validate|enable ${minorOf(to)}) outside this package`,
    );
    return out;
  }
  if (minors === 0) {
    if (compareVersions(to, from) < 0)
      out.warnings.push(
        `etcdVersion goes down from ${f} to ${t} (a patch downgrade within ${minorOf(from)}): etcd allows it, ` +
          `but check it is what you want`,
      );
    return out;
  }
  if (minors > 1) {
    out.problems.push(
      `${t} skips ${minors === 2 ? "a minor release" : `${minors - 1} minor releases`} from ${f}: etcd ` +
        `upgrades one minor at a time; the safe next step is ${nextMinorRelease(from)}, deployed and ` +
        `rolled to every member, then the next minor`,
    );
    return out;
  }
  out.minorStep = true;
  const { floor, v2storeCheck } = minorStepRequirements(from, to);
  if (floor && compareVersions(from, floor) < 0) {
    const newest = newestCheckedOn(from);
    out.problems.push(
      `${t} steps from ${f}, below ${formatVersion(floor)}, the patch etcd's upgrade guide requires on every ` +
        `member before ${minorOf(to)}: first move etcdVersion to ${newest ?? formatVersion(floor)}` +
        `${newest && newest !== formatVersion(floor) ? ` (${formatVersion(floor)} or later)` : ""}, roll it to ` +
        `every member, then step to ${minorOf(to)}`,
    );
    return out;
  }
  out.warnings.push(
    `etcdVersion steps from ${minorOf(from)} to ${minorOf(to)}: before rolling the members, run ` +
      `\`secure-etcd preflight\` against the live cluster (every member on ` +
      `${floor ? `${formatVersion(floor)}+` : minorOf(from)}, no undeclared members` +
      `${v2storeCheck ? ", the v2 store check" : ""}), then replace one member's manifest at a time`,
  );
  return out;
}

/**
 * The preview check: refuses (ConfigError naming `etcdVersion`) a step from the version this stack last
 * deployed that etcd does not support; returns the warnings of an allowed one.
 */
export function checkEtcdVersionStep(previous: string, next: string, source: string): string[] {
  const where = `${source} (against the etcd version last deployed)`;
  if (!parse(previous))
    throw new ConfigError(
      [
        {
          path: "previousEtcdVersion",
          message: `${JSON.stringify(previous)} is not an etcd version like 3.6.17`,
        },
      ],
      where,
    );
  const step = etcdStep(previous, next);
  if (step.problems.length > 0)
    throw new ConfigError(
      step.problems.map((message) => ({ path: "etcdVersion", message })),
      where,
    );
  return step.warnings;
}
