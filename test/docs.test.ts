import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { keyClasses, settingsSchema } from "../components";
import { SecureEtcd as ProviderSecureEtcd } from "../provider/secureEtcd";
import { blockIn } from "../scripts/docs/blocks";
import { configSections, programOnlyKeys } from "../scripts/docs/configKeys";
import { command as docsCommand, generatedPages } from "../scripts/docs/generate";
import { secrecyOf } from "../scripts/docs/outputsReference";
import {
  anchorsOf,
  commandsIn,
  flagsOf,
  linksIn,
  markdownPages,
  repoPathsIn,
  type ShownCommand,
} from "../scripts/docs/pageChecks";
import { providerSchema, repoRoot } from "../scripts/docs/schema";
import { RecordingMocks } from "./support/recordingMocks";
import { reportKeys } from "./support/report";

/*
 * Docs that cannot lie: the generated pages are what the sources give; every command shown runs (with
 * --help) and takes the flags shown; every relative link and #anchor resolves; every repository path
 * named exists. Generic over README.md and docs/: pages added later are checked the same way.
 */

const read = (file: string) => fs.readFileSync(path.join(repoRoot, file), "utf8");
const pages = markdownPages();

describe("docs: the generated references and blocks are current", function () {
  this.timeout(600_000);
  let generated: ReturnType<typeof generatedPages>;
  before(() => {
    generated = generatedPages();
  });

  it(`every generated page and block is what \`${docsCommand}\` writes`, () => {
    const stale = generated
      .filter((p) => read(p.file) !== p.text)
      .map((p) => {
        const now = read(p.file).split("\n");
        const want = p.text.split("\n");
        const i = want.findIndex((l, n) => l !== now[n]);
        return `${p.file} line ${i + 1}: committed ${JSON.stringify(now[i])}, the sources give ${JSON.stringify(want[i])}`;
      });
    assert.deepEqual(
      stale,
      [],
      `stale generated docs — run \`${docsCommand}\` and commit:\n${stale.join("\n")}`,
    );
  });

  it("the configuration reference has a row for every key of the schema and of the promotion table", () => {
    const sections = configSections(providerSchema());
    const argKeys = sections.flatMap((s) => s.keys.map((k) => k.key));
    const shown = new Set(
      [...argKeys, ...programOnlyKeys(argKeys).map((k) => k.key)].map((k) => k.replace(/\[\]/g, "")),
    );
    for (const key of Object.keys(keyClasses))
      assert.ok(shown.has(key), `${key} (promotion table) has no row`);
    const zodKeys = (shape: Record<string, unknown>, prefix: string): string[] =>
      Object.entries(shape).flatMap(([k, v]) => {
        let node = v as {
          _zod: {
            def: { type: string; innerType?: unknown; shape?: Record<string, unknown>; element?: unknown };
          };
        };
        while (["default", "optional"].includes(node._zod.def.type))
          node = node._zod.def.innerType as typeof node;
        if (node._zod.def.type === "array") node = node._zod.def.element as typeof node;
        const inner = node._zod.def.shape ? zodKeys(node._zod.def.shape, `${prefix}${k}.`) : [];
        return [`${prefix}${k}`, ...inner];
      });
    for (const key of zodKeys(settingsSchema.shape, ""))
      assert.ok(shown.has(key), `${key} (config schema) has no row`);
  });

  it("a default an arg's doc comment states is the default the schema applies", () => {
    const checked: string[] = [];
    for (const s of configSections(providerSchema()))
      for (const k of s.keys) {
        const stated = /\(default `?([^`),;= ]+)`?(?: =[^)]*)?\)/.exec(k.description)?.[1];
        const applied = /^`([^`]+)`$/.exec(k.defaultText)?.[1];
        if (stated === undefined || applied === undefined) continue;
        assert.equal(
          stated,
          applied,
          `${k.key}: its doc comment says default ${stated}, the schema applies ${applied}`,
        );
        checked.push(k.key);
      }
    assert.ok(
      checked.length >= 10,
      `only ${checked.length} stated defaults found: the check would pass by doing nothing`,
    );
  });

  it("an output whose description says it is secret is secret at run time, and only those", async () => {
    await pulumi.runtime.setMocks(new RecordingMocks(), "secure-etcd", "dev", false);
    const etcd = new ProviderSecureEtcd("payments", {
      clusterName: "payments",
      environment: "dev",
      etcdVersion: "3.5.16",
      members: [{ name: "cp-1", ip: "10.0.1.10" }],
      secretStore: { offlineCloudInit: true },
    });
    const outputs = providerSchema().components.SecureEtcd.outputs;
    const seen: string[] = [];
    for (const [name, p] of Object.entries(outputs)) {
      const value = (etcd as unknown as Record<string, pulumi.Output<unknown> | undefined>)[name];
      if (!value) continue;
      seen.push(name);
      const said = secrecyOf(p.description) !== "no";
      assert.equal(await pulumi.isSecret(value), said, `${name}: described as ${said ? "" : "not "}secret`);
    }
    for (const name of ["members", "nodeBundles", "offlineNodeCloudInit", "caCertPem", "nodeUserData"])
      assert.ok(seen.includes(name), `${name} was checked`);
  });

  it("the benchmark analysis is of the run bench/results.md holds", () => {
    const run = /^Command: `npm run bench` — (\S+),/m.exec(read("bench/results.md"))?.[1];
    const analysed = /<!-- bench-analysis-of: (\S+) -->/.exec(read("docs/benchmarks.md"))?.[1];
    assert.ok(run, "bench/results.md names its run");
    assert.equal(
      analysed,
      run,
      "docs/benchmarks.md analyses another run: review the analysis, then update its marker",
    );
  });

  it("the rehearsal page lists report.json's keys in the order the rehearsal writes them", () => {
    const page = read("docs/rehearsal.md");
    const table = page.slice(page.indexOf("| key | what |"));
    const listed = table
      .split("\n")
      .slice(2)
      .filter((l) => l.startsWith("|"))
      .flatMap((l) => [...l.split("|")[1].matchAll(/`(\w+)`/g)].map((m) => m[1]));
    assert.deepEqual(listed, reportKeys);
  });

  it("every generated block has its markers in its page", () => {
    for (const p of generated)
      for (const name of [...p.text.matchAll(/<!-- ([\w-]+):start -->/g)].map((m) => m[1]))
        assert.notEqual(blockIn(p.text, name), undefined, `${p.file}: ${name}`);
  });
});

