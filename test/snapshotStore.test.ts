import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import type * as StoreModule from "../components/backup/snapshotStore";
import type * as PoliciesModule from "../components/backup/policies";
import type * as DefaultsModule from "../components/backup/defaults";
import type * as AccessLoggingModule from "../components/backup/store/accessLogging";
import * as backupConfig from "../components/config/backup";
import { cronIntervals } from "../components/config/cron";
import type { PolicyDocument } from "../components/backup/policies";
import { assertOutputConfigError, assertThrowsConfigError } from "./support/configErrors";
import { ALLOW_ALL, decide, decideKms, type Ctx } from "./support/iamEvaluator";
import { spyOnRegistrations, type Registration } from "./support/registrationSpy";

// ---------------------------------------------------------------------------------------------------
// Mocks that record inputs per resource and the options the engine saw (protect, retainOnDelete,
// dependsOn, ignoreChanges) by wrapping the mock monitor's registerResource.
// ---------------------------------------------------------------------------------------------------

interface Recorded {
  type: string;
  name: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  inputs: any;
}

const ACCOUNT = "123456789012";
const DEPLOYER = `arn:aws:iam::${ACCOUNT}:user/deployer`;
/** The role that runs the snapshot job without IRSA (SecureEtcd passes the node roles). */
const WRITER = `arn:aws:iam::${ACCOUNT}:role/cp-1-node`;
const READER = `arn:aws:iam::${ACCOUNT}:role/etcd-restore`;
const resources: Recorded[] = [];
const registrations: Registration[] = [];

const mocks: pulumi.runtime.Mocks = {
  newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
    resources.push({ type: args.type, name: args.name, inputs: args.inputs });
    const state: Record<string, unknown> = { ...args.inputs };
    const region = (args.inputs.region as string | undefined) ?? "eu-west-1";
    let id = `${args.name}-id`;
    switch (args.type) {
      case "aws:s3/bucket:Bucket": {
        const bucket = (args.inputs.bucket as string | undefined) ?? `${args.name}-a1b2c3d`;
        Object.assign(state, { bucket, arn: `arn:aws:s3:::${bucket}`, region });
        id = bucket;
        break;
      }
      case "aws:kms/key:Key": {
        const keyId = `key-${args.name}`;
        Object.assign(state, { keyId, arn: `arn:aws:kms:${region}:${ACCOUNT}:key/${keyId}` });
        id = keyId;
        break;
      }
      case "aws:iam/role:Role":
        Object.assign(state, { arn: `arn:aws:iam::${ACCOUNT}:role/${args.name}`, name: args.name });
        id = args.name;
        break;
    }
    return { id, state };
  },
  call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
    switch (args.token) {
      case "aws:index/getCallerIdentity:getCallerIdentity":
        return { accountId: ACCOUNT, arn: DEPLOYER, userId: "AIDA", id: ACCOUNT };
      case "aws:index/getRegion:getRegion":
        return { region: "eu-west-1", name: "eu-west-1", id: "eu-west-1" };
      case "aws:index/getPartition:getPartition":
        return { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws" };
      case "aws:index/getServicePrincipal:getServicePrincipal":
        return { name: `${String(args.inputs.serviceName)}.amazonaws.com`, suffix: "amazonaws.com" };
      default:
        return args.inputs;
    }
  },
};

function reset(): void {
  resources.length = 0;
  registrations.length = 0;
}

function ofType(type: string): Recorded[] {
  return resources.filter((r) => r.type === type);
}

function one(type: string, name?: string): Recorded {
  const found = ofType(type).filter((r) => name === undefined || r.name === name);
  assert.equal(found.length, 1, `expected one ${type}${name ? ` named ${name}` : ""}, got ${found.length}`);
  return found[0];
}

function registration(name: string): Registration {
  const r = registrations.find((x) => x.name === name);
  assert.ok(r, `no registration for ${name}; have ${registrations.map((x) => x.name).join(", ")}`);
  return r;
}

function valueOf<T>(o: pulumi.Input<T> | undefined): Promise<T> {
  return new Promise<T>((resolve) => pulumi.output(o as pulumi.Input<T>).apply((v) => resolve(v as T)));
}

/** Waits until the SDK's outstanding RPCs have drained and no new resource shows up. */
async function settle(): Promise<void> {
  const rt = pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> };
  let last = -1;
  for (let i = 0; i < 50 && last !== resources.length; i++) {
    last = resources.length;
    if (rt.waitForRPCs) await rt.waitForRPCs();
    await new Promise((r) => setTimeout(r, 10));
  }
}

const list = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

const TLS13: Ctx = { "aws:SecureTransport": "true", "s3:TlsVersion": "1.3" };
const SSE = "s3:x-amz-server-side-encryption";
const SSE_KEY = "s3:x-amz-server-side-encryption-aws-kms-key-id";

// ---------------------------------------------------------------------------------------------------

