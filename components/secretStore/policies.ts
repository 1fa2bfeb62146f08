import { checkArn, type PolicyDocument, type PolicyStatement } from "../backup/policies";
import { secretsManagerService } from "./naming";

/*
 * Policy documents of the secret store. Pure functions: plain strings in, JSON-ready objects out.
 *
 * Who can read a node bundle, and why each layer is there:
 * - the member's IAM role, by its identity policy (secretReadPolicy) — GetSecretValue on its own secret
 *   only, kms:Decrypt only through Secrets Manager and only for that secret's encryption context;
 * - the key policy names the same role for the same decrypt, so an identity policy elsewhere in the
 *   account cannot grant decrypt of these secrets (the account root only administers the key);
 * - the secret's resource policy denies GetSecretValue to every other principal, whatever their identity
 *   policies say.
 * The deploying principal keeps read and write: `pulumi up` writes new versions, and the provider reads
 * back what it wrote on create and refresh.
 */

const roleArnPattern = /^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/;
const principalArnPattern = /^arn:aws[a-z-]*:(iam|sts)::\d{12}:.+$/;
const secretArnExact = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/;
const secretArnOrPattern =
  /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-(\?{6}|[A-Za-z0-9]{6})$/;
const kmsKeyArn = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/.+$/;

/** Administrative KMS actions: manage, describe and schedule deletion — no cryptographic use, no grants. */
export const KMS_ADMIN_ACTIONS: readonly string[] = Object.freeze([
  "kms:CancelKeyDeletion",
  "kms:CreateAlias",
  "kms:DeleteAlias",
  "kms:DescribeKey",
  "kms:DisableKey",
  "kms:DisableKeyRotation",
  "kms:EnableKey",
  "kms:EnableKeyRotation",
  "kms:GetKeyPolicy",
  "kms:GetKeyRotationStatus",
  "kms:ListAliases",
  "kms:ListGrants",
  "kms:ListKeyPolicies",
  "kms:ListKeyRotations",
  "kms:ListResourceTags",
  "kms:PutKeyPolicy",
  "kms:RevokeGrant",
  "kms:RotateKeyOnDemand",
  "kms:ScheduleKeyDeletion",
  "kms:TagResource",
  "kms:UntagResource",
  "kms:UpdateAlias",
  "kms:UpdateKeyDescription",
]);

/** What Secrets Manager asks KMS for when the deployer writes (GenerateDataKey/Encrypt) or reads (Decrypt). */
const DEPLOYER_CRYPTO_ACTIONS = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"];

/** A principal allowed to decrypt exactly one secret, through Secrets Manager. */
export interface SecretReader {
  /** Statement id suffix (letters and digits only, e.g. the member name without dashes). */
  sid: string;
  /** The reader's role ARN. */
  roleArn: string;
  /** The secret's ARN or its pattern (`…:secret:<name>-??????`). */
  secretArn: string;
}

export interface SecretsKeyPolicyArgs {
  partition: string;
  accountId: string;
  /** Region of the key: decrypt is allowed only through that region's Secrets Manager. */
  region: string;
  /** Regions whose Secrets Manager may use the key for the deployer (the key's own and the replica's). */
  deployerRegions: string[];
  /** ARN of the principal running `pulumi up` (an assumed role's role ARN, not its session ARN). */
  deployerArn: string;
  readers: SecretReader[];
}

/**
 * Key policy of a secrets key. In a key policy `Resource: "*"` means "this key" (it is the only form KMS
 * accepts there); the conditions bind every use to Secrets Manager and, for readers, to one secret.
 */
