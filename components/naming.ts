import type { SecureEtcdSettings } from "./config/schema";

/*
 * Physical names Pulumi auto-names from SecureEtcd's resource name: `<child name>-` plus 7 random
 * characters must fit AWS's limit, or the provider fails at preview with "plus 7 random chars is longer
 * than maximum length". Checked here, before anything is registered, with the key and the limit named.
 * test/naming.test.ts proves the table against the names the program really registers.
 */

interface AutoNamed {
  /** Child resource names after SecureEtcd's own name, for these settings (none when not created). */
  suffixes: (s: SecureEtcdSettings) => string[];
  /** AWS's limit for that physical name. */
  max: number;
  what: string;
}

const randomSuffix = 8; // "-" + 7 random characters

const when = (cond: boolean, suffix: string) => (cond ? [suffix] : []);
/** Members whose node role the component creates (not the ones given in secretStore.nodeRoles). */
function createdRoles(s: SecureEtcdSettings): string[] {
  const store = s.secretStore;
  if (!("nodeRoles" in store)) return [];
  return s.members.map((m) => m.name).filter((m) => store.nodeRoles[m] === undefined);
}

export const autoNamedResources: readonly AutoNamed[] = [
  {
    suffixes: (s) => when(s.backup.enabled && s.backup.bucketName === undefined, "-snapshots-bucket"),
    max: 63,
    what: "snapshot bucket (set backup.bucketName to name it yourself)",
  },
  {
    suffixes: (s) =>
      when(s.backup.enabled && s.backup.replicaRegion !== undefined, "-snapshots-replica-bucket"),
    max: 63,
    what: "snapshot replica bucket",
  },
  {
    suffixes: (s) =>
      when(s.backup.enabled && s.backup.replicaRegion !== undefined, "-snapshots-replication-role"),
    max: 64,
    what: "S3 replication IAM role",
  },
  {
    suffixes: (s) => when(s.backup.enabled && s.backup.oidc !== undefined, "-snapshots-irsa-role"),
    max: 64,
    what: "snapshot job's IRSA IAM role",
  },
  {
    suffixes: (s) => createdRoles(s).map((m) => `-secrets-${m}-role`),
    max: 64,
    what: "node IAM role (or pass your own in secretStore.nodeRoles)",
  },
  {
    suffixes: (s) => createdRoles(s).map((m) => `-secrets-${m}-profile`),
    max: 128,
    what: "node instance profile",
  },
];

/** Why `name` is too long for the physical names these settings auto-name, or undefined. */
export function resourceNameProblem(name: string, s: SecureEtcdSettings): string | undefined {
  const tooLong = autoNamedResources.flatMap((r) =>
    r
      .suffixes(s)
      .filter((suffix) => name.length + suffix.length + randomSuffix > r.max)
      .map((suffix) => ({ ...r, suffix })),
  );
  if (tooLong.length === 0) return undefined;
  const worst = tooLong.reduce((a, b) => (b.max - b.suffix.length < a.max - a.suffix.length ? b : a));
  const limit = worst.max - worst.suffix.length - randomSuffix;
  return `${JSON.stringify(name)} is ${name.length} characters; with these settings it may be at most ${limit}, because Pulumi names the ${worst.what} after it ("${name}${worst.suffix}-" plus 7 random characters, AWS allows ${worst.max})`;
}
