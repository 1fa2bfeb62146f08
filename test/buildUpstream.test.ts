import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { repoRoot } from "../harness/stackFiles";
import { tempDirs } from "./support/tempDirs";

/** scripts/build-upstream.mjs on a table of our own: one tiny Go module that builds, or one that does not. */
describe("scripts/build-upstream.mjs @integration", function () {
  this.timeout(180_000);
  const tempDir = tempDirs();

  function table(dir: string, source: string) {
    const mod = path.join(dir, "hello");
    fs.mkdirSync(mod, { recursive: true });
    fs.writeFileSync(path.join(mod, "go.mod"), "module example.test/hello\n\ngo 1.26.0\n");
    fs.writeFileSync(path.join(mod, "main.go"), source);
    const row = {
      id: "hello",
      module: "hello",
      version: "1.2.3",
      estimateMinutes: 1,
      binaries: { hello: { package: ".", versionArgs: ["--version"] } },
      reports: "hello 1.2.3",
    };
    fs.writeFileSync(path.join(dir, "binaries.json"), JSON.stringify({ builds: [row] }));
  }
  const build = (dir: string, cache: string, ...args: string[]) =>
    spawnSync("node", [path.join(repoRoot, "scripts", "build-upstream.mjs"), ...args], {
      encoding: "utf8",
      env: { ...process.env, SECURE_ETCD_UPSTREAM_DIR: dir, SECURE_ETCD_CACHE: cache },
      timeout: 170_000,
    });

  it("builds a missing binary once, checks its version, then only reads the stamp", () => {
    const dir = tempDir("upstream-");
    const cache = tempDir("cache-");
    table(dir, 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello 1.2.3") }\n');
    assert.equal(build(dir, cache, "--check").status, 1, "--check reports the missing build");
    const first = build(dir, cache);
    assert.equal(first.status, 0, first.stderr);
    assert.match(
      first.stdout,
      /building hello 1\.2\.3 \(hello\) from .*hello — first time on this machine only, about 1 min/,
    );
    assert.ok(fs.existsSync(path.join(cache, "bin", "hello-1.2.3", "hello")));
    const again = build(dir, cache);
    assert.equal(again.status, 0);
    assert.equal(again.stdout + again.stderr, "", "nothing to build, nothing printed");
    // A changed wrapper module is rebuilt.
    fs.appendFileSync(path.join(dir, "hello", "main.go"), "\n// changed\n");
    assert.equal(build(dir, cache, "--check").status, 1);
  });

  it("a failed build exits 1 naming the module and the last lines of its log", () => {
    const dir = tempDir("upstream-");
    const cache = tempDir("cache-");
    table(dir, "package main\n\nfunc main() { undefinedThing() }\n");
    const r = build(dir, cache);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /building hello 1\.2\.3 from .*hello failed: go build \. exited 1/);
    assert.match(r.stderr, /last lines of .*build\.log:[\s\S]*undefined: undefinedThing/);
    assert.ok(!fs.existsSync(path.join(cache, "bin", "hello-1.2.3")), "nothing left that looks built");
  });

  it("a binary that does not report the pinned version is refused", () => {
    const dir = tempDir("upstream-");
    const cache = tempDir("cache-");
    table(dir, 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello 0.0.0") }\n');
    const r = build(dir, cache);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /hello --version does not report hello 1\.2\.3/);
  });
});
