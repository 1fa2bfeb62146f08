import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Etcd3 } from "etcd3";
import { classifyStoredValue, storedValueLabel } from "../components/encryption/classifyStoredValue";
import { renderArtifacts } from "../harness/artifacts";
import { layout } from "../harness/layout";
import { startCluster, type RunningCluster } from "../harness/cluster";
import {
  encryptStoredValue,
  kmsStoredValuePrefix,
  storedValuePrefix,
} from "../harness/encryptionFormat/storedValue";
import { ApiServerStorage } from "../harness/kubeStorage/apiServerStorage";
import { encryptionConfigFor, freshKey } from "../harness/kubeStorage/drillKeys";
import { created, encodeObject } from "../harness/kubeStorage/objects";
import { apiserverConnection, connectionFlags } from "../harness/kubeStorage/rehearsalInputs";
import { runLiveEncryptionDrill } from "../rehearsal/drills/liveEncryption";
import { verifyEncryptionCommand as main, usage } from "../tools/commands/verify-encryption";
import { etcdctlOk, type EtcdctlConnection } from "../tools/verifyEncryption/etcdctl";
import { objectKey, objectRefOf } from "../tools/verifyEncryption/objectKeys";
import { goQuoted, prefixRangeEnd } from "../tools/verifyEncryption/readPrefix";
import { formatReport, verdict } from "../tools/verifyEncryption/report";
import type { ScanReport } from "../tools/verifyEncryption/scan";
import { terminalControlsIn } from "./support/fakeEtcdctl";

/** Runs the command in-process; returns its exit code and everything it printed. */
async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("secure-etcd verify-encryption: arguments", () => {
  let tmp: string;
  let files: string[];
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "verify-args-"));
    files = ["ca.crt", "c.crt", "c.key"].map((f) => path.join(tmp, f));
    for (const f of files) fs.writeFileSync(f, "x");
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const good = () => [
    "--endpoints=https://127.0.0.1:2379",
    `--cacert=${files[0]}`,
    `--cert=${files[1]}`,
    `--key=${files[2]}`,
  ];
  const without = (flag: string) => good().filter((a) => !a.startsWith(`${flag}=`));

  const cases: [string, () => string[], RegExp][] = [
    ["no --endpoints", () => without("--endpoints"), /--endpoints: is required/],
    [
      "an http endpoint",
      () => [...without("--endpoints"), "--endpoints=http://127.0.0.1:2379"],
      /--endpoints: .*not https/,
    ],
    [
      "an endpoint that is not a URL",
      () => [...without("--endpoints"), "--endpoints=127.0.0.1:2379"],
      /--endpoints: .*not a URL/,
    ],
    ["no --cacert", () => without("--cacert"), /--cacert: is required/],
    [
      "a --cert that does not exist",
      () => [...without("--cert"), "--cert=/nonexistent/c.crt"],
      /--cert: \/nonexistent\/c\.crt: cannot be read \(ENOENT\)/,
    ],
    ["a --key that is a directory", () => [...without("--key"), `--key=${tmp}`], /--key: .*cannot be read/],
    [
      "a resource with a slash",
      () => [...good(), "--resources=secrets/x"],
      /--resources: "secrets\/x" is not a resource/,
    ],
    ["an empty resource list", () => [...good(), "--resources=,"], /--resources: names no resource/],
    [
      "a retiring key name with a colon",
      () => [...good(), "--retiring=a:b"],
      /--retiring: "a:b" is not a key name/,
    ],
    [
      "a page size of 1",
      () => [...good(), "--page-size=1"],
      /--page-size: "1" must be a whole number from 2 to 10000/,
    ],
    [
      "a relative etcd prefix",
      () => [...good(), "--etcd-prefix=registry"],
      /--etcd-prefix: "registry" must be an absolute/,
    ],
    ["an unknown flag", () => [...good(), "--retire=old"], /--retire: unknown flag/],
    ["a positional argument", () => [...good(), "secrets"], /unexpected argument secrets/],
    ["--retiring without a value", () => [...good(), "--retiring"], /--retiring/],
  ];
  for (const [what, argv, message] of cases)
    it(`exits 2 for ${what}, naming the flag`, async () => {
      const r = await run(argv());
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, message);
      assert.ok(r.err.includes(usage), "the usage follows the error");
      assert.equal(r.out, "");
    });

  it("--help prints the usage and exits 0", async () => {
    const r = await run(["--help"]);
    assert.equal(r.code, 0);
    assert.equal(r.out, usage);
    assert.match(usage, /--endpoints URLS --cacert FILE --cert FILE --key FILE/);
  });

  it("exits 3 (nothing verified) when etcdctl cannot be run", async () => {
    const r = await run([...good(), "--etcdctl=/nonexistent/etcdctl"]);
    assert.equal(r.code, 3);
    assert.match(r.err, /could not scan etcd, nothing was verified: .*\/nonexistent\/etcdctl not found/);
  });
});

