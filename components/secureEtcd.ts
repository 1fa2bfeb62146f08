import type * as aws from "@pulumi/aws";
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { isSnapshotEnvironment, snapshotDefaults, type ColdStorageClass } from "./backup/defaults";
import { readSnapshotScript } from "./backup/snapshotScript";
import { SnapshotJob } from "./backup/snapshotJob";
import { SnapshotStore } from "./backup/snapshotStore";
import type { EncryptionProvider, KeyAlgorithm, KeyState, MinTlsVersion } from "./config/constants";
import { validateSettings, type SecureEtcdSettings } from "./config/schema";
import { createEncryptionKeys } from "./encryption/keys";
import { renderEncryptionConfiguration } from "./encryption/render";
import {
  clientUrl,
  peerUrl,
  renderApiserverEtcdFlags,
  renderClusterConfiguration,
  renderEtcdManifest,
  renderKubeadmPatches,
  renderKubeApiserverPatch,
  nodeFiles,
  renderCloudInit,
  type NodeMaterial,
} from "./manifests";
import { issueCa, issueLeaf, type IssuedCert } from "./pki/issue";
import { caProfile, leafProfiles, type CertRole } from "./pki/profiles";

/** One etcd member (a control-plane node running etcd as a static pod). */
export interface EtcdMemberArgs {
  /** Member name, also the node name and the server/peer cert CN (lowercase DNS label, e.g. `cp-1`). */
  name: string;
  /** The address etcd listens on and advertises for clients (2379) and peers (2380). IPv4 or IPv6. */
  ip: string;
  /** Extra DNS names for the server and peer certs (the member name is always included). */
  dnsNames?: string[];
}

export interface EncryptionKeyArgs {
  /** Key name, written into every stored value's prefix (`k8s:enc:<provider>:v1:<name>:`); never reuse one. */
  name: string;
  /**
   * `primary` encrypts writes (exactly one); `staged` is readable before it becomes primary; `retired` is a
   * former primary kept until every object is rewritten. Rotate: add new as `staged` → apply, restart every
   * API server → swap (`primary`/`retired`) → apply, restart → rewrite all objects → only then delete the entry.
   */
  state: KeyState;
  /** Provider for this key; defaults to `encryption.provider`. Lets a cluster move e.g. from aescbc to secretbox. */
  provider?: EncryptionProvider;
  /** KMS v2 plugin socket (`unix:///…`); kms keys only. */
  endpoint?: string;
  /** KMS call timeout as a Go duration (default `3s`); kms keys only. */
  timeout?: string;
}

export interface EncryptionArgs {
  /** Default provider for keys: `secretbox` (default, strong), `aescbc` (weak: padding oracle), `aesgcm` (rotate every 200k writes), `kms` (v2). */
  provider?: EncryptionProvider;
  /** Resources kube-apiserver encrypts (default `secrets`, `configmaps`). */
  resources?: string[];
  /** The keys and their rotation states (default one primary key `key1`). */
  keys?: EncryptionKeyArgs[];
  /** Append `identity` so plaintext written before encryption was enabled stays readable. Only while migrating. */
  identityFallback?: boolean;
  /** Render `--encryption-provider-config-automatic-reload=true` (kube-apiserver 1.26+). */
  automaticReload?: boolean;
}

export interface HostPathsArgs {
  /** kubeadm's certificatesDir (default `/etc/kubernetes/pki`); etcd certs go in `<pkiDir>/etcd`. */
  pkiDir?: string;
  /** Static pod manifest dir (default `/etc/kubernetes/manifests`). */
  manifestDir?: string;
  /** etcd data dir (default `/var/lib/etcd`, mode 0700). */
  dataDir?: string;
  /** Where the EncryptionConfiguration lives (default `/etc/kubernetes/enc`). */
  encryptionConfigDir?: string;
}

export interface TlsArgs {
  /** `TLS1.2` (default) or `TLS1.3`; rendered as `--tls-min-version` on etcd 3.5.8+ only. */
  minVersion?: MinTlsVersion;
  /** Go cipher suite names; ECDHE with AEAD only (the default is all six). */
  cipherSuites?: string[];
}

