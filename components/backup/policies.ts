/**
 * IAM and bucket policy documents for the snapshot store. Pure functions: plain strings in, JSON-ready
 * objects out (serialise with `JSON.stringify`). No Pulumi here, so they are unit-tested directly and can
 * be reused by anyone who attaches the policies themselves.
 *
 * A note on the SSE conditions (read before "simplifying" them): in a Deny statement,
 * `StringNotEquals` and `StringNotEqualsIfExists` both evaluate to TRUE when the key is absent from the
 * request (IfExists means "if the key is missing, the condition holds"). A Deny on
 * `StringNotEqualsIfExists s3:x-amz-server-side-encryption aws:kms` would therefore reject every upload
 * that omits the header — the very uploads that rely on the bucket's default SSE-KMS — and every
 * multipart `UploadPart` request (which never carries SSE headers). The statements below pair the
 * comparison with `Null: false` ("the header is present"), so only uploads that *name* another
 * encryption or another key are denied.
 */

export type PolicyConditionBlock = Record<string, Record<string, string | string[]>>;

export interface PolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Principal?: "*" | Record<string, string | string[]>;
  Action: string | string[];
  Resource?: string | string[];
  Condition?: PolicyConditionBlock;
}

export interface PolicyDocument {
  Version: "2012-10-17";
  Statement: PolicyStatement[];
}

/** Where the snapshots are: bucket ARN, key prefix (`<cluster>/<env>/`) and the CMK that encrypts them. */
export interface SnapshotLocation {
  /** ARN of the snapshot bucket (`arn:<partition>:s3:::<name>`). */
  bucketArn: string;
  /** Key prefix, must end with `/` (so `*` cannot reach a sibling prefix). */
  prefix: string;
  /** ARN of the customer-managed KMS key. */
  kmsKeyArn: string;
  /**
   * Region of the bucket. When given, KMS permissions are limited to calls made through S3 in that
   * region (`kms:ViaService`), so the credentials cannot use the key directly.
   */
  region?: string;
}

const SSE_HEADER = "s3:x-amz-server-side-encryption";
const SSE_KEY_HEADER = "s3:x-amz-server-side-encryption-aws-kms-key-id";

export function checkArn(kind: string, arn: string, pattern: RegExp): void {
  if (typeof arn !== "string" || !pattern.test(arn)) {
    throw new Error(`${kind} must be an ARN (got "${String(arn)}")`);
  }
}

function checkLocation(loc: SnapshotLocation): void {
  checkArn("bucketArn", loc.bucketArn, /^arn:[a-z-]+:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/);
  checkArn("kmsKeyArn", loc.kmsKeyArn, /^arn:[a-z-]+:kms:[a-z0-9-]+:\d{12}:key\/.+$/);
  if (
    typeof loc.prefix !== "string" ||
    loc.prefix.length < 2 ||
    !loc.prefix.endsWith("/") ||
    loc.prefix.startsWith("/")
  ) {
    throw new Error(`prefix must be a non-empty key prefix ending with "/" (got "${String(loc.prefix)}")`);
  }
  if (/[*?]/.test(loc.prefix)) throw new Error(`prefix must not contain wildcards (got "${loc.prefix}")`);
}

/** ARN pattern of every object under the prefix. */
export function snapshotObjectsArn(bucketArn: string, prefix: string): string {
  return `${bucketArn}/${prefix}*`;
}

function kmsViaS3(region: string | undefined): PolicyConditionBlock | undefined {
  return region ? { StringEquals: { "kms:ViaService": `s3.${region}.amazonaws.com` } } : undefined;
}

function withCondition(s: PolicyStatement, c: PolicyConditionBlock | undefined): PolicyStatement {
  return c ? { ...s, Condition: c } : s;
}

/** Actions nobody holding the writer policy may perform on the bucket, whatever else their role allows. */
export const WRITER_DENIED_ACTIONS: readonly string[] = Object.freeze([
  "s3:DeleteObject",
  "s3:DeleteObjectVersion",
  "s3:DeleteBucket",
  "s3:PutLifecycleConfiguration",
  "s3:PutBucketVersioning",
  "s3:PutBucketPolicy",
  "s3:DeleteBucketPolicy",
  "s3:PutObjectRetention",
  "s3:PutObjectLegalHold",
  "s3:BypassGovernanceRetention",
  "s3:PutBucketObjectLockConfiguration",
]);

