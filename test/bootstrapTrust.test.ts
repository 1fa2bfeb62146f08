import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { nodeBootstrapPaths } from "../components/node";
import {
  bundleDigest,
  parseNodeBundle,
  publicKeyBase64,
  sealUri,
  verifyBundleSeal,
} from "../components/secretStore/bundle";
import { createBundleSigningKey } from "../components/secretStore/bundleSigning";
import { secretReadPolicy } from "../components/secretStore/policies";
import { renderArtifacts } from "../harness/artifacts";
import { newSigningKey, sealWith } from "../harness/bundleSealing";
import { startMoto } from "../harness/moto";
import { startNodeSecretsOnMoto, type NodeSecretsOnMoto } from "../harness/motoNodeSecrets";
import { bootstrapExit } from "../tools/bootstrap";
import {
  boot,
  bundle,
  bundleBody,
  editKeepingSeal,
  expectRefusal,
  listing,
  makeFixture,
  removeTempDirs,
  reportTimings,
  secretNeedles,
  showListing,
  tempDir,
  type Fixture,
  type Node,
} from "./support/bootstrapFixture";
import { isSecretValue } from "./support/registrationSpy";
import { valueOf } from "./support/recordingMocks";
import { buildSecureEtcd } from "./support/secureEtcdUnderMocks";

/*
 * Issue 18 item 1, the node's half: only the deployer's key can make a node install anything, and an old
 * bundle cannot come back. The component side under mocks and under the provider emulation (real
 * crypto); the node side with the real AWS CLI against moto with IAM enforcement, each node with its own
 * role's session and the package's node policy.
 */

after(removeTempDirs);

describe("bundle signing in the component", () => {
  it("the signing key is an ECDSA P-256 tls.PrivateKey whose private half is a Pulumi secret", async () => {
    const b = await buildSecureEtcd("dev");
    const key = b.mocks.resources.find(
      (r) => r.name === "payments-dev-bundle-signing-key" || r.name.endsWith("-bundle-signing-key"),
    );
    assert.ok(key, "a bundle-signing key");
    assert.equal(key.type, "tls:index/privateKey:PrivateKey");
    assert.deepEqual([key.inputs.algorithm, key.inputs.ecdsaCurve], ["ECDSA", "P256"]);
    const signing = createBundleSigningKey(
      "probe",
      new pulumi.ComponentResource("probe:index:Probe", "probe"),
    );
    assert.equal(await pulumi.isSecret(signing.privateKeyPem), true);
    assert.equal(await pulumi.isSecret(signing.publicKeyBase64), false);
  });

  it("each member's bundle is sealed by its own seal: a cert from the signing key (secret input) naming that body's sha256", async () => {
    const b = await buildSecureEtcd("dev");
    for (const m of b.members) {
      const seal = b.log.find(
        (r) => r.type === "tls:index/selfSignedCert:SelfSignedCert" && r.name.endsWith(`${m}-bundle-seal`),
      );
      assert.ok(seal, `${m}: a seal`);
      assert.ok(
        seal.secretProps.includes("privateKeyPem"),
        `${m}: the signing key reaches the seal as a secret`,
      );
      const text = await valueOf(b.etcd.nodeBundles[m]);
      const body = text.slice(0, text.lastIndexOf("end "));
      const uris = seal.object.uris;
      const unwrap = (v: unknown) => (isSecretValue(v) ? (v as { value: unknown }).value : v);
      assert.deepEqual((unwrap(uris) as unknown[]).map(unwrap), [sealUri(bundleDigest(body))], m);
      assert.equal(parseNodeBundle(text).member, m);
    }
  });

  it("user data carries the signing public key (not a secret) and nothing private", async () => {
    const b = await buildSecureEtcd("dev");
    for (const m of b.members) {
      const text = await valueOf(b.etcd.nodeUserData![m]);
      const doc = parse(text) as { write_files: { path: string; content: string }[] };
      const env = doc.write_files.find((f) => f.path === nodeBootstrapPaths.env)!.content;
      assert.match(env, /^SECURE_ETCD_SIGNING_KEY=[A-Za-z0-9+/=]+$/m);
      assert.match(env, /^SECURE_ETCD_CLUSTER=payments$/m);
      assert.doesNotMatch(text, /PRIVATE KEY/);
    }
  });

  it("under the provider emulation (real crypto), every node bundle verifies with the stack's public key, its generation the seal's creation", async function () {
    this.timeout(120_000);
    const a = await renderArtifacts({
      stack: "local",
      outDir: tempDir("render-"),
      mapMembersToLoopback: true,
    });
    const key = a.emulation.resources.find((r) => r.name === `${a.settings.clusterName}-bundle-signing-key`)!;
    const pub = publicKeyBase64(String(key.state.publicKeyPem));
    for (const m of a.settings.members) {
      const b = verifyBundleSeal(a.nodeBundles[m.name], pub);
      const seal = a.emulation.resources.find((r) => r.name.endsWith(`${m.name}-bundle-seal`))!;
      // X.509 keeps whole seconds.
      const started = Date.parse(String(seal.state.validityStartTime));
      assert.equal(b.generation.getTime(), Math.floor(started / 1000) * 1000);
      assert.throws(
        () => verifyBundleSeal(a.nodeBundles[m.name], newSigningKey().publicKeyBase64),
        /signed by another key/,
      );
    }
    // openssl, as the node runs it, agrees.
    const sealPem = parseNodeBundle(a.nodeBundles[a.settings.members[0].name]).sealPem;
    const dir = tempDir("seal-");
    fs.writeFileSync(path.join(dir, "seal.pem"), sealPem);
    const v = spawnSync(
      "openssl",
      [
        "verify",
        "-check_ss_sig",
        "-no_check_time",
        "-CAfile",
        path.join(dir, "seal.pem"),
        path.join(dir, "seal.pem"),
      ],
      { encoding: "utf8" },
    );
    assert.equal(v.status, 0, v.stdout + v.stderr);
    assert.match(
      new X509Certificate(sealPem).subjectAltName ?? "",
      /^URI:urn:secure-etcd:node-bundle:sha256:[0-9a-f]{64}$/,
    );
  });
});

