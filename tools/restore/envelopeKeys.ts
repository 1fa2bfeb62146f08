/**
 * The restore's pre-flight check of the envelope keys a snapshot names (`kms:<name>=<ARN>` in its
 * `encryption-keys` metadata): DescribeKey each one and refuse unless it is Enabled — before the plan,
 * so no runbook that starts an API server is printed for a snapshot whose Secrets cannot be decrypted.
 * Uses the same AWS CLI and endpoint as the download (the restore reader role may DescribeKey).
 */
import {
  envelopeKeyProblems,
  envelopeKeysOfSnapshot,
  type EnvelopeKeyState,
  type SnapshotEnvelopeKey,
} from "../../components/kms/snapshotKeys";
import { run } from "../shared/process";
import { RestoreRefused, type StepContext } from "./types";

export interface EnvelopeKeyCheck {
  keys: SnapshotEnvelopeKey[];
  states: EnvelopeKeyState[];
}

const lastLine = (s: string) => s.trim().split("\n").pop() ?? "";

/** DescribeKey per named key; throws RestoreRefused naming every key that is not Enabled. */
export async function checkEnvelopeKeys(
  words: readonly string[],
  o: { awsCli?: string; endpointUrl?: string },
  ctx: StepContext,
): Promise<EnvelopeKeyCheck> {
  const keys = envelopeKeysOfSnapshot(words);
  const states: EnvelopeKeyState[] = [];
  for (const k of keys.filter((x) => x.arn)) {
    ctx.log(`restore: checking envelope key ${k.name} (${k.arn}) with kms describe-key`);
    const r = await run(
      o.awsCli ?? "aws",
      [
        ...(o.endpointUrl ? ["--endpoint-url", o.endpointUrl] : []),
        "--region",
        k.region,
        "kms",
        "describe-key",
        "--key-id",
        k.arn,
        "--output",
        "json",
      ],
      { env: ctx.env, timeoutMs: 60_000 },
    );
    if (r.code !== 0) {
      states.push({ arn: k.arn, error: lastLine(r.stderr) || `exit ${r.code}` });
      continue;
    }
    const meta = (JSON.parse(r.stdout) as { KeyMetadata?: { KeyState?: string } }).KeyMetadata;
    states.push({ arn: k.arn, keyState: meta?.KeyState ?? "unknown" });
  }
  const problems = envelopeKeyProblems(keys, states);
  if (problems.length) throw new RestoreRefused(problems.join("; "));
  for (const s of states) ctx.log(`restore: envelope key ${s.arn} is ${s.keyState}`);
  return { keys, states };
}