describe("stored value classification (components/encryption/classifyStoredValue)", () => {
  const key = randomBytes(32);
  const sealed = (provider: "aescbc" | "aesgcm" | "secretbox", keyName: string) =>
    encryptStoredValue({
      provider,
      keyName,
      key,
      plaintext: Buffer.from("{}"),
      dataContext: "/registry/secrets/a/b",
    });

  for (const provider of ["aescbc", "aesgcm", "secretbox"] as const)
    it(`reads ${provider} values as the harness writes them (k8s:enc:${provider}:v1:<key>:)`, () => {
      const c = classifyStoredValue(sealed(provider, "key-2026-11"));
      assert.deepEqual(c, { encrypted: true, provider, version: "v1", keyName: "key-2026-11" });
      assert.equal(storedValueLabel(c), `${provider}/key-2026-11`);
      // the same prefix the harness's own builder makes
      assert.ok(
        sealed(provider, "k").subarray(0, storedValuePrefix(provider, "k").length).toString() ===
          storedValuePrefix(provider, "k"),
      );
    });

  for (const apiVersion of ["v1", "v2"] as const)
    it(`reads kms ${apiVersion} envelopes (k8s:enc:kms:${apiVersion}:<name>:)`, () => {
      const v = Buffer.concat([
        Buffer.from(kmsStoredValuePrefix({ apiVersion, name: "vault" })),
        randomBytes(80),
      ]);
      const c = classifyStoredValue(v);
      assert.deepEqual(c, { encrypted: true, provider: "kms", version: apiVersion, keyName: "vault" });
      assert.equal(storedValueLabel(c), `kms-${apiVersion}/vault`);
    });

  const plaintext: [string, Buffer, "no-prefix" | "unrecognized-prefix"][] = [
    ["a JSON object", Buffer.from('{"kind":"Secret"}'), "no-prefix"],
    [
      "kube-apiserver's protobuf (k8s\\0 magic)",
      Buffer.from("k8s\x00\n\x0c\n\x02v1\x12\x06Secret", "latin1"),
      "no-prefix",
    ],
    ["an empty value", Buffer.alloc(0), "no-prefix"],
    ["a value shorter than the marker", Buffer.from("k8s:en"), "no-prefix"],
    ["an unknown provider", Buffer.from("k8s:enc:rot13:v1:k:xyz"), "unrecognized-prefix"],
    ["a local provider with version v2", Buffer.from("k8s:enc:aescbc:v2:k:xyz"), "unrecognized-prefix"],
    [
      "a prefix without the key's closing colon",
      Buffer.from("k8s:enc:secretbox:v1:key-1"),
      "unrecognized-prefix",
    ],
    ["an empty key name", Buffer.from("k8s:enc:secretbox:v1::abc"), "unrecognized-prefix"],
    ["a key name with a space", Buffer.from("k8s:enc:aesgcm:v1:my key:abc"), "unrecognized-prefix"],
    ["kms v3", Buffer.from("k8s:enc:kms:v3:vault:abc"), "unrecognized-prefix"],
    [
      "a key name longer than 255 bytes",
      Buffer.from(`k8s:enc:aescbc:v1:${"k".repeat(300)}:x`),
      "unrecognized-prefix",
    ],
  ];
  for (const [what, value, reason] of plaintext)
    it(`counts ${what} as plaintext (${reason})`, () => {
      assert.deepEqual(classifyStoredValue(value), { encrypted: false, reason });
    });

  it("reads a view into a larger buffer from its own offset, and only the prefix of a huge value", () => {
    const big = Buffer.concat([Buffer.from("JUNK"), sealed("secretbox", "k1"), randomBytes(1 << 20)]);
    const view = new Uint8Array(big.buffer, big.byteOffset + 4, big.length - 4);
    assert.equal(storedValueLabel(classifyStoredValue(view)), "secretbox/k1");
    assert.equal(storedValueLabel(classifyStoredValue(big)), "plaintext");
  });

  it("takes the key name up to the first colon (key names never contain one)", () => {
    const c = classifyStoredValue(Buffer.from("k8s:enc:aesgcm:v1:a:b:rest"));
    assert.equal(c.encrypted && c.keyName, "a");
  });
});

