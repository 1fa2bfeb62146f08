import { strict as assert } from "node:assert";
import { ConfigError, settingsFromStackConfig, validateSettings } from "../components/config";
import { assertThrowsConfigError } from "./support/configErrors";
import { readStackConfig, stackNames, toPulumiConfig } from "./support/stackFiles";

const good = {
  "secure-etcd:clusterName": "payments",
  "secure-etcd:etcdVersion": "3.5.16",
  "secure-etcd:members": [
    { name: "cp-1", ip: "10.0.1.10" },
    { name: "cp-2", ip: "10.0.2.10" },
    { name: "cp-3", ip: "10.0.3.10" },
  ],
} as Record<string, unknown>;

function load(overrides: Record<string, unknown>, stack = "dev") {
  const raw = { ...good, ...overrides };
  for (const [k, v] of Object.entries(raw)) if (v === undefined) delete raw[k];
  return settingsFromStackConfig(toPulumiConfig(raw), stack);
}

function expectProblem(overrides: Record<string, unknown>, key: string, ...fragments: string[]): void {
  assertThrowsConfigError(() => load(overrides), {
    path: key,
    message: fragments.map((f) => new RegExp(f.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))),
  });
}

describe("stack config", () => {
  for (const stack of stackNames) {
    it(`stacks/Pulumi.${stack}.yaml is valid`, () => {
      const s = settingsFromStackConfig(readStackConfig(stack), stack);
      assert.equal(s.environment, stack);
      assert.ok(s.members.length % 2 === 1);
      assert.equal(s.encryption.keys.filter((k) => k.state === "primary").length, 1);
    });
  }

  it("stack files differ in the settings environments are promoted across", () => {
    const all = stackNames.map((n) => settingsFromStackConfig(readStackConfig(n), n));
    const distinct = (f: (s: (typeof all)[number]) => unknown) =>
      new Set(all.map((s) => JSON.stringify(f(s)))).size;
    assert.ok(distinct((s) => s.members.length) >= 3, "member counts");
    assert.ok(distinct((s) => s.keyAlgorithm) >= 3, "key algorithms");
    assert.ok(distinct((s) => s.leafValidityHours) >= 3, "validity");
    assert.ok(distinct((s) => s.encryption.keys[0].provider) >= 2, "providers");
  });

  it("fills secure defaults", () => {
    const s = load({});
    assert.equal(s.keyAlgorithm, "ECDSA-P256");
    assert.equal(s.caValidityHours, 87600);
    assert.equal(s.leafValidityHours, 8760);
    assert.equal(s.earlyRenewalHours, 720);
    assert.equal(s.encryption.provider, "secretbox");
    assert.deepEqual(s.encryption.resources, ["secrets", "configmaps"]);
    assert.equal(s.encryption.identityFallback, false);
    assert.equal(s.protectEncryptionKeys, true);
    assert.equal(s.etcdImage, "registry.k8s.io/etcd:3.5.16-0");
    assert.equal(s.environment, "dev", "environment defaults to the stack name");
  });

  it("accepts numbers given as strings, as Pulumi passes them", () => {
    assert.equal(load({ "secure-etcd:leafValidityHours": "4380" }).leafValidityHours, 4380);
  });

  it("reports every problem at once", () => {
    try {
      load({ "secure-etcd:keyAlgorithm": "DSA", "secure-etcd:clusterName": "Bad_Name" });
      assert.fail("should throw");
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(e.problems.map((p) => p.path).sort(), [
        "secure-etcd:clusterName",
        "secure-etcd:keyAlgorithm",
      ]);
    }
  });

  describe("rejects bad values with the key, the value and what is allowed", () => {
    const m = (members: unknown[]) => ({ "secure-etcd:members": members });
    const enc = (e: unknown) => ({ "secure-etcd:encryption": e });
    const cases: [string, Record<string, unknown>, string, ...string[]][] = [
      [
        "missing clusterName",
        { "secure-etcd:clusterName": undefined },
        "secure-etcd:clusterName",
        "required",
      ],
      [
        "clusterName not a DNS label",
        { "secure-etcd:clusterName": "Payments_Prod" },
        "secure-etcd:clusterName",
        '"Payments_Prod"',
      ],
      ["no members", m([]), "secure-etcd:members", "at least one"],
      [
        "even member count",
        m([
          { name: "a", ip: "10.0.0.1" },
          { name: "b", ip: "10.0.0.2" },
        ]),
        "secure-etcd:members",
        "2 members",
        "odd",
      ],
      [
        "bad IPv4",
        m([{ name: "a", ip: "10.0.0.300" }]),
        "secure-etcd:members[0].ip",
        '"10.0.0.300"',
        "IPv4 or IPv6",
      ],
      [
        "hostname as IP",
        m([{ name: "a", ip: "cp-1.internal" }]),
        "secure-etcd:members[0].ip",
        '"cp-1.internal"',
      ],
      [
        "duplicate member names",
        m([
          { name: "a", ip: "10.0.0.1" },
          { name: "a", ip: "10.0.0.2" },
          { name: "c", ip: "10.0.0.3" },
        ]),
        "secure-etcd:members[1].name",
        '"a"',
        "unique",
      ],
      [
        "duplicate member IPs",
        m([
          { name: "a", ip: "10.0.0.1" },
          { name: "b", ip: "10.0.0.1" },
          { name: "c", ip: "10.0.0.3" },
        ]),
        "secure-etcd:members[1].ip",
        '"10.0.0.1"',
      ],
      ["bad member name", m([{ name: "CP 1", ip: "10.0.0.1" }]), "secure-etcd:members[0].name", '"CP 1"'],
      [
        "bad DNS name",
        m([{ name: "a", ip: "10.0.0.1", dnsNames: ["bad name"] }]),
        "secure-etcd:members[0].dnsNames[0]",
        '"bad name"',
      ],
      [
        "unknown member field",
        m([{ name: "a", ip: "10.0.0.1", address: "x" }]),
        "secure-etcd:members[0]",
        '"address"',
      ],
      [
        "unparsable etcd version",
        { "secure-etcd:etcdVersion": "latest" },
        "secure-etcd:etcdVersion",
        '"latest"',
      ],
      [
        "unsupported etcd version",
        { "secure-etcd:etcdVersion": "3.3.27" },
        "secure-etcd:etcdVersion",
        "3.4.0",
      ],
      [
        "unknown key algorithm",
        { "secure-etcd:keyAlgorithm": "ECDSA-P521" },
        "secure-etcd:keyAlgorithm",
        '"ECDSA-P521"',
        "RSA-2048",
      ],
      [
        "non-numeric validity",
        { "secure-etcd:leafValidityHours": "one year" },
        "secure-etcd:leafValidityHours",
        '"one year"',
      ],
      [
        "zero validity",
        { "secure-etcd:caValidityHours": 0 },
        "secure-etcd:caValidityHours",
        "0",
        "from 1 to 876000",
      ],
      [
        "renewal window >= validity",
        { "secure-etcd:leafValidityHours": 720, "secure-etcd:earlyRenewalHours": 720 },
        "secure-etcd:earlyRenewalHours",
        "720",
        "less than",
      ],
      [
        "leaf outlives CA",
        { "secure-etcd:caValidityHours": 8000, "secure-etcd:leafValidityHours": 8760 },
        "secure-etcd:leafValidityHours",
        "caValidityHours",
      ],
      [
        "unknown provider",
        enc({ provider: "aes256" }),
        "secure-etcd:encryption.provider",
        '"aes256"',
        "secretbox",
      ],
      [
        "identity as provider",
        enc({ provider: "identity" }),
        "secure-etcd:encryption.provider",
        '"identity"',
      ],
      [
        "zero primary keys",
        enc({ keys: [{ name: "k1", state: "retired" }] }),
        "secure-etcd:encryption.keys",
        "no key",
        "primary",
      ],
      [
        "two primary keys",
        enc({
          keys: [
            { name: "k1", state: "primary" },
            { name: "k2", state: "primary" },
          ],
        }),
        "secure-etcd:encryption.keys",
        '"k1"',
        '"k2"',
        "exactly one",
      ],
      ["no keys at all", enc({ keys: [] }), "secure-etcd:encryption.keys", "at least one"],
      [
        "unknown key state",
        enc({ keys: [{ name: "k1", state: "active" }] }),
        "secure-etcd:encryption.keys[0].state",
        '"active"',
        "staged",
      ],
      [
        "duplicate key names",
        enc({
          keys: [
            { name: "k1", state: "primary" },
            { name: "k1", state: "retired" },
          ],
        }),
        "secure-etcd:encryption.keys[1].name",
        '"k1"',
      ],
      [
        "colon in key name",
        enc({ keys: [{ name: "k:1", state: "primary" }] }),
        "secure-etcd:encryption.keys[0].name",
        '"k:1"',
      ],
      [
        "kms key without endpoint",
        enc({ provider: "kms", keys: [{ name: "k1", state: "primary" }] }),
        "secure-etcd:encryption.keys[0].endpoint",
        "required",
      ],
      [
        "kms endpoint not a unix socket",
        enc({ provider: "kms", keys: [{ name: "k1", state: "primary", endpoint: "http://kms:80" }] }),
        "secure-etcd:encryption.keys[0].endpoint",
        '"http://kms:80"',
        "unix:///",
      ],
      [
        "endpoint on a secretbox key",
        enc({ keys: [{ name: "k1", state: "primary", endpoint: "unix:///x.sock" }] }),
        "secure-etcd:encryption.keys[0]",
        "secretbox",
      ],
      ["no resources", enc({ resources: [] }), "secure-etcd:encryption.resources", "at least one"],
      [
        "identityFallback not a boolean",
        enc({ identityFallback: "yes" }),
        "secure-etcd:encryption.identityFallback",
        '"yes"',
      ],
      [
        "CBC cipher suite",
        { "secure-etcd:tls": { cipherSuites: ["TLS_RSA_WITH_AES_128_CBC_SHA"] } },
        "secure-etcd:tls.cipherSuites[0]",
        '"TLS_RSA_WITH_AES_128_CBC_SHA"',
        "AEAD",
      ],
      [
        "TLS1.3 on etcd 3.4",
        { "secure-etcd:etcdVersion": "3.4.23", "secure-etcd:tls": { minVersion: "TLS1.3" } },
        "secure-etcd:tls.minVersion",
        "3.5.8",
      ],
      [
        "relative path",
        { "secure-etcd:paths": { dataDir: "var/lib/etcd" } },
        "secure-etcd:paths.dataDir",
        '"var/lib/etcd"',
        "absolute",
      ],
      [
        "backup without defaults for the environment",
        { "secure-etcd:environment": "qa" },
        "secure-etcd:backup.schedule",
        '"qa"',
        "dev, staging, prod",
      ],
      [
        "backup: cold transition after expiry",
        { "secure-etcd:backup": { retentionDays: 30, transitionToColdAfterDays: 30 } },
        "secure-etcd:backup.transitionToColdAfterDays",
        "less than",
      ],
      [
        "backup: bad Object Lock mode",
        { "secure-etcd:backup": { objectLock: { mode: "STRICT", days: 7 } } },
        "secure-etcd:backup.objectLock.mode",
        '"STRICT"',
        "COMPLIANCE",
      ],
      [
        "backup: bad bucket name",
        { "secure-etcd:backup": { bucketName: "My_Bucket" } },
        "secure-etcd:backup.bucketName",
        '"My_Bucket"',
      ],
      [
        "backup: access logs into the snapshot bucket",
        { "secure-etcd:backup": { bucketName: "snaps-1", accessLogging: { targetBucket: "snaps-1" } } },
        "secure-etcd:backup.accessLogging.targetBucket",
        "itself",
      ],
      [
        "backup: KMS deletion window out of range",
        { "secure-etcd:backup": { kmsKeyDeletionWindowDays: 3 } },
        "secure-etcd:backup.kmsKeyDeletionWindowDays",
        "7 to 30",
      ],
      ["typo in a config key", { "secure-etcd:member": [] }, "secure-etcd:", '"member"'],
    ];
    for (const [title, overrides, key, ...fragments] of cases) {
      it(`${title} → ${key}`, () => expectProblem(overrides, key, ...fragments));
    }
  });

  it("the component validates its args the same way, naming the arg", () => {
    assert.throws(
      () =>
        validateSettings(
          {
            clusterName: "x",
            environment: "dev",
            etcdVersion: "3.5.16",
            members: [{ name: "a", ip: "1.2.3" }],
          },
          "",
          "args",
        ),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.problems.some((p) => p.path === "members[0].ip" && p.message.includes('"1.2.3"')),
    );
  });
});

describe("archived encryption keys", () => {
  const keys = (k: Record<string, unknown>) => ({
    "secure-etcd:encryption": {
      keys: [
        { name: "k2", state: "primary" },
        { name: "k1", ...k },
      ],
    },
  });
  it("need the day they were archived", () =>
    expectProblem(keys({ state: "archived" }), "secure-etcd:encryption.keys[1].archivedOn", "required"));
  it("archivedOn only on archived keys", () =>
    expectProblem(
      keys({ state: "retired", archivedOn: "2026-11-01" }),
      "secure-etcd:encryption.keys[1].archivedOn",
      "only applies",
    ));
  it("archivedOn is a date", () =>
    expectProblem(
      keys({ state: "archived", archivedOn: "last week" }),
      "secure-etcd:encryption.keys[1].archivedOn",
      '"last week"',
    ));
  it("an archived key with its date is accepted", () => {
    const s = load(keys({ state: "archived", archivedOn: "2026-11-01" }));
    assert.equal(s.encryption.keys[1].state, "archived");
  });
});
