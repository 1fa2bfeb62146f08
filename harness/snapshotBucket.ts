/**
 * The snapshot bucket as the tests, the backup drill and the bench use it: moto's server with a bucket,
 * a KMS key, and IAM principals holding the package's own policies (components/backup/policies.ts) — a
 * writer (the snapshot job), a reader (restores) and an admin (test setup and inspection) — behind the
 * fault proxy (harness/faultProxy.ts), through which every fault case goes: endpoint down, error
 * answers, slow answers, truncated bodies, lost bytes.
 *
 * With `enforceIam`, moto checks every request's SigV4 signature and evaluates the principal's identity
 * policies (actions and resources; an explicit Deny wins): the job's calls are proven to fit the writer
 * policy (it may not delete, so a failed run leaves an empty failed-marked object) and the restore's the
 * reader policy — with moto's own names for the multipart calls and HeadObject added beside the AWS
 * actions that cover them ({@link asMotoEvaluates}). What moto does NOT do — say so where a test relies on it: it stores but does not evaluate
 * bucket policies, key policies or most conditions (`kms:ViaService`, `s3:prefix`, SSE headers), it
 * does not encrypt (SSE-KMS is recorded and echoed), and it does not protect COMPLIANCE retention.
 */
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from "@aws-sdk/client-iam";
import { CreateKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type HeadObjectCommandOutput,
} from "@aws-sdk/client-s3";
import {
  snapshotReaderPolicy,
  snapshotWriterPolicy,
  type PolicyDocument,
} from "../components/backup/policies";
import { startFaultProxy, type FaultProxy } from "./faultProxy";
import { motoAccountId, motoUserWithPolicy, startMoto, type AwsCredentials, type MotoServer } from "./moto";

export type BucketRole = "writer" | "reader" | "admin";

export interface StoredSnapshotObject {
  key: string;
  body: Buffer;
  size: number;
  metadata: Record<string, string>;
  contentType?: string;
  sse?: string;
  kmsKeyId?: string;
}

export interface SnapshotBucket {
  moto: MotoServer;
  proxy: FaultProxy;
  /** The proxy's URL: what the job and the restore tool use as their S3 endpoint. */
  endpoint: string;
  bucket: string;
  prefix: string;
  region: string;
  kmsKeyArn: string;
  iamEnforced: boolean;
  credentials: Record<BucketRole, AwsCredentials>;
  /** A role with the writer policy that trusts web identities (IRSA), for AssumeRoleWithWebIdentity. */
  webIdentityRoleArn: string;
  /** AWS environment for a process acting as `role` through the proxy (no other AWS settings leak in). */
  env(role: BucketRole): Record<string, string>;
  /** An admin S3 client straight to moto (setup and inspection never go through the faults). */
  s3: S3Client;
  list(prefix?: string): Promise<{ key: string; size: number }[]>;
  get(key: string): Promise<StoredSnapshotObject | undefined>;
  put(key: string, body: Buffer, metadata?: Record<string, string>): Promise<void>;
  /** Multipart uploads started and never completed or aborted. */
  pendingUploads(): Promise<string[]>;
  stop(): Promise<void>;
}

export interface SnapshotBucketOptions {
  workDir: string;
  bucket?: string;
  prefix: string;
  region?: string;
  /** Turn on moto's IAM enforcement (signatures and identity policies); default true. */
  enforceIam?: boolean;
  /** Loopback address for moto and the proxy. */
  host?: string;
  motoEnv?: Record<string, string>;
}

/**
 * moto (5.2) authorizes some S3 calls under the operation's name instead of the IAM action AWS checks:
 * CreateMultipartUpload, UploadPart and CompleteMultipartUpload are `s3:PutObject` to AWS, HeadObject is
 * `s3:GetObject`. A statement that grants (or denies) the AWS action gets moto's names beside it, so the
 * package's policies mean to moto what they mean to AWS.
 */
const motoOperationNames: Record<string, string[]> = {
  "s3:PutObject": ["s3:CreateMultipartUpload", "s3:UploadPart", "s3:CompleteMultipartUpload"],
  "s3:GetObject": ["s3:HeadObject"],
};

export function asMotoEvaluates(policy: PolicyDocument): PolicyDocument {
  return {
    ...policy,
    Statement: policy.Statement.map((st) => {
      const actions = Array.isArray(st.Action) ? st.Action : [st.Action];
      const extra = actions.flatMap((a) => motoOperationNames[a] ?? []);
      return extra.length ? { ...st, Action: [...actions, ...extra] } : st;
    }),
  };
}

