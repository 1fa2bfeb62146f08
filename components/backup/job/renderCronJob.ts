import { etcdCapabilities, formatVersion } from "../../etcd/capabilities";
import {
  DEFAULT_NODE_IMAGE,
  DEFAULT_SCRATCH_SIZE_LIMIT,
  ETCD_BIN_DIR,
  IRSA_TOKEN_DIR,
  NON_ROOT_ID,
  PKI_DIR,
  SCRATCH_DIR,
  SCRIPT_DIR,
  SCRIPT_PATH,
  TLS_KEYS,
} from "./constants";
import { commonMetadata, snapshotJobObjectNames } from "./metadata";
import type {
  Container,
  ContainerSecurityContext,
  CronJobManifest,
  EnvVar,
  PodSpec,
  SnapshotJobImages,
  SnapshotJobWorkloadOptions,
  Volume,
} from "./types";
import { checkWorkloadOptions, RENDER_SOURCE } from "./validate";

/*
 * The CronJob that runs `node /scripts/snapshot.js` on a control-plane node, rendered in named steps:
 * resolve the options once, then env, volumes, containers, pod spec, CronJob. Pure.
 */

/** What the CronJob's parts are rendered from: the checked options with every default resolved. */
interface ResolvedWorkload {
  o: SnapshotJobWorkloadOptions;
  names: ReturnType<typeof snapshotJobObjectNames>;
  namespace: string;
  labels: Record<string, string>;
  /** Normalised (`v3.4.23` → `3.4.23`). */
  etcdVersion: string;
  /** The etcd image ships etcdutl (copied next to etcdctl). */
  etcdutl: boolean;
  images: SnapshotJobImages;
  /** Set when the pod wires its own web-identity token (`roleArn` with `irsaToken: "projected"`). */
  irsaRoleArn?: string;
}

function resolveWorkload(o: SnapshotJobWorkloadOptions, source: string): ResolvedWorkload {
  const version = checkWorkloadOptions(o, source);
  const { baseName, namespace, labels } = commonMetadata(o);
  const etcdVersion = formatVersion(version);
  return {
    o,
    names: snapshotJobObjectNames(baseName),
    namespace,
    labels,
    etcdVersion,
    etcdutl: etcdCapabilities(version).etcdutl,
    // Defaults are pinned by construction; given images were checked above.
    images: {
      etcd: o.images?.etcd ?? `registry.k8s.io/etcd:${etcdVersion}-0`,
      node: o.images?.node ?? DEFAULT_NODE_IMAGE,
    },
    irsaRoleArn: (o.irsaToken ?? "projected") === "projected" ? o.roleArn : undefined,
  };
}

/** The job's environment (its contract with runner/config.js), then extraEnv. */
function renderSnapshotEnv(w: ResolvedWorkload): EnvVar[] {
  const { o } = w;
  return [
    { name: "ETCD_ENDPOINTS", value: o.etcdEndpoints.join(",") },
    { name: "CLUSTER", value: o.clusterName },
    { name: "ENVIRONMENT", value: o.environment },
    { name: "S3_BUCKET", value: o.bucketName },
    { name: "S3_PREFIX", value: o.prefix },
    { name: "KMS_KEY_ID", value: o.kmsKeyArn },
    { name: "ETCD_VERSION", value: w.etcdVersion },
    // The capability table decides which tool of this etcd version reads a snapshot.
    { name: "ETCD_STATUS_TOOL", value: w.etcdutl ? "etcdutl" : "etcdctl" },
    { name: "ENCRYPTION_KEYS", value: (o.encryptionKeys ?? []).join(" ") },
    { name: "AWS_REGION", value: o.awsRegion },
    // The job passes these to etcdctl as --cacert/--cert/--key.
    { name: "ETCD_CACERT", value: `${PKI_DIR}/${TLS_KEYS.ca}` },
    { name: "ETCD_CERT", value: `${PKI_DIR}/${TLS_KEYS.cert}` },
    { name: "ETCD_KEY", value: `${PKI_DIR}/${TLS_KEYS.key}` },
    // The job's work directory: etcdctl saves the snapshot here (it is compressed and uploaded as it is written).
    { name: "WORK_DIR", value: SCRATCH_DIR },
    { name: "HOME", value: "/tmp" },
    { name: "TMPDIR", value: "/tmp" },
    { name: "PATH", value: `${ETCD_BIN_DIR}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` },
    ...(w.irsaRoleArn
      ? [
          { name: "AWS_ROLE_ARN", value: w.irsaRoleArn },
          { name: "AWS_WEB_IDENTITY_TOKEN_FILE", value: `${IRSA_TOKEN_DIR}/token` },
        ]
      : []),
    ...Object.entries(o.extraEnv ?? {}).map(([name, value]) => ({ name, value: String(value) })),
  ];
}

