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
 *
 * Bad inputs throw a ConfigError naming the field (`bucketArn`, `prefix`, `oidc.providerArn`, …); each
 * function takes the error's `source` (the SnapshotStore passes its own, so errors raised while its
 * Outputs resolve name the component).
 */
import { z } from "zod";
import { ConfigError, parseOrThrow } from "../config/errors";
import { checked, matching, show } from "../config/fields";

export type PolicyConditionBlock = Record<string, Record<string, string | string[]>>;

export interface PolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Principal?: "*" | Record<string, string | string[]>;
  Action: string | string[];
  Resource?: string | string[];
  /** Every resource but these (a Deny that must not touch the one key that is allowed). */
  NotResource?: string | string[];
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
   * Region of the bucket. When given (with `dnsSuffix`), KMS permissions are limited to calls made
   * through S3 in that region (`kms:ViaService`) for this bucket's objects (the encryption context S3
   * sends, `aws:s3:arn`), so the credentials cannot use the key directly.
   */
  region?: string;
  /** The partition's DNS suffix (`amazonaws.com`, `amazonaws.com.cn`, from aws.getPartition). */
  dnsSuffix?: string;
}

const SSE_HEADER = "s3:x-amz-server-side-encryption";
const SSE_KEY_HEADER = "s3:x-amz-server-side-encryption-aws-kms-key-id";

const bucketArn = matching(
  /^arn:[a-z-]+:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
  "S3 bucket ARN (arn:aws:s3:::<bucket>)",
);
const kmsKeyArn = matching(
  /^arn:[a-z-]+:kms:[a-z0-9-]+:\d{12}:key\/.+$/,
  "KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)",
);
/** The prefix must end with "/" and hold no wildcard, so `<prefix>*` cannot reach a sibling prefix. */
const keyPrefix = checked((v) =>
  v.length < 2 || !v.endsWith("/") || v.startsWith("/")
    ? `is not a key prefix like <cluster>/<environment>/ (not empty, ending with "/", not starting with "/")`
    : /[*?]/.test(v)
      ? "must not contain wildcards (* or ?)"
      : undefined,
);
const locationSchema = z.object({ bucketArn, prefix: keyPrefix, kmsKeyArn });
const regionName = matching(/^[a-z]{2}(-[a-z]+)+-\d$/, "AWS region (e.g. eu-west-1)");
const replicationSchema = z.object({
  sourceBucketArn: bucketArn,
  sourceKmsKeyArn: kmsKeyArn,
  sourceRegion: regionName,
  destinationBucketArn: bucketArn,
  destinationKmsKeyArn: kmsKeyArn,
  destinationRegion: regionName,
  prefix: keyPrefix,
  dnsSuffix: matching(/^[a-z0-9.-]+\.[a-z]+$/, "DNS suffix (amazonaws.com)"),
});

/** ARN pattern of every object under the prefix. */
export function snapshotObjectsArn(bucketArn: string, prefix: string): string {
  return `${bucketArn}/${prefix}*`;
}

/**
 * What S3 sends KMS as the encryption context of an object: the object's ARN, or — with S3 Bucket Keys,
 * which these buckets use — the bucket's ARN. Both are allowed, the objects only under the prefix.
 */
export function s3EncryptionContexts(bucketArn: string, prefix: string): string[] {
  return [bucketArn, snapshotObjectsArn(bucketArn, prefix)];
}

/** kms:ViaService S3 in the region, and only for this bucket's objects (aws:s3:arn). */
export function kmsViaS3(
  loc: { bucketArn: string; prefix: string; region?: string; dnsSuffix?: string },
  source = "snapshot policy",
): PolicyConditionBlock | undefined {
  if (loc.region === undefined) return undefined;
  if (loc.dnsSuffix === undefined || !/^[a-z0-9.-]+\.[a-z]+$/.test(loc.dnsSuffix))
    throw new ConfigError(
      [
        {
          path: "dnsSuffix",
          message: `${show(loc.dnsSuffix)} is not a DNS suffix (amazonaws.com, amazonaws.com.cn); it is required with region`,
        },
      ],
      source,
    );
  return {
    StringEquals: { "kms:ViaService": `s3.${loc.region}.${loc.dnsSuffix}` },
    StringLike: { "kms:EncryptionContext:aws:s3:arn": s3EncryptionContexts(loc.bucketArn, loc.prefix) },
  };
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
 * - `kms:GenerateDataKey` and `kms:Decrypt` on the snapshot key (S3 asks for a data key on upload;
 *   Decrypt completes multipart uploads and reads back for verification) — never `kms:Encrypt`, which
 *   SSE-KMS does not use;
 * - NO delete of any kind, and an explicit Deny of deletes and of retention/lifecycle/policy changes on
 *   this bucket, so a compromised node cannot erase backups even if another policy on its role is broad.
 */
export function snapshotWriterPolicy(
  loc: SnapshotLocation,
  source = "snapshot writer policy",
): PolicyDocument {
  parseOrThrow(locationSchema, loc, "", source);
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
          Action: ["kms:GenerateDataKey", "kms:Decrypt"],
          Resource: loc.kmsKeyArn,
        },
        kmsViaS3(loc, source),
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
export function snapshotReaderPolicy(
  loc: SnapshotLocation,
  source = "snapshot reader policy",
): PolicyDocument {
  parseOrThrow(locationSchema, loc, "", source);
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
        kmsViaS3(loc, source),
      ),
    ],
  };
}

