import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as YAML from "yaml";
import { etcdCapabilities, formatVersion, parseEtcdVersion } from "../etcd/capabilities";
import { resolveSnapshotSchedule, validateSchedule, type SnapshotScheduleSettings } from "../config/backup";
import { DEFAULT_SNAPSHOT_NAME, DEFAULT_SNAPSHOT_NAMESPACE } from "./defaults";

/*
 * The in-cluster snapshot job: pure renderers (plain values in, Kubernetes objects and YAML out) and a
 * `SnapshotJob` component that applies them with @pulumi/kubernetes when given a provider.
 *
 * Images (two, both pinned and configurable):
 * - `images.etcd` — kubeadm's etcd image `registry.k8s.io/etcd:<version>-0` by default: the same image
 *   the static pod runs, so it is already on every control-plane node and its etcdctl matches the
 *   server. It is distroless but ships a tiny `/bin/cp SRC DST`; init containers use it (no shell) to
 *   copy `etcdctl` (and `etcdutl` for etcd >= 3.5) into the shared `etcd-bin` emptyDir. Upstream
 *   `gcr.io/etcd-development/etcd` / `quay.io/coreos/etcd` images have no `cp`: build a small image that
 *   does, or build one image with etcdctl, cp and the AWS CLI and set both `images.etcd` and `images.awsCli` to it.
 * - `images.awsCli` — runs `sh /scripts/snapshot.sh`; needs `sh`, `aws` (CLI v2), `gzip`, `sha256sum`.
 *   Default: the official AWS CLI image. `etcd-bin` is first on PATH.
 *
 * Security: non-root (uid/gid 65532), read-only root filesystem, no privilege escalation, all
 * capabilities dropped, RuntimeDefault seccomp, no Kubernetes API token (automount off). The snapshot is
 * written to the `scratch` emptyDir (size-limited), HOME/TMPDIR point at a small `tmp` emptyDir.
 * The pod uses the host network (to reach members on their node IPs / 127.0.0.1), so the namespace must
 * admit hostNetwork pods (kube-system normally does; Pod Security "baseline" forbids it).
 */

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
const IRSA_TOKEN_DIR = "/var/run/secrets/eks.amazonaws.com/serviceaccount";
const NON_ROOT_ID = 65532;

/** Backup client TLS material (PEM). */
export interface BackupClientTls {
  /** Backup client certificate (CN e.g. `etcd-backup`, EKU client_auth), signed by the etcd CA. */
  certPem: string;
  /** Its private key. */
  keyPem: string;
  /** The etcd CA certificate (to verify the members). */
  caPem: string;
}

export interface SnapshotJobImages {
  /** Image providing etcdctl/etcdutl and `/bin/cp`. Default `registry.k8s.io/etcd:<etcdVersion>-0`. */
  etcd: string;
  /** Image running the script (sh, aws, gzip, sha256sum). Default the official AWS CLI v2 image. */
  awsCli: string;
}

export interface ResourceRequirements {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}