/**
 * Least-privilege policy for the snapshot job:
 * - `s3:PutObject` and `s3:AbortMultipartUpload` under the prefix only (multipart uploads of large
 *   snapshots use PutObject for create/upload-part/complete);
 * - `s3:GetObject` under the prefix, to verify the upload (HeadObject is authorised by s3:GetObject;
 *   there is no separate s3:HeadObject action);
 * - `s3:ListBucket` only with an `s3:prefix` under the cluster's prefix (a missing prefix is not allowed);
 * - `kms:GenerateDataKey`, `kms:Encrypt`, `kms:Decrypt` on the snapshot key (Decrypt is needed to
 *   complete multipart uploads and to read back for verification);
 * - NO delete of any kind, and an explicit Deny of deletes and of retention/lifecycle/policy changes on
 *   this bucket, so a compromised node cannot erase backups even if another policy on its role is broad.
 */
export function snapshotWriterPolicy(loc: SnapshotLocation): PolicyDocument {
  checkLocation(loc);
  const objects = snapshotObjectsArn(loc.bucketArn, loc.prefix);
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "PutSnapshotsUnderPrefix",
        Effect: "Allow",
        Action: ["s3:PutObject", "s3:AbortMultipartUpload"],
        Resource: objects,
      },
      {
        Sid: "ReadBackForVerification",
        Effect: "Allow",
        Action: ["s3:GetObject"],
        Resource: objects,
      },
      {
        Sid: "ListOnlyUnderPrefix",
        Effect: "Allow",
        Action: ["s3:ListBucket"],
        Resource: loc.bucketArn,
        Condition: { StringLike: { "s3:prefix": [`${loc.prefix}*`] } },
      },
      withCondition(
        {
          Sid: "UseSnapshotKeyThroughS3",
          Effect: "Allow",
          Action: ["kms:GenerateDataKey", "kms:Encrypt", "kms:Decrypt"],
          Resource: loc.kmsKeyArn,
        },
        kmsViaS3(loc.region),
      ),
      {
        Sid: "NeverDeleteOrWeakenSnapshots",
        Effect: "Deny",
        Action: [...WRITER_DENIED_ACTIONS],
        Resource: [loc.bucketArn, `${loc.bucketArn}/*`],
      },
    ],
  };
}

/**
 * Read-only policy for restores: GetObject (and GetObjectVersion, to restore an older version) under the
 * prefix, ListBucket only for that prefix, kms:Decrypt on the snapshot key.
 */
export function snapshotReaderPolicy(loc: SnapshotLocation): PolicyDocument {
  checkLocation(loc);
  const objects = snapshotObjectsArn(loc.bucketArn, loc.prefix);
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "ReadSnapshotsUnderPrefix",
        Effect: "Allow",
        Action: ["s3:GetObject", "s3:GetObjectVersion"],
        Resource: objects,
      },
      {
        Sid: "ListOnlyUnderPrefix",
        Effect: "Allow",
        Action: ["s3:ListBucket", "s3:ListBucketVersions"],
        Resource: loc.bucketArn,
        Condition: { StringLike: { "s3:prefix": [`${loc.prefix}*`] } },
      },
      withCondition(
        {
          Sid: "DecryptThroughS3",
          Effect: "Allow",
          Action: ["kms:Decrypt"],
          Resource: loc.kmsKeyArn,
        },
        kmsViaS3(loc.region),
      ),
    ],
  };
}

/**
 * Bucket policy: deny plain HTTP, deny TLS below 1.2, deny uploads that name an encryption other than
 * SSE-KMS, name a KMS key other than the bucket's CMK, or ask for SSE-KMS without naming a key (S3 would
 * then use the AWS-managed `aws/s3` key, not the CMK). Uploads without any SSE header are allowed: the
 * bucket's default encryption (SSE-KMS with the CMK and a Bucket Key) applies to them.
 *
 * Clients that name the key must send the key ARN (the condition compares the header literally).
 */
export function snapshotBucketPolicy(args: { bucketArn: string; kmsKeyArn: string }): PolicyDocument {
  checkArn("bucketArn", args.bucketArn, /^arn:[a-z-]+:s3:::.+$/);
  checkArn("kmsKeyArn", args.kmsKeyArn, /^arn:[a-z-]+:kms:.+$/);
  const all = [args.bucketArn, `${args.bucketArn}/*`];
  const objects = `${args.bucketArn}/*`;
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: all,
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
      {
        Sid: "DenyTlsBelow12",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: all,
        Condition: { NumericLessThan: { "s3:TlsVersion": "1.2" } },
      },
      {
        Sid: "DenyOtherEncryption",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:PutObject",
        Resource: objects,
        Condition: {
          Null: { [SSE_HEADER]: "false" },
          StringNotEquals: { [SSE_HEADER]: "aws:kms" },
        },
      },
      {
        Sid: "DenyOtherKmsKey",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:PutObject",
        Resource: objects,
        Condition: {
          Null: { [SSE_KEY_HEADER]: "false" },
          StringNotEquals: { [SSE_KEY_HEADER]: args.kmsKeyArn },
        },
      },
      {
        Sid: "DenyKmsWithoutKeyId",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:PutObject",
        Resource: objects,
        Condition: {
          StringEquals: { [SSE_HEADER]: "aws:kms" },
          Null: { [SSE_KEY_HEADER]: "true" },
        },
      },
    ],
  };
}

