import { parse } from "yaml";
import { fail, pass, warn, type CheckInfo, type Finding } from "./types";

export const check1228: CheckInfo = {
  id: "1.2.28",
  title: "Ensure that encryption providers are appropriately configured",
  source: "cis-1.12",
  scored: false,
};

/** kube-bench's `valid_elements` for 1.2.28: aesgcm and identity are NOT among them. */
export const cisFirstProviders: readonly string[] = ["aescbc", "kms", "secretbox"];

/**
 * Provider names in order, per `resources` entry of an EncryptionConfiguration (YAML or JSON text).
 * No key material is returned: only the provider names (`kms`, `secretbox`, …, `identity`).
 */
export function providerOrderOf(config: string): string[][] {
  const doc = parse(config) as { resources?: { providers?: Record<string, unknown>[] }[] } | null;
  return (doc?.resources ?? []).map((r) => (r.providers ?? []).map((p) => Object.keys(p ?? {})[0] ?? ""));
}

/**
 * What kube-bench's 1.2.28 audit sees: `grep -A1 'providers:' | tail -n1 | grep -o "[A-Za-z]*"` — the
 * first word on the line after the LAST `providers:`. Undefined when there is no such line.
 */
export function kubeBenchProviderReading(config: string): string | undefined {
  const lines = config.split("\n");
  let last = -1;
  lines.forEach((l, i) => {
    if (l.includes("providers:")) last = i;
  });
  if (last < 0) return undefined;
  const line = lines[last + 1] ?? lines[last];
  return /[A-Za-z]+/.exec(line)?.[0];
}

/**
 * CIS 1.2.28 on the provider order (the first provider encrypts every write). Every resources group must
 * start with aescbc, kms or secretbox — so an `aesgcm` or `identity` primary FAILS, as kube-bench reads it.
 * With `kubeBenchReading` (the file's text is known) that reading must agree too.
 */
export function checkProviderOrder(
  groups: readonly (readonly string[])[],
  kubeBenchReading?: string,
): Finding {
  if (groups.length === 0 || groups.some((g) => g.length === 0))
    return fail("no providers configured: nothing is encrypted at rest");
  const bad = groups.map((g) => g[0]).filter((p) => !cisFirstProviders.includes(p));
  if (bad.length)
    return fail(
      `first provider ${bad.map((p) => JSON.stringify(p)).join(", ")}; CIS accepts only ${cisFirstProviders.join(", ")} first` +
        (bad.includes("aesgcm") ? " (aesgcm is real encryption, but kube-bench fails it)" : ""),
    );
  if (kubeBenchReading !== undefined && !cisFirstProviders.includes(kubeBenchReading))
    return fail(`kube-bench's text reading of the file sees "${kubeBenchReading}" first`);
  return pass(`providers in order: ${groups.map((g) => g.join(" → ")).join("; ")}`);
}

/** Guidance beyond CIS: how strong the provider that encrypts writes is (kubernetes.io's ratings). */
export const strongPrimary: CheckInfo = {
  id: "G-1",
  title: "The first encryption provider is a strong one (kms v2 or secretbox)",
  source: "guidance",
  scored: false,
};

export function checkPrimaryStrength(first: string | undefined): Finding {
  switch (first) {
    case "kms":
      return pass("kms (v2 envelope encryption): rated strongest");
    case "secretbox":
      return pass("secretbox (XSalsa20-Poly1305): rated strong");
    case "aescbc":
      return warn(
        "aescbc passes CIS but Kubernetes rates it weak (padding oracle): move to secretbox or kms",
      );
    case "aesgcm":
      return warn("aesgcm needs a new key every 200,000 writes (nonce reuse) and fails CIS 1.2.28");
    default:
      return warn(`${first ?? "nothing"} first: writes are not encrypted`);
  }
}
