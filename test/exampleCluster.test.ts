import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { repoRoot } from "../harness/stackFiles";
import { tempDirs } from "./support/tempDirs";

/**
 * examples/cluster (ENIs → SecureEtcd → instances) type-checks against the packed package
 * (scripts/check-example.sh), and copies of it with a mistake a user could make do not.
 */
describe("examples/cluster against the packed package @integration", function () {
  this.timeout(600_000);
  const tempDir = tempDirs();
  const script = path.join(repoRoot, "scripts", "check-example.sh");
  const run = (dirs: string[], env: Record<string, string> = {}) =>
    spawnSync("bash", [script, ...dirs], {
      cwd: repoRoot,
      encoding: "utf8",
      env: { ...process.env, ...env },
    });

  /** A copy of the example with one edit (the edit must apply). */
  const mutant = (name: string, from: string, to: string): string => {
    const dir = path.join(tempDir("example-mutant-"), name);
    fs.cpSync(path.join(repoRoot, "examples", "cluster"), dir, {
      recursive: true,
      filter: (src) => !src.includes("node_modules"),
    });
    const file = path.join(dir, "index.ts");
    const text = fs.readFileSync(file, "utf8");
    assert.ok(text.includes(from), `the example still contains ${from}`);
    fs.writeFileSync(file, text.replace(from, to));
    return dir;
  };

  it("build → npm pack → install into a copy of the example → tsc --noEmit exits 0", () => {
    const r = run([]);
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /== cluster: ok \(type-checked against secure-etcd-\d+\.\d+\.\d+\.tgz\)/);
  });

  it("a mistyped member name and an Output where a plain value is required fail to compile", () => {
    const typo = mutant("typo", 'etcd.members["cp-1"]', 'etcd.members["cp-9"]');
    const plain = mutant("plain", "  clusterName: cluster,", "  clusterName: pulumi.output(cluster),");
    // bin/ was built by the test above (same checkout): pack it as it is.
    const r = run([typo, plain], {
      CHECK_EXAMPLE_NO_BUILD: fs.existsSync(path.join(repoRoot, "bin")) ? "1" : "",
    });
    assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /== typo: FAILED/);
    assert.match(
      r.stdout,
      /TS7053: .*'"cp-9"' can't be used to index type 'Readonly<Record<"cp-1" \| "cp-2" \| "cp-3", MemberTls>>'/,
    );
    assert.match(r.stdout, /== plain: FAILED/);
    assert.match(r.stdout, /TS2322: Type 'Output<string>' is not assignable to type 'string'/);
  });
});
