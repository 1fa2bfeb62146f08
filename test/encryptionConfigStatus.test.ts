import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { secureEtcd } from "../tools/cli";
import { encryptionConfigStatusCommand as main, usage } from "../tools/commands/encryption-config-status";
import { configFileHash } from "../tools/encryptionConfigStatus/args";
import { encryptionConfigFacts, lastReloadFailed, samplesOf } from "../tools/encryptionConfigStatus/metrics";
import { formatStatus, judge, statusJson, type Answer } from "../tools/encryptionConfigStatus/report";
import { checkApiservers } from "../tools/encryptionConfigStatus/run";

async function run(
  argv: string[],
  env?: NodeJS.ProcessEnv,
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const h = (c: string) => `sha256:${c.repeat(64)}`;
/** /metrics as kube-apiserver 1.37 writes these families (HELP/TYPE lines, other metrics around them). */
function metrics(o: {
  hash?: string;
  id?: string;
  success?: [number, number];
  failure?: [number, number];
}): string {
  const id = o.id ?? "";
  const lines = [
    "# HELP apiserver_request_total [STABLE] Counter of apiserver requests",
    'apiserver_request_total{code="200",verb="GET"} 12',
    "# HELP apiserver_encryption_config_controller_last_config_info [ALPHA] Information about the last applied encryption configuration with hash as label, split by apiserver identity.",
    "# TYPE apiserver_encryption_config_controller_last_config_info gauge",
  ];
  if (o.hash)
    lines.push(
      `apiserver_encryption_config_controller_last_config_info{apiserver_id_hash="${id}",hash="${o.hash}"} 1`,
    );
  for (const [status, v] of [
    ["success", o.success],
    ["failure", o.failure],
  ] as const)
    if (v) {
      lines.push(
        `apiserver_encryption_config_controller_automatic_reloads_total{apiserver_id_hash="${id}",status="${status}"} ${v[0]}`,
      );
      lines.push(
        `apiserver_encryption_config_controller_automatic_reload_last_timestamp_seconds{apiserver_id_hash="${id}",status="${status}"} ${v[1]}`,
      );
    }
  return lines.join("\n") + "\n";
}

describe("encryption-config-status: reading kube-apiserver's metrics", () => {
  it("takes the loaded config's hash and the apiserver identity from last_config_info", () => {
    const f = encryptionConfigFacts(metrics({ hash: h("a"), id: h("1") }));
    assert.deepEqual([f.hash, f.apiserverIdHash, f.infoSamples], [h("a"), h("1"), 1]);
  });

  it("parses labels in any order, with escaped quotes, and ignores other metrics and comments", () => {
    const text = [
      '# apiserver_encryption_config_controller_last_config_info{hash="sha256:no"} 1',
      'apiserver_encryption_config_controller_last_config_info_other{hash="x"} 1',
      `apiserver_encryption_config_controller_last_config_info{hash="${h("b")}",apiserver_id_hash="a\\"b"} 1 1700000000000`,
    ].join("\n");
    const [s] = samplesOf(text, new Set(["apiserver_encryption_config_controller_last_config_info"]));
    assert.deepEqual(s.labels, { hash: h("b"), apiserver_id_hash: 'a"b' });
    assert.equal(s.value, 1);
    assert.throws(
      () => samplesOf('apiserver_x{hash="unterminated} 1', new Set(["apiserver_x"])),
      /malformed metric labels/,
    );
  });

  it("knows when the last automatic reload failed (a failure after the last success)", () => {
    assert.equal(
      lastReloadFailed(
        encryptionConfigFacts(metrics({ hash: h("a"), success: [2, 200], failure: [1, 100] })),
      ),
      false,
    );
    assert.equal(
      lastReloadFailed(
        encryptionConfigFacts(metrics({ hash: h("a"), success: [2, 200], failure: [3, 300] })),
      ),
      true,
    );
    assert.equal(lastReloadFailed(encryptionConfigFacts(metrics({ hash: h("a"), failure: [1, 100] }))), true);
    assert.equal(lastReloadFailed(encryptionConfigFacts(metrics({ hash: h("a") }))), false);
  });
});

describe("encryption-config-status: the verdict", () => {
  const a1 = "https://10.0.1.10:6443";
  const a2 = "https://10.0.1.11:6443";
  const a3 = "https://10.0.1.12:6443";
  const loaded = (url: string, hash: string, extra: Parameters<typeof metrics>[0] = {}): Answer => ({
    url,
    facts: encryptionConfigFacts(metrics({ hash, ...extra })),
  });
  const expected = { hash: h("a"), source: "/etc/kubernetes/enc/encryption-config.yaml" };

  it("0 when every apiserver loaded the expected config", () => {
    const r = judge([loaded(a1, h("a")), loaded(a2, h("a"))], expected);
    assert.equal(r.code, 0);
    assert.match(
      formatStatus(r),
      new RegExp(
        `^OK: all 2 apiservers loaded ${h("a")} \\(/etc/kubernetes/enc/encryption-config.yaml\\)$`,
        "m",
      ),
    );
  });

  it("1 naming exactly the apiservers that lag, with what to do", () => {
    const r = judge([loaded(a1, h("a")), loaded(a2, h("b")), loaded(a3, h("b"))], expected);
    assert.equal(r.code, 1);
    assert.deepEqual(
      r.apiservers.map((s) => s.state),
      ["loaded", "lags", "lags"],
    );
    const text = formatStatus(r);
    assert.match(text, new RegExp(`^https://10\\.0\\.1\\.11:6443 +${h("b")} +LAGS$`, "m"));
    assert.match(
      text,
      /^FAIL: 2 of 3 apiservers lag: https:\/\/10\.0\.1\.11:6443, https:\/\/10\.0\.1\.12:6443 have not loaded /m,
    );
    assert.match(text, /kubelet restarts a static pod only when its manifest changes/);
  });

  it("without --expect, 0 when all agree and 1 when they differ", () => {
    assert.equal(judge([loaded(a1, h("a")), loaded(a2, h("a"))]).code, 0);
    const r = judge([loaded(a1, h("a")), loaded(a2, h("b"))]);
    assert.equal(r.code, 1);
    assert.match(r.summary, /run 2 different configs .*pass --expect FILE/);
  });

  it("3 for an apiserver that cannot be asked or does not report the metric: nothing is claimed for it", () => {
    const r = judge(
      [
        loaded(a1, h("a")),
        { url: a2, error: "kubectl get --raw /metrics failed: connection refused" },
        { url: a3, facts: encryptionConfigFacts(metrics({})) },
      ],
      expected,
    );
    assert.equal(r.code, 3);
    const text = formatStatus(r);
    assert.match(
      text,
      /^NOT CHECKED: not checked: https:\/\/10\.0\.1\.11:6443, https:\/\/10\.0\.1\.12:6443/m,
    );
    assert.match(
      text,
      /10\.0\.1\.12:6443: it does not report apiserver_encryption_config_controller_last_config_info \(no --encryption-provider-config, or a kube-apiserver older than 1\.34\)/,
    );
  });

  it("a lag is a failure (1) even when another apiserver could not be checked", () => {
    const r = judge([loaded(a1, h("b")), { url: a2, error: "timed out" }], expected);
    assert.equal(r.code, 1);
    assert.match(r.summary, /not checked: https:\/\/10\.0\.1\.11:6443$/);
  });

  it("two addresses answering as the same apiserver (a load balancer) verify nothing: 3", () => {
    const r = judge(
      [
        loaded(a1, h("a"), { id: h("9") }),
        loaded(a2, h("a"), { id: h("9") }),
        loaded(a3, h("a"), { id: h("8") }),
      ],
      expected,
    );
    assert.equal(r.code, 3);
    assert.deepEqual(
      r.apiservers.map((s) => s.state),
      ["unchecked", "unchecked", "loaded"],
    );
    assert.match(r.apiservers[0].why!, /reach the same apiserver .*not a load balancer's/);
    // An empty identity (APIServerIdentity off) says nothing about sameness.
    assert.equal(judge([loaded(a1, h("a"), { id: "" }), loaded(a2, h("a"), { id: "" })], expected).code, 0);
  });

  it("says when an apiserver's last automatic reload failed", () => {
    const r = judge(
      [loaded(a1, h("b"), { success: [1, 1_800_000_000], failure: [4, 1_800_000_060] })],
      expected,
    );
    assert.equal(r.apiservers[0].lastReloadFailedAt, "2027-01-15T08:01:00.000Z");
    assert.match(formatStatus(r), /its last automatic reload FAILED at 2027-01-15T08:01:00\.000Z/);
    assert.equal(JSON.parse(statusJson(r)).passed, false);
  });

  it("asks each apiserver through the reader and reports a reader error as unchecked", async () => {
    const asked: string[] = [];
    const r = await checkApiservers([a1, a2], async (url) => {
      asked.push(url);
      return url === a1
        ? { text: metrics({ hash: h("a") }) }
        : { text: 'apiserver_encryption_config_controller_last_config_info{hash="x} 1' };
    });
    assert.deepEqual(asked, [a1, a2]);
    assert.equal(r.apiservers[1].state, "unchecked");
    assert.match(r.apiservers[1].why!, /its \/metrics could not be read: malformed metric labels/);
  });
});

describe("secure-etcd encryption-config-status: command line", () => {
  let tmp: string;
  let config: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "config-status-"));
    config = path.join(tmp, "encryption-config.yaml");
    fs.writeFileSync(
      config,
      "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources: []\n",
    );
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const cases: [string, () => string[], RegExp][] = [
    ["no --apiservers", () => [], /--apiservers: is required/],
    [
      "an http apiserver",
      () => ["--apiservers=http://10.0.1.10:6443"],
      /--apiservers: http:\/\/10\.0\.1\.10:6443 is not https/,
    ],
    [
      "a path after the address",
      () => ["--apiservers=https://10.0.1.10:6443/metrics"],
      /give the apiserver's address only/,
    ],
    ["an apiserver listed twice", () => ["--apiservers=https://a:6443,https://a:6443/"], /listed twice/],
    [
      "--expect that cannot be read",
      () => ["--apiservers=https://a:6443", "--expect=/nonexistent.yaml"],
      /--expect: \/nonexistent\.yaml: cannot be read \(ENOENT\)/,
    ],
    [
      "a malformed --expect-hash",
      () => ["--apiservers=https://a:6443", "--expect-hash=abc"],
      /--expect-hash: "abc" is not sha256:<64 hex digits>/,
    ],
    [
      "both --expect and --expect-hash",
      () => ["--apiservers=https://a:6443", `--expect=${config}`, `--expect-hash=${h("a")}`],
      /give either --expect FILE or --expect-hash/,
    ],
    ["an unknown flag", () => ["--apiservers=https://a:6443", "--expected=x"], /--expected: unknown flag/],
  ];
  for (const [what, argv, message] of cases)
    it(`exits 2 for ${what}, naming the flag`, async () => {
      const r = await run(argv());
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, message);
      assert.equal(r.out, "");
    });

  it("--help prints the usage with the exit codes and exits 0", async () => {
    const r = await run(["--help"]);
    assert.equal(r.code, 0);
    assert.equal(r.out, usage);
    assert.match(usage, /Exit 0: every apiserver has loaded it; 1: at least one lags/);
    assert.match(usage, /3: an apiserver could not be checked/);
  });

  it("hashes --expect like kube-apiserver: sha256 of the file's bytes", () => {
    assert.equal(
      configFileHash(Buffer.from("abc")),
      "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });

  it("exits 3 (nothing verified) when kubectl cannot be run, naming every apiserver", async () => {
    const r = await run([
      "--apiservers=https://10.0.1.10:6443,https://10.0.1.11:6443",
      `--expect=${config}`,
      "--kubectl=/nonexistent/kubectl",
    ]);
    assert.equal(r.code, 3, r.out);
    assert.match(r.out, /\/nonexistent\/kubectl not found/);
    assert.match(
      r.out,
      /^NOT CHECKED: not checked: https:\/\/10\.0\.1\.10:6443, https:\/\/10\.0\.1\.11:6443/m,
    );
    assert.match(r.out, new RegExp(`expected: ${configFileHash(fs.readFileSync(config))}`));
  });

  it("is a secure-etcd command", async () => {
    const out: string[] = [];
    assert.equal(await secureEtcd(["--help"], { out: (l) => out.push(l), err: () => undefined }), 0);
    assert.match(
      out.join("\n"),
      /encryption-config-status +ask every kube-apiserver which EncryptionConfiguration/,
    );
  });
});
