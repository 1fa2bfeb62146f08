import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { renderArtifacts } from "../harness/artifacts";
import { startCluster, type RunningCluster } from "../harness/cluster";
import { parseEncryptionConfiguration } from "../harness/encryptionFormat/config";
import { decryptStoredValue } from "../harness/encryptionFormat/storedValue";
import { ApiServerStorage, UnreadableObjectError } from "../harness/kubeStorage/apiServerStorage";
import { encryptionConfigFor, freshKey } from "../harness/kubeStorage/drillKeys";
import { created, decodeObject, encodeObject } from "../harness/kubeStorage/objects";
import { apiserverConnection } from "../harness/kubeStorage/rehearsalInputs";
import { judgeProbe, twoKeyStateSets, type ProbeResult } from "../harness/kubeStorage/transitionProbe";
import { runRotationDrill } from "../rehearsal/drills/rotation";
import type { DrillResult } from "../rehearsal/drills/types";
import { etcdctlOk } from "../tools/verifyEncryption/etcdctl";

const noEtcd = { etcdctl: "etcdctl", endpoints: ["https://127.0.0.1:1"], cacert: "", cert: "", key: "" };
const server = (name: string, yaml: string) =>
  new ApiServerStorage({ name, encryptionConfig: yaml, etcd: noEtcd });

describe("storage layer: what an API server writes and reads (no etcd)", () => {
  const old = freshKey("old", "aesgcm");
  const neu = freshKey("new", "secretbox");
  const keys = [old, neu];
  const onOld = encryptionConfigFor(keys, { [old.name]: "primary" }, ["secrets", "configmaps"]);
  const promoted = encryptionConfigFor(keys, { [neu.name]: "primary", [old.name]: "retired" }, ["secrets"]);
  const secret = created({ resource: "secrets", namespace: "ns", name: "db", data: { password: "hunter2" } });

  it("stores a v1 Secret as JSON (data base64, json.Encoder's trailing newline) and decodes it back", () => {
    const json = encodeObject(secret).toString();
    assert.ok(json.endsWith("}\n"));
    const doc = JSON.parse(json);
    assert.deepEqual(
      [doc.kind, doc.apiVersion, doc.type, doc.data.password, doc.metadata.namespace],
      ["Secret", "v1", "Opaque", Buffer.from("hunter2").toString("base64"), "ns"],
    );
    assert.deepEqual(decodeObject("secrets", encodeObject(secret)), secret);
    const cm = created({ resource: "configmaps", namespace: "ns", name: "c", data: { a: "b" } });
    assert.equal(JSON.parse(encodeObject(cm).toString()).data.a, "b");
    assert.throws(() => decodeObject("secrets", Buffer.from("k8s\x00\n", "latin1")), /protobuf payload/);
    assert.throws(
      () => decodeObject("configmaps", encodeObject(secret)),
      /payload is a Secret, expected ConfigMap/,
    );
  });

  it("encrypts with the first provider of the resource's entry; aesgcm authenticates the etcd key", () => {
    const s = server("apiserver-1", onOld);
    const key = s.key("secrets", "ns", "db");
    assert.equal(key, "/registry/secrets/ns/db");
    const stored = s.seal("secrets", key, encodeObject(secret));
    assert.ok(stored.toString("latin1").startsWith(`k8s:enc:aesgcm:v1:${old.name}:`));
    const config = parseEncryptionConfiguration(onOld);
    assert.equal(decryptStoredValue(config, "secrets", stored, key).provider, "aesgcm");
    assert.throws(
      () => s.open("secrets", "/registry/secrets/ns/other", stored),
      /cannot read \/registry\/secrets\/ns\/other: .*message authentication failed/,
    );
  });

  it("reads with every provider in order; an unreadable value names the key and the reason", () => {
    const written = server("apiserver-1", onOld).seal(
      "secrets",
      "/registry/secrets/ns/db",
      encodeObject(secret),
    );
    assert.deepEqual(
      server("apiserver-2", promoted).open("secrets", "/registry/secrets/ns/db", written),
      secret,
    );
    const onlyNew = encryptionConfigFor(keys, { [neu.name]: "primary" }, ["secrets"]);
    let e: unknown;
    try {
      server("apiserver-3", onlyNew).open("secrets", "/registry/secrets/ns/db", written);
    } catch (err) {
      e = err;
    }
    assert.ok(e instanceof UnreadableObjectError);
    assert.equal(e.key, "/registry/secrets/ns/db");
    assert.equal(e.server, "apiserver-3");
    assert.match(e.reason, /no matching prefix found/);
  });

  it("writes plaintext where identity is first or nothing covers the resource; refuses kms", () => {
    const s = server("apiserver-1", onOld);
    const payload = encodeObject(secret);
    const identity = `apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources: [secrets]\n    providers: [{identity: {}}]\n`;
    assert.deepEqual(server("a", identity).seal("secrets", "/registry/secrets/ns/db", payload), payload);
    const onlySecrets = encryptionConfigFor(keys, { [old.name]: "primary" }, ["secrets"]);
    const cm = server("a", onlySecrets).seal("configmaps", "/registry/configmaps/ns/c", payload);
    assert.deepEqual(cm, payload);
    const kms = identity.replace(
      "{identity: {}}",
      "{kms: {apiVersion: v2, name: vault, endpoint: unix:///tmp/k.sock}}",
    );
    assert.throws(
      () => server("a", kms).seal("secrets", "/registry/secrets/ns/db", payload),
      /kms provider "vault", which needs its KMS plugin/,
    );
    assert.ok(
      s
        .seal("configmaps", "/registry/configmaps/ns/c", payload)
        .toString("latin1")
        .startsWith("k8s:enc:aesgcm:"),
    );
  });

  it("a restart with a configuration it cannot load fails and keeps the old one", () => {
    const s = server("apiserver-1", onOld);
    assert.throws(
      () => s.restart(onOld.replace("EncryptionConfiguration", "Nope")),
      /kind: must be EncryptionConfiguration/,
    );
    assert.equal(s.encryptionConfig, onOld);
    s.restart(promoted);
    assert.equal(s.encryptionConfig, promoted);
  });
});

