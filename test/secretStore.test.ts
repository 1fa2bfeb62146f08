import { strict as assert } from "node:assert";
import { assertThrowsConfigError } from "./support/configErrors";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, settingsFromStackConfig } from "../components";
import type { PolicyDocument, PolicyStatement } from "../components/backup/policies";
import { renderCostTable, secretStoreCostOf, secretStoreMonthlyCost } from "../components/cost";
import { prices } from "../components/cost/prices";
import { parseNodeBundle } from "../components/secretStore/bundle";
import { secretStoreDefaults } from "../components/secretStore/defaults";
import {
  KMS_ADMIN_ACTIONS,
  SECRET_WRITE_ACTIONS,
  secretReadPolicy,
} from "../components/secretStore/policies";
import { isSecretValue } from "./support/registrationSpy";
import { valueOf } from "./support/recordingMocks";
import { buildSecureEtcd, type Built } from "./support/secureEtcdUnderMocks";
import { readStackConfig, repoRoot, stackNames, toPulumiConfig } from "./support/stackFiles";

const ACCOUNT = "123456789012";
const REGION = "us-east-1"; // what the mocks' aws.getRegion answers
const T = {
  key: "aws:kms/key:Key",
  alias: "aws:kms/alias:Alias",
  secret: "aws:secretsmanager/secret:Secret",
  version: "aws:secretsmanager/secretVersion:SecretVersion",
  policy: "aws:secretsmanager/secretPolicy:SecretPolicy",
  role: "aws:iam/role:Role",
  profile: "aws:iam/instanceProfile:InstanceProfile",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
  randomBytes: "random:index/randomBytes:RandomBytes",
};
const roleArnOf = (resourceName: string) => `arn:aws:iam::${ACCOUNT}:role/${resourceName}`;
const deployer = `arn:aws:iam::${ACCOUNT}:user/emulated`;

