import type { AnalyzeResult, PropertyDefinition } from "@pulumi/pulumi/provider/experimental/analyzer";
import { settingsSchema } from "../../components";
import { configSections, isInput, programOnlyKeys, type ConfigKey, type ConfigSection } from "./configKeys";
import { cell, escapeText, generatedNotice, heading, linkDocsPages, slug, table } from "./markdown";
import { refName } from "./schema";
import { interfaceMembers } from "./sourceDocs";

/** docs/configuration-reference.md: every config key and arg, generated (`npm run docs`). */

/** The anchor of a heading whose text is `text` (Markdown code marks are not part of it). */
export const anchorOf = (text: string) => slug(text.replace(/`/g, ""));

const sectionTitle = (s: ConfigSection) => (s.key ? `\`${s.key}\`` : "Top-level keys");

export function typeText(schema: AnalyzeResult, p: PropertyDefinition, sections: ConfigSection[]): string {
  const link = (name: string): string => {
    const t = schema.typeDefinitions[name];
    if (t?.enum) return `[${name}](#${anchorOf(name)})`;
    const section = sections.find((s) => s.type?.name === name);
    return section ? `[${name}](#${anchorOf(sectionTitle(section))})` : name;
  };
  const inner = (q: PropertyDefinition): string => {
    const name = refName(q);
    if (name) return link(name);
    if ("type" in q && q.type === "array") return `${inner(q.items!)}[]`;
    if ("type" in q && q.type === "object" && q.additionalProperties)
      return `map<string, ${inner(q.additionalProperties)}>`;
    return "type" in q ? q.type : "?";
  };
  const text = inner(p);
  const items = "type" in p && p.type === "array" ? p.items : undefined;
  const shown = isInput(p)
    ? items && isInput(items)
      ? `Input<Input<${inner(items)}>[]>`
      : `Input<${text}>`
    : text;
  return shown.replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function keyRows(
  schema: AnalyzeResult,
  keys: ConfigKey[],
  sections: ConfigSection[],
  prefix: string,
): string[][] {
  return keys.map((k) => [
    `\`${k.key.slice(prefix.length)}\``,
    typeText(schema, k.prop, sections),
    k.defaultText || "—",
    { promotable: "promotes", environment: "environment", mixed: "by key" }[k.promotion],
    linkDocsPages(k.description) + (k.refused ? `<br>Refused: *"…" ${escapeText(k.refused)}*` : ""),
  ]);
}

export function renderConfigReference(schema: AnalyzeResult): string {
  const sections = configSections(schema);
  const allKeys = sections.flatMap((s) => s.keys.map((k) => k.key));
  const inputs = sections.flatMap((s) => s.keys.filter((k) => isInput(k.prop)).map((k) => `\`${k.key}\``));
  const head = ["key", "type", "default", "promotion", "description"];
  const out: string[] = [
    generatedNotice("components/secureEtcdArgs.ts (through the SDK's analyzer), components/config/"),
    "# Configuration reference",
    "",
    "Stack config keys live under the `secure-etcd:` namespace (`secure-etcd:backup` holds the `backup` object);",
    "the component's args have the same names and shapes in every language. Unknown keys are errors, and",
    "every value is validated at `pulumi preview`, before anything is created (see",
    "[Installation & configuration](installation-configuration.md)).",
    "",
    `- **type**: \`Input<…>\` marks the only values that may come from other resources (${inputs.join(", ")});`,
    "  everything else is plain: it decides which resources exist, or is config known when the program is written.",
    "- **promotion**: `promotes` moves dev → staging → prod with `secure-etcd promote`; `environment` is each",
    "  environment's own and never moves ([Promotion](promotion.md)).",
    '- **Refused**: what `pulumi preview` says to a bad value (`"…"` stands for the value), asked of the validator itself.',
    "",
  ];
  for (const s of sections) {
    const prefix = s.key ? `${s.key}.` : "";
    out.push(heading(2, sectionTitle(s)), "");
    if (s.type?.description) out.push(linkDocsPages(cell(s.type.description)), "");
    out.push(...table(head, keyRows(schema, s.keys, sections, prefix)), "");
  }

  const programKeys = programOnlyKeys(allKeys);
  out.push(
    heading(2, "Program-only keys"),
    "",
    "Read by this project's program (`index.ts`), never by the component: stack config only.",
    "",
    ...table(head, keyRows(schema, programKeys, sections, "")),
    "",
  );

  const configKeys = new Set(Object.keys(settingsSchema.shape));
  const argsOnly = Object.entries(schema.components.SecureEtcd.inputs).filter(([k]) => !configKeys.has(k));
  const tsOnly = classMembersOfArgs().filter((m) => !(m.name in schema.components.SecureEtcd.inputs));
  out.push(
    heading(2, "Args that are not stack config"),
    "",
    ...table(
      ["arg", "type", "languages", "description"],
      [
        ...argsOnly.map(([name, p]) => [
          `\`${name}\``,
          typeText(schema, p, sections),
          "all",
          cell(p.description),
        ]),
        ...tsOnly.map((m) => [`\`${m.name}\``, `\`${m.type}\``, "TypeScript", m.doc]),
      ],
    ),
    "",
  );

  out.push(
    heading(2, "Enums"),
    "",
    "Other languages' SDKs name each value by its member name (e.g. Python `KeyAlgorithm.ECDSA_P256`).",
    "",
  );
  for (const t of Object.values(schema.typeDefinitions).filter((t) => t.enum)) {
    out.push(heading(3, t.name), "");
    if (t.description) out.push(linkDocsPages(cell(t.description)), "");
    const described = t.enum!.some((e) => e.description);
    out.push(
      ...table(
        ["value", "member", ...(described ? ["description"] : [])],
        t.enum!.map((e) => [`\`${e.value}\``, `\`${e.name}\``, ...(described ? [cell(e.description)] : [])]),
      ),
      "",
    );
  }
  return `${out.join("\n").trimEnd()}\n`;
}

/** The TypeScript-only args: SecureEtcdArgs<M>'s own members beyond the schema's. */
function classMembersOfArgs() {
  return interfaceMembers("components/secureEtcdArgs.ts", "SecureEtcdArgs");
}
