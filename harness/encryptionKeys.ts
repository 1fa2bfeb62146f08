/**
 * Encryption keys for the drills and the EncryptionConfiguration each set of key states gives, rendered
 * by the component's own renderer (so a drill runs what `pulumi up` would deploy): the stack's keys (read
 * back from the rendered file, their states from the stack's settings) and fresh random ones, plus the
 * same states as the records components/encryption/transitions.ts judges.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { parse } from "yaml";
import type { KeyState } from "../components/config/constants";
import type { SecureEtcdSettings } from "../components/config/schema";
import type { LocalEncryptionProvider } from "../components/encryption/classifyStoredValue";
import { encryptionKeyBytes } from "../components/encryption/keys";
import { renderEncryptionConfiguration } from "../components/encryption/render";
import type { KeyStateRecord } from "../components/encryption/transitions";
import { layout } from "./layout";

export interface DrillKey {
  name: string;
  provider: LocalEncryptionProvider;
  secretBase64: string;
}

/** A kms key of the KMS drills: a plugin on `endpoint` holds it (rehearsal/drills/kms). */
export interface KmsDrillKey {
  name: string;
  provider: "kms";
  /** The plugin's socket, `unix:///…`. */
  endpoint: string;
  timeout?: string;
}

export type AnyDrillKey = DrillKey | KmsDrillKey;

/** Key name → state; a key not listed is not deployed at all. */
export type KeyStates = Readonly<Record<string, KeyState>>;

export const localProviders: readonly LocalEncryptionProvider[] = ["secretbox", "aescbc", "aesgcm"];

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
  keys: readonly AnyDrillKey[],
  states: KeyStates,
  resources: readonly string[],
  identityFallback = false,
): string {
  return renderEncryptionConfiguration({
    resources: [...resources],
    keys: keys.filter((k) => k.name in states).map((k) => ({ ...k, state: states[k.name] })),
    identityFallback,
  });
}

export function stateRecords(keys: readonly AnyDrillKey[], states: KeyStates): KeyStateRecord[] {
  return keys
    .filter((k) => k.name in states)
    .map((k) => ({ name: k.name, state: states[k.name], provider: k.provider }));
}

/** `new=staged, old=primary`: one line for a drill's detail. */
export const describeStates = (keys: readonly AnyDrillKey[], states: KeyStates) =>
  keys
    .filter((k) => k.name in states)
    .map((k) => `${k.name}=${states[k.name]}`)
    .join(", ");

/** `k8s:enc:secretbox:v1:key-1:` (`k8s:enc:kms:v2:<name>:` for kms) — what kube-apiserver writes first. */
export const storedPrefix = (k: Pick<AnyDrillKey, "provider" | "name">) =>
  `k8s:enc:${k.provider}:${k.provider === "kms" ? "v2" : "v1"}:${k.name}:`;

export interface StackKeys {
  /** The stack's local keys in configuration order, with their material (from the rendered file). */
  keys: DrillKey[];
  states: KeyStates;
  /** The key that encrypts writes. */
  primary: DrillKey;
  resources: string[];
  identityFallback: boolean;
}

/**
 * The stack's keys as the rendered EncryptionConfiguration holds them. Throws, saying why, when the stack
 * writes with kms: a KMS v2 plugin would have to run beside every apiserver, and none is built here.
 */
export function stackKeys(dir: string, settings: Pick<SecureEtcdSettings, "encryption">): StackKeys {
  const e = settings.encryption;
  const primarySpec = e.keys.find((k) => k.state === "primary");
  if (!primarySpec || primarySpec.provider === "kms")
    throw new Error(
      `the stack writes with kms (${primarySpec?.name ?? "no primary"}): a real apiserver needs a KMS v2 plugin ` +
        `on its node for that, and none is built here`,
    );
  const doc = parse(fs.readFileSync(layout.encryptionConfig(dir), "utf8")) as {
    resources: { providers: Record<string, { keys?: { name: string; secret: string }[] }>[] }[];
  };
  const keys: DrillKey[] = [];
  for (const entry of doc.resources[0]?.providers ?? [])
    for (const provider of localProviders)
      for (const k of entry[provider]?.keys ?? [])
        keys.push({ name: k.name, provider, secretBase64: k.secret });
  const states = Object.fromEntries(
    keys.map((k) => {
      const spec = e.keys.find((s) => s.name === k.name);
      if (!spec)
        throw new Error(
          `${layout.encryptionConfig(dir)} has key ${k.name}, which the stack does not declare`,
        );
      return [k.name, spec.state];
    }),
  );
  return {
    keys,
    states,
    primary: keys.find((k) => k.name === primarySpec.name)!,
    resources: [...e.resources],
    identityFallback: e.identityFallback,
  };
}
