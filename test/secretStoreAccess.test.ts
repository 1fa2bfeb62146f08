import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import type { PolicyDocument } from "../components/backup/policies";
import { collidingSecrets } from "../components/secretStore/existingSecrets";
import { partitionOfRegion, resolveDeployers } from "../components/secretStore/identity";
import { SECRET_WRITE_ACTIONS, secretReadPolicy } from "../components/secretStore/policies";
import { assertOutputConfigError, assertThrowsConfigError } from "./support/configErrors";
import { ALLOW_ALL, decide, decideKms, type Request } from "./support/iamEvaluator";
import { loadStackConfig, SecureEtcd, type SecureEtcdArgs } from "../components";
import { RecordingMocks, valueOf, type RecordingMocksOptions } from "./support/recordingMocks";
import { buildSecureEtcd, type Built } from "./support/secureEtcdUnderMocks";
import { readStackConfig, toPulumiConfig } from "./support/stackFiles";

/*
 * The secret store admits one writer: who may read, write, re-stage, re-key, replicate, restore or
 * re-policy a node bundle, judged on the rendered JSON with the IAM evaluator (moto stores resource and
 * key policies but never evaluates them), and the day-2 checks that keep deployments from failing
 * half-way: a second deployer, a rebuild beside retained secrets, ARNs of another account or partition.
 */

const ACCOUNT = "123456789012";
const REGION = "us-east-1";
const deployer = `arn:aws:iam::${ACCOUNT}:user/emulated`;
const ci = `arn:aws:iam::${ACCOUNT}:role/ci-deployer`;
const breakGlass = `arn:aws:iam::${ACCOUNT}:role/break-glass`;
const admin = `arn:aws:iam::${ACCOUNT}:role/Administrator`;
const awsManagedKey = `arn:aws:kms:${REGION}:${ACCOUNT}:key/aws-secretsmanager-managed`;
const doc = (json: unknown): PolicyDocument => JSON.parse(String(json)) as PolicyDocument;
const roleOf = (m: string) => `arn:aws:iam::${ACCOUNT}:role/payments-secrets-${m}-role`;

/**
 * SecureEtcd constructed under mocks without waiting for anything: for deployments that must stop on a
 * ConfigError while its Outputs resolve (the engine fails the registration that needed the value).
 */
async function construct(
  stack: string,
  overrides: Record<string, unknown>,
  options: RecordingMocksOptions,
  resourceArgs: Partial<SecureEtcdArgs> = {},
): Promise<{ etcd: SecureEtcd; mocks: RecordingMocks }> {
  const mocks = new RecordingMocks(options);
  await pulumi.runtime.setMocks(mocks, "secure-etcd", stack, false);
  const { args, settings } = loadStackConfig(
    { ...readStackConfig(stack), ...toPulumiConfig(overrides) },
    stack,
  );
  return { etcd: new SecureEtcd(settings.clusterName, { ...args, ...resourceArgs }), mocks };
}

