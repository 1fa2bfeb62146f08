import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, settingsFromStackConfig } from "../components";
import type { PolicyDocument } from "../components/backup/policies";
import { SERVICE_TRUST_WITHOUT_SOURCE } from "../components/secretStore/policies";
import { assertOutputConfigError } from "./support/configErrors";
import { runProgram } from "./support/program";
import { RecordingMocks, valueOf } from "./support/recordingMocks";
import { mockMonitorPrototype, spyOnRegistrations, type Registration } from "./support/registrationSpy";
import { buildSecureEtcd } from "./support/secureEtcdUnderMocks";
import { readStackConfig, stackNames, toPulumiConfig } from "./support/stackFiles";

/*
 * Day-2 classes of the AWS side (issue 18), those not covered beside their component's tests: each is
 * checked at preview (a ConfigError naming the key), or made safe as a lifecycle. The others:
 * secretStoreAccess.test.ts (a second deployer, a rebuild beside retained secrets, aws-cn) and
 * snapshotStore.test.ts (auto-named bucket characters, replication failures, retained bucket configs,
 * replica regions, writer/reader ARNs). docs/aws-access.md lists each class with its test.
 */

const ACCOUNT = "123456789012";

function problemsOf(stack: string, overrides: Record<string, unknown>): { path: string; message: string }[] {
  try {
    settingsFromStackConfig({ ...readStackConfig(stack), ...toPulumiConfig(overrides) }, stack);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return assert.fail("expected a ConfigError");
}

function problemAt(stack: string, overrides: Record<string, unknown>, path: string, message: RegExp): void {
  const p = problemsOf(stack, overrides).find((x) => x.path === `secure-etcd:${path}`);
  assert.ok(p, `no problem at secure-etcd:${path}: ${JSON.stringify(problemsOf(stack, overrides))}`);
  assert.match(p.message, message);
}

describe("day 2: optional ARNs in config (shape at preview; partition and account once the stack's are known)", () => {
  it("deployerPrincipalArns: roles or users, never sessions; no duplicates", () => {
    problemAt(
      "dev",
      { "secure-etcd:deployerPrincipalArns": [`arn:aws:sts::${ACCOUNT}:assumed-role/ci/run-1`] },
      "deployerPrincipalArns[0]",
      /is not an IAM role or user ARN.*not a session's/,
    );
    const ci = `arn:aws:iam::${ACCOUNT}:role/ci`;
    problemAt(
      "dev",
      { "secure-etcd:deployerPrincipalArns": [ci, ci] },
      "deployerPrincipalArns[1]",
      /listed twice/,
    );
  });

  it("backup.writerRoleArns and backup.restoreReaderRoleArn are role ARNs", () => {
    problemAt(
      "dev",
      { "secure-etcd:backup": { writerRoleArns: ["node-role"] } },
      "backup.writerRoleArns[0]",
      /IAM role ARN/,
    );
    problemAt(
      "dev",
      { "secure-etcd:backup": { restoreReaderRoleArn: "restore" } },
      "backup.restoreReaderRoleArn",
      /IAM role ARN/,
    );
  });

  it("secretStore.restoreReaderRoleArn of another account is refused when the stack's account is known", async () => {
    const b = await buildSecureEtcd("dev", {
      "secure-etcd:secretStore": { restoreReaderRoleArn: "arn:aws:iam::210987654321:role/etcd-restore" },
    }).catch((e: unknown) => e);
    assert.ok(b instanceof ConfigError, String(b));
    assert.ok(
      b.problems.some(
        (p) => p.path === "secretStore.restoreReaderRoleArn" && /account 210987654321/.test(p.message),
      ),
    );
  });

  it("backup.oidc.providerArn of another account is refused when the stack's account is known", async () => {
    const b = await buildSecureEtcd("dev", {
      "secure-etcd:backup": {
        oidc: {
          providerArn: "arn:aws:iam::210987654321:oidc-provider/oidc.example.com/x",
          providerUrl: "https://oidc.example.com/x",
        },
      },
    });
    await assertOutputConfigError(b.etcd.snapshotStore!.roleArn, {
      path: "oidc.providerArn",
      message: /account 210987654321/,
    });
  });

  it("snapshots without IRSA and without the secret store's node roles must name their writers", () => {
    problemAt(
      "dev",
      { "secure-etcd:secretStore": { enabled: false } },
      "backup.writerRoleArns",
      /is required when snapshots are on without backup.oidc and without the secret store's node roles/,
    );
  });
});

describe("day 2: names AWS rejects that only length checks guarded", () => {
  it("an inline IAM policy name over 128 characters is refused at preview, naming the member", () => {
    const member = "m".repeat(45);
    problemAt(
      "dev",
      {
        "secure-etcd:clusterName": "c".repeat(30),
        "secure-etcd:environment": "e".repeat(50),
        "secure-etcd:members": [{ name: member, ip: "10.0.0.1" }],
        // A role you bring: the role-name limit (64) does not stop this name length first.
        "secure-etcd:secretStore": { nodeRoles: { [member]: "cp-role" } },
        "secure-etcd:backup": {
          bucketName: "payments-dev-snaps",
          schedule: "0 * * * *",
          retentionDays: 7,
          noncurrentVersionDays: 1,
        },
      },
      "members[0].name",
      /inline IAM policy name "secure-etcd-c+-e+-m+(-snapshots)?" 1[0-9]{2} characters long; IAM allows 128/,
    );
  });

  it("secretStore.generation is a whole number from 1 to 99", () => {
    problemAt(
      "dev",
      { "secure-etcd:secretStore": { generation: 0 } },
      "secretStore.generation",
      /from 1 to 99/,
    );
    problemAt("dev", { "secure-etcd:secretStore": { generation: "two" } }, "secretStore.generation", /"two"/);
  });
});

describe("day 2: service trust policies carry aws:SourceAccount and aws:SourceArn (or a documented reason)", () => {
  let checked = 0;
  after(() => assert.ok(checked > 0, "some service trust policy was checked for both keys"));
  for (const stack of stackNames)
    it(`${stack}: every trust policy with a Service principal`, async () => {
      const { mocks } = await runProgram(stack);
      const trusts = mocks
        .ofType("aws:iam/role:Role")
        .map((r) => ({ name: r.name, doc: JSON.parse(String(r.inputs.assumeRolePolicy)) as PolicyDocument }));
      assert.ok(trusts.length > 0);
      for (const { name, doc } of trusts)
        for (const s of doc.Statement) {
          const services = typeof s.Principal === "object" ? [s.Principal.Service ?? []].flat() : [];
          for (const service of services) {
            const short = service.split(".")[0];
            if (SERVICE_TRUST_WITHOUT_SOURCE[short]) continue;
            assert.ok(
              s.Condition?.StringEquals?.["aws:SourceAccount"],
              `${name}: ${service} without aws:SourceAccount`,
            );
            assert.ok(s.Condition?.ArnEquals?.["aws:SourceArn"], `${name}: ${service} without aws:SourceArn`);
            checked++;
          }
        }
    });
});

describe("day 2: configuration resources of retained buckets are retained", () => {
  it("prod and staging: every resource configuring a retained bucket is retainOnDelete", async () => {
    for (const stack of ["prod", "staging"]) {
      const log: Registration[] = [];
      const undo = spyOnRegistrations(log, mockMonitorPrototype());
      try {
        await runProgram(stack);
      } finally {
        undo();
      }
      const retainedBuckets = log
        .filter((r) => r.type === "aws:s3/bucket:Bucket" && r.retainOnDelete)
        .map((r) => r.urn);
      assert.ok(retainedBuckets.length > 0, stack);
      const configs = log.filter((r) =>
        (r.propertyDependencies.bucket ?? []).some((u) => retainedBuckets.includes(u)),
      );
      assert.ok(configs.length >= 7, `${stack}: ${configs.map((c) => c.name).join(", ")}`);
      for (const c of configs) assert.equal(c.retainOnDelete, true, `${stack}: ${c.type} ${c.name}`);
    }
  });
});

describe("day 2: a second deployer through the program (its own last outputs)", () => {
  it("a stack deployed by another principal refuses this one at preview, naming deployerPrincipalArns", async () => {
    const self = "organization/secure-etcd/dev";
    const mocks = new RecordingMocks({
      stackOutputs: {
        [self]: { clusterName: "payments", deployerArns: [`arn:aws:iam::${ACCOUNT}:role/ci-deployer`] },
      },
    });
    await assert.rejects(runProgram("dev", mocks), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.ok(
        e.problems.some((p) => p.path === "deployerPrincipalArns"),
        e.message,
      );
      return true;
    });
  });

  it("without a secret store, the snapshot store checks the hand-over", async () => {
    const self = "organization/secure-etcd/dev";
    const config = {
      ...readStackConfig("dev"),
      ...toPulumiConfig({
        "secure-etcd:secretStore": { enabled: false },
        "secure-etcd:backup": { writerRoleArns: [`arn:aws:iam::${ACCOUNT}:role/snapshot-job`] },
      }),
    };
    const mocks = new RecordingMocks({
      stackOutputs: {
        [self]: { clusterName: "payments", deployerArns: [`arn:aws:iam::${ACCOUNT}:role/ci-deployer`] },
      },
    });
    await assert.rejects(runProgram("dev", mocks, config), (e: unknown) => {
      assert.ok(
        e instanceof ConfigError && e.problems.some((p) => p.path === "deployerPrincipalArns"),
        String(e),
      );
      return true;
    });
  });

  it("the program exports who its policies admit, and reads it back", async () => {
    const ci = `arn:aws:iam::${ACCOUNT}:role/ci-deployer`;
    const config = {
      ...readStackConfig("dev"),
      ...toPulumiConfig({ "secure-etcd:deployerPrincipalArns": [ci] }),
    };
    const { outputs } = await runProgram("dev", new RecordingMocks(), config);
    assert.deepEqual(await valueOf(outputs.deployerArns as pulumi.Output<string[]>), [
      `arn:aws:iam::${ACCOUNT}:user/emulated`,
      ci,
    ]);
    // Deployed by the CI role next: admitted.
    const next = new RecordingMocks({
      callerArn: `arn:aws:sts::${ACCOUNT}:assumed-role/ci-deployer/run-2`,
      stackOutputs: {
        "organization/secure-etcd/dev": {
          clusterName: "payments",
          deployerArns: [`arn:aws:iam::${ACCOUNT}:user/emulated`, ci],
        },
      },
    });
    const again = await runProgram("dev", next, config);
    assert.deepEqual(await valueOf(again.outputs.deployerArns as pulumi.Output<string[]>), [ci]);
  });
});
