import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Etcd3 } from "etcd3";
import { classifyStoredValue, storedValueLabel } from "../components/encryption/classifyStoredValue";
import { renderArtifacts } from "../harness/artifacts";
import { startCluster, type RunningCluster } from "../harness/cluster";
import { apiserverEtcdConnection, connectionFlags } from "../harness/kubeApiserver";
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

/*
 * Stored values as kube-apiserver writes them: `k8s:enc:<provider>:v1:<key>:` and the transformer's
 * output. The bodies are upstream's recorded test vectors (the classifier reads only the prefix; the
 * rehearsal's drills check it against values the real kube-apiserver wrote):
 *  - aesgcm: kubernetes aes_test.go TestGCMLegacyDataCompatibility, "recorded output from NewGCMTransformer";
 *  - secretbox: golang.org/x/crypto nacl/secretbox TestSecretBox (nonce 24×0x02 ‖ the C NaCl output);
 *  - aescbc: the same shape aes.go writes, IV ‖ one AES block.
 */
const upstreamBodies = {
  aesgcm: Buffer.from(
    "9f27c8fcea8a58c467d8e437dbf2d85955f9b4bd912f4ef967d788a0cb07797dac0a3f0a0845605ca85ac8562b4ae1",
    "hex",
  ),
  secretbox: Buffer.concat([
    Buffer.alloc(24, 2),
    Buffer.from(
      "8442bc313f4626f1359e3b50122b6ce6fe66ddfe7d39d14e637eb4fd5b45beadab55198df6ab5368439792a23c87db70" +
        "acb6156dc5ef957ac04f6276cf6093b84be77ff0849cc33e34b7254d5a8f65ad",
      "hex",
    ),
  ]),
  aescbc: Buffer.concat([Buffer.from("000102030405060708090a0b0c0d0e0f", "hex"), randomBytes(16)]),
};
const storedPrefixOf = (provider: string, keyName: string) => `k8s:enc:${provider}:v1:${keyName}:`;
/** A value as kube-apiserver stores it under `provider`/`keyName`. */
const sealed = (provider: keyof typeof upstreamBodies, keyName: string) =>
  Buffer.concat([Buffer.from(storedPrefixOf(provider, keyName)), upstreamBodies[provider]]);