/** Inputs of the renderers that carry no secrets. */
export interface SnapshotJobWorkloadOptions {
  /** Name of the ServiceAccount and CronJob; prefix of the Secret/ConfigMap. Default `etcd-snapshot`. */
  name?: string;
  /** Default `kube-system`. */
  namespace?: string;
  clusterName: string;
  environment: string;
  /** Full schedule settings (see `resolveSnapshotSchedule` for per-environment defaults). */
  schedule: SnapshotScheduleSettings;
  /** Client URLs of the members, in member order (`https://…:2379`). The script tries them in order. */
  etcdEndpoints: string[];
  /** etcd server version, e.g. `3.5.16` (selects etcdutl vs etcdctl and the default image). */
  etcdVersion: string;
  bucketName: string;
  /** `<cluster>/<env>/`, from SnapshotStore.prefix. */
  prefix: string;
  /** KMS key ARN for `--sse-kms-key-id` (must be the ARN: the bucket policy compares it literally). */
  kmsKeyId: string;
  awsRegion: string;
  /** IRSA role ARN; annotates the ServiceAccount and (with `irsaToken: "projected"`) wires the token. */
  roleArn?: string;
  /**
   * How the pod gets its web-identity token when `roleArn` is set. `projected` (default) mounts a
   * projected ServiceAccount token with audience `sts.amazonaws.com` and sets AWS_ROLE_ARN /
   * AWS_WEB_IDENTITY_TOKEN_FILE itself — works on self-managed clusters without the EKS pod identity
   * webhook. `webhook` leaves that to the amazon-eks-pod-identity-webhook (annotation only).
   */
  irsaToken?: "projected" | "webhook";
  images?: Partial<SnapshotJobImages>;
  /** Resources of the snapshot container. Default requests 100m/256Mi, limits 1 CPU/1Gi. */
  resources?: ResourceRequirements;
  /** emptyDir size limit for the snapshot and its compressed copy (>= 2 x DB size). Default 16Gi. */
  scratchSizeLimit?: string;
  /** Extra environment for the script (e.g. AWS_ENDPOINT_URL, VERIFY_DOWNLOAD). Must not shadow the built-ins. */
  extraEnv?: Record<string, string>;
  /** Extra labels on every object. */
  labels?: Record<string, string>;
  /** Optional priorityClassName for the snapshot pods. */
  priorityClassName?: string;
}

export interface SnapshotJobRenderOptions extends SnapshotJobWorkloadOptions {
  /** TLS material for the Secret (the caller marks it secret). */
  tls: BackupClientTls;
  /** Text of components/backup/snapshot.sh. */
  script: string;
}

