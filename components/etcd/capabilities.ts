/**
 * What each etcd release accepts: ONE table (version → flags, probes and tools) read by the config
 * schema, the manifests, the snapshot job, the restore plan, the upgrade checks and the preflight
 * command, so they never disagree about a version.
 */

export interface EtcdVersion {
  major: number;
  minor: number;
  patch: number;
}

/** Releases this package renders for: `min` ≤ version < `below`. */
export const supportedEtcdVersions = { min: "3.4.0", below: "3.8.0" } as const;

/**
 * The release of each supported minor that the tests and the rehearsal matrix run (Debian's etcd for
 * 3.4, the builds of upstream/binaries.json for the others; test/upstream.test.ts keeps them equal).
 * Refusals name these as the newest releases checked here.
 */
export const checkedEtcdReleases = ["3.4.23", "3.5.36", "3.6.17", "3.7.4"] as const;

interface CapabilityRow {
  /**
   * First release with it. A list names the first patch on each minor line it was added or backported
   * to (`["3.4.25", "3.5.8", "3.6.0"]`); every later minor has it from its first release.
   */
  since: string | readonly string[];
  /** First release without it (it was removed there). */
  until?: string;
  /** What it is, for messages and docs. */
  what: string;
}

/**
 * The table. Sources: etcd's CHANGELOG-3.4/3.5/3.6/3.7 and upgrade guides, kubeadm's
 * `cmd/kubeadm/app/phases/etcd/local.go`; each row checked against the real binaries where one is
 * built here (`etcd --help`, the endpoints each serves: test/etcdFlagsAccepted.test.ts).
 */
