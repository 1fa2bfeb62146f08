/*
 * verify-encryption against an etcdctl that fails, lies or is flooded, and against object names made to
 * forge report lines (issue 19). A fake etcdctl (test/support/fakeEtcdctl.ts) plays each case; the real
 * etcd cases are in verifyEncryption.test.ts. Every case asserts what is printed never holds a value.
 */
import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import { verifyEncryptionCommand } from "../tools/commands/verify-encryption";
import { escapeBytes, quotableDiagnostic } from "../tools/verifyEncryption/displayText";
import type { ScanReport } from "../tools/verifyEncryption/scan";
import { fakeEtcdctl, terminalControlsIn, type FakeKv, type FakeMode } from "./support/fakeEtcdctl";
import { tempDirs } from "./support/tempDirs";

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await verifyEncryptionCommand(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const sealed = (keyName: string, provider = "aescbc") =>
  Buffer.concat([Buffer.from(`k8s:enc:${provider}:v1:${keyName}:`), randomBytes(48)]);
const kv = (key: string | Buffer, value: Buffer): FakeKv => ({
  key: typeof key === "string" ? Buffer.from(key) : key,
  value,
});

/** A plaintext Secret, and every form of it that must never be printed. */
function plaintextSecret(): { value: Buffer; forms: string[] } {
  const secret = `hunter2-${randomBytes(12).toString("hex")}`;
  const value = Buffer.from(
    JSON.stringify({ kind: "Secret", data: { password: Buffer.from(secret).toString("base64") } }),
  );
  return {
    value,
    forms: [
      secret,
      Buffer.from(secret).toString("base64"),
      value.toString("base64").slice(0, 24),
      value.toString("base64").slice(-24),
      value.toString("hex").slice(0, 24),
      value.toString().slice(0, 12),
    ],
  };
}

function assertNothingOf(forms: string[], text: string): void {
  for (const f of forms) assert.ok(!text.includes(f), `printed a stored value (${f.slice(0, 8)}…): ${text}`);
  assert.doesNotMatch(text, /\n\s+at .*\(.*:\d+:\d+\)/, "no stack trace");
}

describe("verify-encryption: errors never quote what etcd returned", () => {
  const tempDir = tempDirs();
  const withFake = (store: FakeKv[], mode: FakeMode) => fakeEtcdctl(tempDir("fake-etcdctl-"), store, mode);
  const secret = plaintextSecret();
  const store = () => [
    kv("/registry/secrets/ns/a", secret.value),
    kv("/registry/secrets/ns/b", sealed("old")),
    kv("/registry/secrets/ns/c", secret.value),
  ];

  it("etcdctl exits 1 after printing a page, with nothing on stderr: exit 3, the page is not quoted", async () => {
    const fake = withFake(store(), { kind: "fail-after-page" });
    const r = await run([...fake.flags, "--retiring=old"]);
    assert.equal(r.code, 3, r.err);
    assert.match(
      r.err,
      /could not scan etcd, nothing was verified: etcdctl txn failed \(exit 1\): no error output$/,
    );
    assertNothingOf(secret.forms, r.out + r.err);
  });

  it("etcdctl killed mid-page: exit 3 naming the signal, the half page is not quoted", async () => {
    const fake = withFake(store(), { kind: "killed-mid-page" });
    const r = await run(fake.flags);
    assert.equal(r.code, 3, r.err);
    assert.match(r.err, /etcdctl txn failed \(killed by SIGKILL\): no error output$/);
    assertNothingOf(secret.forms, r.out + r.err);
  });

  it("exit 0 with output that is not JSON (JSON.parse would quote it): exit 3, not quoted", async () => {
    const fake = withFake(store(), { kind: "not-json", text: `password=${secret.forms[0]}` });
    const r = await run(fake.flags);
    assert.equal(r.code, 3, r.err);
    assert.match(r.err, /etcdctl txn printed output that is not JSON \(\d+ bytes, not shown\)/);
    assertNothingOf(secret.forms, r.out + r.err);
  });

  it("stderr is quoted as its last line only: escaped, long encoded runs withheld", async () => {
    const stderr =
      `{"level":"warn","msg":"${secret.value.toString("base64")}"}\n` +
      `\x1b[2K\rError: context deadline exceeded ${secret.value.toString("base64")}\n`;
    const fake = withFake(store(), { kind: "stderr", stderr });
    const r = await run(fake.flags);
    assert.equal(r.code, 3);
    assert.match(
      r.err,
      /etcdctl txn failed \(exit 1\): \\x1b\[2K\\x0dError: context deadline exceeded \[\d+ chars withheld\]$/,
    );
    assert.deepEqual(terminalControlsIn(r.err), [], "no control character reaches the terminal");
    assertNothingOf(secret.forms, r.out + r.err);
  });

  it("quotableDiagnostic keeps etcdctl's ordinary errors readable", () => {
    assert.equal(
      quotableDiagnostic(
        "{...}\nError: open /etc/kubernetes/pki/etcd/apiserver-etcd-client.crt: no such file or directory\n",
      ),
      "Error: open /etc/kubernetes/pki/etcd/apiserver-etcd-client.crt: no such file or directory",
    );
    assert.equal(quotableDiagnostic("x".repeat(1000)).length, 301);
  });
});

describe("verify-encryption: no false pass (the gate for dropping a key)", () => {
  const tempDir = tempDirs();
  const withFake = (store: FakeKv[], mode: FakeMode = { kind: "store" }) =>
    fakeEtcdctl(tempDir("fake-etcdctl-"), store, mode);
  /** Keys that are not valid UTF-8, one with a NUL: around a page boundary of 2. */
  const rawKeyStore = () => [
    kv("/registry/secrets/raw/a", sealed("new")),
    kv(Buffer.from("/registry/secrets/raw/k\x80", "latin1"), sealed("new")),
    ...Array.from({ length: 15 }, (_, i) =>
      kv(Buffer.from(`/registry/secrets/raw/k${String.fromCharCode(0x81 + i)}`, "latin1"), sealed("old")),
    ),
    kv(Buffer.from("/registry/secrets/raw/n\x00ul", "latin1"), sealed("old")),
    kv(Buffer.from("/registry/secrets/raw/z\xff\xfe", "latin1"), sealed("old")),
  ];

  it("pages on raw key bytes: every value under the retiring key is found across page boundaries", async () => {
    const fake = withFake(rawKeyStore());
    for (const pageSize of ["2", "500"]) {
      const r = await run([...fake.flags, "--retiring=old", `--page-size=${pageSize}`, "--json"]);
      assert.equal(r.code, 1, `page size ${pageSize}: ${r.err}`);
      const rep = JSON.parse(r.out) as ScanReport;
      assert.equal(rep.retiring?.count, 17, `page size ${pageSize}`);
      assert.equal(rep.scanned, 19);
      assert.ok(rep.retiring?.objects.some((o) => o.name === "n\\x00ul"));
      assert.ok(rep.retiring?.objects.some((o) => o.name === "k\\x81"));
    }
  });

  it("a page that says no more while keys are left fails closed (exit 3), never 'encrypts nothing'", async () => {
    const fake = withFake(rawKeyStore(), { kind: "drop-more" });
    const r = await run([...fake.flags, "--retiring=old", "--page-size=2"]);
    assert.equal(r.code, 3, r.out);
    assert.match(
      r.err,
      /page 1 under \/registry\/ cannot be trusted \("more" is false with 19 keys left and 2 returned\)/,
    );
    assert.doesNotMatch(r.out, /encrypts none/);
  });

  it("a page whose count disagrees with the one before fails closed (exit 3)", async () => {
    const fake = withFake(rawKeyStore(), { kind: "count-drift", extra: 3 });
    const r = await run([...fake.flags, "--retiring=old", "--page-size=4"]);
    assert.equal(r.code, 3, r.out);
    assert.match(
      r.err,
      /page 2 under \/registry\/ cannot be trusted \(18 keys left in the range where the previous page left 15\)/,
    );
  });

  it("--retiring searches every resource, not only --resources", async () => {
    const fake = withFake([
      kv("/registry/secrets/ns/s", sealed("new")),
      kv("/registry/configmaps/ns/c", sealed("new")),
      kv("/registry/events/ns/e", sealed("old")),
      kv("/registry/example.com/widgets/ns/w", sealed("old", "secretbox")),
    ]);
    const r = await run([...fake.flags, "--retiring=old"]);
    assert.equal(r.code, 1, r.out);
    assert.match(
      r.out,
      /retiring key old: 2 values \(searched all 4 values under \/registry\/\)\n {2}events ns\/e\n {2}widgets\.example\.com ns\/w/,
    );
    assert.match(r.out, /^FAIL: retiring key old still encrypts 2 values/m);
    const narrow = await run([...fake.flags, "--retiring=new", "--resources=secrets"]);
    assert.equal(narrow.code, 1, "new still encrypts the configmap outside --resources");
  });

  it("a value outside --resources in a k8s:enc: form it cannot read fails the retiring gate", async () => {
    const fake = withFake([
      kv("/registry/secrets/ns/s", sealed("new")),
      kv("/registry/widgets/ns/w", Buffer.from(`k8s:enc:aescbc:v1:${"o".repeat(300)}:xyz`)),
    ]);
    const r = await run([...fake.flags, "--retiring=old"]);
    assert.equal(r.code, 1, r.out);
    assert.match(
      r.out,
      /1 value outside secrets, configmaps starts with k8s:enc: in no form verify-encryption reads: retiring key old may encrypt them/,
    );
    assert.match(r.out, /values it may encrypt \(k8s:enc: in no known form\): 1\n {2}widgets ns\/w/);
  });

  it("a retiring name no stored prefix can carry is refused (exit 2), never searched for", async () => {
    const fake = withFake([]);
    for (const name of ["old\x1b[0m", "o".repeat(256), "old\u00e9"]) {
      const r = await run([...fake.flags, `--retiring=${name}`]);
      assert.equal(r.code, 2, JSON.stringify(name));
      assert.match(r.err, /--retiring: .* is not a key name \(1-255 printable ASCII characters/);
    }
    assert.equal(fake.calls(), 0);
  });
});

describe("verify-encryption: memory stays bounded", function () {
  this.timeout(120_000);
  const tempDir = tempDirs();

  it("etcdctl that never stops printing: exit 4 with its own message, no crash", async () => {
    const fake = fakeEtcdctl(tempDir("fake-etcdctl-"), [], { kind: "endless" });
    const r = await run([...fake.flags, "--page-size=2"]);
    assert.equal(r.code, 4, r.err);
    assert.match(
      r.err,
      /^verify-encryption: a single key under \/registry\/secrets\/ returns more than 64 MiB \(the memory bound of one page\); nothing was verified: raise --max-page-mib/,
    );
    assert.equal(fake.calls(), 2, "one try at 2 keys, one at 1");
  });

  it("a page too big for the bound is re-read in halves, with the same counts", async () => {
    const big = () => Buffer.concat([Buffer.from("k8s:enc:secretbox:v1:old:"), randomBytes(150_000)]);
    const store = Array.from({ length: 8 }, (_, i) =>
      kv(`/registry/secrets/ns/s${String(i).padStart(2, "0")}`, big()),
    );
    const fake = fakeEtcdctl(tempDir("fake-etcdctl-"), store);
    const r = await run([...fake.flags, "--max-page-mib=1", "--page-size=8", "--retiring=old", "--json"]);
    assert.equal(r.code, 1, r.err);
    const rep = JSON.parse(r.out) as ScanReport;
    assert.equal(rep.retiring?.count, 8);
    assert.equal(rep.pages, 2, "8 values of 200 KiB in base64: halved once to 4 a page");
    assert.equal(fake.calls(), 3, "one try at 8 (over 1 MiB), two pages of 4");
    const one = await run([...fake.flags, "--max-page-mib=1", "--page-size=2"]);
    assert.equal(one.code, 0, one.err);
  });

  it("one value bigger than --max-page-mib: exit 4", async () => {
    const store = [
      kv(
        "/registry/secrets/ns/huge",
        Buffer.concat([Buffer.from("k8s:enc:aescbc:v1:k:"), randomBytes(900_000)]),
      ),
    ];
    const fake = fakeEtcdctl(tempDir("fake-etcdctl-"), store);
    const r = await run([...fake.flags, "--max-page-mib=1", "--page-size=2"]);
    assert.equal(r.code, 4, r.err);
    assert.match(r.err, /returns more than 1 MiB/);
  });
});

describe("verify-encryption: object names cannot forge report lines", () => {
  const tempDir = tempDirs();

  it("escapeBytes: printable ASCII as is, everything else (and the backslash) as \\xHH", () => {
    assert.equal(escapeBytes(Buffer.from("db-password.v1")), "db-password.v1");
    assert.equal(
      escapeBytes(Buffer.from("a b\\c\n\x1b[0m\r\x7f", "latin1")),
      "a\\x20b\\x5cc\\x0a\\x1b[0m\\x0d\\x7f",
    );
    assert.equal(escapeBytes(Buffer.from("\u202egnp.exe")), "\\xe2\\x80\\xaegnp.exe");
  });

  it("newlines, carriage returns and ANSI escapes in names stay on their own report line", async () => {
    const forged = [
      "x\n\nOK: no plaintext among 0 values",
      "y\r\x1b[2KOK: no plaintext among 3 values",
      "\x1b[1A\x1b[2KOK: retiring key old encrypts nothing",
      "z\u2028OK",
    ];
    const fake = fakeEtcdctl(tempDir("fake-etcdctl-"), [
      ...forged.map((name) => kv(`/registry/secrets/ns/${name}`, Buffer.from("{}"))),
      kv("/registry/secrets/ns\x1b[31m/red", sealed("old")),
    ]);
    const r = await run([...fake.flags, "--retiring=old"]);
    assert.equal(r.code, 1);
    assert.deepEqual(terminalControlsIn(r.out), [], "no control character in the report");
    const lines = r.out.split("\n");
    assert.deepEqual(
      lines.filter((l) => /OK/.test(l) && !/^ {2}secrets /.test(l)),
      [],
      "no forged line",
    );
    assert.match(r.out, /^ {2}secrets ns\/x\\x0a\\x0aOK:\\x20no\\x20plaintext\\x20among\\x200\\x20values$/m);
    assert.match(r.out, /^ {2}secrets ns\\x1b\[31m\/red$/m);
    assert.match(r.out, /^FAIL: 4 values stored in plaintext; retiring key old still encrypts 1 value/m);
    const json = await run([...fake.flags, "--json"]);
    const rep = JSON.parse(json.out) as ScanReport;
    assert.ok(
      rep.plaintext.every((p) => /^[\x21-\x7e]+$/.test(p.name)),
      "escaped in --json too",
    );
  });
});