describe("backup: SnapshotStore (mocks)", function () {
  let store: typeof StoreModule;
  let policies: typeof PoliciesModule;
  let defaults: typeof DefaultsModule;
  let accessLogging: typeof AccessLoggingModule;

  before(async function () {
    await pulumi.runtime.setMocks(mocks, "secure-etcd", "unit", false);
    spyOnRegistrations(registrations);
    // Loaded only after setMocks (require: tsx/cjs resolves extensionless TS paths).
    /* eslint-disable @typescript-eslint/no-require-imports */
    store = require("../components/backup/snapshotStore") as typeof StoreModule;
    policies = require("../components/backup/policies") as typeof PoliciesModule;
    defaults = require("../components/backup/defaults") as typeof DefaultsModule;
    accessLogging = require("../components/backup/store/accessLogging") as typeof AccessLoggingModule;
    /* eslint-enable @typescript-eslint/no-require-imports */
  });

  const base = (): StoreModule.SnapshotStoreArgs => ({
    clusterName: "payments",
    environment: "prod",
    retention: { days: 35, noncurrentVersionDays: 7 },
    writerRoleArns: [WRITER],
    readerRoleArns: [READER],
  });

  describe("bucket hardening", function () {
    let s: StoreModule.SnapshotStore;
    before(async function () {
      reset();
      s = new store.SnapshotStore("snap", { ...base(), tags: { team: "platform" } });
      await valueOf(s.writerPolicyJson);
      await settle();
    });

    it("uses only @pulumi/aws 7 S3 resources, never the deprecated …V2 ones", function () {
      const types = new Set(resources.map((r) => r.type));
      for (const t of types) assert.doesNotMatch(t, /V2(:|$)/, `deprecated type ${t}`);
      for (const t of [
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:kms/key:Key",
        "aws:kms/alias:Alias",
      ]) {
        assert.ok(types.has(t), `missing ${t}`);
      }
      assert.ok(types.has("secure-etcd:index:SnapshotStore"));
    });

    it("never force-destroys the bucket and tags it", function () {
      const b = one("aws:s3/bucket:Bucket");
      assert.equal(b.inputs.forceDestroy, false);
      assert.equal(b.inputs.objectLockEnabled, undefined);
      assert.equal(b.inputs.tags["secure-etcd:cluster"], "payments");
      assert.equal(b.inputs.tags["secure-etcd:environment"], "prod");
      assert.equal(b.inputs.tags.team, "platform");
    });

    it("customer-managed KMS key with rotation and a 30-day deletion window, plus an alias", function () {
      const k = one("aws:kms/key:Key");
      assert.equal(k.inputs.enableKeyRotation, true);
      assert.equal(k.inputs.deletionWindowInDays, 30);
      const a = one("aws:kms/alias:Alias");
      assert.equal(a.inputs.targetKeyId, "key-snap-key");
      assert.match(a.inputs.name, /^alias\/secure-etcd\/payments-prod-snapshots$/);
    });

    it("versioning is Enabled", function () {
      const v = one("aws:s3/bucketVersioning:BucketVersioning");
      assert.equal(v.inputs.bucket, "snap-bucket-a1b2c3d");
      assert.deepEqual(v.inputs.versioningConfiguration, { status: "Enabled" });
    });

    it("default encryption is SSE-KMS with the CMK and an S3 Bucket Key", function () {
      const e = one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration");
      assert.equal(e.inputs.rules.length, 1);
      const rule = e.inputs.rules[0];
      assert.equal(rule.applyServerSideEncryptionByDefault.sseAlgorithm, "aws:kms");
      assert.equal(
        rule.applyServerSideEncryptionByDefault.kmsMasterKeyId,
        `arn:aws:kms:eu-west-1:${ACCOUNT}:key/key-snap-key`,
      );
      assert.equal(rule.bucketKeyEnabled, true);
    });

    it("all four public access blocks are on", function () {
      const p = one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock");
      for (const k of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"]) {
        assert.equal(p.inputs[k], true, k);
      }
    });

    it("object ownership is BucketOwnerEnforced (ACLs disabled)", function () {
      const o = one("aws:s3/bucketOwnershipControls:BucketOwnershipControls");
      assert.deepEqual(o.inputs.rule, { objectOwnership: "BucketOwnerEnforced" });
    });

    it("lifecycle is scoped to <cluster>/<env>/ with expiry, noncurrent expiry and multipart abort", function () {
      const l = one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration");
      assert.equal(l.inputs.rules.length, 1);
      const r = l.inputs.rules[0];
      assert.equal(r.status, "Enabled");
      assert.deepEqual(r.filter, { prefix: "payments/prod/" });
      assert.deepEqual(r.expiration, { days: 35 });
      assert.deepEqual(r.noncurrentVersionExpiration, { noncurrentDays: 7 });
      assert.deepEqual(r.abortIncompleteMultipartUpload, { daysAfterInitiation: 1 });
      assert.equal(r.transitions, undefined, "no cold transition unless asked for");
      // Noncurrent rules only make sense once versioning exists.
      assert.ok(
        registration("snap-lifecycle").dependencies.some((u) => u.endsWith("::snap-versioning")),
        "lifecycle depends on versioning",
      );
    });

    it("the bucket and the key are protected and retained; hardening children are retained", function () {
      for (const n of ["snap-bucket", "snap-key"]) {
        const r = registration(n);
        assert.equal(r.protect, true, `${n} protect`);
        assert.equal(r.retainOnDelete, true, `${n} retainOnDelete`);
      }
      for (const n of [
        "snap-versioning",
        "snap-sse",
        "snap-public-access-block",
        "snap-ownership",
        "snap-policy",
        "snap-lifecycle",
      ]) {
        assert.equal(registration(n).retainOnDelete, true, `${n} retainOnDelete`);
      }
      assert.ok(registration("snap-bucket").ignoreChanges.includes("objectLockEnabled"));
    });

    it("outputs bucket name/ARN, key ARN, prefix and both policies; no role without oidc", async function () {
      assert.equal(await valueOf(s.bucketName), "snap-bucket-a1b2c3d");
      assert.equal(await valueOf(s.bucketArn), "arn:aws:s3:::snap-bucket-a1b2c3d");
      assert.equal(await valueOf(s.kmsKeyArn), `arn:aws:kms:eu-west-1:${ACCOUNT}:key/key-snap-key`);
      assert.equal(await valueOf(s.prefix), "payments/prod/");
      assert.equal(await valueOf(s.region), "eu-west-1");
      const writer = JSON.parse(await valueOf(s.writerPolicyJson)) as PolicyDocument;
      const reader = JSON.parse(await valueOf(s.readerPolicyJson)) as PolicyDocument;
      assert.equal(writer.Version, "2012-10-17");
      assert.equal(reader.Version, "2012-10-17");
      assert.equal(s.roleArn, undefined);
      assert.equal(s.replicaBucketArn, undefined);
      assert.equal(ofType("aws:iam/role:Role").length, 0);
    });

    describe("bucket policy (evaluated)", function () {
      let doc: PolicyDocument;
      const bucketArn = "arn:aws:s3:::snap-bucket-a1b2c3d";
      const keyArn = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/key-snap-key`;
      const obj = `${bucketArn}/payments/prod/2024-01-01T00-00-00Z-cp-1.db.gz`;
      const put = (context: Ctx) =>
        decide([doc, ALLOW_ALL], { principal: WRITER, action: "s3:PutObject", resource: obj, context });

      before(function () {
        doc = JSON.parse(one("aws:s3/bucketPolicy:BucketPolicy").inputs.policy) as PolicyDocument;
      });

      it("denies any request without TLS", function () {
        const s = doc.Statement.find((x) => x.Sid === "DenyInsecureTransport");
        assert.ok(s);
        assert.equal(s.Effect, "Deny");
        assert.deepEqual(s.Condition, { Bool: { "aws:SecureTransport": "false" } });
        assert.deepEqual(s.Resource, [bucketArn, `${bucketArn}/*`]);
        const ctx = { "aws:SecureTransport": "false" };
        assert.equal(
          decide([doc, ALLOW_ALL], { action: "s3:GetObject", resource: obj, context: ctx }),
          "Deny",
        );
        assert.equal(
          decide([doc, ALLOW_ALL], { action: "s3:ListBucket", resource: bucketArn, context: ctx }),
          "Deny",
        );
      });

      it("denies TLS below 1.2 and allows 1.2 and 1.3", function () {
        const s = doc.Statement.find((x) => x.Sid === "DenyTlsBelow12");
        assert.deepEqual(s?.Condition, { NumericLessThan: { "s3:TlsVersion": "1.2" } });
        const get = (v: string) =>
          decide([doc, ALLOW_ALL], {
            principal: READER,
            action: "s3:GetObject",
            resource: obj,
            context: { "aws:SecureTransport": "true", "s3:TlsVersion": v },
          });
        assert.equal(get("1.0"), "Deny");
        assert.equal(get("1.1"), "Deny");
        assert.equal(get("1.2"), "Allow");
        assert.equal(get("1.3"), "Allow");
      });

      it("does NOT deny an upload that omits the SSE headers (bucket default SSE-KMS applies)", function () {
        assert.equal(put({ ...TLS13 }), "Allow");
      });

      it("allows an upload that names SSE-KMS with the bucket's key ARN", function () {
        assert.equal(put({ ...TLS13, [SSE]: "aws:kms", [SSE_KEY]: keyArn }), "Allow");
      });

      it("denies an upload that names another encryption", function () {
        assert.equal(put({ ...TLS13, [SSE]: "AES256" }), "Deny");
        assert.equal(put({ ...TLS13, [SSE]: "aws:kms:dsse", [SSE_KEY]: keyArn }), "Deny");
      });

      it("denies an upload that names another KMS key", function () {
        const other = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/someone-elses`;
        assert.equal(put({ ...TLS13, [SSE]: "aws:kms", [SSE_KEY]: other }), "Deny");
      });

      it("denies SSE-KMS without a key id (S3 would use aws/s3, not the CMK)", function () {
        assert.equal(put({ ...TLS13, [SSE]: "aws:kms" }), "Deny");
      });

      it("the SSE conditions only fire when the header is present (Null=false + StringNotEquals)", function () {
        const enc = doc.Statement.find((x) => x.Sid === "DenyOtherEncryption");
        const key = doc.Statement.find((x) => x.Sid === "DenyOtherKmsKey");
        assert.deepEqual(enc?.Condition, { Null: { [SSE]: "false" }, StringNotEquals: { [SSE]: "aws:kms" } });
        assert.deepEqual(key?.Condition, {
          Null: { [SSE_KEY]: "false" },
          StringNotEquals: { [SSE_KEY]: keyArn },
        });
        assert.equal(enc?.Action, "s3:PutObject");
        assert.equal(key?.Action, "s3:PutObject");
      });

      it("why not plain StringNotEqualsIfExists: on a Deny it also denies header-less uploads", function () {
        const naive: PolicyDocument = {
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Deny",
              Principal: "*",
              Action: "s3:PutObject",
              Resource: `${bucketArn}/*`,
              Condition: { StringNotEqualsIfExists: { [SSE]: "aws:kms" } },
            },
          ],
        };
        // IfExists: "if the key is missing, the condition holds" -> the Deny applies.
        assert.equal(
          decide([naive, ALLOW_ALL], { action: "s3:PutObject", resource: obj, context: TLS13 }),
          "Deny",
        );
        // The shipped policy lets the same request through.
        assert.equal(put({ ...TLS13 }), "Allow");
      });

      it("denies every read of object content to all but the writer, the restore reader (and replication)", function () {
        const s = doc.Statement.find((x) => x.Sid === "OnlySnapshotPrincipalsReadObjects");
        assert.deepEqual(s?.Condition, { ArnNotEquals: { "aws:PrincipalArn": [WRITER, READER] } });
        const admin = `arn:aws:iam::${ACCOUNT}:role/Administrator`;
        for (const action of policies.OBJECT_READ_ACTIONS) {
          const as = (principal: string) =>
            decide([doc, ALLOW_ALL], { principal, action, resource: obj, context: TLS13 });
          assert.equal(as(admin), "Deny", `${action} by an AdministratorAccess role`);
          assert.equal(as(DEPLOYER), "Deny", `${action} by the deployer`);
          assert.equal(as(WRITER), "Allow", `${action} by the writer`);
          assert.equal(as(READER), "Allow", `${action} by the restore reader`);
        }
        const anonymous = decide([doc, ALLOW_ALL], { action: "s3:GetObject", resource: obj, context: TLS13 });
        assert.equal(anonymous, "Deny", "no aws:PrincipalArn (anonymous or a service): ArnNotEquals holds");
      });

      it("denies changes to the bucket's protections to all but the deployers", function () {
        for (const action of policies.BUCKET_PROTECTION_ACTIONS) {
          const as = (principal: string) =>
            decide([doc, ALLOW_ALL], { principal, action, resource: bucketArn, context: TLS13 });
          assert.equal(as(`arn:aws:iam::${ACCOUNT}:role/Administrator`), "Deny", action);
          assert.equal(as(WRITER), "Deny", action);
          assert.equal(as(DEPLOYER), "Allow", action);
        }
      });
    });

    describe("key policy (evaluated): who administers and who may use the snapshot key", function () {
      let kp: PolicyDocument;
      const bucketArn = "arn:aws:s3:::snap-bucket-a1b2c3d";
      const obj = `${bucketArn}/payments/prod/2024-01-01T00-00-00Z-cp-1.db.gz`;
      const viaS3 = {
        "kms:ViaService": "s3.eu-west-1.amazonaws.com",
        "kms:EncryptionContext:aws:s3:arn": bucketArn,
      };
      const kms = (principal: string, action: string, context: Ctx = viaS3) =>
        decideKms(kp, [ALLOW_ALL], { principal, action, resource: "*", context });

      before(function () {
        kp = JSON.parse(one("aws:kms/key:Key").inputs.policy) as PolicyDocument;
      });

      it("has its own policy: no default key policy that lets IAM grant decrypt", function () {
        assert.deepEqual(
          kp.Statement.map((x) => x.Sid),
          ["AdministerKey", "WriterUsesKeyThroughS3", "RestoreReadersDecryptThroughS3"],
        );
        const admin = kp.Statement[0];
        assert.deepEqual(admin.Principal, { AWS: [`arn:aws:iam::${ACCOUNT}:root`, DEPLOYER] });
        assert.ok(
          !list(admin.Action).some((a) => /Decrypt|Encrypt|GenerateDataKey|CreateGrant|ReEncrypt|\*/.test(a)),
        );
      });

      it("an AdministratorAccess role cannot decrypt snapshots; it can only administer the key (in CloudTrail)", function () {
        const admin = `arn:aws:iam::${ACCOUNT}:role/Administrator`;
        assert.equal(kms(admin, "kms:Decrypt"), "ImplicitDeny");
        assert.equal(kms(admin, "kms:GenerateDataKey"), "ImplicitDeny");
        assert.equal(
          kms(admin, "kms:PutKeyPolicy", {}),
          "Allow",
          "the account root delegates administration to IAM",
        );
        assert.equal(
          kms(DEPLOYER, "kms:Decrypt"),
          "ImplicitDeny",
          "the deployer administers, never decrypts",
        );
      });

      it("the writer uploads and reads back only through S3 in the region, for this bucket", function () {
        assert.equal(kms(WRITER, "kms:GenerateDataKey"), "Allow");
        assert.equal(
          kms(WRITER, "kms:Decrypt", { ...viaS3, "kms:EncryptionContext:aws:s3:arn": obj }),
          "Allow",
        );
        assert.equal(kms(WRITER, "kms:Decrypt", {}), "ImplicitDeny", "direct use of the key");
        assert.equal(
          kms(WRITER, "kms:Decrypt", { ...viaS3, "kms:ViaService": "s3.us-east-1.amazonaws.com" }),
          "ImplicitDeny",
          "through S3 in another region",
        );
        assert.equal(
          kms(WRITER, "kms:Decrypt", {
            ...viaS3,
            "kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::other/x",
          }),
          "ImplicitDeny",
          "for another bucket",
        );
        assert.equal(kms(WRITER, "kms:Encrypt"), "ImplicitDeny", "SSE-KMS never needs Encrypt");
      });

      it("the restore reader only decrypts", function () {
        assert.equal(kms(READER, "kms:Decrypt"), "Allow");
        assert.equal(kms(READER, "kms:GenerateDataKey"), "ImplicitDeny");
      });
    });
  });

  describe("least-privilege policies", function () {
    const loc = {
      bucketArn: "arn:aws:s3:::snaps",
      prefix: "payments/prod/",
      kmsKeyArn: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/k1`,
      region: "eu-west-1",
      dnsSuffix: "amazonaws.com",
    };
    const inPrefix = "arn:aws:s3:::snaps/payments/prod/2024-x-cp-1.db.gz";
    const otherPrefix = "arn:aws:s3:::snaps/payments/prod-old/x.db.gz";

    it("writer: put/abort/get under the prefix only, no delete of any kind", function () {
      const w = policies.snapshotWriterPolicy(loc);
      const allowActions = w.Statement.filter((s) => s.Effect === "Allow").flatMap((s) => list(s.Action));
      assert.deepEqual(
        [...allowActions].sort(),
        [
          "kms:Decrypt",
          "kms:GenerateDataKey",
          "s3:AbortMultipartUpload",
          "s3:GetObject",
          "s3:ListBucket",
          "s3:PutObject",
        ].sort(),
      );
      for (const a of allowActions) {
        assert.doesNotMatch(a, /^s3:Delete/i, `writer allows ${a}`);
        assert.doesNotMatch(a, /\*/, `writer allows wildcard ${a}`);
      }
      assert.equal(decide([w], { action: "s3:PutObject", resource: inPrefix }), "Allow");
      assert.equal(decide([w], { action: "s3:AbortMultipartUpload", resource: inPrefix }), "Allow");
      assert.equal(decide([w], { action: "s3:GetObject", resource: inPrefix }), "Allow");
      assert.equal(decide([w], { action: "s3:PutObject", resource: otherPrefix }), "ImplicitDeny");
      assert.equal(
        decide([w], { action: "s3:PutObject", resource: "arn:aws:s3:::snaps/other/x" }),
        "ImplicitDeny",
      );
      assert.equal(decide([w], { action: "s3:DeleteObject", resource: inPrefix }), "Deny");
      assert.equal(decide([w], { action: "s3:DeleteObjectVersion", resource: inPrefix }), "Deny");
      // Explicit deny: even a role that also has s3:* cannot delete snapshots or weaken the bucket.
      assert.equal(decide([w, ALLOW_ALL], { action: "s3:DeleteObject", resource: inPrefix }), "Deny");
      assert.equal(
        decide([w, ALLOW_ALL], { action: "s3:PutLifecycleConfiguration", resource: "arn:aws:s3:::snaps" }),
        "Deny",
      );
      assert.equal(
        decide([w, ALLOW_ALL], { action: "s3:PutBucketPolicy", resource: "arn:aws:s3:::snaps" }),
        "Deny",
      );
    });

    it("writer: ListBucket only with an s3:prefix under the cluster prefix", function () {
      const w = policies.snapshotWriterPolicy(loc);
      const listStmt = w.Statement.find((s) => list(s.Action).includes("s3:ListBucket"));
      assert.ok(listStmt);
      assert.equal(listStmt.Resource, "arn:aws:s3:::snaps");
      assert.deepEqual(listStmt.Condition, { StringLike: { "s3:prefix": ["payments/prod/*"] } });
      const ls = (prefix?: string) =>
        decide([w], {
          action: "s3:ListBucket",
          resource: "arn:aws:s3:::snaps",
          context: prefix === undefined ? {} : { "s3:prefix": prefix },
        });
      assert.equal(ls("payments/prod/"), "Allow");
      assert.equal(ls("payments/prod/2024"), "Allow");
      assert.equal(ls(undefined), "ImplicitDeny", "listing the whole bucket");
      assert.equal(ls(""), "ImplicitDeny");
      assert.equal(ls("payments/"), "ImplicitDeny");
      assert.equal(ls("payments/prod-old/"), "ImplicitDeny");
    });

    it("writer: KMS data-key permissions on the snapshot key only, through S3, for this bucket's objects", function () {
      const w = policies.snapshotWriterPolicy(loc);
      const kms = w.Statement.find((s) => list(s.Action).some((a) => a.startsWith("kms:")));
      assert.ok(kms);
      assert.equal(kms.Resource, loc.kmsKeyArn);
      assert.deepEqual(kms.Condition, {
        StringEquals: { "kms:ViaService": "s3.eu-west-1.amazonaws.com" },
        StringLike: {
          "kms:EncryptionContext:aws:s3:arn": ["arn:aws:s3:::snaps", "arn:aws:s3:::snaps/payments/prod/*"],
        },
      });
      const direct = decide([w], { action: "kms:Decrypt", resource: loc.kmsKeyArn, context: {} });
      assert.equal(direct, "ImplicitDeny", "direct KMS use is not allowed");
      const viaS3 = (context: string) =>
        decide([w], {
          action: "kms:GenerateDataKey",
          resource: loc.kmsKeyArn,
          context: {
            "kms:ViaService": "s3.eu-west-1.amazonaws.com",
            "kms:EncryptionContext:aws:s3:arn": context,
          },
        });
      assert.equal(viaS3("arn:aws:s3:::snaps"), "Allow", "S3 Bucket Key: the bucket's ARN");
      assert.equal(viaS3(inPrefix), "Allow", "without a Bucket Key: the object's ARN");
      assert.equal(viaS3("arn:aws:s3:::someone-elses/x"), "ImplicitDeny", "another bucket's object");
    });

    it("a region without the partition's DNS suffix is refused (no hard-coded amazonaws.com)", function () {
      assertThrowsConfigError(() => policies.snapshotWriterPolicy({ ...loc, dnsSuffix: undefined }), {
        path: "dnsSuffix",
        message: /required with region/,
      });
      const cn = policies.snapshotReaderPolicy({
        ...loc,
        bucketArn: "arn:aws-cn:s3:::snaps",
        kmsKeyArn: `arn:aws-cn:kms:cn-north-1:${ACCOUNT}:key/k1`,
        region: "cn-north-1",
        dnsSuffix: "amazonaws.com.cn",
      });
      assert.equal(
        (cn.Statement[2].Condition as Record<string, Record<string, string>>).StringEquals["kms:ViaService"],
        "s3.cn-north-1.amazonaws.com.cn",
      );
    });

    it("reader: get and list under the prefix, kms:Decrypt, nothing else", function () {
      const r = policies.snapshotReaderPolicy(loc);
      const actions = r.Statement.filter((s) => s.Effect === "Allow").flatMap((s) => list(s.Action));
      assert.deepEqual(
        [...actions].sort(),
        [
          "kms:Decrypt",
          "s3:GetObject",
          "s3:GetObjectVersion",
          "s3:ListBucket",
          "s3:ListBucketVersions",
        ].sort(),
      );
      assert.equal(decide([r], { action: "s3:GetObject", resource: inPrefix }), "Allow");
      assert.equal(decide([r], { action: "s3:PutObject", resource: inPrefix }), "ImplicitDeny");
      assert.equal(decide([r], { action: "s3:GetObject", resource: otherPrefix }), "ImplicitDeny");
      const ls = decide([r], { action: "s3:ListBucket", resource: loc.bucketArn, context: {} });
      assert.equal(ls, "ImplicitDeny");
    });

    it("refuses a prefix without a trailing slash (it would match sibling prefixes)", function () {
      assertThrowsConfigError(() => policies.snapshotWriterPolicy({ ...loc, prefix: "payments/prod" }), {
        path: "prefix",
        message: /"payments\/prod" is not a key prefix .*ending with "\/"/,
      });
      assertThrowsConfigError(() => policies.snapshotReaderPolicy({ ...loc, prefix: "" }), {
        path: "prefix",
      });
    });

    it("every refused policy input throws a ConfigError naming it and showing the value", function () {
      const trust = {
        providerArn: `arn:aws:iam::${ACCOUNT}:oidc-provider/issuer.example`,
        providerUrl: "https://issuer.example",
        namespace: "kube-system",
        serviceAccount: "etcd-snapshot",
      };
      const replication = {
        sourceBucketArn: loc.bucketArn,
        sourceKmsKeyArn: loc.kmsKeyArn,
        sourceRegion: "eu-west-1",
        destinationBucketArn: "arn:aws:s3:::replica",
        destinationKmsKeyArn: `arn:aws:kms:eu-central-1:${ACCOUNT}:key/k2`,
        destinationRegion: "eu-central-1",
        prefix: loc.prefix,
        dnsSuffix: "amazonaws.com",
      };
      const bucket = { objectReaders: [WRITER], deployers: [DEPLOYER] };
      const cases: [() => unknown, string, RegExp, RegExp][] = [
        [
          () => policies.snapshotWriterPolicy({ ...loc, bucketArn: "snaps" }),
          "bucketArn",
          /"snaps" is not a valid S3 bucket ARN/,
          /snapshot writer policy/,
        ],
        [
          () => policies.snapshotWriterPolicy({ ...loc, kmsKeyArn: "alias/x" }),
          "kmsKeyArn",
          /"alias\/x" is not a valid KMS key ARN/,
          /snapshot writer policy/,
        ],
        [
          () => policies.snapshotReaderPolicy({ ...loc, prefix: "payments/*/" }),
          "prefix",
          /"payments\/\*\/" must not contain wildcards/,
          /snapshot reader policy/,
        ],
        [
          () => policies.snapshotBucketPolicy({ ...bucket, bucketArn: "arn:aws:s3:::b", kmsKeyArn: "k" }),
          "kmsKeyArn",
          /"k" is not a valid KMS key ARN/,
          /snapshot bucket policy/,
        ],
        [
          () => policies.snapshotBucketPolicy({ ...bucket, bucketArn: "b", kmsKeyArn: loc.kmsKeyArn }),
          "bucketArn",
          /"b" is not a valid S3 bucket ARN/,
          /snapshot bucket policy/,
        ],
        [
          () =>
            policies.snapshotBucketPolicy({
              ...bucket,
              objectReaders: [],
              bucketArn: "arn:aws:s3:::b",
              kmsKeyArn: loc.kmsKeyArn,
            }),
          "objectReaders",
          /at least one principal that reads snapshots/,
          /snapshot bucket policy/,
        ],
        [
          () =>
            policies.replicationTrustPolicy({
              s3ServicePrincipal: "s3.amazonaws.com",
              accountId: ACCOUNT,
              sourceBucketArn: "snaps",
            }),
          "sourceBucketArn",
          /"snaps" is not a valid S3 bucket ARN/,
          /replication trust policy/,
        ],
        [
          () => policies.irsaTrustPolicy({ ...trust, providerArn: "arn:aws:iam::1:role/x" }),
          "oidc.providerArn",
          /is not a valid IAM OIDC provider ARN/,
          /IRSA trust policy/,
        ],
        [
          () => policies.irsaTrustPolicy({ ...trust, providerUrl: "http://issuer" }),
          "oidc.providerUrl",
          /"http:\/\/issuer" is not an https issuer URL/,
          /IRSA trust policy/,
        ],
        [
          () => policies.irsaTrustPolicy({ ...trust, providerUrl: "https://" }),
          "oidc.providerUrl",
          /is not an https issuer URL/,
          /IRSA trust policy/,
        ],
        [
          () => policies.irsaTrustPolicy({ ...trust, namespace: "Kube" }),
          "oidc.namespace",
          /"Kube" is not a valid Kubernetes object name/,
          /IRSA trust policy/,
        ],
        [
          () => policies.irsaTrustPolicy({ ...trust, serviceAccount: "" }),
          "oidc.serviceAccount",
          /"" is not a valid Kubernetes object name/,
          /IRSA trust policy/,
        ],
        [
          () => policies.replicationRolePolicy({ ...replication, destinationKmsKeyArn: "x" }),
          "destinationKmsKeyArn",
          /"x" is not a valid KMS key ARN/,
          /replication role policy/,
        ],
        [
          () => policies.replicationRolePolicy({ ...replication, sourceBucketArn: "x" }),
          "sourceBucketArn",
          /"x" is not a valid S3 bucket ARN/,
          /replication role policy/,
        ],
        [
          () => policies.snapshotWriterPolicy({ ...loc, bucketArn: "x" }, 'SnapshotStore "s" args'),
          "bucketArn",
          /"x"/,
          /SnapshotStore "s" args/,
        ],
      ];
      for (const [fn, path, message, source] of cases) assertThrowsConfigError(fn, { path, message, source });
    });

    it("snapshotPrefix validates both segments", function () {
      assert.equal(backupConfig.snapshotPrefix("payments", "prod"), "payments/prod/");
      assertThrowsConfigError(() => backupConfig.snapshotPrefix("pay/ments", "prod"), {
        path: "clusterName",
      });
      assertThrowsConfigError(() => backupConfig.snapshotPrefix("payments", "*"), { path: "environment" });
    });
  });

  describe("IRSA", function () {
    it("creates a web-identity role bound to the ServiceAccount with the writer policy", async function () {
      reset();
      const s = new store.SnapshotStore("irsa", {
        ...base(),
        oidc: {
          providerArn: `arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.example.com/payments`,
          providerUrl: "https://oidc.example.com/payments",
          namespace: "kube-system",
          serviceAccount: "etcd-snapshot",
        },
      });
      const roleArn = await valueOf(s.roleArn);
      await settle();
      assert.equal(roleArn, `arn:aws:iam::${ACCOUNT}:role/irsa-irsa-role`);
      const role = one("aws:iam/role:Role", "irsa-irsa-role");
      const trust = JSON.parse(role.inputs.assumeRolePolicy) as PolicyDocument;
      assert.equal(trust.Statement.length, 1);
      const st = trust.Statement[0];
      assert.equal(st.Effect, "Allow");
      assert.equal(st.Action, "sts:AssumeRoleWithWebIdentity");
      assert.deepEqual(st.Principal, {
        Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.example.com/payments`,
      });
      assert.deepEqual(st.Condition, {
        StringEquals: {
          "oidc.example.com/payments:sub": "system:serviceaccount:kube-system:etcd-snapshot",
          "oidc.example.com/payments:aud": "sts.amazonaws.com",
        },
      });
      const rp = one("aws:iam/rolePolicy:RolePolicy", "irsa-irsa-writer");
      assert.equal(rp.inputs.role, "irsa-irsa-role");
      assert.equal(rp.inputs.policy, await valueOf(s.writerPolicyJson));
      // A token for another ServiceAccount cannot assume the role.
      const other = decide([trust], {
        action: "sts:AssumeRoleWithWebIdentity",
        resource: "*",
        context: {
          "oidc.example.com/payments:sub": "system:serviceaccount:default:attacker",
          "oidc.example.com/payments:aud": "sts.amazonaws.com",
        },
      });
      assert.equal(other, "ImplicitDeny");
    });

    it("refuses a plain bad oidc value before anything is registered, naming oidc.<key>", async function () {
      reset();
      assertThrowsConfigError(
        () =>
          new store.SnapshotStore("badoidc", {
            ...base(),
            oidc: { providerArn: "arn:aws:iam::1:oidc-provider/x", providerUrl: pulumi.output("https://x") },
          }),
        {
          path: "oidc.providerArn",
          message: /"arn:aws:iam::1:oidc-provider\/x"/,
          source: /SnapshotStore "badoidc" args/,
        },
      );
      await settle();
      assert.equal(resources.length, 0, "nothing registered");
    });

    it("refuses a bad oidc Output when it resolves, with a ConfigError naming the arg", async function () {
      const s = new store.SnapshotStore("lateoidc", {
        ...base(),
        oidc: { providerArn: pulumi.output("arn:aws:iam::1:role/x"), providerUrl: "https://issuer.example" },
      });
      await assertOutputConfigError(s.roleArn, {
        path: "oidc.providerArn",
        source: /SnapshotStore "lateoidc" args/,
      });
    });

    it("defaults namespace/serviceAccount to the SnapshotJob defaults", function () {
      const t = policies.irsaTrustPolicy({
        providerArn: `arn:aws:iam::${ACCOUNT}:oidc-provider/issuer.example`,
        providerUrl: "issuer.example",
        namespace: defaults.DEFAULT_SNAPSHOT_NAMESPACE,
        serviceAccount: defaults.DEFAULT_SNAPSHOT_NAME,
      });
      assert.equal(
        (t.Statement[0].Condition as Record<string, Record<string, string>>).StringEquals[
          "issuer.example:sub"
        ],
        "system:serviceaccount:kube-system:etcd-snapshot",
      );
    });
  });

  describe("Object Lock", function () {
    it("enables the lock on a versioned bucket, after versioning", async function () {
      reset();
      const s = new store.SnapshotStore("locked", {
        ...base(),
        objectLock: { mode: "COMPLIANCE", days: 30 },
      });
      await valueOf(s.bucketArn);
      await settle();
      assert.equal(one("aws:s3/bucket:Bucket", "locked-bucket").inputs.objectLockEnabled, true);
      assert.deepEqual(one("aws:s3/bucketVersioning:BucketVersioning").inputs.versioningConfiguration, {
        status: "Enabled",
      });
      const lock = one("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration");
      assert.equal(lock.inputs.objectLockEnabled, "Enabled");
      assert.deepEqual(lock.inputs.rule, { defaultRetention: { mode: "COMPLIANCE", days: 30 } });
      const reg = registration("locked-object-lock");
      assert.ok(
        reg.dependencies.some((u) => u.endsWith("::locked-versioning")),
        "object lock configuration depends on versioning",
      );
      assert.equal(reg.retainOnDelete, true);
    });

    it("rejects an invalid mode or days, naming the arg", function () {
      assertThrowsConfigError(
        () =>
          new store.SnapshotStore("badmode", {
            ...base(),
            objectLock: { mode: "WORM" as unknown as "GOVERNANCE", days: 1 },
          }),
        { path: "objectLock.mode", message: /"WORM"/ },
      );
      assertThrowsConfigError(
        () => new store.SnapshotStore("baddays", { ...base(), objectLock: { mode: "GOVERNANCE", days: 0 } }),
        { path: "objectLock.days" },
      );
    });

    it("refuses access logging into the locked bucket itself, naming accessLogging.targetBucket", function () {
      assertThrowsConfigError(
        () =>
          new store.SnapshotStore("selflog", {
            ...base(),
            bucketName: "payments-prod-etcd-snapshots",
            objectLock: { mode: "GOVERNANCE", days: 7 },
            accessLogging: { targetBucket: "payments-prod-etcd-snapshots", targetPrefix: "logs/" },
          }),
        {
          path: "accessLogging.targetBucket",
          message: [/"payments-prod-etcd-snapshots" is the snapshot bucket itself/, /objectLock/],
          source: /SnapshotStore "selflog" args/,
        },
      );
    });

    it("refuses access logging into the locked replica", function () {
      assertThrowsConfigError(
        () =>
          new store.SnapshotStore("replog", {
            ...base(),
            objectLock: { mode: "GOVERNANCE", days: 7 },
            replication: { destinationRegion: "eu-central-1", bucketName: "payments-replica" },
            accessLogging: { targetBucket: "payments-replica", targetPrefix: "logs/" },
          }),
        { path: "accessLogging.targetBucket", message: /"payments-replica" is the replica bucket/ },
      );
    });

    it("refuses access logging into itself even without a lock", function () {
      assertThrowsConfigError(
        () =>
          new store.SnapshotStore("selflog2", {
            ...base(),
            bucketName: "payments-prod-etcd-snapshots",
            accessLogging: { targetBucket: "payments-prod-etcd-snapshots", targetPrefix: "logs/" },
          }),
        { path: "accessLogging.targetBucket", message: /logs its own log deliveries/ },
      );
    });

    it("refuses an empty access-log target, and a self target that is only known once names resolve", async function () {
      assertThrowsConfigError(
        () =>
          new store.SnapshotStore("emptylog", {
            ...base(),
            accessLogging: { targetBucket: " ", targetPrefix: "l/" },
          }),
        { path: "accessLogging.targetBucket", message: /is empty/ },
      );
      const late = accessLogging.resolvedLogTarget(
        pulumi.output("snaps"),
        pulumi.output("snaps"),
        true,
        'SnapshotStore "late" args',
      );
      await assertOutputConfigError(late, {
        path: "accessLogging.targetBucket",
        message: /Object Lock/,
        source: /SnapshotStore "late" args/,
      });
      assert.equal(await valueOf(accessLogging.resolvedLogTarget("snaps", "logs", false, "x")), "logs");
    });

    it("logs into a separate bucket", async function () {
      reset();
      const s = new store.SnapshotStore("logged", {
        ...base(),
        objectLock: { mode: "GOVERNANCE", days: 7 },
        accessLogging: { targetBucket: "central-access-logs", targetPrefix: "s3/etcd/" },
      });
      await valueOf(s.bucketArn);
      await settle();
      const l = one("aws:s3/bucketLogging:BucketLogging");
      assert.equal(l.inputs.bucket, "logged-bucket-a1b2c3d");
      assert.equal(l.inputs.targetBucket, "central-access-logs");
      assert.equal(l.inputs.targetPrefix, "s3/etcd/");
    });
  });

  describe("replication", function () {
    it("replicates the prefix into a hardened replica with its own key in the destination region", async function () {
      reset();
      const s = new store.SnapshotStore("rep", {
        ...base(),
        objectLock: { mode: "GOVERNANCE", days: 14 },
        replication: { destinationRegion: "eu-central-1" },
      });
      const replicaArn = await valueOf(s.replicaBucketArn);
      await settle();
      assert.equal(replicaArn, "arn:aws:s3:::rep-replica-bucket-a1b2c3d");

      const rb = one("aws:s3/bucket:Bucket", "rep-replica-bucket");
      assert.equal(rb.inputs.region, "eu-central-1");
      assert.equal(rb.inputs.forceDestroy, false);
      assert.equal(rb.inputs.objectLockEnabled, true);
      const rk = one("aws:kms/key:Key", "rep-replica-key");
      assert.equal(rk.inputs.region, "eu-central-1");
      assert.equal(rk.inputs.enableKeyRotation, true);
      for (const n of ["rep-replica-bucket", "rep-replica-key"]) {
        assert.equal(registration(n).protect, true, `${n} protect`);
        assert.equal(registration(n).retainOnDelete, true, `${n} retainOnDelete`);
      }

      // Same hardening on the replica, in its region, with its own key.
      const replicaKeyArn = `arn:aws:kms:eu-central-1:${ACCOUNT}:key/key-rep-replica-key`;
      const rsse = one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "rep-replica-sse",
      );
      assert.equal(rsse.inputs.region, "eu-central-1");
      assert.equal(rsse.inputs.rules[0].applyServerSideEncryptionByDefault.kmsMasterKeyId, replicaKeyArn);
      assert.equal(rsse.inputs.rules[0].bucketKeyEnabled, true);
      assert.deepEqual(
        one("aws:s3/bucketVersioning:BucketVersioning", "rep-replica-versioning").inputs
          .versioningConfiguration,
        { status: "Enabled" },
      );
      const rpab = one(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "rep-replica-public-access-block",
      );
      assert.equal(rpab.inputs.restrictPublicBuckets, true);
      assert.ok(one("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "rep-replica-ownership"));
      assert.ok(
        one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "rep-replica-lifecycle"),
      );
      assert.ok(
        one("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", "rep-replica-object-lock"),
      );
      const rpol = JSON.parse(one("aws:s3/bucketPolicy:BucketPolicy", "rep-replica-policy").inputs.policy);
      assert.ok(JSON.stringify(rpol).includes(replicaKeyArn), "replica policy pins the replica key");

      const cfg = one("aws:s3/bucketReplicationConfig:BucketReplicationConfig");
      assert.equal(cfg.inputs.bucket, "rep-bucket-a1b2c3d");
      assert.equal(cfg.inputs.role, `arn:aws:iam::${ACCOUNT}:role/rep-replication-role`);
      const rule = cfg.inputs.rules[0];
      assert.equal(rule.status, "Enabled");
      assert.deepEqual(rule.filter, { prefix: "payments/prod/" });
      assert.deepEqual(rule.deleteMarkerReplication, { status: "Disabled" });
      assert.deepEqual(rule.sourceSelectionCriteria, { sseKmsEncryptedObjects: { status: "Enabled" } });
      assert.equal(rule.destination.bucket, replicaArn);
      assert.deepEqual(rule.destination.encryptionConfiguration, { replicaKmsKeyId: replicaKeyArn });
      const deps = registration("rep-replication").dependencies;
      assert.ok(deps.some((u) => u.endsWith("::rep-versioning")));
      assert.ok(deps.some((u) => u.endsWith("::rep-replica-versioning")));

      const role = one("aws:iam/role:Role", "rep-replication-role");
      const trust = JSON.parse(role.inputs.assumeRolePolicy) as PolicyDocument;
      assert.deepEqual(trust.Statement[0].Principal, { Service: "s3.amazonaws.com" });
      const perms = JSON.parse(one("aws:iam/rolePolicy:RolePolicy", "rep-replication-policy").inputs.policy);
      const actions = (perms as PolicyDocument).Statement.flatMap((x) => list(x.Action));
      assert.ok(actions.includes("s3:ReplicateObject"));
      assert.ok(actions.includes("s3:GetObjectRetention"));
      assert.ok(!actions.some((a) => /Delete/.test(a)), "no delete replication");
    });

    it("only S3, replicating this account's source bucket, may assume the replication role", async function () {
      const trust = JSON.parse(one("aws:iam/role:Role", "rep-replication-role").inputs.assumeRolePolicy);
      assert.deepEqual((trust as PolicyDocument).Statement[0].Condition, {
        StringEquals: { "aws:SourceAccount": ACCOUNT },
        ArnEquals: { "aws:SourceArn": "arn:aws:s3:::rep-bucket-a1b2c3d" },
      });
      const assume = (context: Ctx) =>
        decide([trust as PolicyDocument], {
          service: "s3.amazonaws.com",
          action: "sts:AssumeRole",
          resource: "*",
          context,
        });
      assert.equal(
        assume({ "aws:SourceAccount": ACCOUNT, "aws:SourceArn": "arn:aws:s3:::rep-bucket-a1b2c3d" }),
        "Allow",
      );
      assert.equal(
        assume({ "aws:SourceAccount": "210987654321", "aws:SourceArn": "arn:aws:s3:::attacker-bucket" }),
        "ImplicitDeny",
        "S3 acting for another account's bucket (the confused deputy)",
      );
      assert.equal(assume({}), "ImplicitDeny");
    });

    it("replication decrypts only through S3 at the source and encrypts only through S3 at the replica", function () {
      const perms = JSON.parse(one("aws:iam/rolePolicy:RolePolicy", "rep-replication-policy").inputs.policy);
      const st = (sid: string) => (perms as PolicyDocument).Statement.find((x) => x.Sid === sid)!;
      assert.deepEqual(st("DecryptSource").Condition, {
        StringEquals: { "kms:ViaService": "s3.eu-west-1.amazonaws.com" },
        StringLike: {
          "kms:EncryptionContext:aws:s3:arn": [
            "arn:aws:s3:::rep-bucket-a1b2c3d",
            "arn:aws:s3:::rep-bucket-a1b2c3d/payments/prod/*",
          ],
        },
      });
      assert.deepEqual(st("EncryptReplica").Condition, {
        StringEquals: { "kms:ViaService": "s3.eu-central-1.amazonaws.com" },
        StringLike: {
          "kms:EncryptionContext:aws:s3:arn": [
            "arn:aws:s3:::rep-replica-bucket-a1b2c3d",
            "arn:aws:s3:::rep-replica-bucket-a1b2c3d/payments/prod/*",
          ],
        },
      });
    });

    it("replication failures do not stay silent: replication metrics on, and an alarm on failed operations", function () {
      const rule = one("aws:s3/bucketReplicationConfig:BucketReplicationConfig").inputs.rules[0];
      assert.deepEqual(rule.destination.metrics, { status: "Enabled" });
      const alarm = one("aws:cloudwatch/metricAlarm:MetricAlarm", "rep-replication-failures").inputs;
      assert.equal(alarm.namespace, "AWS/S3");
      assert.equal(alarm.metricName, "OperationsFailedReplication");
      assert.deepEqual(alarm.dimensions, {
        SourceBucket: "rep-bucket-a1b2c3d",
        DestinationBucket: "rep-replica-bucket-a1b2c3d",
        RuleId: rule.id,
      });
      assert.equal(alarm.comparisonOperator, "GreaterThanThreshold");
      assert.equal(alarm.threshold, 0);
      assert.equal(alarm.treatMissingData, "notBreaching");
    });

    it("the replication rule, its role and the role's policy are retained with the buckets", function () {
      for (const n of ["rep-replication", "rep-replication-role", "rep-replication-policy"])
        assert.equal(registration(n).retainOnDelete, true, n);
    });

    it("the replica's key: replication encrypts, restore readers decrypt, no writer, no one else", function () {
      const kp = JSON.parse(one("aws:kms/key:Key", "rep-replica-key").inputs.policy) as PolicyDocument;
      assert.deepEqual(
        kp.Statement.map((x) => x.Sid),
        ["AdministerKey", "RestoreReadersDecryptThroughS3", "ReplicationEncryptsReplicasThroughS3"],
      );
      const replicaObj = "arn:aws:s3:::rep-replica-bucket-a1b2c3d/payments/prod/x.db.gz";
      const via = {
        "kms:ViaService": "s3.eu-central-1.amazonaws.com",
        "kms:EncryptionContext:aws:s3:arn": replicaObj,
      };
      const kms = (principal: string, action: string) =>
        decideKms(kp, [ALLOW_ALL], { principal, action, resource: "*", context: via });
      const role = `arn:aws:iam::${ACCOUNT}:role/rep-replication-role`;
      assert.equal(kms(role, "kms:Encrypt"), "Allow");
      assert.equal(kms(role, "kms:Decrypt"), "ImplicitDeny");
      assert.equal(kms(READER, "kms:Decrypt"), "Allow");
      assert.equal(kms(WRITER, "kms:GenerateDataKey"), "ImplicitDeny", "the writer never writes the replica");
    });

    it("a replica region that is the stack's own, or in another partition, is refused when known", async function () {
      for (const [region, message] of [
        ["eu-west-1", /is the stack's own region/],
        ["cn-north-1", /is in partition "aws-cn", but this stack deploys to "aws"/],
      ] as const) {
        const s = new store.SnapshotStore(`badrep-${region}`, {
          ...base(),
          replication: { destinationRegion: region },
        });
        await assertOutputConfigError(s.replicaBucketArn!, {
          path: "replication.destinationRegion",
          message,
        });
      }
    });
  });

  describe("validation", function () {
    it("cold transition must come before expiry; default class GLACIER_IR", async function () {
      assertThrowsConfigError(
        () =>
          new store.SnapshotStore("badcold", {
            ...base(),
            retention: { days: 30, transitionToColdAfterDays: 30, noncurrentVersionDays: 1 },
          }),
        { path: "retention.transitionToColdAfterDays", message: /must be less than/ },
      );
      const s = new store.SnapshotStore("cold", {
        ...base(),
        retention: { days: 180, transitionToColdAfterDays: 30, noncurrentVersionDays: 7 },
      });
      await valueOf(s.bucketArn);
      await settle();
      const r = one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "cold-lifecycle")
        .inputs.rules[0];
      assert.deepEqual(r.transitions, [{ days: 30, storageClass: "GLACIER_IR" }]);
      assert.deepEqual(r.expiration, { days: 180 });
    });

    it("names who writes: writerRoleArns is required without oidc", function () {
      const { writerRoleArns: _, ...noWriters } = base();
      assertThrowsConfigError(() => new store.SnapshotStore("nowriter", noWriters), {
        path: "writerRoleArns",
        message: /is required without oidc/,
      });
    });

    it("writer and reader ARNs of another account or partition are refused when the stack's are known", async function () {
      const other = new store.SnapshotStore("foreign", {
        ...base(),
        writerRoleArns: ["arn:aws:iam::210987654321:role/node"],
        readerRoleArns: ["arn:aws-cn:iam::123456789012:role/restore"],
      });
      await assertOutputConfigError(other.writerArns, {
        path: "writerRoleArns[0]",
        message: /is in account 210987654321, but this stack deploys to account 123456789012/,
      });
      await assertOutputConfigError(other.readerArns, {
        path: "readerRoleArns[0]",
        message: /is in partition "aws-cn", but this stack deploys to "aws"/,
      });
    });

    it("a component name S3 would refuse in an auto-named bucket is refused before anything is created", async function () {
      reset();
      for (const [name, message] of [
        ["Snapshots_Prod", /is not an S3 bucket name/],
        ["xn--snaps", /starts with "xn--", which S3 reserves/],
        ["x".repeat(50), /is not an S3 bucket name/],
      ] as const)
        assertThrowsConfigError(() => new store.SnapshotStore(name, base()), {
          path: "(resource name)",
          message,
        });
      const named = new store.SnapshotStore("Snapshots_Named", {
        ...base(),
        bucketName: "payments-prod-snaps",
      });
      assert.equal(
        await valueOf(named.bucketName),
        "payments-prod-snaps",
        "a named bucket does not use the resource name",
      );
    });

    it("kmsKeyDeletionWindowDays must be 7..30", async function () {
      assertThrowsConfigError(
        () => new store.SnapshotStore("badwin", { ...base(), kmsKeyDeletionWindowDays: 5 }),
        { path: "kmsKeyDeletionWindowDays", message: /5 is not a whole number of days from 7 to 30/ },
      );
      const s = new store.SnapshotStore("win7", { ...base(), kmsKeyDeletionWindowDays: 7 });
      await valueOf(s.kmsKeyArn);
      await settle();
      assert.equal(one("aws:kms/key:Key", "win7-key").inputs.deletionWindowInDays, 7);
    });

    it("clusterName/environment must be single prefix segments", function () {
      assertThrowsConfigError(
        () => new store.SnapshotStore("badcluster", { ...base(), clusterName: "a/b" }),
        { path: "clusterName", message: /"a\/b"/ },
      );
    });

    it("noncurrent versions must expire (versioned bucket)", function () {
      assertThrowsConfigError(
        () =>
          new store.SnapshotStore("nonc", {
            ...base(),
            retention: { days: 7, noncurrentVersionDays: 0 },
          }),
        { path: "retention.noncurrentVersionDays" },
      );
    });

    it("per-environment defaults are consistent", function () {
      for (const env of ["dev", "staging", "prod"] as const) {
        const d = defaults.snapshotDefaults[env];
        assert.deepEqual(backupConfig.validateRetention(d.retention, env), [], env);
        backupConfig.validateSchedule(d.schedule);
        const { shortestMinutes } = cronIntervals(d.schedule.schedule);
        assert.ok(
          d.schedule.activeDeadlineSeconds < shortestMinutes * 60,
          `${env}: a run fits in its interval`,
        );
        assert.ok(d.schedule.startingDeadlineSeconds <= shortestMinutes * 60, env);
        // The table is taken as it is: resolution caps nothing for the default schedules.
        assert.deepEqual(backupConfig.resolveSnapshotSchedule(env), d.schedule, env);
      }
      assert.equal(defaults.snapshotDefaults.prod.schedule.schedule, "*/15 * * * *");
      assert.equal(defaults.snapshotDefaults.staging.schedule.schedule, "0 * * * *");
      assert.equal(defaults.snapshotDefaults.dev.schedule.schedule, "0 */6 * * *");
      assert.equal(defaults.snapshotDefaults.dev.retention.days, 7);
      assert.equal(defaults.snapshotDefaults.staging.retention.days, 14);
      assert.equal(defaults.snapshotDefaults.prod.retention.days, 35);
    });

    it("warns when a cold transition costs more than it saves", function () {
      const w = backupConfig.validateRetention(
        { days: 35, transitionToColdAfterDays: 30, noncurrentVersionDays: 7 },
        "test",
      );
      assert.equal(w.length, 1);
      assert.match(w[0], /GLACIER_IR/);
    });
  });
});