/** What an IAM role for a Kubernetes service account (IRSA) is bound to. */
export interface IrsaBinding {
  /** ARN of the IAM OIDC identity provider for the cluster's service-account issuer. */
  providerArn: string;
  /** Issuer URL of that provider, with or without `https://`. */
  providerUrl: string;
  namespace: string;
  serviceAccount: string;
}

/**
 * Trust policy for IRSA: only tokens for `system:serviceaccount:<namespace>:<serviceAccount>` with the
 * audience `sts.amazonaws.com`, issued by the given OIDC provider, may assume the role.
 */
export function irsaTrustPolicy(b: IrsaBinding): PolicyDocument {
  checkArn("oidc.providerArn", b.providerArn, /^arn:[a-z-]+:iam::\d{12}:oidc-provider\/.+$/);
  const issuer = String(b.providerUrl ?? "")
    .replace(/^https:\/\//, "")
    .replace(/\/+$/, "");
  if (!issuer || /^[a-z]+:\/\//i.test(issuer)) {
    throw new Error(`oidc.providerUrl must be an https issuer URL (got "${String(b.providerUrl)}")`);
  }
  for (const [arg, v] of [
    ["oidc.namespace", b.namespace],
    ["oidc.serviceAccount", b.serviceAccount],
  ] as const) {
    if (typeof v !== "string" || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(v)) {
      throw new Error(`${arg} must be a Kubernetes object name (got "${String(v)}")`);
    }
  }
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "SnapshotServiceAccountOnly",
        Effect: "Allow",
        Principal: { Federated: b.providerArn },
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition: {
          StringEquals: {
            [`${issuer}:sub`]: `system:serviceaccount:${b.namespace}:${b.serviceAccount}`,
            [`${issuer}:aud`]: "sts.amazonaws.com",
          },
        },
      },
    ],
  };
}

/** Trust policy of the S3 replication role. */
export function replicationTrustPolicy(): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: "s3.amazonaws.com" },
        Action: "sts:AssumeRole",
      },
    ],
  };
}

/**
 * Permissions S3 replication needs to copy the prefix's objects (with their Object Lock retention) from
 * the source bucket into the replica, re-encrypting them with the replica's own key. Delete markers are
 * not replicated, so the role gets no s3:ReplicateDelete.
 */
export function replicationRolePolicy(args: {
  sourceBucketArn: string;
  sourceKmsKeyArn: string;
  destinationBucketArn: string;
  destinationKmsKeyArn: string;
  prefix: string;
}): PolicyDocument {
  checkLocation({ bucketArn: args.sourceBucketArn, prefix: args.prefix, kmsKeyArn: args.sourceKmsKeyArn });
  checkLocation({
    bucketArn: args.destinationBucketArn,
    prefix: args.prefix,
    kmsKeyArn: args.destinationKmsKeyArn,
  });
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "ReadReplicationConfiguration",
        Effect: "Allow",
        Action: ["s3:GetReplicationConfiguration", "s3:ListBucket"],
        Resource: args.sourceBucketArn,
      },
      {
        Sid: "ReadSourceVersions",
        Effect: "Allow",
        Action: [
          "s3:GetObjectVersionForReplication",
          "s3:GetObjectVersionAcl",
          "s3:GetObjectVersionTagging",
          "s3:GetObjectRetention",
          "s3:GetObjectLegalHold",
        ],
        Resource: snapshotObjectsArn(args.sourceBucketArn, args.prefix),
      },
      {
        Sid: "WriteReplicas",
        Effect: "Allow",
        Action: ["s3:ReplicateObject", "s3:ReplicateTags"],
        Resource: snapshotObjectsArn(args.destinationBucketArn, args.prefix),
      },
      {
        Sid: "DecryptSource",
        Effect: "Allow",
        Action: ["kms:Decrypt"],
        Resource: args.sourceKmsKeyArn,
      },
      {
        Sid: "EncryptReplica",
        Effect: "Allow",
        Action: ["kms:Encrypt", "kms:GenerateDataKey"],
        Resource: args.destinationKmsKeyArn,
      },
    ],
  };
}
