import { configNamespace } from "../../components";

/*
 * A stack file's `environment:` (Pulumi ESC), as far as it can be read offline. Pulumi layers the
 * environments' `pulumiConfig` under the file's own `config:` — a config key the file sets is the
 * file's value, a key it leaves out may come from an environment — and the imported environments' values
 * live in Pulumi Cloud. So promote reads what is written (the file, and the static `pulumiConfig` values
 * of an inline definition) and knows which keys it cannot know.
 *
 * The two forms Pulumi accepts: a list of environment names (imports), or an inline definition
 * (`imports:` and `values:`, values merged over the imports).
 */

export interface StackEnvironment {
  /** Environments imported by name. */
  imports: string[];
  /** Inline `values.pulumiConfig` entries with static values, by full config key (`secure-etcd:tls`). */
  staticConfig: Record<string, unknown>;
  /** Inline `pulumiConfig` keys whose values are computed when the environment opens (`${…}`, `fn::…`). */
  computedKeys: string[];
}

/** Promote cannot know a stack's effective settings offline (exit 3): the message names what it needs. */
export class SettingsUnknowable extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SettingsUnknowable";
  }
}

const none: StackEnvironment = { imports: [], staticConfig: {}, computedKeys: [] };

/** Reads the top-level `environment:` of a parsed stack file (undefined when there is none). */
export function readStackEnvironment(environment: unknown, file: string): StackEnvironment {
  if (environment === undefined || environment === null) return none;
  if (Array.isArray(environment)) return { ...none, imports: importNames(environment, file) };
  if (!isRecord(environment)) throw unreadable(file, "is neither a list of environments nor a definition");
  const unknownKeys = Object.keys(environment).filter((k) => k !== "imports" && k !== "values");
  if (unknownKeys.length > 0)
    throw unreadable(file, `has ${unknownKeys.join(", ")}, which promote does not read`);
  const imports = environment.imports === undefined ? [] : importNames(environment.imports, file);
  const values = environment.values;
  if (values !== undefined && !isRecord(values)) throw unreadable(file, "values: is not a mapping");
  const pulumiConfig = values?.pulumiConfig;
  if (pulumiConfig === undefined) return { ...none, imports };
  if (!isRecord(pulumiConfig)) throw unreadable(file, "values.pulumiConfig is not a mapping");
  const staticConfig: Record<string, unknown> = {};
  const computedKeys: string[] = [];
  for (const [key, value] of Object.entries(pulumiConfig)) {
    // An un-namespaced key belongs to the project, whose name promote does not know: maybe ours.
    const full = key.includes(":") ? key : `${configNamespace}:${key}`;
    if (!key.includes(":") || isComputed(value)) computedKeys.push(full);
    else staticConfig[full] = value;
  }
  return { imports, staticConfig, computedKeys };
}

/**
 * Whether `configKey` (a full key, `secure-etcd:backup`) has a value promote can know: written in the
 * file, static in the inline definition, or — with nothing imported or computed that could set it — the
 * schema's default.
 */
export function isKnowable(
  env: StackEnvironment,
  fileConfig: Record<string, unknown>,
  configKey: string,
): boolean {
  if (Object.hasOwn(fileConfig, configKey) || Object.hasOwn(env.staticConfig, configKey)) return true;
  return env.imports.length === 0 && !env.computedKeys.includes(configKey);
}

/** Whether any key may come from somewhere promote cannot read. */
export const hasUnreadableLayer = (env: StackEnvironment) =>
  env.imports.length > 0 || env.computedKeys.length > 0;

/** Where a stack's unknowable keys may come from, for messages. */
export function describeLayer(env: StackEnvironment): string {
  const parts = [];
  if (env.imports.length > 0)
    parts.push(`imports ESC environment${env.imports.length === 1 ? "" : "s"} ${env.imports.join(", ")}`);
  if (env.computedKeys.length > 0)
    parts.push(`computes ${env.computedKeys.join(", ")} in its inline environment`);
  return parts.join(" and ");
}

function importNames(list: unknown, file: string): string[] {
  if (!Array.isArray(list) || !list.every((e) => typeof e === "string" && e.trim() !== ""))
    throw unreadable(file, "imports are not a list of environment names");
  return list as string[];
}

/** ESC interpolation (`${a.b}`) or a function (`fn::secret`, `fn::open::…`) anywhere inside. */
function isComputed(value: unknown): boolean {
  if (typeof value === "string") return value.includes("${");
  if (Array.isArray(value)) return value.some(isComputed);
  if (isRecord(value)) return Object.entries(value).some(([k, v]) => k.startsWith("fn::") || isComputed(v));
  return false;
}

const unreadable = (file: string, why: string) =>
  new SettingsUnknowable(`${file}: environment: ${why}; promote cannot tell which settings it supplies`);

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
