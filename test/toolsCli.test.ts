import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { ConfigError } from "../components/config";
import { secureEtcd } from "../tools/cli";
import { parseRestoreArgs, restoreCommand } from "../tools/commands/restore";
import { UsageError } from "../tools/shared/commandLine";
import { loadSettings } from "../tools/shared/stackSettings";
import { tempDirs } from "./support/tempDirs";

/** Collects what a command prints. */
function capture(cwd?: string) {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l), cwd }, out, err };
}

const stackConfig = (clusterName: string) => ({
  config: {
    "secure-etcd:clusterName": clusterName,
    "secure-etcd:etcdVersion": "3.5.16",
    "secure-etcd:members": [{ name: "cp-1", ip: "10.1.0.10" }],
    "secure-etcd:backup": { enabled: false },
  },
});

describe("secure-etcd (the shipped bin)", () => {
  it("--help lists the commands", async () => {
    const c = capture();
    assert.equal(await secureEtcd(["--help"], c.io), 0);
    const out = c.out.join("\n");
    assert.match(out, /usage: secure-etcd <command>/);
    for (const command of ["restore", "promote", "verify-encryption", "encryption-config-status"])
      assert.match(out, new RegExp(`\\n {2}${command} +\\S`), `lists ${command}`);
  });

  it("a missing or unknown command exits 2 and shows the commands", async () => {
    for (const argv of [[], ["restroe"]]) {
      const c = capture();
      assert.equal(await secureEtcd(argv, c.io), 2);
      assert.match(c.err[0], argv.length ? /unknown command "restroe"/ : /no command given/);
      assert.match(c.err.join("\n"), /restore/);
    }
  });

  it("hands the arguments to the command", async () => {
    const c = capture();
    assert.equal(await secureEtcd(["restore", "--help"], c.io), 0);
    assert.match(
      c.out[0],
      /^usage: secure-etcd restore <settings> \(--from s3:\/\/BUCKET\/KEY \| --file PATH\)/,
    );
    assert.match(c.out[0], /--stack NAME +Pulumi\.NAME\.yaml in the stackConfigDir of \.\/Pulumi\.yaml/);
  });
});

