import type { KeyState } from "../config/constants";
import type { KeyStateRecord } from "../secureEtcdArgs";

export type { KeyStateRecord };

/*
 * Which changes of key states are safe, given the states last deployed. The rule behind every check:
 * a key that may encrypt something stored (it was ever primary, or it is retired) stays readable until
 * the operator has rewritten every object; a key becomes primary only after every API server could
 * already read with it (the staged step); an archived key outlives every snapshot that needs it.
 * DESIGN.md "Encryption providers" gives the order: stage → restart all → promote → restart all →
 * rewrite → verify → archive → delete after the snapshots expire.
 */

export interface TransitionProblem {
  /** The key concerned. */
  key: string;
  message: string;
}

const readable = (s: KeyState | undefined) => s === "primary" || s === "staged" || s === "retired";

/**
 * Problems with moving from `previous` (the last deployed states) to `next`. `archiveDays` is how long
 * an archived key must be kept (the environment's longest snapshot life); `now` decides whether it has.
 */
export function keyTransitionProblems(
  previous: readonly KeyStateRecord[],
  next: readonly KeyStateRecord[],
  archiveDays: number,
  now: Date = new Date(),
): TransitionProblem[] {
  const before = new Map(previous.map((k) => [k.name, k]));
  const after = new Map(next.map((k) => [k.name, k]));
  const oldPrimary = previous.find((k) => k.state === "primary");
  const out: TransitionProblem[] = [];
  for (const k of next) {
    const was = before.get(k.name)?.state;
    const wasProvider = before.get(k.name)?.provider;
    // The prefix `k8s:enc:<provider>:…:<name>:` ties stored data to the provider: same name, other
    // provider is a different key (for kms, another plugin and AWS key), and the old one would be gone.
    if (wasProvider !== undefined && wasProvider !== k.provider)
      out.push({
        key: k.name,
        message: `changes provider from ${wasProvider} to ${k.provider}; what it encrypted as ${wasProvider} would be unreadable; safe next step: keep ${JSON.stringify(k.name)} as it was and add the ${k.provider} key under a new name, as "staged"`,
      });
    if (k.state === "primary" && oldPrimary && oldPrimary.name !== k.name && !readable(was))
      out.push({
        key: k.name,
        message: `becomes primary but no API server can read with it yet (it was ${was ?? "not deployed"}); safe next step: add it as "staged", apply and restart every kube-apiserver, then make it primary`,
      });
    if (k.state === "archived" && (was === "primary" || was === "staged"))
      out.push({
        key: k.name,
        message: `goes from ${was} straight to archived; safe next step: ${was === "primary" ? `make another key primary and this one "retired", rewrite every object, run secure-etcd verify-encryption --retiring ${k.name}, then archive it` : "remove it while it is only staged, or promote it first"}`,
      });
  }
  for (const k of previous) {
    const now_ = after.get(k.name);
    if (now_) continue;
    if (k.state === "primary" || k.state === "retired")
      out.push({
        key: k.name,
        message: `was ${k.state} and is gone: whatever it encrypted would be unreadable; safe next step: keep it as "retired" until every object is rewritten and secure-etcd verify-encryption --retiring ${k.name} passes, then mark it "archived" with archivedOn`,
      });
    if (k.state === "archived") {
      const until = archiveUntil(k, archiveDays);
      if (until !== undefined && now < until)
        out.push({
          key: k.name,
          message: `is archived since ${k.archivedOn} and snapshots kept for ${archiveDays} days may still need it; safe next step: keep it archived until ${until.toISOString().slice(0, 10)}`,
        });
    }
  }
  return out;
}

function archiveUntil(k: KeyStateRecord, days: number): Date | undefined {
  if (!k.archivedOn) return undefined;
  const start = Date.parse(`${k.archivedOn}T00:00:00Z`);
  return Number.isNaN(start) ? undefined : new Date(start + days * 24 * 3600 * 1000);
}
