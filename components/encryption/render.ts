import { stringify } from "yaml";
import type { EncryptionProvider, KeyState } from "../config/constants";

/** A key as the renderer needs it: `secretBase64` for local providers, `endpoint` for kms. */
export interface EncryptionKeyMaterial {
  name: string;
  state: KeyState;
  provider: EncryptionProvider;
  secretBase64?: string;
  endpoint?: string;
  timeout?: string;
}

export interface EncryptionConfigInput {
  resources: string[];
  keys: EncryptionKeyMaterial[];
  /** Append `identity: {}` so objects written before encryption was enabled stay readable. */
  identityFallback: boolean;
}

const stateRank: Record<KeyState, number> = { primary: 0, staged: 1, retired: 2, archived: 3 };

/**
 * Orders keys for the safe rotation sequence: the primary first (it encrypts writes), then staged keys
 * (readable everywhere before they become primary), then retired ones (still needed to read data not yet
 * rewritten). Stable within a state.
 */
export function orderKeys<T extends { state: KeyState }>(keys: readonly T[]): T[] {
  return keys
    .map((k, i) => ({ k, i }))
    .sort((a, b) => stateRank[a.k.state] - stateRank[b.k.state] || a.i - b.i)
    .map(({ k }) => k);
}

/** Archived keys left the EncryptionConfiguration; they live on only in the secret store's key archive. */
export const inEncryptionConfiguration = (k: { state: KeyState }) => k.state !== "archived";

type ProviderEntry =
  | { [p in "secretbox" | "aescbc" | "aesgcm"]?: { keys: { name: string; secret: string }[] } }
  | { kms: { apiVersion: "v2"; name: string; endpoint: string; timeout: string } }
  | { identity: Record<string, never> };

/** One provider entry of the list: a kms plugin (one key) or a local provider with its keys, or identity. */
interface ProviderGroup<K> {
  provider: EncryptionProvider | "identity";
  keys: K[];
}

/**
 * The provider entries in apiserver order: keys of one local provider share one entry; each kms plugin
 * has its own; `identity` last when asked. The one place the order is decided (the list and the names).
 */
function providerGroups<K extends { state: KeyState; provider: EncryptionProvider }>(
  keys: readonly K[],
  identityFallback: boolean,
): ProviderGroup<K>[] {
  const groups: ProviderGroup<K>[] = [];
  const local = new Map<string, ProviderGroup<K>>();
  for (const k of orderKeys(keys).filter(inEncryptionConfiguration)) {
    if (k.provider === "kms") {
      groups.push({ provider: "kms", keys: [k] });
      continue;
    }
    let group = local.get(k.provider);
    if (!group) {
      group = { provider: k.provider, keys: [] };
      local.set(k.provider, group);
      groups.push(group);
    }
    group.keys.push(k);
  }
  if (identityFallback) groups.push({ provider: "identity", keys: [] });
  return groups;
}

/** Provider names in EncryptionConfiguration order (no key material: CIS 1.2.28 reads the first). */
export function providerOrder(
  keys: readonly { state: KeyState; provider: EncryptionProvider }[],
  identityFallback: boolean,
): string[] {
  return providerGroups(keys, identityFallback).map((g) => g.provider);
}

/** The provider list in apiserver order, with the key material. */
export function providerList(
  keys: readonly EncryptionKeyMaterial[],
  identityFallback: boolean,
): ProviderEntry[] {
  return providerGroups(keys, identityFallback).map((g): ProviderEntry => {
    if (g.provider === "identity") return { identity: {} };
    if (g.provider === "kms") {
      const k = g.keys[0];
      if (!k.endpoint) throw new Error(`encryption key ${JSON.stringify(k.name)}: kms needs an endpoint`);
      return { kms: { apiVersion: "v2", name: k.name, endpoint: k.endpoint, timeout: k.timeout ?? "3s" } };
    }
    const entryKeys = g.keys.map((k) => {
      if (!k.secretBase64) throw new Error(`encryption key ${JSON.stringify(k.name)}: missing key material`);
      return { name: k.name, secret: k.secretBase64 };
    });
    return { [g.provider]: { keys: entryKeys } } as ProviderEntry;
  });
}

/** Renders kube-apiserver's `--encryption-provider-config` file (apiserver.config.k8s.io/v1). Pure. */
export function renderEncryptionConfiguration(input: EncryptionConfigInput): string {
  const primaries = input.keys.filter((k) => k.state === "primary");
  if (primaries.length !== 1)
    throw new Error(`an EncryptionConfiguration needs exactly one primary key, got ${primaries.length}`);
  const doc = {
    apiVersion: "apiserver.config.k8s.io/v1",
    kind: "EncryptionConfiguration",
    resources: [
      { resources: [...input.resources], providers: providerList(input.keys, input.identityFallback) },
    ],
  };
  return stringify(doc, { lineWidth: 0 });
}
