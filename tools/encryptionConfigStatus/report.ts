/**
 * What the apiservers' answers mean: which apiserver runs which config, which lags, the exit code, and
 * how it is shown (a table for people, JSON for pipelines). Pure.
 */
import { lastReloadFailed, type EncryptionConfigFacts } from "./metrics";

/** One apiserver's answer: its metrics, or why it could not be read. */
export type Answer = { url: string; facts: EncryptionConfigFacts } | { url: string; error: string };

export type State = "loaded" | "lags" | "differs" | "unchecked";

export interface ApiserverStatus {
  url: string;
  state: State;
  /** The loaded config's hash, when reported. */
  hash?: string;
  apiserverIdHash?: string;
  /** Set when its last automatic reload failed (ISO time): it kept running the config it had. */
  lastReloadFailedAt?: string;
  /** Why it is unchecked, lags or differs. */
  why?: string;
}

export interface StatusReport {
  expected?: { hash: string; source: string };
  apiservers: ApiserverStatus[];
  /** 0 all loaded; 1 some lag or differ; 3 some could not be checked (and none lags). */
  code: 0 | 1 | 3;
  summary: string;
}

export function judge(answers: readonly Answer[], expected?: { hash: string; source: string }): StatusReport {
  const statuses = answers.map((a) => baseStatus(a));
  markSameApiserver(statuses);
  const checked = statuses.filter((s) => s.state !== "unchecked");
  const hashes = [...new Set(checked.map((s) => s.hash!))];
  for (const s of checked) {
    if (expected && s.hash !== expected.hash) {
      s.state = "lags";
      s.why = `loaded ${s.hash}, not the expected ${expected.hash}`;
    } else if (!expected && hashes.length > 1) {
      s.state = "differs";
      s.why = "the apiservers report different configs";
    }
  }
  const lagging = statuses.filter((s) => s.state === "lags" || s.state === "differs");
  const unchecked = statuses.filter((s) => s.state === "unchecked");
  const names = (l: ApiserverStatus[]) => l.map((s) => s.url).join(", ");
  let code: StatusReport["code"] = 0;
  let summary: string;
  if (lagging.length > 0) {
    code = 1;
    summary = expected
      ? `${lagging.length} of ${statuses.length} apiserver${plural(statuses.length)} lag${lagging.length === 1 ? "s" : ""}: ` +
        `${names(lagging)} ${lagging.length === 1 ? "has" : "have"} not loaded ${expected.hash}. Restart ` +
        `${lagging.length === 1 ? "it" : "them"} (kubelet restarts a static pod only when its manifest changes), or ` +
        `with --encryption-provider-config-automatic-reload wait for the reload (the file is polled every minute), ` +
        `then run this again: the next rotation step waits until every apiserver has loaded this config`
      : `the apiservers run ${hashes.length} different configs (${hashes.join(", ")}): pass --expect FILE to name ` +
        `the one they must all load`;
    if (unchecked.length > 0) summary += `; not checked: ${names(unchecked)}`;
  } else if (unchecked.length > 0) {
    code = 3;
    summary = `not checked: ${names(unchecked)} — nothing is claimed for ${unchecked.length === 1 ? "it" : "them"}`;
  } else
    summary =
      `all ${statuses.length} apiserver${plural(statuses.length)} loaded ${hashes[0]}` +
      (expected ? ` (${expected.source})` : "");
  return { expected, apiservers: statuses, code, summary };
}

function baseStatus(a: Answer): ApiserverStatus {
  if ("error" in a) return { url: a.url, state: "unchecked", why: a.error };
  const f = a.facts;
  if (f.infoSamples !== 1 || !f.hash)
    return {
      url: a.url,
      state: "unchecked",
      why:
        f.infoSamples === 0
          ? "it does not report apiserver_encryption_config_controller_last_config_info (no " +
            "--encryption-provider-config, or a kube-apiserver older than 1.34)"
          : `it reports ${f.infoSamples} last_config_info samples, expected one`,
    };
  const failed = lastReloadFailed(f) ? new Date(f.reloads.failure!.lastAt! * 1000).toISOString() : undefined;
  return {
    url: a.url,
    state: "loaded",
    hash: f.hash,
    apiserverIdHash: f.apiserverIdHash,
    lastReloadFailedAt: failed,
  };
}

/** Two addresses that reach one apiserver (the same identity) verify only one: both become unchecked. */
function markSameApiserver(statuses: ApiserverStatus[]): void {
  const byId = new Map<string, ApiserverStatus[]>();
  for (const s of statuses)
    if (s.apiserverIdHash) byId.set(s.apiserverIdHash, [...(byId.get(s.apiserverIdHash) ?? []), s]);
  for (const same of byId.values())
    if (same.length > 1)
      for (const s of same) {
        s.state = "unchecked";
        s.why = `${same.map((x) => x.url).join(" and ")} reach the same apiserver (apiserver_id_hash ${s.apiserverIdHash}): give each apiserver's own address, not a load balancer's`;
      }
}

export function formatStatus(r: StatusReport): string {
  const rows = r.apiservers.map((s) => [
    s.url,
    s.hash ?? "-",
    s.state === "loaded" ? "ok" : s.state.toUpperCase(),
  ]);
  const w = [0, 1].map((i) =>
    Math.max(...[["kube-apiserver", "loaded EncryptionConfiguration"], ...rows].map((x) => x[i].length)),
  );
  const line = (c: string[]) => `${c[0].padEnd(w[0])}  ${c[1].padEnd(w[1])}  ${c[2]}`.trimEnd();
  const out = [line(["kube-apiserver", "loaded EncryptionConfiguration", "state"]), ...rows.map(line)];
  for (const s of r.apiservers) {
    if (s.why && s.state !== "loaded") out.push(`  ${s.url}: ${s.why}`);
    if (s.lastReloadFailedAt)
      out.push(
        `  ${s.url}: its last automatic reload FAILED at ${s.lastReloadFailedAt} (the file on its node could not be ` +
          `loaded; it keeps the config above — see "error processing encryption config file" in its log)`,
      );
  }
  if (r.expected) out.push("", `expected: ${r.expected.hash} (${r.expected.source})`);
  out.push("", `${r.code === 0 ? "OK" : r.code === 1 ? "FAIL" : "NOT CHECKED"}: ${r.summary}`);
  return out.join("\n");
}

export const statusJson = (r: StatusReport) => JSON.stringify({ passed: r.code === 0, ...r }, null, 2);

const plural = (n: number) => (n === 1 ? "" : "s");
