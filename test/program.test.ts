import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { settingsFromStackConfig } from "../components/config";
import { createEncryptionKeys } from "../components/encryption/keys";
import { spyOnRegistrations, type Registration } from "./support/registrationSpy";
import { RecordingMocks, resolveOutput, valueOf } from "./support/recordingMocks";
import { runProgram } from "./support/program";
import { readStackConfig, stackNames } from "./support/stackFiles";

const T = {
  key: "tls:index/privateKey:PrivateKey",
  ca: "tls:index/selfSignedCert:SelfSignedCert",
  csr: "tls:index/certRequest:CertRequest",
  cert: "tls:index/locallySignedCert:LocallySignedCert",
  bytes: "random:index/randomBytes:RandomBytes",
  component: "secure-etcd:index:SecureEtcd",
};

describe("program under mocks: resource graph per stack file", () => {
  for (const stack of stackNames) {
    it(`${stack}: one CA, 2 certs per member + 3 clients, one RandomBytes per local key`, async () => {
      const s = settingsFromStackConfig(readStackConfig(stack), stack);
      const { mocks } = await runProgram(stack);
      const leaves = 2 * s.members.length + 3;
      assert.equal(mocks.ofType(T.component).length, 1);
      // Self-signed: the CA, and per member the seal of its node bundle.
      const seals = mocks.ofType(T.ca).filter((r) => r.name.endsWith("-bundle-seal"));
      assert.equal(mocks.ofType(T.ca).length - seals.length, 1);
      assert.equal(seals.length, s.members.length);
      assert.equal(mocks.ofType(T.cert).length, leaves);
      assert.equal(mocks.ofType(T.csr).length, leaves);
      // The leaves' keys, the CA's and the bundle-signing key.
      assert.equal(mocks.ofType(T.key).length, leaves + 2);
      const localKeys = s.encryption.keys.filter((k) => k.provider !== "kms");
      assert.deepEqual(
        mocks
          .ofType(T.bytes)
          .map((r) => r.name)
          .sort(),
        localKeys.map((k) => `${s.clusterName}-enc-${k.name}`).sort(),
      );
      for (const r of mocks.ofType(T.bytes)) assert.equal(r.inputs.length, 32);
      for (const r of mocks.resources.filter((x) => x.type !== T.component))
        assert.ok(r.name.startsWith(`${s.clusterName}-`), r.name);
    });

    it(`${stack}: the secret store — per member a secret, version, policy, role, profile, read policy; per cluster a key (+ replica) and the key archive`, async () => {
      const s = settingsFromStackConfig(readStackConfig(stack), stack);
      assert.ok(s.secretStore.enabled);
      const replicated = s.secretStore.replicaRegion !== undefined;
      const { mocks } = await runProgram(stack);
      const ours = (type: string) =>
        mocks.ofType(type).filter((r) => r.name.startsWith(`${s.clusterName}-secrets-`));
      const n = s.members.length;
      const expected: Record<string, number> = {
        "aws:kms/key:Key": replicated ? 2 : 1,
        "aws:kms/alias:Alias": replicated ? 2 : 1,
        "aws:secretsmanager/secret:Secret": n + 1,
        "aws:secretsmanager/secretVersion:SecretVersion": n + 1,
        "aws:secretsmanager/secretPolicy:SecretPolicy": n + 1,
        "aws:iam/role:Role": n,
        "aws:iam/instanceProfile:InstanceProfile": n,
        "aws:iam/rolePolicy:RolePolicy": n,
      };
      for (const [type, count] of Object.entries(expected)) assert.equal(ours(type).length, count, type);
      assert.equal(mocks.ofType("secure-etcd:index:NodeSecretStore").length, 1);
      const total = mocks.resources.filter((r) => r.name.startsWith(`${s.clusterName}-secrets-`)).length;
      assert.equal(
        total,
        Object.values(expected).reduce((a, b) => a + b, 0),
        "nothing else",
      );
    });
  }

  it("a bad stack config fails before any resource is created", async () => {
    const config = readStackConfig("dev");
    config["secure-etcd:keyAlgorithm"] = "DSA-1024";
    const mocks = new RecordingMocks();
    await assert.rejects(runProgram("dev", mocks, config), /secure-etcd:keyAlgorithm: "DSA-1024"/);
    assert.equal(mocks.resources.length, 0);
  });
});

