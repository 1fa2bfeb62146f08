import type { AnalyzeResult, PropertyDefinition } from "@pulumi/pulumi/provider/experimental/analyzer";
import { anchorOf } from "./configReference";
import { cell, generatedNotice, heading, linkDocsPages, table } from "./markdown";
import { refName } from "./schema";
import { classMembers, returnedObject, type MemberDoc } from "./sourceDocs";

/*
 * docs/outputs-reference.md: what SecureEtcd hands back, generated (`npm run docs`) from the outputs'
 * doc comments — the component provider's (every language, as the SDK's analyzer reads them), the
 * TypeScript component's own members, and the program's stack outputs (index.ts).
 */

/** Where an output's secrecy is written: its description says "Secret." or "(keys secret)". */
export function secrecyOf(description: string | undefined): "yes" | "keys" | "no" {
  if (/\bSecret\.|a Pulumi secret/.test(description ?? "")) return "yes";
  if (/\(keys? secret\)/.test(description ?? "")) return "keys";
  return "no";
}
const secrecyCell = (d: string | undefined) =>
  ({ yes: "**yes**", keys: "keys: **yes**", no: "no" })[secrecyOf(d)];

const code = (s: string) => (s ? `\`${s.replace(/\s+/g, " ")}\`` : "—");

function schemaType(schema: AnalyzeResult, p: PropertyDefinition): string {
  const name = refName(p);
  if (name) return schema.typeDefinitions[name]?.properties ? `[${name}](#${anchorOf(name)})` : name;
  if ("type" in p && p.type === "array") return `${schemaType(schema, p.items!)}[]`;
  if ("type" in p && p.type === "object" && p.additionalProperties)
    return `map&lt;string, ${schemaType(schema, p.additionalProperties)}&gt;`;
  return "type" in p ? p.type : "?";
}

/** Where the program's stack outputs come from: the component, or one of its parts. */
const parts: Record<string, { file: string; className: string }> = {
  secretStore: { file: "components/secretStore/nodeSecretStore.ts", className: "NodeSecretStore" },
  snapshotStore: { file: "components/backup/snapshotStore.ts", className: "SnapshotStore" },
  snapshotJob: { file: "components/backup/snapshotJob.ts", className: "SnapshotJob" },
};

function stackOutputRows(schema: AnalyzeResult, component: Map<string, MemberDoc>): string[][] {
  const outputs = schema.components.SecureEtcd.outputs;
  const partMembers = new Map<string, Map<string, MemberDoc>>();
  const memberOf = (part: string, name: string): MemberDoc | undefined => {
    if (!parts[part]) return undefined;
    if (!partMembers.has(part))
      partMembers.set(
        part,
        new Map(classMembers(parts[part].file, parts[part].className).map((m) => [m.name, m])),
      );
    return partMembers.get(part)!.get(name);
  };
  return returnedObject("index.ts").map(({ name, expression }) => {
    const m = /^etcd\.(\w+)(?:\?\.(\w+))?$/.exec(expression);
    const setting = /^settings\.(\w+)$/.exec(expression)?.[1];
    // The same output of the component provider describes it best; else the member it is read from.
    const description =
      outputs[name]?.description ??
      (setting ? schema.components.SecureEtcd.inputs[setting]?.description : undefined) ??
      (m && !m[2] ? (outputs[m[1]]?.description ?? component.get(m[1])?.doc) : undefined) ??
      (m && m[2] ? memberOf(m[1], m[2])?.doc : undefined) ??
      "";
    return [
      `\`${name}\``,
      code(expression),
      secrecyCell(description),
      linkDocsPages(cell(description)) || "—",
    ];
  });
}

export function renderOutputsReference(schema: AnalyzeResult): string {
  const outputs = schema.components.SecureEtcd.outputs;
  const component = new Map(classMembers("components/secureEtcd.ts", "SecureEtcd").map((m) => [m.name, m]));
  const out: string[] = [
    generatedNotice(
      "provider/secureEtcd.ts (through the SDK's analyzer), components/secureEtcd.ts, index.ts",
    ),
    "# Outputs reference",
    "",
    "What `SecureEtcd` hands back. Key material is a Pulumi secret: it stays encrypted in state and in",
    "`pulumi stack output` (unless `--show-secrets`). Pulumi's schema has no secret flag, so other languages'",
    "SDKs say it in the description; the values are secret at run time in every language.",
    "",
    heading(2, "Every language"),
    "",
    'In TypeScript the outputs keyed by member name are typed by the member names (`etcd.members["cp-9"]`',
    "fails to compile when there is no member `cp-9`).",
    "",
    ...table(
      ["output", "type", "TypeScript type", "secret", "description"],
      Object.entries(outputs).map(([name, p]) => [
        `\`${name}\``,
        schemaType(schema, p) + (p.optional ? " (optional)" : ""),
        code(component.get(name)?.type ?? ""),
        secrecyCell(p.description),
        linkDocsPages(cell(p.description)),
      ]),
    ),
    "",
  ];
  const objectTypes = new Set(
    Object.values(outputs).flatMap((p) => [p, p.additionalProperties, p.items].map((q) => q && refName(q))),
  );
  for (const t of Object.values(schema.typeDefinitions).filter(
    (t) => objectTypes.has(t.name) && t.properties,
  )) {
    out.push(heading(3, t.name), "", cell(t.description), "");
    out.push(
      ...table(
        ["field", "type", "secret", "description"],
        Object.entries(t.properties!).map(([name, p]) => [
          `\`${name}\``,
          schemaType(schema, p),
          secrecyCell(p.description),
          cell(p.description),
        ]),
      ),
      "",
    );
  }

  const tsOnly = [...component.values()].filter((m) => !(m.name in outputs));
  out.push(
    heading(2, "TypeScript only"),
    "",
    "Members of the TypeScript component that no schema can carry (resource objects, methods, typed settings).",
    "",
    ...table(
      ["member", "TypeScript type", "description"],
      tsOnly.map((m) => [`\`${m.name}\``, code(m.type), linkDocsPages(cell(m.doc)) || "—"]),
    ),
    "",
  );

  out.push(
    heading(2, "Stack outputs of this project"),
    "",
    "`pulumi stack output NAME` on a stack of this repository (`index.ts`) gives these; `--show-secrets`",
    "reveals the secret ones.",
    "",
    ...table(["stack output", "from", "secret", "description"], stackOutputRows(schema, component)),
  );
  return `${out.join("\n").trimEnd()}\n`;
}
