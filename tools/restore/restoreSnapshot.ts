/**
 * The restore library: gets a snapshot the snapshot job wrote (or a local file), refuses it unless every
 * check passes (verify.ts), and plans the restore of the stack's members, every one from the same
 * snapshot. With `apply` (local targets only) it also runs the member restores, staged and swapped in
 * (apply.ts). One pass over the bytes (pass.ts): download, decompression, hashing and the write of the
 * snapshot file happen together. The `secure-etcd restore` command (tools/commands/restore.ts) is its
 * command line.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { formatRestorePlan, renderRestorePlan, type RestorePlan } from "../../components/backup/restorePlan";
import { initialClusterToken } from "../../components/manifests/urls";
import { checkEnvelopeKeys } from "./envelopeKeys";
import { keyArchiveSecretName } from "../../components/secretStore/naming";
import {
  checkTargetSpace,
  createStaging,
  prepareTarget,
  refuseRemoteTargets,
  runMemberRestores,
  swapIn,
} from "./apply";
import { decodeToFile, freeBytes } from "./pass";
import { openSource, type SnapshotSource } from "./source";
import {
  DEFAULT_MAX_SNAPSHOT_BYTES,
  RestoreNoSpace,
  RestoreTooLarge,
  type RestoreOptions,
  type RestoreResult,
  type SnapshotFacts,
} from "./types";
import { checkPass, snapshotStatus } from "./verify";

/** How many raw bytes the pass may write: what the snapshot declares, never more than the cap. */
function capOf(src: SnapshotSource, max: number, work: string): { bytes: number; reason: string } {
  const declared = src.expected.dbSize;
  if (declared !== undefined && declared > max)
    throw new RestoreTooLarge(
      `the snapshot records ${declared} bytes, more than the ${max}-byte cap (--max-size)`,
    );
  if (declared !== undefined) {
    const free = freeBytes(work);
    if (free < declared)
      throw new RestoreNoSpace(
        `no space for the snapshot: it needs ${declared} bytes in ${work}, ${free} are free`,
      );
  }
  return declared !== undefined
    ? { bytes: declared, reason: `the ${declared} bytes its manifest records` }
    : { bytes: max, reason: `the ${max}-byte cap (--max-size)` };
}

/** Gets, verifies and plans a restore; with `apply`, restores local members. Throws RestoreRefused, RestoreTooLarge, RestoreNoSpace. */
export async function restoreSnapshot(o: RestoreOptions): Promise<RestoreResult> {
  const ctx = { env: { AWS_PAGER: "", ...(o.env ?? process.env) }, log: o.log ?? (() => undefined) };
  const target = o.apply ? path.resolve(o.apply.targetDir) : undefined;
  const finalDir = (m: { name: string }) => path.join(target!, m.name);
  if (target) {
    refuseRemoteTargets(o.settings.members);
    prepareTarget(target, o.settings.members.map(finalDir));
  }
  const work = o.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "etcd-restore-"));
  fs.mkdirSync(work, { recursive: true, mode: 0o700 });
  // Without apply the operator still needs the verified file to copy to the members: keep it.
  const keep = o.workDir !== undefined || (o.keepDownload ?? !o.apply);
  let succeeded = false;
  try {
    const t0 = Date.now();
    const src = await openSource(o, ctx);
    const dbPath = path.join(work, "snapshot.db");
    const pass = await decodeToFile(
      src,
      dbPath,
      capOf(src, o.maxSnapshotBytes ?? DEFAULT_MAX_SNAPSHOT_BYTES, work),
    );
    checkPass(src, pass, ctx);
    const t1 = Date.now();
    // A snapshot under a kms provider is only readable while its AWS key is Enabled: checked first.
    await checkEnvelopeKeys(snapshotKeyWords(src.metadata), o, ctx);
    const plan = planFor(o, src, dbPath, pass.dbSha256, target);
    const tool = {
      name: plan.tool,
      binary: plan.tool === "etcdutl" ? (o.etcdutl ?? "etcdutl") : (o.etcdctl ?? "etcdctl"),
    };
    let status: Awaited<ReturnType<typeof snapshotStatus>>;
    let applied: RestoreResult["applied"] = [];
    let t2 = Date.now();
    if (!target) {
      status = await snapshotStatus(dbPath, src, tool, ctx);
      t2 = Date.now();
    } else {
      checkTargetSpace(target, o.settings.members.length, pass.dbSize);
      t2 = Date.now();
      const staged = createStaging(target);
      try {
        // Staged restores and `snapshot status` together; nothing is swapped in unless both succeed.
        const execPlan = planFor(o, src, dbPath, pass.dbSha256, target, (m) => staged.stagedDir(m.name));
        const [st, restores] = await Promise.allSettled([
          snapshotStatus(dbPath, src, tool, ctx),
          runMemberRestores(execPlan, ctx),
        ]);
        if (st.status === "rejected") throw st.reason;
        if (restores.status === "rejected") throw restores.reason;
        status = st.value;
        applied = swapIn(
          staged,
          o.settings.members.map((m) => ({ member: m.name, dataDir: finalDir(m) })),
        );
      } finally {
        fs.rmSync(staged.staging, { recursive: true, force: true });
      }
      ctx.log(`restore: restored ${applied.length} member(s) into ${target}`);
    }
    const snapshot: SnapshotFacts = {
      dbPath,
      dbSize: pass.dbSize,
      dbSha256: pass.dbSha256,
      sha256: pass.sha256,
      size: pass.size,
      format: pass.format,
      compressed: pass.format !== "raw",
      ...status,
      metadata: src.metadata,
    };
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

/**
 * Step 3: one restore command per member, all from the verified snapshot. `stagedDir` gives the data dirs
 * the commands really write (apply); the printed plan always names the final ones.
 */
function planFor(
  o: RestoreOptions,
  src: SnapshotSource,
  dbPath: string,
  dbSha256: string,
  target: string | undefined,
  stagedDir?: (m: { name: string }) => string,
): RestorePlan {
  const s = o.settings;
  const nodePath = o.nodePath ?? `/var/lib/etcd-restore/${path.basename(dbPath)}`;
  return renderRestorePlan({
    snapshotPath: target ? dbPath : nodePath,
    localSnapshotPath: dbPath,
    members: s.members,
    clusterToken: initialClusterToken(s.clusterName, s.environment),
    etcdVersion: s.etcdVersion,
    dataDir: stagedDir ?? (target ? (m) => path.join(target, m.name) : s.paths.dataDir),
    manifestDir: s.paths.manifestDir,
    pkiDir: s.paths.pkiDir,
    snapshotSha256: dbSha256,
    etcdctlBinary: o.etcdctl,
    etcdutlBinary: o.etcdutl,
    // This pass checked the trailer of this very file; each member's copy elsewhere checks its own.
    trailerChecked: stagedDir !== undefined,
    encryptionKeys: snapshotKeyWords(src.metadata),
    keyArchive: s.secretStore?.enabled
      ? keyArchiveSecretName(s.clusterName, s.environment, s.secretStore.generation)
      : undefined,
    snapshotLocation: src.location,
  });
}

/** The EncryptionConfiguration keys the snapshot records (`encryption-keys` metadata), as words. */
function snapshotKeyWords(metadata: Record<string, string>): string[] {
  return metadata["encryption-keys"]?.split(" ").filter(Boolean) ?? [];
}
