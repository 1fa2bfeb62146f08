/*
 * One verify-encryption run as a library: arguments in, report out, exit code back. The command
 * (tools/commands/verify-encryption.ts) and the rehearsal's drills both call it, so the drills prove
 * exactly what operators run.
 */
import { UsageError, type CommandIo } from "../shared/commandLine";
import { parseVerifyArgs, usage } from "./args";
import { formatReport, reportJson, verdict } from "./report";
import { scanEncryption } from "./scan";

export { usage };

/** 0 pass; 1 plaintext remains or the retiring key still encrypts something; 2 bad arguments; 3 etcd not scanned. */
export async function verifyEncryption(
  argv: readonly string[],
  io: CommandIo = { out: console.log, err: console.error },
): Promise<number> {
  let args;
  try {
    args = parseVerifyArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`verify-encryption: ${e.message}\n${usage}`);
    return 2;
  }
  if (args === "help") {
    io.out(usage);
    return 0;
  }
  let report;
  try {
    report = await scanEncryption(args.connection, args.scan);
  } catch (e) {
    io.err(`verify-encryption: could not scan etcd, nothing was verified: ${(e as Error).message}`);
    return 3;
  }
  const v = verdict(report);
  io.out(args.json ? reportJson(report, v) : formatReport(report, v));
  return v.passed ? 0 : 1;
}
