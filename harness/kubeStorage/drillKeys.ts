/**
 * Fresh encryption keys for a rotation drill and the EncryptionConfiguration each set of key states
 * gives, rendered by the component's own renderer (so the drill runs what `pulumi up` would deploy),
 * plus the same states as the records components/encryption/transitions.ts judges.
 */
import { randomBytes } from "node:crypto";
import type { KeyState } from "../../components/config/constants";
import type { LocalEncryptionProvider } from "../../components/encryption/classifyStoredValue";
import { encryptionKeyBytes } from "../../components/encryption/keys";
import { renderEncryptionConfiguration } from "../../components/encryption/render";
import type { KeyStateRecord } from "../../components/encryption/transitions";

export interface DrillKey {
  name: string;
  provider: LocalEncryptionProvider;
  secretBase64: string;
}

/** Key name → state; a key not listed is not deployed at all. */
export type KeyStates = Readonly<Record<string, KeyState>>;

/** A new random 32-byte key named `<label>-<8 hex>`, so no two drill runs share a key name. */
export function freshKey(label: string, provider: LocalEncryptionProvider): DrillKey {
  return {
    name: `${label}-${randomBytes(4).toString("hex")}`,
    provider,
    secretBase64: randomBytes(encryptionKeyBytes).toString("base64"),
  };
}

/** The EncryptionConfiguration for these states (archived and undeployed keys are left out). */
export function encryptionConfigFor(
  keys: readonly DrillKey[],
  states: KeyStates,
  resources: readonly string[],
): string {
  return renderEncryptionConfiguration({
    resources: [...resources],
    keys: keys.filter((k) => k.name in states).map((k) => ({ ...k, state: states[k.name] })),
    identityFallback: false,
  });
}

export function stateRecords(keys: readonly DrillKey[], states: KeyStates): KeyStateRecord[] {
  return keys
    .filter((k) => k.name in states)
    .map((k) => ({ name: k.name, state: states[k.name], provider: k.provider }));
}

/** `new=staged, old=primary`: one line for a drill's detail. */
export const describeStates = (keys: readonly DrillKey[], states: KeyStates) =>
  keys.map((k) => `${k.name}=${states[k.name] ?? "absent"}`).join(", ");
