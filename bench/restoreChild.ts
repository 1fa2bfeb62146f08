/**
 * One restore in a process of its own, as `secure-etcd restore` runs (bench/snapshotPath.ts starts it):
 * the restore library of the tree this file sits in (the current one, or the baseline's copy), timed
 * inside the process from the call to its return (tsx's start-up excluded), with this process's CPU
 * (its threads included; etcdutl, a child, not). Options as JSON in argv[2]; prints one JSON line.
 */
import { restoreSnapshot } from "../tools/restore";

async function main(): Promise<void> {
  const o = JSON.parse(process.argv[2]) as Omit<Parameters<typeof restoreSnapshot>[0], "env">;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await restoreSnapshot({ ...o, env: process.env });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(`${JSON.stringify({ seconds, own: (cpu.user + cpu.system) / 1e6 })}\n`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
