import { isMap, parseDocument, type Document } from "yaml";
import {
  classOf,
  compareVersions,
  ConfigError,
  configNamespace,
  keyClasses,
  loadStackConfig,
  parseEtcdVersion,
  promotableKeys,
  promotionRecord,
  valueAt,
  type ConfigKeyPath,
  type StackSettings,
} from "../../components";
import { packageVersion } from "../../components/packageInfo";
import {
  describeLayer,
  hasUnreadableLayer,
  isKnowable,
  readStackEnvironment,
  SettingsUnknowable,
  type StackEnvironment,
} from "./stackEnvironment";

/*
 * A promotion as data: which promotable settings of the target stack file change to the source's, the
 * target file's new text (comments and order kept: the yaml library's document API edits it in place),
 * and everything that makes the promotion unsafe. Pure: text in, plan out; the command writes.
 *
 * Settings are read as Pulumi will see them: a file's `config:` over its ESC `environment:`
 * (stackEnvironment.ts). Where an imported or computed environment may supply a setting the plan
 * depends on, promote cannot know it and says so (SettingsUnknowable, exit 3) instead of planning as if
 * the setting took its default.
 */

export interface StackText {
  /** Stack name (`dev`). */
  name: string;
  /** Where it came from, for messages. */
  file: string;
  text: string;
}

export interface PromotionChange {
  key: ConfigKeyPath;
  kind: "set" | "remove";
  from: unknown;
  to: unknown;
}

export interface PromotionPlan {
  changes: PromotionChange[];
  /** The target file after the promotion (equal to the input when nothing changes). */
  text: string;
  /** Safe but worth a look (e.g. an etcd patch downgrade). */
  warnings: string[];
}

/** The promotion is refused: `key` names what (a flag, a config key), exit 2. */
export class PromotionRefused extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`${key}: ${message}`);
  }
}

/** dev → staging → prod, unless the target names its source with `secure-etcd:promotedFrom`. */
export const defaultPromotionChain = ["dev", "staging", "prod"] as const;

export interface PlanOptions {
  /** Promote only these keys (each must be promotable). Default: every promotable key. */
  only?: string[];
}

export function planPromotion(source: StackText, target: StackText, o: PlanOptions = {}): PromotionPlan {
  const src = readStack(source);
  const dst = readStack(target);
  checkChain(source.name, target, dst);
  const keys = selectedKeys(o.only);
  requireKnowable(keys, [
    [source, src],
    [target, dst],
  ]);
  const before = promotionRecord(dst.settings.args, packageVersion()).settings;
  const wanted = promotionRecord(src.settings.args, packageVersion()).settings;
  const doc = parseDocument(target.text);
  const sourceDoc = parseDocument(source.text);
  const changes: PromotionChange[] = [];
  for (const key of keys) {
    if (JSON.stringify(before[key]) === JSON.stringify(wanted[key])) continue;
    const raw = writtenValue(sourceDoc, src, key);
    if (raw === undefined) {
      removeIn(doc, key);
      changes.push({ key, kind: "remove", from: before[key], to: wanted[key] });
    } else {
      doc.setIn(yamlPath(key), doc.createNode(raw));
      changes.push({ key, kind: "set", from: before[key], to: wanted[key] });
    }
  }
  refuseImplicitProviderChange(dst.settings, changes, target.name);
  // No padding inside [a, b]: keep the style stack files are written in.
  const text = changes.length > 0 ? doc.toString({ flowCollectionPadding: false }) : target.text;
  const result = readStack({ ...target, text }, "the promoted stack file");
  checkOwnedKeysUntouched(dst.settings, result.settings, target.name);
  checkPromotedAsWanted(keys, wanted, result.settings, target.name);
  return { changes, text, warnings: versionWarnings(changes) };
}

/** A stack file read as Pulumi will see it: its ESC environment's known values under its `config:`. */
interface ReadStack {
  settings: StackSettings;
  /** The file's own `config:`, by full key. */
  fileConfig: Record<string, unknown>;
  env: StackEnvironment;
}

