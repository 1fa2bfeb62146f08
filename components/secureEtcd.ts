import * as pulumi from "@pulumi/pulumi";
import { createSnapshots } from "./backup/snapshots";
import type { SnapshotJob } from "./backup/snapshotJob";
import type { SnapshotStore } from "./backup/snapshotStore";
import { ConfigError } from "./config/errors";
import { promotionRecord, type PromotionRecord } from "./config/promotion";
import { parseSettings, type SecureEtcdSettings } from "./config/schema";
import { createEncryptionKeys } from "./encryption/keys";
import { providerOrder, renderEncryptionConfiguration } from "./encryption/render";
import { keyTransitionProblems, type KeyStateRecord } from "./encryption/transitions";
import {
  clientUrl,
  peerUrl,
  renderApiserverEtcdFlags,
  renderClusterConfiguration,
  renderEtcdManifest,
  renderKubeadmPatches,
  renderKubeApiserverPatch,
  type NodeMaterial,
} from "./manifests";
import { resourceNameProblem } from "./naming";
import { packageVersion } from "./packageInfo";
import { createNodeDelivery } from "./node/delivery";
import { issuePki, type IssuedPki } from "./pki/issueAll";
import type { CertRole } from "./pki/profiles";
import type { NodeSecretStore } from "./secretStore/nodeSecretStore";
import type { SecureEtcdArgs } from "./secureEtcdArgs";

