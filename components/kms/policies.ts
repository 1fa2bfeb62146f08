import { checkArn, type PolicyDocument, type PolicyStatement } from "../backup/policies";
import { KMS_ADMIN_ACTIONS } from "../secretStore/policies";
import { kmsPluginActions } from "./constants";

/*
 * Who may do what with an envelope key (the AWS KMS key behind one kms provider). Pure: plain strings in,
 * JSON-ready policy documents out.
 *
 * - The account (so IAM can delegate administration) and the deployer administer the key: describe,
 *   enable/disable, rotate, tag, edit the policy, schedule deletion. Neither may Encrypt or Decrypt.
 * - The control-plane node roles (where aws-encryption-provider runs) may Encrypt and Decrypt — the only
 *   calls the plugin makes — and only with this cluster's encryption context. Nobody else, whatever
 *   their IAM policies say: the key policy grants the account no cryptographic use to delegate.
 * - The restore reader may DescribeKey (the restore checks the key is enabled before any API server starts).
 * - Nobody may schedule its deletion while a snapshot may need it: always while the key is in the
 *   EncryptionConfiguration, and for an archived key until the longest-lived snapshot taken under it
 *   has expired (`retainUntil`). Lifting that takes a PutKeyPolicy, which CloudTrail records.
 */

const roleArnPattern = /^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/;
const principalArnPattern = /^arn:aws[a-z-]*:(iam|sts)::\d{12}:.+$/;
const kmsKeyArnPattern = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/.+$/;

/** The condition block that binds a use of the key to one cluster's encryption context. */
export function encryptionContextCondition(
  context: Record<string, string>,
): Record<string, Record<string, string>> {
  const keys = Object.keys(context);
  if (keys.length === 0) throw new Error("envelope key: the encryption context must not be empty");
  return {
    StringEquals: Object.fromEntries(keys.sort().map((k) => [`kms:EncryptionContext:${k}`, context[k]])),
  };
}

export interface EnvelopeKeyPolicyArgs {
  partition: string;
  accountId: string;
  /** The principal running `pulumi up` (an assumed role's role ARN). */
  deployerArn: string;
  /** The control-plane node roles; empty once the key is archived (no plugin uses it any more). */
  nodeRoleArns: string[];
  /** What the plugin sends as `--encryption-context`. */
  encryptionContext: Record<string, string>;
  /** The restore reader role (secretStore.restoreReaderRoleArn), which checks the key before a restore. */
  restoreReaderRoleArn?: string;
  /**
   * For an archived key: the day (`YYYY-MM-DD`) the last snapshot that may need it expires; deletion is
   * refused before then. Undefined while the key is in the EncryptionConfiguration: always refused.
   */
  retainUntil?: string;
}

/** The envelope key's key policy. In a key policy `Resource: "*"` means "this key". */
export function envelopeKeyPolicy(a: EnvelopeKeyPolicyArgs): PolicyDocument {
  checkArn("deployerArn", a.deployerArn, principalArnPattern);
  a.nodeRoleArns.forEach((r, i) => checkArn(`nodeRoleArns[${i}]`, r, roleArnPattern));
  if (a.restoreReaderRoleArn !== undefined)
    checkArn("restoreReaderRoleArn", a.restoreReaderRoleArn, roleArnPattern);
  if (a.retainUntil !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(a.retainUntil))
    throw new Error(
      `envelope key: retainUntil ${JSON.stringify(a.retainUntil)} is not a date like 2027-01-31`,
    );
  const nodes = [...new Set(a.nodeRoleArns)];
  const statements: PolicyStatement[] = [
    {
      Sid: "AdministerKey",
      Effect: "Allow",
      Principal: { AWS: [`arn:${a.partition}:iam::${a.accountId}:root`, a.deployerArn] },
      Action: [...KMS_ADMIN_ACTIONS],
      Resource: "*",
    },
  ];
  if (nodes.length)
    statements.push({
      Sid: "ControlPlaneNodesEncryptDecrypt",
      Effect: "Allow",
      Principal: { AWS: nodes.length === 1 ? nodes[0] : nodes },
      Action: [...kmsPluginActions],
      Resource: "*",
      Condition: encryptionContextCondition(a.encryptionContext),
    });
  if (a.restoreReaderRoleArn)
    statements.push({
      Sid: "RestoreReaderDescribesKey",
      Effect: "Allow",
      Principal: { AWS: a.restoreReaderRoleArn },
      Action: "kms:DescribeKey",
      Resource: "*",
    });
  statements.push({
    Sid: "NoDeletionWhileSnapshotsMayNeedIt",
    Effect: "Deny",
    Principal: "*",
    Action: "kms:ScheduleKeyDeletion",
    Resource: "*",
    ...(a.retainUntil !== undefined
      ? { Condition: { DateLessThan: { "aws:CurrentTime": `${a.retainUntil}T00:00:00Z` } } }
      : {}),
  });
  return { Version: "2012-10-17", Statement: statements };
}

/**
 * The node role's grant (an identity policy): Encrypt and Decrypt on the envelope keys the
 * EncryptionConfiguration lists, with this cluster's encryption context, and nothing else.
 */
export function envelopeKeyGrantPolicy(a: {
  keyArns: string[];
  encryptionContext: Record<string, string>;
}): PolicyDocument {
  if (a.keyArns.length === 0) throw new Error("envelope key grant: no key to grant");
  a.keyArns.forEach((k, i) => checkArn(`keyArns[${i}]`, k, kmsKeyArnPattern));
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "KmsPluginEncryptDecrypt",
        Effect: "Allow",
        Action: [...kmsPluginActions],
        Resource: a.keyArns.length === 1 ? a.keyArns[0] : [...a.keyArns],
        Condition: encryptionContextCondition(a.encryptionContext),
      },
    ],
  };
}

const asList = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * What is wrong with an envelope key's policy, as the policy pack judges it: deletion must be denied (at
 * least until a date); nobody may use the key for Encrypt/Decrypt without the encryption context; no
 * Allow for every principal; no cryptographic use or grants for the account root (IAM could then hand
 * the key to anyone).
 */
export function envelopeKeyPolicyProblems(doc: PolicyDocument): string[] {
  const out: string[] = [];
  const statements = doc.Statement ?? [];
  const crypto =
    /^kms:(\*|Encrypt|Decrypt|ReEncrypt\*?|ReEncryptFrom|ReEncryptTo|GenerateDataKey.*|CreateGrant)$/;
  if (
    !statements.some(
      (s) =>
        s.Effect === "Deny" && s.Principal === "*" && asList(s.Action).includes("kms:ScheduleKeyDeletion"),
    )
  )
    out.push("no Deny of kms:ScheduleKeyDeletion: the key could be deleted while snapshots still need it");
  for (const s of statements.filter((x) => x.Effect === "Allow")) {
    const name = s.Sid ?? "(no Sid)";
    const principals = s.Principal === "*" ? ["*"] : asList(s.Principal?.AWS);
    if (principals.includes("*")) out.push(`statement ${name} allows every principal`);
    const uses = asList(s.Action).filter((a) => crypto.test(a));
    if (uses.length === 0) continue;
    if (principals.some((p) => /:root$/.test(p)))
      out.push(
        `statement ${name} lets the account root (and so any IAM policy) use the key: ${uses.join(", ")}`,
      );
    const context = Object.keys(s.Condition?.StringEquals ?? {}).some((k) =>
      k.startsWith("kms:EncryptionContext:"),
    );
    if (!context)
      out.push(`statement ${name} allows ${uses.join(", ")} without the cluster's encryption context`);
  }
  return out;
}