/** Every S3 action that returns an object's content (HeadObject and SelectObjectContent are s3:GetObject). */
export const OBJECT_READ_ACTIONS: readonly string[] = Object.freeze([
  "s3:GetObject",
  "s3:GetObjectAttributes",
  "s3:GetObjectTorrent",
  "s3:GetObjectVersion",
  "s3:GetObjectVersionAttributes",
  "s3:GetObjectVersionForReplication",
  "s3:GetObjectVersionTorrent",
]);

/**
 * Every S3 action that changes what protects the bucket: its policy, public access block, default
 * encryption, versioning, lifecycle, replication, Object Lock, ownership, ACL, logging and tags — and
 * deleting it. Only the deployers may (the account root can still delete a bucket policy that locks
 * everyone out: S3 always lets it).
 */
export const BUCKET_PROTECTION_ACTIONS: readonly string[] = Object.freeze([
  "s3:DeleteBucket",
  "s3:DeleteBucketPolicy",
  "s3:PutBucketAcl",
  "s3:PutBucketLogging",
  "s3:PutBucketObjectLockConfiguration",
  "s3:PutBucketOwnershipControls",
  "s3:PutBucketPolicy",
  "s3:PutBucketPublicAccessBlock",
  "s3:PutBucketTagging",
  "s3:PutBucketVersioning",
  "s3:PutEncryptionConfiguration",
  "s3:PutLifecycleConfiguration",
  "s3:PutReplicationConfiguration",
]);

const principalArns = z.array(
  matching(/^arn:aws[a-z-]*:(iam|sts)::\d{12}:.+$/, "IAM principal ARN (arn:aws:iam::<account>:role/<name>)"),
);
const bucketPolicySchema = z.object({
  bucketArn: matching(/^arn:[a-z-]+:s3:::.+$/, "S3 bucket ARN (arn:aws:s3:::<bucket>)"),
  kmsKeyArn: matching(/^arn:[a-z-]+:kms:.+$/, "KMS key ARN (arn:aws:kms:…)"),
  objectReaders: principalArns.min(1, { error: "must name at least one principal that reads snapshots" }),
  deployers: principalArns.min(1, { error: "must name at least one deploying principal" }),
});

/** What a snapshot bucket's policy needs: the bucket, its key, and who may read and reconfigure it. */
export interface SnapshotBucketPolicyArgs {
  bucketArn: string;
  kmsKeyArn: string;
  /**
   * The only principals that may read object content (`aws:PrincipalArn`): the snapshot writer (it reads
   * back what it uploaded), the restore readers, and the replication role.
   */
  objectReaders: string[];
  /** The only principals that may change the bucket's protections or delete it. */
  deployers: string[];
}

/**
 * Bucket policy: deny plain HTTP, deny TLS below 1.2, deny uploads that name an encryption other than
 * SSE-KMS, name a KMS key other than the bucket's CMK, or ask for SSE-KMS without naming a key (S3 would
 * then use the AWS-managed `aws/s3` key, not the CMK). Uploads without any SSE header are allowed: the
 * bucket's default encryption (SSE-KMS with the CMK and a Bucket Key) applies to them. Deny every read of
 * object content to all but `objectReaders`, and every change to the bucket's protections to all but
 * `deployers` — explicit denies, so no identity policy (AdministratorAccess included) gets past them.
 *
 * Clients that name the key must send the key ARN (the condition compares the header literally).
 */