/** Snapshots to a hardened S3 bucket (see README "Snapshots and restore"). */
export interface BackupArgs {
  /** Create the snapshot bucket, policies and job (default true). */
  enabled?: boolean;
  /** Physical bucket name (default: auto-named). */
  bucketName?: string;
  /** Cron schedule override (defaults: dev every 6 h, staging hourly, prod every 15 min). */
  schedule?: string;
  /** Days a snapshot is current before it expires (defaults: dev 7, staging 14, prod 35). */
  retentionDays?: number;
  /** Days an expired (noncurrent) version is kept before deletion (defaults: 1 / 3 / 7). */
  noncurrentVersionDays?: number;
  /** Move snapshots to `coldStorageClass` after this many days (off by default: see README). */
  transitionToColdAfterDays?: number;
  coldStorageClass?: ColdStorageClass;
  /**
   * S3 Object Lock for every snapshot version. IRREVERSIBLE: it needs versioning (always on) and once
   * enabled on a bucket it can NEVER be turned off again; a locked bucket cannot receive access logs.
   */
  objectLock?: { mode: "GOVERNANCE" | "COMPLIANCE"; days: number };
  /** Replicate snapshots to a bucket in this region (same hardening, its own KMS key). */
  replicaRegion?: string;
  /** S3 server access logs into another bucket (never this one, never a locked one). */
  accessLogging?: { targetBucket: string; targetPrefix?: string };
  /** Bind the writer policy to the job's ServiceAccount through this IAM OIDC provider (IRSA). */
  oidc?: { providerArn: string; providerUrl: string; namespace?: string; serviceAccount?: string };
  /** KMS key deletion waiting period, 7–30 days (default 30). */
  kmsKeyDeletionWindowDays?: number;
}

/**
 * Args for {@link SecureEtcd}. They are plain values, not `pulumi.Input`s, on purpose: members and keys
 * decide which resources exist, and every value is validated at preview time, before anything is created.
 */
export interface SecureEtcdArgs {
  /** Cluster name (lowercase DNS label); part of the etcd cluster token. */
  clusterName: string;
  /** Environment (e.g. `dev`, `staging`, `prod`); part of the etcd cluster token and backup prefix. */
  environment: string;
  /** etcd members: an odd count from 1 to 7. */
  members: EtcdMemberArgs[];
  /** Target etcd release (e.g. `3.5.16`); only flags this release accepts are rendered. 3.4.0 ≤ v < 3.7.0. */
  etcdVersion: string;
  /** etcd image (default `registry.k8s.io/etcd:<version>-0`). */
  etcdImage?: string;
  /** `ECDSA-P256` (default), `ECDSA-P384`, `RSA-2048`, `RSA-3072`, `RSA-4096`. */
  keyAlgorithm?: KeyAlgorithm;
  /** CA validity in hours (default 87600 = 10 years). */
  caValidityHours?: number;
  /** Leaf cert validity in hours (default 8760 = 1 year). */
  leafValidityHours?: number;
  /** A `pulumi up` this many hours before expiry re-issues the cert (default 720 = 30 days). */
  earlyRenewalHours?: number;
  /** CN of the snapshot client cert (default `etcd-backup`). */
  backupClientCommonName?: string;
  /** Encryption at rest for kube-apiserver. */
  encryption?: EncryptionArgs;
  /** Host paths on the control-plane nodes. */
  paths?: HostPathsArgs;
  /** TLS hardening for etcd's listeners. */
  tls?: TlsArgs;
  /** Protect encryption keys from deletion (default true). See README "Rotating encryption keys". */
  protectEncryptionKeys?: boolean;
  /** Verified, encrypted snapshots to S3 (on by default). */
  backup?: BackupArgs;
  /** When given, the snapshot CronJob and its Secret/ConfigMap are created in that cluster; otherwise only rendered. */
  kubernetesProvider?: k8s.Provider;
  /** Provider for the snapshot replica's resources (with `backup.replicaRegion`). */
  replicaProvider?: aws.Provider;
}

export interface MemberTls {
  serverCertPem: pulumi.Output<string>;
  /** Secret. */
  serverKeyPem: pulumi.Output<string>;
  peerCertPem: pulumi.Output<string>;
  /** Secret. */
  peerKeyPem: pulumi.Output<string>;
}

export interface ClientTls {
  certPem: pulumi.Output<string>;
  /** Secret. */
  keyPem: pulumi.Output<string>;
}

export type ClientRole = Extract<CertRole, "apiserver-etcd-client" | "healthcheck-client" | "backup-client">;
export const clientRoles: readonly ClientRole[] = [
  "apiserver-etcd-client",
  "healthcheck-client",
  "backup-client",
];

/**
 * Secures a self-managed cluster's etcd: a dedicated etcd CA with server, peer and client certs, encryption
 * keys and an EncryptionConfiguration for kube-apiserver, and the etcd / kube-apiserver manifests and kubeadm
 * patches that use them.
 */
