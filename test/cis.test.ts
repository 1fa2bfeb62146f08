import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import {
  checkApiserverFlags,
  checkBackupsInProd,
  checkEtcdManifest,
  checkFiles,
  checkLeafValidity,
  checkPrimaryStrength,
  checkProviderOrder,
  cisReport,
  etcdFailureLines,
  formatCisReport,
  installedByBootstrap,
  kubeBenchProviderReading,
  providerOrderOf,
  summarize,
  type CisReportInput,
  type FileFact,
} from "../components/cis";
import { settingsFromStackConfig } from "../components/config";
import { renderEncryptionConfiguration } from "../components/encryption/render";
import { nodeFiles, nodePaths } from "../components/manifests";
import { renderNodeBundle } from "../components/secretStore/bundle";
import { renderArtifacts } from "../harness/artifacts";
import { readStackConfig, repoRoot, stackNames } from "../harness/stackFiles";
import { CisUsageError, parseCisCli, reportInputOf, runCis } from "../rehearsal/cis";

const goodEtcd = [
  "--name=cp-1",
  "--data-dir=/var/lib/etcd",
  "--cert-file=/etc/kubernetes/pki/etcd/server.crt",
  "--key-file=/etc/kubernetes/pki/etcd/server.key",
  "--client-cert-auth=true",
  "--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
  "--peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt",
  "--peer-key-file=/etc/kubernetes/pki/etcd/peer.key",
  "--peer-client-cert-auth=true",
  "--peer-trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
];
const pod = (flags: string[], env?: { name: string; value?: string }[]) =>
  stringify({
    apiVersion: "v1",
    kind: "Pod",
    spec: { containers: [{ name: "etcd", command: ["etcd", ...flags], env }] },
  });
const etcd = (flags: string[], env?: { name: string; value?: string }[]) =>
  checkEtcdManifest(pod(flags, env));
const statusOf = (flags: string[], id: string, env?: { name: string; value?: string }[]) =>
  etcd(flags, env).get(id)!.status;
const drop = (flag: string) => goodEtcd.filter((f) => !f.startsWith(`${flag}=`));

describe("CIS etcd 2.1–2.7 (kube-bench cfg/cis-1.12 etcd.yaml)", () => {
  it("a complete TLS command line passes every check", () => {
    for (const [id, f] of etcd(goodEtcd)) assert.equal(f.status, "PASS", `${id}: ${f.reason}`);
  });
  const failing: [string, string[]][] = [
    ["2.1", drop("--cert-file")],
    ["2.1", drop("--key-file")],
    ["2.2", [...drop("--client-cert-auth"), "--client-cert-auth=false"]],
    ["2.2", drop("--client-cert-auth")],
    ["2.3", [...goodEtcd, "--auto-tls=true"]],
    ["2.3", [...goodEtcd, "--auto-tls"]],
    ["2.4", drop("--peer-cert-file")],
    ["2.4", drop("--peer-key-file")],
    ["2.5", [...drop("--peer-client-cert-auth"), "--peer-client-cert-auth=false"]],
    ["2.6", [...goodEtcd, "--peer-auto-tls=true"]],
    ["2.7", drop("--trusted-ca-file")],
  ];
  for (const [id, flags] of failing)
    it(`${id} fails: ${flags.length < goodEtcd.length ? "a flag removed" : flags[flags.length - 1]}`, () =>
      assert.equal(statusOf(flags, id), "FAIL"));
  it("--auto-tls=false and --peer-auto-tls=false pass 2.3 and 2.6, as kube-bench's `eq false` does", () => {
    assert.equal(statusOf([...goodEtcd, "--auto-tls=false"], "2.3"), "PASS");
    assert.equal(statusOf([...goodEtcd, "--peer-auto-tls=false"], "2.6"), "PASS");
  });
  it("reads flags as etcd does: the last occurrence wins, `--flag value` and `-flag` forms", () => {
    assert.equal(statusOf([...goodEtcd, "--client-cert-auth=false"], "2.2"), "FAIL");
    assert.equal(statusOf([...drop("--cert-file"), "--cert-file", "/x/server.crt"], "2.1"), "PASS");
    assert.equal(statusOf([...drop("--trusted-ca-file"), "-trusted-ca-file=/x/ca.crt"], "2.7"), "PASS");
    assert.equal(
      statusOf([...drop("--client-cert-auth"), "--client-cert-auth"], "2.2"),
      "PASS",
      "bare boolean is true",
    );
  });
  it("is stricter than kube-bench's substring match: --peer-cert-file does not satisfy --cert-file", () => {
    const f = etcd(drop("--cert-file")).get("2.1")!;
    assert.match(f.reason, /--cert-file not set/);
  });
  it("kube-bench's literal compare: --client-cert-auth=1 is not `true`", () =>
    assert.equal(statusOf([...drop("--client-cert-auth"), "--client-cert-auth=1"], "2.2"), "FAIL"));
  it("ETCD_* variables count where no flag is set (etcd reads them), and a flag beats its variable", () => {
    assert.equal(statusOf(goodEtcd, "2.3", [{ name: "ETCD_AUTO_TLS", value: "true" }]), "FAIL");
    assert.equal(statusOf(drop("--key-file"), "2.1", [{ name: "ETCD_KEY_FILE", value: "/k" }]), "PASS");
    assert.equal(statusOf(goodEtcd, "2.2", [{ name: "ETCD_CLIENT_CERT_AUTH", value: "false" }]), "PASS");
    assert.match(
      etcd(drop("--key-file"), [{ name: "ETCD_KEY_FILE", value: "/k" }]).get("2.1")!.reason,
      /from ETCD_KEY_FILE/,
    );
  });
  it("--config-file makes etcd ignore its flags: every check fails with that reason", () => {
    for (const [, f] of etcd([...goodEtcd, "--config-file=/etc/etcd.yaml"])) {
      assert.equal(f.status, "FAIL");
      assert.match(f.reason, /--config-file/);
    }
  });
  it("etcdFailureLines: the drill's drop-in, one `<id> <reason>` line per failing check", () => {
    assert.deepEqual(etcdFailureLines(pod(goodEtcd)), []);
    assert.deepEqual(etcdFailureLines(pod([...drop("--cert-file"), "--auto-tls"])), [
      "2.1 --cert-file not set",
      "2.3 --auto-tls=true; must be unset or false",
    ]);
  });
  it("a manifest without an etcd container fails every check", () => {
    const other = stringify({
      spec: { containers: [{ name: "kube-apiserver", command: ["kube-apiserver"] }] },
    });
    for (const [, f] of checkEtcdManifest(other)) assert.match(f.reason, /no container named etcd/);
  });
});

