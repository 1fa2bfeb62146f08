/*
 * npm run rehearse -- --stack NAME [--out DIR] [--render-only] [--keep-running]
 *
 * Runs the real program offline under an emulation of the tls/random providers (real crypto), writes
 * the artifacts, starts one real etcd per member with the flags from the rendered manifests, and drives
 * it through security and recovery drills. Exit 0 only if every drill passed; 1 if any failed; 2 for
 * bad input or config (the config key is named).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { ConfigError } from "../components/config";
import { renderArtifacts, layout, type RenderedArtifacts } from "../harness/artifacts";
import { runArtifactChecks } from "./drills/artifactChecks";
import { runEncryptionDrill } from "./drills/encryptionAtRest";
import { runDrill, type DrillResult } from "./drills/types";
import { availableStacks, repoRoot } from "../harness/stackFiles";
import type { RunningCluster } from "../harness/cluster";
import { findBinary, installHint } from "../harness/process";
import { runClusterDrills } from "./liveDrills";
import { runBackupDrill, snapshotScheduleOf } from "./drills/backup";

const usage = "usage: npm run rehearse -- [--stack NAME] [--out DIR] [--render-only] [--keep-running]";

export interface RehearsalOptions {
  stack: string;
  outDir: string;
  renderOnly: boolean;
  keepRunning: boolean;
  log: (line: string) => void;
  /** Stack config overrides (tests use this to rehearse every key algorithm). */
  configOverrides?: Record<string, string>;
  /** Run the backup drill (default true; the per-algorithm TLS runs in the tests leave it out). */
  backupDrill?: boolean;
}

export interface RehearsalReport {
  stack: string;
  renderOnly: boolean;
  artifactsDir: string;
  etcdVersion: string;
  remaps: string[];
  startedAt: string;
  finishedAt: string;
  passed: boolean;
  drills: DrillResult[];
  [extra: string]: unknown;
}

export class UsageError extends Error {}

