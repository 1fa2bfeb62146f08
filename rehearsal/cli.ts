/*
 * npm run rehearse -- --stack NAME [--etcd-version V] [--out DIR] [--render-only] [--keep-running]
 * npm run rehearse -- --matrix [--stack NAME] [--out DIR]
 *
 * Runs the real program offline under an emulation of the tls/random providers (real crypto), writes
 * the artifacts, starts one real etcd per member with the flags from the rendered manifests — the
 * binaries of the stack's etcdVersion (or --etcd-version), i.e. the built release of that minor — and
 * drives it through security and recovery drills. --matrix does so on every supported minor and then
 * upgrades a live cluster 3.5 → 3.6 → 3.7 (rehearsal/matrix.ts). Exit 0 only if every drill passed; 1 if
 * any failed; 2 for bad input or config (the flag or config key is named; an unknown or unbuilt version
 * names the releases available).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { renderArtifacts, type RenderedArtifacts } from "../harness/artifacts";
import type { RunningCluster } from "../harness/cluster";
import { layout } from "../harness/layout";
import { availableStacks, readStackConfig, repoRoot } from "../harness/stackFiles";
import {
  binaryEtcdVersion,
  resolveEtcdRelease,
  UnknownEtcdRelease,
  type EtcdRelease,
} from "../harness/upstream";
import { parseFlags, reportFailure, UsageError } from "../tools/shared/commandLine";
import { runArtifactChecks } from "./drills/artifactChecks";
import { runBackupDrill, snapshotScheduleOf, type BackupMetrics } from "./drills/backup";
import { QUICK_WRITES_PER_CONFIG } from "./drills/kms/latency";
import type { DrillResult } from "./drills/types";
import { runClusterDrills, type LiveDrillScope, type ReportedMember } from "./liveDrills";
import { formatMatrixTable, rehearseMatrix } from "./matrix";

const usage = [
  "usage: npm run rehearse -- [--stack NAME] [--etcd-version V] [--out DIR] [--render-only] [--keep-running] [--quick]",
  "       npm run rehearse -- --matrix [--stack NAME] [--out DIR]",
  "  --etcd-version V   render for V and run the etcd built for V's minor (3.6 = its built patch)",
  "  --matrix           the TLS, rejection, node-bootstrap and snapshot/restore drills on every supported",
  "                     minor, then a rolling upgrade 3.5 → 3.6 → 3.7 under writes; a version × drill table",
  "  --quick            leave out the kms drills that wait on kube-apiserver's timers (plugin stopped, key",
  `                     disabled) and the move to a new AWS key; kms latency on ${QUICK_WRITES_PER_CONFIG} writes; report.json's`,
  "                     `skipped` names each",
].join("\n");

export interface RehearsalOptions {
  stack: string;
  outDir: string;
  renderOnly: boolean;
  keepRunning: boolean;
  log: (line: string) => void;
  /** Stack config overrides (tests use this to rehearse every key algorithm). */
  configOverrides?: Record<string, string>;
  /**
   * Which live drills run: "all" (the default, what `npm run rehearse` does) or "tls" — install every
   * member through the node bootstrap, start the cluster and run the TLS drills only. The tests rehearse
   * each key algorithm with "tls": the bootstrap, snapshot, encryption, rotation and backup drills do not
   * depend on the algorithm and run once, in the full rehearsal.
   */
  scope?: LiveDrillScope;
  /**
   * --quick: leave out the drills that mostly wait on kube-apiserver's own timers — on a kms stack the
   * plugin stopped and the key disabled (minutes each) and the move to a new AWS key — and measure the
   * kms write latency on QUICK_WRITES_PER_CONFIG writes per configuration instead of WRITES_PER_CONFIG. report.json names each drill
   * left out under `skipped`; for iterating on other parts (CI runs the prod stack in full).
   */
  quick?: boolean;
  /**
   * The etcd release to run (from --etcd-version or the stack's etcdVersion, see parseCli); default: the
   * built release of the rendered etcdVersion's minor.
   */
  release?: EtcdRelease;
}

/** DIR/report.json. */
export interface RehearsalReport {
  stack: string;
  renderOnly: boolean;
  artifactsDir: string;
  /** What the etcd binary that ran reports (`etcd --version`); the rendered version with --render-only. */
  etcdVersion: string;
  /** What the real kube-apiserver of the live drills reported at /version (not with --render-only). */
  kubeApiserverVersion?: string;
  /** Every change made so the stack runs on this one host: the artifacts' and the cluster runner's. */
  remaps: string[];
  startedAt: string;
  finishedAt: string;
  passed: boolean;
  drills: DrillResult[];
  /** Drills left out by --quick, each with why (never counted as passed); empty for a full rehearsal. */
  skipped: string[];
  /** The rehearsal cluster's members (not with --render-only). */
  members?: ReportedMember[];
  /** The backup drill's measurements (when it ran). */
  backup?: Partial<BackupMetrics>;
}

