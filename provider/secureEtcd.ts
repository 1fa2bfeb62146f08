import * as pulumi from "@pulumi/pulumi";
import { SecureEtcd as SecureEtcdComponent } from "../components";
import type { KeyStateRecord, SecureEtcdSchemaArgs } from "../components/secureEtcdArgs";

/*
 * SecureEtcd as the component provider serves it to other languages: the TypeScript component, built as
 * a child, taking the component's own schema args (components/secureEtcdArgs.ts), with its outputs
 * reshaped into what a Pulumi schema can carry (maps and Outputs; no resource objects, no per-member
 * class instances). Key material stays secret at run time (the schema the analyzer writes has no secret
 * flag; docs/other-languages.md).
 */

/** One member's certs and keys. The keys are secret. */
export interface MemberCertificates {
  /** Server cert (PEM). */
  serverCertPem: string;
  /** Server key (PEM). Secret. */
  serverKeyPem: string;
  /** Peer cert (PEM). */
  peerCertPem: string;
  /** Peer key (PEM). Secret. */
  peerKeyPem: string;
}

/** A client cert and its key. The key is secret. */
export interface ClientCertificate {
  /** Client cert (PEM). */
  certPem: string;
  /** Client key (PEM). Secret. */
  keyPem: string;
}

type Records = Record<string, pulumi.Output<string>>;
const record = (r: Records): pulumi.Output<Record<string, string>> =>
  pulumi.output(r) as pulumi.Output<Record<string, string>>;
const maybe = (r: Records | undefined) => (r ? record(r) : undefined);

/**
 * Secures a self-managed cluster's etcd: a dedicated CA with server, peer and client certs, encryption at
 * rest with staged key rotation, the etcd and kube-apiserver manifests, node bundles in Secrets Manager
 * with per-member roles and the user data that fetches them, and verified, encrypted snapshots to S3.
 */
export class SecureEtcd extends pulumi.ComponentResource {
  /** The etcd CA certificate (PEM). */
  readonly caCertPem: pulumi.Output<string>;
  /** RFC 3339 expiry of the CA. */
  readonly caValidityEndTime: pulumi.Output<string>;
  /** Each member's certs and keys, by member name (keys secret). */
  readonly members: pulumi.Output<Record<string, MemberCertificates>>;
  /** Client certs by role: `apiserver-etcd-client`, `healthcheck-client`, `backup-client` (keys secret). */
  readonly clients: pulumi.Output<Record<string, ClientCertificate>>;
  /** RFC 3339 expiry of every leaf cert, by profile id (`server-cp-1`, `backup-client`, …). */
  readonly certificateExpiry: pulumi.Output<Record<string, string>>;
  /** The kube-apiserver `--encryption-provider-config` file. Secret. */
  readonly encryptionConfiguration: pulumi.Output<string>;
  /** Every encryption key's name, provider and state (no key material): pass back as `previousEncryptionKeys`. */
  readonly encryptionKeyStates: pulumi.Output<KeyStateRecord[]>;
  /** Provider names in EncryptionConfiguration order. */
  readonly encryptionProviders: pulumi.Output<string[]>;
  /** The environment the settings resolved for. */
  readonly environment: pulumi.Output<string>;
  /** Whether snapshots are on. */
  readonly backupEnabled: pulumi.Output<boolean>;
  /** Static pod manifest per member. */
  readonly etcdManifests: pulumi.Output<Record<string, string>>;
  /** Client URLs in member order. */
  readonly etcdEndpoints: pulumi.Output<string[]>;
  /** Peer URLs in member order. */
  readonly peerUrls: pulumi.Output<string[]>;
  /** kube-apiserver etcd and encryption flags. */
  readonly apiserverFlags: pulumi.Output<string[]>;
  /** RFC 6902 patch (YAML) for a kube-apiserver static pod. */
  readonly kubeApiserverPatch: pulumi.Output<string>;
  /** kubeadm ClusterConfiguration (v1beta4) snippet. */
  readonly kubeadmClusterConfiguration: pulumi.Output<string>;
  /** Files for `kubeadm … --patches <dir>`, by file name. */
  readonly kubeadmPatches: pulumi.Output<Record<string, string>>;
  /** Per member, the node bundle its secret holds. Secret. */
  readonly nodeBundles: pulumi.Output<Record<string, string>>;
  /** Per member, EC2 user data that installs and times the bootstrap (holds no key). */
  readonly nodeUserData?: pulumi.Output<Record<string, string>>;
  /** Per member, user data that carries the keys itself (only with `secretStore.offlineCloudInit`). Secret. */
  readonly offlineNodeCloudInit?: pulumi.Output<Record<string, string>>;
  /** Per member, the instance profile whose role alone reads that member's secret. */
  readonly nodeInstanceProfileNames?: pulumi.Output<Record<string, string>>;
  /** Per member, the role that reads its secret. */
  readonly nodeRoleArns?: pulumi.Output<Record<string, string>>;
  /** Per member, the ARN of its secret. */
  readonly nodeSecretArns?: pulumi.Output<Record<string, string>>;
  /** The customer-managed KMS key of the secrets. */
  readonly secretsKmsKeyArn?: pulumi.Output<string>;
  /** The snapshot bucket (when backups are enabled). */
  readonly snapshotBucketName?: pulumi.Output<string>;
  /** The snapshot job's manifests (when backups are enabled). */
  readonly snapshotJobManifests?: pulumi.Output<string>;