/** A recorded input as the provider would see it (secret envelopes opened). */
const plain = (v: unknown): string => String(isSecretValue(v) ? (v as { value: unknown }).value : v);
const doc = (json: unknown): PolicyDocument => JSON.parse(String(json)) as PolicyDocument;
const statement = (d: PolicyDocument, sid: string): PolicyStatement => {
  const s = d.Statement.find((x) => x.Sid === sid);
  assert.ok(s, `no statement ${sid} in ${JSON.stringify(d)}`);
  return s;
};
const asList = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
/** IAM StringLike: `?` one character, `*` any run. */
const globMatches = (pattern: string, value: string) =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\?/g, ".")
      .replace(/\*/g, ".*")}$`,
  ).test(value);

describe("secret store under mocks: the KMS key and its policy (prod: 5 members, replicated)", () => {
  let b: Built;
  before(async () => {
    b = await buildSecureEtcd("prod");
  });

  it("one customer-managed key with rotation, the configured deletion window, an alias per cluster/env", () => {
    const key = b.mocks.named("payments-secrets-key").inputs;
    assert.equal(key.enableKeyRotation, true);
    assert.equal(key.deletionWindowInDays, 30);
    assert.equal(key.region, undefined, "the stack's region");
    assert.equal(
      b.mocks.named("payments-secrets-key-alias").inputs.name,
      "alias/secure-etcd/payments-prod-secrets",
    );
  });

  it("key and replica key are protect + retainOnDelete; their aliases are not (a rebuild re-creates them)", () => {
    for (const name of ["payments-secrets-key", "payments-secrets-replica-key"]) {
      const r = b.log.find((x) => x.name === name);
      assert.ok(r?.protect && r.retainOnDelete, name);
      const alias = b.log.find((x) => x.name === `${name}-alias`);
      assert.ok(alias && !alias.protect && !alias.retainOnDelete, `${name}-alias`);
    }
  });

  it("the account root and the deployer administer it, with no cryptographic action and no grants", () => {
    const admin = statement(doc(b.mocks.named("payments-secrets-key").inputs.policy), "AdministerKey");
    assert.deepEqual(admin.Principal, { AWS: [`arn:aws:iam::${ACCOUNT}:root`, deployer] });
    const actions = asList(admin.Action);
    assert.deepEqual(actions, [...KMS_ADMIN_ACTIONS]);
    for (const forbidden of [
      "kms:*",
      "kms:Decrypt",
      "kms:Encrypt",
      "kms:GenerateDataKey",
      "kms:ReEncrypt*",
      "kms:CreateGrant",
    ])
      assert.ok(!actions.includes(forbidden), forbidden);
  });

  it("the deployer writes and reads only through Secrets Manager (its region and the replica's)", () => {
    const s = statement(
      doc(b.mocks.named("payments-secrets-key").inputs.policy),
      "DeployersWriteAndReadThroughSecretsManager",
    );
    assert.deepEqual(s.Principal, { AWS: deployer });
    assert.deepEqual(s.Action, ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]);
    assert.deepEqual(s.Condition, {
      StringEquals: {
        "kms:ViaService": [
          `secretsmanager.${REGION}.amazonaws.com`,
          "secretsmanager.eu-central-1.amazonaws.com",
        ],
      },
    });
  });

  it("each member role may only kms:Decrypt, only via Secrets Manager, only for its own secret", async () => {
    const policy = doc(b.mocks.named("payments-secrets-key").inputs.policy);
    const arns = await valueOf(pulumi.all(b.etcd.secretStore!.secretArns));
    b.members.forEach((m, i) => {
      const s = statement(policy, `DecryptMember${i + 1}${m.replace(/-/g, "")}ThroughSecretsManager`);
      assert.deepEqual(s.Principal, { AWS: roleArnOf(`payments-secrets-${m}-role`) });
      assert.equal(s.Action, "kms:Decrypt");
      const pattern = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:secure-etcd/payments/prod/${m}-??????`;
      assert.deepEqual(s.Condition, {
        StringEquals: { "kms:ViaService": `secretsmanager.${REGION}.amazonaws.com` },
        StringLike: { "kms:EncryptionContext:SecretARN": pattern },
      });
      for (const [other, arn] of Object.entries(arns))
        assert.equal(globMatches(pattern, arn), other === m, `${m}'s pattern vs ${other}'s secret ${arn}`);
    });
    const principals = policy.Statement.flatMap((s) =>
      typeof s.Principal === "object" ? asList(s.Principal.AWS) : [String(s.Principal)],
    );
    assert.ok(!principals.includes("*"), "no statement names every principal");
  });

  it("the replica region's key: its own alias, no node may use it", () => {
    const replica = b.mocks.named("payments-secrets-replica-key").inputs;
    assert.equal(replica.region, "eu-central-1");
    assert.equal(replica.enableKeyRotation, true);
    const alias = b.mocks.named("payments-secrets-replica-key-alias").inputs;
    assert.deepEqual(
      [alias.name, alias.region],
      ["alias/secure-etcd/payments-prod-secrets-replica", "eu-central-1"],
    );
    assert.deepEqual(
      doc(replica.policy).Statement.map((s) => s.Sid),
      ["AdministerKey", "DeployersWriteAndReadThroughSecretsManager"],
    );
  });
});

