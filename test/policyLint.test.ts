import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { BUCKET_PROTECTION_ACTIONS, OBJECT_READ_ACTIONS } from "../components/backup/policies";
import { SECRET_ACTIONS_NOT_DENIED, SECRET_WRITE_ACTIONS } from "../components/secretStore/policies";
import { pythonVenv } from "../harness/upstream";
import {
  covers,
  lint,
  PARLIAMENT_SUPPRESSIONS,
  renderSuppressionTable,
  type Finding,
} from "./support/parliament";
import { renderedPolicies, type PolicyKind, type RenderedPolicy } from "./support/renderedPolicies";
import { repoRoot, stackNames } from "./support/stackFiles";

/*
 * Item 5 of issue 18: every IAM, KMS key, Secrets Manager resource and S3 bucket policy the program
 * renders, for every shipped stack (and prod with every optional principal set, so the IRSA trust, the
 * key-archive reader and the restore reader render too), passes parliament with its community auditors;
 * the only findings left are the ones PARLIAMENT_SUPPRESSIONS names, each with its reason.
 */

const ACCOUNT = "123456789012";
const everyPrincipal = {
  "secure-etcd:deployerPrincipalArns": [
    `arn:aws:iam::${ACCOUNT}:role/ci-deployer`,
    `arn:aws:iam::${ACCOUNT}:role/break-glass`,
  ],
  "secure-etcd:secretStore": {
    replicaRegion: "eu-central-1",
    restoreReaderRoleArn: `arn:aws:iam::${ACCOUNT}:role/etcd-restore`,
  },
  "secure-etcd:backup": {
    objectLock: { mode: "COMPLIANCE", days: 35 },
    replicaRegion: "eu-central-1",
    restoreReaderRoleArn: `arn:aws:iam::${ACCOUNT}:role/etcd-restore`,
    oidc: {
      providerArn: `arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.example.com/payments`,
      providerUrl: "https://oidc.example.com/payments",
    },
  },
};
const variants: { name: string; stack: string; overrides: Record<string, unknown> }[] = [
  ...stackNames.map((stack) => ({ name: stack, stack, overrides: {} })),
  {
    name: "prod with every optional principal (IRSA, restore reader, CI and break-glass)",
    stack: "prod",
    overrides: everyPrincipal,
  },
];

const show = (f: Finding) =>
  `${f.issue} [${f.severity}] on ${f.policy.kind} ${f.policy.stack} ${f.policy.source}: ${f.detail}`;

describe("policy lint: parliament over every policy the program renders", function () {
  this.timeout(600_000);
  const all: RenderedPolicy[] = [];
  let findings: Finding[] = [];

  before(async function () {
    for (const v of variants) {
      const { policies, unlisted } = await renderedPolicies(v.stack, v.overrides);
      assert.deepEqual(unlisted, [], `${v.name}: documents the lint would not see`);
      all.push(...policies.map((p) => ({ ...p, stack: v.name })));
    }
    findings = lint(all);
  });

  it("renders every kind of document, for every stack", () => {
    const kinds = (stack: string) => new Set(all.filter((p) => p.stack === stack).map((p) => p.kind));
    for (const v of variants)
      for (const k of ["identity", "trust", "kms-key", "secret-resource", "bucket"] as PolicyKind[])
        assert.ok(kinds(v.name).has(k), `${v.name}: ${k}`);
    const sources = all.filter((p) => p.stack === variants[variants.length - 1].name).map((p) => p.source);
    for (const expected of [
      /irsa-role\.assumeRolePolicy$/,
      /^output keyArchiveReaderPolicyJson$/,
      /^output snapshotReaderPolicyJson$/,
      /replication-role\.assumeRolePolicy$/,
    ])
      assert.ok(
        sources.some((s) => expected.test(s)),
        `${expected}: ${sources.join(", ")}`,
      );
  });

  it("no finding but the suppressed ones", () => {
    const left = findings.filter((f) => !PARLIAMENT_SUPPRESSIONS.some((s) => covers(s, f)));
    assert.deepEqual(left.map(show), []);
  });

  it("every suppression still matches a finding (the table names nothing that is not there)", () => {
    for (const s of PARLIAMENT_SUPPRESSIONS)
      assert.ok(
        findings.some((f) => covers(s, f)),
        `${s.issue} on ${s.kinds.join(",")} matched nothing: remove it`,
      );
  });

  it("the linter is really linting: a wrong action, condition key and resource are found", () => {
    const bad: RenderedPolicy = {
      stack: "control",
      source: "a deliberately broken identity policy",
      kind: "identity",
      json: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          { Effect: "Allow", Action: "s3:GetObjekt", Resource: "arn:aws:s3:::b/*" },
          {
            Effect: "Allow",
            Action: "kms:Decrypt",
            Resource: "arn:aws:kms:eu-west-1:123456789012:key/k",
            Condition: { StringEquals: { "s3:prefix": "x" } },
          },
          { Effect: "Allow", Action: "s3:ListBucket", Resource: "arn:aws:s3:::b/*" },
        ],
      }),
    };
    const issues = lint([bad]).map((f) => f.issue);
    for (const i of ["UNKNOWN_ACTION", "UNKNOWN_CONDITION_FOR_ACTION", "RESOURCE_MISMATCH"])
      assert.ok(issues.includes(i), `${i} in ${issues.join(", ")}`);
    assert.ok(
      !lint([bad]).some((f) => PARLIAMENT_SUPPRESSIONS.some((s) => covers(s, f))),
      "no suppression hides them",
    );
  });

  it("docs/aws-access.md shows exactly this suppression table", () => {
    const doc = fs.readFileSync(path.join(repoRoot, "docs", "aws-access.md"), "utf8");
    const m = /<!-- parliament-suppressions:start -->\n([\s\S]*?)\n<!-- parliament-suppressions:end -->/.exec(
      doc,
    );
    assert.ok(m, "docs/aws-access.md has the suppression table markers");
    assert.equal(m[1], renderSuppressionTable());
  });
});