export class SecureEtcd extends pulumi.ComponentResource {
  /** The validated, defaulted settings everything was rendered from. */
  readonly settings: SecureEtcdSettings;
  readonly caCertPem: pulumi.Output<string>;
  readonly caValidityEndTime: pulumi.Output<string>;
  readonly members: Record<string, MemberTls>;
  readonly clients: Record<ClientRole, ClientTls>;
  /** RFC 3339 expiry of every leaf cert, by profile id (`server-cp-1`, `backup-client`, …). */
  readonly certificateExpiry: Record<string, pulumi.Output<string>>;
  /** The kube-apiserver `--encryption-provider-config` file. Secret: it embeds the keys. */
  readonly encryptionConfiguration: pulumi.Output<string>;
  /** Static pod manifest per member. */
  readonly etcdManifests: Record<string, pulumi.Output<string>>;
  /** Client URLs in member order (for `--etcd-servers`, etcdctl, backups). */
  readonly etcdEndpoints: pulumi.Output<string[]>;
  readonly peerUrls: pulumi.Output<string[]>;
  readonly apiserverFlags: pulumi.Output<string[]>;
  /** RFC 6902 patch (YAML) for a kube-apiserver static pod. */
  readonly kubeApiserverPatch: pulumi.Output<string>;
  /** kubeadm ClusterConfiguration (v1beta4) snippet. */
  readonly kubeadmClusterConfiguration: pulumi.Output<string>;
  /** Files for `kubeadm … --patches <dir>`, by file name. */
  readonly kubeadmPatches: pulumi.Output<Record<string, string>>;
  /**
   * cloud-init user data per member that installs its certs, keys, the EncryptionConfiguration and the
   * static pod manifest root:root with safe modes (keys 0600, PKI/data dirs 0700). Secret: it embeds keys.
   */
  readonly nodeCloudInit: Record<string, pulumi.Output<string>>;
  /** The snapshot bucket and policies (when backups are enabled). */
  readonly snapshotStore?: SnapshotStore;
  /** The snapshot job: rendered manifests always, Kubernetes objects with `kubernetesProvider`. */
  readonly snapshotJob?: SnapshotJob;