describe("secret store under mocks: the secrets and their resource policies", () => {
  let b: Built;
  before(async () => {
    b = await buildSecureEtcd("prod");
  });

  it("one secret per member under the key, with the prod recovery window, tags and a replica", async () => {
    const keyArn = await valueOf(b.etcd.secretStore!.kmsKeyArn);
    const replicaKeyArn = await valueOf(b.etcd.secretStore!.replicaKmsKeyArn!);
    for (const m of b.members) {
      const s = b.mocks.named(`payments-secrets-${m}`).inputs;
      assert.equal(s.name, `secure-etcd/payments/prod/${m}`);
      assert.equal(s.kmsKeyId, keyArn);
      assert.equal(s.recoveryWindowInDays, secretStoreDefaults.prod.recoveryWindowDays);
      assert.deepEqual(s.replicas, [{ region: "eu-central-1", kmsKeyId: replicaKeyArn }]);
      assert.deepEqual(s.tags, {
        "secure-etcd:cluster": "payments",
        "secure-etcd:environment": "prod",
        "secure-etcd:purpose": "etcd-node-bundle",
        "secure-etcd:member": m,
      });
    }
    assert.equal(b.mocks.ofType(T.secret).length, b.members.length + 1, "members + the key archive");
  });

  it("the key archive is protect + retainOnDelete; member secrets are neither (removing a member must not abort the update)", () => {
    const archive = b.log.find((r) => r.name === "payments-secrets-archive")!;
    assert.ok(archive.protect && archive.retainOnDelete, "archive");
    for (const m of b.members) {
      const secret = b.log.find((r) => r.name === `payments-secrets-${m}`)!;
      assert.ok(!secret.protect && !secret.retainOnDelete, m);
    }
    for (const m of [...b.members, "archive"]) {
      // They go with their secret: Pulumi never strips the policy off a secret that still exists.
      for (const child of ["version", "policy"])
        assert.ok(
          b.log.find((r) => r.name === `payments-secrets-${m}-${child}`)?.retainOnDelete,
          `${m}-${child}`,
        );
    }
  });

  it("only the member's role and the deployer may read a member's secret; BlockPublicPolicy on", async () => {
    const arns = await valueOf(pulumi.all(b.etcd.secretStore!.secretArns));
    for (const m of b.members) {
      const p = b.mocks.named(`payments-secrets-${m}-policy`).inputs;
      assert.equal(p.blockPublicPolicy, true);
      assert.equal(p.secretArn, arns[m]);
      const d = doc(p.policy);
      const role = roleArnOf(`payments-secrets-${m}-role`);
      assert.deepEqual(statement(d, "ReadersMayRead"), {
        Sid: "ReadersMayRead",
        Effect: "Allow",
        Principal: { AWS: role },
        Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
        Resource: "*", // this secret and its replicas (a resource policy is copied to every replica)
      });
      assert.deepEqual(statement(d, "NobodyElseReads"), {
        Sid: "NobodyElseReads",
        Effect: "Deny",
        Principal: "*",
        Action: "secretsmanager:GetSecretValue",
        Resource: "*", // this secret and its replicas (a resource policy is copied to every replica)
        Condition: { ArnNotEquals: { "aws:PrincipalArn": [role, deployer] } },
      });
      assert.deepEqual(statement(d, "OnlyDeployersWrite"), {
        Sid: "OnlyDeployersWrite",
        Effect: "Deny",
        Principal: "*",
        Action: [...SECRET_WRITE_ACTIONS],
        Resource: "*",
        Condition: { ArnNotEquals: { "aws:PrincipalArn": [deployer] } },
      });
      for (const other of b.members.filter((o) => o !== m))
        assert.ok(!String(p.policy).includes(`-${other}-role`), `${other}'s role is not in ${m}'s policy`);
    }
  });

  it("the key archive: every local key (archived ones too), and no node role may read it", async () => {
    const p = b.mocks.named("payments-secrets-archive-policy").inputs;
    assert.equal(p.blockPublicPolicy, true);
    const d = doc(p.policy);
    assert.deepEqual(
      d.Statement.map((s) => s.Sid),
      ["NobodyElseReads", "OnlyDeployersWrite"],
    );
    assert.deepEqual(statement(d, "NobodyElseReads").Condition, {
      ArnNotEquals: { "aws:PrincipalArn": [deployer] },
    });
    assert.equal(
      b.mocks.named("payments-secrets-archive").inputs.name,
      "secure-etcd/payments/prod/encryption-keys",
    );
    assert.equal(b.mocks.named("payments-secrets-archive").inputs.recoveryWindowInDays, 30);
    const archive = JSON.parse(
      plain(b.mocks.named("payments-secrets-archive-version").inputs.secretString),
    ) as {
      keys: { name: string; state: string; provider: string; secret: string }[];
    };
    const bytes = b.mocks.named("payments-enc-prod-2026-09").inputs;
    assert.equal(bytes.length, 32);
    assert.deepEqual(
      archive.keys.map((k) => [k.name, k.state, k.provider, Buffer.from(k.secret, "base64").length]),
      [["prod-2026-09", "retired", "secretbox", 32]],
      "the kms primary has no local material; the retired secretbox key is archived",
    );
  });

  it("every bundle and the key archive reach the provider as secret inputs", () => {
    for (const m of [...b.members, "archive"]) {
      const v = b.log.find((r) => r.name === `payments-secrets-${m}-version`)!;
      assert.deepEqual(v.secretProps, ["secretString"], m);
    }
  });

  it("each member's secret holds exactly its node bundle, and nodeBundles are secret outputs", async () => {
    for (const m of b.members) {
      assert.equal(await pulumi.isSecret(b.etcd.nodeBundles[m]), true, m);
      const stored = plain(b.mocks.named(`payments-secrets-${m}-version`).inputs.secretString);
      assert.equal(stored, await valueOf(b.etcd.nodeBundles[m]));
      const bundle = parseNodeBundle(stored);
      assert.deepEqual([bundle.cluster, bundle.environment, bundle.member], ["payments", "prod", m]);
      assert.deepEqual(
        bundle.keys.map((k) => `${k.state}:${k.provider}:${k.name}`),
        ["primary:kms:aws-kms-prod", "retired:secretbox:prod-2026-09"],
      );
      assert.match(
        bundle.files.find((f) => f.role === "server-key")!.content,
        new RegExp(`payments-server-${m}-key`),
      );
      assert.equal(bundle.files[bundle.files.length - 1].role, "etcd-manifest");
    }
  });
});

