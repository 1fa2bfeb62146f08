import type {
  AnalyzeResult,
  PropertyDefinition,
  TypeDefinition,
} from "@pulumi/pulumi/provider/experimental/analyzer";
import {
  classOf,
  ConfigError,
  configNamespace,
  defaultCipherSuites,
  defaults,
  keyClasses,
  loadStackConfig,
  settingsSchema,
  validateSettings,
  type KeyClass,
  type SecureEtcdSettings,
} from "../../components";
import {
  DEFAULT_COLD_STORAGE_CLASS,
  DEFAULT_SNAPSHOT_NAME,
  DEFAULT_SNAPSHOT_NAMESPACE,
} from "../../components/backup/defaults";
import { allowedCipherSuites } from "../../components/config/constants";
import { isInput, referencedType } from "./schema";
import { zodObjectDocs } from "./sourceDocs";

/*
 * Every config key, read from the one schema: its type, description and Input-ness from the Args as the
 * analyzer sees them; its default from the zod schema (or the data tables behind it); its promotion class
 * from config/promotion.ts; and what preview says to a bad value — by asking the validator, so the page
 * quotes the real message. Nothing here lists a key: a new one appears by itself.
 */

export interface ConfigKey {
  /** `backup.objectLock.days`, `members[].ip`. */
  key: string;
  prop: PropertyDefinition;
  /** The object type or enum the key refers to. */
  ref?: TypeDefinition;
  required: boolean;
  /** Rendered default ("" when there is none). */
  defaultText: string;
  /** `mixed` for an object whose keys differ. */
  promotion: KeyClass | "mixed";
  description: string;
  /** The validator's message for a bad value, without the value ("" when the probe found none). */
  refused: string;
}

export interface ConfigSection {
  /** `` for the top level, else the key of the object (`backup`, `encryption.keys[]`). */
  key: string;
  type?: TypeDefinition;
  keys: ConfigKey[];
}

/** A minimal valid config: every probe changes one key of it. */
const baseConfig = () => ({
  clusterName: "payments",
  environment: "dev",
  etcdVersion: "3.5.21",
  members: [{ name: "cp-1", ip: "10.0.1.10" }] as Record<string, unknown>[],
});

/** Defaults applied after the schema, by the renderers (Markdown): read from the same constants they use. */
const renderedDefaults: Record<string, string> = {
  etcdImage: `\`${defaults.etcdImageRepository}:<etcdVersion>-0\``,
  "encryption.keys[].provider": "`encryption.provider`",
  "encryption.keys[].timeout": `\`${defaults.kmsTimeout}\` (kms keys)`,
  "tls.cipherSuites":
    JSON.stringify(defaultCipherSuites) === JSON.stringify(allowedCipherSuites)
      ? `all ${defaultCipherSuites.length} allowed suites`
      : defaultCipherSuites.map((c) => `\`${c}\``).join(", "),
  "backup.bucketName": "auto-named",
  "backup.coldStorageClass": `\`${DEFAULT_COLD_STORAGE_CLASS}\``,
  "backup.oidc.namespace": `\`${DEFAULT_SNAPSHOT_NAMESPACE}\``,
  "backup.oidc.serviceAccount": `\`${DEFAULT_SNAPSHOT_NAME}\``,
};

/** Defaults that differ per environment: where the resolved settings hold them. */
const perEnvironment: Record<string, (s: SecureEtcdSettings) => unknown> = {
  "backup.schedule": (s) => (s.backup.enabled ? s.backup.schedule.schedule : undefined),
  "backup.retentionDays": (s) => (s.backup.enabled ? s.backup.retention.days : undefined),
  "backup.noncurrentVersionDays": (s) =>
    s.backup.enabled ? s.backup.retention.noncurrentVersionDays : undefined,
  "secretStore.recoveryWindowDays": (s) =>
    s.secretStore.enabled ? s.secretStore.recoveryWindowDays : undefined,
};
const knownEnvironments = ["dev", "staging", "prod"];