describe("CIS 1.2.23, 1.2.26, 1.2.27 (kube-apiserver flags)", () => {
  const good = [
    "--etcd-servers=https://10.0.0.1:2379",
    "--etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt",
    "--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt",
    "--etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key",
    "--encryption-provider-config=/etc/kubernetes/enc/encryption-config.yaml",
  ];
  it("the rendered flags pass", () => {
    for (const [id, f] of checkApiserverFlags(good)) assert.equal(f.status, "PASS", id);
  });
  for (const [id, flag] of [
    ["1.2.23", "--etcd-certfile"],
    ["1.2.23", "--etcd-keyfile"],
    ["1.2.26", "--etcd-cafile"],
    ["1.2.27", "--encryption-provider-config"],
  ])
    it(`${id} fails without ${flag}`, () => {
      const f = checkApiserverFlags(good.filter((x) => !x.startsWith(`${flag}=`))).get(id)!;
      assert.equal(f.status, "FAIL");
      assert.match(f.reason, new RegExp(`${flag} not set`));
    });
  it("an empty value is not set", () =>
    assert.equal(checkApiserverFlags([...good, "--etcd-cafile="]).get("1.2.26")!.status, "FAIL"));
});

describe("CIS 1.2.28 (the first encryption provider)", () => {
  const config = (provider: "secretbox" | "aescbc" | "aesgcm" | "kms", identityFallback = false) =>
    renderEncryptionConfiguration({
      resources: ["secrets"],
      identityFallback,
      keys: [
        provider === "kms"
          ? { name: "k1", state: "primary", provider, endpoint: "unix:///kms.sock" }
          : { name: "k1", state: "primary", provider, secretBase64: Buffer.alloc(32, 1).toString("base64") },
        {
          name: "k0",
          state: "retired",
          provider: "secretbox",
          secretBase64: Buffer.alloc(32, 2).toString("base64"),
        },
      ],
    });
  const check = (text: string) => checkProviderOrder(providerOrderOf(text), kubeBenchProviderReading(text));
  for (const p of ["secretbox", "aescbc", "kms"] as const)
    it(`${p} first passes`, () => assert.equal(check(config(p)).status, "PASS"));
  it("aesgcm first FAILS, as kube-bench's valid_elements (aescbc,kms,secretbox) reads it", () => {
    const f = check(config("aesgcm"));
    assert.equal(f.status, "FAIL");
    assert.match(f.reason, /"aesgcm".*kube-bench fails it/);
  });
  it("identity first fails; identity last (migration fallback) does not", () => {
    const text = stringify({
      resources: [{ resources: ["secrets"], providers: [{ identity: {} }, { secretbox: {} }] }],
    });
    assert.equal(check(text).status, "FAIL");
    assert.equal(check(config("secretbox", true)).status, "PASS");
  });
  it("reads the order without any key material, and kube-bench's text reading agrees on rendered files", () => {
    assert.deepEqual(providerOrderOf(config("kms")), [["kms", "secretbox"]]);
    assert.equal(kubeBenchProviderReading(config("kms")), "kms");
    assert.equal(kubeBenchProviderReading(config("aesgcm")), "aesgcm");
  });
  it("every resources group must start with an accepted provider", () => {
    const text = stringify({
      resources: [
        { resources: ["secrets"], providers: [{ secretbox: {} }] },
        { resources: ["configmaps"], providers: [{ aesgcm: {} }] },
      ],
    });
    assert.equal(check(text).status, "FAIL");
    assert.equal(checkProviderOrder([[]]).status, "FAIL", "no providers at all");
  });
});