const rehearseFlags = {
  stack: { type: "string", default: "local" },
  out: { type: "string" },
  "etcd-version": { type: "string" },
  matrix: { type: "boolean", default: false },
  "render-only": { type: "boolean", default: false },
  "keep-running": { type: "boolean", default: false },
  quick: { type: "boolean", default: false },
} as const;

export type RehearsalCli = Omit<RehearsalOptions, "log"> & {
  matrix: boolean;
  /** --etcd-version as given (resolved to a release by {@link withRelease}). */
  etcdVersion?: string;
};

export function parseCli(argv: string[]): RehearsalCli {
  const v = parseFlags(argv, rehearseFlags);
  const stacks = availableStacks();
  if (!stacks.includes(v.stack))
    throw new UsageError(
      "--stack",
      `${JSON.stringify(v.stack)} has no stacks/Pulumi.${v.stack}.yaml; allowed: ${stacks.join(", ")}`,
    );
  if (v["render-only"] && v["keep-running"])
    throw new UsageError("--keep-running", "nothing runs with --render-only");
  if (v.matrix)
    for (const f of ["etcd-version", "render-only", "keep-running"] as const)
      if (v[f])
        throw new UsageError(`--${f}`, "does not apply with --matrix (it runs every supported minor)");
  return {
    stack: v.stack,
    outDir: path.resolve(
      v.out ?? path.join(repoRoot, ".rehearsal", v.matrix ? `${v.stack}-matrix` : v.stack),
    ),
    renderOnly: v["render-only"],
    keepRunning: v["keep-running"],
    quick: v.quick,
    matrix: v.matrix,
    etcdVersion: v["etcd-version"],
  };
}

/**
 * Which etcd runs: --etcd-version (rendered as asked; `3.6` means the built 3.6 patch) or the stack's
 * etcdVersion, mapped to the release built for that minor (a different patch is listed as a remap by
 * the cluster runner). A version this machine cannot run is a UsageError naming those it can.
 */
export function withRelease(o: RehearsalCli): RehearsalCli {
  if (o.matrix) return o;
  // Nothing runs: the version is only rendered (the schema checks it).
  if (o.renderOnly)
    return o.etcdVersion === undefined
      ? o
      : { ...o, configOverrides: { ...o.configOverrides, "secure-etcd:etcdVersion": o.etcdVersion } };
  // The stack's own version is checked by the schema when it renders; here only which binary runs it.
  const version = o.etcdVersion ?? readStackConfig(o.stack)["secure-etcd:etcdVersion"];
  if (version === undefined) return o;
  try {
    const found = resolveEtcdRelease(version);
    return {
      ...o,
      release: found.release,
      ...(o.etcdVersion !== undefined && {
        configOverrides: { ...o.configOverrides, "secure-etcd:etcdVersion": found.asked },
      }),
    };
  } catch (e) {
    if (!(e instanceof UnknownEtcdRelease)) throw e;
    throw new UsageError(
      "--etcd-version",
      o.etcdVersion === undefined
        ? `the stack's etcdVersion ${e.message}; pass --etcd-version with one of those`
        : e.message,
    );
  }
}

/** Runs a rehearsal and returns its report (also written to <out>/report.json). Throws ConfigError for bad config. */
export async function rehearse(o: RehearsalOptions): Promise<RehearsalReport & { running?: RunningCluster }> {
  const startedAt = new Date();
  const drills: DrillResult[] = [];
  const skipped: string[] = [];
  const record = (r: DrillResult | DrillResult[]) => {
    for (const d of Array.isArray(r) ? r : [r]) {
      drills.push(d);
      o.log(
        `  ${d.passed ? "PASS" : "FAIL"}  ${d.name} (${d.seconds.toFixed(2)}s)${d.passed ? "" : ` — ${d.detail}`}`,
      );
    }
  };
  const artifacts = await render(o);
  o.log("• checking the artifacts…");
  record(await runArtifactChecks(artifacts));
  const live = o.renderOnly ? undefined : await liveDrills(o, artifacts, record, skipped);
  const report: RehearsalReport = {
    stack: o.stack,
    renderOnly: o.renderOnly,
    artifactsDir: o.outDir,
    etcdVersion: live ? binaryEtcdVersion(live.release.etcd) : artifacts.settings.etcdVersion,
    ...(live?.kubeApiserverVersion && { kubeApiserverVersion: live.kubeApiserverVersion }),
    remaps: [...artifacts.remaps, ...(live?.remaps ?? [])],
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    passed: drills.length > 0 && drills.every((d) => d.passed),
    drills,
    skipped,
    ...(live && { members: live.members }),
    ...(live?.backup && { backup: live.backup }),
  };
  fs.writeFileSync(layout.report(o.outDir), JSON.stringify(report, null, 2) + "\n", { mode: 0o600 });
  return Object.assign(report, { running: live?.running });
}

