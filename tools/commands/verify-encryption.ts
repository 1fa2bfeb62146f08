/*
 * secure-etcd verify-encryption --endpoints URLS --cacert F --cert F --key F
 *     [--resources secrets,configmaps] [--retiring NAME] [--json]
 *
 * Proves what kube-apiserver really stored: scans etcd, counts values per provider and key, names every
 * plaintext entry, and fails while the key about to be removed still encrypts anything — the gate
 * before a key leaves the EncryptionConfiguration. Reads values; never prints one.
 */
import { ArgumentError, parseVerifyArgs, usage } from "../verifyEncryption/args";
import { formatReport, reportJson, verdict } from "../verifyEncryption/report";
import { scanEncryption } from "../verifyEncryption/scan";
import type { Io } from "./promote";

export { usage };

export async function main(
  argv: readonly string[],
  io: Io = { out: console.log, err: console.error },
): Promise<number> {
  let args;
  try {
    args = parseVerifyArgs(argv);
  } catch (e) {
    if (!(e instanceof ArgumentError)) throw e;
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

if (require.main === module) void main(process.argv.slice(2)).then((code) => (process.exitCode = code));