export function secretsKeyPolicy(a: SecretsKeyPolicyArgs): PolicyDocument {
  checkArn("deployerArn", a.deployerArn, principalArnPattern);
  const sids = new Set<string>();
  for (const r of a.readers) {
    if (!/^[A-Za-z0-9]+$/.test(r.sid) || sids.has(r.sid))
      throw new Error(`readers: sid ${JSON.stringify(r.sid)} must be unique letters and digits`);
    sids.add(r.sid);
    checkArn(`readers[${r.sid}].roleArn`, r.roleArn, roleArnPattern);
    checkArn(`readers[${r.sid}].secretArn`, r.secretArn, secretArnOrPattern);
  }
  const services = [...new Set(a.deployerRegions)].map(secretsManagerService);
  return {
    Version: "2012-10-17",
    Statement: [
      {
        // The account (so IAM policies can delegate administration) and the deployer (so the key policy
        // it writes passes KMS's lockout check) administer the key. No cryptographic action and no
        // CreateGrant here: only the statements below let anyone use the key.
        Sid: "AdministerKey",
        Effect: "Allow",
        Principal: { AWS: [`arn:${a.partition}:iam::${a.accountId}:root`, a.deployerArn] },
        Action: [...KMS_ADMIN_ACTIONS],
        Resource: "*",
      },
      {
        Sid: "DeployerWritesAndReadsThroughSecretsManager",
        Effect: "Allow",
        Principal: { AWS: a.deployerArn },
        Action: DEPLOYER_CRYPTO_ACTIONS,
        Resource: "*",
        Condition: { StringEquals: { "kms:ViaService": services.length === 1 ? services[0] : services } },
      },
      ...a.readers.map((r): PolicyStatement => ({
        Sid: `Decrypt${r.sid}ThroughSecretsManager`,
        Effect: "Allow",
        Principal: { AWS: r.roleArn },
        Action: "kms:Decrypt",
        Resource: "*",
        Condition: {
          StringEquals: { "kms:ViaService": secretsManagerService(a.region) },
          StringLike: { "kms:EncryptionContext:SecretARN": r.secretArn },
        },
      })),
    ],
  };
}

/**
 * Resource policy of one secret: the readers may read it; every other principal except the deployer is
 * denied GetSecretValue, whatever its identity policies allow. The deployer stays readable-and-writable:
 * `pulumi up` writes new versions (renewals, rotation steps) and the provider reads the secret back on
 * create and refresh, so denying it would break the next deployment.
 *
 * `Resource: "*"` in a secret's resource policy means "the secret this policy is attached to". Secrets
 * Manager copies the policy to every replica, where the primary's ARN (another region) would not match:
 * "*" is what makes the deny hold for the replicas too.
 */
export function secretResourcePolicy(a: { readerRoleArns: string[]; deployerArn: string }): PolicyDocument {
  checkArn("deployerArn", a.deployerArn, principalArnPattern);
  a.readerRoleArns.forEach((r, i) => checkArn(`readerRoleArns[${i}]`, r, roleArnPattern));
  const allowed = [...a.readerRoleArns, a.deployerArn];
  const allow: PolicyStatement[] = a.readerRoleArns.length
    ? [
        {
          Sid: "ReadersMayRead",
          Effect: "Allow",
          Principal: { AWS: a.readerRoleArns.length === 1 ? a.readerRoleArns[0] : a.readerRoleArns },
          Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
          Resource: "*",
        },
      ]
    : [];
  return {
    Version: "2012-10-17",
    Statement: [
      ...allow,
      {
        Sid: "NobodyElseReads",
        Effect: "Deny",
        Principal: "*",
        Action: "secretsmanager:GetSecretValue",
        Resource: "*",
        Condition: { StringNotEquals: { "aws:PrincipalArn": allowed } },
      },
    ],
  };
}

/**
 * Identity policy that reads exactly one secret: GetSecretValue and DescribeSecret on its ARN, and
 * kms:Decrypt on its key only through that region's Secrets Manager and only for that secret. No
 * wildcard resource.
 */
export function secretReadPolicy(a: {
  secretArn: string;
  kmsKeyArn: string;
  region: string;
}): PolicyDocument {
  checkArn("secretArn", a.secretArn, secretArnExact);
  checkArn("kmsKeyArn", a.kmsKeyArn, kmsKeyArn);
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "ReadOwnSecret",
        Effect: "Allow",
        Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
        Resource: a.secretArn,
      },
      {
        Sid: "DecryptOwnSecretThroughSecretsManager",
        Effect: "Allow",
        Action: "kms:Decrypt",
        Resource: a.kmsKeyArn,
        Condition: {
          StringEquals: {
            "kms:ViaService": secretsManagerService(a.region),
            "kms:EncryptionContext:SecretARN": a.secretArn,
          },
        },
      },
    ],
  };
}

/** Trust policy of a node role: only EC2 (an instance profile) may assume it. */
export function ec2TrustPolicy(): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
  };
}