describe("file checks 1.1.7/1.1.8/1.1.11/1.1.12/1.1.19–1.1.21 over what the node bootstrap installs", () => {
  const s = settingsFromStackConfig(readStackConfig("staging"), "staging");
  const member = s.members[0];
  // Modes and owners do not depend on the content: every material field reads as its own name.
  const material = new Proxy({}, { get: (_, k) => `${String(k)}\n` }) as Parameters<typeof nodeFiles>[2];
  const installed = () => {
    const { files, dirs } = nodeFiles(s, member, material);
    const bundle = renderNodeBundle({
      cluster: s.clusterName,
      environment: s.environment,
      member: member.name,
      keys: [],
      dirs,
      files,
    });
    return installedByBootstrap(bundle);
  };
  const results = (facts: FileFact[], artifacts: FileFact[] = []) =>
    new Map(
      checkFiles({ nodes: [{ member: member.name, paths: nodePaths(s), facts }], artifacts }).map((r) => [
        r.id,
        r,
      ]),
    );
  const edit = (p: string, change: Partial<FileFact>) =>
    installed().map((f) => (f.path === p ? { ...f, ...change } : f));
  const p = nodePaths(s);

  it("reads modes from the rendered node bundle (what the bootstrap installs, root:root)", () => {
    const facts = installed();
    assert.deepEqual(
      facts.find((f) => f.path === p.dataDir),
      { kind: "dir", path: p.dataDir, mode: 0o700, owner: "root:root" },
    );
    assert.deepEqual(
      facts.find((f) => f.path === p.etcdManifest),
      { kind: "file", path: p.etcdManifest, mode: 0o600, owner: "root:root" },
    );
  });
  it("what SecureEtcd installs passes, and 1.1.12 WARNs (root:root data dir, on purpose)", () => {
    const r = results(installed());
    for (const id of ["1.1.7", "1.1.8", "1.1.11", "1.1.19", "1.1.20", "1.1.21", "G-4"])
      assert.equal(r.get(id)!.status, "PASS", id);
    assert.equal(r.get("1.1.12")!.status, "WARN");
    assert.match(r.get("1.1.12")!.reason, /etcd runs as root in kubeadm's static pod/);
  });
  const failing: [string, string, Partial<FileFact>][] = [
    ["1.1.7", p.etcdManifest, { mode: 0o644 }],
    ["1.1.8", p.etcdManifest, { owner: "ubuntu:ubuntu" }],
    ["1.1.11", p.dataDir, { mode: 0o755 }],
    ["1.1.12", p.dataDir, { owner: "nobody:nogroup" }],
    ["1.1.19", p.certs.server.cert, { owner: "ubuntu:root" }],
    ["1.1.20", p.caCert, { mode: 0o664 }],
    ["1.1.21", p.certs.peer.key, { mode: 0o640 }],
  ];
  for (const [id, file, change] of failing)
    it(`${id} fails: ${file} ${JSON.stringify(change)}`, () =>
      assert.equal(results(edit(file, change)).get(id)!.status, "FAIL"));
  it("1.1.12 passes with etcd:etcd", () =>
    assert.equal(results(edit(p.dataDir, { owner: "etcd:etcd" })).get("1.1.12")!.status, "PASS"));
  it("a data dir the bootstrap does not create fails 1.1.11 (kubelet's DirectoryOrCreate would make it 0755)", () => {
    const r = results(installed().filter((f) => f.path !== p.dataDir)).get("1.1.11")!;
    assert.equal(r.status, "FAIL");
    assert.match(r.reason, /not installed by the node bootstrap/);
  });
  it("bitmask semantics: 0400 is within 0600; 0601 is not", () => {
    assert.equal(results(edit(p.etcdManifest, { mode: 0o400 })).get("1.1.7")!.status, "PASS");
    assert.equal(results(edit(p.etcdManifest, { mode: 0o601 })).get("1.1.7")!.status, "FAIL");
  });
  it("artifacts: keys 0600, certs ≤ 0644, manifests ≤ 0600, the encryption config 0600", () => {
    const art = (file: string, mode: number): FileFact => ({ kind: "file", path: file, mode });
    const ok = [
      art("pki/members/a/server.key", 0o600),
      art("pki/ca.crt", 0o644),
      art("manifests/a/etcd.yaml", 0o600),
      art("encryption-config.yaml", 0o600),
    ];
    for (const [, r] of results(installed(), ok)) assert.notEqual(r.status, "FAIL", r.id);
    assert.equal(
      results(installed(), [art("pki/members/a/server.key", 0o644)]).get("1.1.21")!.status,
      "FAIL",
    );
    assert.equal(results(installed(), [art("manifests/a/etcd.yaml", 0o644)]).get("1.1.7")!.status, "FAIL");
    assert.equal(
      results(installed(), [art("encryption-config.yaml", 0o640)]).get("G-4")!.status,
      "WARN",
      "guidance never FAILs",
    );
  });
});

describe("guidance beyond CIS (WARN, never FAIL)", () => {
  it("G-1 primary strength", () => {
    assert.equal(checkPrimaryStrength("kms").status, "PASS");
    assert.equal(checkPrimaryStrength("secretbox").status, "PASS");
    assert.match(checkPrimaryStrength("aescbc").reason, /padding oracle/);
    assert.equal(checkPrimaryStrength("aesgcm").status, "WARN");
  });
  it("G-2 leaf validity", () => {
    assert.equal(checkLeafValidity(8760).status, "PASS");
    assert.equal(checkLeafValidity(8761).status, "WARN");
  });
  it("G-3 backups in production", () => {
    assert.equal(checkBackupsInProd("prod", true).status, "PASS");
    assert.equal(checkBackupsInProd("prod", false).status, "WARN");
    assert.equal(checkBackupsInProd("dev", false).status, "PASS");
    assert.equal(checkBackupsInProd("live", false, ["live"]).status, "WARN");
  });
  it("a row is as bad as its worst target and names the targets that did not pass", () => {
    const info = { id: "x", title: "t", source: "cis-1.12" as const, scored: true };
    const r = summarize(info, [
      { target: "a", status: "PASS", reason: "ok" },
      { target: "b", status: "FAIL", reason: "bad" },
      { target: "c", status: "WARN", reason: "meh" },
    ]);
    assert.equal(r.status, "FAIL");
    assert.equal(r.reason, "bad (b); meh (c); every other target passes");
    assert.equal(summarize(info, []).status, "FAIL", "nothing rendered is not a pass");
  });
});

describe("npm run cis: the report over every shipped stack @render", function () {
  this.timeout(300_000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cis-test-"));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  for (const stack of stackNames)
    it(`${stack}: no FAIL; 1.1.12 WARN with its reason; JSON written`, async () => {
      const out = path.join(tmp, `${stack}.json`);
      const report = await runCis({ stack, out });
      assert.deepEqual(
        report.checks.filter((c) => c.status === "FAIL").map((c) => `${c.id}: ${c.reason}`),
        [],
      );
      assert.equal(report.checks.find((c) => c.id === "1.1.12")!.status, "WARN");
      assert.deepEqual(JSON.parse(fs.readFileSync(out, "utf8")), JSON.parse(JSON.stringify(report)));
      assert.equal(fs.statSync(out).mode & 0o777, 0o600);
      const ids = report.checks.map((c) => c.id);
      for (const id of [
        "1.1.7",
        "1.1.8",
        "1.1.11",
        "1.1.12",
        "1.2.23",
        "1.2.26",
        "1.2.27",
        "1.2.28",
        "2.1",
        "2.7",
      ])
        assert.ok(ids.includes(id), id);
      const etcdRow = report.checks.find((c) => c.id === "2.2")!;
      assert.equal(
        etcdRow.findings.length,
        settingsFromStackConfig(readStackConfig(stack), stack).members.length,
        "every member",
      );
    });

  it("an aesgcm-primary stack fails 1.2.28 (and only that)", async () => {
    const a = await renderAesgcm(path.join(tmp, "aesgcm"));
    const report = cisReport(reportInputOf(a));
    assert.deepEqual(
      report.checks.filter((c) => c.status === "FAIL").map((c) => c.id),
      ["1.2.28"],
    );
    assert.equal(report.passed, false);
    assert.match(formatCisReport(report), /\[FAIL\] 1\.2\.28 .*\n.*"aesgcm"/);
  });

  it("1.2.28 reads the file the flag points at: a flag pointing elsewhere fails", async () => {
    const a = await renderArtifacts({ stack: "dev", outDir: path.join(tmp, "dev-flag") });
    const input: CisReportInput = reportInputOf(a);
    input.apiserverFlags = input.apiserverFlags.map((f) =>
      f.startsWith("--encryption-provider-config=") ? "--encryption-provider-config=/etc/other.yaml" : f,
    );
    assert.match(
      cisReport(input).checks.find((c) => c.id === "1.2.28")!.reason,
      /installed at \/etc\/kubernetes\/enc/,
    );
  });
});

/** staging with every key on aesgcm: real program, real render. */
function renderAesgcm(outDir: string) {
  const enc = JSON.parse(readStackConfig("staging")["secure-etcd:encryption"]);
  return renderArtifacts({
    stack: "staging",
    outDir,
    configOverrides: { "secure-etcd:encryption": JSON.stringify({ ...enc, provider: "aesgcm" }) },
  });
}

describe("npm run cis: exit codes @render", function () {
  this.timeout(120_000);
  const cli = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(
      process.execPath,
      ["--require", "tsx/cjs", path.join(repoRoot, "rehearsal", "cis.ts"), ...args],
      {
        env: { ...process.env, ...env },
        encoding: "utf8",
      },
    );
  const stacksWith = (edit: (doc: { config: Record<string, unknown> }) => void) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cis-stacks-"));
    const doc = parse(fs.readFileSync(path.join(repoRoot, "stacks", "Pulumi.staging.yaml"), "utf8"));
    doc.config["secure-etcd:environment"] = "staging"; // the file is renamed; keep staging's defaults
    edit(doc);
    fs.writeFileSync(path.join(dir, "Pulumi.x.yaml"), stringify(doc));
    return dir;
  };

  it("0 for prod, with the table printed and the JSON at --out", () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cis-out-")), "r.json");
    const r = cli(["--stack", "prod", "--out", out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\[PASS\] 2\.1 /);
    assert.match(r.stdout, /\[WARN\] 1\.1\.12/);
    assert.match(r.stdout, /0 checks FAIL/);
    assert.equal(JSON.parse(fs.readFileSync(out, "utf8")).passed, true);
  });
  it("1 when a check fails (an aesgcm primary)", () => {
    const dir = stacksWith((d) => {
      (d.config["secure-etcd:encryption"] as { provider: string }).provider = "aesgcm";
    });
    const r = cli(["--stack", "x", "--out", path.join(dir, "r.json")], { SECURE_ETCD_STACKS_DIR: dir });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /\[FAIL\] 1\.2\.28/);
  });
  it("2 for bad arguments, naming the flag", () => {
    assert.throws(
      () => parseCisCli([]),
      (e: unknown) =>
        e instanceof CisUsageError && /--stack: required; allowed: dev, local, prod, staging/.test(e.message),
    );
    assert.throws(() => parseCisCli(["--stack", "qa"]), /--stack: "qa" has no stacks\/Pulumi\.qa\.yaml/);
    assert.throws(() => parseCisCli(["--stak", "prod"]), CisUsageError);
    assert.equal(
      parseCisCli(["--stack", "dev"]).out,
      path.join(repoRoot, ".rehearsal", "dev", "cis-report.json"),
    );
    const r = cli(["--stack", "qa"]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^cis: --stack: "qa"/);
  });
  it("2 for bad config, naming the key", () => {
    const dir = stacksWith((d) => {
      (d.config["secure-etcd:members"] as { ip: string }[])[0].ip = "10.0.0.999";
    });
    const r = cli(["--stack", "x", "--out", path.join(dir, "r.json")], { SECURE_ETCD_STACKS_DIR: dir });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /secure-etcd:members\[0\]\.ip: "10\.0\.0\.999"/);
  });
});