export function snapshotBucketPolicy(
  args: SnapshotBucketPolicyArgs,
  source = "snapshot bucket policy",
): PolicyDocument {
  parseOrThrow(bucketPolicySchema, args, "", source);
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
        // IAM reads "1.2" as the number (AWS's example writes 1.2; both parse). A string, because
        // parliament crashes on a JSON number here (see docs/aws-access.md, suppressed findings).
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
      {
        Sid: "OnlySnapshotPrincipalsReadObjects",
        Effect: "Deny",
        Principal: "*",
        Action: [...OBJECT_READ_ACTIONS],
        Resource: objects,
        Condition: { ArnNotEquals: { "aws:PrincipalArn": [...new Set(args.objectReaders)] } },
      },
      {
        Sid: "OnlyDeployersChangeProtections",
        Effect: "Deny",
        Principal: "*",
        Action: [...BUCKET_PROTECTION_ACTIONS],
        Resource: args.bucketArn,
        Condition: { ArnNotEquals: { "aws:PrincipalArn": [...new Set(args.deployers)] } },
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

/** The issuer as IAM condition keys spell it: no scheme, no trailing slash. */
const issuerOf = (providerUrl: string) => providerUrl.replace(/^https:\/\//, "").replace(/\/+$/, "");
const objectName = matching(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "Kubernetes object name");
const irsaBindingSchema = z.object({
  providerArn: matching(
    /^arn:[a-z-]+:iam::\d{12}:oidc-provider\/.+$/,
    "IAM OIDC provider ARN (arn:aws:iam::<account>:oidc-provider/<issuer>)",
  ),
  providerUrl: checked((v) => {
    const issuer = issuerOf(v);
    return issuer && !/^[a-z]+:\/\//i.test(issuer) ? undefined : "is not an https issuer URL";
  }),
  namespace: objectName,
  serviceAccount: objectName,
});

/** Checks the parts of an IRSA binding that are known (plain strings); ConfigError naming `oidc.<key>`. */
export function checkIrsaBinding(b: Partial<Record<keyof IrsaBinding, unknown>>, source: string): void {
  const known = Object.fromEntries(Object.entries(b).filter(([, v]) => typeof v === "string"));
  parseOrThrow(irsaBindingSchema.partial(), known, "oidc", source);
}

/**
 * Trust policy for IRSA: only tokens for `system:serviceaccount:<namespace>:<serviceAccount>` with the
 * audience `sts.amazonaws.com`, issued by the given OIDC provider, may assume the role.
 */
export function irsaTrustPolicy(b: IrsaBinding, source = "IRSA trust policy"): PolicyDocument {
  parseOrThrow(irsaBindingSchema, b, "oidc", source);
  const issuer = issuerOf(b.providerUrl);
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

/**
 * Trust policy of the S3 replication role: only S3, replicating the source bucket of this account, may
 * assume it (`aws:SourceAccount` and `aws:SourceArn`, against the cross-service confused deputy). The
 * service principal comes from aws.getServicePrincipal (its form differs between partitions).
 */
export function replicationTrustPolicy(
  args: { s3ServicePrincipal: string; accountId: string; sourceBucketArn: string },
  source = "replication trust policy",
): PolicyDocument {
  parseOrThrow(
    z.object({
      s3ServicePrincipal: matching(/^s3\.[a-z0-9.-]+$/, "S3 service principal (s3.amazonaws.com)"),
      accountId: matching(/^\d{12}$/, "AWS account id"),
      sourceBucketArn: bucketArn,
    }),
    args,
    "",
    source,
  );
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "S3ReplicatesTheSourceBucketOnly",
        Effect: "Allow",
        Principal: { Service: args.s3ServicePrincipal },
        Action: "sts:AssumeRole",
        Condition: {
          StringEquals: { "aws:SourceAccount": args.accountId },
          ArnEquals: { "aws:SourceArn": args.sourceBucketArn },
        },
      },
    ],
  };
}

/** Both ends of a replication rule: buckets, their keys, regions, and the partition's DNS suffix. */
export interface ReplicationEnds {
  sourceBucketArn: string;
  sourceKmsKeyArn: string;
  sourceRegion: string;
  destinationBucketArn: string;
  destinationKmsKeyArn: string;
  destinationRegion: string;
  prefix: string;
  dnsSuffix: string;
}

/**
 * Permissions S3 replication needs to copy the prefix's objects (with their Object Lock retention) from
 * the source bucket into the replica, re-encrypting them with the replica's own key: decrypt only
 * through S3 in the source region for the source's objects, encrypt only through S3 in the destination
 * region for the replica's. Delete markers are not replicated, so the role gets no s3:ReplicateDelete.
 */
export function replicationRolePolicy(
  args: ReplicationEnds,
  source = "replication role policy",
): PolicyDocument {
  parseOrThrow(replicationSchema, args, "", source);
  const via = (bucket: string, region: string) =>
    kmsViaS3({ bucketArn: bucket, prefix: args.prefix, region, dnsSuffix: args.dnsSuffix }, source);
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
      withCondition(
        { Sid: "DecryptSource", Effect: "Allow", Action: ["kms:Decrypt"], Resource: args.sourceKmsKeyArn },
        via(args.sourceBucketArn, args.sourceRegion),
      ),
      withCondition(
        {
          Sid: "EncryptReplica",
          Effect: "Allow",
          Action: ["kms:Encrypt", "kms:GenerateDataKey"],
          Resource: args.destinationKmsKeyArn,
        },
        via(args.destinationBucketArn, args.destinationRegion),
      ),
    ],
  };
}

/** Throws a ConfigError naming `path` when `arn` does not match `pattern` (for policy builders elsewhere). */
export function checkArn(path: string, arn: string, pattern: RegExp, source = "IAM policy"): void {
  if (typeof arn !== "string" || !pattern.test(arn))
    throw new ConfigError(
      [{ path, message: `${show(arn)} is not an ARN of the expected form (${pattern.source})` }],
      source,
    );
}
