/**
 * Step 1 of a restore: get the snapshot, with what it must match. From S3 (`--from`) the object's
 * metadata must carry the `sha256` snapshot.sh wrote (objects from failed runs carry none); a local
 * file (`--file`) is checked against `--sha256` or a `PATH.sha256` file when there is one.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { lastLine, run } from "../shared/process";
import { UsageError } from "../shared/commandLine";
import { RestoreRefused, type RestoreOptions, type StepContext } from "./types";

export interface FetchedSnapshot {
  /** The downloaded or given file. */
  source: string;
  /** What to call it in messages: the s3:// URL or the path. */
  label: string;
  /** The object's `x-amz-meta-*` metadata, lowercased names (empty for a local file). */
  metadata: Record<string, string>;
  expectedSize?: number;
  expectedSha?: string;
  downloaded: boolean;
}

export function parseS3Url(u: string): { bucket: string; key: string } | undefined {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/.exec(u);
  return m ? { bucket: m[1], key: m[2] } : undefined;
}

export async function fetchSnapshot(
  o: RestoreOptions,
  work: string,
  ctx: StepContext,
): Promise<FetchedSnapshot> {
  if (o.from) return downloadFromS3(o, o.from, work, ctx);
  const source = path.resolve(o.file!);
  if (!fs.existsSync(source)) throw new UsageError("--file", `${source} does not exist`);
  let expectedSha = o.sha256?.toLowerCase();
  if (!expectedSha && fs.existsSync(`${source}.sha256`))
    expectedSha = fs.readFileSync(`${source}.sha256`, "utf8").trim().split(/\s+/)[0]?.toLowerCase();
  return { source, label: source, metadata: {}, expectedSha, downloaded: false };
}

/** Long enough for a multi-GiB download; the tools' own timeouts apply first. */
const awsTimeoutMs = 30 * 60_000;

async function downloadFromS3(
  o: RestoreOptions,
  from: string,
  work: string,
  ctx: StepContext,
): Promise<FetchedSnapshot> {
  const loc = parseS3Url(from);
  if (!loc) throw new UsageError("--from", `${JSON.stringify(from)} is not an s3://BUCKET/KEY URL`);
  const aws = (args: string[]) =>
    run(o.awsCli ?? "aws", [...(o.endpointUrl ? ["--endpoint-url", o.endpointUrl] : []), ...args], {
      env: ctx.env,
      timeoutMs: awsTimeoutMs,
    });
  ctx.log(`restore: reading ${from}`);
  const head = await aws([
    "s3api",
    "head-object",
    "--bucket",
    loc.bucket,
    "--key",
    loc.key,
    "--output",
    "json",
  ]);
  if (head.code !== 0) throw new RestoreRefused(`cannot read ${from}: ${lastLine(head.stderr)}`);
  const info = JSON.parse(head.stdout) as { ContentLength?: number; Metadata?: Record<string, string> };
  const metadata = Object.fromEntries(
    Object.entries(info.Metadata ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
  );
  if (metadata["snapshot-status"] === "failed")
    throw new RestoreRefused(`${from} is marked snapshot-status=failed (left by a snapshot run that failed)`);
  if (!info.ContentLength) throw new RestoreRefused(`${from} is empty`);
  const expectedSha = metadata.sha256?.toLowerCase();
  if (!expectedSha || !/^[0-9a-f]{64}$/.test(expectedSha))
    throw new RestoreRefused(
      `${from} carries no sha256 metadata; it was not written (completely) by snapshot.sh`,
    );
  const source = path.join(work, path.basename(loc.key).replace(/[^A-Za-z0-9._-]/g, "_") || "snapshot.db.gz");
  const cp = await aws(["s3", "cp", from, source, "--only-show-errors"]);
  if (cp.code !== 0) throw new RestoreRefused(`download of ${from} failed: ${lastLine(cp.stderr)}`);
  return { source, label: from, metadata, expectedSize: info.ContentLength, expectedSha, downloaded: true };
}
