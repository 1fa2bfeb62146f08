/**
 * A snapshot is only as good as the keys that wrote it. Taken while the apiservers ran the stack's
 * EncryptionConfiguration, restored (with the restore tool library, `secure-etcd restore --apply`'s code)
 * into a fresh cluster after the rotation drill archived those keys: a real apiserver with the snapshot's
 * keys reads every object back; one with today's keys cannot (its own error quoted), and the restore
 * plan's key step names the keys that were needed. The original members run again afterwards.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { renderRestorePlan } from "../../components/backup/restorePlan";
import type { SecureEtcdSettings } from "../../components/config/schema";
import { initialClusterToken } from "../../components/manifests/urls";
import { keyArchiveSecretName } from "../../components/secretStore/naming";
import { startCluster, type RunningCluster } from "../../harness/cluster";
import { etcdctlTlsArgs, runEtcdctl } from "../../harness/etcdctl";
import { apiserverEtcdConnection, failingChecks, startKubeApiservers } from "../../harness/kubeApiserver";
import { restoreSnapshot } from "../../tools/restore";
import type { DrillData, ServerReads } from "./apiserverData";
import { clip, expect, runDrill, type DrillResult } from "./types";

export interface SavedSnapshot {
  file: string;
  sha256: string;
  /** The keys of the config in force when it was taken, `<provider>:<name>` in config order (snapshot.sh's ENCRYPTION_KEYS). */
  keysInForce: string[];
  /** That config's text. */
  config: string;
  /** Objects that were in etcd when it was taken. */
  data: DrillData;
}

/** `etcdctl snapshot save` from one member, with the backup client cert (what the snapshot job uses). */
export async function saveSnapshot(
  dir: string,
  cluster: RunningCluster,
  file: string,
): Promise<{ file: string; sha256: string }> {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const [endpoint] = cluster.clientUrls();
  const r = await runEtcdctl(
    cluster.etcdctlBinary,
    [`--endpoints=${endpoint}`, ...etcdctlTlsArgs(dir, "backup-client"), "snapshot", "save", file],
    { timeoutMs: 120_000, commandTimeout: "60s" },
  );
  if (r.code !== 0) throw new Error(`etcdctl snapshot save failed: ${clip(r.output)}`);
  return { file, sha256: createHash("sha256").update(fs.readFileSync(file)).digest("hex") };
}

export interface RestoreDrillOptions {
  dir: string;
  settings: SecureEtcdSettings;
  cluster: RunningCluster;
  caKeyPem?: string;
  caCertPem?: string;
  snapshot: SavedSnapshot;
  /** The EncryptionConfiguration the cluster runs now (after the rotation): the wrong keys for the snapshot. */
  currentConfig: string;
  workDir: string;
  log: (line: string) => void;
}

