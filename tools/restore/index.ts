/** The restore library (what drills, tests and the `restore` command use); no command line here. */
export { restoreSnapshot } from "./restoreSnapshot";
export { parseS3Url, parseManifest, type SnapshotManifest } from "./source";
export { parseSize } from "./size";
export {
  DEFAULT_MAX_SNAPSHOT_BYTES,
  RESTORE_EXIT,
  RestoreNoSpace,
  RestoreRefused,
  RestoreTooLarge,
  type RestoreOptions,
  type RestoreResult,
  type RestoreSettings,
  type SnapshotFacts,
} from "./types";
