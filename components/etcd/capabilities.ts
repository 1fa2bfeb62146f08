/**
 * What each etcd release accepts: ONE table (version → flags and tools) read by the config schema, the
 * manifests, the snapshot job and the restore plan, so they never disagree about a version.
 */

export interface EtcdVersion {
  major: number;
  minor: number;
  patch: number;
}

/** Releases this package renders for: `min` ≤ version < `below`. */
export const supportedEtcdVersions = { min: "3.4.0", below: "3.7.0" } as const;

interface CapabilityRow {
  /** First release with it. */
  since: string;
  /** First release without it (it was removed there). */
  until?: string;
  /** What it is, for messages and docs. */
  what: string;
}

/**
 * The table. Sources: etcd's CHANGELOG-3.x files and op-guide (checked: Debian's 3.4.23 accepts
 * `--cipher-suites` and rejects `--tls-min-version`).
 */
export const etcdCapabilityTable = {
  cipherSuites: { since: "3.3.0", what: "--cipher-suites" },
  tlsMinVersion: { since: "3.5.8", what: "--tls-min-version / --tls-max-version" },
  /** kubeadm probes `/health?exclude=NOSPACE&serializable=…` on the metrics listener from 3.5. */
  healthProbeQuery: { since: "3.5.0", what: "/health?exclude=…&serializable=… on the metrics listener" },
  etcdutl: { since: "3.5.0", what: "the etcdutl binary (snapshot status|restore)" },
  etcdctlSnapshotStatusRestore: {
    since: "3.0.0",
    until: "3.6.0",
    what: "etcdctl snapshot status|restore",
  },
  /** Documented for 3.6; not rendered for older releases whose patch level we could not confirm. */
  restoreBumpRevision: {
    since: "3.6.0",
    what: "snapshot restore --bump-revision --mark-compacted",
  },
} as const satisfies Record<string, CapabilityRow>;

export type EtcdCapability = keyof typeof etcdCapabilityTable;

export type EtcdCapabilities = Record<EtcdCapability, boolean> & {
  /** Image tag kubeadm uses for this release (`3.5.16-0`). */
  imageTag: string;
};

const versionPattern = /^v?(\d+)\.(\d+)\.(\d+)$/;

/** Parses `3.5.16` (or `v3.5.16`); returns undefined for anything else (pre-releases included). */
export function parseEtcdVersion(text: string): EtcdVersion | undefined {
  const m = versionPattern.exec(String(text ?? "").trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
}

export function compareVersions(a: EtcdVersion, b: EtcdVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

export function formatVersion(v: EtcdVersion): string {
  return `${v.major}.${v.minor}.${v.patch}`;
}

const known = (text: string): EtcdVersion => parseEtcdVersion(text)!;

/** True when `v` has the capability (since ≤ v < until). */
export function hasCapability(v: EtcdVersion, capability: EtcdCapability): boolean {
  const row: CapabilityRow = etcdCapabilityTable[capability];
  return (
    compareVersions(v, known(row.since)) >= 0 &&
    (row.until === undefined || compareVersions(v, known(row.until)) < 0)
  );
}

/** Every capability of a release, plus kubeadm's image tag for it. */
export function etcdCapabilities(v: EtcdVersion): EtcdCapabilities {
  const flags = Object.fromEntries(
    (Object.keys(etcdCapabilityTable) as EtcdCapability[]).map((c) => [c, hasCapability(v, c)]),
  ) as Record<EtcdCapability, boolean>;
  return { ...flags, imageTag: `${formatVersion(v)}-0` };
}

/** Capabilities of a version string that config validation has already accepted. */
export function capabilitiesOf(version: string): EtcdCapabilities {
  const v = parseEtcdVersion(version);
  if (!v) throw new Error(`etcdVersion ${JSON.stringify(version)} is not a version like 3.5.16`);
  return etcdCapabilities(v);
}

/** Why a version is not supported, or undefined when it is. */
export function unsupportedVersionReason(text: string): string | undefined {
  const v = parseEtcdVersion(text);
  if (!v) return `${JSON.stringify(text)} is not an etcd release version like 3.5.16`;
  if (
    compareVersions(v, known(supportedEtcdVersions.min)) < 0 ||
    compareVersions(v, known(supportedEtcdVersions.below)) >= 0
  )
    return `${JSON.stringify(text)} is not supported; allowed: ${supportedEtcdVersions.min} up to (not including) ${supportedEtcdVersions.below}`;
  return undefined;
}
