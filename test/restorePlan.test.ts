import * as assert from "node:assert/strict";
import * as path from "node:path";
import {
  DEFAULT_BUMP_REVISION,
  formatRestorePlan,
  renderRestorePlan,
  shellQuote,
  type RestorePlanInput,
} from "../components/backup/restorePlan";
import { etcdCapabilities, parseEtcdVersion } from "../components/etcd/capabilities";
import { initialClusterToken } from "../components/manifests/urls";
import { repoRoot } from "../harness/stackFiles";
import { parseRestoreArgs, restoreCommand as restoreMain } from "../tools/commands/restore";
import { UsageError } from "../tools/shared/commandLine";
import { assertThrowsConfigError } from "./support/configErrors";

const members = [
  { name: "cp-1", ip: "10.0.1.10" },
  { name: "cp-2", ip: "10.0.2.10" },
  { name: "cp-3", ip: "10.0.3.10" },
];
const base: RestorePlanInput = {
  snapshotPath: "/var/lib/etcd-restore/snapshot.db",
  members,
  clusterToken: initialClusterToken("payments", "prod"),
  etcdVersion: "3.4.23",
  dataDir: "/var/lib/etcd",
};
const flag = (argv: string[], name: string) =>
  argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);

describe("restore plan", () => {
  it("etcd 3.4: ETCDCTL_API=3 etcdctl snapshot restore, no revision bump (3.4 has none)", () => {
    const plan = renderRestorePlan(base);
    assert.equal(plan.tool, "etcdctl");
    assert.equal(plan.bumpRevision, undefined);
    for (const m of plan.members) {
      assert.deepEqual(m.argv.slice(0, 4), ["etcdctl", "snapshot", "restore", base.snapshotPath]);
      assert.deepEqual(m.env, { ETCDCTL_API: "3" });
      assert.ok(m.command.startsWith("ETCDCTL_API=3 etcdctl snapshot restore "));
      assert.ok(!m.argv.some((a) => a.startsWith("--bump-revision") || a === "--mark-compacted"));
    }
    assert.match(plan.warnings.join("\n"), /cannot restore with --bump-revision/);
  });

  it("etcd 3.6: etcdutl with --bump-revision 1000000000 --mark-compacted", () => {
    const plan = renderRestorePlan({ ...base, etcdVersion: "3.6.4" });
    assert.equal(plan.tool, "etcdutl");
    assert.equal(plan.bumpRevision, DEFAULT_BUMP_REVISION);
    for (const m of plan.members) {
      assert.deepEqual(m.argv.slice(0, 3), ["etcdutl", "snapshot", "restore"]);
      assert.deepEqual(m.env, {});
      assert.equal(flag(m.argv, "--bump-revision"), "1000000000");
      assert.ok(m.argv.includes("--mark-compacted"));
    }
    assert.deepEqual(plan.warnings, []);
  });

  it("etcd 3.5: etcdutl, and the bump only where the capabilities table says so", () => {
    const plan = renderRestorePlan({ ...base, etcdVersion: "3.5.16" });
    assert.equal(plan.tool, "etcdutl");
    assert.equal(
      plan.bumpRevision,
      etcdCapabilities(parseEtcdVersion("3.5.16")!).restoreBumpRevision ? DEFAULT_BUMP_REVISION : undefined,
    );
    const forced = renderRestorePlan({
      ...base,
      etcdVersion: "3.5.16",
      caps: { ...etcdCapabilities(parseEtcdVersion("3.5.16")!), restoreBumpRevision: true },
      bumpRevision: 5000,
    });
    assert.equal(flag(forced.members[0].argv, "--bump-revision"), "5000");
  });

  it("every member restores from the SAME snapshot with its own name, peer URL and data dir", () => {
    const plan = renderRestorePlan({ ...base, etcdVersion: "3.6.0" });
    assert.equal(new Set(plan.members.map((m) => m.argv[3])).size, 1);
    const cluster = "cp-1=https://10.0.1.10:2380,cp-2=https://10.0.2.10:2380,cp-3=https://10.0.3.10:2380";
    assert.equal(plan.initialCluster, cluster);
    plan.members.forEach((m, i) => {
      assert.equal(flag(m.argv, "--name"), members[i].name);
      assert.equal(flag(m.argv, "--initial-cluster"), cluster);
      assert.equal(flag(m.argv, "--initial-cluster-token"), "payments-prod-etcd");
      assert.equal(flag(m.argv, "--initial-advertise-peer-urls"), `https://${members[i].ip}:2380`);
      assert.equal(flag(m.argv, "--data-dir"), "/var/lib/etcd");
      assert.ok(!m.argv.includes("--skip-hash-check"));
    });
  });

  it("per-member data dirs for local targets; IPv6 peers in brackets", () => {
    const plan = renderRestorePlan({
      ...base,
      members: [{ name: "a", ip: "fd00::1" }],
      dataDir: (m) => `/tmp/restore/${m.name}`,
    });
    assert.equal(flag(plan.members[0].argv, "--data-dir"), "/tmp/restore/a");
    assert.equal(flag(plan.members[0].argv, "--initial-advertise-peer-urls"), "https://[fd00::1]:2380");
  });

  it("the runbook stops every API server first, then etcd, keeps the old data, restores, starts etcd, then API servers", () => {
    const plan = renderRestorePlan({ ...base, snapshotSha256: "ab".repeat(32) });
    const titles = plan.steps.map((s) => s.title);
    const idx = (re: RegExp) => titles.findIndex((t) => re.test(t));
    const order = [
      /Copy the SAME/,
      /Stop every kube-apiserver FIRST/,
      /Stop etcd/,
      /Move the old data dir aside/,
      /Restore member cp-1/,
      /Restore member cp-3/,
      /Start etcd/,
      /Start the API servers/,
    ].map(idx);
    assert.ok(
      order.every((i) => i >= 0),
      titles.join("\n"),
    );
    assert.deepEqual(
      [...order].sort((a, b) => a - b),
      order,
    );
    const stopApi = plan.steps[idx(/Stop every kube-apiserver/)];
    assert.match(
      stopApi.commands[0],
      /mv \/etc\/kubernetes\/manifests\/kube-apiserver\.yaml \/etc\/kubernetes\/restore-parked\//,
    );
    assert.match(
      plan.steps[idx(/Move the old data dir/)].commands[0],
      /^mv \/var\/lib\/etcd \/var\/lib\/etcd\.before-restore$/,
    );
    assert.match(
      plan.steps[idx(/Restore member cp-2/)].commands.join("\n"),
      /sha256sum -c -[\s\S]*--name=cp-2[\s\S]*chmod 700 \/var\/lib\/etcd/,
    );
    const text = formatRestorePlan(plan);
    assert.match(text, /^Restore plan: etcd 3\.4\.23 with etcdctl, 3 member\(s\)/);
    assert.match(text, /WARNING: etcd 3\.4\.23 cannot restore with --bump-revision/);
    assert.match(text, /healthcheck-client\.crt/);
  });

  it("rejects inputs that would break a restore, with a ConfigError naming the field", () => {
    const refusals: [Partial<RestorePlanInput>, string, RegExp][] = [
      [{ members: [] }, "members", /at least one member/],
      [{ members: [members[0], members[0]] }, "members[1].name", /"cp-1" is listed twice/],
      [
        { members: [members[0], { name: "cp-9", ip: members[0].ip }] },
        "members[1].ip",
        /"10\.0\.1\.10" is listed twice/,
      ],
      [
        { members: [{ name: "", ip: "10.0.0.1" }] },
        "members[0].name",
        /is empty; expected the member's name/,
      ],
      [{ members: [{ name: "cp-1", ip: " " }] }, "members[0].ip", /is empty; expected the member's IP/],
      [{ etcdVersion: "latest" }, "etcdVersion", /"latest" is not an etcd version like 3\.5\.16/],
      [{ snapshotPath: "" }, "snapshotPath", /is empty/],
      [{ clusterToken: "" }, "clusterToken", /is empty/],
      [{ bumpRevision: -1 }, "bumpRevision", /-1 is not a whole number >= 0/],
      [{ bumpRevision: 1.5 }, "bumpRevision", /1\.5 is not a whole number/],
      [{ dataDir: () => "" }, "dataDir", /gave "" for member "cp-1"/],
      [
        {
          caps: {
            ...etcdCapabilities(parseEtcdVersion("3.5.16")!),
            etcdutl: false,
            etcdctlSnapshotStatusRestore: false,
          },
        },
        "caps",
        /has neither etcdutl nor etcdctl snapshot restore/,
      ],
    ];
    for (const [over, path, message] of refusals)
      assertThrowsConfigError(() => renderRestorePlan({ ...base, ...over }), {
        path,
        message,
        source: /^invalid restore plan /,
      });
  });

  it("quotes shell words only where needed", () => {
    assert.equal(shellQuote("--data-dir=/var/lib/etcd"), "--data-dir=/var/lib/etcd");
    assert.equal(shellQuote("a b'c"), `'a b'\\''c'`);
  });
});

describe("restore CLI arguments", () => {
  const bad = (argv: string[], flagName: string, re?: RegExp) => {
    assert.throws(
      () => parseRestoreArgs(argv),
      (e: unknown) => e instanceof UsageError && e.flag === flagName && (!re || re.test(e.message)),
      `${argv.join(" ")} should name ${flagName}`,
    );
  };

  it("names the flag for every bad argument", () => {
    bad(["--from", "s3://b/k"], "--stack", /required/);
    bad(["--stack", "nope", "--from", "s3://bucket/k"], "--stack", /no stack file/);
    bad(["--stack", "local"], "--from", /required/);
    bad(["--stack", "local", "--from", "s3://bucket/k", "--file", "/x"], "--from", /not both/);
    bad(["--stack", "local", "--from", "https://bucket/k"], "--from", /s3:\/\/BUCKET\/KEY/);
    bad(["--stack", "local", "--file", "/x", "--apply"], "--target-dir", /required with --apply/);
    bad(
      ["--stack", "local", "--file", "/x", "--target-dir", "/t"],
      "--target-dir",
      /only applies with --apply/,
    );
    bad(["--stack", "local", "--file", "/x", "--endpoint-url", "http://127.0.0.1:9"], "--endpoint-url");
    bad(["--stack", "local", "--from", "s3://bucket/k", "--endpoint-url", "ftp://x"], "--endpoint-url");
    bad(["--stack", "local", "--file", "/x", "--sha256", "abc"], "--sha256");
    bad(["--stack", "local", "--file", "/x", "--bogus"], "--bogus", /unknown flag/);
    bad(["--stack"], "--stack", /needs a value/);
    bad(["--stack=", "--file", "/x"], "--stack", /needs a value/);
    bad(["--stack", "--file", "/x"], "--stack", /needs a value/);
    bad(["--stack", "local", "--stack", "dev", "--file", "/x"], "--stack", /given twice/);
    bad(
      ["--stack", "local", "--file", "/x", "--apply=yes", "--target-dir", "/t"],
      "--apply",
      /takes no value/,
    );
    bad(["--stack", "local", "--file", "/x", "stray"], "(argument)", /unexpected argument stray/);
    bad(["--stack", "local", "--file", "/x", "--node-path", "relative/x"], "--node-path", /absolute/);
  });

  it("accepts --flag value and --flag=value", () => {
    const a = parseRestoreArgs([
      "--stack=local",
      "--from",
      "s3://etcd-snapshots/a/b/c.db.gz",
      "--endpoint-url=http://127.0.0.1:9000",
      "--apply",
      "--target-dir",
      "/tmp/x",
    ]);
    assert.deepEqual(a.settings, {
      kind: "stack",
      stack: "local",
      file: path.join(repoRoot, "stacks", "Pulumi.local.yaml"),
    });
    assert.equal(a.from, "s3://etcd-snapshots/a/b/c.db.gz");
    assert.equal(a.endpointUrl, "http://127.0.0.1:9000");
    assert.equal(a.apply, true);
    assert.equal(a.targetDir, "/tmp/x");
  });

  it("exits 2 naming the flag; --apply is refused for a stack whose members are not on loopback", async () => {
    const err: string[] = [];
    const io = { out: () => undefined, err: (l: string) => err.push(l) };
    assert.equal(await restoreMain(["--stack", "local", "--file"], io), 2);
    assert.match(err[0], /^restore: --file: needs a value/);
    err.length = 0;
    assert.equal(
      await restoreMain(
        ["--stack", "prod", "--file", "/nonexistent.db", "--apply", "--target-dir", "/tmp/x"],
        io,
      ),
      2,
    );
    assert.match(err[0], /--apply: only restores local targets .*prod-cp-1 is 10\.30\.1\.10/);
  });
});

describe("restore plan: the snapshot's encryption keys", () => {
  const members = [
    { name: "cp-1", ip: "10.0.1.10" },
    { name: "cp-2", ip: "10.0.2.10" },
    { name: "cp-3", ip: "10.0.3.10" },
  ];
  const input = {
    snapshotPath: "/var/lib/etcd-restore/snapshot.db",
    members,
    clusterToken: "payments-prod-etcd",
    etcdVersion: "3.5.16",
    dataDir: "/var/lib/etcd",
  };
  it("names the keys the snapshot needs and where their material is, before any API server starts", () => {
    const plan = renderRestorePlan({
      ...input,
      encryptionKeys: ["secretbox:key-2026-11", "aescbc:key-2026-05"],
      keyArchive: "secure-etcd/payments/prod/encryption-keys",
    });
    assert.deepEqual(plan.encryptionKeys, {
      keys: ["secretbox:key-2026-11", "aescbc:key-2026-05"],
      keyArchive: "secure-etcd/payments/prod/encryption-keys",
    });
    const titles = plan.steps.map((s) => s.title);
    const keys = titles.findIndex((t) => t.includes("secretbox:key-2026-11, aescbc:key-2026-05"));
    const apiservers = titles.findIndex((t) => t.startsWith("Start the API servers"));
    assert.ok(keys >= 0 && keys < apiservers, titles.join("\n"));
    assert.match(
      plan.steps[keys].commands.join("\n"),
      /--secret-id secure-etcd\/payments\/prod\/encryption-keys/,
    );
    assert.match(
      formatRestorePlan(plan),
      /encryption keys of this snapshot: secretbox:key-2026-11, aescbc:key-2026-05 \(material in secure-etcd\/payments\/prod\/encryption-keys\)/,
    );
  });
  it("says nothing it does not know (an older snapshot without the metadata)", () => {
    const plan = renderRestorePlan(input);
    assert.equal(plan.encryptionKeys, undefined);
    assert.ok(!plan.steps.some((s) => /encryption keys/.test(s.title)));
  });
});