describe("rotation probes compared with transitions.ts (no etcd)", () => {
  it("covers the 8 sets of two keys' states with exactly one primary", () => {
    const sets = twoKeyStateSets();
    assert.equal(sets.length, 8);
    for (const s of sets) assert.equal(Object.values(s).filter((v) => v === "primary").length, 1);
  });

  const a = freshKey("a", "secretbox");
  const b = freshKey("b", "secretbox");
  const probe = (p: Partial<ProbeResult>): ProbeResult =>
    ({
      from: {},
      to: {},
      keys: { a, b },
      unreadable: [],
      problems: [],
      fleet: undefined,
      ...p,
    }) as unknown as ProbeResult;
  const unreadableUnder = (k: typeof a) => [
    { server: "apiserver-1", key: "/registry/secrets/n/x", storedAs: `secretbox/${k.name}`, reason: "r" },
  ];

  it("agreement both ways", () => {
    assert.deepEqual(judgeProbe(probe({})), { kind: "agree", unsafe: false });
    assert.deepEqual(
      judgeProbe(probe({ unreadable: unreadableUnder(b), problems: [{ key: b.name, message: "m" }] })),
      { kind: "agree", unsafe: true },
    );
  });

  it("a retired key archived: accepted, unsafe before a rewrite → gated by verify-encryption", () => {
    const p = probe({
      from: { a: "primary", b: "retired" },
      to: { a: "primary", b: "archived" },
      unreadable: unreadableUnder(b),
    });
    assert.deepEqual(judgeProbe(p), { kind: "gated", retiredKeys: [b.name] });
  });

  it("a staged key archived: refused though safe → stricter", () => {
    const p = probe({
      from: { a: "primary", b: "staged" },
      to: { a: "primary", b: "archived" },
      problems: [{ key: b.name, message: "straight to archived" }],
    });
    assert.deepEqual(judgeProbe(p), { kind: "stricter" });
  });

  it("anything else is a disagreement, explained", () => {
    const accepted = judgeProbe(
      probe({ from: { a: "primary" }, to: { b: "primary", a: "retired" }, unreadable: unreadableUnder(b) }),
    );
    assert.equal(accepted.kind, "disagree");
    assert.match(
      (accepted as { why: string }).why,
      /accepted by transitions\.ts, but 1 read\(s\) failed, e\.g\. apiserver-1 cannot read/,
    );
    const refused = judgeProbe(
      probe({
        from: { a: "primary" },
        to: { a: "primary", b: "staged" },
        problems: [{ key: b.name, message: "nope" }],
      }),
    );
    assert.match(
      (refused as { why: string }).why,
      /refused by transitions\.ts \(nope\) though every server read every object/,
    );
  });
});

// ---------------------------------------------------------------------------------------------------

