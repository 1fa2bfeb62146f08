import * as pulumi from "@pulumi/pulumi";
import { createSnapshots } from "./backup/snapshots";
import type { SnapshotJob } from "./backup/snapshotJob";
import type { SnapshotStore } from "./backup/snapshotStore";
import { ConfigError } from "./config/errors";
import { checkEtcdVersionStep } from "./config/etcdUpgrade";
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
import { checkedAgainstProviderRegion, constructionContext } from "./deploymentRegion";
import { resolveSettings, withStandIns } from "./memberInputs";
import { createNodeDelivery } from "./node/delivery";
import type { EnvelopeKeys } from "./kms/envelopeKeys";
import { planKmsV2, type KmsPluginInfo, type KmsV2 } from "./kms/kmsV2";
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
 * patches that use them. `M` is the union of member names, inferred from literal names in the args, so
 * `etcd.members["cp-9"]` fails to compile when no member is called that; {@link SecureEtcd.member} checks
 * at run time too.
 */
export class SecureEtcd<M extends string = string> extends pulumi.ComponentResource {
  /**
   * The validated, defaulted settings everything was rendered from, once member Inputs have resolved
   * (rejects with the ConfigError when a resolved value is invalid).
   */
  readonly settings: pulumi.Output<SecureEtcdSettings>;
  /** The member names, in member order. */
  readonly memberNames: readonly M[];
  readonly caCertPem: pulumi.Output<string>;
  readonly caValidityEndTime: pulumi.Output<string>;
  /** Each member's certs and keys, by member name (see also {@link SecureEtcd.member}). */
  readonly members: Readonly<Record<M, MemberTls>>;
  readonly clients: Record<ClientRole, ClientTls>;
  /** RFC 3339 expiry of every leaf cert, by profile id (`server-cp-1`, `backup-client`, …). */
  readonly certificateExpiry: Record<string, pulumi.Output<string>>;
  /** The kube-apiserver `--encryption-provider-config` file. Secret: it embeds the keys. */
  readonly encryptionConfiguration: pulumi.Output<string>;
  /** Static pod manifest per member. */
  readonly etcdManifests: Readonly<Record<M, pulumi.Output<string>>>;
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
  readonly nodeBundles: Readonly<Record<M, pulumi.Output<string>>>;
  /** The KMS key, the per-member secrets and roles, the key archive (unless `secretStore.enabled` is false). */
  readonly secretStore?: NodeSecretStore;
  /**
   * Per member, EC2 user data (`#cloud-config`) that installs the package's bootstrap and a systemd timer
   * that runs it every `secretStore.bootstrapIntervalMinutes`: the node fetches its bundle from Secrets
   * Manager with its own role. NOT a secret — it holds no key — and under EC2's 16 KB.
   */
  readonly nodeUserData?: Readonly<Record<M, pulumi.Output<string>>>;
  /**
   * Only with `secretStore.offlineCloudInit` (air-gapped labs; refused for prod): user data that carries
   * the member's private keys and encryption keys itself. Secret.
   */
  readonly offlineNodeCloudInit?: Readonly<Record<M, pulumi.Output<string>>>;
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
   * promoted from this one compares it at preview (docs/promotion.md).
   */
  readonly promotion: pulumi.Output<PromotionRecord>;
  /** The snapshot bucket and policies (when backups are enabled). */
  readonly snapshotStore?: SnapshotStore;
  /** The snapshot job: rendered manifests always, Kubernetes objects with `kubernetesProvider`. */
  readonly snapshotJob?: SnapshotJob;
  /** The AWS KMS keys behind the kms providers and the node roles' grant (when a key uses kms). */
  readonly envelopeKeys?: EnvelopeKeys;
  /**
   * Per kms key of the EncryptionConfiguration, the aws-encryption-provider static pod manifest every
   * control-plane node runs (the node bundle installs it). Not secret.
   */
  readonly kmsPluginManifests?: pulumi.Output<Record<string, string>>;
  /** Each kms key's plugin: socket, health port, AWS key ARN, image, command (nothing secret). */
  readonly kmsPlugins?: pulumi.Output<KmsPluginInfo[]>;
  private readonly kmsV2?: KmsV2;