  constructor(name: string, args: SecureEtcdArgs, opts?: pulumi.ComponentResourceOptions) {
    super("secure-etcd:index:SecureEtcd", name, {}, opts);
    const { kubernetesProvider, replicaProvider, ...data } = args;
    const s = validateSettings(data, "", `SecureEtcd ${JSON.stringify(name)} args`);
    this.settings = s;

    const issueOpts = {
      baseName: name,
      algorithm: s.keyAlgorithm,
      leafValidityHours: s.leafValidityHours,
      earlyRenewalHours: s.earlyRenewalHours,
      parent: this,
    };
    const ca = issueCa(caProfile(s), issueOpts);
    const leaves = new Map<string, IssuedCert>();
    for (const profile of leafProfiles(s)) leaves.set(profile.id, issueLeaf(profile, ca, issueOpts));
    const leaf = (id: string) => leaves.get(id)!;

    this.caCertPem = ca.certPem;
    this.caValidityEndTime = ca.validityEndTime;
    this.members = Object.fromEntries(
      s.members.map((m) => [
        m.name,
        {
          serverCertPem: leaf(`server-${m.name}`).certPem,
          serverKeyPem: leaf(`server-${m.name}`).keyPem,
          peerCertPem: leaf(`peer-${m.name}`).certPem,
          peerKeyPem: leaf(`peer-${m.name}`).keyPem,
        },
      ]),
    );
    this.clients = Object.fromEntries(
      clientRoles.map((r) => [r, { certPem: leaf(r).certPem, keyPem: leaf(r).keyPem }]),
    ) as Record<ClientRole, ClientTls>;
    this.certificateExpiry = Object.fromEntries([...leaves].map(([id, c]) => [id, c.validityEndTime]));

    const keys = createEncryptionKeys(name, s.encryption.keys, s.protectEncryptionKeys, this);
    this.encryptionConfiguration = pulumi.secret(
      keys.material.apply((material) =>
        renderEncryptionConfiguration({
          resources: s.encryption.resources,
          keys: material,
          identityFallback: s.encryption.identityFallback,
        }),
      ),
    );

    this.nodeCloudInit = Object.fromEntries(
      s.members.map((m) => [
        m.name,
        pulumi.secret(
          pulumi
            .all({
              caCertPem: this.caCertPem,
              serverCertPem: this.members[m.name].serverCertPem,
              serverKeyPem: this.members[m.name].serverKeyPem,
              peerCertPem: this.members[m.name].peerCertPem,
              peerKeyPem: this.members[m.name].peerKeyPem,
              apiserverClientCertPem: this.clients["apiserver-etcd-client"].certPem,
              apiserverClientKeyPem: this.clients["apiserver-etcd-client"].keyPem,
              healthcheckClientCertPem: this.clients["healthcheck-client"].certPem,
              healthcheckClientKeyPem: this.clients["healthcheck-client"].keyPem,
              encryptionConfiguration: this.encryptionConfiguration,
            })
            .apply((material) => {
              const { files, dirs } = nodeFiles(s, m, material as unknown as NodeMaterial);
              return renderCloudInit(files, dirs);
            }),
        ),
      ]),
    );

    this.etcdManifests = Object.fromEntries(
      s.members.map((m) => [m.name, pulumi.output(renderEtcdManifest(s, m))]),
    );
    this.etcdEndpoints = pulumi.output(s.members.map(clientUrl));
    this.peerUrls = pulumi.output(s.members.map(peerUrl));
    this.apiserverFlags = pulumi.output(renderApiserverEtcdFlags(s));
    this.kubeApiserverPatch = pulumi.output(renderKubeApiserverPatch(s));
    this.kubeadmClusterConfiguration = pulumi.output(renderClusterConfiguration(s));
    this.kubeadmPatches = pulumi.output(renderKubeadmPatches(s));

    if (s.backup.enabled) {
      const b = s.backup;
      const env = isSnapshotEnvironment(s.environment) ? snapshotDefaults[s.environment] : undefined;
      const retention = {
        days: b.retentionDays ?? env!.retention.days,
        noncurrentVersionDays: b.noncurrentVersionDays ?? env!.retention.noncurrentVersionDays,
        transitionToColdAfterDays: b.transitionToColdAfterDays,
        coldStorageClass: b.coldStorageClass,
      };
      this.snapshotStore = new SnapshotStore(
        `${name}-snapshots`,
        {
          clusterName: s.clusterName,
          environment: s.environment,
          bucketName: b.bucketName,
          retention,
          objectLock: b.objectLock,
          replication: b.replicaRegion
            ? { destinationRegion: b.replicaRegion, destinationProvider: replicaProvider }
            : undefined,
          accessLogging: b.accessLogging,
          oidc: b.oidc,
          kmsKeyDeletionWindowDays: b.kmsKeyDeletionWindowDays,
          tags: { "secure-etcd:cluster": s.clusterName, "secure-etcd:environment": s.environment },
        },
        { parent: this },
      );
      const store = this.snapshotStore;
      const backupClient = this.clients["backup-client"];
      this.snapshotJob = new SnapshotJob(
        `${name}-snapshot-job`,
        {
          provider: kubernetesProvider,
          clusterName: s.clusterName,
          environment: s.environment,
          // Unknown environments take dev's bookkeeping (history, deadlines) with their own schedule.
          schedule: {
            ...(env ?? snapshotDefaults.dev).schedule,
            ...(b.schedule ? { schedule: b.schedule } : {}),
          },
          etcdEndpoints: s.members.map(clientUrl),
          etcdVersion: s.etcdVersion,
          bucketName: store.bucketName,
          prefix: store.prefix,
          kmsKeyArn: store.kmsKeyArn,
          awsRegion: store.region,
          roleArn: store.roleArn,
          tls: { certPem: backupClient.certPem, keyPem: backupClient.keyPem, caPem: this.caCertPem },
          script: readSnapshotScript(),
        },
        { parent: this },
      );
    }

    this.registerOutputs({
      caCertPem: this.caCertPem,
      caValidityEndTime: this.caValidityEndTime,
      members: this.members,
      clients: this.clients,
      certificateExpiry: this.certificateExpiry,
      encryptionConfiguration: this.encryptionConfiguration,
      etcdManifests: this.etcdManifests,
      nodeCloudInit: this.nodeCloudInit,
      etcdEndpoints: this.etcdEndpoints,
      peerUrls: this.peerUrls,
      apiserverFlags: this.apiserverFlags,
      kubeApiserverPatch: this.kubeApiserverPatch,
      kubeadmClusterConfiguration: this.kubeadmClusterConfiguration,
      kubeadmPatches: this.kubeadmPatches,
      snapshotBucketName: this.snapshotStore?.bucketName,
      snapshotJobManifests: this.snapshotJob?.manifestsYaml,
    });
  }
}