describe("verify-encryption: keys, pages and the report", () => {
  it("names objects from their etcd keys", () => {
    assert.deepEqual(objectRefOf("/registry/secrets/kube-system/bootstrap-token-x", "secrets"), {
      resource: "secrets",
      namespace: "kube-system",
      name: "bootstrap-token-x",
    });
    assert.deepEqual(objectRefOf("/registry/clusterroles/admin", "clusterroles"), {
      resource: "clusterroles",
      name: "admin",
    });
    assert.equal(
      objectKey({ resource: "configmaps", namespace: "a", name: "b" }, "/k8s/"),
      "/k8s/configmaps/a/b",
    );
    assert.throws(
      () => objectRefOf("/registry/configmaps/a/b", "secrets"),
      /not under \/registry\/secrets\//,
    );
  });

  it("computes etcd's range end of a prefix", () => {
    assert.equal(prefixRangeEnd("/registry/secrets/"), "/registry/secrets0");
    assert.equal(prefixRangeEnd("a"), "b");
  });

  const report = (over: Partial<ScanReport>): ScanReport => ({
    endpoints: ["https://127.0.0.11:2379"],
    etcdPrefix: "/registry",
    resources: ["secrets", "configmaps"],
    revision: 42,
    scanned: 3,
    pages: 2,
    seconds: 0.05,
    counts: [{ resource: "secrets", provider: "secretbox", version: "v1", keyName: "new", count: 3 }],
    plaintext: [],
    ...over,
  });

  it("passes only with no plaintext and nothing under the retiring key", () => {
    assert.deepEqual(verdict(report({})), { passed: true, problems: [] });
    const r = report({
      plaintext: [{ resource: "secrets", namespace: "default", name: "db" }],
      retiring: { name: "old", count: 2, objects: [], searched: 9, unrecognized: [] },
    });
    const v = verdict(r);
    assert.equal(v.passed, false);
    assert.match(v.problems[0], /1 value stored in plaintext/);
    assert.match(
      v.problems[1],
      /retiring key old still encrypts 2 values: rewrite every object \(kubectl get secrets,configmaps -A -o json \| kubectl replace -f -\)/,
    );
  });

  it("lists at most 20 objects under the retiring key in text (all in --json)", () => {
    const objects = Array.from({ length: 25 }, (_, i) => ({
      resource: "secrets",
      namespace: "ns",
      name: `s${i}`,
    }));
    const text = formatReport(
      report({ retiring: { name: "old", count: 25, objects, searched: 30, unrecognized: [] } }),
    );
    assert.match(text, /secrets ns\/s19\n {2}… and 5 more \(--json lists all\)/);
    assert.doesNotMatch(text, /ns\/s20/);
  });
});

// ---------------------------------------------------------------------------------------------------

