import { z } from "zod";
import {
  INLINE_POLICY_NAME_MAX,
  nodeReadPolicyName,
  nodeSnapshotWriterPolicyName,
} from "../secretStore/naming";
import type { ProblemList } from "./errors";
import { show } from "./fields";

/*
 * Who may deploy, and the AWS names and principals that only AWS would otherwise refuse — late, in the
 * middle of an update: checked here, at preview, naming the key.
 */

/** IAM users and roles (paths allowed): what `aws:PrincipalArn` is for a deployer. */
export const iamPrincipalArn = /^arn:(aws[a-z-]*):iam::(\d{12}):(user|role)\/([\w+=,.@/-]+)$/;

/**
 * `deployerPrincipalArns`: the CI and break-glass roles (or users) that deploy the stack besides the one
 * running `pulumi up`. Their partition and account are checked against the stack's once known.
 */
export const deployerPrincipalArnsSchema = z
  .array(
    z.string().refine((v) => iamPrincipalArn.test(v), {
      error: (iss) =>
        `${show(iss.input)} is not an IAM role or user ARN (arn:<partition>:iam::<account>:role/<name>); for an assumed role give the role's ARN, not a session's`,
    }),
  )
  .max(20, { error: "lists more than 20 deployers; use a role they all assume" })
  .default([]);

/** The parts of the parsed settings these checks read. */
interface AccessSettings {
  clusterName: string;
  environment: string;
  members: { name: string }[];
  deployerPrincipalArns: string[];
  backup: { enabled: boolean; oidc?: unknown; writerRoleArns?: string[] };
  secretStore: { enabled: boolean };
}

/** Cross-field checks of who deploys, writes and reads, and of the inline policy names. */
export function awsAccessProblems(s: AccessSettings, problems: ProblemList): void {
  s.deployerPrincipalArns.forEach((arn, i) => {
    if (s.deployerPrincipalArns.indexOf(arn) !== i)
      problems.add(`deployerPrincipalArns[${i}]`, `${show(arn)} is listed twice`);
  });
  const writersFromNodes = s.secretStore.enabled;
  if (
    s.backup.enabled &&
    s.backup.oidc === undefined &&
    !writersFromNodes &&
    !s.backup.writerRoleArns?.length
  )
    problems.add(
      "backup.writerRoleArns",
      "is required when snapshots are on without backup.oidc and without the secret store's node roles: the snapshot key and bucket let only the snapshot writers upload, so name the roles that run the snapshot job",
    );
  if (!s.secretStore.enabled) return;
  const withWriter = s.backup.enabled && s.backup.oidc === undefined;
  s.members.forEach((m, i) => {
    const names = [
      nodeReadPolicyName(s.clusterName, s.environment, m.name),
      ...(withWriter ? [nodeSnapshotWriterPolicyName(s.clusterName, s.environment, m.name)] : []),
    ];
    const long = names.find((n) => n.length > INLINE_POLICY_NAME_MAX);
    if (long)
      problems.add(
        `members[${i}].name`,
        `${show(m.name)} makes the inline IAM policy name ${show(long)} ${long.length} characters long; IAM allows ${INLINE_POLICY_NAME_MAX} (shorten the member, cluster or environment name)`,
      );
  });
}
