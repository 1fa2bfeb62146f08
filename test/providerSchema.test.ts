import { strict as assert } from "node:assert";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import {
  Analyzer,
  type AnalyzeResult,
  type PropertyDefinition,
} from "@pulumi/pulumi/provider/experimental/analyzer";
import * as ts from "typescript";
import {
  encryptionProviders,
  keyAlgorithms,
  keyStates,
  minTlsVersions,
  objectLockModes,
  settingsSchema,
} from "../components";
import { coldStorageClasses } from "../components/backup/defaults";
import { repoRoot } from "../harness/stackFiles";
import { SecureEtcd } from "../provider/secureEtcd";
import { RecordingMocks, valueOf } from "./support/recordingMocks";
import * as fs from "node:fs";

/*
 * What other languages get: the schema the SDK's own analyzer (what `pulumi package add` runs) infers from
 * provider/, and the provider's component under mocks (secrets stay secret: the schema cannot say so).
 */

const providerDir = path.join(repoRoot, "provider");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const providerPackage = require(path.join(providerDir, "package.json")) as Record<string, unknown>;

const outputs = [
  "caCertPem",
  "caValidityEndTime",
  "members",
  "clients",
  "certificateExpiry",
  "encryptionConfiguration",
  "encryptionKeyStates",
  "encryptionProviders",
  "environment",
  "backupEnabled",
  "etcdManifests",
  "etcdEndpoints",
  "peerUrls",
  "apiserverFlags",
  "kubeApiserverPatch",
  "kubeadmClusterConfiguration",
  "kubeadmPatches",
  "nodeBundles",
  "nodeUserData",
  "offlineNodeCloudInit",
  "nodeInstanceProfileNames",
  "nodeRoleArns",
  "nodeSecretArns",
  "secretsKmsKeyArn",
  "snapshotBucketName",
  "snapshotJobManifests",
];