describe("the node refuses what the deployer's key did not sign, and old versions @integration", function () {
  this.timeout(240_000);
  let aws: NodeSecretsOnMoto;
  let fx: Fixture;
  let needles: string[];
  let node: Node;

  before(async () => {
    aws = await startNodeSecretsOnMoto({ workDir: tempDir("moto-") });
    fx = makeFixture([
      { name: "cp-1", ip: "10.0.1.10" },
      { name: "cp-2", ip: "10.0.1.11" },
      { name: "cp-3", ip: "10.0.1.12" },
    ]);
    needles = secretNeedles(fx);
    node = { member: "cp-1", root: tempDir("trust-"), secretId: "secure-etcd/payments/dev/cp-1" };
    await aws.addNode("cp-1", node.secretId, bundle(fx, "cp-1"));
    const r = await boot(aws, fx, node, needles);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await aws?.stop();
    reportTimings();
  });

  it("signed by another key: the stack's own bundle sealed by a key that is not the node's is refused, nothing written", async () => {
    await aws.put(node.secretId, sealWith(bundleBody(fx, "cp-1"), newSigningKey()));
    await expectRefusal(
      aws,
      fx,
      node,
      needles,
      /the bundle is signed by another key than this node's SECURE_ETCD_SIGNING_KEY/,
    );
  });

  it("written by another principal: an account admin's PutSecretValue (allowed by its identity policy; the secret's resource policy that denies it in AWS is not evaluated by moto) is refused, nothing written", async () => {
    const hostileManifest = (lines: string[]) =>
      lines.map((l) =>
        l.startsWith("file etcd-manifest ")
          ? l.replace(/ \S+$/, ` ${Buffer.from("kind: Pod\n# intruder\n").toString("base64")}`)
          : l,
      );
    // Its own key, and the stack's seal kept over an edited body.
    const ownKey = sealWith(
      hostileManifest(bundleBody(fx, "cp-1").trimEnd().split("\n"))
        .map((l) => `${l}\n`)
        .join(""),
      newSigningKey(),
    );
    for (const [what, text, why] of [
      ["its own key", ownKey, /signed by another key/],
      [
        "the stack's seal over an edited body",
        editKeepingSeal(bundle(fx, "cp-1"), hostileManifest),
        /the bundle's seal is for another bundle|content does not match its sha256/,
      ],
      [
        "no seal at all",
        `${bundleBody(fx, "cp-1")}end 11 ${bundleDigest(bundleBody(fx, "cp-1"))}\n`,
        /the bundle's end line is malformed/,
      ],
    ] as const) {
      await aws.put(node.secretId, text, "intruder");
      await expectRefusal(aws, fx, node, needles, why).catch((e: Error) => {
        throw new Error(`${what}: ${e.message}`);
      });
    }
    await aws.put(node.secretId, bundle(fx, "cp-1"));
    assert.equal((await boot(aws, fx, node, needles)).code, 0);
  });

  it("re-staged to an old version: UpdateSecretVersionStage back to an older (validly signed) bundle is refused, nothing written; forward again installs", async () => {
    await aws.put(node.secretId, bundle(fx, "cp-1"));
    assert.equal((await boot(aws, fx, node, needles)).code, 0);
    const oldVersion = (await aws.current(node.secretId)).versionId;
    await aws.put(node.secretId, bundle(fx, "cp-1"));
    const r = await boot(aws, fx, node, needles);
    assert.equal(r.code, 0, r.stderr);
    const newer = (await aws.current(node.secretId)).versionId;
    await aws.restage(node.secretId, oldVersion, "intruder");
    assert.equal((await aws.current(node.secretId)).versionId, oldVersion);
    await expectRefusal(
      aws,
      fx,
      node,
      needles,
      /the bundle is older than the installed one \(an old version re-staged or re-written\)/,
    );
    // The same old content written again as a new version is just as old.
    await aws.put(node.secretId, (await aws.current(node.secretId)).value, "intruder");
    await expectRefusal(aws, fx, node, needles, /older than the installed one/);
    await aws.restage(node.secretId, newer);
    const back = await boot(aws, fx, node, needles);
    assert.equal(back.code, 0, back.stderr);
  });

  it("the node policy the package renders (nodeSecretPolicyJson), on the member's role: its own secret readable, another member's refused by moto's IAM evaluation", async () => {
    const b = await buildSecureEtcd("dev");
    const m = b.members[0];
    const rendered = JSON.parse(await valueOf(b.etcd.secretStore!.nodeSecretPolicyJson[m])) as {
      Statement: { Resource: string }[];
    };
    const mine = aws.node(node.secretId);
    // The stack's output with moto's ARNs in place of the emulation's is exactly the policy on the role.
    const [emulatedSecret, emulatedKey] = rendered.Statement.map((s) => s.Resource);
    const onMoto = JSON.parse(
      JSON.stringify(rendered)
        .split(emulatedSecret)
        .join(mine.secretArn)
        .split(emulatedKey)
        .join(aws.kmsKeyArn),
    );
    assert.deepEqual(onMoto, JSON.parse(mine.policyJson));
    assert.deepEqual(
      JSON.parse(mine.policyJson),
      secretReadPolicy({
        secretArn: mine.secretArn,
        kmsKeyArn: aws.kmsKeyArn,
        region: aws.region,
        dnsSuffix: "amazonaws.com",
      }),
    );

    const before = listing(node.root);
    const own = await boot(aws, fx, node, needles);
    assert.equal(own.code, 0, own.stderr);
    const other = { member: "cp-2", root: tempDir("trust-"), secretId: "secure-etcd/payments/dev/cp-2" };
    await aws.addNode("cp-2", other.secretId, bundle(fx, "cp-2"));
    const refused = await boot(aws, fx, node, needles, { secretId: other.secretId });
    assert.equal(refused.code, bootstrapExit.retryLater, refused.stderr);
    assert.match(
      refused.stderr,
      /this node's role may not read secret secure-etcd\/payments\/dev\/cp-2 \(AccessDenied\)/,
    );
    assert.equal(showListing(listing(node.root)), showListing(before));
  });

  it("moto alone (without harness/motoSecretsByArn.py) checks Secrets Manager calls against Resource '*', so that policy would refuse even the member's own secret", async () => {
    const plain = await startMoto({ workDir: tempDir("moto-plain-") });
    try {
      const { IAMClient, CreateUserCommand, PutUserPolicyCommand, CreateAccessKeyCommand } =
        await import("@aws-sdk/client-iam");
      const { SecretsManagerClient, CreateSecretCommand } = await import("@aws-sdk/client-secrets-manager");
      const sm = new SecretsManagerClient(plain.clientConfig());
      const arn = (await sm.send(new CreateSecretCommand({ Name: "s/own", SecretString: "x" }))).ARN!;
      const iam = new IAMClient(plain.clientConfig());
      await iam.send(new CreateUserCommand({ UserName: "node" }));
      await iam.send(
        new PutUserPolicyCommand({
          UserName: "node",
          PolicyName: "p",
          PolicyDocument: JSON.stringify(
            secretReadPolicy({
              secretArn: arn,
              kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
              region: "us-east-1",
              dnsSuffix: "amazonaws.com",
            }),
          ),
        }),
      );
      const k = (await iam.send(new CreateAccessKeyCommand({ UserName: "node" }))).AccessKey!;
      await plain.enforceIam(0);
      // The node's client, as the bootstrap runs it.
      const r = spawnSync(
        "aws",
        ["--endpoint-url", plain.endpoint, "secretsmanager", "get-secret-value", "--secret-id", arn],
        {
          encoding: "utf8",
          env: {
            ...process.env,
            ...plain.env({ accessKeyId: k.AccessKeyId!, secretAccessKey: k.SecretAccessKey! }),
          },
        },
      );
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /AccessDenied.*not authorized to perform: secretsmanager:GetSecretValue/s);
    } finally {
      await plain.stop();
    }
  });
});
