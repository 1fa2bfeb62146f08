import type { RestorePlan } from "../../components/backup/restorePlan";
import type { SecureEtcdSettings } from "../../components/config/schema";

/** A snapshot that failed a check; the command exits 1 with `restore: REFUSED: <message>`. */
export class RestoreRefused extends Error {}

/** A size cap: a snapshot (or what it decompresses to) larger than allowed. The command exits 3. */
export class RestoreTooLarge extends Error {}

/** Not enough disk space for the snapshot or the restored members. The command exits 4. */
export class RestoreNoSpace extends Error {}

/** The restore command's exit statuses (documented in its usage and docs/snapshots-and-restore.md). */
export const RESTORE_EXIT = Object.freeze({ ok: 0, refused: 1, usage: 2, tooLarge: 3, noSpace: 4 });

/** Default cap on a snapshot's decompressed size: twice etcd's suggested maximum DB (8 GiB). */
export const DEFAULT_MAX_SNAPSHOT_BYTES = 16 * 1024 ** 3;

/** The settings a restore reads: who the members are, which etcd, and the node paths. */
export type RestoreSettings = Pick<
  SecureEtcdSettings,
  "clusterName" | "environment" | "members" | "etcdVersion" | "paths"
> &
  /** With a stack's settings the plan names the key archive; flags alone cannot know it. */
  Partial<Pick<SecureEtcdSettings, "secretStore">>;

export interface RestoreOptions {
  settings: RestoreSettings;
  from?: string;
  file?: string;
  endpointUrl?: string;
  /** Expected SHA-256 of the object (`from`) or file (`file`), checked besides what the snapshot records. */
  sha256?: string;
  /** Where the printed plan expects the snapshot on every member. */
  nodePath?: string;
  /** Run the member restores into `targetDir/<member>` (loopback members only), staged and then swapped in. */
  apply?: { targetDir: string };
  /** Scratch directory for the download (default: a new temp dir). */
  workDir?: string;
  /** Keep the new temp dir with the verified snapshot (default: kept unless `apply`; a given workDir is always kept). */
  keepDownload?: boolean;
  /** Refuse a snapshot that is (or decompresses to) more raw bytes than this (default 16 GiB). */
  maxSnapshotBytes?: number;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  etcdctl?: string;
  etcdutl?: string;
}

export interface SnapshotFacts {
  /** The verified, decompressed snapshot. */
  dbPath: string;
  dbSize: number;
  /** SHA-256 of the decompressed snapshot. */
  dbSha256: string;
  /** SHA-256 of what was downloaded/read (the compressed object for compressed snapshots). */
  sha256: string;
  size: number;
  /** How what was downloaded/read is stored: brotli frames (format 2), gzip (the format before), or a raw db. */
  format: "brotli-frames-v1" | "gzip" | "raw";
  /** Whether what was downloaded/read was compressed. */
  compressed: boolean;
  hash: number;
  revision: number;
  totalKey: number;
  /** What the snapshot records about itself: the manifest (format 2) or the object metadata (before). */
  metadata: Record<string, string>;
  statusTool: string;
}

export interface RestoreResult {
  snapshot: SnapshotFacts;
  plan: RestorePlan;
  planText: string;
  applied: { member: string; dataDir: string }[];
  seconds: { download: number; verify: number; apply: number };
}

/** How the steps run commands: the caller's environment (plus `AWS_PAGER=""`) and log. */
export interface StepContext {
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
}
