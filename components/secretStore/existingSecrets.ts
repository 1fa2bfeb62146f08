import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../config/errors";
import { show } from "../config/fields";
import { secretNameOfArn } from "./naming";

import type { PreviousSecretStore } from "../secureEtcdArgs";

/** What this stack's last deployment exported about its secret store (its own outputs); declared with the Args. */
export type { PreviousSecretStore };

/** Where the generation is set (the way out of a name collision). */
export const GENERATION_KEY = "secretStore.generation";

/**
 * The secrets among `arns` (ListSecrets by name prefix) that carry one of `names` exactly but that the
 * last deployment does not manage: creating them again would fail with ResourceExistsException. Pure.
 */
export function collidingSecrets(
  names: readonly string[],
  arns: readonly string[],
  previous: PreviousSecretStore,
): string[] {
  const ours = new Set(previous.deployed ? previous.secretArns : []);
  return arns.filter((arn) => {
    const name = secretNameOfArn(arn);
    return name !== undefined && names.includes(name) && !ours.has(arn);
  });
}

/** The ConfigError for colliding secrets: what exists, and the two ways on (a person decides). */
export function collisionError(colliding: string[], generation: number): ConfigError {
  const list = colliding.map((a) => show(a)).join(", ");
  return new ConfigError(
    [
      {
        path: GENERATION_KEY,
        message:
          `${generation} names secrets that already exist in AWS and that this stack's last deployment does not manage: ${list} — ` +
          "retained by an earlier deployment of this stack (destroyed, then deployed again) or created by another stack with the same cluster and environment names; creating them would fail with ResourceExistsException. " +
          `Either keep them (the key archive holds encryption keys that retained snapshots may need) and set ${GENERATION_KEY} to ${generation + 1}, so this deployment uses new names beside them; ` +
          'or, once nothing needs them, delete them (docs/aws-access.md, "Rebuilding after a destroy": `aws secretsmanager delete-secret --secret-id <arn> --recovery-window-in-days 30`, and wait out the window).',
      },
    ],
    "secret store",
  );
}

/**
 * The secret names, released only once no secret of those names exists in AWS that this stack does not
 * manage (aws.secretsmanager.getSecrets: an invoke, so at preview). Every secret is created under these
 * Outputs, so a collision stops the deployment before anything is created, naming what exists. Without
 * `previous` (a component used without the program's record) nothing can be told apart and nothing is
 * checked.
 */
export function checkedSecretNames(
  names: string[],
  generation: number,
  previous: PreviousSecretStore | undefined,
  parent: pulumi.Resource,
): pulumi.Output<string[]> {
  if (previous === undefined) return pulumi.output(names);
  // ListSecrets matches each value as a name prefix (at most 10 values per filter).
  const chunks: string[][] = [];
  for (let i = 0; i < names.length; i += 10) chunks.push(names.slice(i, i + 10));
  const found = chunks.map(
    (values) => aws.secretsmanager.getSecretsOutput({ filters: [{ name: "name", values }] }, { parent }).arns,
  );
  return pulumi.all(found).apply((lists) => {
    const colliding = collidingSecrets(
      names,
      lists.flat().filter((a): a is string => typeof a === "string"),
      previous,
    );
    if (colliding.length) throw collisionError(colliding, generation);
    return names;
  });
}
