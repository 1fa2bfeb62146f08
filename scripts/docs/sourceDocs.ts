import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";
import { repoRoot } from "./schema";

/*
 * Doc comments read straight from the source (parsed, not type-checked: fast), for what the Pulumi
 * schema does not carry: the TypeScript-only members of the component, the classes behind the
 * program's stack outputs, and the program-only stack config keys.
 */

export interface MemberDoc {
  name: string;
  /** The doc comment's text ("" when there is none). */
  doc: string;
  /** The declared type as written (`Readonly<Record<M, MemberTls>>`), or the method's signature. */
  type: string;
  optional: boolean;
  kind: "property" | "method";
}

function parse(file: string): ts.SourceFile {
  const text = fs.readFileSync(path.join(repoRoot, file), "utf8");
  return ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
}

/** A node's doc comment as one line of text (tags and `{@link}` rendered as their text). */
export function docOf(node: ts.Node): string {
  const docs = (node as { jsDoc?: ts.JSDoc[] }).jsDoc ?? [];
  return docs
    .map((d) => ts.getTextOfJSDocComment(d.comment) ?? "")
    .join(" ")
    .replace(/\s+/g, " ")
    .trim();
}

function find<T extends ts.Node>(root: ts.Node, test: (n: ts.Node) => n is T): T[] {
  const out: T[] = [];
  const visit = (n: ts.Node): void => {
    if (test(n)) out.push(n);
    ts.forEachChild(n, visit);
  };
  visit(root);
  return out;
}

/** The public members of a class, in declaration order. */
export function classMembers(file: string, className: string): MemberDoc[] {
  const source = parse(file);
  const cls = find(source, ts.isClassDeclaration).find((c) => c.name?.text === className);
  if (!cls) throw new Error(`${file} declares no class ${className}`);
  const out: MemberDoc[] = [];
  for (const m of cls.members) {
    const modifiers = ts.canHaveModifiers(m) ? (ts.getModifiers(m) ?? []) : [];
    if (
      modifiers.some(
        (x) => x.kind === ts.SyntaxKind.PrivateKeyword || x.kind === ts.SyntaxKind.ProtectedKeyword,
      )
    )
      continue;
    if (ts.isPropertyDeclaration(m) && ts.isIdentifier(m.name))
      out.push({
        name: m.name.text,
        doc: docOf(m),
        type: m.type?.getText(source) ?? "",
        optional: m.questionToken !== undefined,
        kind: "property",
      });
    else if (ts.isMethodDeclaration(m) && ts.isIdentifier(m.name))
      out.push({
        name: m.name.text,
        doc: docOf(m),
        type: `(${m.parameters.map((p) => p.getText(source)).join(", ")}) => ${m.type?.getText(source) ?? "void"}`,
        optional: false,
        kind: "method",
      });
  }
  return out;
}

/** The properties of the object literal passed to `z.object(...)` in the initializer of `variable`. */
export function zodObjectDocs(file: string, variable: string): Map<string, string> {
  const source = parse(file);
  const decl = find(source, ts.isVariableDeclaration).find(
    (d) => ts.isIdentifier(d.name) && d.name.text === variable,
  );
  const literal = decl && find(decl, ts.isObjectLiteralExpression)[0];
  if (!literal) throw new Error(`${file} has no object literal in ${variable}`);
  const out = new Map<string, string>();
  for (const p of literal.properties)
    if (ts.isPropertyAssignment(p) && ts.isIdentifier(p.name)) out.set(p.name.text, docOf(p));
  return out;
}

/** The object a module's default export (`export = async () => { … return { … } }`) returns: name → expression. */
export function returnedObject(file: string): { name: string; expression: string }[] {
  const source = parse(file);
  const exported = find(source, ts.isExportAssignment)[0];
  const returned = exported && find(exported, ts.isReturnStatement).at(-1)?.expression;
  if (!returned || !ts.isObjectLiteralExpression(returned))
    throw new Error(`${file} returns no object literal`);
  return returned.properties.filter(ts.isPropertyAssignment).map((p) => ({
    name: p.name.getText(source),
    expression: p.initializer.getText(source),
  }));
}

/** The members an interface declares itself (not the ones it extends), in declaration order. */
export function interfaceMembers(file: string, interfaceName: string): MemberDoc[] {
  const source = parse(file);
  const decl = find(source, ts.isInterfaceDeclaration).find((d) => d.name.text === interfaceName);
  if (!decl) throw new Error(`${file} declares no interface ${interfaceName}`);
  return decl.members.filter(ts.isPropertySignature).map((m) => ({
    name: m.name.getText(source),
    doc: docOf(m),
    type: m.type?.getText(source) ?? "",
    optional: m.questionToken !== undefined,
    kind: "property" as const,
  }));
}
