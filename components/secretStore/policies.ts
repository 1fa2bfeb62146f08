import { checkArn, type PolicyDocument, type PolicyStatement } from "../backup/policies";
import { KMS_ADMIN_ACTIONS } from "./kmsActions";
import { secretsManagerService } from "./naming";

/*
 * Policy documents of the secret store. Pure functions: plain strings in, JSON-ready objects out.
 *
 * Who can read a node bundle, who can change one, and why each layer is there:
 * - the member's IAM role, by its identity policy (secretReadPolicy) — GetSecretValue on its own secret
 *   only, kms:Decrypt only through Secrets Manager and only for that secret's encryption context, and an
 *   explicit Deny of kms:Decrypt of that secret under any OTHER key: a version re-keyed to the
 *   AWS-managed `aws/secretsmanager` key (whose key policy lets every principal of the account use it
 *   through Secrets Manager) is refused to the node, whatever wrote it;
 * - the key policy names the same role for the same decrypt, so an identity policy elsewhere in the
 *   account cannot grant decrypt of these secrets (the account root only administers the key);
 * - the secret's resource policy denies GetSecretValue to every principal but the readers and the
 *   deployers, and denies every write (new values, staging labels, the key, the policy, tags,
 *   replication, restore, delete, rotation) to every principal but the deployers. An explicit Deny in a
 *   resource policy holds whatever the caller's identity policies allow (AdministratorAccess included).
 * The deployers (the principal running `pulumi up` plus `deployerPrincipalArns`) keep read and write:
 * `pulumi up` writes new versions, and the provider reads back what it wrote on create and refresh.
 *
 * `aws:PrincipalArn` (not the Principal element) names them: it is the role's ARN for every session of
 * the role, and a Deny on its absence (ArnNotEquals is true for a missing key) also covers anonymous and
 * service callers.
 */

const roleArnPattern = /^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/;
const principalArnPattern = /^arn:aws[a-z-]*:(iam|sts)::\d{12}:.+$/;
const secretArnExact = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/;
const secretArnOrPattern =
  /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-(\?{6}|[A-Za-z0-9]{6})$/;
const kmsKeyArn = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/.+$/;
const dnsSuffix = /^[a-z0-9.-]+\.[a-z]+$/;

export { KMS_ADMIN_ACTIONS };

/**
 * Every Secrets Manager action that changes an existing secret — its value, which version is current,
 * its key, its policy, its tags (tags can grant access through ABAC), its replicas, its deletion and
 * rotation — from the Service Authorization Reference (test/policyLint.test.ts checks it against
 * parliament's copy: every Write, Permissions-management and Tagging action on a secret is here, or in
 * {@link SECRET_ACTIONS_NOT_DENIED} with the reason).
 */
export const SECRET_WRITE_ACTIONS: readonly string[] = Object.freeze([
  "secretsmanager:CancelRotateSecret",
  "secretsmanager:DeleteResourcePolicy",
  "secretsmanager:DeleteSecret",
  "secretsmanager:PutResourcePolicy",
  "secretsmanager:PutSecretValue",
  "secretsmanager:RemoveRegionsFromReplication",
  "secretsmanager:ReplicateSecretToRegions",
  "secretsmanager:RestoreSecret",
  "secretsmanager:RotateSecret",
  "secretsmanager:StopReplicationToReplica",
  "secretsmanager:TagResource",
  "secretsmanager:UntagResource",
  "secretsmanager:UpdateSecret",
  "secretsmanager:UpdateSecretVersionStage",
]);

/** Write-level actions on a secret the resource policy does not deny, and why that is safe. */
export const SECRET_ACTIONS_NOT_DENIED: Readonly<Record<string, string>> = Object.freeze({
  "secretsmanager:CreateSecret":
    "creates a new secret; a resource policy only exists on a secret that already exists, and Secrets Manager refuses a second secret of the same name",
  "secretsmanager:ValidateResourcePolicy": "only checks a policy document; it changes nothing",
});

/** What Secrets Manager asks KMS for when a deployer writes (GenerateDataKey/Encrypt) or reads (Decrypt). */
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
  /** The partition's DNS suffix (`amazonaws.com`, `amazonaws.com.cn`): `kms:ViaService` ends with it. */
  dnsSuffix: string;
  /** Regions whose Secrets Manager may use the key for the deployers (the key's own and the replica's). */
  deployerRegions: string[];
  /** Every deploying principal (role ARNs of assumed roles, never session ARNs). */
  deployerArns: string[];
  readers: SecretReader[];
}

const one = (v: string[]): string | string[] => (v.length === 1 ? v[0] : v);

function checkDeployers(deployerArns: string[]): void {
  if (deployerArns.length === 0) throw new Error("secret store: at least one deploying principal");
  deployerArns.forEach((d, i) => checkArn(`deployerArns[${i}]`, d, principalArnPattern));
}

/**
 * Key policy of a secrets key. In a key policy `Resource: "*"` means "this key" (it is the only form KMS
 * accepts there); the conditions bind every use to Secrets Manager and, for readers, to one secret.
 */