/** parliament's copy of AWS's Service Authorization Reference. */
function iamDefinition(): {
  prefix: string;
  privileges: { privilege: string; access_level: string; resource_types: { resource_type: string }[] }[];
}[] {
  const lib = path.join(pythonVenv().dir, "lib");
  const python = fs.readdirSync(lib).find((d) => d.startsWith("python"));
  assert.ok(python, `no python in ${lib}`);
  return JSON.parse(
    fs.readFileSync(path.join(lib, python, "site-packages", "parliament", "iam_definition.json"), "utf8"),
  );
}

describe("policy lint: the action lists against AWS's action reference (parliament's copy)", () => {
  const actions = (prefix: string) => iamDefinition().find((s) => s.prefix === prefix)!.privileges;
  const on = (p: { resource_types: { resource_type: string }[] }, type: RegExp) =>
    p.resource_types.some((r) => type.test(r.resource_type));

  it("the secret policy denies every Write, Permissions-management and Tagging action on a secret (or says why not)", () => {
    const writes = actions("secretsmanager")
      .filter(
        (p) =>
          ["Write", "Permissions management", "Tagging"].includes(p.access_level) && on(p, /^Secret\*?$/),
      )
      .map((p) => `secretsmanager:${p.privilege}`);
    assert.ok(writes.length >= 15, writes.join(", "));
    for (const a of writes)
      assert.ok(
        SECRET_WRITE_ACTIONS.includes(a) || a in SECRET_ACTIONS_NOT_DENIED,
        `${a} is neither denied nor explained`,
      );
    for (const a of SECRET_WRITE_ACTIONS)
      assert.ok(writes.includes(a), `${a} is not a write action on a secret`);
  });

  it("the bucket denies every read of object content (the rest is metadata)", () => {
    const metadataOnly = [
      "GetObjectAcl",
      "GetObjectLegalHold",
      "GetObjectRetention",
      "GetObjectTagging",
      "GetObjectVersionAcl",
      "GetObjectVersionTagging",
    ];
    const reads = actions("s3").filter(
      (p) => p.access_level === "Read" && on(p, /^object\*?$/) && p.privilege.startsWith("GetObject"),
    );
    for (const p of reads)
      assert.ok(
        OBJECT_READ_ACTIONS.includes(`s3:${p.privilege}`) || metadataOnly.includes(p.privilege),
        `s3:${p.privilege} is neither denied nor metadata`,
      );
    const known = new Set(actions("s3").map((p) => `s3:${p.privilege}`));
    for (const a of [...OBJECT_READ_ACTIONS, ...BUCKET_PROTECTION_ACTIONS])
      assert.ok(known.has(a), `${a} is not an S3 action`);
  });
});
