/**
 * What kube-apiserver says about the EncryptionConfiguration it runs, read from its /metrics
 * (k8s.io/apiserver pkg/server/options/encryptionconfig/metrics/metrics.go, checked at v0.37.2):
 *  - `apiserver_encryption_config_controller_last_config_info{apiserver_id_hash, hash} 1` — one sample,
 *    set when the config is loaded at start and after each successful automatic reload; `hash` is
 *    `sha256:<hex>` of the file's bytes (encryptionconfig/config.go computeEncryptionConfigHash), and
 *    `apiserver_id_hash` the sha256 of the apiserver's identity ("" with APIServerIdentity off);
 *  - `apiserver_encryption_config_controller_automatic_reloads_total{apiserver_id_hash, status}` and
 *    `…_automatic_reload_last_timestamp_seconds{apiserver_id_hash, status}`, status success|failure,
 *    only with --encryption-provider-config-automatic-reload.
 * Pure: the Prometheus text format in, these facts out.
 */

export const lastConfigInfo = "apiserver_encryption_config_controller_last_config_info";
export const reloadsTotal = "apiserver_encryption_config_controller_automatic_reloads_total";
export const reloadTimestamp =
  "apiserver_encryption_config_controller_automatic_reload_last_timestamp_seconds";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of the named metrics in a Prometheus text exposition (comments and other metrics skipped). */
export function samplesOf(text: string, names: ReadonlySet<string>): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
    if (!name || !names.has(name)) continue;
    const { labels, rest } = parseLabels(line.slice(name.length));
    const value = Number(rest.trim().split(/\s+/)[0]);
    out.push({ name, labels, value });
  }
  return out;
}

/** `{a="x",b="y\"z"} 1` → the labels and what follows the closing brace. */
function parseLabels(s: string): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  if (!s.startsWith("{")) return { labels, rest: s };
  let i = 1;
  for (;;) {
    while (s[i] === " " || s[i] === ",") i++;
    if (s[i] === "}") return { labels, rest: s.slice(i + 1) };
    const eq = s.indexOf("=", i);
    if (eq < 0 || s[eq + 1] !== '"') throw new Error(`malformed metric labels: ${s.slice(0, 120)}`);
    const key = s.slice(i, eq).trim();
    let value = "";
    let j = eq + 2;
    for (; j < s.length && s[j] !== '"'; j++) {
      if (s[j] === "\\") {
        j++;
        value += s[j] === "n" ? "\n" : s[j];
      } else value += s[j];
    }
    if (j >= s.length) throw new Error(`malformed metric labels: ${s.slice(0, 120)}`);
    labels[key] = value;
    i = j + 1;
  }
}

export interface ReloadOutcome {
  count: number;
  /** When the last one happened (seconds since the epoch), if reported. */
  lastAt?: number;
}

export interface EncryptionConfigFacts {
  /** The loaded config's hash (`sha256:<hex>`); undefined when the metric is absent. */
  hash?: string;
  /** The apiserver's identity hash ("" when its identity is off). */
  apiserverIdHash?: string;
  /** How many last_config_info samples there were (exactly one is expected). */
  infoSamples: number;
  reloads: { success?: ReloadOutcome; failure?: ReloadOutcome };
}

export function encryptionConfigFacts(metricsText: string): EncryptionConfigFacts {
  const samples = samplesOf(metricsText, new Set([lastConfigInfo, reloadsTotal, reloadTimestamp]));
  const info = samples.filter((s) => s.name === lastConfigInfo);
  const facts: EncryptionConfigFacts = { infoSamples: info.length, reloads: {} };
  if (info.length === 1) {
    facts.hash = info[0].labels.hash;
    facts.apiserverIdHash = info[0].labels.apiserver_id_hash ?? "";
  }
  for (const status of ["success", "failure"] as const) {
    const count = samples.find((s) => s.name === reloadsTotal && s.labels.status === status)?.value;
    const lastAt = samples.find((s) => s.name === reloadTimestamp && s.labels.status === status)?.value;
    if (count !== undefined || lastAt !== undefined) facts.reloads[status] = { count: count ?? 0, lastAt };
  }
  return facts;
}

/** True when the last automatic reload that happened failed: the apiserver kept its old config. */
export function lastReloadFailed(f: EncryptionConfigFacts): boolean {
  const failedAt = f.reloads.failure?.lastAt;
  if (failedAt === undefined) return false;
  const okAt = f.reloads.success?.lastAt;
  return okAt === undefined || failedAt > okAt;
}
