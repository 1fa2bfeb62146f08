/**
 * `npm run rehearse -- --matrix`: the rehearsal on every supported etcd minor this machine runs (Debian's
 * 3.4 and the built 3.5, 3.6, 3.7), each rendered for that release and run on its binaries — the TLS and
 * rejection drills, the node bootstrap drills and the snapshot/restore drill — then the rolling upgrade
 * drill through the built minors. Ends with a version × drill table; DIR/report.json holds the matrix,
 * DIR/<version>/report.json each version's own report, DIR/upgrade/ the upgrade drill's cluster.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { layout } from "../harness/layout";
import { binaryEtcdVersion, etcdReleases, type EtcdRelease } from "../harness/upstream";
import { runUpgradeDrill } from "./drills/upgrade";
import type { DrillResult } from "./drills/types";
import type { LiveDrillScope } from "./liveDrills";

/** One version's rehearsal (the rehearse command passes its own `rehearse`). */
export type RehearseOne = (o: {
  stack: string;
  outDir: string;
  renderOnly: boolean;
  keepRunning: boolean;
  log: (line: string) => void;
  scope: LiveDrillScope;
  release: EtcdRelease;
  configOverrides: Record<string, string>;
}) => Promise<{ etcdVersion: string; passed: boolean; drills: DrillResult[] }>;

/** The table's rows: drill groups by the start of a drill's name (the first that matches). */
export const matrixGroups: { group: string; prefixes: string[] }[] = [
  { group: "TLS", prefixes: ["mutual TLS", "put/get", "server and peer certs"] },
  { group: "rejection", prefixes: ["rejected:"] },
  { group: "node bootstrap", prefixes: ["node bootstrap:"] },
  { group: "snapshot/restore", prefixes: ["snapshot:"] },
  { group: "upgrade", prefixes: ["upgrade"] },
  // Render-time checks: certs, file modes, CIS 2.1–2.7, the EncryptionConfiguration.
  { group: "artifacts", prefixes: [""] },
];

export interface MatrixCell {
  passed: number;
  failed: number;
}

export interface MatrixRow {
  /** The version the binary reports. */
  etcdVersion: string;
  minor: string;
  /** The per-version report (DIR/<version>/report.json), or undefined for the upgrade drill. */
  report?: string;
  passed: boolean;
  drills: DrillResult[];
}

export interface MatrixReport {
  stack: string;
  matrix: true;
  startedAt: string;
  finishedAt: string;
  passed: boolean;
  /** The versions, in order (columns of the table). */
  versions: string[];
  /** group → version → counts (an absent version: the group did not run there). */
  table: Record<string, Record<string, MatrixCell>>;
  rows: MatrixRow[];
  upgrade: { releases: string[]; drills: DrillResult[]; clusterVersions: string[]; remaps: string[] };
  /** Seconds each version's rehearsal took, and the upgrade drill. */
  seconds: Record<string, number>;
}

const groupOf = (name: string) => matrixGroups.find((g) => g.prefixes.some((p) => name.startsWith(p)))!.group;

function addCells(table: MatrixReport["table"], version: string, drills: DrillResult[]): void {
  for (const d of drills) {
    const g = groupOf(d.name);
    const cell = ((table[g] ??= {})[version] ??= { passed: 0, failed: 0 });
    if (d.passed) cell.passed++;
    else cell.failed++;
  }
}

