/** The snapshot job's pure part: constants, types, validation and renderers (the component is ../snapshotJob). */
export {
  DEFAULT_NODE_IMAGE,
  DEFAULT_SCRATCH_SIZE_LIMIT,
  ETCD_BIN_DIR,
  PKI_DIR,
  RESERVED_ENV,
  SCRATCH_DIR,
  SCRIPT_KEY,
  SCRIPT_PATH,
  SNAPSHOT_PART_BYTES,
  TLS_KEYS,
} from "./constants";
export type * from "./types";
export { snapshotJobObjectNames } from "./metadata";
export { assertPinnedImage, pinnedImageProblem } from "./validate";
export {
  renderBackupClientSecret,
  renderBackupClientSecretMetadata,
  renderSnapshotScriptConfigMap,
  renderSnapshotServiceAccount,
} from "./renderObjects";
export { renderSnapshotCronJob } from "./renderCronJob";
export { renderSnapshotJobManifests, toYaml, type SnapshotJobManifests } from "./manifests";
