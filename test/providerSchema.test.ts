import { strict as assert } from "node:assert";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import {
  Analyzer,
  type AnalyzeResult,
  type PropertyDefinition,
} from "@pulumi/pulumi/provider/experimental/analyzer";
import { encryptionProviders, keyAlgorithms, keyStates, minTlsVersions, settingsSchema } from "../components";
import { repoRoot } from "../harness/stackFiles";
import { SecureEtcd } from "../provider/secureEtcd";
import { RecordingMocks, valueOf } from "./support/recordingMocks";

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
    assert.deepEqual(values("ObjectLockMode"), ["GOVERNANCE", "COMPLIANCE"]);
    assert.equal(ref(schema.components.SecureEtcd.inputs.keyAlgorithm), "KeyAlgorithm");
    assert.equal(ref(type("EncryptionKey").properties!.state), "KeyState");
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
