import type { ResourceInput, StackResource } from "../../policy/resources";
import { runProgram } from "./program";
import { RecordingMocks } from "./recordingMocks";
import {
  isSecretValue,
  mockMonitorPrototype,
  spyOnRegistrations,
  spyOnResourceOutputs,
  type Registration,
} from "./registrationSpy";

/*
 * What the engine would hand the policy pack for a stack, rebuilt from what the real program tells the
 * (mock) engine: each registration's inputs (ResourceValidationPolicy sees these), each resource's state
 * and each component's `registerOutputs` (StackValidationPolicy sees these as `props`), with URNs, the
 * options and the property dependencies. Secret values arrive unwrapped, as @pulumi/policy passes them;
 * which paths were secret is kept on the side for the tests.
 */

export interface RecordedStack {
  registrations: Registration[];
  /** Component outputs by URN, serialized. */
  outputs: Map<string, Record<string, unknown>>;
  mocks: RecordingMocks;
  programOutputs: Record<string, unknown>;
}

/** Runs the real program for a stack under mocks and records every engine request. */
export async function recordStack(stack: string, config?: Record<string, string>): Promise<RecordedStack> {
  const registrations: Registration[] = [];
  const outputs = new Map<string, Record<string, unknown>>();
  // runProgram makes its own monitor: spy on the class so that monitor is seen too.
  const undo = [
    spyOnRegistrations(registrations, mockMonitorPrototype()),
    spyOnResourceOutputs(outputs, mockMonitorPrototype()),
  ];
  try {
    const { mocks, outputs: programOutputs } = await runProgram(stack, new RecordingMocks(), config);
    return { registrations, outputs, mocks, programOutputs };
  } finally {
    for (const u of undo) u();
  }
}

/** A serialized value as plain data (secrets unwrapped, as @pulumi/policy does), plus where the secrets were. */
export function unwrap(
  v: unknown,
  at: string[] = [],
  secrets: string[][] = [],
): { value: unknown; secrets: string[][] } {
  if (isSecretValue(v)) {
    secrets.push(at);
    return unwrap((v as { value: unknown }).value, at, secrets);
  }
  if (Array.isArray(v))
    return { value: v.map((x, i) => unwrap(x, [...at, String(i)], secrets).value), secrets };
  if (v !== null && typeof v === "object")
    return {
      value: Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x, [...at, k], secrets).value])),
      secrets,
    };
  return { value: v, secrets };
}

const plain = (v: Record<string, unknown> | undefined) =>
  (unwrap(v ?? {}).value ?? {}) as Record<string, unknown>;

/** What ResourceValidationPolicies get, per registration: its inputs and options. */
export function resourceInputsOf(rec: RecordedStack): ResourceInput[] {
  return rec.registrations.map((r) => ({
    type: r.type,
    name: r.name,
    urn: r.urn ?? "",
    props: plain(r.object),
    opts: { additionalSecretOutputs: r.additionalSecretOutputs },
  }));
}

/** What StackValidationPolicies get: custom resources' state, components' registered outputs. */
export function stackResourcesOf(rec: RecordedStack): StackResource[] {
  return rec.registrations.map((r) => ({
    type: r.type,
    name: r.name,
    urn: r.urn ?? "",
    props: plain(r.custom ? r.state : rec.outputs.get(r.urn ?? "")),
    propertyDependencies: Object.fromEntries(
      Object.entries(r.propertyDependencies).map(([k, urns]) => [k, urns.map((urn) => ({ urn }))]),
    ),
  }));
}

/** The SecureEtcd's registered outputs as the engine receives them (serialized), and their secret paths. */
export function secureEtcdOutputsOf(rec: RecordedStack): {
  value: Record<string, unknown>;
  secrets: string[][];
} {
  const r = rec.registrations.find((x) => x.type === "secure-etcd:index:SecureEtcd");
  if (!r?.urn || !rec.outputs.has(r.urn)) throw new Error("the SecureEtcd component registered no outputs");
  const { value, secrets } = unwrap(rec.outputs.get(r.urn));
  return { value: value as Record<string, unknown>, secrets };
}
