import * as path from "node:path";
import type { EncryptionProvider, KeyState } from "../config/constants";
import { defaultKmsHealthPortBase } from "./constants";
import { socketPathOf } from "./naming";

/** A key as the plan reads it (the settings' key spec, or a record of one). */
export interface KmsKeyLike {
  name: string;
  state: KeyState;
  provider: EncryptionProvider;
  endpoint?: string;
  healthPort?: number;
}

/** One plugin instance: the kms key it serves, where it listens, its health port. */
export interface KmsPluginPlan {
  key: string;
  state: KeyState;
  /** The EncryptionConfiguration's endpoint, `unix:///…`. */
  endpoint: string;
  /** The plugin's `--listen`. */
  socketPath: string;
  /** What kube-apiserver and the plugin both mount. */
  socketDir: string;
  healthPort: number;
}

/**
 * The health port of each kms key: its own `healthPort`, else 8083 + its position among the kms keys
 * (archived ones included, so archiving a key never moves another key's port and restarts its plugin).
 */
export function kmsHealthPorts(keys: readonly KmsKeyLike[]): Map<string, number> {
  const out = new Map<string, number>();
  keys
    .filter((k) => k.provider === "kms")
    .forEach((k, i) => out.set(k.name, k.healthPort ?? defaultKmsHealthPortBase + i));
  return out;
}

/**
 * One plugin per kms key the EncryptionConfiguration lists (primary, staged, retired), in config order:
 * a staged key needs its own plugin, on its own socket, before it can become primary, and a retired one
 * keeps serving reads until every object is rewritten. Archived keys have none.
 */
export function kmsPluginPlans(keys: readonly KmsKeyLike[]): KmsPluginPlan[] {
  const ports = kmsHealthPorts(keys);
  return keys
    .filter((k) => k.provider === "kms" && k.state !== "archived")
    .map((k) => {
      if (!k.endpoint) throw new Error(`encryption key ${JSON.stringify(k.name)}: kms needs an endpoint`);
      const socketPath = socketPathOf(k.endpoint);
      return {
        key: k.name,
        state: k.state,
        endpoint: k.endpoint,
        socketPath,
        socketDir: path.posix.dirname(socketPath),
        healthPort: ports.get(k.name)!,
      };
    });
}

/** Whether any key uses kms (then the envelope keys, grants and plugins exist). */
export const usesKms = (keys: readonly { provider: EncryptionProvider }[]) =>
  keys.some((k) => k.provider === "kms");
