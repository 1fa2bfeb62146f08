import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { SnapshotScheduleSettings } from "../../config/backup";

/*
 * The renderers' inputs, and their outputs as @pulumi/kubernetes input types turned into plain data: a
 * rendered object is assignable to the resource's args as it is, and the YAML is the same object.
 */

/** A @pulumi/kubernetes input type as plain data (no Input/Output anywhere): what a pure renderer returns. */
export type Plain<T> = pulumi.Unwrap<T>;

/** `Plain<T>` with the fields a renderer always sets made required, so readers need no `!`. */
type Rendered<T, K extends keyof Plain<T>> = Plain<T> & { [P in K]-?: NonNullable<Plain<T>[P]> };

/** Metadata of every rendered object: name, namespace and labels are always set. */
export type ObjectMeta = Rendered<k8s.types.input.meta.v1.ObjectMeta, "name" | "namespace" | "labels">;

/** A rendered object of kind T: apiVersion, kind and metadata always set, plus the fields K. */
type Manifest<T extends { apiVersion?: unknown; kind?: unknown }, K extends keyof Plain<T>> = Rendered<
  T,
  K | "apiVersion" | "kind"
> & { metadata: ObjectMeta };

export type SecretManifest = Manifest<k8s.types.input.core.v1.Secret, "type" | "stringData">;
export type ConfigMapManifest = Manifest<k8s.types.input.core.v1.ConfigMap, "data">;
export type ServiceAccountManifest = Manifest<
  k8s.types.input.core.v1.ServiceAccount,
  "automountServiceAccountToken"
>;
export type CronJobManifest = Manifest<k8s.types.input.batch.v1.CronJob, "spec">;
export type PodSpec = Plain<k8s.types.input.core.v1.PodSpec>;
export type Container = Plain<k8s.types.input.core.v1.Container>;
export type Volume = Plain<k8s.types.input.core.v1.Volume>;
export type EnvVar = Plain<k8s.types.input.core.v1.EnvVar>;
export type ResourceRequirements = Plain<k8s.types.input.core.v1.ResourceRequirements>;
export type ContainerSecurityContext = Plain<k8s.types.input.core.v1.SecurityContext>;

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
  /**
   * Image running the job: `node` (≥ 20) on PATH is all it needs. Default {@link DEFAULT_NODE_IMAGE}
   * (the official Node.js 26 image, pinned by digest).
   */
  node: string;
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
  /**
   * The EncryptionConfiguration's keys in order as `<provider>:<name>` (no material): every snapshot
   * records them, so a restore names the keys its Secrets need.
   */
  encryptionKeys?: string[];
  bucketName: string;
  /** `<cluster>/<env>/`, from SnapshotStore.prefix. */
  prefix: string;
  /** KMS key ARN for `--sse-kms-key-id` (must be the ARN: the bucket policy compares it literally). */
  kmsKeyArn: string;
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
  /**
   * Resources of the snapshot container. Default requests 250m/256Mi, limits 2 CPU/1Gi (etcdctl, the
   * compression threads and the upload run at once; a lower CPU limit makes the job slower, not unsafe).
   */
  resources?: ResourceRequirements;
  /** emptyDir size limit for the snapshot file (>= the DB size; nothing else is staged). Default 16Gi. */
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
  /** The files of components/backup/runner by name (readSnapshotRunner()), `snapshot.js` the entry. */
  runner: Record<string, string>;
}

/** What every object's metadata is made of. */
export type CommonOptions = Pick<
  SnapshotJobWorkloadOptions,
  "name" | "namespace" | "clusterName" | "environment" | "labels"
>;
