/** The restore library (what drills, tests and the `restore` command use); no command line here. */
export { restoreSnapshot } from "./restoreSnapshot";
export { parseS3Url } from "./fetch";
export {
  RestoreRefused,
  type RestoreOptions,
  type RestoreResult,
  type RestoreSettings,
  type SnapshotFacts,
} from "./types";
