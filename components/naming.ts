import type { SecureEtcdSettings } from "./config/schema";

/*
 * Physical names Pulumi auto-names from SecureEtcd's resource name: `<child name>-` plus 7 random
 * characters must fit AWS's limit, or the provider fails at preview with "plus 7 random chars is longer
 * than maximum length". Checked here, before anything is registered, with the key and the limit named.
 * test/naming.test.ts proves the table against the names the program really registers.
 */

interface AutoNamed {
  /** Child resource name after SecureEtcd's own name. */
  suffix: string;
  /** AWS's limit for that physical name. */
  max: number;
  what: string;
  when: (s: SecureEtcdSettings) => boolean;
}

const randomSuffix = 8; // "-" + 7 random characters

export const autoNamedResources: readonly AutoNamed[] = [
  {
    suffix: "-snapshots-bucket",
    max: 63,
    what: "snapshot bucket (set backup.bucketName to name it yourself)",
    when: (s) => s.backup.enabled && s.backup.bucketName === undefined,
  },
  {
    suffix: "-snapshots-replica-bucket",
    max: 63,
    what: "snapshot replica bucket",
    when: (s) => s.backup.enabled && s.backup.replicaRegion !== undefined,
  },
  {
    suffix: "-snapshots-replication-role",
    max: 64,
    what: "S3 replication IAM role",
    when: (s) => s.backup.enabled && s.backup.replicaRegion !== undefined,
  },
  {
    suffix: "-snapshots-irsa-role",
    max: 64,
    what: "snapshot job's IRSA IAM role",
    when: (s) => s.backup.enabled && s.backup.oidc !== undefined,
  },
];

/** Why `name` is too long for the physical names these settings auto-name, or undefined. */
export function resourceNameProblem(name: string, s: SecureEtcdSettings): string | undefined {
  const tooLong = autoNamedResources.filter(
    (r) => r.when(s) && name.length + r.suffix.length + randomSuffix > r.max,
  );
  if (tooLong.length === 0) return undefined;
  const limit = Math.min(...tooLong.map((r) => r.max - r.suffix.length - randomSuffix));
  return `${JSON.stringify(name)} is ${name.length} characters; with these settings it may be at most ${limit}, because Pulumi names the ${tooLong.map((r) => r.what).join(" and the ")} after it ("${name}${tooLong[0].suffix}-" plus 7 random characters, AWS allows ${tooLong[0].max})`;
}
