import * as pulumi from "@pulumi/pulumi";
import type { KeyStateRecord } from "../components";

/*
 * What this stack last deployed, read through a StackReference to itself: the encryption key states
 * SecureEtcd exported, so an unsafe rotation step is refused at preview. A stack that has never been
 * deployed has no outputs, and nothing is checked.
 */

/** The stack's own fully qualified name (`<org>/<project>/<stack>`). */
export function ownStackName(): string {
  return `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
}

export async function previousEncryptionKeys(
  ref: pulumi.StackReference,
): Promise<KeyStateRecord[] | undefined> {
  const details = await ref.getOutputDetails("encryptionKeyStates");
  const value = details.value ?? details.secretValue;
  return Array.isArray(value) ? (value as KeyStateRecord[]) : undefined;
}