export interface ObjectMeta {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface SecretManifest {
  apiVersion: "v1";
  kind: "Secret";
  metadata: ObjectMeta;
  type: "Opaque";
  stringData: Record<string, string>;
}

export interface ConfigMapManifest {
  apiVersion: "v1";
  kind: "ConfigMap";
  metadata: ObjectMeta;
  data: Record<string, string>;
}

export interface ServiceAccountManifest {
  apiVersion: "v1";
  kind: "ServiceAccount";
  metadata: ObjectMeta;
  automountServiceAccountToken: boolean;
}

export interface EnvVar {
  name: string;
  value: string;
}

export interface ContainerSecurityContext {
  runAsNonRoot: boolean;
  runAsUser: number;
  runAsGroup: number;
  readOnlyRootFilesystem: boolean;
  allowPrivilegeEscalation: boolean;
  privileged: boolean;
  capabilities: { drop: string[] };
  seccompProfile: { type: string };
}

export interface Container {
  name: string;
  image: string;
  imagePullPolicy: string;
  command: string[];
  env?: EnvVar[];
  resources: ResourceRequirements;
  securityContext: ContainerSecurityContext;
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
}

export interface Volume {
  name: string;
  emptyDir?: { sizeLimit?: string; medium?: string };
  configMap?: { name: string; defaultMode: number };
  secret?: { secretName: string; defaultMode: number };
  projected?: {
    defaultMode: number;
    sources: { serviceAccountToken: { audience: string; expirationSeconds: number; path: string } }[];
  };
}

export interface PodSpec {
  serviceAccountName: string;
  automountServiceAccountToken: boolean;
  restartPolicy: "Never";
  hostNetwork: boolean;
  dnsPolicy: string;
  priorityClassName?: string;
  nodeSelector: Record<string, string>;
  tolerations: { key: string; operator: string; effect: string }[];
  securityContext: {
    runAsNonRoot: boolean;
    runAsUser: number;
    runAsGroup: number;
    fsGroup: number;
    seccompProfile: { type: string };
  };
  terminationGracePeriodSeconds: number;
  initContainers: Container[];
  containers: Container[];
  volumes: Volume[];
}

export interface CronJobManifest {
  apiVersion: "batch/v1";
  kind: "CronJob";
  metadata: ObjectMeta;
  spec: {
    schedule: string;
    timeZone?: string;
    concurrencyPolicy: "Forbid";
    startingDeadlineSeconds: number;
    successfulJobsHistoryLimit: number;
    failedJobsHistoryLimit: number;
    suspend: boolean;
    jobTemplate: {
      metadata: { labels: Record<string, string> };
      spec: {
        backoffLimit: number;
        activeDeadlineSeconds: number;
        template: {
          metadata: { labels: Record<string, string> };
          spec: PodSpec;
        };
      };
    };
  };
}

export interface SnapshotJobManifests {
  secret: SecretManifest;
  configMap: ConfigMapManifest;
  serviceAccount: ServiceAccountManifest;
  cronJob: CronJobManifest;
  /** Secret, ConfigMap, ServiceAccount, CronJob in apply order. */
  objects: [SecretManifest, ConfigMapManifest, ServiceAccountManifest, CronJobManifest];
  /** All four as multi-document YAML (contains the private key: treat as secret). */
  yaml: string;
  /** The Secret alone as YAML (secret). */
  secretYaml: string;
  /** ConfigMap, ServiceAccount and CronJob as multi-document YAML (no secrets). */
  workloadYaml: string;
}

/** Names of the four objects for a given base name. */
export function snapshotJobObjectNames(name = DEFAULT_SNAPSHOT_NAME): {
  secret: string;
  configMap: string;
  serviceAccount: string;
  cronJob: string;
} {
  return { secret: `${name}-client-tls`, configMap: `${name}-script`, serviceAccount: name, cronJob: name };
}

/** Rejects unpinned image references (no tag, or `:latest`). Digests are always accepted. */
export function assertPinnedImage(arg: string, image: string): void {
  if (typeof image !== "string" || image.trim() === "" || /\s/.test(image)) {
    throw new Error(`${arg} must be an image reference (got "${String(image)}")`);
  }
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return;
  const lastSegment = image.split("/").pop() ?? "";
  const tag = lastSegment.includes(":") ? lastSegment.slice(lastSegment.lastIndexOf(":") + 1) : "";
  if (tag === "" || tag === "latest") {
    throw new Error(`${arg} must be pinned to a version tag or a digest (got "${image}")`);
  }
}

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

type CommonOptions = Pick<
  SnapshotJobWorkloadOptions,
  "name" | "namespace" | "clusterName" | "environment" | "labels"
>;

function common(o: CommonOptions): { name: string; namespace: string; labels: Record<string, string> } {
  const name = o.name ?? DEFAULT_SNAPSHOT_NAME;
  const namespace = o.namespace ?? DEFAULT_SNAPSHOT_NAMESPACE;
  if (!NAME_RE.test(name) || name.length > 40) {
    throw new Error(`name must be a DNS label of at most 40 characters (got "${name}")`);
  }
  if (!NAME_RE.test(namespace) || namespace.length > 63) {
    throw new Error(`namespace must be a DNS label (got "${namespace}")`);
  }
  for (const [k, v] of [
    ["clusterName", o.clusterName],
    ["environment", o.environment],
  ] as const) {
    if (typeof v !== "string" || v === "" || v.length > 63 || !LABEL_VALUE_RE.test(v)) {
      throw new Error(`${k} must be a valid label value (got "${String(v)}")`);
    }
  }
  return {
    name,
    namespace,
    labels: {
      "app.kubernetes.io/name": "etcd-snapshot",
      "app.kubernetes.io/instance": name,
      "app.kubernetes.io/component": "backup",
      "app.kubernetes.io/part-of": "secure-etcd",
      "app.kubernetes.io/managed-by": "pulumi",
      "secure-etcd/cluster": o.clusterName,
      "secure-etcd/environment": o.environment,
      ...(o.labels ?? {}),
    },
  };
}

/** The kube-system Secret with the backup client cert, key and the etcd CA (type Opaque). */
/** Metadata of the backup client Secret (kept apart so it need not be secret itself). */
export function renderBackupClientSecretMetadata(o: CommonOptions): ObjectMeta {
  const c = common(o);
  return { name: snapshotJobObjectNames(c.name).secret, namespace: c.namespace, labels: c.labels };
}

export function renderBackupClientSecret(o: CommonOptions & { tls: BackupClientTls }): SecretManifest {
  for (const [k, v, marker] of [
    ["tls.certPem", o.tls?.certPem, "CERTIFICATE"],
    ["tls.keyPem", o.tls?.keyPem, "PRIVATE KEY"],
    ["tls.caPem", o.tls?.caPem, "CERTIFICATE"],
  ] as const) {
    if (typeof v !== "string" || !v.includes(`-----BEGIN `) || !v.includes(marker)) {
      throw new Error(`${k} must be a PEM ${marker.toLowerCase()}`);
    }
  }
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: renderBackupClientSecretMetadata(o),
    type: "Opaque",
    stringData: { [TLS_KEYS.ca]: o.tls.caPem, [TLS_KEYS.cert]: o.tls.certPem, [TLS_KEYS.key]: o.tls.keyPem },
  };
}