describe("restore: where the settings come from", () => {
  const tempDir = tempDirs();

  it("--stack looks in the current directory's Pulumi.yaml stackConfigDir", () => {
    const project = tempDir("consumer-project-");
    fs.writeFileSync(
      path.join(project, "Pulumi.yaml"),
      stringify({ name: "payments", stackConfigDir: "envs" }),
    );
    fs.mkdirSync(path.join(project, "envs"));
    fs.writeFileSync(path.join(project, "envs", "Pulumi.qa.yaml"), stringify(stackConfig("payments")));
    const a = parseRestoreArgs(["--stack", "qa", "--file", "/x.db"], project);
    assert.deepEqual(a.settings, {
      kind: "stack",
      stack: "qa",
      file: path.join(project, "envs", "Pulumi.qa.yaml"),
    });
    const s = loadSettings(a.settings);
    assert.equal(s.clusterName, "payments");
    assert.equal(s.environment, "qa", "the stack name, as Pulumi's program would default it");
    assert.throws(
      () => parseRestoreArgs(["--stack", "prod", "--file", "/x.db"], project),
      (e: unknown) =>
        e instanceof UsageError &&
        e.flag === "--stack" &&
        /envs\/Pulumi\.prod\.yaml \(available: qa\)/.test(e.message),
    );
  });

  it("without Pulumi.yaml, stack files are in the current directory", () => {
    const dir = tempDir("no-project-");
    fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), stringify(stackConfig("shop")));
    const a = parseRestoreArgs(["--stack", "dev", "--file", "/x.db"], dir);
    assert.equal(a.settings.kind === "stack" && a.settings.file, path.join(dir, "Pulumi.dev.yaml"));
  });

  it("--stack-file reads any file; a bad value is the schema's ConfigError naming the key (exit 2)", async () => {
    const dir = tempDir("stack-file-");
    const file = path.join(dir, "Pulumi.staging.yaml");
    const doc = stackConfig("shop");
    doc.config["secure-etcd:members"][0].ip = "10.1.0.999";
    fs.writeFileSync(file, stringify(doc));
    const a = parseRestoreArgs(["--stack-file", file, "--file", "/x.db"], dir);
    assert.deepEqual(a.settings, { kind: "stack-file", stack: "staging", file });
    assert.throws(() => loadSettings(a.settings), ConfigError);
    const c = capture(dir);
    assert.equal(await restoreCommand(["--stack-file", file, "--file", "/x.db"], c.io), 2);
    assert.match(c.err[0], /^restore: invalid stack config for stack "staging"/);
    assert.match(c.err[0], /secure-etcd:members\[0\]\.ip: "10\.1\.0\.999" is not an IPv4 or IPv6 address/);
    fs.writeFileSync(file, "config: [unclosed");
    const broken = capture(dir);
    assert.equal(await restoreCommand(["--stack-file", file, "--file", "/x.db"], broken.io), 2);
    assert.match(
      broken.err[0],
      /^restore: --stack-file: \S+Pulumi\.staging\.yaml is not a readable stack file: /,
    );
  });

  it("flags alone: --cluster-name --environment --etcd-version --member NAME=IP (repeated) and path flags", () => {
    const a = parseRestoreArgs(
      [
        ...["--cluster-name", "payments", "--environment", "qa", "--etcd-version", "3.6.4"],
        ...["--member", "cp-1=10.0.1.10", "--member", "cp-2=10.0.2.10", "--member", "cp-3=fd00::3"],
        ...["--data-dir", "/srv/etcd", "--file", "/x.db"],
      ],
      "/",
    );
    const s = loadSettings(a.settings);
    assert.deepEqual(
      s.members.map((m) => `${m.name}=${m.ip}`),
      ["cp-1=10.0.1.10", "cp-2=10.0.2.10", "cp-3=fd00::3"],
    );
    assert.equal(s.paths.dataDir, "/srv/etcd");
    assert.equal(s.paths.pkiDir, "/etc/kubernetes/pki", "defaults as in a stack");
    assert.equal(s.etcdVersion, "3.6.4");
  });

  it("names the flag or the key for every bad settings argument", async () => {
    const bad = (argv: string[], flag: string, re: RegExp) =>
      assert.throws(
        () => parseRestoreArgs([...argv, "--file", "/x.db"], "/"),
        (e: unknown) => e instanceof UsageError && e.flag === flag && re.test(e.message),
        `${argv.join(" ")} should name ${flag}`,
      );
    const flags = [
      "--cluster-name",
      "p",
      "--environment",
      "qa",
      "--etcd-version",
      "3.5.16",
      "--member",
      "a=10.0.0.1",
    ];
    bad(
      flags.filter((_, i) => i !== 4 && i !== 5),
      "--etcd-version",
      /is required when the settings come from flags/,
    );
    bad(["--stack", "local", "--cluster-name", "p"], "--cluster-name", /only applies without --stack/);
    bad(["--stack", "local", "--stack-file", "/s.yaml"], "--stack-file", /not both/);
    bad([...flags.slice(0, 6), "--member", "cp-1"], "--member", /"cp-1" is not NAME=IP/);
    bad(["--stack-file", "/nonexistent/Pulumi.x.yaml"], "--stack-file", /does not exist/);
    const c = capture("/");
    assert.equal(
      await restoreCommand([...flags.slice(0, 6), "--member", "a=10.0.0.300", "--file", "/x.db"], c.io),
      2,
    );
    assert.match(
      c.err[0],
      /^restore: invalid settings given as flags[\s\S]*members\[0\]\.ip: "10\.0\.0\.300"/,
    );
  });
});
