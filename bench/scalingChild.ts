/**
 * One deploy-time measurement in a fresh process (bench/scaling.ts starts it): the real program
 * (index.ts) for the prod stack with N members under Pulumi mocks (harness/emulation: real keys and
 * certs), timed from the start of the program to every output resolved. Prints one JSON line.
 */
import { ProviderEmulation } from "../harness/emulation";
import { runProgram } from "../harness/program";
import { readStackConfig } from "../harness/stackFiles";

async function main(): Promise<void> {
  const n = Number(process.argv[2]);
  const config = {
    ...readStackConfig("prod"),
    "secure-etcd:members": JSON.stringify(
      Array.from({ length: n }, (_, i) => ({ name: `cp-${i + 1}`, ip: `10.30.${i + 1}.10` })),
    ),
  };
  const emulation = new ProviderEmulation();
  const t0 = process.hrtime.bigint();
  await runProgram("prod", emulation, config);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  process.stdout.write(`${JSON.stringify({ members: n, ms, resources: emulation.resources.length })}\n`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