/** The ConfigMap holding the snapshot script. */
export function renderSnapshotScriptConfigMap(o: CommonOptions & { script: string }): ConfigMapManifest {
  const c = common(o);
  if (typeof o.script !== "string" || o.script.trim() === "")
    throw new Error("script must be the snapshot script text");
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: snapshotJobObjectNames(c.name).configMap, namespace: c.namespace, labels: c.labels },
    data: { [SCRIPT_KEY]: o.script },
  };
}

/** The ServiceAccount (annotated for IRSA when a role ARN is given; no API token is mounted). */
export function renderSnapshotServiceAccount(o: SnapshotJobWorkloadOptions): ServiceAccountManifest {
  const c = common(o);
  if (o.roleArn !== undefined && !/^arn:[a-z-]+:iam::\d{12}:role\/.+$/.test(o.roleArn)) {
    throw new Error(`roleArn must be an IAM role ARN (got "${o.roleArn}")`);
  }
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: {
      name: snapshotJobObjectNames(c.name).serviceAccount,
      namespace: c.namespace,
      labels: c.labels,
      ...(o.roleArn ? { annotations: { "eks.amazonaws.com/role-arn": o.roleArn } } : {}),
    },
    automountServiceAccountToken: false,
  };
}

const RESERVED_ENV = [
  "ETCD_ENDPOINTS",
  "CLUSTER",
  "ENVIRONMENT",
  "S3_BUCKET",
  "S3_PREFIX",
  "KMS_KEY_ID",
  "ETCD_VERSION",
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
];

function securityContext(): ContainerSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: NON_ROOT_ID,
    runAsGroup: NON_ROOT_ID,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    privileged: false,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/** The CronJob that runs `sh /scripts/snapshot.sh` on a control-plane node. */