export function secretsKeyPolicy(a: SecretsKeyPolicyArgs): PolicyDocument {
  checkDeployers(a.deployerArns);
  checkArn("dnsSuffix", a.dnsSuffix, dnsSuffix);
  const sids = new Set<string>();
  for (const r of a.readers) {
    if (!/^[A-Za-z0-9]+$/.test(r.sid) || sids.has(r.sid))
      throw new Error(`readers: sid ${JSON.stringify(r.sid)} must be unique letters and digits`);
    sids.add(r.sid);
    checkArn(`readers[${r.sid}].roleArn`, r.roleArn, roleArnPattern);
    checkArn(`readers[${r.sid}].secretArn`, r.secretArn, secretArnOrPattern);
  }
  const services = [...new Set(a.deployerRegions)].map((r) => secretsManagerService(r, a.dnsSuffix));
  return {
    Version: "2012-10-17",
    Statement: [
      {
        // The account (so IAM policies can delegate administration) and the deployers (so the key policy
        // they write passes KMS's lockout check) administer the key. No cryptographic action and no
        // CreateGrant here: only the statements below let anyone use the key.
        Sid: "AdministerKey",
        Effect: "Allow",
        Principal: { AWS: [`arn:${a.partition}:iam::${a.accountId}:root`, ...a.deployerArns] },
        Action: [...KMS_ADMIN_ACTIONS],
        Resource: "*",
      },
      {
        Sid: "DeployersWriteAndReadThroughSecretsManager",
        Effect: "Allow",
        Principal: { AWS: one(a.deployerArns) },
        Action: DEPLOYER_CRYPTO_ACTIONS,
        Resource: "*",
        Condition: { StringEquals: { "kms:ViaService": one(services) } },
      },
      ...a.readers.map((r): PolicyStatement => ({
        Sid: `Decrypt${r.sid}ThroughSecretsManager`,
        Effect: "Allow",
        Principal: { AWS: r.roleArn },
        Action: "kms:Decrypt",
        Resource: "*",
        Condition: {
          StringEquals: { "kms:ViaService": secretsManagerService(a.region, a.dnsSuffix) },
          StringLike: { "kms:EncryptionContext:SecretARN": r.secretArn },
        },
      })),
    ],
  };
}

/**
 * Resource policy of one secret: the readers may read it; every other principal but the deployers is
 * denied GetSecretValue, and every principal but the deployers is denied every write
 * ({@link SECRET_WRITE_ACTIONS}), whatever their identity policies allow.
 *
 * `Resource: "*"` in a secret's resource policy means "the secret this policy is attached to". Secrets
 * Manager copies the policy to every replica, where the primary's ARN (another region) would not match:
 * "*" is what makes the denies hold for the replicas too.
 */
export function secretResourcePolicy(a: {
  readerRoleArns: string[];
  deployerArns: string[];
}): PolicyDocument {
  checkDeployers(a.deployerArns);
  a.readerRoleArns.forEach((r, i) => checkArn(`readerRoleArns[${i}]`, r, roleArnPattern));
  const readers = [...new Set([...a.readerRoleArns, ...a.deployerArns])];
  const allow: PolicyStatement[] = a.readerRoleArns.length
    ? [
        {
          Sid: "ReadersMayRead",
          Effect: "Allow",
          Principal: { AWS: one(a.readerRoleArns) },
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
        Condition: { ArnNotEquals: { "aws:PrincipalArn": readers } },
      },
      {
        Sid: "OnlyDeployersWrite",
        Effect: "Deny",
        Principal: "*",
        Action: [...SECRET_WRITE_ACTIONS],
        Resource: "*",
        Condition: { ArnNotEquals: { "aws:PrincipalArn": a.deployerArns } },
      },
    ],
  };
}

/**
 * Identity policy that reads exactly one secret: GetSecretValue and DescribeSecret on its ARN, and
 * kms:Decrypt on its key only through that region's Secrets Manager and only for that secret. No
 * wildcard resource. The Deny refuses a value of this secret encrypted under any other key (a version
 * re-keyed to `aws/secretsmanager` by someone who could write it), so the node never installs one.
 */
export function secretReadPolicy(a: {
  secretArn: string;
  kmsKeyArn: string;
  region: string;
  dnsSuffix: string;
}): PolicyDocument {
  checkArn("secretArn", a.secretArn, secretArnExact);
  checkArn("kmsKeyArn", a.kmsKeyArn, kmsKeyArn);
  checkArn("dnsSuffix", a.dnsSuffix, dnsSuffix);
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
            "kms:ViaService": secretsManagerService(a.region, a.dnsSuffix),
            "kms:EncryptionContext:SecretARN": a.secretArn,
          },
        },
      },
      {
        Sid: "NeverDecryptOwnSecretUnderAnotherKey",
        Effect: "Deny",
        Action: "kms:Decrypt",
        NotResource: a.kmsKeyArn,
        Condition: { StringEquals: { "kms:EncryptionContext:SecretARN": a.secretArn } },
      },
    ],
  };
}

/**
 * Service trust policies the package renders WITHOUT `aws:SourceAccount`/`aws:SourceArn`, and why. Every
 * other service trust policy carries both (test/awsDayTwo.test.ts checks each rendered trust policy).
 */
export const SERVICE_TRUST_WITHOUT_SOURCE: Readonly<Record<string, string>> = Object.freeze({
  ec2: "EC2 assumes an instance profile's role on the instance's behalf; AWS documents no aws:SourceAccount or aws:SourceArn for that assumption (its confused-deputy guidance covers services acting for a resource), and a condition on a key the service does not send is false, so every node would lose its credentials. What limits the role is who may attach it: iam:PassRole on the role and ec2:RunInstances/AssociateIamInstanceProfile (docs/aws-access.md).",
});

/** Trust policy of a node role: only EC2 (an instance profile) may assume it. */
export function ec2TrustPolicy(ec2ServicePrincipal: string): PolicyDocument {
  checkArn("ec2ServicePrincipal", ec2ServicePrincipal, /^ec2\.[a-z0-9.-]+$/);
  return {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: ec2ServicePrincipal }, Action: "sts:AssumeRole" }],
  };
}