/** emptyDirs for the binaries, the snapshot and /tmp; the runner files, the client TLS and the IRSA token. */
function renderSnapshotVolumes(w: ResolvedWorkload): Volume[] {
  return [
    { name: "etcd-bin", emptyDir: { sizeLimit: "256Mi" } },
    { name: "scratch", emptyDir: { sizeLimit: w.o.scratchSizeLimit ?? DEFAULT_SCRATCH_SIZE_LIMIT } },
    { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
    { name: "script", configMap: { name: w.names.configMap, defaultMode: 0o444 } },
    // 0440 + fsGroup: readable by the non-root group only.
    { name: "client-tls", secret: { secretName: w.names.secret, defaultMode: 0o440 } },
    ...(w.irsaRoleArn
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
}

function containerSecurityContext(): ContainerSecurityContext {
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

/** Init containers copy etcdctl (and etcdutl where the release has it) out of the distroless etcd image. */
function renderCopyInitContainers(w: ResolvedWorkload): Container[] {
  const copy = (binary: string): Container => ({
    name: `copy-${binary}`,
    image: w.images.etcd,
    imagePullPolicy: "IfNotPresent",
    command: ["/bin/cp", `/usr/local/bin/${binary}`, `${ETCD_BIN_DIR}/${binary}`],
    resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "100m", memory: "64Mi" } },
    securityContext: containerSecurityContext(),
    volumeMounts: [{ name: "etcd-bin", mountPath: ETCD_BIN_DIR }],
  });
  return [copy("etcdctl"), ...(w.etcdutl ? [copy("etcdutl")] : [])];
}

/** The container that runs the job. */
function renderSnapshotContainer(w: ResolvedWorkload): Container {
  return {
    name: "snapshot",
    image: w.images.node,
    imagePullPolicy: "IfNotPresent",
    command: ["node", SCRIPT_PATH],
    env: renderSnapshotEnv(w),
    resources: w.o.resources ?? {
      requests: { cpu: "250m", memory: "256Mi" },
      limits: { cpu: "2", memory: "1Gi" },
    },
    securityContext: containerSecurityContext(),
    volumeMounts: [
      { name: "etcd-bin", mountPath: ETCD_BIN_DIR, readOnly: true },
      { name: "scratch", mountPath: SCRATCH_DIR },
      { name: "tmp", mountPath: "/tmp" },
      { name: "script", mountPath: SCRIPT_DIR, readOnly: true },
      { name: "client-tls", mountPath: PKI_DIR, readOnly: true },
      ...(w.irsaRoleArn ? [{ name: "aws-iam-token", mountPath: IRSA_TOKEN_DIR, readOnly: true }] : []),
    ],
  };
}

/** Host network on a control-plane node (to reach the members), non-root, no API token. */
function renderSnapshotPodSpec(w: ResolvedWorkload): PodSpec {
  return {
    serviceAccountName: w.names.serviceAccount,
    automountServiceAccountToken: false,
    restartPolicy: "Never",
    hostNetwork: true,
    dnsPolicy: "ClusterFirstWithHostNet",
    ...(w.o.priorityClassName ? { priorityClassName: w.o.priorityClassName } : {}),
    nodeSelector: { "node-role.kubernetes.io/control-plane": "" },
    tolerations: [{ key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" }],
    securityContext: {
      runAsNonRoot: true,
      runAsUser: NON_ROOT_ID,
      runAsGroup: NON_ROOT_ID,
      fsGroup: NON_ROOT_ID,
      seccompProfile: { type: "RuntimeDefault" },
    },
    terminationGracePeriodSeconds: 30,
    initContainers: renderCopyInitContainers(w),
    containers: [renderSnapshotContainer(w)],
    volumes: renderSnapshotVolumes(w),
  };
}

/** The CronJob: the schedule's timing and bookkeeping, Forbid concurrency, the pod template. */
export function renderSnapshotCronJob(
  o: SnapshotJobWorkloadOptions,
  source = RENDER_SOURCE,
): CronJobManifest {
  const w = resolveWorkload(o, source);
  const s = o.schedule;
  const podLabels = { ...w.labels };
  return {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: { name: w.names.cronJob, namespace: w.namespace, labels: w.labels },
    spec: {
      schedule: s.schedule,
      ...(s.timeZone ? { timeZone: s.timeZone } : {}),
      concurrencyPolicy: "Forbid",
      startingDeadlineSeconds: s.startingDeadlineSeconds,
      successfulJobsHistoryLimit: s.successfulJobsHistoryLimit,
      failedJobsHistoryLimit: s.failedJobsHistoryLimit,
      suspend: false,
      jobTemplate: {
        metadata: { labels: podLabels },
        spec: {
          backoffLimit: s.backoffLimit,
          activeDeadlineSeconds: s.activeDeadlineSeconds,
          template: { metadata: { labels: podLabels }, spec: renderSnapshotPodSpec(w) },
        },
      },
    },
  };
}
