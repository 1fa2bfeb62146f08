import type * as pulumi from "@pulumi/pulumi";
import { runProgram as run } from "../../harness/program";
import { RecordingMocks } from "./recordingMocks";
import { readStackConfig } from "./stackFiles";

/** The program under RecordingMocks unless other mocks are given. */
export function runProgram<M extends pulumi.runtime.Mocks = RecordingMocks>(
  stack: string,
  mocks?: M,
  config: Record<string, string> = readStackConfig(stack),
): Promise<{ mocks: M; outputs: Record<string, unknown> }> {
  return run(stack, (mocks ?? new RecordingMocks()) as M, config);
}
