/**
 * What one change of key states does on a live cluster, found by trying it: three API servers on the
 * `from` configuration (with data under every key that may encrypt something: the primary and any
 * retired key), one of them restarted with `to` (a rolling restart's first step), everybody writing,
 * then every server reading everything back. Unsafe = some server cannot read some object. Beside it,
 * what components/encryption/transitions.ts says of the same change, so the two can be compared.
 */
import type { KeyState } from "../../components/config/constants";
import type { LocalEncryptionProvider } from "../../components/encryption/classifyStoredValue";
import { keyTransitionProblems, type TransitionProblem } from "../../components/encryption/transitions";
import type { EtcdctlConnection } from "../../tools/verifyEncryption/etcdctl";
import { encryptionConfigFor, freshKey, stateRecords, type DrillKey, type KeyStates } from "./drillKeys";
import { Fleet } from "./fleet";

export type Role = "a" | "b";
/** States of the two keys a and b; a role not listed is not deployed. */
export type RoleStates = Partial<Record<Role, KeyState>>;

/** Every set of states of two keys with exactly one primary: what a rotation moves between. */
export function twoKeyStateSets(): RoleStates[] {
  const others: (KeyState | undefined)[] = [undefined, "staged", "retired", "archived"];
  return (["a", "b"] as const).flatMap((primary) =>
    others.map((other) => ({
      [primary]: "primary",
      ...(other ? { [primary === "a" ? "b" : "a"]: other } : {}),
    })),
  );
}

export const describeRoles = (s: RoleStates) =>
  (["a", "b"] as const)
    .filter((r) => s[r])
    .map((r) => `${r}=${s[r]}`)
    .join(",");

export interface ProbeOptions {
  servers: { name: string; etcd: EtcdctlConnection }[];
  provider: LocalEncryptionProvider;
  namespace: string;
  from: RoleStates;
  to: RoleStates;
}

export interface UnreadableInProbe {
  server: string;
  key: string;
  /** How it was stored (provider/key). */
  storedAs: string;
  reason: string;
}

export interface ProbeResult {
  from: RoleStates;
  to: RoleStates;
  keys: Record<Role, DrillKey>;
  unreadable: UnreadableInProbe[];
  /** What transitions.ts says of from → to. */
  problems: TransitionProblem[];
  /** The probe's objects (delete them with fleet.deleteAll()). */
  fleet: Fleet;
}

const resources = ["secrets"] as const;

export async function probeTransition(o: ProbeOptions): Promise<ProbeResult> {
  const keys = { a: freshKey("probe-a", o.provider), b: freshKey("probe-b", o.provider) };
  const named = (s: RoleStates): KeyStates =>
    Object.fromEntries((["a", "b"] as const).filter((r) => s[r]).map((r) => [keys[r].name, s[r]!]));
  const config = (s: RoleStates) => encryptionConfigFor([keys.a, keys.b], named(s), resources);
  const fleet = new Fleet({
    servers: o.servers,
    encryptionConfig: config(o.from),
    namespace: o.namespace,
    resources,
  });
  const [first] = fleet.servers;
  // Data that may exist under `from`: a primary has encrypted writes, and so has a retired key.
  for (const role of ["a", "b"] as const)
    if (o.from[role] === "primary" || o.from[role] === "retired") {
      first.restart(config({ [role]: "primary" }));
      await fleet.write(first, "secrets", `seed-${role}`);
    }
  first.restart(config(o.from));
  await fleet.writeRound();
  first.restart(config(o.to));
  await fleet.writeRound([first.name]);
  const check = await fleet.checkReads();
  const unreadable = check.perServer.flatMap((p) =>
    p.unreadable.map((u) => ({
      server: p.server,
      key: u.key,
      storedAs: fleet.written.get(u.key)?.storedAs ?? "?",
      reason: u.reason,
    })),
  );
  const records = (s: RoleStates) => stateRecords([keys.a, keys.b], named(s));
  return {
    from: o.from,
    to: o.to,
    keys,
    unreadable,
    problems: keyTransitionProblems(records(o.from), records(o.to), 0),
    fleet,
  };
}

/**
 * How a probe compares with transitions.ts. They agree when "refused" ⇔ "something became unreadable".
 * Two disagreements are by design and named as such:
 *  - `gated`: accepted, yet unreadable objects appear, all under a key that went retired → archived.
 *    Whether a retired key still encrypts anything is a fact about etcd, which a preview cannot see:
 *    `verify-encryption --retiring` is the check that must pass before that step.
 *  - `stricter`: refused, yet nothing became unreadable, and every refusal is a staged key sent
 *    straight to archived (it never encrypted anything; the component asks to remove it instead).
 * Anything else is a `disagree`: one of the two is wrong.
 */
export type ProbeVerdict =
  | { kind: "agree"; unsafe: boolean }
  | { kind: "gated"; retiredKeys: string[] }
  | { kind: "stricter" }
  | { kind: "disagree"; why: string };

export function judgeProbe(p: ProbeResult): ProbeVerdict {
  const unsafe = p.unreadable.length > 0;
  const refused = p.problems.length > 0;
  if (unsafe === refused) return { kind: "agree", unsafe };
  const roles = ["a", "b"] as const;
  if (unsafe) {
    const retiredKeys = roles
      .filter((r) => p.from[r] === "retired" && p.to[r] === "archived")
      .map((r) => p.keys[r].name);
    const underThem = p.unreadable.every((u) => retiredKeys.some((k) => u.storedAs.endsWith(`/${k}`)));
    if (retiredKeys.length > 0 && underThem) return { kind: "gated", retiredKeys };
    const u = p.unreadable[0];
    return {
      kind: "disagree",
      why: `accepted by transitions.ts, but ${p.unreadable.length} read(s) failed, e.g. ${u.server} cannot read ${u.key} (${u.storedAs})`,
    };
  }
  const roleOf = (key: string) => roles.find((r) => p.keys[r].name === key);
  const stagedToArchived = p.problems.every((pr) => {
    const r = roleOf(pr.key);
    return r !== undefined && p.from[r] === "staged" && p.to[r] === "archived";
  });
  if (stagedToArchived) return { kind: "stricter" };
  return {
    kind: "disagree",
    why: `refused by transitions.ts (${p.problems.map((x) => x.message).join("; ")}) though every server read every object`,
  };
}
