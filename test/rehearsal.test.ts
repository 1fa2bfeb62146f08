import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { validateSettings } from "../components/config";
import { formatTable, parseCli, rehearse, withRelease } from "../rehearsal/cli";
import { renderArtifacts } from "../harness/artifacts";
import { etcdFailureLines as cisEtcdFailures } from "../components/cis";
import { runArtifactChecks } from "../rehearsal/drills/artifactChecks";
import { snapshotScheduleOf } from "../rehearsal/drills/backup";
import { repoRoot } from "../harness/stackFiles";
import { settingsFromStackConfig } from "../components/config";
import { UsageError } from "../tools/shared/commandLine";
import { readStackConfig } from "./support/stackFiles";
import { liveOnlyReportKeys, reportKeys } from "./support/report";
import { tempDirs } from "./support/tempDirs";

const quiet = () => undefined;

describe("rehearsal CLI arguments", () => {
  const tempDir = tempDirs();
  it("defaults to the local stack", () => {
    const o = parseCli([]);
    assert.equal(o.stack, "local");
    assert.equal(o.renderOnly, false);
    assert.equal(o.outDir, path.join(repoRoot, ".rehearsal", "local"));
    assert.equal(o.quick, false, "a rehearsal runs every drill unless asked");
    assert.equal(parseCli(["--quick"]).quick, true);
  });
  it("names the flag for an unknown stack and lists the allowed ones", () => {
    assert.throws(
      () => parseCli(["--stack", "qa"]),
      (e: unknown) =>
        e instanceof UsageError && /--stack: "qa".*allowed: dev, local, prod, staging/.test(e.message),
    );
  });
  it("rejects unknown flags, naming them", () => {
    assert.throws(
      () => parseCli(["--stak", "dev"]),
      (e: unknown) => e instanceof UsageError && e.flag === "--stak",
    );
  });
  it("bad stack config exits 2 naming the config key", () => {
    const dir = tempDir("stacks-");
    const doc = parse(fs.readFileSync(path.join(repoRoot, "stacks", "Pulumi.dev.yaml"), "utf8"));
    doc.config["secure-etcd:members"][0].ip = "10.0.0.999";
    fs.writeFileSync(path.join(dir, "Pulumi.broken.yaml"), stringify(doc));
    const r = spawnSync(
      process.execPath,
      [
        "--require",
        "tsx/cjs",
        path.join(repoRoot, "rehearsal", "cli.ts"),
        "--stack",
        "broken",
        "--render-only",
        "--out",
        path.join(dir, "out"),
      ],
      {
        env: { ...process.env, SECURE_ETCD_STACKS_DIR: dir },
        encoding: "utf8",
      },
    );
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /secure-etcd:members\[0\]\.ip: "10\.0\.0\.999"/);
  });
});

