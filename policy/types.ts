import type { ResourceInput, StackResource, Violation } from "./resources";

export type Level = "mandatory" | "advisory";

/** A policy as plain data: its metadata and a pure check. `pack.ts` turns it into an @pulumi/policy one. */
interface PolicyBase {
  /** Kebab-case, unique in the pack. */
  name: string;
  displayName: string;
  description: string;
  enforcementLevel: Level;
  severity: "low" | "medium" | "high" | "critical";
  /** The CIS Kubernetes Benchmark recommendation it enforces, when it is one. */
  cis?: { id: string; title: string };
  remediationSteps: string;
  /** JSON schema of its config (`pulumi preview --policy-pack-config`), if it has any. */
  configSchema?: { properties: Record<string, Record<string, unknown>> };
}

export interface StackPolicy extends PolicyBase {
  kind: "stack";
  validate(resources: readonly StackResource[], config: Record<string, unknown>): Violation[];
}

export interface ResourcePolicy extends PolicyBase {
  kind: "resource";
  /** Resource types it reads; others are not applicable. */
  types: readonly string[];
  /** Violation messages for one resource. */
  validate(resource: ResourceInput, config: Record<string, unknown>): string[];
}

export type PackPolicy = StackPolicy | ResourcePolicy;