/** A value as the page shows it: YAML-like flow style. */
export function showValue(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(showValue).join(", ")}]`;
  if (v && typeof v === "object")
    return `{${Object.entries(v)
      .map(([k, x]) => `${k}: ${showValue(x)}`)
      .join(", ")}}`;
  return String(v);
}

// ---- zod: defaults --------------------------------------------------------------------------------------

interface ZodDef {
  type: string;
  innerType?: ZodNode;
  defaultValue?: unknown;
  shape?: Record<string, ZodNode>;
  element?: ZodNode;
}
type ZodNode = { _zod: { def: ZodDef } };

function zodAt(key: string): ZodNode | undefined {
  let node: ZodNode | undefined = settingsSchema as unknown as ZodNode;
  for (const segment of key.split(".")) {
    const isElement = segment.endsWith("[]");
    node = unwrap(node)?._zod.def.shape?.[segment.replace("[]", "")];
    if (isElement) node = unwrap(node)?._zod.def.element;
  }
  return node;
}

function unwrap(node: ZodNode | undefined): ZodNode | undefined {
  while (node && ["default", "optional"].includes(node._zod.def.type)) node = node._zod.def.innerType;
  return node;
}

function zodDefault(key: string): unknown {
  const def = zodAt(key)?._zod.def;
  return def?.type === "default" ? def.defaultValue : undefined;
}

// ---- the validator's own messages -------------------------------------------------------------------------

const probe = "?";
const shownProbe = `${JSON.stringify(probe)} `;

/** Sets `value` at `key` in `config`, creating the objects and one-element lists on the way. */
function setAt(config: Record<string, unknown>, key: string, value: unknown): void {
  const segments = key.split(".");
  let o: Record<string, unknown> = config;
  segments.forEach((segment, i) => {
    const name = segment.replace("[]", "");
    const last = i === segments.length - 1;
    if (last) o[name] = value;
    else if (segment.endsWith("[]")) {
      const list = (o[name] ??= [{}]) as Record<string, unknown>[];
      o = list[0];
    } else o = (o[name] ??= {}) as Record<string, unknown>;
  });
}

/** The bad value a probe uses for a key of this shape, and the problem path its message carries. */
function probeFor(key: string, p: PropertyDefinition): { value: unknown; path: string } | undefined {
  const at = key.replace(/\[\]/g, "[0]");
  if ("type" in p && p.type === "array")
    return "type" in p.items! ? { value: [probe], path: `${at}[0]` } : undefined;
  if ("type" in p && p.type === "object" && p.additionalProperties)
    return { value: { "cp-1": probe }, path: `${at}.cp-1` };
  if ("type" in p && (p.type === "string" || p.type === "number" || p.type === "integer"))
    return { value: probe, path: at };
  return undefined; // enums list their values; booleans say true/false; objects have their own keys
}

function messageFor(run: () => void, path: string): string {
  try {
    run();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const found = e.problems.find((x) => x.path === path);
    if (found)
      return found.message.startsWith(shownProbe) ? found.message.slice(shownProbe.length) : found.message;
  }
  return "";
}

function refusedMessage(key: string, p: PropertyDefinition): string {
  const shape = probeFor(key, p);
  if (!shape) return "";
  const config = baseConfig();
  setAt(config, key, shape.value);
  return messageFor(() => validateSettings(config, "", "probe"), shape.path);
}

// ---- defaults -----------------------------------------------------------------------------------------

function perEnvironmentDefault(key: string): string {
  const read = perEnvironment[key];
  const values = knownEnvironments.map((environment) => {
    const v = read(validateSettings({ ...baseConfig(), environment }, "", "defaults"));
    return `${environment} \`${showValue(v)}\``;
  });
  const other = messageFor(
    () => validateSettings({ ...baseConfig(), environment: "qa" }, "", "defaults"),
    key,
  );
  const otherValue = other
    ? "required"
    : `\`${showValue(read(validateSettings({ ...baseConfig(), environment: "qa", backup: { enabled: false } }, "", "defaults")))}\``;
  return `${values.join(", ")}; other environments: ${otherValue}`;
}

/** A required arg the stack loader fills in (only `environment`: the stack's name). */
function stackDefault(key: string): string {
  const stack = "payments-dev";
  const config = Object.fromEntries(
    Object.entries(baseConfig())
      .filter(([k]) => k !== key)
      .map(([k, v]) => [`${configNamespace}:${k}`, typeof v === "string" ? v : JSON.stringify(v)]),
  );
  try {
    const loaded = loadStackConfig(config, stack).settings as unknown as Record<string, unknown>;
    return loaded[key] === stack ? "**required** as an arg; in stack config: the stack's name" : "";
  } catch {
    return "";
  }
}

