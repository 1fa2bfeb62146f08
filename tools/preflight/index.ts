/**
 * `secure-etcd preflight`: before rolling a new etcd version (the stack's etcdVersion) onto a live
 * cluster, checks what the preview cannot see:
 *  - every declared member answers, and the step from the version it runs to the target is one etcd
 *    supports (components/config/etcdUpgrade.ts: no downgrade, no skipped minor, the guide's patch floor);
 *  - `member list` holds exactly the declared members: an undeclared one (the "zombie" a replaced EC2
 *    node leaves, k3s#13485) or a member never started blocks an upgrade, and is named with the command
 *    that removes it; a declared member that is not in the list is named too;
 *  - for the step into 3.6, the v2 store check on each data dir given (copied; see v2store.ts).
 * A check is "not checked" when it cannot run from here (the v2 store check needs the member's data dir):
 * the result is then never OK.
 */
import type { SecureEtcdSettings } from "../../components/config/schema";
import { etcdStep } from "../../components/config/etcdUpgrade";
import {
  compareVersions,
  formatVersion,
  minorOf,
  minorStepRequirements,
  parseEtcdVersion,
} from "../../components/etcd/capabilities";
import { clientUrl, peerUrl } from "../../components/manifests/urls";
import type { EtcdctlConnection } from "../verifyEncryption/etcdctl";
import { clusterVersion, memberList, memberStatus, type ListedMember, type MemberStatus } from "./live";
import { checkV2store, v2storeToolProblem } from "./v2store";

export type CheckStatus = "pass" | "fail" | "not checked";

export interface PreflightCheck {
  name: string;
  status: CheckStatus;
  detail: string;
}

export interface PreflightOptions {
  /** The stack's settings: its members and the target etcdVersion. */
  settings: Pick<SecureEtcdSettings, "members" | "etcdVersion">;
  /** Client URLs to ask (default: each declared member's client URL, in member order). */
  endpoints?: string[];
  tls: { cacert: string; cert: string; key: string };
  etcdctl: string;
  /** etcdutl of the release the cluster runs now (the v2 store check needs 3.5.32+'s). */
  etcdutl: string;
  /** Data dirs of members on this machine, for the v2 store check. */
  v2storeDataDirs?: string[];
}

export interface PreflightResult {
  target: string;
  /** The lowest version a member runs (what the cluster runs), when any member answered. */
  current?: string;
  clusterVersion?: string;
  checks: PreflightCheck[];
  /** 0 every check passed; 1 one failed; 3 none failed but one could not run here. */
  exitCode: 0 | 1 | 3;
}

const pass = (name: string, detail: string): PreflightCheck => ({ name, status: "pass", detail });
const fail = (name: string, detail: string): PreflightCheck => ({ name, status: "fail", detail });

export async function runPreflight(o: PreflightOptions): Promise<PreflightResult> {
  const target = o.settings.etcdVersion;
  const conn: EtcdctlConnection = { etcdctl: o.etcdctl, endpoints: [], ...o.tls };
  const endpoints = o.endpoints ?? o.settings.members.map(clientUrl);
  const statuses = await Promise.all(endpoints.map((e) => memberStatus(conn, e)));
  const answered = statuses.filter((s) => s.version !== undefined);
  const checks: PreflightCheck[] = [reachability(statuses)];
  const versions = answered.map((s) => parseEtcdVersion(s.version!)!).sort(compareVersions);
  const current = versions[0] && formatVersion(versions[0]);
  checks.push(versionSteps(answered, target));
  const reachable = answered.map((s) => s.endpoint);
  let listed: ListedMember[] | undefined;
  if (reachable.length > 0)
    try {
      listed = await memberList({ ...conn, endpoints: reachable });
    } catch (e) {
      checks.push(fail("member list", (e as Error).message));
    }
  if (listed) checks.push(memberListCheck(o.settings.members, listed));
  let cluster: string | undefined;
  if (reachable.length > 0)
    cluster = await clusterVersion(reachable[0], o.tls).then(
      (v) => v.cluster,
      () => undefined,
    );
  if (current) {
    const v2 = await v2storeCheck(o, current, target);
    if (v2) checks.push(v2);
  }
  const exitCode = checks.some((c) => c.status === "fail")
    ? 1
    : checks.some((c) => c.status === "not checked")
      ? 3
      : 0;
  return { target, current, clusterVersion: cluster, checks, exitCode };
}

function reachability(statuses: MemberStatus[]): PreflightCheck {
  const down = statuses.filter((s) => s.version === undefined);
  const up = statuses.filter((s) => s.version !== undefined).map((s) => `${s.endpoint} ${s.version}`);
  if (down.length > 0)
    return fail(
      "members answer",
      `${down.map((s) => `${s.endpoint}: ${s.error}`).join("; ")} — every member must be up and healthy before a step` +
        (up.length ? ` (answered: ${up.join(", ")})` : ""),
    );
  return pass("members answer", up.join(", "));
}