async function render(o: RehearsalOptions): Promise<RenderedArtifacts> {
  o.log(`rehearsal: stack ${o.stack} → ${o.outDir}`);
  o.log("• rendering the program under the provider emulation (real keys and certs)…");
  if (fs.existsSync(o.outDir)) fs.rmSync(o.outDir, { recursive: true, force: true });
  const a = await renderArtifacts({
    stack: o.stack,
    outDir: o.outDir,
    mapMembersToLoopback: !o.renderOnly,
    configOverrides: o.configOverrides,
  });
  const s = a.settings;
  o.log(
    `  wrote ${a.files.length} files; ${s.members.length} members, etcd ${s.etcdVersion}, ${s.keyAlgorithm}`,
  );
  for (const r of a.remaps) o.log(`  remap: ${r}`);
  return a;
}

async function liveDrills(
  o: RehearsalOptions,
  a: RenderedArtifacts,
  record: (r: DrillResult | DrillResult[]) => void,
  skipped: string[],
) {
  o.log("• starting a real etcd cluster from the rendered manifests…");
  let backup: Partial<BackupMetrics> | undefined;
  const schedule = snapshotScheduleOf(a.settings);
  const live = await runClusterDrills(a, {
    release: o.release,
    keepRunning: o.keepRunning,
    log: o.log,
    record,
    scope: o.scope ?? "all",
    quick: o.quick ?? false,
    skip: (name, why) => {
      skipped.push(`${name} (${why})`);
      o.log(`  SKIP  ${name} — ${why}`);
    },
    extraDrills:
      o.scope === "tls" || o.scope === "matrix"
        ? undefined
        : async (cluster, workDir) => {
            o.log(
              `• backup: snapshot job → moto (S3) → restore tool → fresh cluster (RPO = schedule ${schedule.cron})…`,
            );
            const r = await runBackupDrill({
              dir: a.outDir,
              cluster,
              workDir,
              settings: a.settings,
              schedule,
              caKeyPem: a.caKeyPem,
              caCertPem: a.caCertPem,
              log: (l) => o.log(`  ${l}`),
            });
            backup = r.extra.backup;
            return r.drills;
          },
  });
  return { ...live, backup };
}

export function formatTable(drills: DrillResult[]): string {
  const w = Math.max(5, ...drills.map((d) => d.name.length));
  const lines = [`${"drill".padEnd(w)}  result  seconds`, `${"-".repeat(w)}  ------  -------`];
  for (const d of drills)
    lines.push(`${d.name.padEnd(w)}  ${d.passed ? "pass  " : "FAIL  "}  ${d.seconds.toFixed(2).padStart(7)}`);
  const failed = drills.filter((d) => !d.passed).length;
  lines.push("", `${drills.length - failed} passed, ${failed} failed`);
  return lines.join("\n");
}

/** With --keep-running: says how to reach the cluster, then stops it on Ctrl-C. */
async function keepRunningUntilSignal(c: RunningCluster, outDir: string): Promise<void> {
  const client = (ext: "crt" | "key") => layout.client(outDir, "apiserver-etcd-client", ext);
  console.log(
    `\n--keep-running: ${c.members.length} members up (pids ${c.members.map((m) => m.pid).join(", ")}).`,
  );
  console.log(
    `  try: etcdctl --endpoints ${c.clientUrls().join(",")} --cacert ${layout.caCert(outDir)} ` +
      `--cert ${client("crt")} --key ${client("key")} endpoint status -w table`,
  );
  console.log("  press Ctrl-C to stop them.");
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  await c.stop();
  console.log("stopped.");
}

async function main(argv: string[]): Promise<number> {
  const io = { out: console.log, err: console.error };
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(usage);
    return 0;
  }
  try {
    const opts = withRelease(parseCli(argv));
    if (opts.matrix) {
      const m = await rehearseMatrix({ stack: opts.stack, outDir: opts.outDir, log: console.log, rehearse });
      console.log("\n" + formatMatrixTable(m));
      console.log(`\nreport: ${layout.report(opts.outDir)}`);
      return m.passed ? 0 : 1;
    }
    const report = await rehearse({ ...opts, log: (l) => console.log(l) });
    console.log("\n" + formatTable(report.drills));
    console.log(`\nreport: ${layout.report(opts.outDir)}`);
    if (report.running) await keepRunningUntilSignal(report.running, opts.outDir);
    return report.passed ? 0 : 1;
  } catch (e) {
    // A one-line reason (e.g. a missing etcd binary names the apt-get command); the stack only on request.
    if (process.env.SECURE_ETCD_DEBUG && e instanceof Error) console.error(e.stack);
    return reportFailure("rehearse", e, io, usage);
  }
}

/**
 * Under mocks there is no engine to finish the root stack's registration, so Pulumi's exit hook would
 * report those promises as leaks and turn exit 0 into 1. Our outputs are all resolved by now: drain them.
 */
function drainMockLeakCandidates(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- internal, no typings
  const debuggable = require("@pulumi/pulumi/runtime/debuggable") as { leakedPromises?: () => unknown };
  debuggable.leakedPromises?.();
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      drainMockLeakCandidates();
      process.exit(code);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