  constructor(name: string, args: SecureEtcdArgs<M>, opts?: pulumi.ComponentResourceOptions) {
    super("secure-etcd:index:SecureEtcd", name, {}, opts);
    const {
      kubernetesProvider,
      replicaProvider,
      previousEncryptionKeys,
      previousSecretStore,
      previousEtcdVersion,
      ...config
    } = args;
    const source = `SecureEtcd ${JSON.stringify(name)} args`;
    // Known values are checked now (preview); member Inputs not yet known get stand-ins here and are
    // checked by the same schema when they resolve (`resolved`). Only `resolved` is ever rendered.
    // Replica regions are checked against the region this deploys to (deploymentRegion.ts).
    const context = constructionContext(this);
    const planned = parseSettings(withStandIns(config), "", source, context);
    const { config: parsed, settings: s } = planned;
    const resolved = checkedAgainstProviderRegion(
      this,
      parsed,
      source,
      resolveSettings(config, planned, source, context),
    );
    const nameProblem = resourceNameProblem(name, s);
    if (nameProblem) throw new ConfigError([{ path: "(resource name)", message: nameProblem }], source);
    for (const warning of s.warnings) pulumi.log.warn(`${name}: ${warning}`, this);
    const states = keyStateRecords(s);
    if (previousEncryptionKeys) refuseUnsafeTransition(previousEncryptionKeys, states, s, source);
    if (previousEtcdVersion)
      for (const w of checkEtcdVersionStep(previousEtcdVersion, s.etcdVersion, source))
        pulumi.log.warn(`${name}: ${w}`, this);
    this.settings = resolved;
    this.memberNames = s.members.map((m) => m.name as M);
    this.encryptionKeyStates = pulumi.output(states);
    // A record of plain JSON values; pulumi.output's deep unwrapping type adds nothing here.
    this.environment = pulumi.output(s.environment);
    this.backupEnabled = pulumi.output(s.backup.enabled);
    this.encryptionProviders = pulumi.output(providerOrder(s.encryption.keys, s.encryption.identityFallback));
    this.promotion = pulumi.output(
      promotionRecord(parsed, packageVersion()),
    ) as unknown as pulumi.Output<PromotionRecord>;

    const pki = issuePki(name, s, resolved, this);
    this.caCertPem = pki.ca.certPem;
    this.caValidityEndTime = pki.ca.validityEndTime;
    this.members = memberTls(s, pki) as Record<M, MemberTls>;
    this.clients = Object.fromEntries(
      clientRoles.map((r) => [r, { certPem: pki.leaf(r).certPem, keyPem: pki.leaf(r).keyPem }]),
    ) as Record<ClientRole, ClientTls>;
    this.certificateExpiry = Object.fromEntries([...pki.leaves].map(([id, c]) => [id, c.validityEndTime]));

    this.kmsV2 = planKmsV2(s, archiveDays(s), source);
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
    const delivery = createNodeDelivery(
      name,
      s,
      resolved,
      (m) => this.nodeMaterial(m),
      keys.material,
      this,
      previousSecretStore,
    );
    this.nodeBundles = delivery.bundles as Record<M, pulumi.Output<string>>;
    this.secretStore = delivery.store;
    this.nodeUserData = delivery.userData as Record<M, pulumi.Output<string>> | undefined;
    this.offlineNodeCloudInit = delivery.offlineCloudInit as Record<M, pulumi.Output<string>> | undefined;
    if (this.kmsV2) {
      // kms needs the secret store (checked in the config): its node roles are the key's users.
      this.envelopeKeys = this.kmsV2.provision(name, delivery.store!, this);
      this.kmsPlugins = this.kmsV2.plugins;
      this.kmsPluginManifests = this.kmsV2.pluginManifests.apply((ms) =>
        Object.fromEntries(ms.map((m) => [m.key, m.manifest])),
      );
    }

    // Everything that carries a member address is rendered from the resolved settings.
    this.etcdManifests = Object.fromEntries(
      s.members.map((m, i) => [m.name, resolved.apply((r) => renderEtcdManifest(r, r.members[i]))]),
    ) as Record<M, pulumi.Output<string>>;
    this.etcdEndpoints = resolved.apply((r) => r.members.map(clientUrl));
    this.peerUrls = resolved.apply((r) => r.members.map(peerUrl));
    this.apiserverFlags = resolved.apply(renderApiserverEtcdFlags);
    this.kubeApiserverPatch = resolved.apply(renderKubeApiserverPatch);
    this.kubeadmClusterConfiguration = resolved.apply(renderClusterConfiguration);
    this.kubeadmPatches = resolved.apply(renderKubeadmPatches);

    if (s.backup.enabled) {
      const backupClient = this.clients["backup-client"];
      const snapshots = createSnapshots(name, s, s.backup, {
        etcdEndpoints: this.etcdEndpoints,
        tls: { certPem: backupClient.certPem, keyPem: backupClient.keyPem, caPem: this.caCertPem },
        kubernetesProvider,
        replicaProvider,
        secretStore: this.secretStore,
        previousDeployerArns: previousSecretStore?.deployed ? previousSecretStore.deployerArns : undefined,
        envelopeKeyArns: this.envelopeKeys?.keyArns,
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
      envelopeKeyArns: this.envelopeKeys?.keyArns,
      kmsPlugins: this.kmsPlugins,
      kmsPluginManifests: this.kmsPluginManifests,
    });
  }

  /**
   * One member's certs and keys by name; throws naming the members there are when `name` is none of
   * them (for names only known at run time, e.g. read from config).
   */
  member(name: M): MemberTls {
    const found = Object.prototype.hasOwnProperty.call(this.members, name) ? this.members[name] : undefined;
    if (!found)
      throw new Error(
        `SecureEtcd has no member ${JSON.stringify(name)}; its members are ${this.memberNames.map((m) => JSON.stringify(m)).join(", ")}`,
      );
    return found;
  }

  /** Everything one member's node needs, as text (keys included: a secret). */
  private nodeMaterial(member: string): pulumi.Output<NodeMaterial> {
    const client = (r: ClientRole) => this.clients[r];
    return pulumi.secret(
      pulumi.output({
        caCertPem: this.caCertPem,
        serverCertPem: this.member(member as M).serverCertPem,
        serverKeyPem: this.member(member as M).serverKeyPem,
        peerCertPem: this.member(member as M).peerCertPem,
        peerKeyPem: this.member(member as M).peerKeyPem,
        apiserverClientCertPem: client("apiserver-etcd-client").certPem,
        apiserverClientKeyPem: client("apiserver-etcd-client").keyPem,
        healthcheckClientCertPem: client("healthcheck-client").certPem,
        healthcheckClientKeyPem: client("healthcheck-client").keyPem,
        encryptionConfiguration: this.encryptionConfiguration,
        kmsPluginManifests: this.kmsV2
          ? this.kmsV2.pluginManifests
          : pulumi.output<{ key: string; manifest: string }[]>([]),
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
