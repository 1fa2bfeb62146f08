/**
 * What the scan means (the verdict and exit code) and how it is shown: a table for people, JSON for
 * pipelines. Both are built from names and counts only; a ScanReport holds no value to leak, and its
 * object names are escaped (objectKeys), so no name can print a line of its own.
 */
import { objectName, type ObjectRef } from "./objectKeys";
import type { ScanReport } from "./scan";

export interface Verdict {
  passed: boolean;
  /** One line per reason the scan fails. */
  problems: string[];
}

export function verdict(r: ScanReport): Verdict {
  const problems: string[] = [];
  if (r.plaintext.length > 0)
    problems.push(`${r.plaintext.length} value${plural(r.plaintext.length)} stored in plaintext`);
  if (r.retiring && r.retiring.count > 0) {
    const found = new Set(r.retiring.objects.map((o) => o.resource));
    const where = [...(found.size > 0 ? found : r.resources)].join(",");
    problems.push(
      `retiring key ${r.retiring.name} still encrypts ${r.retiring.count} value${plural(r.retiring.count)}: ` +
        `rewrite every object (kubectl get ${where} -A -o json | kubectl replace -f -) before it leaves the config`,
    );
  }
  const unrecognized = r.retiring?.unrecognized.length ?? 0;
  if (r.retiring && unrecognized > 0)
    problems.push(
      `${unrecognized} value${plural(unrecognized)} outside ${r.resources.join(", ")} start${unrecognized === 1 ? "s" : ""} with k8s:enc: ` +
        `in no form verify-encryption reads: retiring key ${r.retiring.name} may encrypt them`,
    );
  return { passed: problems.length === 0, problems };
}

/** In text mode the objects still under the retiring key are listed up to this many (all in --json). */
const retiringListed = 20;

export function formatReport(r: ScanReport, v: Verdict = verdict(r)): string {
  const lines = [
    `scanned ${r.scanned} value${plural(r.scanned)} of ${r.resources.join(", ")} under ${r.etcdPrefix}/ ` +
      `at revision ${r.revision} (${r.pages} page${plural(r.pages)}, ${r.seconds.toFixed(2)} s)`,
    "",
    ...table(
      ["resource", "provider", "key", "count"],
      r.counts.map((c) => [
        c.resource,
        c.provider === "kms" ? `kms ${c.version}` : c.provider,
        c.keyName ?? "-",
        String(c.count),
      ]),
    ),
  ];
  if (r.counts.length === 0) lines.push("(no values)");
  lines.push("", `plaintext: ${r.plaintext.length}`);
  for (const p of r.plaintext) lines.push(`  ${p.resource} ${objectName(p)}${p.note ? ` (${p.note})` : ""}`);
  if (r.retiring) {
    lines.push(
      "",
      `retiring key ${r.retiring.name}: ${r.retiring.count} value${plural(r.retiring.count)} ` +
        `(searched all ${r.retiring.searched} value${plural(r.retiring.searched)} under ${r.etcdPrefix}/)`,
    );
    lines.push(...listed(r.retiring.objects, retiringListed));
    if (r.retiring.unrecognized.length > 0) {
      lines.push(`values it may encrypt (k8s:enc: in no known form): ${r.retiring.unrecognized.length}`);
      lines.push(...listed(r.retiring.unrecognized, retiringListed));
    }
  }
  lines.push("", v.passed ? `OK: ${okLine(r)}` : `FAIL: ${v.problems.join("; ")}`);
  return lines.join("\n");
}

export function reportJson(r: ScanReport, v: Verdict = verdict(r)): string {
  return JSON.stringify({ passed: v.passed, problems: v.problems, ...r }, null, 2);
}

function okLine(r: ScanReport): string {
  const keys = [...new Set(r.counts.map((c) => `${c.provider}/${c.keyName}`))].join(", ");
  return (
    `no plaintext among ${r.scanned} value${plural(r.scanned)}${keys ? ` (${keys})` : ""}` +
    (r.retiring
      ? `; retiring key ${r.retiring.name} encrypts none of the ${r.retiring.searched} values under ${r.etcdPrefix}/: it may leave the config`
      : "")
  );
}

function listed(refs: ObjectRef[], max: number): string[] {
  const shown = refs.slice(0, max).map((o) => `  ${o.resource} ${objectName(o)}`);
  if (refs.length > max) shown.push(`  … and ${refs.length - max} more (--json lists all)`);
  return shown;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ");
  return [line(header), ...rows.map(line)];
}

const plural = (n: number) => (n === 1 ? "" : "s");