export async function startSnapshotBucket(o: SnapshotBucketOptions): Promise<SnapshotBucket> {
  const region = o.region ?? "eu-west-1";
  const bucket = o.bucket ?? "etcd-snapshots";
  const moto = await startMoto({ workDir: o.workDir, host: o.host, region, env: o.motoEnv });
  let proxy: FaultProxy | undefined;
  try {
    const root = moto.clientConfig();
    const key = await new KMSClient(root).send(
      new CreateKeyCommand({ Description: "etcd snapshots (test)" }),
    );
    const kmsKeyArn = key.KeyMetadata!.Arn!;
    const s3root = new S3Client({ ...root, maxAttempts: 1 });
    await s3root.send(
      new CreateBucketCommand({
        Bucket: bucket,
        CreateBucketConfiguration: { LocationConstraint: region as never },
      }),
    );
    const loc = {
      bucketArn: `arn:aws:s3:::${bucket}`,
      prefix: o.prefix,
      kmsKeyArn,
      region,
      dnsSuffix: "amazonaws.com",
    };
    const iam = new IAMClient(root);
    const admin = await motoUserWithPolicy(iam, "snapshot-test-admin", {
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }],
    });
    const writerPolicy = asMotoEvaluates(snapshotWriterPolicy(loc));
    const writer = await motoUserWithPolicy(iam, "snapshot-writer", writerPolicy);
    const reader = await motoUserWithPolicy(
      iam,
      "snapshot-reader",
      asMotoEvaluates(snapshotReaderPolicy(loc)),
    );
    const roleName = "etcd-snapshot-irsa";
    await iam.send(
      new CreateRoleCommand({
        RoleName: roleName,
        AssumeRolePolicyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Allow",
              Principal: { Federated: `arn:aws:iam::${motoAccountId}:oidc-provider/oidc.example.test` },
              Action: "sts:AssumeRoleWithWebIdentity",
            },
          ],
        }),
      }),
    );
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: roleName,
        PolicyName: "writer",
        PolicyDocument: JSON.stringify(writerPolicy),
      }),
    );
    const enforce = o.enforceIam ?? true;
    if (enforce) await moto.enforceIam(0);
    proxy = await startFaultProxy(moto.endpoint, o.host);
    const credentials = { admin, writer, reader };
    const s3 = new S3Client({ ...moto.clientConfig(admin), maxAttempts: 2 });
    const p = proxy;
    return {
      moto,
      proxy: p,
      endpoint: p.url,
      bucket,
      prefix: o.prefix,
      region,
      kmsKeyArn,
      iamEnforced: enforce,
      credentials,
      webIdentityRoleArn: `arn:aws:iam::${motoAccountId}:role/${roleName}`,
      env: (role) => ({ ...moto.env(credentials[role]), AWS_ENDPOINT_URL: p.url }),
      s3,
      async list(prefix = o.prefix) {
        const out: { key: string; size: number }[] = [];
        let token: string | undefined;
        do {
          const r = await s3.send(
            new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
          );
          for (const c of r.Contents ?? []) out.push({ key: c.Key!, size: c.Size ?? 0 });
          token = r.NextContinuationToken;
        } while (token);
        return out.sort((a, b) => a.key.localeCompare(b.key));
      },
      async get(k) {
        let head: HeadObjectCommandOutput;
        try {
          head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: k }));
        } catch (e) {
          if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404)
            return undefined;
          throw e;
        }
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: k }));
        const body = Buffer.from(await got.Body!.transformToByteArray());
        return {
          key: k,
          body,
          size: body.length,
          metadata: head.Metadata ?? {},
          contentType: head.ContentType,
          sse: head.ServerSideEncryption,
          kmsKeyId: head.SSEKMSKeyId,
        };
      },
      async put(k, body, metadata = {}) {
        await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: k,
            Body: body,
            Metadata: metadata,
            ServerSideEncryption: "aws:kms",
            SSEKMSKeyId: kmsKeyArn,
          }),
        );
      },
      async pendingUploads() {
        const r = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
        return (r.Uploads ?? []).map((u) => u.Key!);
      },
      async stop() {
        await p.stop();
        await moto.stop();
      },
    };
  } catch (e) {
    await proxy?.stop();
    await moto.stop();
    throw e;
  }
}