describe("verify-encryption against a real etcd @integration", function () {
  this.timeout(300_000);
  let tmp: string;
  let dir: string;
  let cluster: RunningCluster | undefined;
  let conn: EtcdctlConnection;
  let stackYaml: string;
  /** Every plaintext and stored value written: no output may contain any of them. */
  const secrets: string[] = [];
  const ns = `verify-${randomBytes(3).toString("hex")}`;

  before(async function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "verify-live-"));
    dir = path.join(tmp, "artifacts");
    const a = await renderArtifacts({ stack: "local", outDir: dir });
    cluster = await startCluster({ dir, workDir: path.join(tmp, "work"), caKeyPem: a.caKeyPem });
    conn = apiserverConnection(dir, cluster.etcdctlBinary, cluster.clientUrls());
    stackYaml = fs.readFileSync(layout.encryptionConfig(dir), "utf8");
  });
  after(async function () {
    await cluster?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const flags = () => connectionFlags(conn);
  /** A storage layer that writes with `provider` first, under a fresh key. */
  const writerWith = (provider: "aescbc" | "aesgcm" | "secretbox", name: string) => {
    const k = freshKey(name, provider);
    const yaml = encryptionConfigFor([k], { [k.name]: "primary" }, ["secrets", "configmaps"]);
    return { key: k, storage: new ApiServerStorage({ name, encryptionConfig: yaml, etcd: conn }) };
  };
  async function write(s: ApiServerStorage, resource: "secrets" | "configmaps", name: string): Promise<void> {
    const value = `v-${randomBytes(10).toString("hex")}`;
    secrets.push(value, Buffer.from(value).toString("base64"));
    const w = await s.put({ resource, namespace: ns, name, data: { value } });
    const r = await etcdctlOk(conn, ["get", w.key, "-w", "json"]);
    const stored = Buffer.from((JSON.parse(r.stdout) as { kvs: { value: string }[] }).kvs[0].value, "base64");
    secrets.push(stored.toString("base64"), stored.toString("hex"), stored.subarray(-24).toString("base64"));
  }
  async function putRaw(key: string, value: Buffer): Promise<void> {
    secrets.push(value.toString("base64"), value.toString("hex"));
    await etcdctlOk(conn, ["put", key], { stdin: value });
  }
  const assertNoValue = (text: string) => {
    for (const s of secrets) assert.ok(!text.includes(s), `output holds a stored value (${s.slice(0, 6)}…)`);
  };

  let gcm: ReturnType<typeof writerWith>;
  let cbc: ReturnType<typeof writerWith>;

  it("counts every provider and key, and names every plaintext entry (exit 1)", async () => {
    const stack = new ApiServerStorage({ name: "stack", encryptionConfig: stackYaml, etcd: conn });
    for (let i = 0; i < 5; i++) await write(stack, "secrets", `stack-${i}`);
    for (let i = 0; i < 3; i++) await write(stack, "configmaps", `stack-cm-${i}`);
    gcm = writerWith("aesgcm", "gcm");
    cbc = writerWith("aescbc", "cbc");
    for (let i = 0; i < 2; i++) await write(gcm.storage, "secrets", `gcm-${i}`);
    for (let i = 0; i < 4; i++) await write(cbc.storage, "secrets", `cbc-${i}`);
    await putRaw(
      `/registry/secrets/${ns}/kms-1`,
      Buffer.concat([Buffer.from("k8s:enc:kms:v2:vault:"), randomBytes(60)]),
    );
    const plain = created({
      resource: "secrets",
      namespace: ns,
      name: "plain-json",
      data: { value: `p-${randomBytes(8).toString("hex")}` },
    });
    secrets.push(plain.data.value);
    await putRaw(`/registry/secrets/${ns}/plain-json`, encodeObject(plain));
    await putRaw(
      `/registry/configmaps/${ns}/plain-proto`,
      Buffer.from(`k8s\x00\n\x0f\n\x02v1\x12\tConfigMap${randomBytes(8).toString("hex")}`, "latin1"),
    );

    const r = await run([...flags(), "--json"]);
    assert.equal(r.code, 1, r.err);
    const rep = JSON.parse(r.out) as ScanReport & { passed: boolean };
    const counts = Object.fromEntries(
      rep.counts.map((c) => [`${c.resource} ${c.provider}/${c.keyName ?? "-"}`, c.count]),
    );
    assert.deepEqual(counts, {
      "secrets secretbox/key-2026-11": 5,
      [`secrets aesgcm/${gcm.key.name}`]: 2,
      [`secrets aescbc/${cbc.key.name}`]: 4,
      "secrets kms/vault": 1,
      "secrets plaintext/-": 1,
      "configmaps secretbox/key-2026-11": 3,
      "configmaps plaintext/-": 1,
    });
    assert.equal(rep.counts.find((c) => c.provider === "kms")?.version, "v2");
    assert.deepEqual(rep.plaintext.map((p) => `${p.resource} ${p.namespace}/${p.name}`).sort(), [
      `configmaps ${ns}/plain-proto`,
      `secrets ${ns}/plain-json`,
    ]);
    assert.equal(rep.scanned, 17);
    assertNoValue(r.out + r.err);

    const text = await run(flags());
    assert.equal(text.code, 1);
    assert.match(
      text.out,
      new RegExp(`plaintext: 2\\n  secrets ${ns}/plain-json\\n  configmaps ${ns}/plain-proto`),
    );
    assert.match(text.out, /^FAIL: 2 values stored in plaintext$/m);
    assert.match(text.out, /secrets +kms v2 +vault +1/);
    assertNoValue(text.out + text.err);
  });

  it("--resources limits the scan; deleting the plaintext makes it pass (exit 0)", async () => {
    const cm = await run([...flags(), "--resources=configmaps", "--json"]);
    assert.equal((JSON.parse(cm.out) as ScanReport).scanned, 4);
    await etcdctlOk(conn, ["del", `/registry/secrets/${ns}/plain-json`]);
    await etcdctlOk(conn, ["del", `/registry/configmaps/${ns}/plain-proto`]);
    const r = await run(flags());
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^OK: no plaintext among 15 values/m);
    assertNoValue(r.out);
  });

  it("--retiring exits 1 while the key encrypts anything (naming the objects), 0 after a rewrite", async () => {
    const busy = await run([...flags(), `--retiring=${cbc.key.name}`]);
    assert.equal(busy.code, 1);
    assert.match(
      busy.out,
      new RegExp(
        `retiring key ${cbc.key.name}: 4 values \\(searched all 15 values under /registry/\\)\\n(  secrets ${ns}/cbc-\\d\\n){4}`,
      ),
    );
    assert.match(busy.out, /FAIL: retiring key .* still encrypts 4 values: rewrite every object/);
    // Rewrite through a config that writes with the gcm key and still reads the cbc one.
    const both = encryptionConfigFor(
      [gcm.key, cbc.key],
      { [gcm.key.name]: "primary", [cbc.key.name]: "retired" },
      ["secrets"],
    );
    const rewriter = new ApiServerStorage({ name: "rewriter", encryptionConfig: both, etcd: conn });
    const rewritten = await rewriter.rewrite("secrets", ns).catch((e: Error) => e);
    // the stack's and the kms objects are unreadable to this config: like `kubectl get`, nothing is written
    assert.ok(
      rewritten instanceof Error && /cannot read \/registry\/secrets\/.*kms-1: /.test(rewritten.message),
      String(rewritten),
    );
    for (let i = 0; i < 4; i++) await rewriter.put(await rewriter.get("secrets", ns, `cbc-${i}`));
    const free = await run([...flags(), `--retiring=${cbc.key.name}`, "--json"]);
    assert.equal(free.code, 0, free.out);
    assert.deepEqual((JSON.parse(free.out) as ScanReport).retiring, {
      name: cbc.key.name,
      count: 0,
      objects: [],
      searched: 15,
      unrecognized: [],
    });
    const unknown = await run([...flags(), "--retiring=never-used"]);
    assert.equal(unknown.code, 0);
    assertNoValue(busy.out + free.out + unknown.out);
  });

  it("pages through more objects than one page holds, at one revision, with the same counts", async () => {
    const s = writerWith("secretbox", "paged").storage;
    for (let i = 0; i < 23; i++) await write(s, "configmaps", `paged-${String(i).padStart(2, "0")}`);
    const whole = JSON.parse((await run([...flags(), "--json"])).out) as ScanReport;
    const paged = JSON.parse((await run([...flags(), "--json", "--page-size=4"])).out) as ScanReport;
    assert.equal(whole.pages, 2, "one page per resource at the default size");
    assert.ok(
      paged.pages >= Math.ceil(whole.scanned / 4),
      `${paged.pages} pages of 4 for ${whole.scanned} values`,
    );
    assert.equal(paged.scanned, whole.scanned);
    assert.deepEqual(paged.counts, whole.counts);
    assert.equal(paged.revision, whole.revision, "nothing was written between the two scans");
  });

  it("scans 10,000 Secrets in pages of 500 (measured)", async function () {
    const k = freshKey("scale", "secretbox");
    const key = Buffer.from(k.secretBase64, "base64");
    const client = new Etcd3({
      hosts: cluster!.clientUrls(),
      credentials: {
        rootCertificate: fs.readFileSync(conn.cacert),
        certChain: fs.readFileSync(conn.cert),
        privateKey: fs.readFileSync(conn.key),
      },
    });
    const scaleNs = `scale-${randomBytes(3).toString("hex")}`;
    const started = Date.now();
    try {
      for (let i = 0; i < 10_000; i += 200)
        await Promise.all(
          Array.from({ length: 200 }, (_, j) => {
            const etcdKey = `/registry/secrets/${scaleNs}/s-${i + j}`;
            const obj = created({
              resource: "secrets",
              namespace: scaleNs,
              name: `s-${i + j}`,
              data: { v: "x".repeat(64) },
            });
            const stored = encryptStoredValue({
              provider: "secretbox",
              keyName: k.name,
              key,
              plaintext: encodeObject(obj),
              dataContext: etcdKey,
            });
            return client.put(etcdKey).value(stored);
          }),
        );
      const loaded = (Date.now() - started) / 1000;
      const r = await run([...flags(), "--resources=secrets", "--json", `--retiring=${k.name}`]);
      const rep = JSON.parse(r.out) as ScanReport;
      assert.equal(r.code, 1, "the scale key is the retiring one");
      assert.equal(rep.retiring?.count, 10_000);
      assert.ok(rep.scanned >= 10_000 && rep.pages >= 20, `${rep.scanned} values in ${rep.pages} pages`);
      console.log(
        `      10,000 secrets loaded in ${loaded.toFixed(1)} s; one scan: ${rep.scanned} values, ${rep.pages} pages, ${rep.seconds.toFixed(2)} s`,
      );
      assert.ok(rep.seconds < 60, `scan took ${rep.seconds} s`);
    } finally {
      await client.delete().prefix(`/registry/secrets/${scaleNs}/`);
      client.close();
    }
  });

  it("the live encryption drill passes and names the plaintext Secret it writes", async () => {
    await etcdctlOk(conn, ["del", "--prefix", "/registry/"]);
    const results = await runLiveEncryptionDrill({ dir, cluster: cluster!, workDir: tmp, objects: 4 });
    assert.deepEqual(
      results.map((r) => [r.name, r.passed]),
      [
        ["live encryption: Secrets and ConfigMaps written through the stack's config", true],
        ["live encryption: verify-encryption finds no plaintext (exit 0)", true],
        ["live encryption: a plaintext Secret put directly is named (exit 1)", true],
      ],
      results.map((r) => r.detail).join("\n"),
    );
    assert.match(results[0].detail, /every value stored as secretbox\/key-2026-11/);
    assert.match(results[1].detail, /--retiring key-2026-05: 0 values/);
    assert.match(results[2].detail, /names "secrets drill-live-[0-9a-f]+\/written-around-the-apiserver"/);
    const left = await etcdctlOk(conn, ["get", "--prefix", "/registry/", "--keys-only", "-w", "json"]);
    assert.equal(
      (JSON.parse(left.stdout) as { count?: number }).count ?? 0,
      0,
      "the drill deleted what it wrote",
    );
  });

  /** Puts raw bytes as key and value (a txn on stdin: argv cannot carry bytes that are not UTF-8). */
  async function putBytes(key: Buffer, value: Buffer): Promise<void> {
    secrets.push(value.toString("base64"), value.toString("hex"));
    await etcdctlOk(conn, ["txn"], {
      stdin: Buffer.from(`\n put ${goQuoted(key)} ${goQuoted(value)}\n\n\n`),
    });
  }
  const sealedUnder = (keyName: string) =>
    Buffer.concat([Buffer.from(`k8s:enc:aescbc:v1:${keyName}:`), randomBytes(48)]);
  const rawKey = (s: string) => Buffer.from(s, "latin1");

  it("keys that are not valid UTF-8, stored in etcd: the retiring key is found behind them (issue 19)", async () => {
    // Old paging restarted each page at the last key read as UTF-8: k\x80 read as k\uFFFD, which sorts
    // after every k\x81..k\x8f, so a page boundary at k\x80 skipped them and the gate passed.
    await putBytes(rawKey("/registry/secrets/raw/a"), sealedUnder("new"));
    await putBytes(rawKey("/registry/secrets/raw/k\x80"), sealedUnder("new"));
    for (let i = 0x81; i <= 0x8f; i++)
      await putBytes(rawKey(`/registry/secrets/raw/k${String.fromCharCode(i)}`), sealedUnder("old"));
    for (const pageSize of ["2", "500"]) {
      const r = await run([...flags(), "--retiring=old", `--page-size=${pageSize}`]);
      assert.equal(r.code, 1, `page size ${pageSize}: ${r.out}${r.err}`);
      assert.match(r.out, /^retiring key old: 15 values \(searched all 17 values under \/registry\/\)$/m);
      assert.match(r.out, /^ {2}secrets raw\/k\\x81$/m);
      assertNoValue(r.out + r.err);
    }
    // A NUL and bytes that are never UTF-8 in keys: paged past too.
    await putBytes(rawKey("/registry/secrets/raw/n\x00ul"), sealedUnder("old"));
    await putBytes(rawKey("/registry/secrets/raw/z\xff\xfe"), sealedUnder("old"));
    const r = await run([...flags(), "--retiring=old", "--page-size=2", "--json"]);
    assert.equal(r.code, 1, r.err);
    const rep = JSON.parse(r.out) as ScanReport;
    assert.equal(rep.retiring?.count, 17);
    assert.deepEqual(
      rep.retiring?.objects.slice(-2).map((o) => o.name),
      ["n\\x00ul", "z\\xff\\xfe"],
    );
  });

  it("names made to forge report lines, stored in etcd, print escaped on their own line", async () => {
    await putBytes(rawKey("/registry/secrets/raw/x\n\nOK: no plaintext among 0 values"), Buffer.from("{}"));
    await putBytes(rawKey("/registry/secrets/raw/\x1b[1A\x1b[2KOK"), Buffer.from("{}"));
    const r = await run([...flags(), "--resources=secrets"]);
    assert.equal(r.code, 1);
    assert.deepEqual(terminalControlsIn(r.out), [], "no control character in the report");
    assert.deepEqual(
      r.out.split("\n").filter((l) => l.includes("OK")),
      [
        "  secrets raw/\\x1b[1A\\x1b[2KOK",
        "  secrets raw/x\\x0a\\x0aOK:\\x20no\\x20plaintext\\x20among\\x200\\x20values",
      ],
    );
  });

  it("--retiring finds the key in a resource outside --resources (events), stored in etcd", async () => {
    await etcdctlOk(conn, ["del", "--prefix", "/registry/secrets/raw/"]);
    await putBytes(rawKey("/registry/events/default/e1"), sealedUnder("old"));
    const r = await run([...flags(), "--retiring=old", "--resources=secrets"]);
    assert.equal(r.code, 1, r.out);
    assert.match(
      r.out,
      /^retiring key old: 1 value \(searched all 1 value under \/registry\/\)\n {2}events default\/e1$/m,
    );
    assert.match(r.out, /kubectl get events -A -o json \| kubectl replace -f -/);
    await etcdctlOk(conn, ["del", "--prefix", "/registry/"]);
  });
});
