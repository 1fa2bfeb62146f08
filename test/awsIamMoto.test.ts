import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from "@aws-sdk/client-iam";
import { CreateKeyCommand, DecryptCommand, EncryptCommand, KMSClient } from "@aws-sdk/client-kms";
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutResourcePolicyCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import {
  snapshotBucketPolicy,
  snapshotReaderPolicy,
  snapshotWriterPolicy,
  type PolicyDocument,
} from "../components/backup/policies";
import { snapshotKeyPolicy } from "../components/backup/store/keyPolicy";
import { secretReadPolicy, secretResourcePolicy } from "../components/secretStore/policies";
import {
  motoAccountId,
  motoUserWithPolicy,
  startMoto,
  type AwsCredentials,
  type MotoServer,
} from "../harness/moto";

/*
 * The package's identity policies with moto's IAM enforcement on (moto 5.2.6 server, credentials made in
 * moto, roles assumed through moto's STS): what moto checks, and — pinned by tests titled "moto does not
 * …", so the docs cannot drift from it — what it does not. What it does not check is covered by the
 * rendered-JSON tests (test/support/iamEvaluator.ts) and parliament (test/policyLint.test.ts).
 *
 * moto 5.2.6, read from its source and confirmed here:
 * - S3: every request is authorized against the bucket/object ARN: identity policies' Action, Resource
 *   and explicit Deny are enforced. Conditions are not evaluated (every condition holds), and a listing
 *   is authorized as s3:ListObjects/ListObjectsV2 (the API's name), not s3:ListBucket.
 * - every other service (Secrets Manager, KMS) is authorized against the resource "*": a statement that
 *   names a resource never matches, so a policy scoped to one secret or one key allows nothing there.
 * - a statement without Resource (NotResource) is read as a trust statement and PERMITS, even a Deny.
 * - resource policies of secrets and key policies are stored, never evaluated; a bucket policy is
 *   evaluated for object requests but without its Principal and conditions, so any conditional Deny in it
 *   denies everyone.
 */

const BUCKET = "payments-prod-snaps";
const PREFIX = "payments/prod/";

