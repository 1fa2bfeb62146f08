import * as path from "node:path";
import type { RenderedArtifacts } from "../harness/artifacts";
import { startCluster, type RunningCluster } from "../harness/cluster";
import type { EtcdRelease } from "../harness/upstream";
import { installMembersThroughBootstrap } from "../harness/nodeInstall";
import { runApiserverDrills } from "./drills/apiservers";
import { runKmsDrills } from "./drills/kms";
import { runNodeBootstrapDrills } from "./drills/nodeBootstrap";
import { runSnapshotDrill } from "./drills/snapshot";
import { runTlsDrills } from "./drills/tls";
import type { DrillResult } from "./drills/types";

/**
 * "all" drills; "tls": install, start and the TLS drills only; "matrix": what the version matrix runs on
 * every minor — the TLS and rejection drills, the node bootstrap drills and the snapshot/restore drill
 * (see RehearsalOptions.scope).
 */
export type LiveDrillScope = "all" | "tls" | "matrix";

export interface LiveDrillOptions {
  keepRunning: boolean;
  log: (line: string) => void;
  record: (r: DrillResult | DrillResult[]) => void;
  scope: LiveDrillScope;
  /** --quick (see RehearsalOptions.quick). */
  quick: boolean;
  /** Records a drill left out by --quick, with why. */
  skip: (name: string, why: string) => void;
  /** The etcd release to run (default: the one the manifests name, see startCluster). */
  release?: EtcdRelease;
  /** Extra drills that need the running cluster (e.g. the backup drill); run with scope "all". */
  extraDrills?: (cluster: RunningCluster, workDir: string) => Promise<DrillResult[]>;
}

/** A member as the report lists it: `pid` is its last etcd process, `pids` every one (restarts included). */
export interface ReportedMember {
  name: string;
  pid: number;
  pids: number[];
  clientUrl: string;
  peerUrl: string;
}

export interface LiveDrillOutcome {
  remaps: string[];
  /** Read after the drills, so pids are those after any restarts. */
  members: ReportedMember[];
  /** The release the cluster ran. */
  release: EtcdRelease;
  /** With --keep-running: the cluster is still up; call to stop it. */
  running?: RunningCluster;
  /** What the real kube-apiserver reported (when the apiserver drills ran). */
  kubeApiserverVersion?: string;
}

/**
 * Starts one real etcd per member with the flags from the rendered manifests (plus the remaps one host
 * needs, each listed once here) and runs the TLS, snapshot and any extra drills against it. Stops every
 * process it started unless asked to keep the cluster running.
 */
export async function runClusterDrills(a: RenderedArtifacts, o: LiveDrillOptions): Promise<LiveDrillOutcome> {
  const workDir = path.join(a.outDir, "run");
  // Every member is installed the way a node installs itself: its secret, fetched by the node bootstrap.
  o.log(
    "• installing every member through the node bootstrap (Secrets Manager on moto, AWS CLI, each node its own role)…",
  );
  const installed = await installMembersThroughBootstrap(a, workDir);
  let cluster: RunningCluster;
  try {
    cluster = await startCluster({
      dir: a.outDir,
      workDir,
      caKeyPem: a.caKeyPem,
      caCertPem: a.caCertPem,
      existingData: "wipe",
      installed: installed.nodes,
      release: o.release,
      log: (l) => o.log(`  ${l}`),
    });
  } catch (e) {
    await installed.stop();
    throw e;
  }
  let keep = false;
  const apiserver: { version?: string; remaps: string[] } = { remaps: [] };
  try {
    for (const r of [...installed.remaps, ...cluster.remaps]) o.log(`  remap: ${r}`);
    o.log("• TLS drills (real clients against the running members)…");
    o.record(
      await runTlsDrills({ dir: a.outDir, cluster, workDir, caKeyPem: a.caKeyPem, caCertPem: a.caCertPem }),
    );
    if (o.scope === "all" || o.scope === "matrix") {
      o.log(
        "• node bootstrap: second run, renewal without a restart, refused bundles (bad, signed by another key, written by another principal, re-staged)…",
      );
      o.record(
        await runNodeBootstrapDrills({
          dir: a.outDir,
          cluster,
          installed,
          ca: { keyPem: a.caKeyPem, certPem: a.caCertPem },
        }),
      );
      o.log("• snapshot → integrity check → restore → serve…");
      o.record(await runSnapshotDrill({ dir: a.outDir, cluster, workDir }));
    }
    if (o.scope === "all") {
      // Before the extra (backup) drill: it stops and restores the cluster.
      o.log(
        "• real kube-apiservers on the cluster: rendered flags, encryption at rest, rotation, snapshot readback…",
      );
      // A kms stack's apiservers need its KMS v2 plugin and AWS key: the kms drills run them (moto's KMS).
      const base = {
        dir: a.outDir,
        settings: a.settings,
        cluster,
        workDir,
        nodeRoots: Object.fromEntries(Object.entries(installed.nodes).map(([m, n]) => [m, n.root])),
        caKeyPem: a.caKeyPem,
        caCertPem: a.caCertPem,
        log: (l: string) => o.log(`  ${l}`),
      };
      const r = usesKmsPrimary(a.settings)
        ? await runKmsDrills({ ...base, quick: o.quick, skip: o.skip })
        : await runApiserverDrills(base);
      o.record(r.drills);
      apiserver.version = r.version;
      apiserver.remaps = r.remaps;
      for (const remap of r.remaps) o.log(`  remap: ${remap}`);
    }
    if (o.extraDrills && o.scope === "all") o.record(await o.extraDrills(cluster, workDir));
    keep = o.keepRunning;
  } finally {
    if (!keep) {
      await cluster.stop();
      await installed.stop();
    }
  }
  const members = cluster.members.map((m) => ({
    name: m.name,
    pid: m.pid,
    pids: [...m.pids],
    clientUrl: m.clientUrl,
    peerUrl: m.peerUrl,
  }));
  return {
    remaps: [...installed.remaps, ...cluster.remaps, ...apiserver.remaps],
    members,
    release: cluster.release,
    running: keep ? cluster : undefined,
    kubeApiserverVersion: apiserver.version,
  };
}

/** Whether the stack's primary key is kms (then a plugin and an AWS key must serve every apiserver). */
function usesKmsPrimary(s: RenderedArtifacts["settings"]): boolean {
  return s.encryption.keys.some((k) => k.state === "primary" && k.provider === "kms");
}