describe("stored value classification (components/encryption/classifyStoredValue)", () => {
  for (const provider of ["aescbc", "aesgcm", "secretbox"] as const)
    it(`reads ${provider} values as kube-apiserver writes them (k8s:enc:${provider}:v1:<key>: + upstream's vector)`, () => {
      const c = classifyStoredValue(sealed(provider, "key-2026-11"));
      assert.deepEqual(c, { encrypted: true, provider, version: "v1", keyName: "key-2026-11" });
      assert.equal(storedValueLabel(c), `${provider}/key-2026-11`);
    });

  for (const apiVersion of ["v1", "v2"] as const)
    it(`reads kms ${apiVersion} envelopes (k8s:enc:kms:${apiVersion}:<name>:)`, () => {
      const v = Buffer.concat([Buffer.from(`k8s:enc:kms:${apiVersion}:vault:`), randomBytes(80)]);
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
  /** Every plaintext and stored value written: no output may contain any of them. */
  const secrets: string[] = [];
  const ns = `verify-${randomBytes(3).toString("hex")}`;

  before(async function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "verify-live-"));
    dir = path.join(tmp, "artifacts");
    const a = await renderArtifacts({ stack: "local", outDir: dir });
    cluster = await startCluster({ dir, workDir: path.join(tmp, "work"), caKeyPem: a.caKeyPem });
    conn = apiserverEtcdConnection(dir, cluster.etcdctlBinary, cluster.clientUrls());
  });
  after(async function () {
    await cluster?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const flags = () => connectionFlags(conn);
  /*
   * verify-encryption reads only the prefix kube-apiserver writes before the ciphertext, so these values are
   * that prefix and random bytes (the rehearsal's drills scan what the real kube-apiserver wrote).
   */
  const key = (label: string) => `${label}-${randomBytes(4).toString("hex")}`;
  async function putRaw(etcdKey: string, value: Buffer): Promise<void> {
    secrets.push(value.toString("base64"), value.toString("hex"));
    await etcdctlOk(conn, ["put", etcdKey], { stdin: value });
  }
  const putSealed = (resource: string, name: string, provider: string, keyName: string) =>
    putRaw(
      `/registry/${resource}/${ns}/${name}`,
      Buffer.concat([Buffer.from(storedPrefixOf(provider, keyName)), randomBytes(64)]),
    );
  const assertNoValue = (text: string) => {
    for (const s of secrets) assert.ok(!text.includes(s), `output holds a stored value (${s.slice(0, 6)}…)`);
  };

  const gcmKey = key("gcm");
  const cbcKey = key("cbc");

  it("counts every provider and key, and names every plaintext entry (exit 1)", async () => {
    for (let i = 0; i < 5; i++) await putSealed("secrets", `stack-${i}`, "secretbox", "key-2026-11");
    for (let i = 0; i < 3; i++) await putSealed("configmaps", `stack-cm-${i}`, "secretbox", "key-2026-11");
    for (let i = 0; i < 2; i++) await putSealed("secrets", `gcm-${i}`, "aesgcm", gcmKey);
    for (let i = 0; i < 4; i++) await putSealed("secrets", `cbc-${i}`, "aescbc", cbcKey);
    await putRaw(
      `/registry/secrets/${ns}/kms-1`,
      Buffer.concat([Buffer.from("k8s:enc:kms:v2:vault:"), randomBytes(60)]),
    );
    const value = `p-${randomBytes(8).toString("hex")}`;
    secrets.push(value, Buffer.from(value).toString("base64"));
    const plainJson = {
      kind: "Secret",
      apiVersion: "v1",
      metadata: { name: "plain-json", namespace: ns },
      data: { value: Buffer.from(value).toString("base64") },
    };
    await putRaw(`/registry/secrets/${ns}/plain-json`, Buffer.from(`${JSON.stringify(plainJson)}\n`));
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
      [`secrets aesgcm/${gcmKey}`]: 2,
      [`secrets aescbc/${cbcKey}`]: 4,
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

  it("--retiring exits 1 while the key encrypts anything (naming the objects), 0 once nothing is under it", async () => {
    const busy = await run([...flags(), `--retiring=${cbcKey}`]);
    assert.equal(busy.code, 1);
    assert.match(
      busy.out,
      new RegExp(
        `retiring key ${cbcKey}: 4 values \\(searched all 15 values under /registry/\\)\\n(  secrets ${ns}/cbc-\\d\\n){4}`,
      ),
    );
    assert.match(busy.out, /FAIL: retiring key .* still encrypts 4 values: rewrite every object/);
    // What a rewrite leaves: the same objects, stored under the new key.
    for (let i = 0; i < 4; i++) await putSealed("secrets", `cbc-${i}`, "aesgcm", gcmKey);
    const free = await run([...flags(), `--retiring=${cbcKey}`, "--json"]);
    assert.equal(free.code, 0, free.out);
    assert.deepEqual((JSON.parse(free.out) as ScanReport).retiring, {
      name: cbcKey,
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
    const paged = key("paged");
    for (let i = 0; i < 23; i++)
      await putSealed("configmaps", `paged-${String(i).padStart(2, "0")}`, "secretbox", paged);
    const whole = JSON.parse((await run([...flags(), "--json"])).out) as ScanReport;
    const pages = JSON.parse((await run([...flags(), "--json", "--page-size=4"])).out) as ScanReport;
    assert.equal(whole.pages, 2, "one page per resource at the default size");
    assert.ok(
      pages.pages >= Math.ceil(whole.scanned / 4),
      `${pages.pages} pages of 4 for ${whole.scanned} values`,
    );
    assert.equal(pages.scanned, whole.scanned);
    assert.deepEqual(pages.counts, whole.counts);
    assert.equal(pages.revision, whole.revision, "nothing was written between the two scans");
  });

  it("scans 10,000 Secrets in pages of 500 (measured)", async function () {
    const scale = key("scale");
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
          Array.from({ length: 200 }, (_, j) =>
            client
              .put(`/registry/secrets/${scaleNs}/s-${i + j}`)
              .value(Buffer.concat([Buffer.from(storedPrefixOf("secretbox", scale)), randomBytes(200)])),
          ),
        );
      const loaded = (Date.now() - started) / 1000;
      const r = await run([...flags(), "--resources=secrets", "--json", `--retiring=${scale}`]);
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
    await etcdctlOk(conn, ["del", "--prefix", "/registry/"]); // only what this test stores is counted
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