describe("docs: every relative link and anchor resolves, every repository path named exists", () => {
  for (const page of pages)
    it(page, () => {
      const text = read(page);
      const problems: string[] = [];
      for (const { line, target } of linksIn(text)) {
        if (/^[a-z][a-z+.-]*:/i.test(target)) continue; // https:, mailto:
        const [file, anchor] = target.split("#");
        const resolved = file ? path.normalize(path.join(path.dirname(page), decodeURI(file))) : page;
        if (!fs.existsSync(path.join(repoRoot, resolved))) {
          problems.push(`${page}:${line}: ${target}: ${resolved} does not exist`);
          continue;
        }
        if (anchor !== undefined && resolved.endsWith(".md") && !anchorsOf(read(resolved)).has(anchor))
          problems.push(`${page}:${line}: ${target}: ${resolved} has no heading #${anchor}`);
      }
      for (const { line, path: p } of repoPathsIn(text))
        if (!fs.existsSync(path.join(repoRoot, p))) problems.push(`${page}:${line}: \`${p}\` does not exist`);
      assert.deepEqual(problems, []);
    });
});

describe("docs: every page is linked from the overview", () => {
  it("docs/_index.md links every page under docs/ (a page nobody can reach is lost)", () => {
    const linked = new Set(
      linksIn(read("docs/_index.md")).map((l) => path.normalize(path.join("docs", l.target.split("#")[0]))),
    );
    const unlinked = pages.filter((p) => p.startsWith("docs/") && p !== "docs/_index.md" && !linked.has(p));
    assert.deepEqual(unlinked, [], "add a link to each in docs/_index.md (Guides or Reference)");
  });
});