describe("secret store: one writer (rendered policies, evaluated)", () => {
  let b: Built;
  let secretArn: string;
  let resourcePolicy: PolicyDocument;
  let readPolicy: PolicyDocument;
  let keyPolicy: PolicyDocument;
  let keyArn: string;
  const m = "stg-cp-1";
  before(async () => {
    b = await buildSecureEtcd("staging", { "secure-etcd:deployerPrincipalArns": [ci, breakGlass] });
    secretArn = (await valueOf(pulumi.all(b.etcd.secretStore!.secretArns)))[m];
    keyArn = await valueOf(b.etcd.secretStore!.kmsKeyArn);
    resourcePolicy = doc(b.mocks.named(`payments-secrets-${m}-policy`).inputs.policy);
    readPolicy = doc(b.mocks.named(`payments-secrets-${m}-read`).inputs.policy);
    keyPolicy = doc(b.mocks.named("payments-secrets-key").inputs.policy);
  });

  /** A same-account call on the member's secret by `principal` whose identity policies are `identity`. */
  const onSecret = (principal: string, action: string, identity: PolicyDocument[] = [ALLOW_ALL]) =>
    decide([resourcePolicy, ...identity], { principal, action, resource: secretArn });

  it("an AdministratorAccess role can neither read nor change a node bundle (explicit denies)", () => {
    assert.equal(onSecret(admin, "secretsmanager:GetSecretValue"), "Deny");
    for (const action of SECRET_WRITE_ACTIONS) assert.equal(onSecret(admin, action), "Deny", action);
  });

  it("the attacks of the issue: a new AWSCURRENT under aws/secretsmanager, a roll-back by re-staging", () => {
    // UpdateSecret re-keys to the AWS-managed key; PutSecretValue writes a new version; no KMS right needed
    // to move AWSCURRENT back to an old version.
    for (const action of ["UpdateSecret", "PutSecretValue", "UpdateSecretVersionStage"])
      assert.equal(onSecret(admin, `secretsmanager:${action}`), "Deny", action);
  });

  it("the member's own role reads, and writes nothing", () => {
    assert.equal(onSecret(roleOf(m), "secretsmanager:GetSecretValue", [readPolicy]), "Allow");
    for (const action of SECRET_WRITE_ACTIONS) assert.equal(onSecret(roleOf(m), action), "Deny", action);
    assert.equal(
      onSecret(roleOf("stg-cp-2"), "secretsmanager:GetSecretValue"),
      "Deny",
      "another member's role",
    );
  });

  it("every deployer — the one running pulumi up, CI, break-glass — may read and write (refresh works for each)", () => {
    for (const d of [deployer, ci, breakGlass]) {
      assert.equal(onSecret(d, "secretsmanager:GetSecretValue"), "Allow", d);
      for (const action of SECRET_WRITE_ACTIONS) assert.equal(onSecret(d, action), "Allow", `${d} ${action}`);
    }
  });

  it("a call with no aws:PrincipalArn (anonymous, or a service) is denied too", () => {
    assert.equal(
      decide([resourcePolicy, ALLOW_ALL], { action: "secretsmanager:PutSecretValue", resource: secretArn }),
      "Deny",
    );
  });

  it("the node refuses a value not encrypted under the stack's key (a kms:Decrypt deny for any other key)", () => {
    const viaSm = (key: string, forSecret = secretArn): Request => ({
      principal: roleOf(m),
      action: "kms:Decrypt",
      resource: key,
      context: {
        "kms:ViaService": `secretsmanager.${REGION}.amazonaws.com`,
        "kms:EncryptionContext:SecretARN": forSecret,
      },
    });
    // aws/secretsmanager's key policy lets every principal of the account use it through Secrets Manager:
    // model that as an allow-all key policy; the identity policy's Deny still wins.
    const awsManagedKeyPolicy: PolicyDocument = {
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Principal: { AWS: "*" }, Action: "kms:*", Resource: "*" }],
    };
    assert.equal(decideKms(awsManagedKeyPolicy, [readPolicy], viaSm(awsManagedKey)), "Deny");
    assert.equal(decideKms(keyPolicy, [readPolicy], viaSm(keyArn)), "Allow", "the stack's key");
    const other = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:app/other-AbCdEf`;
    assert.equal(
      decideKms(awsManagedKeyPolicy, [readPolicy], viaSm(awsManagedKey, other)),
      "Allow",
      "the deny is scoped to this secret: the role's other secrets (a role you bring) are untouched",
    );
  });

  it("the key policy: deployers administer and use it through Secrets Manager; CI and break-glass too", () => {
    const use = (principal: string, action: string) =>
      decideKms(keyPolicy, [ALLOW_ALL], {
        principal,
        action,
        resource: "*",
        context: { "kms:ViaService": `secretsmanager.${REGION}.amazonaws.com` },
      });
    for (const d of [deployer, ci, breakGlass]) {
      assert.equal(use(d, "kms:GenerateDataKey"), "Allow", d);
      assert.equal(use(d, "kms:PutKeyPolicy"), "Allow", d);
    }
    assert.equal(use(admin, "kms:Decrypt"), "ImplicitDeny", "an admin may administer, never decrypt");
  });

  it("the policies name the extra deployers everywhere the deploying one is named", () => {
    const key = JSON.stringify(keyPolicy);
    const res = JSON.stringify(resourcePolicy);
    for (const d of [ci, breakGlass]) {
      assert.ok(key.includes(d), `key policy names ${d}`);
      assert.ok(res.includes(d), `resource policy names ${d}`);
    }
    assert.deepEqual(b.etcd.secretStore && undefined, undefined);
  });

  it("the deployers are an output, for the next deployment's hand-over check", async () => {
    assert.deepEqual(await valueOf(b.etcd.secretStore!.deployerArns), [deployer, ci, breakGlass]);
  });
});

describe("secret store: deployers (a second deployer or CI role, pulumi refresh)", () => {
  const at = { partition: "aws", accountId: ACCOUNT };

  it("a principal the deployed policies do not admit is refused at preview, with the hand-over steps", () => {
    assertThrowsConfigError(() => resolveDeployers(ci, at, { extra: [], previous: [deployer] }), {
      path: "deployerPrincipalArns",
      message: [/is not one the deployed policies admit/, /add .*ci-deployer.* to deployerPrincipalArns/],
    });
    assert.deepEqual(resolveDeployers(ci, at, { extra: [breakGlass], previous: [deployer, ci] }), [
      ci,
      breakGlass,
    ]);
    assert.deepEqual(
      resolveDeployers(ci, at, { extra: [], previous: [] }),
      [ci],
      "a deployment without the record",
    );
  });

  it("through the component: the stack's last deployers are checked against the one running now", async () => {
    const b = await construct(
      "dev",
      {},
      { callerArn: `arn:aws:sts::${ACCOUNT}:assumed-role/ci-deployer/run-7` },
      {
        previousSecretStore: { deployed: true, secretArns: [], deployerArns: [deployer] },
      },
    );
    await assertOutputConfigError(b.etcd.secretStore!.deployerArns, {
      path: "deployerPrincipalArns",
      message: /"arn:aws:iam::123456789012:role\/ci-deployer", is not one the deployed policies admit/,
    });
  });

  it("deployerPrincipalArns of another account or partition, or not a role or user, are refused", () => {
    assertThrowsConfigError(
      () => resolveDeployers(deployer, at, { extra: ["arn:aws:iam::210987654321:role/ci"] }),
      {
        path: "deployerPrincipalArns[0]",
        message: /is in account 210987654321, but this stack deploys to account/,
      },
    );
    assertThrowsConfigError(
      () => resolveDeployers(deployer, at, { extra: ["arn:aws-us-gov:iam::123456789012:role/ci"] }),
      {
        path: "deployerPrincipalArns[0]",
        message: /partition "aws-us-gov"/,
      },
    );
    assertThrowsConfigError(
      () => resolveDeployers(deployer, at, { extra: [`arn:aws:sts::${ACCOUNT}:assumed-role/ci/session`] }),
      { path: "deployerPrincipalArns[0]", message: /not its session/ },
    );
  });
});

describe("secret store: rebuilding after a destroy (fixed names, retained secrets)", () => {
  const archive = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:secure-etcd/payments/dev/encryption-keys-Old123`;
  const member = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:secure-etcd/payments/dev/dev-cp-1-Old456`;
  const lookalike = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:secure-etcd/payments/dev/dev-cp-10-Zzz999`;

  it("secrets left by an earlier life of the stack are refused at preview, naming secretStore.generation", async () => {
    const b = await construct(
      "dev",
      {},
      { existingSecretArns: [archive, lookalike] },
      {
        previousSecretStore: { deployed: false, secretArns: [], deployerArns: [] },
      },
    );
    await assertOutputConfigError(b.etcd.secretStore!.keyArchiveSecretArn, {
      path: "secretStore.generation",
      message: [/Old123/, /ResourceExistsException/, /set secretStore.generation to 2/, /delete-secret/],
    });
    assert.equal(b.mocks.ofType("aws:secretsmanager/secret:Secret").length, 0, "no secret was created");
  });

  it("the secrets this stack manages are its own: no collision", async () => {
    assert.deepEqual(
      collidingSecrets(
        ["secure-etcd/payments/dev/dev-cp-1", "secure-etcd/payments/dev/encryption-keys"],
        [archive, member, lookalike],
        { deployed: true, secretArns: [archive, member], deployerArns: [] },
      ),
      [],
      "a name prefix match (dev-cp-10) is not a collision",
    );
    assert.deepEqual(
      collidingSecrets(["secure-etcd/payments/dev/dev-cp-1"], [member], {
        deployed: false,
        secretArns: [member],
        deployerArns: [],
      }),
      [member],
      "a stack never deployed (or destroyed) manages nothing",
    );
  });

  it("generation 2 deploys beside the retained secrets under new names", async () => {
    const b = await buildSecureEtcd(
      "dev",
      { "secure-etcd:secretStore": { generation: 2 } },
      { existingSecretArns: [archive, member] },
      {
        previousSecretStore: { deployed: false, secretArns: [], deployerArns: [] },
      },
    );
    const names = b.mocks.ofType("aws:secretsmanager/secret:Secret").map((r) => r.inputs.name);
    assert.deepEqual(names.sort(), [
      "secure-etcd/payments/dev/g2/dev-cp-1",
      "secure-etcd/payments/dev/g2/encryption-keys",
    ]);
    const key = JSON.stringify(b.mocks.named("payments-secrets-key").inputs.policy);
    assert.ok(
      key.includes("secure-etcd/payments/dev/g2/dev-cp-1-??????"),
      "the key policy names the new secret",
    );
    assert.equal(b.etcd.secretStore!.secretNames["dev-cp-1"], "secure-etcd/payments/dev/g2/dev-cp-1");
  });
});

