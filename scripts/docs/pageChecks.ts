import * as fs from "node:fs";
import * as path from "node:path";
import { slug } from "./markdown";
import { repoRoot } from "./schema";

/*
 * What the docs test reads out of the Markdown pages: links, headings, the commands shown and the
 * repository paths named. Generic over README.md and every page under docs/, including pages added later.
 */

/** README.md and every .md under docs/, relative to the repository root. */
export function markdownPages(): string[] {
  const out = ["README.md"];
  const walk = (dir: string) => {
    for (const e of fs
      .readdirSync(path.join(repoRoot, dir), { withFileTypes: true })
      .sort((a, b) => a.name.localeCompare(b.name)))
      if (e.isDirectory()) walk(path.join(dir, e.name));
      else if (e.name.endsWith(".md")) out.push(path.join(dir, e.name));
  };
  walk("docs");
  return out;
}

export interface Line {
  /** 1-based. */
  line: number;
  text: string;
  /** The info string of the fenced block the line is in; undefined outside one. */
  fence?: string;
}

/** The page's lines, each marked with the fenced block it is in (YAML front matter dropped). */
export function linesOf(text: string): Line[] {
  const out: Line[] = [];
  let fence: string | undefined;
  let frontMatter = text.startsWith("---\n");
  text.split("\n").forEach((raw, i) => {
    if (frontMatter) {
      if (i > 0 && raw === "---") frontMatter = false;
      return;
    }
    const marker = /^\s*(```|~~~)(.*)$/.exec(raw);
    if (marker && fence === undefined) fence = marker[2].trim();
    else if (marker) fence = undefined;
    else out.push({ line: i + 1, text: raw, fence });
  });
  return out;
}

/** Inline code spans of a line outside fences. */
const codeSpans = (text: string): string[] => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
const withoutCode = (text: string): string => text.replace(/`[^`]*`/g, "");

/** Every `[text](target)` and `![alt](target)` outside code. */
export function linksIn(text: string): { line: number; target: string }[] {
  return linesOf(text)
    .filter((l) => l.fence === undefined)
    .flatMap((l) =>
      [...withoutCode(l.text).matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => ({
        line: l.line,
        target: m[1],
      })),
    );
}

/** The anchors a page offers: its headings' slugs (repeated ones numbered, as GitHub does) and `id`s. */
export function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const l of linesOf(text).filter((l) => l.fence === undefined)) {
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(l.text);
    if (h) {
      const base = slug(h[1].replace(/\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/`/g, ""));
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      out.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const m of l.text.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) out.add(m[1]);
  }
  return out;
}

export interface ShownCommand {
  page: string;
  line: number;
  /** The command as shown, continuation lines joined, prompt and `sudo` dropped. */
  command: string;
}

/** The commands the test runs or checks: the package's bin, npm scripts, the repository's scripts, mocha. */
const commandStart =
  /^(?:(?:npx secure-etcd|secure-etcd|npm run|npm test|npx mocha)(?=\s|$)|(?:bash|node) scripts\/)/;

/** Commands shown in shell blocks (```sh, ```bash, ```console, unlabeled) and in inline code. */
export function commandsIn(page: string, text: string): ShownCommand[] {
  const out: ShownCommand[] = [];
  const add = (line: number, raw: string) => {
    const command = raw
      .replace(/^\$\s+/, "")
      .replace(/^sudo\s+/, "")
      .replace(/\s+#.*$/, "")
      .trim();
    // A placeholder where the script or subcommand goes (`npm run …`) names no command.
    if (commandStart.test(command) && !/^(?:npm run|npx secure-etcd|secure-etcd)\s+(?:…|<)/.test(command))
      out.push({ page, line, command });
  };
  const lines = linesOf(text);
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l.fence === undefined) {
      for (const span of codeSpans(l.text)) add(l.line, span);
      continue;
    }
    if (!["sh", "bash", "shell", "console", ""].includes(l.fence)) continue;
    let joined = l.text;
    while (joined.endsWith("\\") && i + 1 < lines.length && lines[i + 1].fence !== undefined)
      joined = `${joined.slice(0, -1)} ${lines[++i].text.trim()}`;
    // `a && b`, `a; b`: each part is a command of its own.
    for (const part of joined.split(/\s*(?:&&|;|\|\|)\s*/)) add(l.line, part);
  }
  return out;
}

/** The `--flags` a command passes to the program (after `--` for `npm run`), without values. */
export function flagsOf(command: string): string[] {
  const args = command.startsWith("npm run") ? (command.split(/\s--\s/)[1] ?? "") : command;
  return [...new Set([...args.matchAll(/(?:^|\s)(--[a-z][a-z0-9-]*)/g)].map((m) => m[1]))];
}

const repoDirs = [
  "bench",
  "components",
  "docs",
  "examples",
  "harness",
  "policy",
  "program",
  "provider",
  "rehearsal",
  "scripts",
  "stacks",
  "test",
  "tools",
  "upstream",
];

/** Repository paths named in inline code (`components/backup/snapshot.sh`), outside fences. */
export function repoPathsIn(text: string): { line: number; path: string }[] {
  const pattern = new RegExp(`^(?:${repoDirs.join("|")})/[\\w./-]*$`);
  return linesOf(text)
    .filter((l) => l.fence === undefined)
    .flatMap((l) =>
      codeSpans(l.text)
        .map((s) => s.replace(/[.,:;]$/, ""))
        .filter((s) => pattern.test(s))
        .map((p) => ({ line: l.line, path: p })),
    );
}
