import type { RestorePlan } from "../../components/backup/restorePlan";
import type { SecureEtcdSettings } from "../../components/config/schema";

/** A snapshot that failed a check; the command exits 1 with `restore: REFUSED: <message>`. */
export class RestoreRefused extends Error {}

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
  /** Expected SHA-256 of the file given with `file`. */
  sha256?: string;
  /** Where the printed plan expects the snapshot on every member. */
  nodePath?: string;
  /** Run the member restores into `targetDir/<member>` (loopback members only). */
  apply?: { targetDir: string };
  /** Scratch directory for the download (default: a new temp dir). */
  workDir?: string;
  /** Keep the new temp dir with the verified snapshot (default: kept unless `apply`; a given workDir is always kept). */
  keepDownload?: boolean;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  awsCli?: string;
  etcdctl?: string;
  etcdutl?: string;
}

export interface SnapshotFacts {
  /** The verified, decompressed snapshot. */
  dbPath: string;
  dbSize: number;
  /** SHA-256 of what was downloaded/read (the .gz for compressed snapshots). */
  sha256: string;
  size: number;
  /** Whether what was downloaded/read was gzip-compressed. */
  compressed: boolean;
  hash: number;
  revision: number;
  totalKey: number;
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
