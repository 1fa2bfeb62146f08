/** What a CIS check found: kube-bench's PASS/FAIL, and WARN where this package deliberately differs. */
export type CisStatus = "PASS" | "FAIL" | "WARN";

export interface Finding {
  status: CisStatus;
  /** Why, in one line: the value seen and what was expected. */
  reason: string;
}

/** One check on one thing (a member's manifest, a node file, an artifact). */
export interface TargetFinding extends Finding {
  target: string;
}

/** Where a check comes from: kube-bench's CIS config, or guidance beyond CIS (never a FAIL). */
export type CheckSource = "cis-1.12" | "guidance";

export interface CheckInfo {
  id: string;
  title: string;
  source: CheckSource;
  /** kube-bench's `scored` (Automated checks); guidance is never scored. */
  scored: boolean;
}

/** A check over every target it applies to, as one report row. */
export interface CheckResult extends CheckInfo, Finding {
  findings: TargetFinding[];
}

export const pass = (reason: string): Finding => ({ status: "PASS", reason });
export const fail = (reason: string): Finding => ({ status: "FAIL", reason });
export const warn = (reason: string): Finding => ({ status: "WARN", reason });

const rank: Record<CisStatus, number> = { PASS: 0, WARN: 1, FAIL: 2 };

/** The worst status wins: one failing member fails the check. */
export function worst(statuses: readonly CisStatus[]): CisStatus {
  return statuses.reduce<CisStatus>((w, s) => (rank[s] > rank[w] ? s : w), "PASS");
}

/**
 * Folds per-target findings into one row: targets with the same status and reason are grouped, the worst
 * first; when some targets did not pass, only those groups are shown (the rest passed).
 */
export function summarize(info: CheckInfo, findings: TargetFinding[]): CheckResult {
  if (findings.length === 0)
    return { ...info, status: "FAIL", reason: "nothing to check: no target was rendered", findings };
  const groups = new Map<string, { status: CisStatus; reason: string; targets: string[] }>();
  for (const f of findings) {
    const key = `${f.status}\u0000${f.reason}`;
    const g = groups.get(key) ?? { status: f.status, reason: f.reason, targets: [] };
    g.targets.push(f.target);
    groups.set(key, g);
  }
  const sorted = [...groups.values()].sort((a, b) => rank[b.status] - rank[a.status]);
  const shown = sorted.some((g) => g.status !== "PASS") ? sorted.filter((g) => g.status !== "PASS") : sorted;
  const rest = shown.length < sorted.length ? "; every other target passes" : "";
  const reason = shown.map((g) => `${g.reason} (${targetsOf(g.targets, findings.length)})`).join("; ") + rest;
  return { ...info, status: worst(findings.map((f) => f.status)), reason, findings };
}

function targetsOf(targets: string[], total: number): string {
  if (targets.length === total && total > 1) return `all ${total} targets`;
  const head = targets.slice(0, 3).join(", ");
  return targets.length > 3 ? `${head} and ${targets.length - 3} more` : head;
}