/**
 * Every statement names its resources without a wildcard (only a trust policy's AssumeRole has none),
 * and every kms statement carries both conditions.
 */
function assertNoWildcardResources(name: string, d: PolicyDocument): void {
  for (const s of d.Statement) {
    const resources = asList(s.Resource);
    if (s.Effect === "Deny" && s.NotResource !== undefined) {
      // A deny of everything BUT the one key: it narrows, never grants.
      assert.ok(!/[*?]/.test(String(s.NotResource)), `${name} ${s.Sid}: NotResource names the key`);
      continue;
    }
    if (resources.length === 0)
      assert.equal(s.Action, "sts:AssumeRole", `${name} ${s.Sid}: names its resources`);
    for (const r of resources) assert.ok(!/[*?]/.test(r), `${name} ${s.Sid}: ${r} has a wildcard`);
    if (asList(s.Action).some((a) => a.startsWith("kms:"))) {
      const c = s.Condition?.StringEquals ?? {};
      assert.ok(
        c["kms:ViaService"] && c["kms:EncryptionContext:SecretARN"],
        `${name} ${s.Sid}: kms conditions`,
      );
    }
  }
}

describe("secret store under mocks: least-privilege IAM", () => {
  let b: Built;
  before(async () => {
    b = await buildSecureEtcd("staging");
  });

  it("one role per member that only EC2 may assume, with an instance profile", async () => {
    const profiles = await valueOf(pulumi.all(b.etcd.secretStore!.nodeInstanceProfileNames));
    for (const m of b.members) {
      const trust = doc(b.mocks.named(`payments-secrets-${m}-role`).inputs.assumeRolePolicy);
      assert.deepEqual(trust.Statement, [
        { Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" },
      ]);
      assert.equal(b.mocks.named(`payments-secrets-${m}-profile`).inputs.role, `payments-secrets-${m}-role`);
      assert.equal(profiles[m], `payments-secrets-${m}-profile`);
    }
    assert.deepEqual(
      await valueOf(pulumi.all(b.etcd.secretStore!.nodeRoleArns)),
      Object.fromEntries(b.members.map((m) => [m, roleArnOf(`payments-secrets-${m}-role`)])),
    );
  });

  it("each role's policy reads only its own secret and decrypts only through Secrets Manager for it", async () => {
    const arns = await valueOf(pulumi.all(b.etcd.secretStore!.secretArns));
    const keyArn = await valueOf(b.etcd.secretStore!.kmsKeyArn);
    const outputs = await valueOf(pulumi.all(b.etcd.secretStore!.nodeSecretPolicyJson));
    for (const m of b.members) {
      const rp = b.mocks.named(`payments-secrets-${m}-read`).inputs;
      assert.equal(rp.role, `payments-secrets-${m}-role`);
      assert.equal(rp.policy, outputs[m], "the output is the attached document");
      assert.deepEqual(
        doc(rp.policy),
        secretReadPolicy({
          secretArn: arns[m],
          kmsKeyArn: keyArn,
          region: REGION,
          dnsSuffix: "amazonaws.com",
        }),
      );
      assert.deepEqual(doc(rp.policy).Statement[1].Condition, {
        StringEquals: {
          "kms:ViaService": `secretsmanager.${REGION}.amazonaws.com`,
          "kms:EncryptionContext:SecretARN": arns[m],
        },
      });
    }
  });

  it("no wildcard resource in any statement of any IAM document the secret store makes", async () => {
    const docs: [string, PolicyDocument][] = [
      ...b.mocks
        .ofType(T.rolePolicy)
        .filter((r) => r.name.startsWith("payments-secrets-"))
        .map((r): [string, PolicyDocument] => [r.name, doc(r.inputs.policy)]),
      ...b.mocks
        .ofType(T.role)
        .filter((r) => r.name.startsWith("payments-secrets-"))
        .map((r): [string, PolicyDocument] => [r.name, doc(r.inputs.assumeRolePolicy)]),
    ];
    assert.equal(docs.length, 2 * b.members.length);
    for (const [name, d] of docs) assertNoWildcardResources(name, d);
  });

  it("resource and key policies name only themselves (`*` there means this secret / this key) and no broad principal", () => {
    const policies = [
      ...b.mocks.ofType(T.policy).map((r) => doc(r.inputs.policy)),
      ...b.mocks
        .ofType(T.key)
        .filter((r) => r.name.startsWith("payments-secrets-"))
        .map((r) => doc(r.inputs.policy)),
    ];
    assert.equal(policies.length, b.members.length + 2);
    for (const d of policies)
      for (const s of d.Statement) {
        assert.equal(s.Resource, "*", s.Sid);
        if (s.Effect === "Allow") assert.notEqual(s.Principal, "*", s.Sid);
        if (s.Principal === "*")
          assert.ok(s.Effect === "Deny" && s.Condition, `${s.Sid}: only a conditioned deny names everyone`);
      }
  });

  it("pure renderers refuse what is not an exact secret ARN (a pattern or a name would widen the grant)", () => {
    const keyArn = `arn:aws:kms:${REGION}:${ACCOUNT}:key/k`;
    for (const secretArn of [
      "secure-etcd/payments/dev/cp-1",
      `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:secure-etcd/x-??????`,
      `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:*`,
    ]) {
      assertThrowsConfigError(
        () => secretReadPolicy({ secretArn, kmsKeyArn: keyArn, region: REGION, dnsSuffix: "amazonaws.com" }),
        {
          path: "secretArn",
          message: /is not an ARN of the expected form/,
        },
      );
    }
  });
});

describe("secret store under mocks: roles, deployers and readers you bring", () => {
  it("secretStore.nodeRoles: the policy goes onto your role; no role or profile is made for that member", async () => {
    const b = await buildSecureEtcd("staging", {
      "secure-etcd:secretStore": { nodeRoles: { "stg-cp-2": "payments-cp-2" } },
    });
    assert.ok(
      b.mocks.calls.some((c) => c.token === "aws:iam/getRole:getRole" && c.inputs.name === "payments-cp-2"),
    );
    assert.deepEqual(
      b.mocks
        .ofType(T.role)
        .filter((r) => r.name.startsWith("payments-secrets-"))
        .map((r) => r.name),
      ["payments-secrets-stg-cp-1-role", "payments-secrets-stg-cp-3-role"],
    );
    assert.equal(b.mocks.named("payments-secrets-stg-cp-2-read").inputs.role, "payments-cp-2");
    const mine = roleArnOf("payments-cp-2");
    assert.deepEqual(
      statement(
        doc(b.mocks.named("payments-secrets-key").inputs.policy),
        "DecryptMember2stgcp2ThroughSecretsManager",
      ).Principal,
      { AWS: mine },
    );
    assert.match(String(b.mocks.named("payments-secrets-stg-cp-2-policy").inputs.policy), new RegExp(mine));
    assert.deepEqual(Object.keys(await valueOf(pulumi.all(b.etcd.secretStore!.nodeInstanceProfileNames))), [
      "stg-cp-1",
      "stg-cp-3",
    ]);
    assert.equal((await valueOf(pulumi.all(b.etcd.secretStore!.nodeRoleArns)))["stg-cp-2"], mine);
  });

  it("an assumed-role deployer is named by its role ARN (getSessionContext's issuerArn), not the session", async () => {
    const b = await buildSecureEtcd(
      "dev",
      {},
      { callerArn: `arn:aws:sts::${ACCOUNT}:assumed-role/ci-deployer/run-42` },
    );
    const role = `arn:aws:iam::${ACCOUNT}:role/ci-deployer`;
    assert.ok(b.mocks.calls.some((c) => c.token === "aws:iam/getSessionContext:getSessionContext"));
    const key = doc(b.mocks.named("payments-secrets-key").inputs.policy);
    assert.deepEqual(statement(key, "DeployersWriteAndReadThroughSecretsManager").Principal, { AWS: role });
    const deny = statement(
      doc(b.mocks.named("payments-secrets-dev-cp-1-policy").inputs.policy),
      "NobodyElseReads",
    );
    assert.deepEqual(deny.Condition, {
      ArnNotEquals: { "aws:PrincipalArn": [roleArnOf("payments-secrets-dev-cp-1-role"), role] },
    });
    assert.ok(!JSON.stringify(key).includes("assumed-role"));
  });

  it("an IAM user deployer needs no session lookup", async () => {
    const b = await buildSecureEtcd("dev");
    assert.ok(!b.mocks.calls.some((c) => c.token === "aws:iam/getSessionContext:getSessionContext"));
  });

  it("restoreReaderRoleArn may read (and decrypt) the key archive, and nothing else", async () => {
    const reader = `arn:aws:iam::${ACCOUNT}:role/etcd-restore`;
    const b = await buildSecureEtcd("dev", { "secure-etcd:secretStore": { restoreReaderRoleArn: reader } });
    const archiveArn = await valueOf(b.etcd.secretStore!.keyArchiveSecretArn);
    const d = doc(b.mocks.named("payments-secrets-archive-policy").inputs.policy);
    assert.deepEqual(statement(d, "ReadersMayRead").Principal, { AWS: reader });
    assert.deepEqual(statement(d, "NobodyElseReads").Condition, {
      ArnNotEquals: { "aws:PrincipalArn": [reader, deployer] },
    });
    const s = statement(
      doc(b.mocks.named("payments-secrets-key").inputs.policy),
      "DecryptRestoreReaderThroughSecretsManager",
    );
    assert.deepEqual(s.Principal, { AWS: reader });
    assert.ok(globMatches(String(s.Condition!.StringLike["kms:EncryptionContext:SecretARN"]), archiveArn));
    assert.ok(!String(b.mocks.named("payments-secrets-dev-cp-1-policy").inputs.policy).includes(reader));
    const readerPolicy = doc(await valueOf(b.etcd.secretStore!.keyArchiveReaderPolicyJson!));
    assert.equal(readerPolicy.Statement[0].Resource, archiveArn);
    assertNoWildcardResources("keyArchiveReaderPolicyJson", readerPolicy);
  });

  it("dev: 7-day recovery window; secretStore.enabled=false creates no secret store", async () => {
    const dev = await buildSecureEtcd("dev");
    assert.equal(dev.mocks.named("payments-secrets-dev-cp-1").inputs.recoveryWindowInDays, 7);
    assert.equal(dev.mocks.named("payments-secrets-archive").inputs.recoveryWindowInDays, 30);
    const off = await buildSecureEtcd("dev", {
      "secure-etcd:secretStore": { enabled: false },
      // Without node roles the snapshot writers must be named.
      "secure-etcd:backup": { writerRoleArns: [`arn:aws:iam::${ACCOUNT}:role/snapshot-job`] },
    });
    for (const t of [T.key, T.secret, T.version, T.policy, T.role, T.profile])
      assert.equal(off.mocks.ofType(t).filter((r) => r.name.startsWith("payments-secrets")).length, 0, t);
    assert.equal(off.etcd.nodeUserData, undefined);
    assert.equal(off.etcd.secretStore, undefined);
  });
});

function problemsOf(overrides: Record<string, unknown>, stack = "dev"): { path: string; message: string }[] {
  try {
    settingsFromStackConfig({ ...readStackConfig(stack), ...toPulumiConfig(overrides) }, stack);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return assert.fail("expected a ConfigError");
}

describe("secretStore config", () => {
  it("defaults per environment; every stack resolves", () => {
    const expect = { local: 30, dev: 7, staging: 14, prod: 30 };
    for (const stack of stackNames) {
      const s = settingsFromStackConfig(readStackConfig(stack), stack).secretStore;
      assert.ok(s.enabled, stack);
      assert.equal(s.recoveryWindowDays, expect[stack], stack);
      assert.equal(s.kmsKeyDeletionWindowDays, 30);
      assert.equal(s.bootstrapIntervalMinutes, 5);
      assert.equal(s.offlineCloudInit, false);
    }
  });

  for (const [title, value, key, fragment] of [
    ["recovery window below 7", { recoveryWindowDays: 6 }, "secretStore.recoveryWindowDays", "from 7 to 30"],
    [
      "recovery window above 30",
      { recoveryWindowDays: "31" },
      "secretStore.recoveryWindowDays",
      "from 7 to 30",
    ],
    [
      "KMS deletion window",
      { kmsKeyDeletionWindowDays: 3 },
      "secretStore.kmsKeyDeletionWindowDays",
      "from 7 to 30",
    ],
    [
      "bootstrap interval 0",
      { bootstrapIntervalMinutes: 0 },
      "secretStore.bootstrapIntervalMinutes",
      "minutes from 1 to 60",
    ],
    [
      "bootstrap interval 61",
      { bootstrapIntervalMinutes: 61 },
      "secretStore.bootstrapIntervalMinutes",
      "minutes from 1 to 60",
    ],
    ["replica region", { replicaRegion: "Europe" }, "secretStore.replicaRegion", "AWS region"],
    [
      "role name",
      { nodeRoles: { "dev-cp-1": "bad role" } },
      "secretStore.nodeRoles.dev-cp-1",
      "IAM role name",
    ],
    [
      "reader ARN",
      { restoreReaderRoleArn: "etcd-restore" },
      "secretStore.restoreReaderRoleArn",
      "IAM role ARN",
    ],
    ["unknown key", { recoveryDays: 7 }, "secure-etcd:secretStore", '"recoveryDays"'],
    [
      "unknown member in nodeRoles",
      { nodeRoles: { "cp-9": "r" } },
      "secretStore.nodeRoles.cp-9",
      'allowed keys: "dev-cp-1"',
    ],
  ] as const)
    it(`${title} → ${key}`, () => {
      const p = problemsOf({ "secure-etcd:secretStore": value });
      const found = p.find((x) => x.path === (key.startsWith("secure-etcd:") ? key : `secure-etcd:${key}`));
      assert.ok(found, JSON.stringify(p));
      assert.ok(found.message.includes(fragment), found.message);
    });

  it("offlineCloudInit is refused for prod, naming the key and why", () => {
    const p = problemsOf({ "secure-etcd:secretStore": { offlineCloudInit: true } }, "prod");
    assert.equal(p[0].path, "secure-etcd:secretStore.offlineCloudInit");
    assert.match(p[0].message, /refused for environment "prod".*user data/);
  });

  it("a member may not be called like the key archive", () => {
    const p = problemsOf({ "secure-etcd:members": [{ name: "encryption-keys", ip: "10.0.0.1" }] });
    assert.ok(
      p.some((x) => x.path === "secure-etcd:members[0].name" && x.message.includes("reserved")),
      JSON.stringify(p),
    );
  });
});

describe("secret store cost", () => {
  const rows = stackNames.map((stack) =>
    secretStoreCostOf(settingsFromStackConfig(readStackConfig(stack), stack))!,
  );

  it("the docs' cost table (docs/secrets-on-nodes.md) is the cost function's output for the shipped stacks", () => {
    const page = fs.readFileSync(path.join(repoRoot, "docs", "secrets-on-nodes.md"), "utf8");
    const m = /<!-- cost-table:start -->\n([\s\S]*?)\n<!-- cost-table:end -->/.exec(page);
    assert.ok(m, "docs/secrets-on-nodes.md has the cost table markers");
    assert.equal(m[1], renderCostTable(rows));
  });

  it("counts secrets (members + archive, replicas double), keys, and the timer's calls", () => {
    const dev = secretStoreMonthlyCost({
      environment: "dev",
      members: 1,
      replicated: false,
      bootstrapIntervalMinutes: 5,
    });
    assert.deepEqual([dev.secrets, dev.kmsKeys, dev.apiCallsPerMonth], [2, 1, 8760]);
    assert.equal(
      dev.totalFirstYearUsd.toFixed(4),
      (2 * 0.4 + 1 + (8760 / 10_000) * (0.05 + 0.03)).toFixed(4),
    );
    const prod = rows.find((r) => r.environment === "prod")!;
    assert.deepEqual([prod.secrets, prod.kmsKeys], [12, 2]);
    assert.equal(
      prod.kmsKeysFromYear3Usd,
      2 * (prices.kmsKeyPerMonth + 2 * prices.kmsRotatedBackingKeyPerMonth),
    );
  });
});

describe("archived keys: in the key archive, not in the bundles", () => {
  it("an archived key stays in the archive (with archivedOn) and leaves every node bundle", async () => {
    const b = await buildSecureEtcd("dev", {
      "secure-etcd:encryption": {
        keys: [
          { name: "dev-key-2", state: "primary" },
          { name: "dev-key-1", state: "archived", archivedOn: "2026-11-02" },
        ],
      },
    });
    const archive = JSON.parse(
      plain(b.mocks.named("payments-secrets-archive-version").inputs.secretString),
    ) as {
      keys: { name: string; state: string; archivedOn?: string }[];
    };
    assert.deepEqual(
      archive.keys.map((k) => [k.name, k.state, k.archivedOn]),
      [
        ["dev-key-2", "primary", undefined],
        ["dev-key-1", "archived", "2026-11-02"],
      ],
    );
    const bundle = parseNodeBundle(await valueOf(b.etcd.nodeBundles["dev-cp-1"]));
    // Named as archived (no material: it tells a node that missed rotation steps what happened), and out of
    // the EncryptionConfiguration.
    assert.deepEqual(bundle.keys, [
      { state: "primary", provider: "secretbox", name: "dev-key-2" },
      { state: "archived", provider: "secretbox", name: "dev-key-1" },
    ]);
    const config = bundle.files.find((f) => f.role === "encryption-config")!.content;
    assert.ok(!config.includes("dev-key-1"), "the archived key is out of the EncryptionConfiguration");
  });
});