function readStack(s: StackText, what = `${s.file}`): ReadStack {
  const doc = parseDocument(s.text);
  if (doc.errors.length > 0)
    throw new PromotionRefused(s.file, `is not valid YAML: ${doc.errors[0].message}`);
  const top = (doc.toJS() as { config?: Record<string, unknown>; environment?: unknown } | null) ?? {};
  const fileConfig = top.config ?? {};
  const env = readStackEnvironment(top.environment, s.file);
  const effective = { ...env.staticConfig, ...fileConfig };
  const flat = Object.fromEntries(
    Object.entries(effective).map(([k, v]) => [
      k,
      typeof v === "object" && v !== null ? JSON.stringify(v) : String(v),
    ]),
  );
  try {
    return { settings: loadStackConfig(flat, s.name), fileConfig, env };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    if (hasUnreadableLayer(env))
      throw new SettingsUnknowable(
        `${what} ${describeLayer(env)}, which may supply settings promote cannot read offline; ` +
          `without them it is rejected (${e.message}). Write the settings it needs in its config: to promote it`,
      );
    throw new PromotionRefused(what, e.message);
  }
}

/** The top-level config key a setting lives in: `backup.schedule` → `secure-etcd:backup`. */
const configKeyOf = (key: string) => `${configNamespace}:${key.split(".")[0]}`;

/**
 * Every setting the plan reads must be knowable in both files: an imported (or computed) environment may
 * set one the file leaves out, and the file's value or the default would then be a guess.
 */
function requireKnowable(keys: readonly ConfigKeyPath[], stacks: [StackText, ReadStack][]): void {
  const problems = stacks.flatMap(([s, r]) => {
    const unknown = [...new Set(keys.map(configKeyOf))].filter((k) => !isKnowable(r.env, r.fileConfig, k));
    return unknown.length === 0
      ? []
      : [
          `${s.file} ${describeLayer(r.env)} and leaves ${unknown.join(", ")} out of its config:, so an environment may set ${unknown.length === 1 ? "it" : "them"}`,
        ];
  });
  if (problems.length > 0)
    throw new SettingsUnknowable(
      `${problems.join("; ")}. Promote cannot read ESC environments offline: write those settings in the ` +
        `stack file's config: (a value there wins over every environment), or leave them out with --only`,
    );
}

/** The source's value for `key` as written: in its config: if the file sets that block, else its inline environment. */
function writtenValue(sourceDoc: Document, src: ReadStack, key: ConfigKeyPath): unknown {
  if (Object.hasOwn(src.fileConfig, configKeyOf(key))) return sourceDoc.getIn(yamlPath(key));
  let v: unknown = src.env.staticConfig[configKeyOf(key)];
  for (const part of key.split(".").slice(1))
    v = typeof v === "object" && v !== null ? (v as Record<string, unknown>)[part] : undefined;
  return v;
}

/** After the write, each promoted setting must read (config: over the environment) as the source's. */
function checkPromotedAsWanted(
  keys: readonly ConfigKeyPath[],
  wanted: Record<string, unknown>,
  after: StackSettings,
  target: string,
): void {
  const got = promotionRecord(after.args, packageVersion()).settings;
  for (const key of keys)
    if (JSON.stringify(got[key]) !== JSON.stringify(wanted[key]))
      throw new PromotionRefused(
        key,
        `would read ${JSON.stringify(got[key] ?? null)} in ${target} after the promotion, not the source's ${JSON.stringify(wanted[key] ?? null)} (${target}'s environment: sets ${configKeyOf(key)}; move it into config: first)`,
      );
}

function checkChain(from: string, target: StackText, dst: ReadStack): void {
  const key = `${configNamespace}:promotedFrom`;
  if (!isKnowable(dst.env, dst.fileConfig, key))
    throw new SettingsUnknowable(
      `${target.file} ${describeLayer(dst.env)} and leaves ${key} out of its config:, so promote cannot tell which stack ${target.name} is promoted from; write it in the file`,
    );
  const promotedFrom = dst.settings.program.promotedFrom;
  if (promotedFrom !== undefined) {
    const name = promotedFrom.split("/").pop();
    if (name !== from)
      throw new PromotionRefused(
        key,
        `${target.name} is promoted from ${JSON.stringify(promotedFrom)}, not ${JSON.stringify(from)}; environments are not skipped`,
      );
    return;
  }
  const chain: readonly string[] = defaultPromotionChain;
  const i = chain.indexOf(from);
  if (i < 0 || chain[i + 1] !== target.name)
    throw new PromotionRefused(
      "--to",
      `${JSON.stringify(target.name)} does not follow ${JSON.stringify(from)} in ${chain.join(" → ")}; environments are not skipped (set ${configNamespace}:promotedFrom in the target to promote along another path)`,
    );
}

