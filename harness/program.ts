import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { readStackConfig, repoRoot } from "./stackFiles";

/**
 * Runs the real program (index.ts) for a stack under the given mocks with that stack file's config.
 * The program is re-required each time so every stack gets a fresh resource graph.
 */
export async function runProgram<M extends pulumi.runtime.Mocks>(
  stack: string,
  mocks: M,
  config: Record<string, string> = readStackConfig(stack),
): Promise<{ mocks: M; outputs: Record<string, unknown> }> {
  const m = mocks;
  pulumi.runtime.setAllConfig(config);
  await pulumi.runtime.setMocks(m, "secure-etcd", stack, false, "organization");
  const entry = require.resolve(path.join(repoRoot, "index.ts"));
  delete require.cache[entry];
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- re-run the program fresh per stack
  const exported = require(entry) as Record<string, unknown> | (() => Promise<Record<string, unknown>>);
  // The program exports an async main (as Pulumi allows); its result is the stack's outputs.
  const outputs = typeof exported === "function" ? await exported() : exported;
  // Every resource feeds some export, so once all exports resolve every registration has been seen.
  // An export that fails (an apply threw) fails the run: `apply` alone would wait forever for it.
  await Promise.all(Object.values(outputs).map((v) => settled(pulumi.output(v as pulumi.Input<object>))));
  // Let the components' registerOutputs calls reach this run's mock monitor before a later run swaps it.
  await waitForPendingRpcs();
  return { mocks: m, outputs };
}

/** An Output's value, or its error (Output's own promise, internal: `apply` never calls back on failure). */
function settled(o: pulumi.Output<unknown>): Promise<unknown> {
  return (o as unknown as { promise(): Promise<unknown> }).promise();
}

/** Pulumi's own RPC-queue drain (internal; absent → fall back to a few event-loop turns). */
async function waitForPendingRpcs(): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- internal API, no typings
  const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs?: () => Promise<void> };
  if (settings.waitForRPCs) await settings.waitForRPCs();
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}