describe("the component provider's schema, as the SDK's analyzer infers it from provider/", function () {
  this.timeout(180_000);
  let schema: AnalyzeResult;
  const type = (name: string) => {
    const t = schema.typeDefinitions[name];
    assert.ok(t, `no type ${name}; have ${Object.keys(schema.typeDefinitions).join(", ")}`);
    return t;
  };
  const ref = (p: PropertyDefinition) =>
    "$ref" in p ? p.$ref.replace("#/types/secure-etcd:index:", "") : "";

  before(() => {
    schema = new Analyzer(providerDir, "secure-etcd", providerPackage, new Set(["SecureEtcd"])).analyze();
  });

  it("every arg of the config schema (and the previous deployment's keys and etcd version) is an input with a description; all plain", () => {
    const inputs = schema.components.SecureEtcd.inputs;
    const expected = [
      ...Object.keys(settingsSchema.shape),
      "previousEncryptionKeys",
      "previousEtcdVersion",
    ].sort();
    assert.deepEqual(Object.keys(inputs).sort(), expected);
    for (const [name, p] of Object.entries(inputs)) {
      assert.ok(p.description, `${name} has a description`);
      assert.equal(p.plain, true, `${name} decides the graph or is known config: plain`);
    }
    for (const required of ["clusterName", "environment", "members", "etcdVersion"])
      assert.notEqual(inputs[required].optional, true, `${required} is required`);
  });

  it("a member's ip and dnsNames are Inputs, its name plain", () => {
    const member = type("EtcdMember").properties!;
    assert.equal(member.name.plain, true);
    assert.equal(member.ip.plain, undefined, "ip is an Input");
    assert.equal((member.ip as { type: string }).type, "string");
    assert.equal(member.dnsNames.plain, undefined, "dnsNames is an Input");
    assert.equal(member.dnsNames.optional, true);
    for (const [name, p] of Object.entries(member)) assert.ok(p.description, `members[].${name} described`);
  });

  it("every nested arg type is described field by field; every field but the members' Inputs is plain", () => {
    for (const t of Object.values(schema.typeDefinitions).filter(
      (t) => t.properties && !["MemberCertificates", "ClientCertificate"].includes(t.name),
    ))
      for (const [name, p] of Object.entries(t.properties!)) {
        assert.ok(p.description, `${t.name}.${name} has a description`);
        if (t.name !== "EtcdMember" && t.name !== "KeyStateRecord")
          assert.equal(p.plain, true, `${t.name}.${name} is plain`);
      }
  });

  it("the choices are schema enums with the component's values", () => {
    const values = (name: string) => type(name).enum!.map((e) => e.value);
    assert.deepEqual(values("KeyState"), [...keyStates]);
    assert.deepEqual(values("KeyAlgorithm"), [...keyAlgorithms]);
    assert.deepEqual(values("EncryptionProvider"), [...encryptionProviders]);
    assert.deepEqual(values("MinTlsVersion"), [...minTlsVersions]);
    assert.deepEqual(values("ObjectLockMode"), [...objectLockModes]);
    assert.deepEqual(values("ColdStorageClass"), [...coldStorageClasses]);
    assert.equal(ref(schema.components.SecureEtcd.inputs.keyAlgorithm), "KeyAlgorithm");
    assert.equal(ref(type("EncryptionKey").properties!.state), "KeyState");
  });

  it("every schema type and every enum member of KeyState and EncryptionProvider has a description", () => {
    for (const t of Object.values(schema.typeDefinitions)) {
      assert.ok(t.description, `type ${t.name} has a description`);
      assert.ok(
        !t.description.includes("[object Object]"),
        `${t.name}: a {@link} turned the comment into nodes`,
      );
    }
    for (const name of ["KeyState", "EncryptionProvider", "ObjectLockMode"])
      for (const e of type(name).enum!) assert.ok(e.description, `${name}.${e.name} has a description`);
  });

  it("one copy of the args: every input description is a doc comment of the component's own Args", () => {
    // The doc comments of components/ (the Args, and the enums they use), as the analyzer reads them.
    const docs = new Set<string>();
    for (const file of [
      "components/secureEtcdArgs.ts",
      "components/config/constants.ts",
      "components/config/backup.ts",
      "components/backup/defaults.ts",
    ]) {
      const source = ts.createSourceFile(
        file,
        fs.readFileSync(path.join(repoRoot, file), "utf8"),
        ts.ScriptTarget.ES2022,
        true,
      );
      const visit = (node: ts.Node): void => {
        for (const doc of (node as { jsDoc?: ts.JSDoc[] }).jsDoc ?? [])
          if (typeof doc.comment === "string") docs.add(doc.comment);
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
    const described: [string, string | undefined][] = Object.entries(schema.components.SecureEtcd.inputs).map(
      ([name, p]) => [name, p.description],
    );
    for (const t of Object.values(schema.typeDefinitions).filter(
      (t) => !["MemberCertificates", "ClientCertificate"].includes(t.name),
    )) {
      described.push([t.name, t.description]);
      for (const [name, p] of Object.entries(t.properties ?? {}))
        described.push([`${t.name}.${name}`, p.description]);
      for (const e of t.enum ?? []) if (e.description) described.push([`${t.name}.${e.name}`, e.description]);
    }
    for (const [name, description] of described)
      assert.ok(
        docs.has(description!),
        `${name}: ${JSON.stringify(description)} is not a doc comment in components/`,
      );
    // provider/ declares only its output shapes: nothing of the args is restated there.
    const providerSources = fs
      .readdirSync(providerDir)
      .filter((f) => f.endsWith(".ts"))
      .map((f) => fs.readFileSync(path.join(providerDir, f), "utf8"))
      .join("\n");
    const declared = [...providerSources.matchAll(/^export (?:interface|type|const|enum) (\w+)/gm)].map(
      (m) => m[1],
    );
    assert.deepEqual(declared.sort(), ["ClientCertificate", "MemberCertificates"]);
  });

  it("every output is there, described, typed; none plain", () => {
    const out = schema.components.SecureEtcd.outputs;
    assert.deepEqual(Object.keys(out).sort(), [...outputs].sort());
    for (const [name, p] of Object.entries(out)) {
      assert.ok(p.description, `${name} has a description`);
      assert.equal(p.plain, undefined, `${name} is an output`);
    }
    assert.equal(ref(out.members.additionalProperties!), "MemberCertificates");
    assert.equal(ref(out.clients.additionalProperties!), "ClientCertificate");
    assert.deepEqual(out.etcdEndpoints, {
      type: "array",
      items: { type: "string" },
      description: out.etcdEndpoints.description,
    });
    assert.equal(out.nodeUserData.optional, true);
    for (const secret of ["encryptionConfiguration", "nodeBundles", "offlineNodeCloudInit"])
      assert.match(out[secret].description!, /Secret\./, `${secret} says it is secret`);
    assert.match(type("MemberCertificates").properties!.serverKeyPem.description!, /Secret\./);
    // The analyzer's schema has no secret flag: secretness travels at run time (next suite).
    assert.ok(!JSON.stringify(schema).includes('"secret":'), "no secret flag in the inferred schema");
    assert.deepEqual(schema.dependencies, [], "no resource references: no other package's schema needed");
  });
});

describe("the component provider's SecureEtcd under mocks: Inputs through, secrets stay secret", () => {
  before(async () => {
    await pulumi.runtime.setMocks(new RecordingMocks(), "secure-etcd", "dev", false);
  });

  it("builds the component as a child; key material outputs are secret, the rest is not", async () => {
    const etcd = new SecureEtcd("payments", {
      clusterName: "payments",
      environment: "dev",
      etcdVersion: "3.5.16",
      members: [{ name: "cp-1", ip: pulumi.output("10.0.1.10") }],
      backup: { enabled: false },
    });
    assert.deepEqual(await valueOf(etcd.etcdEndpoints), ["https://10.0.1.10:2379"]);
    const secrets: pulumi.Output<unknown>[] = [
      etcd.members,
      etcd.clients,
      etcd.nodeBundles,
      etcd.encryptionConfiguration,
    ];
    for (const secret of secrets) assert.ok(await pulumi.isSecret(secret));
    assert.equal(await pulumi.isSecret(etcd.caCertPem), false);
    assert.equal(await pulumi.isSecret(etcd.nodeUserData!), false, "user data holds no key");
    assert.match((await valueOf(etcd.members))["cp-1"].serverKeyPem, /PRIVATE KEY/);
    assert.ok(Object.keys(await valueOf(etcd.nodeInstanceProfileNames!)).includes("cp-1"));
  });
});