/** The snapshot key's and bucket's policies, once registered (the secret store's outputs settle first). */
async function snapshotPolicies(b: Built): Promise<string[]> {
  await valueOf(pulumi.all([b.etcd.snapshotStore!.kmsKeyArn, b.etcd.snapshotStore!.writerPolicyJson]));
  for (let i = 0; i < 300 && !b.mocks.resources.some((r) => r.name === "payments-snapshots-policy"); i++)
    await new Promise((r) => setTimeout(r, 10));
  return [
    b.mocks.named("payments-snapshots-key").inputs.policy,
    b.mocks.named("payments-snapshots-policy").inputs.policy,
  ].map(String);
}

describe("secret store: partitions other than aws", () => {
  it("aws-cn: no arn:aws: and no bare .amazonaws.com anywhere in the rendered policies", async () => {
    const b = await buildSecureEtcd(
      "dev",
      {},
      {
        callerArn: `arn:aws-cn:iam::${ACCOUNT}:user/deployer`,
        partition: { partition: "aws-cn", dnsSuffix: "amazonaws.com.cn", region: "cn-north-1" },
      },
    );
    const policies = [
      b.mocks.named("payments-secrets-key").inputs.policy,
      b.mocks.named("payments-secrets-dev-cp-1-policy").inputs.policy,
      b.mocks.named("payments-secrets-dev-cp-1-role").inputs.assumeRolePolicy,
      ...(await snapshotPolicies(b)),
    ].map(String);
    for (const p of policies) {
      assert.doesNotMatch(p, /arn:aws:/, p);
      assert.doesNotMatch(p, /\.amazonaws\.com(?!\.cn)/, p);
    }
    assert.match(policies[0], /secretsmanager\.cn-north-1\.amazonaws\.com\.cn/);
    assert.match(
      policies[2],
      /"ec2\.amazonaws\.com\.cn"/,
      "the service principal from aws.getServicePrincipal",
    );
  });

  it("a region's partition from its name: cn-*, us-gov-*, us-iso*", () => {
    assert.deepEqual(
      ["eu-west-1", "cn-north-1", "us-gov-west-1", "us-iso-east-1", "us-isob-east-1"].map(partitionOfRegion),
      ["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b"],
    );
  });

  it("a secret store replica in another partition is refused when the stack's is known", async () => {
    const b = await construct("dev", { "secure-etcd:secretStore": { replicaRegion: "cn-north-1" } }, {});
    await assertOutputConfigError(b.etcd.secretStore!.replicaKmsKeyArn, {
      path: "secretStore.replicaRegion",
      message: /is in partition "aws-cn", but this stack deploys to "aws"/,
    });
  });
});

describe("secret store: the read policy is pure and exact", () => {
  it("the Deny names exactly the other keys (NotResource) for exactly this secret", () => {
    const arn = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:secure-etcd/p/dev/cp-1-AbCdEf`;
    const key = `arn:aws:kms:${REGION}:${ACCOUNT}:key/k`;
    const d = secretReadPolicy({
      secretArn: arn,
      kmsKeyArn: key,
      region: REGION,
      dnsSuffix: "amazonaws.com",
    });
    assert.deepEqual(d.Statement[2], {
      Sid: "NeverDecryptOwnSecretUnderAnotherKey",
      Effect: "Deny",
      Action: "kms:Decrypt",
      NotResource: key,
      Condition: { StringEquals: { "kms:EncryptionContext:SecretARN": arn } },
    });
  });
});
