/** What a given etcd release accepts, so renderers emit only flags and commands the target version knows. */

export interface EtcdVersion {
  major: number;
  minor: number;
  patch: number;
}

const versionPattern = /^v?(\d+)\.(\d+)\.(\d+)$/;

/** Parses `3.5.16` (or `v3.5.16`); returns undefined for anything else. */
export function parseEtcdVersion(text: string): EtcdVersion | undefined {
  const m = versionPattern.exec(text.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
}

export function compareVersions(a: EtcdVersion, b: EtcdVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

function atLeast(v: EtcdVersion, text: string): boolean {
  return compareVersions(v, parseEtcdVersion(text)!) >= 0;
}

export interface EtcdCapabilities {
  /** `--cipher-suites` (since 3.3). */
  cipherSuites: boolean;
  /** `--tls-min-version` / `--tls-max-version` (3.5.8+; Debian's 3.4.23 rejects them). */
  tlsMinVersion: boolean;
  /** `etcdutl` exists (3.5+) and owns `snapshot status|restore`. */
  etcdutl: boolean;
  /** `etcdctl snapshot status|restore` still exist (removed in 3.6). */
  etcdctlSnapshotStatusRestore: boolean;
  /** `etcdutl snapshot restore --bump-revision --mark-compacted` (documented for 3.6; not rendered for older releases we could not confirm). */
  restoreBumpRevision: boolean;
  /** Image tag kubeadm uses for this release (`3.5.16-0`). */
  imageTag: string;
}

export function etcdCapabilities(v: EtcdVersion): EtcdCapabilities {
  return {
    cipherSuites: atLeast(v, "3.3.0"),
    tlsMinVersion: atLeast(v, "3.5.8"),
    etcdutl: atLeast(v, "3.5.0"),
    etcdctlSnapshotStatusRestore: !atLeast(v, "3.6.0"),
    restoreBumpRevision: atLeast(v, "3.6.0"),
    imageTag: `${v.major}.${v.minor}.${v.patch}-0`,
  };
}

export function formatVersion(v: EtcdVersion): string {
  return `${v.major}.${v.minor}.${v.patch}`;
}