function selectedKeys(only: string[] | undefined): ConfigKeyPath[] {
  if (!only) return promotableKeys;
  for (const k of only) {
    const cls = classOf(k);
    if (cls === undefined)
      throw new PromotionRefused(
        "--only",
        `${JSON.stringify(k)} is not a config key; promotable: ${promotableKeys.join(", ")}`,
      );
    if (cls === "environment")
      throw new PromotionRefused(k, "is owned by each environment and is never promoted");
  }
  return promotableKeys.filter((k) => only.some((o) => k === o || k.startsWith(`${o}.`)));
}

const yamlPath = (key: string) => [
  "config",
  `${configNamespace}:${key.split(".")[0]}`,
  ...key.split(".").slice(1),
];

/** Removes a key; a block left empty goes too (an empty `secure-etcd:tls:` would mean `null`). */
function removeIn(doc: Document, key: string): void {
  const path = yamlPath(key);
  doc.deleteIn(path);
  for (let p = path.slice(0, -1); p.length > 2; p = p.slice(0, -1)) {
    const node = doc.getIn(p, true);
    if (isMap(node) && node.items.length === 0) doc.deleteIn(p);
  }
  const top = doc.getIn(path.slice(0, 2), true);
  if (isMap(top) && top.items.length === 0) doc.deleteIn(path.slice(0, 2));
}

/** A promoted default provider must not silently change the provider of a key that takes the default. */
function refuseImplicitProviderChange(dst: StackSettings, changes: PromotionChange[], target: string): void {
  if (!changes.some((c) => c.key === "encryption.provider")) return;
  const implicit = (dst.args.encryption?.keys ?? [])
    .filter((k) => k.provider === undefined)
    .map((k) => k.name);
  if (implicit.length > 0)
    throw new PromotionRefused(
      "encryption.keys",
      `${implicit.map((n) => JSON.stringify(n)).join(", ")} in ${target} take encryption.provider's default, so promoting the default would change their provider; give each its provider explicitly in ${target} first (key providers are the environment's own)`,
    );
}

/**
 * Belt and braces: whatever the plan did, no environment-owned value may differ afterwards — compared
 * as written and, for the keys, as resolved (a promoted `encryption.provider` must not silently change
 * the provider of a key that takes the default).
 */
function checkOwnedKeysUntouched(before: StackSettings, after: StackSettings, target: string): void {
  for (const key of Object.keys(keyClasses) as ConfigKeyPath[]) {
    if (keyClasses[key] !== "environment") continue;
    if (JSON.stringify(valueAt(before.args, key)) !== JSON.stringify(valueAt(after.args, key)))
      throw new PromotionRefused(key, `would change in ${target}, but it is owned by the environment`);
  }
  const keys = (s: StackSettings) =>
    s.settings.encryption.keys.map((k) => `${k.name}:${k.provider}`).join(",");
  if (keys(before) !== keys(after))
    throw new PromotionRefused(
      "encryption.keys",
      `the providers of ${target}'s keys would change (${keys(before)} → ${keys(after)}): keys that take encryption.provider's default must name their provider in ${target} before the default is promoted`,
    );
}

function versionWarnings(changes: PromotionChange[]): string[] {
  const c = changes.find((x) => x.key === "etcdVersion");
  if (!c) return [];
  const a = parseEtcdVersion(String(c.from));
  const b = parseEtcdVersion(String(c.to));
  if (!a || !b || compareVersions(b, a) >= 0) return [];
  if (b.major !== a.major || b.minor !== a.minor)
    throw new PromotionRefused(
      "etcdVersion",
      `${String(c.from)} → ${String(c.to)} is a minor-version downgrade, which needs etcd's own downgrade procedure; promote forward only`,
    );
  return [
    `etcdVersion goes down from ${String(c.from)} to ${String(c.to)} (a patch downgrade): check that is what you want`,
  ];
}

/** The plan as a readable diff. */
export function formatPlan(source: StackText, target: StackText, plan: PromotionPlan): string {
  const show = (v: unknown) => (v === null || v === undefined ? "(default)" : JSON.stringify(v));
  const lines = [`promote ${source.name} → ${target.name} (${source.file} → ${target.file})`];
  if (plan.changes.length === 0) lines.push("  nothing to promote: the promotable settings already match");
  for (const c of plan.changes)
    lines.push(
      c.kind === "set"
        ? `  ~ ${configNamespace}:${c.key}: ${show(c.from)} → ${show(c.to)}`
        : `  - ${configNamespace}:${c.key}: ${show(c.from)} → ${show(c.to)} (the source uses the default)`,
    );
  for (const w of plan.warnings) lines.push(`  warning: ${w}`);
  return lines.join("\n");
}