/** Every member's own step to the target: the same rules the preview applies to the stack. */
function versionSteps(answered: MemberStatus[], target: string): PreflightCheck {
  const name = `every member can step to ${target}`;
  if (answered.length === 0) return fail(name, "no member answered, so no version could be read");
  const problems: string[] = [];
  const floors = new Set<string>();
  for (const s of answered) {
    const step = etcdStep(s.version!, target);
    for (const p of step.problems) problems.push(`${s.endpoint} runs ${s.version}: ${p}`);
    const floor = minorStepRequirements(parseEtcdVersion(s.version!)!, parseEtcdVersion(target)!).floor;
    if (floor) floors.add(formatVersion(floor));
  }
  if (problems.length > 0) return fail(name, problems.join("; "));
  const on = answered.map((s) => s.version!).join(", ");
  return pass(
    name,
    `members run ${on}${floors.size ? `; all at or above the floor ${[...floors].join(", ")}` : ""}`,
  );
}

/** `member list` against the declared members: names and peer URLs, both ways. */
export function memberListCheck(
  declared: readonly { name: string; ip: string }[],
  listed: readonly ListedMember[],
): PreflightCheck {
  const name = "member list holds exactly the declared members";
  const problems: string[] = [];
  for (const m of listed) {
    const d = declared.find((x) => x.name === m.name && m.name !== "");
    const remove = `remove it: etcdctl member remove ${m.id}`;
    if (!m.started)
      problems.push(
        `member ${m.id} (peer ${m.peerUrls.join(" ")}) was added but never started — a zombie; ${remove}`,
      );
    else if (!d)
      problems.push(
        `member ${m.id} ${JSON.stringify(m.name)} (peer ${m.peerUrls.join(" ")}) is not declared in the stack — a ` +
          `zombie of a replaced node, or a member the stack does not know; ${remove}, or declare it`,
      );
    else if (!m.peerUrls.includes(peerUrl(d)))
      problems.push(
        `member ${JSON.stringify(m.name)} peers at ${m.peerUrls.join(" ")}, the stack declares ${peerUrl(d)}: ` +
          `fix the stack or the member (etcdctl member update ${m.id} --peer-urls=${peerUrl(d)})`,
      );
    else if (m.learner)
      problems.push(`member ${JSON.stringify(m.name)} is still a learner: promote it or wait`);
  }
  for (const d of declared)
    if (!listed.some((m) => m.name === d.name))
      problems.push(`declared member ${JSON.stringify(d.name)} (${peerUrl(d)}) is not in the cluster`);
  if (problems.length > 0) return fail(name, problems.join("; "));
  return pass(
    name,
    `${listed.length} started members: ${listed.map((m) => `${m.name} (${m.id})`).join(", ")}`,
  );
}

async function v2storeCheck(
  o: PreflightOptions,
  current: string,
  target: string,
): Promise<PreflightCheck | undefined> {
  const from = parseEtcdVersion(current)!;
  const to = parseEtcdVersion(target)!;
  if (!minorStepRequirements(from, to).v2storeCheck) return undefined;
  const name = `v2 store holds membership only (before ${minorOf(to)})`;
  const dirs = o.v2storeDataDirs ?? [];
  if (dirs.length === 0)
    return {
      name,
      status: "not checked",
      detail:
        `needs each member's data dir: run this on every member's node with --v2store-data-dir ` +
        `<data dir> and --etcdutl <the ${minorOf(from)}.32+ etcdutl>`,
    };
  const tool = await v2storeToolProblem(o.etcdutl);
  if (tool) return fail(name, tool);
  const results = [];
  for (const d of dirs) results.push(await checkV2store(o.etcdutl, d));
  const detail = results.map((r) => r.detail).join("; ");
  return results.every((r) => r.passed) ? pass(name, detail) : fail(name, detail);
}

/** The result as the command prints it: one line per check, then the verdict. */
export function formatPreflight(r: PreflightResult): string[] {
  const lines = [
    `preflight: etcd ${r.current ?? "(unknown)"} → ${r.target}` +
      (r.clusterVersion ? ` (cluster version ${r.clusterVersion})` : ""),
  ];
  for (const c of r.checks) lines.push(`  ${c.status.toUpperCase().padEnd(11)} ${c.name}: ${c.detail}`);
  const failed = r.checks.filter((c) => c.status === "fail").length;
  const open = r.checks.filter((c) => c.status === "not checked").length;
  lines.push(
    r.exitCode === 0
      ? "result: OK — every check passed; roll the members one at a time"
      : r.exitCode === 1
        ? `result: FAILED — ${failed} check(s) failed; fix them before the step`
        : `result: INCOMPLETE — ${open} check(s) could not run here; nothing failed`,
  );
  return lines;
}