describe("docs: every command shown runs, and takes the flags shown", function () {
  this.timeout(600_000);
  const shown: ShownCommand[] = pages.flatMap((p) => commandsIn(p, read(p)));
  const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;
  const tsx = path.join(repoRoot, "node_modules", ".bin", "tsx");

  /** The program a shown command runs, as `tsx <file> [subcommand]`, or undefined for a plain script. */
  function programOf(c: ShownCommand): { argv: string[]; label: string } | undefined {
    const words = c.command.split(/\s+/);
    if ((words[0] === "npx" && words[1] === "secure-etcd") || words[0] === "secure-etcd") {
      const rest = words[0] === "npx" ? words.slice(2) : words.slice(1);
      const sub = rest[0] && !rest[0].startsWith("-") ? [rest[0]] : [];
      return { argv: ["tools/cli.ts", ...sub], label: `secure-etcd ${sub.join(" ")}`.trim() };
    }
    if (words[0] === "npm" && words[1] === "run") {
      const m = /^tsx (\S+)(?: (\S+))?$/.exec(scripts[words[2]] ?? "");
      return m ? { argv: [m[1], ...(m[2] ? [m[2]] : [])], label: `npm run ${words[2]}` } : undefined;
    }
    return undefined;
  }

  it("every command shown names something that exists (npm scripts, scripts/ and test/ files)", () => {
    assert.ok(shown.length >= 20, `only ${shown.length} commands found in ${pages.length} pages`);
    const problems: string[] = [];
    for (const c of shown) {
      const words = c.command.split(/\s+/);
      const where = `${c.page}:${c.line}: ${c.command}`;
      if (words[0] === "npm" && words[1] === "run" && !(words[2] in scripts))
        problems.push(`${where}: no npm script ${words[2]}`);
      if (words[0] === "npm" && words[1] === "test" && !("test" in scripts))
        problems.push(`${where}: no npm test`);
      if ((words[0] === "bash" || words[0] === "node") && !fs.existsSync(path.join(repoRoot, words[1])))
        problems.push(`${where}: ${words[1]} does not exist`);
      if (words[0] === "npx" && words[1] === "mocha")
        for (const f of words.slice(2).filter((w) => !w.startsWith("-")))
          if (!fs.existsSync(path.join(repoRoot, f))) problems.push(`${where}: ${f} does not exist`);
    }
    assert.deepEqual(problems, []);
  });

  // One run per program (`npm run promote` is `secure-etcd promote`): its --help must exit 0 and name
  // every flag any page passes it.
  const byProgram = new Map<string, { argv: string[]; labels: Set<string>; flags: Map<string, string> }>();
  for (const c of shown) {
    const program = programOf(c);
    if (!program) continue;
    const key = program.argv.join(" ");
    const entry = byProgram.get(key) ?? {
      argv: program.argv,
      labels: new Set<string>(),
      flags: new Map<string, string>(),
    };
    entry.labels.add(program.label);
    for (const f of flagsOf(c.command).filter((f) => f !== "--help"))
      if (!entry.flags.has(f)) entry.flags.set(f, `${c.page}:${c.line}`);
    byProgram.set(key, entry);
  }
  for (const { argv, labels, flags } of byProgram.values()) {
    const label = [...labels].join(" = ");
    it(`${label} --help exits 0 and knows ${flags.size ? [...flags.keys()].join(" ") : "its name"}`, () => {
      const r = spawnSync(tsx, [...argv, "--help"], { cwd: repoRoot, encoding: "utf8", timeout: 180_000 });
      const help = `${r.stdout}${r.stderr}`;
      assert.equal(r.status, 0, `${label} --help exited ${r.status}:\n${help}`);
      const unknown = [...flags].filter(([f]) => !new RegExp(`(^|[^\\w-])${f}(?![\\w-])`).test(help));
      assert.deepEqual(
        unknown.map(([f, where]) => `${where}: ${f}`),
        [],
        `flags shown in the docs that ${label} --help does not list:\n${help}`,
      );
    });
  }

  it("the commands the test runs cover the package's bin and every CLI npm script shown", () => {
    const run = new Set([...byProgram.values()].flatMap((e) => [...e.labels]));
    for (const expected of ["secure-etcd", "secure-etcd restore", "npm run rehearse", "npm run docs"])
      assert.ok(run.has(expected), `${expected} is shown somewhere and run here`);
  });
});
