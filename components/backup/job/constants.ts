/** Fixed names and paths of the snapshot job: the renderers, the validation and the script agree on them. */

export const DEFAULT_AWS_CLI_IMAGE = "public.ecr.aws/aws-cli/aws-cli:2.27.49";
/** Default scratch size: room for an 8 GiB database (etcd's suggested maximum) plus its compressed copy. */
export const DEFAULT_SCRATCH_SIZE_LIMIT = "16Gi";

export const SCRIPT_KEY = "snapshot.sh";
export const SCRIPT_PATH = `/scripts/${SCRIPT_KEY}`;
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