describe("cert profiles as the component asks for them", () => {
  let mocks: RecordingMocks;
  before(async () => {
    ({ mocks } = await runProgram("staging"));
  });
  const leaf = (id: string) => ({
    cert: mocks.named(`payments-${id}`).inputs,
    csr: mocks.named(`payments-${id}-csr`).inputs,
    key: mocks.named(`payments-${id}-key`).inputs,
  });

  it("CA: etcd-ca, CA flag, cert/CRL signing, 10 years, its own key", () => {
    const ca = mocks.named("payments-ca").inputs as Record<string, unknown> & {
      subject: { commonName: string };
    };
    assert.equal(ca.subject.commonName, "etcd-ca");
    assert.equal(ca.isCaCertificate, true);
    assert.equal(ca.setSubjectKeyId, true);
    assert.equal(ca.validityPeriodHours, 87600);
    assert.deepEqual([...(ca.allowedUses as string[])].sort(), [
      "cert_signing",
      "crl_signing",
      "digital_signature",
      "key_encipherment",
    ]);
    assert.deepEqual(mocks.named("payments-ca-key").inputs, { algorithm: "ECDSA", ecdsaCurve: "P256" });
  });

  it("server certs: member CN, server+client auth, member names/IPs plus localhost, 127.0.0.1, ::1", () => {
    const { cert, csr } = leaf("server-stg-cp-2");
    assert.deepEqual(csr.subject, { commonName: "stg-cp-2" });
    assert.deepEqual(csr.dnsNames, ["stg-cp-2", "stg-cp-2.payments.internal", "localhost"]);
    assert.deepEqual(csr.ipAddresses, ["10.20.2.10", "127.0.0.1", "::1"]);
    assert.deepEqual(cert.allowedUses, ["digital_signature", "server_auth", "client_auth"]);
    assert.equal(cert.validityPeriodHours, 4380);
    assert.equal(cert.earlyRenewalHours, 720);
    assert.notEqual(cert.isCaCertificate, true);
  });

  it("peer certs: member CN, server+client auth, member names/IPs only", () => {
    const { cert, csr } = leaf("peer-stg-cp-3");
    assert.deepEqual(csr.subject, { commonName: "stg-cp-3" });
    assert.deepEqual(csr.dnsNames, ["stg-cp-3", "stg-cp-3.payments.internal"]);
    assert.deepEqual(csr.ipAddresses, ["10.20.3.10"]);
    assert.deepEqual(cert.allowedUses, ["digital_signature", "server_auth", "client_auth"]);
  });

  for (const [id, cn] of [
    ["apiserver-etcd-client", "kube-apiserver-etcd-client"],
    ["healthcheck-client", "kube-etcd-healthcheck-client"],
    ["backup-client", "etcd-backup"],
  ]) {
    it(`${id}: CN ${cn}, client auth only, no SANs, no O=system:masters`, () => {
      const { cert, csr } = leaf(id);
      assert.deepEqual(csr.subject, { commonName: cn });
      assert.deepEqual(csr.dnsNames, []);
      assert.deepEqual(csr.ipAddresses, []);
      assert.deepEqual(cert.allowedUses, ["digital_signature", "client_auth"]);
      assert.equal(cert.validityPeriodHours, 4380);
    });
  }

  it("every leaf is signed by the etcd CA (never a cluster CA)", () => {
    for (const r of mocks.ofType(T.cert)) assert.match(String(r.inputs.caCertPem), /payments-ca\n/);
  });

  it("RSA stacks add key encipherment and use RSA keys of the chosen size", async () => {
    const { mocks: dev } = await runProgram("dev");
    assert.deepEqual(dev.named("payments-backup-client-key").inputs, { algorithm: "RSA", rsaBits: 2048 });
    assert.deepEqual(dev.named("payments-server-dev-cp-1").inputs.allowedUses, [
      "digital_signature",
      "key_encipherment",
      "server_auth",
      "client_auth",
    ]);
  });

  it("ECDSA-P384 in prod", async () => {
    const { mocks: prod } = await runProgram("prod");
    assert.deepEqual(prod.named("payments-peer-prod-cp-5-key").inputs, {
      algorithm: "ECDSA",
      ecdsaCurve: "P384",
    });
  });
});

