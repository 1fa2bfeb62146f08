import { strict as assert } from "node:assert";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { repoRoot } from "../harness/stackFiles";
import { binaryEtcdVersion, etcdReleases } from "../harness/upstream";
import type { MatrixReport } from "../rehearsal/matrix";
import { tempDirs } from "./support/tempDirs";

/*
 * What CI runs for the version matrix: `npm run rehearse -- --matrix` on every supported minor (Debian's
 * 3.4 and the built 3.5, 3.6, 3.7) and the rolling upgrade 3.5 → 3.6 → 3.7 under writes. In the lane
 * that owns 127.0.0.11–13 (scripts/test.mjs): every version's cluster and the upgrade drill bind them.
 */
describe("npm run rehearse -- --matrix @integration", function () {
  const tempDir = tempDirs();

  it("every supported minor passes the TLS, rejection, node-bootstrap and snapshot drills; the rolling upgrade keeps every write", function () {
    this.timeout(30 * 60_000); // about 5 minutes on 2 idle cores; far more when the machine is shared
    const out = tempDir("rehearse-matrix-");
    const r = spawnSync("npm", ["run", "--silent", "rehearse", "--", "--matrix", "--out", out], {
      cwd: repoRoot,
      encoding: "utf8",
      timeout: 28 * 60_000,
    });
    const tail = `${r.stdout.slice(-4000)}\n${r.stderr.slice(-2000)}`;
    assert.equal(r.status, 0, tail);
    const report = JSON.parse(fs.readFileSync(path.join(out, "report.json"), "utf8")) as MatrixReport;
    const versions = etcdReleases().map((x) => binaryEtcdVersion(x.etcd));
    assert.deepEqual(report.versions, versions, "one column per release, as each binary reports itself");
    assert.deepEqual(
      report.rows.map((x) => x.minor),
      ["3.4", "3.5", "3.6", "3.7"],
    );
    for (const group of ["TLS", "rejection", "node bootstrap", "snapshot/restore"])
      for (const v of versions) {
        const cell = report.table[group]?.[v];
        assert.ok(cell && cell.passed > 0 && cell.failed === 0, `${group} on ${v}: ${JSON.stringify(cell)}`);
      }
    for (const row of report.rows) {
      const own = JSON.parse(fs.readFileSync(row.report!, "utf8")) as {
        etcdVersion: string;
        passed: boolean;
      };
      assert.equal(own.etcdVersion, row.etcdVersion, "each version's report.json names the binary's version");
      assert.ok(own.passed);
      assert.ok(
        !row.drills.some((d) => /^(rotation|live encryption|backup):/.test(d.name)),
        "matrix scope only",
      );
    }
    assert.deepEqual(report.upgrade.releases, versions.slice(1));
    assert.deepEqual(report.upgrade.clusterVersions, ["3.5.0", "3.6.0", "3.7.0"]);
    assert.ok(report.upgrade.drills.every((d) => d.passed));
    const names = report.upgrade.drills.map((d) => d.name).join("\n");
    assert.match(names, /zombie/);
    assert.match(names, /no acknowledged write lost; every key written before is read after/);
    assert.equal(report.passed, true);
    // The table is the last block, then the report path.
    assert.match(r.stdout, /\ndrill +3\.4\.\d+ +3\.5\.\d+ +3\.6\.\d+ +3\.7\.\d+ *\n-+ /);
    assert.match(
      r.stdout,
      /\nupgrade 3\.5\.\d+ → 3\.6\.\d+ → 3\.7\.\d+: cluster version 3\.5\.0 → 3\.6\.0 → 3\.7\.0\nevery drill passed\n\nreport: \S+report\.json\n?$/,
    );
    console.log(
      `      ${r.stdout
        .slice(r.stdout.lastIndexOf("\ndrill ") + 1)
        .trimEnd()
        .split("\n")
        .join("\n      ")}`,
    );
    console.log(`      seconds: ${JSON.stringify(report.seconds)}`);
    const survivors = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" })
      .split("\n")
      .filter((l) => l.includes(out) && /\betcd\b/.test(l));
    assert.deepEqual(survivors, [], "no etcd of the matrix survives it");
  });
});
