/**
 * The checks a snapshot must pass before anything is restored from it, in order: the object is not empty,
 * is as long as recorded and hashes to the recorded SHA-256 (and to `--sha256` when given); the snapshot
 * decompressed from it hashes to its recorded db SHA-256 and size; it ends with the SHA-256 trailer
 * `etcdctl snapshot save` writes (a raw member/snap/db copy has none) and the trailer matches; and
 * `snapshot status -w json` — the tool the target etcd version uses — reads it with the recorded hash and
 * revision. A refusal names the check that failed and never quotes what the snapshot or its record held.
 */
import * as path from "node:path";
import { lastLine, run } from "../shared/process";
import type { PassResult } from "./pass";
import type { SnapshotSource } from "./source";
import { RestoreRefused, type SnapshotFacts, type StepContext } from "./types";

/** Everything the one pass measured, against what the snapshot records. */
export function checkPass(src: SnapshotSource, p: PassResult, ctx: StepContext): void {
  const e = src.expected;
  if (p.size === 0)
    throw new RestoreRefused(`${src.label}: the ${src.downloaded ? "download" : "file"} is empty`);
  if (e.size !== undefined && p.size !== e.size)
    throw new RestoreRefused(`the download has ${p.size} bytes, the object ${e.size}`);
  if (e.sha256 && p.sha256 !== e.sha256)
    throw new RestoreRefused(`SHA-256 mismatch: got ${p.sha256}, expected ${e.sha256}`);
  if (src.pinnedSha256 && p.sha256 !== src.pinnedSha256)
    throw new RestoreRefused(`SHA-256 mismatch: got ${p.sha256}, --sha256 demands ${src.pinnedSha256}`);
  ctx.log(
    `restore: ${p.size} bytes, sha256 ${p.sha256}` +
      (e.sha256 || src.pinnedSha256 ? " (matches)" : " (no expected value given)"),
  );
  if (p.dbSize === 0) throw new RestoreRefused("the snapshot is empty");
  if (e.dbSize !== undefined && p.dbSize !== e.dbSize)
    throw new RestoreRefused(
      `the snapshot decompresses to ${p.dbSize} bytes, its manifest records ${e.dbSize}`,
    );
  if (e.dbSha256 && p.dbSha256 !== e.dbSha256)
    throw new RestoreRefused("the decompressed snapshot does not match its recorded db SHA-256");
  if (!p.shapeOk)
    throw new RestoreRefused(
      `the snapshot has no SHA-256 trailer (size ${p.dbSize} is not 512·n + 32): not an etcd snapshot, or a raw ` +
        `member/snap/db copy that restore could only load with --skip-hash-check`,
    );
  if (!p.trailerOk)
    throw new RestoreRefused("the snapshot's own SHA-256 trailer does not match its content (corrupted)");
}

/** `snapshot status -w json` by the target version's tool; its hash and revision must be the recorded ones. */
export async function snapshotStatus(
  dbPath: string,
  src: SnapshotSource,
  tool: { name: "etcdutl" | "etcdctl"; binary: string },
  ctx: StepContext,
): Promise<Pick<SnapshotFacts, "hash" | "revision" | "totalKey" | "statusTool">> {
  const st = await run(tool.binary, ["snapshot", "status", dbPath, "-w", "json"], {
    env: { ...ctx.env, ETCDCTL_API: "3" },
    timeoutMs: 30 * 60_000,
  });
  const name = path.basename(tool.binary);
  // Its stderr is the tool's own message; its stdout is read from the snapshot and never quoted.
  if (st.code !== 0)
    throw new RestoreRefused(
      `${name} snapshot status rejects the snapshot: ${lastLine(st.stderr)
        .replace(/[^\x20-\x7e]+/g, " ")
        .slice(0, 200)}`,
    );
  let status: { hash?: unknown; revision?: unknown; totalKey?: unknown };
  try {
    status = JSON.parse(st.stdout) as typeof status;
  } catch {
    throw new RestoreRefused(`${name} snapshot status printed no JSON`);
  }
  const { hash, revision, totalKey } = status;
  if (typeof hash !== "number" || typeof revision !== "number" || revision < 1)
    throw new RestoreRefused(`${name} snapshot status gave no usable hash/revision`);
  for (const [k, actual, recorded] of [
    ["hash", hash, src.expected.hash],
    ["revision", revision, src.expected.revision],
  ] as const)
    if (recorded !== undefined && actual !== recorded)
      throw new RestoreRefused(
        `snapshot status reads ${k} ${actual}; the snapshot's record has another ${k}`,
      );
  ctx.log(
    `restore: integrity ok (${name}): hash ${hash}, revision ${revision}, ` +
      `${typeof totalKey === "number" ? totalKey : "?"} keys, SHA-256 trailer ok`,
  );
  return { hash, revision, totalKey: typeof totalKey === "number" ? totalKey : 0, statusTool: name };
}