export async function rehearseMatrix(o: {
  stack: string;
  outDir: string;
  log: (line: string) => void;
  rehearse: RehearseOne;
  releases?: EtcdRelease[];
}): Promise<MatrixReport> {
  const startedAt = new Date();
  const releases = o.releases ?? etcdReleases();
  fs.rmSync(o.outDir, { recursive: true, force: true });
  fs.mkdirSync(o.outDir, { recursive: true, mode: 0o700 });
  const table: MatrixReport["table"] = {};
  const rows: MatrixRow[] = [];
  const seconds: Record<string, number> = {};
  for (const release of releases) {
    const t0 = Date.now();
    o.log(`\n==== etcd ${release.version} (${release.source === "debian" ? "Debian's etcd" : "built"}) ====`);
    const outDir = path.join(o.outDir, release.version);
    const report = await o.rehearse({
      stack: o.stack,
      outDir,
      renderOnly: false,
      keepRunning: false,
      log: o.log,
      scope: "matrix",
      release,
      configOverrides: { "secure-etcd:etcdVersion": release.version },
    });
    rows.push({
      etcdVersion: report.etcdVersion,
      minor: release.minor,
      report: layout.report(outDir),
      passed: report.passed,
      drills: report.drills,
    });
    addCells(table, report.etcdVersion, report.drills);
    seconds[report.etcdVersion] = (Date.now() - t0) / 1000;
  }
  const built = releases.filter((r) => r.source === "built");
  const t0 = Date.now();
  o.log(`\n==== rolling upgrade ${built.map((r) => r.version).join(" → ")} under writes ====`);
  const upgrade = await runUpgradeDrill({
    stack: o.stack,
    outDir: path.join(o.outDir, "upgrade"),
    releases: built,
    log: o.log,
  });
  seconds.upgrade = (Date.now() - t0) / 1000;
  for (const d of upgrade.drills)
    o.log(
      `  ${d.passed ? "PASS" : "FAIL"}  ${d.name} (${d.seconds.toFixed(2)}s)${d.passed ? "" : ` — ${d.detail}`}`,
    );
  // The upgrade drill counts under every version it ran.
  for (const r of built) addCells(table, binaryEtcdVersion(r.etcd), upgrade.drills);
  const report: MatrixReport = {
    stack: o.stack,
    matrix: true,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    passed: rows.every((r) => r.passed) && upgrade.drills.every((d) => d.passed),
    versions: rows.map((r) => r.etcdVersion),
    table,
    rows,
    upgrade: {
      releases: built.map((r) => r.version),
      drills: upgrade.drills,
      clusterVersions: upgrade.clusterVersions,
      remaps: upgrade.remaps,
    },
    seconds,
  };
  fs.writeFileSync(layout.report(o.outDir), JSON.stringify(report, null, 2) + "\n", { mode: 0o600 });
  return report;
}

/** The version × drill table: one row per drill group, one column per version, `pass n` / `FAIL f/n`. */
export function formatMatrixTable(m: MatrixReport): string {
  const groups = matrixGroups.map((g) => g.group).filter((g) => m.table[g]);
  const w = Math.max(5, ...groups.map((g) => g.length));
  const cellText = (c: MatrixCell | undefined) =>
    !c ? "—" : c.failed === 0 ? `pass ${c.passed}` : `FAIL ${c.failed}/${c.passed + c.failed}`;
  const cw = Math.max(9, ...m.versions.map((v) => v.length));
  const lines = [
    `${"drill".padEnd(w)}  ${m.versions.map((v) => v.padEnd(cw)).join("  ")}`,
    `${"-".repeat(w)}  ${m.versions.map(() => "-".repeat(cw)).join("  ")}`,
  ];
  for (const g of groups)
    lines.push(`${g.padEnd(w)}  ${m.versions.map((v) => cellText(m.table[g][v]).padEnd(cw)).join("  ")}`);
  const failed = m.rows
    .flatMap((r) => r.drills)
    .concat(m.upgrade.drills)
    .filter((d) => !d.passed);
  lines.push(
    "",
    `upgrade ${m.upgrade.releases.join(" → ")}: cluster version ${m.upgrade.clusterVersions.join(" → ") || "(not read)"}`,
    `${failed.length === 0 ? "every drill passed" : `${failed.length} drill(s) failed: ${failed.map((d) => d.name).join("; ")}`}`,
  );
  return lines.join("\n");
}