export const etcdCapabilityTable = {
  cipherSuites: { since: "3.3.0", what: "--cipher-suites" },
  tlsMinVersion: { since: ["3.4.25", "3.5.8", "3.6.0"], what: "--tls-min-version / --tls-max-version" },
  /** kubeadm probed `/health?exclude=NOSPACE&serializable=…` on the metrics listener from 3.5. */
  healthProbeQuery: { since: "3.5.0", what: "/health?exclude=…&serializable=… on the metrics listener" },
  /** kubeadm probes these on the metrics listener (kubeadm#3039); Debian's 3.4.23 answers 404. */
  livezReadyz: { since: ["3.4.29", "3.5.11", "3.6.0"], what: "/livez and /readyz on the metrics listener" },
  /** The experimental flag kubeadm set for the 3.5 corruption bugs; deprecated in 3.6, removed in 3.7. */
  experimentalInitialCorruptCheck: {
    since: "3.3.0",
    until: "3.7.0",
    what: "--experimental-initial-corrupt-check",
  },
  experimentalWatchProgressNotifyInterval: {
    since: ["3.4.16", "3.5.0"],
    until: "3.7.0",
    what: "--experimental-watch-progress-notify-interval",
  },
  /** Replaces the experimental boolean flags: `--feature-gates=InitialCorruptCheck=true`. */
  featureGates: { since: "3.6.0", what: "--feature-gates (InitialCorruptCheck=true)" },
  watchProgressNotifyInterval: { since: "3.6.0", what: "--watch-progress-notify-interval" },
  etcdutl: { since: "3.5.0", what: "the etcdutl binary (snapshot status|restore)" },
  etcdctlSnapshotStatusRestore: {
    since: "3.0.0",
    until: "3.6.0",
    what: "etcdctl snapshot status|restore",
  },
  /** etcdctl on 3.4.27+, etcdutl (and etcdctl) on 3.5.10+, etcdutl from 3.6. */
  restoreBumpRevision: {
    since: ["3.4.27", "3.5.10", "3.6.0"],
    what: "snapshot restore --bump-revision --mark-compacted",
  },
  /**
   * `etcdutl check v2store` as the 3.6 upgrade guide requires it: 3.5.18 added it for the v2 snapshot,
   * 3.5.32 made it read the WAL too (3.6 panics replaying custom v2 entries, etcd#21849). Gone in 3.6.
   */
  v2storeCheck: {
    since: "3.5.32",
    until: "3.6.0",
    what: "etcdutl check v2store (v2 snapshot and WAL records)",
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

/** `3.6` of 3.6.17. */
export const minorOf = (v: EtcdVersion): string => `${v.major}.${v.minor}`;

const known = (text: string): EtcdVersion => parseEtcdVersion(text)!;

/** True when `v` is at least `since`: on a listed minor line from its patch, on any later minor from .0. */
function reached(v: EtcdVersion, since: CapabilityRow["since"]): boolean {
  const floors = (typeof since === "string" ? [since] : since).map(known);
  const sameLine = floors.find((f) => f.major === v.major && f.minor === v.minor);
  if (sameLine) return v.patch >= sameLine.patch;
  return floors.some((f) => compareVersions(v, f) >= 0);
}

/** True when `v` has the capability (since ≤ v < until). */
export function hasCapability(v: EtcdVersion, capability: EtcdCapability): boolean {
  const row: CapabilityRow = etcdCapabilityTable[capability];
  return reached(v, row.since) && (row.until === undefined || compareVersions(v, known(row.until)) < 0);
}

/** The releases a capability starts at, for messages ("3.4.25+, 3.5.8+ or 3.6.0+"). */
export function capabilitySince(capability: EtcdCapability): string {
  const since: CapabilityRow["since"] = etcdCapabilityTable[capability].since;
  return (typeof since === "string" ? [since] : since).map((s) => `${s}+`).join(", ");
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

/** Which tool reads and restores a snapshot file for this release (etcdctl lost both in 3.6). */
export function snapshotFileTool(v: EtcdVersion): "etcdutl" | "etcdctl" {
  return hasCapability(v, "etcdutl") ? "etcdutl" : "etcdctl";
}

/** The newest release checked here on the same minor line, if that minor is checked. */
export function newestCheckedOn(v: EtcdVersion): string | undefined {
  return checkedEtcdReleases.find((r) => minorOf(known(r)) === minorOf(v));
}

/** Why a version is not supported, or undefined when it is. */
export function unsupportedVersionReason(text: string): string | undefined {
  const v = parseEtcdVersion(text);
  if (!v) return `${JSON.stringify(text)} is not an etcd release version like 3.5.16`;
  const newest = checkedEtcdReleases[checkedEtcdReleases.length - 1];
  if (compareVersions(v, known(supportedEtcdVersions.below)) >= 0)
    return (
      `${JSON.stringify(text)} is newer than any etcd release this package renders for: the newest checked ` +
      `is ${newest} (supported: ${supportedEtcdVersions.min} up to ${minorOf(known(newest))}.x)`
    );
  if (compareVersions(v, known(supportedEtcdVersions.min)) < 0)
    return `${JSON.stringify(text)} is not supported; allowed: ${supportedEtcdVersions.min} up to ${minorOf(known(newest))}.x (newest checked: ${newest})`;
  return undefined;
}

/**
 * etcd's upgrade guides (upgrade_3_6.md, upgrade_3_7.md, as of 2026-12), per minor a cluster steps
 * INTO: every member must run at least `floor` (a patch of the previous minor) before the first member
 * moves, and for 3.6 the v2 store must hold membership data only (`etcdutl check v2store`, run with the
 * 3.5 etcdutl on a data dir etcd is not using). 3.5.32 was 3.5.26 until 3.6 panicked replaying custom v2
 * WAL entries (etcd#21849); 3.5.32 also made the check read the WAL. 3.7 no longer reads a v2 store.
 */
export const minorSteps: Readonly<Record<string, { floor: string; v2storeCheck: boolean }>> = {
  "3.6": { floor: "3.5.32", v2storeCheck: true },
  "3.7": { floor: "3.6.11", v2storeCheck: false },
};

/** What etcd's upgrade guide asks before a cluster on `from` steps into `to`'s minor (none within a minor). */
export function minorStepRequirements(
  from: EtcdVersion,
  to: EtcdVersion,
): { floor?: EtcdVersion; v2storeCheck: boolean } {
  const step = minorOf(from) === minorOf(to) ? undefined : minorSteps[minorOf(to)];
  return step ? { floor: known(step.floor), v2storeCheck: step.v2storeCheck } : { v2storeCheck: false };
}
