import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { servicePrincipal } from "./identity";
import { ec2TrustPolicy } from "./policies";

/** The IAM role one member's node runs as. */
export interface NodeRole {
  /** Role name (what aws.iam.RolePolicy attaches to). */
  roleName: pulumi.Output<string>;
  roleArn: pulumi.Output<string>;
  /** Only for a role this package created; a role you pass keeps whatever instance profile you gave it. */
  instanceProfileName?: pulumi.Output<string>;
}

/**
 * The member's role: the one named in `secretStore.nodeRoles` (looked up with aws.iam.getRole, so a
 * missing role fails at preview), or a new role that only EC2 may assume, with an instance profile.
 */
export function nodeRole(
  base: string,
  member: string,
  existing: string | undefined,
  tags: Record<string, string>,
  parent: pulumi.Resource,
): NodeRole {
  if (existing !== undefined) {
    const found = aws.iam.getRoleOutput({ name: existing }, { parent });
    return {
      roleName: pulumi.output(existing),
      roleArn: found.arn.apply((arn) => {
        if (!arn)
          throw new Error(`secret store: aws.iam.getRole(${JSON.stringify(existing)}) returned no arn`);
        return arn;
      }),
    };
  }
  const role = new aws.iam.Role(
    `${base}-role`,
    {
      description: `etcd member ${member}: reads its own node bundle from Secrets Manager`,
      // EC2's service principal as this partition spells it (aws.getServicePrincipal).
      assumeRolePolicy: servicePrincipal("ec2", parent).apply((p) => JSON.stringify(ec2TrustPolicy(p))),
      maxSessionDuration: 3600,
      tags,
    },
    { parent },
  );
  const profile = new aws.iam.InstanceProfile(`${base}-profile`, { role: role.name, tags }, { parent });
  return { roleName: role.name, roleArn: role.arn, instanceProfileName: profile.name };
}