export async function runRestoreReadback(o: RestoreDrillOptions): Promise<DrillResult[]> {
  const work = path.join(o.workDir, "snapshot-readback");
  const members = o.settings.members.map((m) => ({ name: m.name, ip: m.ip, dnsNames: [] as string[] }));
  let fresh: RunningCluster | undefined;
  let stopApiserver = async () => undefined as void;
  const results: DrillResult[] = [];
  try {
    let restoredPlanSays = "";
    const same = await runDrill(
      "snapshot readback: restored into a fresh cluster, a real apiserver with the snapshot's keys reads every object",
      async () => {
        o.log(
          "snapshot readback: stopping the original members, restoring the snapshot into fresh data dirs…",
        );
        for (const m of o.cluster.members) await o.cluster.stopMember(m.name);
        const etcdutl = path.join(path.dirname(o.cluster.etcdctlBinary), "etcdutl");
        const restored = await restoreSnapshot({
          settings: { ...o.settings, members },
          file: o.snapshot.file,
          sha256: o.snapshot.sha256,
          apply: { targetDir: path.join(work, "data") },
          etcdctl: o.cluster.etcdctlBinary,
          etcdutl: fs.existsSync(etcdutl) ? etcdutl : undefined,
          log: (l) => o.log(`  ${l}`),
        });
        restoredPlanSays = restored.plan.encryptionKeys
          ? `names ${restored.plan.encryptionKeys.keys.join(", ")}`
          : "has no key step (a snapshot file carries no encryption-keys metadata; from S3 it does)";
        fresh = await startCluster({
          dir: o.dir,
          workDir: work,
          existingData: "reuse",
          caKeyPem: o.caKeyPem,
          caCertPem: o.caCertPem,
          etcdBinary: o.cluster.etcdBinary,
          etcdctlBinary: o.cluster.etcdctlBinary,
          log: (l) => o.log(`  ${l}`),
        });
        const fleet = await startKubeApiservers({
          dir: o.dir,
          settings: o.settings,
          workDir: path.join(work, "apiservers"),
          addresses: [members[0].ip],
          startNow: 0,
          log: (l) => o.log(`  ${l}`),
        });
        stopApiserver = () => fleet.stop();
        const [s] = fleet.servers;
        s.writeEncryptionConfig(o.snapshot.config);
        await s.start();
        const reads = await o.snapshot.data.readAll(s);
        expect(
          reads.read === o.snapshot.data.written.size,
          `read ${reads.read} of ${o.snapshot.data.written.size}: ${firstProblem(reads)}`,
        );
        return (
          `${members.length} member(s) restored with the restore library from ${path.basename(o.snapshot.file)} ` +
          `(${restored.plan.tool}, revision ${restored.snapshot.revision}); ${s.name} with the snapshot's keys ` +
          `(${o.snapshot.keysInForce.join(", ")}) read all ${reads.read} objects of ${o.snapshot.data.namespace} ` +
          `back with their values`
        );
      },
    );
    results.push(same);
    results.push(
      await runDrill(
        "snapshot readback: with today's keys the apiserver cannot read it; the restore plan's key step names the keys needed",
        async () => {
          expect(same.passed && fresh, "not run: the restore with the snapshot's keys did not pass");
          const fleet = await startKubeApiservers({
            dir: o.dir,
            settings: o.settings,
            workDir: path.join(work, "apiservers-wrong-keys"),
            addresses: [members[0].ip],
            startNow: 0,
            log: (l) => o.log(`  ${l}`),
          });
          await stopApiserver();
          stopApiserver = () => fleet.stop();
          const [s] = fleet.servers;
          s.writeEncryptionConfig(o.currentConfig);
          await s.start({ until: "serving" });
          const reads = await o.snapshot.data.readAll(s);
          const readyz = await s.get("/readyz?verbose");
          expect(
            reads.read === 0 && reads.errors.size === o.snapshot.data.written.size,
            `with today's keys it read ${reads.read} and failed ${reads.errors.size} of ${o.snapshot.data.written.size}`,
          );
          const etcd = apiserverEtcdConnection(o.dir, o.cluster.etcdctlBinary, fresh!.clientUrls());
          const needed = [...new Set((await o.snapshot.data.storedPrefixes(etcd)).values())];
          const plan = renderRestorePlan({
            snapshotPath: o.snapshot.file,
            members,
            clusterToken: initialClusterToken(o.settings.clusterName, o.settings.environment),
            etcdVersion: o.settings.etcdVersion,
            dataDir: o.settings.paths.dataDir,
            encryptionKeys: o.snapshot.keysInForce,
            keyArchive: o.settings.secretStore.enabled
              ? keyArchiveSecretName(o.settings.clusterName, o.settings.environment)
              : undefined,
          });
          const step = plan.steps.find((x) =>
            x.title.startsWith("Give every kube-apiserver the snapshot's encryption keys"),
          );
          expect(step, "the restore plan has no key step");
          const missing = needed.filter(
            (p) => !o.snapshot.keysInForce.some((k) => p === `k8s:enc:${k.replace(":", ":v1:")}:`),
          );
          expect(
            missing.length === 0,
            `the snapshot's values start ${missing.join(", ")}: the plan's keys ${o.snapshot.keysInForce.join(", ")} do not cover them`,
          );
          const [id, error] = [...reads.errors][0];
          return (
            `${s.name} with today's config is not ready (/readyz ${readyz.status}: ${failingChecks(readyz.body)}) and ` +
            `failed every one of the ${reads.errors.size} objects, e.g. ${id}: ${clip(error, 220)}. Their values start ` +
            `${needed.join(", ")}; the plan's key step says "${step.title}"${step.commands[0] ? ` ($ ${step.commands[0]})` : ""}. ` +
            `(The file restore's own plan ${restoredPlanSays}.)`
          );
        },
      ),
    );
  } finally {
    await stopApiserver();
    await fresh?.stop();
    o.log("snapshot readback: starting the original members again…");
    for (const m of o.cluster.members.filter((x) => !x.running))
      await o.cluster.startMember(m.name, { waitHealthy: false });
    await o.cluster.waitHealthy();
  }
  return results;
}

function firstProblem(r: ServerReads): string {
  const [id, e] = [...r.errors][0] ?? [];
  return id ? `${id}: ${clip(e!, 200)}` : (r.wrong[0] ?? "?");
}