describe("outputs: secrets stay secret", () => {
  let outputs: Record<string, unknown>;
  before(async () => {
    ({ outputs } = await runProgram("local"));
  });

  it("every member key is a secret; certs are not", async () => {
    const members = outputs.memberCertificates as Record<string, Record<string, pulumi.Output<string>>>;
    assert.deepEqual(Object.keys(members), ["etcd-1", "etcd-2", "etcd-3"]);
    for (const m of Object.values(members)) {
      assert.equal(await pulumi.isSecret(m.serverKeyPem), true);
      assert.equal(await pulumi.isSecret(m.peerKeyPem), true);
      assert.equal(await pulumi.isSecret(m.serverCertPem), false);
    }
  });

  it("every client key is a secret", async () => {
    const clients = outputs.clientCertificates as Record<string, Record<string, pulumi.Output<string>>>;
    assert.deepEqual(Object.keys(clients).sort(), [
      "apiserver-etcd-client",
      "backup-client",
      "healthcheck-client",
    ]);
    for (const c of Object.values(clients)) {
      assert.equal(await pulumi.isSecret(c.keyPem), true);
      assert.match(await valueOf(c.keyPem), /PRIVATE KEY/);
    }
  });

  it("node user data is not a secret and embeds no key; the node bundles are secrets", async () => {
    assert.equal("nodeCloudInit" in outputs, false, "the secret-bearing nodeCloudInit is retired");
    assert.equal(outputs.offlineNodeCloudInit, undefined, "the offline variant is opt-in");
    const ud = outputs.nodeUserData as Record<string, pulumi.Output<string>>;
    const bundles = outputs.nodeBundles as Record<string, pulumi.Output<string>>;
    assert.deepEqual(Object.keys(ud), ["etcd-1", "etcd-2", "etcd-3"]);
    for (const [member, o] of Object.entries(ud)) {
      assert.equal(await pulumi.isSecret(o), false);
      const text = await valueOf(o);
      assert.match(text, /^#cloud-config\n/);
      assert.match(text, new RegExp(`SECURE_ETCD_SECRET_ID=secure-etcd/rehearsal/local/${member}\n`));
      assert.ok(
        !/PRIVATE KEY/.test(text) && !/^\s*-?\s*secret:\s*\S/m.test(text),
        "no key and no EncryptionConfiguration key entry",
      );
      assert.equal(await pulumi.isSecret(bundles[member]), true);
      assert.match(await valueOf(bundles[member]), /^secure-etcd-node-bundle 2\n/);
    }
    const policies = await valueOf(outputs.nodeSecretPolicyJson as pulumi.Output<Record<string, string>>);
    assert.deepEqual(Object.keys(policies), ["etcd-1", "etcd-2", "etcd-3"]);
    const profiles = await valueOf(outputs.nodeInstanceProfileNames as pulumi.Output<Record<string, string>>);
    assert.deepEqual(Object.keys(profiles), ["etcd-1", "etcd-2", "etcd-3"]);
  });

  it("the EncryptionConfiguration (it embeds the keys) is a secret", async () => {
    const { value, secret } = await resolveOutput(outputs.encryptionConfiguration as pulumi.Output<string>);
    assert.equal(secret, true);
    assert.match(value, /kind: EncryptionConfiguration/);
  });

  it("manifests and patches are plain outputs that embed no key material", async () => {
    const manifests = await valueOf(outputs.etcdManifests as pulumi.Output<Record<string, string>>);
    const patch = await valueOf(outputs.kubeApiserverPatch as pulumi.Output<string>);
    for (const text of [...Object.values(manifests), patch]) assert.ok(!/PRIVATE KEY|secret:/.test(text));
    assert.equal(await pulumi.isSecret(outputs.kubeApiserverPatch as pulumi.Output<string>), false);
  });

  it("endpoints in member order", async () => {
    assert.deepEqual(await valueOf(outputs.etcdEndpoints as pulumi.Output<string[]>), [
      "https://127.0.0.11:2379",
      "https://127.0.0.12:2379",
      "https://127.0.0.13:2379",
    ]);
  });
});

describe("encryption keys are protected from accidental deletion", () => {
  it("RandomBytes are protect:true by default and only unprotected when asked", async () => {
    await pulumi.runtime.setMocks(new RecordingMocks(), "secure-etcd", "unit", false);
    const registrations: Registration[] = [];
    spyOnRegistrations(registrations); // protect is a registration option: what the engine is told
    const parent = new pulumi.ComponentResource("test:index:Parent", "p");
    const keys = [
      { name: "a", state: "primary" as const, provider: "secretbox" as const },
      { name: "b", state: "retired" as const, provider: "aescbc" as const },
      { name: "c", state: "staged" as const, provider: "kms" as const, endpoint: "unix:///k.sock" },
    ];
    const protectedKeys = createEncryptionKeys("x", keys, true, parent);
    assert.equal(protectedKeys.resources.length, 2, "kms keys have no local material");
    const open = createEncryptionKeys("y", keys, false, parent);
    assert.equal(await pulumi.isSecret(protectedKeys.material), true);
    const material = await valueOf(protectedKeys.material);
    await valueOf(open.material); // both sets registered by now
    const protectOf = (name: string) => registrations.find((r) => r.name === name)?.protect;
    for (const name of ["x-enc-a", "x-enc-b"]) assert.equal(protectOf(name), true, name);
    for (const name of ["y-enc-a", "y-enc-b"]) assert.equal(protectOf(name), false, name);
    assert.deepEqual(
      material.map((k) => [k.name, Buffer.from(k.secretBase64 ?? "", "base64").length]),
      [
        ["a", 32],
        ["b", 32],
        ["c", 0],
      ],
    );
  });
});

describe("snapshots wired into the program", () => {
  it("each stack gets a SnapshotStore (bucket, KMS key) and a SnapshotJob, rendered without a cluster", async () => {
    for (const stack of ["dev", "prod"]) {
      const { mocks, outputs } = await runProgram(stack);
      assert.equal(mocks.ofType("secure-etcd:index:SnapshotStore").length, 1, stack);
      assert.equal(mocks.ofType("secure-etcd:index:SnapshotJob").length, 1, stack);
      assert.equal(mocks.ofType("aws:s3/bucket:Bucket").length, stack === "prod" ? 2 : 1, "prod replicates");
      assert.equal(
        mocks.ofType("kubernetes:batch/v1:CronJob").length,
        0,
        "no kubernetesProvider, nothing created in a cluster",
      );
      const manifests = await valueOf(outputs.snapshotJobManifests as pulumi.Output<string>);
      assert.match(manifests, /kind: CronJob/);
      assert.ok(!/PRIVATE KEY/.test(manifests));
      const secretYaml = outputs.snapshotJobSecretYaml as pulumi.Output<string>;
      assert.equal(await pulumi.isSecret(secretYaml), true);
      assert.match(await valueOf(secretYaml), /kind: Secret/);
    }
  });

  it("prod's schedule is every 15 minutes; local's comes from its stack file", async () => {
    const { outputs: prod } = await runProgram("prod");
    assert.equal(
      (await valueOf(prod.snapshotSchedule as pulumi.Output<{ schedule: string }>)).schedule,
      "*/15 * * * *",
    );
    const { outputs: local } = await runProgram("local");
    assert.equal(
      (await valueOf(local.snapshotSchedule as pulumi.Output<{ schedule: string }>)).schedule,
      "*/30 * * * *",
    );
  });

  it("backup.deployJob creates the Secret, ConfigMap, ServiceAccount and CronJob in the cluster", async () => {
    const config = readStackConfig("staging");
    config["secure-etcd:backup"] = JSON.stringify({ deployJob: true, kubeContext: "payments-staging" });
    const { mocks } = await runProgram("staging", new RecordingMocks(), config);
    const provider = mocks.ofType("pulumi:providers:kubernetes");
    assert.equal(provider.length, 1);
    assert.equal(provider[0].inputs.context, "payments-staging");
    for (const t of [
      "kubernetes:core/v1:Secret",
      "kubernetes:core/v1:ConfigMap",
      "kubernetes:core/v1:ServiceAccount",
      "kubernetes:batch/v1:CronJob",
    ])
      assert.equal(mocks.ofType(t).length, 1, t);
    const cron = mocks.ofType("kubernetes:batch/v1:CronJob")[0].inputs as {
      spec: { schedule: string; concurrencyPolicy: string };
    };
    assert.equal(cron.spec.schedule, "0 * * * *");
    assert.equal(cron.spec.concurrencyPolicy, "Forbid");
  });

  it("backup.enabled=false creates no snapshot resources; with secretStore.enabled=false no AWS at all", async () => {
    const config = readStackConfig("dev");
    config["secure-etcd:backup"] = JSON.stringify({ enabled: false });
    const { mocks, outputs } = await runProgram("dev", new RecordingMocks(), config);
    assert.equal(mocks.resources.filter((r) => r.type.startsWith("aws:s3")).length, 0);
    assert.ok(
      mocks.resources
        .filter((r) => r.type.startsWith("aws:"))
        .every((r) => r.name.startsWith("payments-secrets-")),
    );
    assert.equal(outputs.snapshotBucketName, undefined);
    config["secure-etcd:secretStore"] = JSON.stringify({ enabled: false });
    const off = await runProgram("dev", new RecordingMocks(), config);
    assert.equal(off.mocks.resources.filter((r) => r.type.startsWith("aws:")).length, 0);
    for (const k of ["nodeUserData", "nodeRoleArns", "secretsKmsKeyArn", "keyArchiveSecretArn"])
      assert.equal(off.outputs[k], undefined, k);
  });
});

describe("the offline variant (air-gapped labs)", () => {
  it("secretStore.offlineCloudInit renders offlineNodeCloudInit, a secret that carries the keys", async () => {
    const config = readStackConfig("dev");
    config["secure-etcd:secretStore"] = JSON.stringify({ enabled: false, offlineCloudInit: true });
    // Air-gapped: no AWS at all (snapshots would need writers named: backup.writerRoleArns).
    config["secure-etcd:backup"] = JSON.stringify({ enabled: false });
    const { outputs } = await runProgram("dev", new RecordingMocks(), config);
    const offline = outputs.offlineNodeCloudInit as Record<string, pulumi.Output<string>>;
    assert.deepEqual(Object.keys(offline), ["dev-cp-1"]);
    assert.equal(await pulumi.isSecret(offline["dev-cp-1"]), true);
    assert.match(await valueOf(offline["dev-cp-1"]), /^#cloud-config\n/);
  });

  it("is refused for prod before any resource exists", async () => {
    const config = readStackConfig("prod");
    config["secure-etcd:secretStore"] = JSON.stringify({ offlineCloudInit: true });
    const mocks = new RecordingMocks();
    await assert.rejects(
      runProgram("prod", mocks, config),
      /secure-etcd:secretStore\.offlineCloudInit: true is refused for environment "prod"/,
    );
    assert.equal(mocks.resources.length, 0);
  });
});
