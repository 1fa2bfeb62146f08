import * as fs from "node:fs";
import * as path from "node:path";
import { generatedBlocks, withBlock } from "./blocks";
import { renderConfigReference } from "./configReference";
import { renderOutputsReference } from "./outputsReference";
import { providerSchema, repoRoot } from "./schema";

/*
 * `npm run docs`: writes the generated pages of docs/ from the one schema and the doc comments.
 * `npm run docs -- --check` writes nothing and exits 1 naming every page that differs (what the docs
 * test runs). Run it after changing a config key, an arg, an output or their doc comments.
 */

export const command = "npm run docs";

/**
 * Every page the script writes, with its text as the sources say now: the generated pages whole, and the
 * hand-written pages that hold generated blocks with those blocks filled in.
 */
export function generatedPages(): { file: string; text: string }[] {
  const schema = providerSchema();
  const pages = [
    { file: "docs/configuration-reference.md", text: renderConfigReference(schema) },
    { file: "docs/outputs-reference.md", text: renderOutputsReference(schema) },
  ];
  const withBlocks = new Map<string, string>();
  for (const b of generatedBlocks()) {
    const current = withBlocks.get(b.file) ?? fs.readFileSync(path.join(repoRoot, b.file), "utf8");
    withBlocks.set(b.file, withBlock(current, b));
  }
  return [...pages, ...[...withBlocks].map(([file, text]) => ({ file, text }))];
}

/** The generated pages whose committed text differs from what the sources give. */
export function stalePages(): string[] {
  return generatedPages()
    .filter((p) => {
      const file = path.join(repoRoot, p.file);
      return !fs.existsSync(file) || fs.readFileSync(file, "utf8") !== p.text;
    })
    .map((p) => p.file);
}

const usage =
  "usage: npm run docs [-- --check]   (writes docs/configuration-reference.md, docs/outputs-reference.md)";

function main(argv: string[]): number {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(usage);
    return 0;
  }
  const unknown = argv.filter((a) => a !== "--check");
  if (unknown.length) {
    console.error(`docs: unknown argument ${JSON.stringify(unknown[0])}\n${usage}`);
    return 2;
  }
  if (argv.includes("--check")) {
    const stale = stalePages();
    for (const f of stale) console.error(`docs: ${f} is not what the sources give; run \`${command}\``);
    return stale.length ? 1 : 0;
  }
  const stale = new Set(stalePages());
  for (const p of generatedPages().filter((p) => stale.has(p.file))) {
    fs.writeFileSync(path.join(repoRoot, p.file), p.text);
    console.log(`docs: wrote ${p.file}`);
  }
  if (stale.size === 0) console.log("docs: every generated page is current");
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
