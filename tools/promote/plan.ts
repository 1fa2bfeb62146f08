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

/*
 * A promotion as data: which promotable settings of the target stack file change to the source's, the
 * target file's new text (comments and order kept: the yaml library's document API edits it in place),
 * and everything that makes the promotion unsafe. Pure: text in, plan out; the command writes.
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
  const src = loadStack(source);
  const dst = loadStack(target);
  checkChain(source.name, target, dst.program.promotedFrom);
  const keys = selectedKeys(o.only);
  const before = promotionRecord(dst.args, packageVersion()).settings;
  const wanted = promotionRecord(src.args, packageVersion()).settings;
  const doc = parseDocument(target.text);
  const sourceDoc = parseDocument(source.text);
  const changes: PromotionChange[] = [];
  for (const key of keys) {
    if (JSON.stringify(before[key]) === JSON.stringify(wanted[key])) continue;
    const raw = sourceDoc.getIn(yamlPath(key));
    if (raw === undefined) {
      removeIn(doc, key);
      changes.push({ key, kind: "remove", from: before[key], to: wanted[key] });
    } else {
      doc.setIn(yamlPath(key), doc.createNode(raw));
      changes.push({ key, kind: "set", from: before[key], to: wanted[key] });
    }
  }
  refuseImplicitProviderChange(dst, changes, target.name);
  // No padding inside [a, b]: keep the style stack files are written in.
  const text = changes.length > 0 ? doc.toString({ flowCollectionPadding: false }) : target.text;
  const result = loadStack({ ...target, text }, "the promoted stack file");
  checkOwnedKeysUntouched(dst, result, target.name);
  return { changes, text, warnings: versionWarnings(changes) };
}

function loadStack(s: StackText, what = `${s.file}`) {
  const doc = parseDocument(s.text);
  if (doc.errors.length > 0)
    throw new PromotionRefused(s.file, `is not valid YAML: ${doc.errors[0].message}`);
  const config = (doc.toJS() as { config?: Record<string, unknown> } | null)?.config ?? {};
  const flat = Object.fromEntries(
    Object.entries(config).map(([k, v]) => [
      k,
      typeof v === "object" && v !== null ? JSON.stringify(v) : String(v),
    ]),
  );
  try {
    return loadStackConfig(flat, s.name);
  } catch (e) {
    if (e instanceof ConfigError) throw new PromotionRefused(what, e.message);
    throw e;
  }
}

function checkChain(from: string, target: StackText, promotedFrom: string | undefined): void {
  if (promotedFrom !== undefined) {
    const name = promotedFrom.split("/").pop();
    if (name !== from)
      throw new PromotionRefused(
        `${configNamespace}:promotedFrom`,
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
