import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { resolveSnapshotSchedule, type SnapshotScheduleSettings } from "../config/backup";
import { DEFAULT_SNAPSHOT_NAME, DEFAULT_SNAPSHOT_NAMESPACE } from "./defaults";
import { snapshotJobObjectNames } from "./job/metadata";
import { toYaml } from "./job/manifests";
import { readSnapshotRunner } from "./snapshotRunner";
import { renderSnapshotCronJob } from "./job/renderCronJob";
import {
  renderBackupClientSecret,
  renderBackupClientSecretMetadata,
  renderSnapshotScriptConfigMap,
  renderSnapshotServiceAccount,
} from "./job/renderObjects";
import type {
  CommonOptions,
  ConfigMapManifest,
  CronJobManifest,
  ObjectMeta,
  SecretManifest,
  ServiceAccountManifest,
  SnapshotJobWorkloadOptions,
} from "./job/types";
import { checkPlainJobArgs } from "./job/validate";

/*
 * The in-cluster snapshot job as a component: it renders the Secret, ConfigMap, ServiceAccount and
 * CronJob with the pure renderers in ./job and applies them with @pulumi/kubernetes when given a provider.
 *
 * Images (two, both pinned and configurable):
 * - `images.etcd` — kubeadm's etcd image `registry.k8s.io/etcd:<version>-0` by default: the same image
 *   the static pod runs, so it is already on every control-plane node and its etcdctl matches the
 *   server. It is distroless but ships a tiny `/bin/cp SRC DST`; init containers use it (no shell) to
 *   copy `etcdctl` (and `etcdutl` for etcd >= 3.5) into the shared `etcd-bin` emptyDir. Upstream
 *   `gcr.io/etcd-development/etcd` / `quay.io/coreos/etcd` images have no `cp`: build a small image that
 *   does, or one image with etcdctl, cp and node and set both `images.etcd` and `images.node` to it.
 * - `images.node` — runs `node /scripts/snapshot.js` (the files of ./runner, from the ConfigMap); needs
 *   node ≥ 20 and nothing else (no shell, AWS CLI or gzip). Default: the official Node.js 26 image,
 *   pinned by digest. `etcd-bin` is first on PATH.
 *
 * Security: non-root (uid/gid 65532), read-only root filesystem, no privilege escalation, all
 * capabilities dropped, RuntimeDefault seccomp, no Kubernetes API token (automount off). The snapshot is
 * written to the `scratch` emptyDir (size-limited), HOME/TMPDIR point at a small `tmp` emptyDir.
 * The pod uses the host network (to reach members on their node IPs / 127.0.0.1), so the namespace must
 * admit hostNetwork pods (kube-system normally does; Pod Security "baseline" forbids it).
 */

/** The args that are always plain values: the renderers' options of the same names. */
type PlainJobArgs = Pick<
  SnapshotJobWorkloadOptions,
  | "name"
  | "namespace"
  | "irsaToken"
  | "images"
  | "resources"
  | "scratchSizeLimit"
  | "extraEnv"
  | "labels"
  | "priorityClassName"
>;

export interface SnapshotJobArgs extends PlainJobArgs {
  /** When given, the objects are created in that cluster; otherwise only rendered (outputs). */
  provider?: k8s.Provider;
  clusterName: pulumi.Input<string>;
  environment: pulumi.Input<string>;
  /** Overrides of the per-environment schedule defaults (required in full for unknown environments). */
  schedule?: Partial<SnapshotScheduleSettings>;
  /** Member client URLs in member order. */
  etcdEndpoints: pulumi.Input<pulumi.Input<string>[]>;
  etcdVersion: pulumi.Input<string>;
  /**
   * The EncryptionConfiguration's keys in order as `<provider>:<name>` (`kms:<name>=<key ARN>` for kms),
   * recorded on every snapshot.
   */
  encryptionKeys?: pulumi.Input<string[]>;
  bucketName: pulumi.Input<string>;
  prefix: pulumi.Input<string>;
  /** KMS key ARN (SnapshotStore.kmsKeyArn). */
  kmsKeyArn: pulumi.Input<string>;
  awsRegion: pulumi.Input<string>;
  /** IRSA role ARN (SnapshotStore.roleArn); omit when the node role carries the writer policy. */
  roleArn?: pulumi.Input<string | undefined>;
  /** Backup client TLS material; wrapped in pulumi.secret here as well. */
  tls: { certPem: pulumi.Input<string>; keyPem: pulumi.Input<string>; caPem: pulumi.Input<string> };
  /** The runner files (default: this package's, readSnapshotRunner()). */
  runner?: Record<string, string>;
}

/** The rendered non-secret objects. */
export interface SnapshotJobWorkload {
  configMap: ConfigMapManifest;
  serviceAccount: ServiceAccountManifest;
  cronJob: CronJobManifest;
}

/**
 * The snapshot job: renders the Secret, ConfigMap, ServiceAccount and CronJob and, when a Kubernetes
 * provider is given, creates them. The rendered manifests are outputs either way; `secretYaml` is a
 * Pulumi secret. Bad args throw a ConfigError naming the arg — plain ones before anything is
 * registered, the others when their Outputs resolve.
 */
export class SnapshotJob extends pulumi.ComponentResource {
  /** The Secret as YAML (a Pulumi secret: it holds the backup client's private key). */
  public readonly secretYaml: pulumi.Output<string>;
  /** ConfigMap, ServiceAccount and CronJob as multi-document YAML. */
  public readonly manifestsYaml: pulumi.Output<string>;
  /** The rendered non-secret objects. */
  public readonly manifests: pulumi.Output<SnapshotJobWorkload>;
  public readonly namespace: string;
  public readonly cronJobName: string;
  /** Resolved schedule settings. */
  public readonly schedule: pulumi.Output<SnapshotScheduleSettings>;
  public readonly cronJob?: k8s.batch.v1.CronJob;