describe("AWS identity policies under moto's IAM enforcement @integration", function () {
  this.timeout(180_000);
  let moto: MotoServer;
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "moto-iam-"));
  const roles: Record<string, AwsCredentials> = {};
  let keyArn: string;
  let ciphertext: Uint8Array;
  let ownSecretArn: string;
  let otherSecretArn: string;
  const arn = (kind: string, name: string) => `arn:aws:iam::${motoAccountId}:${kind}/${name}`;
  const bucketArn = `arn:aws:s3:::${BUCKET}`;

  before(async () => {
    moto = await startMoto({ workDir, region: "eu-west-1" });
    const root = moto.clientConfig();
    const iam = new IAMClient(root);
    const s3 = new S3Client(root);
    await s3.send(
      new CreateBucketCommand({
        Bucket: BUCKET,
        CreateBucketConfiguration: { LocationConstraint: "eu-west-1" },
      }),
    );
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: BUCKET, VersioningConfiguration: { Status: "Enabled" } }),
    );
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}old.db.gz`, Body: "snapshot" }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "other/prod/x.db.gz", Body: "theirs" }));
    keyArn = (await new KMSClient(root).send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    ciphertext = (
      await new KMSClient(root).send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from("k") }))
    ).CiphertextBlob!;
    const sm = new SecretsManagerClient(root);
    ownSecretArn = (
      await sm.send(
        new CreateSecretCommand({ Name: "secure-etcd/payments/prod/cp-1", SecretString: "bundle-1" }),
      )
    ).ARN!;
    otherSecretArn = (
      await sm.send(
        new CreateSecretCommand({ Name: "secure-etcd/payments/prod/cp-2", SecretString: "bundle-2" }),
      )
    ).ARN!;

    // A user that may assume the roles; the roles carry the package's rendered policies.
    const key = await motoUserWithPolicy(
      iam,
      "tester",
      { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "sts:AssumeRole", Resource: "*" }] },
      "assume",
    );
    const trust = JSON.stringify({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Principal: { AWS: arn("user", "tester") }, Action: "sts:AssumeRole" }],
    });
    const loc = {
      bucketArn,
      prefix: PREFIX,
      kmsKeyArn: keyArn,
      region: "eu-west-1",
      dnsSuffix: "amazonaws.com",
    };
    const policies: Record<string, PolicyDocument> = {
      writer: snapshotWriterPolicy(loc),
      reader: snapshotReaderPolicy(loc),
      node: secretReadPolicy({
        secretArn: ownSecretArn,
        kmsKeyArn: keyArn,
        region: "eu-west-1",
        dnsSuffix: "amazonaws.com",
      }),
      admin: { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] },
      conditional: {
        Version: "2012-10-17",
        Statement: [
          { Effect: "Allow", Action: "s3:GetObject", Resource: `${bucketArn}/*` },
          {
            Effect: "Deny",
            Action: "s3:GetObject",
            Resource: `${bucketArn}/*`,
            Condition: { StringEquals: { "aws:PrincipalTag/team": "nobody" } },
          },
        ],
      },
    };
    for (const [name, doc] of Object.entries(policies)) {
      await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: trust }));
      await iam.send(
        new PutRolePolicyCommand({ RoleName: name, PolicyName: name, PolicyDocument: JSON.stringify(doc) }),
      );
    }

    await moto.enforceIam(0);
    const sts = new STSClient(moto.clientConfig(key));
    for (const name of Object.keys(policies)) {
      const c = (await sts.send(new AssumeRoleCommand({ RoleArn: arn("role", name), RoleSessionName: name })))
        .Credentials!;
      roles[name] = {
        accessKeyId: c.AccessKeyId!,
        secretAccessKey: c.SecretAccessKey!,
        sessionToken: c.SessionToken!,
      };
    }
  });
  after(async () => {
    await moto?.stop();
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  const s3As = (role: string) => new S3Client({ ...moto.clientConfig(roles[role]), maxAttempts: 1 });
  const smAs = (role: string) =>
    new SecretsManagerClient({ ...moto.clientConfig(roles[role]), maxAttempts: 1 });
  const denied = async (p: Promise<unknown>) =>
    assert.rejects(
      p,
      (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode === 403,
    );
  const body = async (p: Promise<{ Body?: { transformToString(): Promise<string> } }>) =>
    (await p).Body!.transformToString();

  it("with enforcement on, the root test credentials are refused (enforcement is really on)", async () => {
    await denied(
      new S3Client({ ...moto.clientConfig(), maxAttempts: 1 }).send(
        new GetObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}old.db.gz` }),
      ),
    );
  });

  it("the snapshot writer uploads with SSE-KMS under its prefix and reads it back", async () => {
    const w = s3As("writer");
    await w.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: `${PREFIX}new.db.gz`,
        Body: "fresh",
        ServerSideEncryption: "aws:kms",
        SSEKMSKeyId: keyArn,
      }),
    );
    assert.equal(
      await body(w.send(new GetObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}new.db.gz` }))),
      "fresh",
    );
  });

  it("the snapshot writer cannot read or write another prefix, delete, or change the bucket policy", async () => {
    const w = s3As("writer");
    await denied(w.send(new GetObjectCommand({ Bucket: BUCKET, Key: "other/prod/x.db.gz" })));
    await denied(w.send(new PutObjectCommand({ Bucket: BUCKET, Key: "other/prod/y.db.gz", Body: "x" })));
    await denied(w.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}old.db.gz` })));
    await denied(w.send(new PutBucketPolicyCommand({ Bucket: BUCKET, Policy: "{}" })));
  });

  it("the restore reader reads the archive under its prefix, and writes and deletes nothing", async () => {
    const r = s3As("reader");
    assert.equal(
      await body(r.send(new GetObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}old.db.gz` }))),
      "snapshot",
    );
    await denied(r.send(new GetObjectCommand({ Bucket: BUCKET, Key: "other/prod/x.db.gz" })));
    await denied(r.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}z.db.gz`, Body: "x" })));
    await denied(r.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}old.db.gz` })));
  });

  it("a member's node role has no S3 access at all", async () => {
    await denied(s3As("node").send(new GetObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}old.db.gz` })));
  });

  it("moto authorizes a listing as s3:ListObjectsV2, not s3:ListBucket: the writer's ListBucket grant lists nothing there", async () => {
    // In AWS the writer lists under its prefix (s3:ListBucket with s3:prefix; test: snapshotStore.test.ts).
    await denied(s3As("writer").send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: PREFIX })));
  });

  it("moto does not evaluate identity-policy conditions: a Deny whose condition AWS finds false still denies", async () => {
    // "conditional" may read every object, except — in AWS — when it carries a tag it does not carry.
    await denied(
      s3As("conditional").send(new GetObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}old.db.gz` })),
    );
  });

  it("moto does not scope Secrets Manager by resource: a policy naming the member's own secret allows nothing", async () => {
    await denied(smAs("node").send(new GetSecretValueCommand({ SecretId: ownSecretArn })));
    await denied(smAs("node").send(new GetSecretValueCommand({ SecretId: otherSecretArn })));
    // Only a Resource "*" statement matches in moto: the admin role reads both.
    assert.equal(
      (await smAs("admin").send(new GetSecretValueCommand({ SecretId: otherSecretArn }))).SecretString,
      "bundle-2",
    );
  });

  it("moto reads a NotResource statement as a trust statement and PERMITS: the node's Deny lets it decrypt directly", async () => {
    // The node policy's only kms statements: an Allow naming the key (never matches "*" in moto) and the
    // Deny with NotResource. In AWS a direct Decrypt is refused (no kms:ViaService); moto allows it.
    const kms = new KMSClient({ ...moto.clientConfig(roles.node), maxAttempts: 1 });
    const out = await kms.send(new DecryptCommand({ CiphertextBlob: ciphertext }));
    assert.equal(Buffer.from(out.Plaintext!).toString(), "k");
  });

  it("moto stores a secret's resource policy but does not evaluate it: the admin writes despite OnlyDeployersWrite", async () => {
    const policy = secretResourcePolicy({
      readerRoleArns: [arn("role", "node")],
      deployerArns: [arn("user", "deployer")],
    });
    await smAs("admin").send(
      new PutResourcePolicyCommand({ SecretId: ownSecretArn, ResourcePolicy: JSON.stringify(policy) }),
    );
    await smAs("admin").send(
      new PutSecretValueCommand({ SecretId: ownSecretArn, SecretString: "written by another principal" }),
    );
    assert.equal(
      (await smAs("admin").send(new GetSecretValueCommand({ SecretId: ownSecretArn }))).SecretString,
      "written by another principal",
      "AWS would deny both calls (test: secretStoreAccess.test.ts)",
    );
  });

  it("moto stores a key policy but does not evaluate it: the admin encrypts under a key whose policy names only the writer", async () => {
    const kms = new KMSClient({ ...moto.clientConfig(roles.admin), maxAttempts: 1 });
    const policy = snapshotKeyPolicy({
      partition: "aws",
      accountId: motoAccountId,
      region: "eu-west-1",
      dnsSuffix: "amazonaws.com",
      bucketArn,
      prefix: PREFIX,
      deployerArns: [arn("user", "deployer")],
      writerArns: [arn("role", "writer")],
      readerArns: [],
    });
    const key = (
      await kms.send(
        new CreateKeyCommand({ Policy: JSON.stringify(policy), BypassPolicyLockoutSafetyCheck: true }),
      )
    ).KeyMetadata!;
    const out = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from("x") }));
    assert.ok(out.CiphertextBlob, "AWS would refuse (test: snapshotStore.test.ts, key policy evaluated)");
  });

  it("moto evaluates a bucket policy without its principals and conditions: the package's denies every object read", async () => {
    const policy = snapshotBucketPolicy({
      bucketArn,
      kmsKeyArn: keyArn,
      objectReaders: [arn("role", "writer"), arn("role", "reader")],
      deployers: [arn("role", "admin")],
    });
    await s3As("admin").send(new PutBucketPolicyCommand({ Bucket: BUCKET, Policy: JSON.stringify(policy) }));
    // Over TLS 1.3 from the writer, AWS allows this; moto applies DenyInsecureTransport unconditionally.
    await denied(s3As("writer").send(new GetObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}old.db.gz` })));
  });
});
