/*
 * How a snapshot names the envelope keys it needs, and how a restore checks them. The snapshot job
 * records the EncryptionConfiguration's keys in force as words (`ENCRYPTION_KEYS`, the object's
 * `encryption-keys` metadata): `<provider>:<name>` for local keys, and `kms:<name>=<key ARN>` for kms keys
 * — the ARN, never an alias, because an alias can be re-pointed and the snapshot's data keys were
 * wrapped by one exact AWS key. Pure.
 */

const kmsWord =
  /^kms:([a-z0-9]([-a-z0-9]*[a-z0-9])?)=(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+)$/;

/** The words a snapshot records, in EncryptionConfiguration order. */
export function snapshotKeyWords(
  keys: readonly { name: string; provider: string }[],
  envelopeKeyArns: Readonly<Record<string, string>>,
): string[] {
  return keys.map((k) => {
    if (k.provider !== "kms") return `${k.provider}:${k.name}`;
    const arn = envelopeKeyArns[k.name];
    if (!arn) throw new Error(`snapshot keys: kms key ${JSON.stringify(k.name)} has no envelope key ARN`);
    return `kms:${k.name}=${arn}`;
  });
}

export interface SnapshotEnvelopeKey {
  /** The kms provider's name. */
  name: string;
  arn: string;
  region: string;
}

/**
 * The envelope keys a snapshot names (`kms:<name>=<arn>` words). A `kms:<name>` word without an ARN
 * (a snapshot taken before the job recorded ARNs) is returned with `arn` empty: the restore must then be
 * told the key, it cannot check it.
 */
export function envelopeKeysOfSnapshot(words: readonly string[]): SnapshotEnvelopeKey[] {
  return words
    .filter((w) => w.startsWith("kms:"))
    .map((w) => {
      const m = kmsWord.exec(w);
      if (m) return { name: m[1], arn: m[3], region: m[3].split(":")[3] };
      return { name: w.slice(4).split("=")[0], arn: "", region: "" };
    });
}

/** The operator's DescribeKey for one key: must print `Enabled`. */
export function describeKeyCommand(k: SnapshotEnvelopeKey): string {
  return `aws kms describe-key --region ${k.region} --key-id ${k.arn} --query KeyMetadata.KeyState --output text`;
}

export interface EnvelopeKeyState {
  arn: string;
  /** DescribeKey's KeyState (`Enabled`, `Disabled`, `PendingDeletion`, …), or why it could not be read. */
  keyState?: string;
  error?: string;
}

/**
 * Why a restore must not start an API server, per key: anything but `Enabled` makes every Secret written
 * under the key unreadable (kube-apiserver would serve errors for them, and rewrites would fail).
 */
export function envelopeKeyProblems(
  keys: readonly SnapshotEnvelopeKey[],
  states: readonly EnvelopeKeyState[],
): string[] {
  const byArn = new Map(states.map((s) => [s.arn, s]));
  return keys.flatMap((k) => {
    if (!k.arn)
      return [
        `kms key ${k.name}: the snapshot does not record its AWS key ARN; find it (alias secure-etcd/<cluster>/<env>/kms/${k.name}) and check it is Enabled before starting any kube-apiserver`,
      ];
    const s = byArn.get(k.arn);
    if (!s) return [`kms key ${k.name} (${k.arn}): not checked`];
    if (s.error) return [`kms key ${k.name} (${k.arn}): DescribeKey failed: ${s.error}`];
    if (s.keyState !== "Enabled")
      return [
        `kms key ${k.name} (${k.arn}) is ${s.keyState}: the Secrets this snapshot holds cannot be decrypted until it is Enabled again` +
          (s.keyState === "PendingDeletion"
            ? " (aws kms cancel-key-deletion, then enable-key)"
            : " (aws kms enable-key)"),
      ];
    return [];
  });
}

/**
 * The runbook step that checks every envelope key a snapshot names before any API server starts
 * (undefined when it names none). Shaped like restorePlan's RunbookStep.
 */
export function envelopeKeyRunbookStep(
  words: readonly string[],
): { title: string; where: string; commands: string[]; note: string } | undefined {
  const keys = envelopeKeysOfSnapshot(words);
  if (keys.length === 0) return undefined;
  return {
    title: `Check the snapshot's AWS KMS envelope keys are Enabled: ${keys.map((k) => `${k.name} (${k.arn || "ARN not recorded"})`).join(", ")}`,
    where: "operator",
    commands: keys.map((k) =>
      k.arn
        ? describeKeyCommand(k)
        : `aws kms describe-key --key-id alias/secure-etcd/<cluster>/<env>/kms/${k.name} --query KeyMetadata.KeyState --output text`,
    ),
    note:
      "each must print Enabled before any kube-apiserver starts: under a Disabled or PendingDeletion key every Secret " +
      "the snapshot holds is unreadable (secure-etcd restore refuses such a snapshot); enable it (aws kms enable-key, " +
      "after aws kms cancel-key-deletion if pending) and make sure the nodes' plugins serve it (a kms key back as " +
      `"retired" if it was archived)`,
  };
}