  constructor(name: string, args: SnapshotJobArgs, opts?: pulumi.ComponentResourceOptions) {
    const source = `SnapshotJob ${JSON.stringify(name)} args`;
    checkPlainJobArgs(args, source);
    // A plain environment is checked now, so a missing schedule fails before anything is registered.
    const plainSchedule =
      typeof args.environment === "string"
        ? resolveSnapshotSchedule(args.environment, args.schedule, source)
        : undefined;
    super("secure-etcd:index:SnapshotJob", name, {}, opts);
    const common = pulumi
      .all([args.clusterName, args.environment])
      .apply(([clusterName, environment]): CommonOptions => ({
        name: args.name,
        namespace: args.namespace,
        clusterName,
        environment,
        labels: args.labels,
      }));
    this.namespace = args.namespace ?? DEFAULT_SNAPSHOT_NAMESPACE;
    this.cronJobName = snapshotJobObjectNames(args.name ?? DEFAULT_SNAPSHOT_NAME).cronJob;
    this.schedule = plainSchedule
      ? pulumi.output(plainSchedule)
      : pulumi.output(args.environment).apply((env) => resolveSnapshotSchedule(env, args.schedule, source));

    const workload = renderWorkload(args, common, this.schedule, source);
    const secretManifest = pulumi.secret(
      pulumi
        .all([common, args.tls.certPem, args.tls.keyPem, args.tls.caPem])
        .apply(([c, certPem, keyPem, caPem]) =>
          renderBackupClientSecret({ ...c, tls: { certPem, keyPem, caPem } }, source),
        ),
    );
    this.manifests = workload;
    this.manifestsYaml = workload.apply((w) => toYaml([w.configMap, w.serviceAccount, w.cronJob]));
    this.secretYaml = pulumi.secret(secretManifest.apply((s) => toYaml([s])));

    if (args.provider) {
      this.cronJob = createJobObjects(
        name,
        { parent: this, provider: args.provider },
        {
          secretMetadata: common.apply((c) => renderBackupClientSecretMetadata(c, source)),
          secret: secretManifest,
          workload,
        },
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

/**
 * Creates the four objects in the cluster from the rendered manifests. The Secret's metadata comes from
 * its own Output so that only `stringData` is secret (diffs stay readable).
 */
function createJobObjects(
  name: string,
  opts: pulumi.CustomResourceOptions,
  rendered: {
    secretMetadata: pulumi.Output<ObjectMeta>;
    secret: pulumi.Output<SecretManifest>;
    workload: pulumi.Output<SnapshotJobWorkload>;
  },
): k8s.batch.v1.CronJob {
  const { workload } = rendered;
  const secret = new k8s.core.v1.Secret(
    `${name}-client-tls`,
    {
      metadata: rendered.secretMetadata,
      type: "Opaque",
      stringData: pulumi.secret(rendered.secret.apply((s) => s.stringData)),
    },
    opts,
  );
  const configMap = new k8s.core.v1.ConfigMap(
    `${name}-script`,
    { metadata: workload.apply((w) => w.configMap.metadata), data: workload.apply((w) => w.configMap.data) },
    opts,
  );
  const serviceAccount = new k8s.core.v1.ServiceAccount(
    `${name}-service-account`,
    { metadata: workload.apply((w) => w.serviceAccount.metadata), automountServiceAccountToken: false },
    opts,
  );
  // The rendered types are @pulumi/kubernetes input types: metadata and spec go in as they are.
  return new k8s.batch.v1.CronJob(
    `${name}-cronjob`,
    { metadata: workload.apply((w) => w.cronJob.metadata), spec: workload.apply((w) => w.cronJob.spec) },
    { ...opts, dependsOn: [secret, configMap, serviceAccount] },
  );
}

/** The ConfigMap, ServiceAccount and CronJob, rendered once every Output they need has resolved. */
function renderWorkload(
  args: SnapshotJobArgs,
  common: pulumi.Output<CommonOptions>,
  schedule: pulumi.Output<SnapshotScheduleSettings>,
  source: string,
): pulumi.Output<SnapshotJobWorkload> {
  // pulumi.output (not pulumi.all) keeps each key's type while it waits for every Input inside.
  const resolved = pulumi.output({
    common,
    schedule,
    etcdEndpoints: args.etcdEndpoints,
    etcdVersion: args.etcdVersion,
    bucketName: args.bucketName,
    prefix: args.prefix,
    kmsKeyArn: args.kmsKeyArn,
    awsRegion: args.awsRegion,
    roleArn: args.roleArn,
    encryptionKeys: args.encryptionKeys,
  });
  const runner = args.runner ?? readSnapshotRunner();
  return resolved.apply(({ common: c, roleArn, encryptionKeys, ...v }) => {
    const o: SnapshotJobWorkloadOptions = {
      ...c,
      ...v,
      roleArn: roleArn ?? undefined,
      encryptionKeys,
      irsaToken: args.irsaToken,
      images: args.images,
      resources: args.resources,
      scratchSizeLimit: args.scratchSizeLimit,
      extraEnv: args.extraEnv,
      priorityClassName: args.priorityClassName,
    };
    return {
      configMap: renderSnapshotScriptConfigMap({ ...o, runner }, source),
      serviceAccount: renderSnapshotServiceAccount(o, source),
      cronJob: renderSnapshotCronJob(o, source),
    };
  });
}
