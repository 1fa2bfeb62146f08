import * as path from "node:path";
import {
  Analyzer,
  type AnalyzeResult,
  type PropertyDefinition,
  type TypeDefinition,
} from "@pulumi/pulumi/provider/experimental/analyzer";

/*
 * The component's Pulumi schema as every other language gets it: what the SDK's own analyzer (the one
 * `pulumi package add` runs) infers from provider/. The generated references read the args, their
 * descriptions and the outputs from here, so they show exactly what the SDKs show.
 */

export const repoRoot = path.resolve(__dirname, "..", "..");
export const providerDir = path.join(repoRoot, "provider");

let analyzed: AnalyzeResult | undefined;

/** The analyzer's result for provider/ (computed once per process: it type-checks the whole package). */
export function providerSchema(): AnalyzeResult {
  if (!analyzed) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const providerPackage = require(path.join(providerDir, "package.json")) as Record<string, unknown>;
    analyzed = new Analyzer(providerDir, "secure-etcd", providerPackage, new Set(["SecureEtcd"])).analyze();
  }
  return analyzed;
}

/** `#/types/secure-etcd:index:Backup` → `Backup`; undefined for a property without a reference. */
export const refName = (p: PropertyDefinition): string | undefined =>
  "$ref" in p ? p.$ref.replace(/^#\/types\/[^:]+:index:/, "") : undefined;

/** The type a property refers to (an object type or an enum), if any. */
export function referencedType(schema: AnalyzeResult, p: PropertyDefinition): TypeDefinition | undefined {
  const name = refName(p);
  return name ? schema.typeDefinitions[name] : undefined;
}

/** True for a property whose value may be an Output of another resource (not `plain`). */
export const isInput = (p: PropertyDefinition): boolean => p.plain !== true;
