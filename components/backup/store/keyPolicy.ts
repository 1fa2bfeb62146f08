import { z } from "zod";
import { parseOrThrow } from "../../config/errors";
import { matching } from "../../config/fields";
import { KMS_ADMIN_ACTIONS } from "../../secretStore/kmsActions";
import { s3EncryptionContexts, type PolicyDocument, type PolicyStatement } from "../policies";

/*
 * Key policy of a snapshot key (the primary bucket's, or the replica's): who administers it and who may
 * use it, each use only through S3 in the key's region (`kms:ViaService`) and only for this bucket's
 * objects (the encryption context S3 sends, `aws:s3:arn`: the object's ARN, or the bucket's with S3
 * Bucket Keys). Without a policy KMS would apply its default ("enable IAM policies"), and any
 * principal with kms:Decrypt on `*` — AdministratorAccess, PowerUserAccess — could read every snapshot.
 * In a key policy `Resource: "*"` means "this key".
 */

const principal = matching(/^arn:aws[a-z-]*:(iam|sts)::\d{12}:.+$/, "IAM principal ARN");
const schema = z.object({
  partition: matching(/^aws[a-z-]*$/, "AWS partition"),
  accountId: matching(/^\d{12}$/, "AWS account id"),
  region: matching(/^[a-z]{2}(-[a-z]+)+-\d$/, "AWS region"),
  dnsSuffix: matching(/^[a-z0-9.-]+\.[a-z]+$/, "DNS suffix (amazonaws.com)"),
  bucketArn: matching(/^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "S3 bucket ARN"),
  prefix: z.string().regex(/^[^*?]+\/$/),
  deployerArns: z.array(principal).min(1),
  writerArns: z.array(principal),
  readerArns: z.array(principal),
  replicationRoleArn: principal.optional(),
});

export interface SnapshotKeyPolicyArgs {
  partition: string;
  accountId: string;
  /** The key's (and its bucket's) region. */
  region: string;
  /** The partition's DNS suffix, from aws.getPartition. */
  dnsSuffix: string;
  /** The bucket the key encrypts. */
  bucketArn: string;
  /** `<cluster>/<environment>/`: the only objects the key may be used for. */
  prefix: string;
  /** Administer the key (with the account root): never use it. */
  deployerArns: string[];
  /** Upload snapshots: GenerateDataKey, and Decrypt to complete multipart uploads and read them back. */
  writerArns: string[];
  /** Restore: Decrypt only. */
  readerArns: string[];
  /**
   * The S3 replication role: Decrypt on the source key, Encrypt/GenerateDataKey on the replica's key
   * (`replicationRole` says which end this key is).
   */
  replicationRoleArn?: string;
  replicationRole?: "source" | "destination";
}

const unique = (v: string[]) => [...new Set(v)];
const one = (v: string[]): string | string[] => (v.length === 1 ? v[0] : v);

export function snapshotKeyPolicy(a: SnapshotKeyPolicyArgs, source = "snapshot key policy"): PolicyDocument {
  parseOrThrow(schema, a, "", source);
  const condition = {
    StringEquals: { "kms:ViaService": `s3.${a.region}.${a.dnsSuffix}` },
    StringLike: { "kms:EncryptionContext:aws:s3:arn": s3EncryptionContexts(a.bucketArn, a.prefix) },
  };
  const use = (sid: string, principals: string[], actions: string[]): PolicyStatement[] =>
    principals.length === 0
      ? []
      : [
          {
            Sid: sid,
            Effect: "Allow",
            Principal: { AWS: one(unique(principals)) },
            Action: actions,
            Resource: "*",
            Condition: condition,
          },
        ];
  const replication =
    a.replicationRoleArn === undefined
      ? []
      : a.replicationRole === "destination"
        ? use(
            "ReplicationEncryptsReplicasThroughS3",
            [a.replicationRoleArn],
            ["kms:Encrypt", "kms:GenerateDataKey"],
          )
        : use("ReplicationDecryptsSourceThroughS3", [a.replicationRoleArn], ["kms:Decrypt"]);
  return {
    Version: "2012-10-17",
    Statement: [
      {
        // The account (so IAM can delegate administration, and the key never becomes unmanageable) and
        // the deployers (so the policy they write passes KMS's lockout check) administer the key. No
        // cryptographic action and no CreateGrant: only the statements below let anyone use it.
        Sid: "AdministerKey",
        Effect: "Allow",
        Principal: { AWS: unique([`arn:${a.partition}:iam::${a.accountId}:root`, ...a.deployerArns]) },
        Action: [...KMS_ADMIN_ACTIONS],
        Resource: "*",
      },
      ...use("WriterUsesKeyThroughS3", a.writerArns, ["kms:GenerateDataKey", "kms:Decrypt"]),
      ...use("RestoreReadersDecryptThroughS3", a.readerArns, ["kms:Decrypt"]),
      ...replication,
    ],
  };
}
