import type { RenderedArtifacts } from "./artifacts";
import type { DrillResult } from "./drills/types";

export interface LiveDrillOptions {
  keepRunning: boolean;
  log: (line: string) => void;
  record: (r: DrillResult | DrillResult[]) => void;
}

/** Placeholder replaced below once the cluster runner lands. */
export async function runClusterDrills(
  _a: RenderedArtifacts,
  _o: LiveDrillOptions,
): Promise<{ remaps: string[]; extra: Record<string, unknown> }> {
  throw new Error("live drills not wired yet");
}