describe("rotation drill on a live 3-member cluster @integration", function () {
  this.timeout(600_000);
  let tmp: string;
  let dir: string;
  let cluster: RunningCluster | undefined;
  let results: DrillResult[] = [];
  let took = 0;
  const byName = (prefix: string) => {
    const r = results.filter((x) => x.name.startsWith(prefix));
    assert.ok(
      r.length > 0,
      `no drill row starts with "${prefix}"; rows: ${results.map((x) => x.name).join(" | ")}`,
    );
    return r;
  };

  before(async function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rotation-drill-"));
    dir = path.join(tmp, "artifacts");
    const a = await renderArtifacts({ stack: "local", outDir: dir });
    cluster = await startCluster({ dir, workDir: path.join(tmp, "work"), caKeyPem: a.caKeyPem });
    const started = Date.now();
    results = await runRotationDrill({ dir, cluster, workDir: path.join(tmp, "work") });
    took = (Date.now() - started) / 1000;
    console.log(`      rotation drill: ${results.length} rows in ${took.toFixed(1)} s`);
    for (const r of results)
      console.log(`      ${r.passed ? "pass" : "FAIL"} ${r.seconds.toFixed(2).padStart(6)}  ${r.name}`);
  });
  after(async function () {
    await cluster?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("the safe order passes every step, one row per server per rolling restart", () => {
    const safe = results.filter((r) => /^rotation [0-5] |^rotation: before the rewrite/.test(r.name));
    assert.deepEqual(
      safe.filter((r) => !r.passed).map((r) => `${r.name}: ${r.detail}`),
      [],
    );
    assert.deepEqual(
      safe.map((r) => r.name),
      [
        "rotation 0 start: 3 API servers on the old key, all writing",
        ...[1, 2, 3].map(
          (i) => `rotation 1 stage new key: apiserver-${i} restarted, all keep writing, all read all`,
        ),
        ...[1, 2, 3].map(
          (i) => `rotation 2 promote new key: apiserver-${i} restarted, all keep writing, all read all`,
        ),
        "rotation: before the rewrite, verify-encryption --retiring old exits 1",
        "rotation 3 rewrite: every object rewritten while the others keep writing",
        "rotation 4 verify: verify-encryption --retiring old exits 0 (gates step 5)",
        ...[1, 2, 3].map(
          (i) => `rotation 5 archive old key: apiserver-${i} restarted, all keep writing, all read all`,
        ),
      ],
    );
    // Writes are interleaved: after apiserver-1's promotion it writes with the new key, the others with the old.
    assert.match(
      byName("rotation 2 promote new key: apiserver-1")[0].detail,
      /apiserver-1 → secretbox\/rot-new-[0-9a-f]+, .*apiserver-2 → secretbox\/rot-old-/,
    );
    assert.match(
      byName("rotation 5 archive old key: apiserver-3")[0].detail,
      /all \d+ objects readable by all 3 servers; transitions\.ts: no objection/,
    );
    assert.match(byName("rotation: before the rewrite")[0].detail, /^exit 1: \d+ value\(s\) under rot-old-/);
    assert.match(byName("rotation 4 verify")[0].detail, /^exit 0: 0 value\(s\) under rot-old-/);
  });

  it("(a) the new key made primary without staging is caught, the unreadable objects named", () => {
    const [a] = byName("rotation unsafe (a)");
    assert.ok(a.passed, a.detail);
    assert.match(
      a.detail,
      /apiserver-2 cannot read \/registry\/(secrets|configmaps)\/drill-rot-unsafe-a-[0-9a-f]+\/r2-apiserver-1 /,
    );
    assert.match(a.detail, /no matching key was found for the provided Secretbox transformer/);
    assert.match(a.detail, /4 reads failed/);
    assert.match(
      a.detail,
      /transitions\.ts refuses the step at preview: "becomes primary but no API server can read with it yet/,
    );
  });

  it("(b) the old key dropped before the rewrite is caught, the unreadable objects named", () => {
    const [b] = byName("rotation unsafe (b)");
    assert.ok(b.passed, b.detail);
    assert.match(
      b.detail,
      /apiserver-1 restarted without rot-b-old-[0-9a-f]+ cannot read \d+ objects: apiserver-1 cannot read \/registry\/.*drill-rot-unsafe-b-/,
    );
    assert.match(b.detail, /The gate would have stopped it: exit 1: \d+ value\(s\) under rot-b-old-/);
    assert.match(b.detail, /no server can read them \(data loss\)/);
  });

  it("the drill and components/encryption/transitions.ts agree on what is unsafe", () => {
    const [agree] = byName("rotation: the drill and transitions.ts agree");
    assert.ok(agree.passed, agree.detail);
    assert.match(agree.detail, /^56 transitions tried live/);
    assert.match(
      agree.detail,
      /2 accepted though unsafe before a rewrite \(a=primary,b=retired → a=primary,b=archived, a=retired,b=primary → a=archived,b=primary: /,
    );
    assert.match(
      agree.detail,
      /2 refused though nothing became unreadable \(a=primary,b=staged → a=primary,b=archived, a=staged,b=primary → a=archived,b=primary: /,
    );
  });

  it("deletes everything it wrote", async () => {
    const [clean] = byName("rotation: drill objects deleted");
    assert.ok(clean.passed, clean.detail);
    const conn = apiserverConnection(dir, cluster!.etcdctlBinary, cluster!.clientUrls());
    const left = await etcdctlOk(conn, ["get", "--prefix", "/registry/", "--keys-only", "-w", "json"]);
    assert.equal((JSON.parse(left.stdout) as { count?: number }).count ?? 0, 0);
    assert.equal(results.filter((r) => !r.passed).length, 0);
  });
});
