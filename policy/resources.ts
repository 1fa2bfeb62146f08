/*
 * The shapes the policies read: the parts of @pulumi/policy's `PolicyResource` (stack policies: a
 * resource's OUTPUTS) and `ResourceValidationArgs` (resource policies: its INPUTS) that they use. Both
 * are structurally compatible with what the engine passes, and plain enough for tests to build.
 */

export interface StackResource {
  type: string;
  urn: string;
  name: string;
  props: Record<string, unknown>;
  /** Per input property, the resources its value came from (known even while the value is not). */
  propertyDependencies?: Record<string, readonly { urn: string }[]>;
}

export interface ResourceInput {
  type: string;
  urn: string;
  name: string;
  props: Record<string, unknown>;
  opts?: { additionalSecretOutputs?: readonly string[] };
}

export interface Violation {
  message: string;
  /** The resource to attach it to (stack policies). */
  urn?: string;
}

/** What a value reads as during preview when it is not known until apply. */
export const UNKNOWN: unique symbol = Symbol("unknown until apply");
export type Known<T> = T | typeof UNKNOWN;

/**
 * Reads a value the engine may not know yet. During preview @pulumi/policy wraps props in a proxy that
 * throws `UnknownValueError` for such values; left alone, that turns the whole policy into an advisory
 * "can't run during preview". Policies that can decide without the value catch it here.
 */
export function known<T>(read: () => T): Known<T> {
  try {
    return read();
  } catch (e) {
    if (e instanceof Error && e.constructor.name === "UnknownValueError") return UNKNOWN;
    throw e;
  }
}

/**
 * The types a URN's resource is nested in, outermost first, and its own last
 * (`urn:pulumi:stack::project::a$b$c::name` → [a, b, c]).
 */
export function typeChainOf(urn: string): string[] {
  return (urn.split("::")[2] ?? "").split("$");
}

/** The stack a URN belongs to (`urn:pulumi:<stack>::…`). */
export const stackOf = (urn: string) => urn.split("::")[0].replace(/^urn:pulumi:/, "");

/**
 * Resources created by this package: nested (at any depth) in a `secure-etcd:` component. The pack
 * judges only those, so a consumer's other buckets and keys are not this pack's business.
 */
export const createdBySecureEtcd = (urn: string) =>
  typeChainOf(urn)
    .slice(0, -1)
    .some((t) => t.startsWith("secure-etcd:"));

/** Resources of `type` whose `property` input came from `target` (or, failing that, equals one of its ids). */
export function dependents(
  resources: readonly StackResource[],
  type: string,
  property: string,
  target: StackResource,
): StackResource[] {
  const ids = [known(() => target.props.id), known(() => target.props.bucket)].filter(
    (v): v is string => typeof v === "string" && v !== "",
  );
  return resources.filter((r) => {
    if (r.type !== type) return false;
    if ((r.propertyDependencies?.[property] ?? []).some((d) => d.urn === target.urn)) return true;
    const v = known(() => r.props[property]);
    return typeof v === "string" && ids.includes(v);
  });
}