export * from "./secureEtcdArgs";

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
   * Per member, the node bundle its secret holds (certs, keys, the EncryptionConfiguration, the manifest;
   * see secretStore/bundle.ts). Secret.
   */
  readonly nodeBundles: Record<string, pulumi.Output<string>>;
  /** The KMS key, the per-member secrets and roles, the key archive (unless `secretStore.enabled` is false). */
  readonly secretStore?: NodeSecretStore;
  /**
   * Per member, EC2 user data (`#cloud-config`) that installs the package's bootstrap and a systemd timer
   * that runs it every `secretStore.bootstrapIntervalMinutes`: the node fetches its bundle from Secrets
   * Manager with its own role. NOT a secret — it holds no key — and under EC2's 16 KB.
   */
  readonly nodeUserData?: Record<string, pulumi.Output<string>>;
  /**
   * Only with `secretStore.offlineCloudInit` (air-gapped labs; refused for prod): user data that carries
   * the member's private keys and encryption keys itself. Secret.
   */
  readonly offlineNodeCloudInit?: Record<string, pulumi.Output<string>>;
  /** The environment the settings resolved for (policies and reports read it). */
  readonly environment: pulumi.Output<string>;
  /** Whether snapshots are on. */
  readonly backupEnabled: pulumi.Output<boolean>;
  /** Provider names in EncryptionConfiguration order, no key material (CIS 1.2.28 reads the first at preview). */
  readonly encryptionProviders: pulumi.Output<string[]>;
  /** Every encryption key's name, provider and state (no key material): feed it back as `previousEncryptionKeys`. */
  readonly encryptionKeyStates: pulumi.Output<KeyStateRecord[]>;
  /**
   * The package version and the promotable settings (nothing secret) with their fingerprint: the stack
   * promoted from this one compares it at preview (see README "Promotion").
   */
  readonly promotion: pulumi.Output<PromotionRecord>;
  /** The snapshot bucket and policies (when backups are enabled). */
  readonly snapshotStore?: SnapshotStore;
  /** The snapshot job: rendered manifests always, Kubernetes objects with `kubernetesProvider`. */
  readonly snapshotJob?: SnapshotJob;

  constructor(name: string, args: SecureEtcdArgs, opts?: pulumi.ComponentResourceOptions) {
    super("secure-etcd:index:SecureEtcd", name, {}, opts);
    const { kubernetesProvider, replicaProvider, previousEncryptionKeys, ...config } = args;
    const source = `SecureEtcd ${JSON.stringify(name)} args`;
    const { config: parsed, settings: s } = parseSettings(config, "", source);
    const nameProblem = resourceNameProblem(name, s);
    if (nameProblem) throw new ConfigError([{ path: "(resource name)", message: nameProblem }], source);
    for (const warning of s.warnings) pulumi.log.warn(`${name}: ${warning}`, this);
    const states = keyStateRecords(s);
    if (previousEncryptionKeys) refuseUnsafeTransition(previousEncryptionKeys, states, s, source);
    this.settings = s;
    this.encryptionKeyStates = pulumi.output(states);
    // A record of plain JSON values; pulumi.output's deep unwrapping type adds nothing here.
    this.environment = pulumi.output(s.environment);
    this.backupEnabled = pulumi.output(s.backup.enabled);
    this.encryptionProviders = pulumi.output(providerOrder(s.encryption.keys, s.encryption.identityFallback));
    this.promotion = pulumi.output(
      promotionRecord(parsed, packageVersion()),
    ) as unknown as pulumi.Output<PromotionRecord>;

    const pki = issuePki(name, s, this);
    this.caCertPem = pki.ca.certPem;
    this.caValidityEndTime = pki.ca.validityEndTime;
    this.members = memberTls(s, pki);
    this.clients = Object.fromEntries(
      clientRoles.map((r) => [r, { certPem: pki.leaf(r).certPem, keyPem: pki.leaf(r).keyPem }]),
    ) as Record<ClientRole, ClientTls>;
    this.certificateExpiry = Object.fromEntries([...pki.leaves].map(([id, c]) => [id, c.validityEndTime]));

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
    const delivery = createNodeDelivery(name, s, (m) => this.nodeMaterial(m), keys.material, this);
    this.nodeBundles = delivery.bundles;
    this.secretStore = delivery.store;
    this.nodeUserData = delivery.userData;
    this.offlineNodeCloudInit = delivery.offlineCloudInit;

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
      const backupClient = this.clients["backup-client"];
      const snapshots = createSnapshots(name, s, s.backup, {
        tls: { certPem: backupClient.certPem, keyPem: backupClient.keyPem, caPem: this.caCertPem },
        kubernetesProvider,
        replicaProvider,
        parent: this,
      });
      this.snapshotStore = snapshots.store;
      this.snapshotJob = snapshots.job;
    }

    this.registerOutputs({
      caCertPem: this.caCertPem,
      caValidityEndTime: this.caValidityEndTime,
      members: this.members,
      clients: this.clients,
      certificateExpiry: this.certificateExpiry,
      encryptionConfiguration: this.encryptionConfiguration,
      encryptionKeyStates: this.encryptionKeyStates,
      encryptionProviders: this.encryptionProviders,
      environment: this.environment,
      backupEnabled: this.backupEnabled,
      promotion: this.promotion,
      etcdManifests: this.etcdManifests,
      nodeUserData: this.nodeUserData,
      nodeBundles: this.nodeBundles,
      offlineNodeCloudInit: this.offlineNodeCloudInit,
      secretsKmsKeyArn: this.secretStore?.kmsKeyArn,
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

  /** Everything one member's node needs, as text (keys included: a secret). */
  private nodeMaterial(member: string): pulumi.Output<NodeMaterial> {
    const client = (r: ClientRole) => this.clients[r];
    return pulumi.secret(
      pulumi.all({
        caCertPem: this.caCertPem,
        serverCertPem: this.members[member].serverCertPem,
        serverKeyPem: this.members[member].serverKeyPem,
        peerCertPem: this.members[member].peerCertPem,
        peerKeyPem: this.members[member].peerKeyPem,
        apiserverClientCertPem: client("apiserver-etcd-client").certPem,
        apiserverClientKeyPem: client("apiserver-etcd-client").keyPem,
        healthcheckClientCertPem: client("healthcheck-client").certPem,
        healthcheckClientKeyPem: client("healthcheck-client").keyPem,
        encryptionConfiguration: this.encryptionConfiguration,
      }),
    ) as unknown as pulumi.Output<NodeMaterial>;
  }
}

function keyStateRecords(s: SecureEtcdSettings): KeyStateRecord[] {
  return s.encryption.keys.map((k) => ({
    name: k.name,
    state: k.state,
    provider: k.provider,
    ...(k.archivedOn ? { archivedOn: k.archivedOn } : {}),
  }));
}

/** The longest a snapshot lives in this environment: how long an archived key must be kept. */
function archiveDays(s: SecureEtcdSettings): number {
  return s.backup.enabled ? s.backup.retention.days + s.backup.retention.noncurrentVersionDays : 0;
}

function refuseUnsafeTransition(
  previous: KeyStateRecord[],
  next: KeyStateRecord[],
  s: SecureEtcdSettings,
  source: string,
): void {
  const problems = keyTransitionProblems(previous, next, archiveDays(s));
  if (problems.length === 0) return;
  throw new ConfigError(
    problems.map((p) => {
      const i = s.encryption.keys.findIndex((k) => k.name === p.key);
      return {
        path: i >= 0 ? `encryption.keys[${i}]` : "encryption.keys",
        message: `${JSON.stringify(p.key)} ${p.message}`,
      };
    }),
    `${source} (against the key states last deployed)`,
  );
}

function memberTls(s: SecureEtcdSettings, pki: IssuedPki): Record<string, MemberTls> {
  return Object.fromEntries(
    s.members.map((m) => [
      m.name,
      {
        serverCertPem: pki.leaf(`server-${m.name}`).certPem,
        serverKeyPem: pki.leaf(`server-${m.name}`).keyPem,
        peerCertPem: pki.leaf(`peer-${m.name}`).certPem,
        peerKeyPem: pki.leaf(`peer-${m.name}`).keyPem,
      },
    ]),
  );
}