export function parseCli(argv: string[]): Omit<RehearsalOptions, "log"> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        stack: { type: "string", default: "local" },
        out: { type: "string" },
        "render-only": { type: "boolean", default: false },
        "keep-running": { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n${usage}`);
  }
  if (values.help) throw new UsageError(usage);
  const stacks = availableStacks();
  if (!stacks.includes(values.stack!))
    throw new UsageError(
      `--stack: ${JSON.stringify(values.stack)} has no stacks/Pulumi.${values.stack}.yaml; allowed: ${stacks.join(", ")}`,
    );
  if (values["render-only"] && values["keep-running"])
    throw new UsageError("--keep-running: nothing runs with --render-only");
  return {
    stack: values.stack!,
    outDir: path.resolve(values.out ?? path.join(repoRoot, ".rehearsal", values.stack!)),
    renderOnly: values["render-only"]!,
    keepRunning: values["keep-running"]!,
  };
}

/** Runs a rehearsal and returns its report (also written to <out>/report.json). Throws ConfigError for bad config. */
export async function rehearse(o: RehearsalOptions): Promise<RehearsalReport & { running?: RunningCluster }> {
  const startedAt = new Date();
  const drills: DrillResult[] = [];
  const record = (r: DrillResult | DrillResult[]) => {
    for (const d of Array.isArray(r) ? r : [r]) {
      drills.push(d);
      o.log(
        `  ${d.passed ? "PASS" : "FAIL"}  ${d.name} (${d.seconds.toFixed(2)}s)${d.passed ? "" : ` — ${d.detail}`}`,
      );
    }
  };

  o.log(`rehearsal: stack ${o.stack} → ${o.outDir}`);
  o.log("• rendering the program under the provider emulation (real keys and certs)…");
  if (fs.existsSync(o.outDir)) fs.rmSync(o.outDir, { recursive: true, force: true });
  const artifacts = await renderArtifacts({
    stack: o.stack,
    outDir: o.outDir,
    mapMembersToLoopback: !o.renderOnly,
    configOverrides: o.configOverrides,
  });
  o.log(
    `  wrote ${artifacts.files.length} files; ${artifacts.settings.members.length} members, etcd ${artifacts.settings.etcdVersion}, ${artifacts.settings.keyAlgorithm}`,
  );
  for (const r of artifacts.remaps) o.log(`  remap: ${r}`);

  o.log("• checking the artifacts…");
  record(await runArtifactChecks(artifacts));

  o.log("• encryption at rest…");
  record(await encryptionDrills(artifacts));

  const extra: Record<string, unknown> = {};
  let running: RunningCluster | undefined;
  if (!o.renderOnly) {
    o.log("• starting a real etcd cluster from the rendered manifests…");
    const schedule = snapshotScheduleOf(artifacts.settings);
    const live = await runClusterDrills(artifacts, {
      keepRunning: o.keepRunning,
      log: o.log,
      record,
      extraDrills:
        o.backupDrill === false
          ? undefined
          : async (cluster, workDir) => {
              o.log(
                `• backup: snapshot.sh → local S3 → restore tool → fresh cluster (RPO = schedule ${schedule.cron})…`,
              );
              return runBackupDrill({
                dir: artifacts.outDir,
                cluster,
                workDir,
                settings: artifacts.settings,
                rpoMinutes: schedule.rpoMinutes,
                schedule: schedule.cron,
                caKeyPem: artifacts.caKeyPem,
                caCertPem: artifacts.caCertPem,
                log: (l) => o.log(`  ${l}`),
              });
            },
    });
    artifacts.remaps.push(...live.remaps);
    Object.assign(extra, live.extra);
    running = live.running;
  }

  const report: RehearsalReport = {
    stack: o.stack,
    renderOnly: o.renderOnly,
    artifactsDir: o.outDir,
    etcdVersion: artifacts.settings.etcdVersion,
    remaps: artifacts.remaps,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    passed: drills.length > 0 && drills.every((d) => d.passed),
    drills,
    ...extra,
  };
  fs.writeFileSync(path.join(o.outDir, "report.json"), JSON.stringify(report, null, 2) + "\n", {
    mode: 0o600,
  });
  return Object.assign(report, { running });
}

async function encryptionDrills(a: RenderedArtifacts): Promise<DrillResult[]> {
  const primary = a.settings.encryption.keys.find((k) => k.state === "primary")!;
  const start = process.hrtime.bigint();
  const yaml = fs.readFileSync(layout.encryptionConfig(a.outDir), "utf8");
  const result = runEncryptionDrill(yaml, {
    expectedPrimary: { provider: primary.provider, keyName: primary.name },
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9 / Math.max(1, result.checks.length);
  if (result.checks.length === 0)
    return [await runDrill("encryption: config checks", () => Promise.reject(new Error("no checks ran")))];
  return result.checks.map((c) => ({
    name: `encryption: ${c.name}`,
    passed: c.passed,
    seconds,
    detail: c.detail,
  }));
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

async function main(): Promise<number> {
  let opts;
  try {
    opts = parseCli(process.argv.slice(2));
  } catch (e) {
    console.error(`rehearse: ${(e as Error).message}`);
    return 2;
  }
  if (!opts.renderOnly) {
    for (const bin of ["etcd", "etcdctl"])
      if (!findBinary(bin)) {
        console.error(
          `rehearse: ${bin} not found on PATH; install etcd 3.4 with: ${installHint} (or run with --render-only)`,
        );
        return 2;
      }
  }
  try {
    const report = (await rehearse({ ...opts, log: (l) => console.log(l) })) as RehearsalReport & {
      running?: RunningCluster;
    };
    console.log("\n" + formatTable(report.drills));
    console.log(`\nreport: ${path.join(opts.outDir, "report.json")}`);
    if (report.running) {
      const c = report.running;
      console.log(
        `\n--keep-running: ${c.members.length} members up (pids ${c.members.map((m) => m.pid).join(", ")}).`,
      );
      console.log(
        `  try: etcdctl --endpoints ${c.clientUrls().join(",")} --cacert ${layout.caCert(opts.outDir)} ` +
          `--cert ${path.join(opts.outDir, "pki/clients/apiserver-etcd-client.crt")} --key ${path.join(opts.outDir, "pki/clients/apiserver-etcd-client.key")} endpoint status -w table`,
      );
      console.log("  press Ctrl-C to stop them.");
      await new Promise<void>((resolve) => {
        process.once("SIGINT", () => resolve());
        process.once("SIGTERM", () => resolve());
      });
      await c.stop();
      console.log("stopped.");
    }
    return report.passed ? 0 : 1;
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`rehearse: ${e.message}`);
      return 2;
    }
    if (e instanceof UsageError) {
      console.error(`rehearse: ${(e as Error).message}`);
      return 2;
    }
    // A one-line reason (e.g. a missing etcd binary names the apt-get command); the stack only on request.
    const err = e instanceof Error ? e : new Error(String(e));
    console.error(
      `rehearse: failed: ${process.env.SECURE_ETCD_DEBUG ? (err.stack ?? err.message) : err.message}`,
    );
    return 1;
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
  main().then(
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