export function renderSnapshotCronJob(o: SnapshotJobWorkloadOptions): CronJobManifest {
  const c = common(o);
  const names = snapshotJobObjectNames(c.name);
  validateSchedule(o.schedule);
  const version = parseEtcdVersion(o.etcdVersion);
  if (!version) throw new Error(`etcdVersion must look like 3.5.16 (got "${String(o.etcdVersion)}")`);
  const versionText = formatVersion(version);

  if (!Array.isArray(o.etcdEndpoints) || o.etcdEndpoints.length === 0) {
    throw new Error("etcdEndpoints must list at least one member client URL");
  }
  for (const ep of o.etcdEndpoints) {
    if (typeof ep !== "string" || !/^https:\/\/[^\s,/]+(:\d+)?\/?$/.test(ep)) {
      throw new Error(
        `etcdEndpoints entries must be https:// client URLs (got "${String(ep)}"); plain http is refused`,
      );
    }
  }
  for (const [k, v] of [
    ["bucketName", o.bucketName],
    ["prefix", o.prefix],
    ["kmsKeyId", o.kmsKeyId],
    ["awsRegion", o.awsRegion],
  ] as const) {
    if (typeof v !== "string" || v.trim() === "") throw new Error(`${k} must be a non-empty string`);
  }
  if (!o.prefix.endsWith("/")) throw new Error(`prefix must end with "/" (got "${o.prefix}")`);
  if (!/^arn:[a-z-]+:kms:/.test(o.kmsKeyId)) {
    throw new Error(
      `kmsKeyId must be the KMS key ARN (the bucket policy compares the header to it), got "${o.kmsKeyId}"`,
    );
  }

  const images: SnapshotJobImages = {
    etcd: o.images?.etcd ?? `registry.k8s.io/etcd:${versionText}-0`,
    awsCli: o.images?.awsCli ?? DEFAULT_AWS_CLI_IMAGE,
  };
  assertPinnedImage("images.etcd", images.etcd);
  assertPinnedImage("images.awsCli", images.awsCli);

  const irsa = o.roleArn !== undefined && (o.irsaToken ?? "projected") === "projected";
  const extraEnv = o.extraEnv ?? {};
  for (const k of Object.keys(extraEnv)) {
    if (RESERVED_ENV.includes(k))
      throw new Error(`extraEnv.${k} would shadow a variable the job sets itself`);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
      throw new Error(`extraEnv key "${k}" is not a valid variable name`);
  }

  const env: EnvVar[] = [
    { name: "ETCD_ENDPOINTS", value: o.etcdEndpoints.join(",") },
    { name: "CLUSTER", value: o.clusterName },
    { name: "ENVIRONMENT", value: o.environment },
    { name: "S3_BUCKET", value: o.bucketName },
    { name: "S3_PREFIX", value: o.prefix },
    { name: "KMS_KEY_ID", value: o.kmsKeyId },
    { name: "ETCD_VERSION", value: versionText },
    { name: "AWS_REGION", value: o.awsRegion },
    // The script passes these to etcdctl as --cacert/--cert/--key.
    { name: "ETCD_CACERT", value: `${PKI_DIR}/${TLS_KEYS.ca}` },
    { name: "ETCD_CERT", value: `${PKI_DIR}/${TLS_KEYS.cert}` },
    { name: "ETCD_KEY", value: `${PKI_DIR}/${TLS_KEYS.key}` },
    // The script's work directory: the snapshot and its compressed copy go here.
    { name: "WORK_DIR", value: SCRATCH_DIR },
    { name: "HOME", value: "/tmp" },
    { name: "TMPDIR", value: "/tmp" },
    { name: "PATH", value: `${ETCD_BIN_DIR}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` },
    ...(irsa
      ? [
          { name: "AWS_ROLE_ARN", value: o.roleArn as string },
          { name: "AWS_WEB_IDENTITY_TOKEN_FILE", value: `${IRSA_TOKEN_DIR}/token` },
        ]
      : []),
    ...Object.entries(extraEnv).map(([name, value]) => ({ name, value: String(value) })),
  ];

  const copyInit = (binary: string): Container => ({
    name: `copy-${binary}`,
    image: images.etcd,
    imagePullPolicy: "IfNotPresent",
    command: ["/bin/cp", `/usr/local/bin/${binary}`, `${ETCD_BIN_DIR}/${binary}`],
    resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "100m", memory: "64Mi" } },
    securityContext: securityContext(),
    volumeMounts: [{ name: "etcd-bin", mountPath: ETCD_BIN_DIR }],
  });

  const volumes: Volume[] = [
    { name: "etcd-bin", emptyDir: { sizeLimit: "256Mi" } },
    { name: "scratch", emptyDir: { sizeLimit: o.scratchSizeLimit ?? DEFAULT_SCRATCH_SIZE_LIMIT } },
    { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
    { name: "script", configMap: { name: names.configMap, defaultMode: 0o444 } },
    // 0440 + fsGroup: readable by the non-root group only.
    { name: "client-tls", secret: { secretName: names.secret, defaultMode: 0o440 } },
    ...(irsa
      ? [
          {
            name: "aws-iam-token",
            projected: {
              defaultMode: 0o440,
              sources: [
                {
                  serviceAccountToken: {
                    audience: "sts.amazonaws.com",
                    expirationSeconds: 86400,
                    path: "token",
                  },
                },
              ],
            },
          },
        ]
      : []),
  ];

  const podLabels = { ...c.labels };
  return {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: { name: names.cronJob, namespace: c.namespace, labels: c.labels },
    spec: {
      schedule: o.schedule.schedule,
      ...(o.schedule.timeZone ? { timeZone: o.schedule.timeZone } : {}),
      concurrencyPolicy: "Forbid",
      startingDeadlineSeconds: o.schedule.startingDeadlineSeconds,
      successfulJobsHistoryLimit: o.schedule.successfulJobsHistoryLimit,
      failedJobsHistoryLimit: o.schedule.failedJobsHistoryLimit,
      suspend: false,
      jobTemplate: {
        metadata: { labels: podLabels },
        spec: {
          backoffLimit: o.schedule.backoffLimit,
          activeDeadlineSeconds: o.schedule.activeDeadlineSeconds,
          template: {
            metadata: { labels: podLabels },
            spec: {
              serviceAccountName: names.serviceAccount,
              automountServiceAccountToken: false,
              restartPolicy: "Never",
              hostNetwork: true,
              dnsPolicy: "ClusterFirstWithHostNet",
              ...(o.priorityClassName ? { priorityClassName: o.priorityClassName } : {}),
              nodeSelector: { "node-role.kubernetes.io/control-plane": "" },
              tolerations: [
                { key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" },
              ],
              securityContext: {
                runAsNonRoot: true,
                runAsUser: NON_ROOT_ID,
                runAsGroup: NON_ROOT_ID,
                fsGroup: NON_ROOT_ID,
                seccompProfile: { type: "RuntimeDefault" },
              },
              terminationGracePeriodSeconds: 30,
              initContainers: [
                copyInit("etcdctl"),
                ...(etcdCapabilities(version).etcdutl ? [copyInit("etcdutl")] : []),
              ],
              containers: [
                {
                  name: "snapshot",
                  image: images.awsCli,
                  imagePullPolicy: "IfNotPresent",
                  command: ["sh", SCRIPT_PATH],
                  env,
                  resources: o.resources ?? {
                    requests: { cpu: "100m", memory: "256Mi" },
                    limits: { cpu: "1", memory: "1Gi" },
                  },
                  securityContext: securityContext(),
                  volumeMounts: [
                    { name: "etcd-bin", mountPath: ETCD_BIN_DIR, readOnly: true },
                    { name: "scratch", mountPath: SCRATCH_DIR },
                    { name: "tmp", mountPath: "/tmp" },
                    { name: "script", mountPath: "/scripts", readOnly: true },
                    { name: "client-tls", mountPath: PKI_DIR, readOnly: true },
                    ...(irsa ? [{ name: "aws-iam-token", mountPath: IRSA_TOKEN_DIR, readOnly: true }] : []),
                  ],
                },
              ],
              volumes,
            },
          },
        },
      },
    },
  };
}

/** Multi-document YAML for a list of objects. */
export function toYaml(objects: readonly object[]): string {
  return objects.map((o) => YAML.stringify(o, { lineWidth: 0 })).join("---\n");
}

/**
 * Renders all four objects (Secret, ConfigMap, ServiceAccount, CronJob) and their YAML. Pure: no Pulumi.
 * The result contains the backup client's private key: treat `secret`, `objects` and `yaml` as secret.
 */
export function renderSnapshotJobManifests(opts: SnapshotJobRenderOptions): SnapshotJobManifests {
  const secret = renderBackupClientSecret(opts);
  const configMap = renderSnapshotScriptConfigMap(opts);
  const serviceAccount = renderSnapshotServiceAccount(opts);
  const cronJob = renderSnapshotCronJob(opts);
  return {
    secret,
    configMap,
    serviceAccount,
    cronJob,
    objects: [secret, configMap, serviceAccount, cronJob],
    yaml: toYaml([secret, configMap, serviceAccount, cronJob]),
    secretYaml: toYaml([secret]),
    workloadYaml: toYaml([configMap, serviceAccount, cronJob]),
  };
}

// ------------------------------------------------------------------------------------------------------
// Component
// ------------------------------------------------------------------------------------------------------

/** The renderer options that arrive as Outputs, once resolved. */
type WorkloadInputs = Pick<
  SnapshotJobWorkloadOptions,
  | "clusterName"
  | "environment"
  | "schedule"
  | "etcdEndpoints"
  | "etcdVersion"
  | "bucketName"
  | "prefix"
  | "kmsKeyId"
  | "awsRegion"
  | "roleArn"
> & { script: string };

export interface SnapshotJobArgs {
  /** When given, the objects are created in that cluster; otherwise only rendered (outputs). */
  provider?: k8s.Provider;
  clusterName: pulumi.Input<string>;
  environment: pulumi.Input<string>;
  /** Overrides of the per-environment schedule defaults (required in full for unknown environments). */
  schedule?: Partial<SnapshotScheduleSettings>;
  /** Member client URLs in member order. */
  etcdEndpoints: pulumi.Input<pulumi.Input<string>[]>;
  etcdVersion: pulumi.Input<string>;
  bucketName: pulumi.Input<string>;
  prefix: pulumi.Input<string>;
  /** KMS key ARN (SnapshotStore.kmsKeyArn). */
  kmsKeyArn: pulumi.Input<string>;
  awsRegion: pulumi.Input<string>;
  /** IRSA role ARN (SnapshotStore.roleArn); omit when the node role carries the writer policy. */
  roleArn?: pulumi.Input<string | undefined>;
  irsaToken?: "projected" | "webhook";
  /** Backup client TLS material; wrapped in pulumi.secret here as well. */
  tls: { certPem: pulumi.Input<string>; keyPem: pulumi.Input<string>; caPem: pulumi.Input<string> };
  /** Text of components/backup/snapshot.sh. */
  script: pulumi.Input<string>;
  name?: string;
  namespace?: string;
  images?: Partial<SnapshotJobImages>;
  resources?: ResourceRequirements;
  scratchSizeLimit?: string;
  extraEnv?: Record<string, string>;
  labels?: Record<string, string>;
  priorityClassName?: string;
}

/**
 * The snapshot job: renders the Secret, ConfigMap, ServiceAccount and CronJob and, when a Kubernetes
 * provider is given, creates them. The rendered manifests are outputs either way; `secretYaml` is a
 * Pulumi secret.
 */
export class SnapshotJob extends pulumi.ComponentResource {
  /** The Secret as YAML (a Pulumi secret: it holds the backup client's private key). */
  public readonly secretYaml: pulumi.Output<string>;
  /** ConfigMap, ServiceAccount and CronJob as multi-document YAML. */
  public readonly manifestsYaml: pulumi.Output<string>;
  /** The rendered non-secret objects. */
  public readonly manifests: pulumi.Output<{
    configMap: ConfigMapManifest;
    serviceAccount: ServiceAccountManifest;
    cronJob: CronJobManifest;
  }>;
  public readonly namespace: string;
  public readonly cronJobName: string;
  /** Resolved schedule settings. */
  public readonly schedule: pulumi.Output<SnapshotScheduleSettings>;
  public readonly cronJob?: k8s.batch.v1.CronJob;

  constructor(name: string, args: SnapshotJobArgs, opts?: pulumi.ComponentResourceOptions) {
    // A plain environment is checked now, so a missing schedule fails before anything is registered.
    const plainSchedule =
      typeof args.environment === "string"
        ? resolveSnapshotSchedule(args.environment, args.schedule)
        : undefined;
    super("secure-etcd:index:SnapshotJob", name, {}, opts);
    const baseName = args.name ?? DEFAULT_SNAPSHOT_NAME;
    const namespace = args.namespace ?? DEFAULT_SNAPSHOT_NAMESPACE;
    const names = snapshotJobObjectNames(baseName);
    this.namespace = namespace;
    this.cronJobName = names.cronJob;

    this.schedule = plainSchedule
      ? pulumi.output(plainSchedule)
      : pulumi.output(args.environment).apply((env) => resolveSnapshotSchedule(env, args.schedule));

    // pulumi.all over an object loses the per-key types; the shape is restated here.
    const inputs = pulumi.all({
      clusterName: args.clusterName,
      environment: args.environment,
      schedule: this.schedule,
      etcdEndpoints: pulumi.output(args.etcdEndpoints),
      etcdVersion: args.etcdVersion,
      bucketName: args.bucketName,
      prefix: args.prefix,
      kmsKeyId: args.kmsKeyArn,
      awsRegion: args.awsRegion,
      roleArn: pulumi.output(args.roleArn),
      script: args.script,
    }) as unknown as pulumi.Output<WorkloadInputs>;
    const workload = inputs.apply(({ script, roleArn, ...v }) => {
      const o: SnapshotJobWorkloadOptions = {
        ...v,
        name: baseName,
        namespace,
        roleArn: roleArn ?? undefined,
        irsaToken: args.irsaToken,
        images: args.images,
        resources: args.resources,
        scratchSizeLimit: args.scratchSizeLimit,
        extraEnv: args.extraEnv,
        labels: args.labels,
        priorityClassName: args.priorityClassName,
      };
      return {
        configMap: renderSnapshotScriptConfigMap({ ...o, script }),
        serviceAccount: renderSnapshotServiceAccount(o),
        cronJob: renderSnapshotCronJob(o),
      };
    });

    const secretManifest = pulumi.secret(
      pulumi
        .all([args.clusterName, args.environment, args.tls.certPem, args.tls.keyPem, args.tls.caPem])
        .apply(([clusterName, environment, certPem, keyPem, caPem]) =>
          renderBackupClientSecret({
            name: baseName,
            namespace,
            clusterName,
            environment,
            labels: args.labels,
            tls: { certPem, keyPem, caPem },
          }),
        ),
    );

    this.manifests = workload;
    this.manifestsYaml = workload.apply((w) => toYaml([w.configMap, w.serviceAccount, w.cronJob]));
    this.secretYaml = pulumi.secret(secretManifest.apply((s) => toYaml([s])));

    if (args.provider) {
      const k8sOpts: pulumi.CustomResourceOptions = { parent: this, provider: args.provider };
      const secret = new k8s.core.v1.Secret(
        `${name}-client-tls`,
        {
          metadata: pulumi.all([args.clusterName, args.environment]).apply(([clusterName, environment]) =>
            renderBackupClientSecretMetadata({
              name: baseName,
              namespace,
              clusterName,
              environment,
              labels: args.labels,
            }),
          ),
          type: "Opaque",
          stringData: pulumi.secret(secretManifest.apply((s) => s.stringData)),
        },
        k8sOpts,
      );
      const configMap = new k8s.core.v1.ConfigMap(
        `${name}-script`,
        {
          metadata: workload.apply((w) => w.configMap.metadata),
          data: workload.apply((w) => w.configMap.data),
        },
        k8sOpts,
      );
      const serviceAccount = new k8s.core.v1.ServiceAccount(
        `${name}-service-account`,
        {
          metadata: workload.apply((w) => w.serviceAccount.metadata),
          automountServiceAccountToken: false,
        },
        k8sOpts,
      );
      this.cronJob = new k8s.batch.v1.CronJob(
        `${name}-cronjob`,
        {
          metadata: workload.apply((w) => w.cronJob.metadata),
          spec: workload.apply((w) => w.cronJob.spec as k8s.types.input.batch.v1.CronJobSpec),
        },
        { ...k8sOpts, dependsOn: [secret, configMap, serviceAccount] },
      );
    }

    this.registerOutputs({
      secretYaml: this.secretYaml,
      manifestsYaml: this.manifestsYaml,
      namespace: this.namespace,
      cronJobName: this.cronJobName,
    });
  }
}
