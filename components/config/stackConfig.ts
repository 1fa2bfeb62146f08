import { validateSettings, type SecureEtcdSettings } from "./schema";

/** Stack config keys live under this namespace: `secure-etcd:clusterName`, `secure-etcd:members`, … */
export const configNamespace = "secure-etcd";

/**
 * Turns a stack's flat config (as `pulumi.runtime.allConfig()` returns it: `{"secure-etcd:members": "<json>"}`)
 * into validated settings. Runs before any resource is created; unknown `secure-etcd:` keys are errors
 * (a typo must not silently fall back to a default).
 */
export function settingsFromStackConfig(
  allConfig: Record<string, string>,
  stackName: string,
): SecureEtcdSettings {
  const raw: Record<string, unknown> = {};
  for (const [fullKey, value] of Object.entries(allConfig)) {
    const [ns, key] = splitKey(fullKey);
    if (ns !== configNamespace || key === undefined) continue;
    raw[key] = decodeValue(value);
  }
  if (raw.environment === undefined) raw.environment = stackName;
  return validateSettings(raw, `${configNamespace}:`, `stack config for stack ${JSON.stringify(stackName)}`);
}

function splitKey(fullKey: string): [string, string | undefined] {
  const i = fullKey.indexOf(":");
  return i < 0 ? [fullKey, undefined] : [fullKey.slice(0, i), fullKey.slice(i + 1)];
}

/** Structured values arrive as JSON text; scalars as plain strings. */
function decodeValue(value: string): unknown {
  const t = value.trim();
  if (t.startsWith("{") || t.startsWith("[")) {
    try {
      return JSON.parse(t);
    } catch {
      return value;
    }
  }
  return value;
}
