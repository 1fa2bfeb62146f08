/**
 * The restore library: gets a snapshot written by components/backup/snapshot.sh, refuses it unless
 * every check passes (see verify.ts), and plans the restore of the stack's members, every one from
 * the same snapshot. With `apply` (local targets only) it also runs the member restores.
 * The `secure-etcd restore` command (tools/commands/restore.ts) is its command line.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { formatRestorePlan, renderRestorePlan, type RestorePlan } from "../../components/backup/restorePlan";
import { initialClusterToken } from "../../components/manifests/urls";
import { applyRestore, refuseRemoteTargets } from "./apply";
import { checkEnvelopeKeys } from "./envelopeKeys";
import { fetchSnapshot } from "./fetch";
import { verifySnapshot } from "./verify";
import type { RestoreOptions, RestoreResult, SnapshotFacts } from "./types";
import { keyArchiveSecretName } from "../../components/secretStore/naming";

/** Gets, verifies and plans a restore; with `apply`, restores local members. Throws RestoreRefused. */
export async function restoreSnapshot(o: RestoreOptions): Promise<RestoreResult> {
  const ctx = { env: { AWS_PAGER: "", ...(o.env ?? process.env) }, log: o.log ?? (() => undefined) };
  if (o.apply) refuseRemoteTargets(o.settings.members);
  const work = o.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "etcd-restore-"));
  fs.mkdirSync(work, { recursive: true, mode: 0o700 });
  // Without apply the operator still needs the verified file to copy to the members: keep it.
  const keep = o.workDir !== undefined || (o.keepDownload ?? !o.apply);
  let succeeded = false;
  try {
    const t0 = Date.now();
    const fetched = await fetchSnapshot(o, work, ctx);
    const t1 = Date.now();
    const snapshot = await verifySnapshot(fetched, o, work, ctx);
    // A snapshot under a kms provider is only readable while its AWS key is Enabled: checked first.
    await checkEnvelopeKeys(snapshotKeyWords(snapshot), o, ctx);
    const t2 = Date.now();
    const target = o.apply ? path.resolve(o.apply.targetDir) : undefined;
    const plan = planFor(o, snapshot, target);
    const applied = target ? await applyRestore(plan, target, ctx) : [];
    succeeded = true;
    return {
      snapshot,
      plan,
      planText: formatRestorePlan(plan),
      applied,
      seconds: { download: (t1 - t0) / 1000, verify: (t2 - t1) / 1000, apply: (Date.now() - t2) / 1000 },
    };
  } finally {
    // A refused or failed restore leaves nothing behind; a good one keeps the verified file when asked.
    if (o.workDir === undefined && (!keep || !succeeded)) fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Step 3: one restore command per member, all from the verified snapshot. */
function planFor(o: RestoreOptions, snapshot: SnapshotFacts, target: string | undefined): RestorePlan {
  const s = o.settings;
  const nodePath = o.nodePath ?? `/var/lib/etcd-restore/${path.basename(snapshot.dbPath)}`;
  return renderRestorePlan({
    snapshotPath: target ? snapshot.dbPath : nodePath,
    localSnapshotPath: snapshot.dbPath,
    members: s.members,
    clusterToken: initialClusterToken(s.clusterName, s.environment),
    etcdVersion: s.etcdVersion,
    dataDir: target ? (m) => path.join(target, m.name) : s.paths.dataDir,
    manifestDir: s.paths.manifestDir,
    pkiDir: s.paths.pkiDir,
    snapshotSha256: snapshot.compressed ? undefined : snapshot.sha256,
    etcdctlBinary: o.etcdctl,
    etcdutlBinary: o.etcdutl,
    encryptionKeys: snapshotKeyWords(snapshot),
    keyArchive: s.secretStore?.enabled ? keyArchiveSecretName(s.clusterName, s.environment) : undefined,
  });
}

/** The EncryptionConfiguration keys the snapshot records (`encryption-keys` metadata), as words. */
function snapshotKeyWords(snapshot: SnapshotFacts): string[] {
  return snapshot.metadata["encryption-keys"]?.split(" ").filter(Boolean) ?? [];
}
