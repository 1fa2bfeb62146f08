/** Fixed names and paths of the snapshot job: the renderers, the validation and the script agree on them. */

/**
 * The image that runs the job: Node.js 26 (LTS) on Debian bookworm-slim, Docker's official image, pinned by
 * tag and index digest (Docker Hub, node:26.11.1-bookworm-slim). The job uses nothing in it but `node`
 * (its zlib, crypto, https): the runner files come from the ConfigMap, etcdctl/etcdutl from the etcd
 * image; nothing is installed at run time. The tests and the bench run the same files with node.
 */
export const DEFAULT_NODE_IMAGE =
  "docker.io/library/node:26.11.1-bookworm-slim@sha256:86f07bc9c5dce4578cf37e5a418b7bfc7f817cda25cde66e2b66e95ed86c4567";
/** Default scratch size: room for an 8 GiB database (etcd's suggested maximum) with ample margin. */
export const DEFAULT_SCRATCH_SIZE_LIMIT = "16Gi";

/** The runner's entry file; the ConfigMap holds every file of components/backup/runner, flat. */
export const SCRIPT_KEY = "snapshot.js";
export const SCRIPT_DIR = "/scripts";
export const SCRIPT_PATH = `${SCRIPT_DIR}/${SCRIPT_KEY}`;
/** The runner's default S3_PART_SIZE (runner/config.js; a test checks they agree): the cost model counts parts with it. */
export const SNAPSHOT_PART_BYTES = 16 * 1024 * 1024;
export const PKI_DIR = "/etc/etcd-snapshot/pki";
export const SCRATCH_DIR = "/scratch";
export const ETCD_BIN_DIR = "/opt/etcd-bin";
/** Secret keys holding the backup client certificate, its key and the etcd CA. */
export const TLS_KEYS = Object.freeze({ ca: "ca.crt", cert: "client.crt", key: "client.key" });
/** Where the projected web-identity token is mounted (the path the EKS pod identity webhook uses). */
export const IRSA_TOKEN_DIR = "/var/run/secrets/eks.amazonaws.com/serviceaccount";
/** uid/gid of every container (distroless "nonroot"). */
export const NON_ROOT_ID = 65532;

/** Variables the job sets itself: `extraEnv` must not shadow them (a test checks the env renderer agrees). */
export const RESERVED_ENV: readonly string[] = Object.freeze([
  "ETCD_ENDPOINTS",
  "CLUSTER",
  "ENVIRONMENT",
  "S3_BUCKET",
  "S3_PREFIX",
  "KMS_KEY_ID",
  "ETCD_VERSION",
  "ETCD_STATUS_TOOL",
  "ENCRYPTION_KEYS",
  "AWS_REGION",
  "ETCD_CACERT",
  "ETCD_CERT",
  "ETCD_KEY",
  "WORK_DIR",
  "HOME",
  "TMPDIR",
  "PATH",
  "AWS_ROLE_ARN",
  "AWS_WEB_IDENTITY_TOKEN_FILE",
]);
