import { strict as assert } from "node:assert";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { repoRoot } from "../harness/stackFiles";
import { tempDirs } from "./support/tempDirs";

/** The KMS v2 drills the prod rehearsal must run (name prefixes). */
const kmsDrills = [
  "kms: the rendered plugin command",
  "kms: kube-apiserver runs the rendered flags",
  "kms: rotation secretbox → kms 1 stage",
  "kms: rotation secretbox → kms 2 promote",
  "kms: the promoted configuration is the one prod ships",
  "kms: Secrets are stored as k8s:enc:kms:v2:aws-kms-prod:",
  "kms: before the rewrite, verify-encryption --retiring prod-2026-09 exits 1",
  "kms: secretbox → kms 4 verify-encryption --retiring prod-2026-09 exits 0",
  "kms: rotation secretbox → kms 5 archive prod-2026-09",
  "kms: the plugin stopped",
  "kms: the AWS key disabled in moto",
  "kms: new AWS key aws-kms-prod-next",
  "kms: rotation kms → new AWS key 2 promote",
  "kms: kms → new AWS key 4 verify-encryption --retiring aws-kms-prod exits 0",
  "kms: rotation kms → new AWS key 5 archive aws-kms-prod",
  "kms: extra latency of a Secret write",
  "kms: the snapshot restored into a fresh cluster",
];

describe("rehearsal of the prod stack: KMS v2 end to end on real binaries @integration", () => {
  const tempDir = tempDirs();

  it("npm run rehearse -- --stack prod exits 0 with every kms: drill passed, none skipped; nothing left running", function () {
    // About 18 minutes here: five members, three apiservers, two rotations under writers, two outages
    // that wait on kube-apiserver's own timers, a restore.
    this.timeout(45 * 60_000);
    const out = tempDir("rehearse-prod-");
    const r = spawnSync("npm", ["run", "--silent", "rehearse", "--", "--stack", "prod", "--out", out], {
      cwd: repoRoot,
      encoding: "utf8",
      timeout: 44 * 60_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    const report = JSON.parse(fs.readFileSync(path.join(out, "report.json"), "utf8")) as {
      passed: boolean;
      drills: { name: string; passed: boolean; detail: string }[];
      remaps: string[];
      skipped: string[];
    };
    const failed = report.drills.filter((d) => !d.passed).map((d) => `${d.name}: ${d.detail}`);
    assert.equal(r.status, 0, failed.join("\n") || r.stderr.slice(-2000));
    for (const name of kmsDrills)
      assert.ok(
        report.drills.some((d) => d.name.startsWith(name) && d.passed),
        `missing or failed drill: ${name}`,
      );
    const stored = report.drills.find((d) => d.name.startsWith("kms: Secrets are stored as"))!;
    assert.match(stored.detail, /every value starts "k8s:enc:kms:v2:aws-kms-prod:"/);
    const latency = report.drills.find((d) => d.name.startsWith("kms: extra latency"))!;
    assert.match(latency.detail, /1000 Secret writes per configuration/);
    assert.deepEqual(report.skipped, [], "a full rehearsal skips nothing");
    assert.match(latency.detail, /extra median latency of kms v2: -?\d+\.\d+ ms/);
    for (const remap of [
      "kms plugin: /aws-encryption-provider → ",
      "kms plugin: --listen=",
      "kms plugin: --health-port=",
    ])
      assert.ok(
        report.remaps.some((x) => x.startsWith(remap)),
        `remap not listed: ${remap}`,
      );
    const survivors = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" })
      .split("\n")
      .filter((l) => l.includes(out) && /\b(etcd|kube-apiserver|kms-plugin|moto_server)\b/.test(l));
    assert.deepEqual(survivors, [], "no process of the rehearsal survives it");
  });
});