describe("rehearsal CLI: which etcd runs", () => {
  const tempDir = tempDirs();
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(
      process.execPath,
      ["--require", "tsx/cjs", path.join(repoRoot, "rehearsal", "cli.ts"), ...args],
      {
        env: { ...process.env, ...env },
        encoding: "utf8",
      },
    );

  it("--matrix takes no --etcd-version, --render-only or --keep-running", () => {
    for (const f of [["--etcd-version", "3.6"], ["--render-only"], ["--keep-running"]])
      assert.throws(
        () => parseCli(["--matrix", ...f]),
        (e: unknown) =>
          e instanceof UsageError && e.flag === f[0] && /does not apply with --matrix/.test(e.message),
      );
    assert.equal(parseCli(["--matrix"]).outDir, path.join(repoRoot, ".rehearsal", "local-matrix"));
  });

  it("--render-only renders the asked version as given (nothing runs, the schema checks it)", () => {
    const o = withRelease(parseCli(["--render-only", "--etcd-version", "3.6.8"]));
    assert.deepEqual(o.configOverrides, { "secure-etcd:etcdVersion": "3.6.8" });
    assert.equal(o.release, undefined);
  });

  it("an unknown minor exits 2 naming --etcd-version and the releases available @integration", () => {
    const r = cli(["--etcd-version", "3.9.1", "--out", tempDir("rehearse-unknown-")]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(
      r.stderr,
      /--etcd-version: "3\.9\.1" is no etcd minor this machine has; available: 3\.4\.23 \(Debian's etcd\), 3\.5\.\d+, 3\.6\.\d+, 3\.7\.\d+/,
    );
  });

  it("an unbuilt version exits 2 naming those available (here: Debian's 3.4 only) @integration", () => {
    const empty = tempDir("empty-cache-");
    const r = cli(["--out", tempDir("rehearse-unbuilt-")], { SECURE_ETCD_CACHE: empty });
    assert.equal(r.status, 2, r.stderr);
    assert.match(
      r.stderr,
      /--etcd-version: the stack's etcdVersion "3\.7\.4" is not built on this machine \(etcd 3\.7\.\d+ \(etcd\) is not built on this machine; run: bash scripts\/setup\.sh\); available: 3\.4\.23 \(Debian's etcd\); pass --etcd-version with one of those/,
    );
  });

  it("maps a version to the release built for its minor; 3.6 means its built patch @integration", () => {
    const exact = withRelease(parseCli([]));
    assert.equal(
      exact.release?.version,
      readStackConfig("local")["secure-etcd:etcdVersion"],
      "local runs a built release as is",
    );
    assert.equal(exact.configOverrides, undefined);
    const older = withRelease(parseCli(["--etcd-version", "3.6.8"]));
    assert.equal(older.release?.minor, "3.6");
    assert.notEqual(older.release?.version, "3.6.8");
    assert.deepEqual(older.configOverrides, { "secure-etcd:etcdVersion": "3.6.8" }, "3.6.8 is rendered");
    const minor = withRelease(parseCli(["--etcd-version", "3.5"]));
    assert.deepEqual(minor.configOverrides, { "secure-etcd:etcdVersion": minor.release?.version });
    assert.equal(withRelease(parseCli(["--etcd-version", "3.4"])).release?.etcd, "/usr/bin/etcd");
  });
});

describe("RPO from the snapshot schedule", () => {
  // How a schedule's RPO is computed is test/cron.test.ts's; here: the drill reports what settings say.
  it("with backups off, the drill still reports prod's schedule and its RPO", () => {
    const off = validateSettings(
      {
        clusterName: "c",
        environment: "qa",
        etcdVersion: "3.5.16",
        members: [{ name: "m", ip: "10.0.0.1" }],
        backup: { enabled: false },
      },
      "",
      "test",
    );
    assert.deepEqual(snapshotScheduleOf(off), {
      cron: "*/15 * * * * (prod default: backups are off)",
      rpoMinutes: 15,
    });
  });
  it("comes from the stack's schedule, else its environment's default", () => {
    const of = (stack: string) => snapshotScheduleOf(settingsFromStackConfig(readStackConfig(stack), stack));
    assert.deepEqual(of("local"), { cron: "*/30 * * * *", rpoMinutes: 30 });
    assert.equal(of("dev").rpoMinutes, 360);
    assert.equal(of("staging").rpoMinutes, 60);
    assert.equal(of("prod").rpoMinutes, 15);
  });
});

describe("CIS etcd checks as kube-bench reads them", () => {
  const pod = (flags: string[]) =>
    stringify({ spec: { containers: [{ name: "etcd", command: ["etcd", ...flags] }] } });
  const good = [
    "--cert-file=/a",
    "--key-file=/b",
    "--client-cert-auth=true",
    "--peer-cert-file=/c",
    "--peer-key-file=/d",
    "--peer-client-cert-auth=true",
    "--trusted-ca-file=/e",
  ];
  it("passes a complete command line", () => assert.deepEqual(cisEtcdFailures(pod(good)), []));
  it("fails each check when its flag is wrong", () => {
    assert.match(cisEtcdFailures(pod(good.filter((f) => !f.startsWith("--cert-file"))))[0], /^2\.1/);
    assert.match(
      cisEtcdFailures(
        pod([...good.filter((f) => !f.startsWith("--client-cert-auth")), "--client-cert-auth=false"]),
      )[0],
      /^2\.2/,
    );
    assert.match(cisEtcdFailures(pod([...good, "--auto-tls"]))[0], /^2\.3/);
    assert.match(cisEtcdFailures(pod([...good, "--peer-auto-tls=true"]))[0], /^2\.6/);
    assert.match(cisEtcdFailures(pod(good.filter((f) => !f.startsWith("--trusted-ca-file"))))[0], /^2\.7/);
  });
});

describe("rehearsal, render-only, for every environment @integration", () => {
  const tempDir = tempDirs();
  for (const stack of ["dev", "staging", "prod"]) {
    it(`${stack}: artifacts written, checks pass`, async () => {
      const out = tempDir(`rehearse-${stack}-`);
      const report = await rehearse({ stack, outDir: out, renderOnly: true, keepRunning: false, log: quiet });
      assert.equal(
        report.passed,
        true,
        formatTable(report.drills) +
          "\n" +
          report.drills
            .filter((d) => !d.passed)
            .map((d) => d.detail)
            .join("\n"),
      );
      // Encryption at rest is proven by the real kube-apiserver, so only in a rehearsal that runs one.
      assert.ok(report.drills.length >= 3);
      const written = JSON.parse(fs.readFileSync(path.join(out, "report.json"), "utf8"));
      assert.deepEqual(
        written.drills.map((d: { name: string }) => d.name),
        report.drills.map((d) => d.name),
      );
      for (const d of written.drills)
        assert.deepEqual(Object.keys(d).sort(), ["detail", "name", "passed", "seconds"]);
      assert.equal(fs.statSync(path.join(out, "encryption-config.yaml")).mode & 0o777, 0o600);
      assert.deepEqual(
        Object.keys(written),
        reportKeys.filter((k) => !liveOnlyReportKeys.includes(k)),
        "a render-only report has no members or backup",
      );
    });
  }

  it("tampered artifacts make the checks fail (they can fail)", async () => {
    const out = tempDir("rehearse-tamper-");
    const a = await renderArtifacts({ stack: "dev", outDir: out });
    assert.ok((await runArtifactChecks(a)).every((d) => d.passed));
    fs.chmodSync(path.join(out, "pki", "clients", "backup-client.key"), 0o644);
    // a leaf from another CA in place of the member's server cert
    const other = tempDir("rehearse-other-");
    await renderArtifacts({ stack: "dev", outDir: other });
    fs.copyFileSync(
      path.join(other, "pki", "members", "dev-cp-1", "server.crt"),
      path.join(out, "pki", "members", "dev-cp-1", "server.crt"),
    );
    const results = await runArtifactChecks(a);
    const byName = new Map(results.map((d) => [d.name.split(" ")[0], d]));
    assert.equal(byName.get("key")!.passed, false);
    assert.match(byName.get("key")!.detail, /backup-client\.key is 644/);
    assert.equal(byName.get("certs")!.passed, false);
  });
});