  constructor(name: string, args: SecureEtcdSchemaArgs, opts?: pulumi.ComponentResourceOptions) {
    super("secure-etcd:index:SecureEtcd", name, {}, opts);
    const etcd = new SecureEtcdComponent(name, args, { parent: this });
    const store = etcd.secretStore;
    this.caCertPem = etcd.caCertPem;
    this.caValidityEndTime = etcd.caValidityEndTime;
    this.members = pulumi.output(etcd.members) as pulumi.Output<Record<string, MemberCertificates>>;
    this.clients = pulumi.output(etcd.clients as Record<string, ClientCertificate | object>) as pulumi.Output<
      Record<string, ClientCertificate>
    >;
    this.certificateExpiry = record(etcd.certificateExpiry);
    this.encryptionConfiguration = etcd.encryptionConfiguration;
    this.encryptionKeyStates = etcd.encryptionKeyStates;
    this.encryptionProviders = etcd.encryptionProviders;
    this.environment = etcd.environment;
    this.backupEnabled = etcd.backupEnabled;
    this.etcdManifests = record(etcd.etcdManifests);
    this.etcdEndpoints = etcd.etcdEndpoints;
    this.peerUrls = etcd.peerUrls;
    this.apiserverFlags = etcd.apiserverFlags;
    this.kubeApiserverPatch = etcd.kubeApiserverPatch;
    this.kubeadmClusterConfiguration = etcd.kubeadmClusterConfiguration;
    this.kubeadmPatches = etcd.kubeadmPatches;
    this.nodeBundles = pulumi.secret(record(etcd.nodeBundles));
    this.nodeUserData = maybe(etcd.nodeUserData);
    this.offlineNodeCloudInit = etcd.offlineNodeCloudInit
      ? pulumi.secret(record(etcd.offlineNodeCloudInit))
      : undefined;
    this.nodeInstanceProfileNames = maybe(store?.nodeInstanceProfileNames);
    this.nodeRoleArns = maybe(store?.nodeRoleArns);
    this.nodeSecretArns = maybe(store?.secretArns);
    this.secretsKmsKeyArn = store?.kmsKeyArn;
    this.snapshotBucketName = etcd.snapshotStore?.bucketName;
    this.snapshotJobManifests = etcd.snapshotJob?.manifestsYaml;
    this.registerOutputs({});
  }
}