function defaultText(key: string, required: boolean): string {
  if (required) return stackDefault(key) || "**required**";
  if (key in perEnvironment) return perEnvironmentDefault(key);
  if (key in renderedDefaults) return renderedDefaults[key];
  const v = zodDefault(key);
  if (v === undefined || (typeof v === "object" && v !== null && !Array.isArray(v))) return "";
  return `\`${showValue(v)}\``;
}

// ---- the walk -----------------------------------------------------------------------------------------

const oneLine = (s: string | undefined) => (s ?? "").replace(/\s+/g, " ").trim();

function promotionOf(key: string): KeyClass | "mixed" {
  const path = key.replace(/\[\]/g, "");
  const c = classOf(path);
  if (c) return c;
  // An object of keys with classes of their own.
  const inside = new Set(
    Object.entries(keyClasses)
      .filter(([k]) => k.startsWith(`${path}.`))
      .map(([, v]) => v),
  );
  if (inside.size === 0)
    throw new Error(`config key ${key} has no promotion class in components/config/promotion.ts`);
  return inside.size === 1 ? [...inside][0] : "mixed";
}

const sectionsOf = new WeakMap<AnalyzeResult, ConfigSection[]>();

/** The config keys, section by section: the top level first, then each object in the order met. */
export function configSections(schema: AnalyzeResult): ConfigSection[] {
  if (!sectionsOf.has(schema)) sectionsOf.set(schema, walkSections(schema));
  return sectionsOf.get(schema)!;
}

function walkSections(schema: AnalyzeResult): ConfigSection[] {
  const configKeys = new Set(Object.keys(settingsSchema.shape));
  const inputs = Object.fromEntries(
    Object.entries(schema.components.SecureEtcd.inputs).filter(([k]) => configKeys.has(k)),
  );
  const sections: ConfigSection[] = [];
  const walk = (
    props: Record<string, PropertyDefinition>,
    section: ConfigSection,
    nested: ConfigSection[],
  ) => {
    for (const [name, p] of Object.entries(props)) {
      const key = section.key ? `${section.key}.${name}` : name;
      const element = "type" in p && p.type === "array" ? p.items! : undefined;
      const ref = referencedType(schema, element ?? p);
      const required = p.optional !== true;
      section.keys.push({
        key,
        prop: p,
        ref,
        required,
        defaultText: defaultText(key, required),
        promotion: promotionOf(key),
        description: oneLine(p.description),
        refused: refusedMessage(key, p),
      });
      if (ref?.properties) nested.push({ key: element ? `${key}[]` : key, type: ref, keys: [] });
    }
  };
  const visit = (section: ConfigSection, props: Record<string, PropertyDefinition>) => {
    sections.push(section);
    const nested: ConfigSection[] = [];
    walk(props, section, nested);
    for (const n of nested) visit(n, n.type!.properties!);
  };
  visit({ key: "", keys: [] }, inputs);
  return sections;
}

/** Keys only the program (index.ts) reads: in keyClasses, not in the Args. */
export function programOnlyKeys(argKeys: readonly string[]): ConfigKey[] {
  const known = new Set(argKeys.map((k) => k.replace(/\[\]/g, "")));
  const docs = new Map([
    ...zodObjectDocs("components/config/stackConfig.ts", "programBackupKeys"),
    ...zodObjectDocs("components/config/stackConfig.ts", "programTopKeys"),
  ]);
  const stackConfig = (key: string, value: unknown): Record<string, string> => {
    const [top, ...rest] = key.split(".");
    const raw: Record<string, unknown> = { ...baseConfig() };
    raw[top] = rest.length ? { [rest.join(".")]: value } : value;
    return Object.fromEntries(
      Object.entries(raw)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [`${configNamespace}:${k}`, typeof v === "string" ? v : JSON.stringify(v)]),
    );
  };
  return (Object.keys(keyClasses) as string[])
    .filter((k) => !known.has(k))
    .map((key) => {
      const last = key.split(".").at(-1)!;
      const program = loadStackConfig(stackConfig(key, undefined), "dev").program as Record<string, unknown>;
      const value = program[last];
      const type = value === undefined ? "string" : typeof value;
      const refused = messageFor(
        () => loadStackConfig(stackConfig(key, probe), "dev"),
        `${configNamespace}:${key}`,
      );
      return {
        key,
        prop: { type: type as "string", plain: true, optional: true },
        required: false,
        defaultText: value === undefined ? "" : `\`${showValue(value)}\``,
        promotion: promotionOf(key),
        description: docs.get(last) ?? "",
        refused,
      };
    });
}

export { isInput };
