import { strict as assert } from "node:assert";
import { parse } from "yaml";
import {
  orderKeys,
  renderEncryptionConfiguration,
  type EncryptionKeyMaterial,
} from "../components/encryption/render";

const secret = (n: number) => Buffer.alloc(32, n).toString("base64");
const key = (
  name: string,
  state: EncryptionKeyMaterial["state"],
  provider: EncryptionKeyMaterial["provider"] = "secretbox",
  n = 1,
): EncryptionKeyMaterial =>
  provider === "kms"
    ? { name, state, provider, endpoint: "unix:///run/kms.sock" }
    : { name, state, provider, secretBase64: secret(n) };

function providers(yaml: string): { type: string; names: string[] }[] {
  const doc = parse(yaml) as {
    resources: { providers: Record<string, { keys?: { name: string }[]; name?: string }>[] }[];
  };
  return doc.resources[0].providers.map((p) => {
    const [type] = Object.keys(p);
    const body = p[type];
    return { type, names: body.keys ? body.keys.map((k) => k.name) : body.name ? [body.name] : [] };
  });
}

describe("EncryptionConfiguration renderer", () => {
  it("renders apiserver.config.k8s.io/v1 with the configured resources", () => {
    const doc = parse(
      renderEncryptionConfiguration({
        resources: ["secrets", "configmaps"],
        keys: [key("k1", "primary")],
        identityFallback: false,
      }),
    );
    assert.equal(doc.apiVersion, "apiserver.config.k8s.io/v1");
    assert.equal(doc.kind, "EncryptionConfiguration");
    assert.deepEqual(doc.resources[0].resources, ["secrets", "configmaps"]);
    assert.equal(doc.resources[0].providers[0].secretbox.keys[0].secret, secret(1));
  });

  it("a single primary key: it alone, no identity", () => {
    const yaml = renderEncryptionConfiguration({
      resources: ["secrets"],
      keys: [key("k1", "primary")],
      identityFallback: false,
    });
    assert.deepEqual(providers(yaml), [{ type: "secretbox", names: ["k1"] }]);
    assert.ok(!yaml.includes("identity"));
  });

  it("rotation step 1 — new key staged: old primary stays first, new key second (readable, not yet writing)", () => {
    const yaml = renderEncryptionConfiguration({
      resources: ["secrets"],
      keys: [key("new", "staged", "secretbox", 2), key("old", "primary")],
      identityFallback: false,
    });
    assert.deepEqual(providers(yaml), [{ type: "secretbox", names: ["old", "new"] }]);
  });

  it("rotation step 2 — new key primary, old retired: new first, old still readable", () => {
    const yaml = renderEncryptionConfiguration({
      resources: ["secrets"],
      keys: [key("old", "retired"), key("new", "primary", "secretbox", 2)],
      identityFallback: false,
    });
    assert.deepEqual(providers(yaml), [{ type: "secretbox", names: ["new", "old"] }]);
  });

  it("orders primary, then staged, then retired; stable within a state", () => {
    const ordered = orderKeys([
      key("r1", "retired"),
      key("s1", "staged"),
      key("p", "primary"),
      key("r2", "retired"),
      key("s2", "staged"),
    ]);
    assert.deepEqual(
      ordered.map((k) => k.name),
      ["p", "s1", "s2", "r1", "r2"],
    );
  });

  it("provider migration: the primary's provider comes first, the old provider's keys after", () => {
    const yaml = renderEncryptionConfiguration({
      resources: ["secrets"],
      keys: [key("old", "retired", "aescbc"), key("new", "primary", "secretbox")],
      identityFallback: false,
    });
    assert.deepEqual(providers(yaml), [
      { type: "secretbox", names: ["new"] },
      { type: "aescbc", names: ["old"] },
    ]);
  });

  it("kms v2 primary with a retired local key", () => {
    const yaml = renderEncryptionConfiguration({
      resources: ["secrets"],
      keys: [key("local", "retired"), key("plugin", "primary", "kms")],
      identityFallback: false,
    });
    const doc = parse(yaml);
    assert.deepEqual(doc.resources[0].providers[0], {
      kms: { apiVersion: "v2", name: "plugin", endpoint: "unix:///run/kms.sock", timeout: "3s" },
    });
    assert.deepEqual(providers(yaml)[1], { type: "secretbox", names: ["local"] });
  });

  it("identity only when explicitly enabled, and always last", () => {
    const yaml = renderEncryptionConfiguration({
      resources: ["secrets"],
      keys: [key("k1", "primary"), key("k0", "retired", "aescbc")],
      identityFallback: true,
    });
    const list = providers(yaml);
    assert.equal(list[list.length - 1].type, "identity");
    assert.equal(list[0].type, "secretbox");
  });

  it("refuses zero or two primaries (the renderer is safe on its own too)", () => {
    assert.throws(
      () =>
        renderEncryptionConfiguration({
          resources: ["secrets"],
          keys: [key("a", "retired")],
          identityFallback: false,
        }),
      /exactly one primary/,
    );
    assert.throws(
      () =>
        renderEncryptionConfiguration({
          resources: ["secrets"],
          keys: [key("a", "primary"), key("b", "primary")],
          identityFallback: false,
        }),
      /exactly one primary/,
    );
  });

  it("keeps every key it is given: nothing that may still encrypt data is dropped", () => {
    const keys = [
      key("a", "primary"),
      key("b", "staged"),
      key("c", "retired"),
      key("d", "retired", "aesgcm"),
    ];
    const names = providers(
      renderEncryptionConfiguration({ resources: ["secrets"], keys, identityFallback: false }),
    ).flatMap((p) => p.names);
    assert.deepEqual(names.sort(), ["a", "b", "c", "d"]);
  });
});

describe("archived keys", () => {
  it("leave the EncryptionConfiguration (no API server reads them) but keep their order among the rest", () => {
    const yaml = renderEncryptionConfiguration({
      resources: ["secrets"],
      identityFallback: false,
      keys: [
        {
          name: "gone",
          state: "archived",
          provider: "aescbc",
          secretBase64: Buffer.alloc(32, 1).toString("base64"),
        },
        {
          name: "new",
          state: "primary",
          provider: "secretbox",
          secretBase64: Buffer.alloc(32, 2).toString("base64"),
        },
        {
          name: "old",
          state: "retired",
          provider: "secretbox",
          secretBase64: Buffer.alloc(32, 3).toString("base64"),
        },
      ],
    });
    assert.ok(!yaml.includes("gone"), yaml);
    assert.ok(!yaml.includes(Buffer.alloc(32, 1).toString("base64")), "no archived key material");
    assert.ok(yaml.indexOf("new") < yaml.indexOf("old"));
  });
});
