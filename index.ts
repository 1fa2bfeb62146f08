/*
 * The secure-etcd program: stack config (stacks/Pulumi.<stack>.yaml) → SecureEtcd → stack outputs.
 * The whole config is validated before any resource is created.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig, SecureEtcd } from "./components";

const stack = loadStackConfig(pulumi.runtime.allConfig(), pulumi.getStack());
const { settings, program } = stack;

// With backup.deployJob the snapshot job goes into the cluster the ambient kubeconfig points at;
// otherwise it is only rendered (snapshotJobManifests) for GitOps or manual apply.
const kubernetesProvider = program.deployJob
  ? new k8s.Provider(`${settings.clusterName}-cluster`, { context: program.kubeContext })
  : undefined;

const etcd = new SecureEtcd(settings.clusterName, { ...stack.args, kubernetesProvider });

export const clusterName = settings.clusterName;
export const environment = settings.environment;
export const etcdEndpoints = etcd.etcdEndpoints;
export const caCertPem = etcd.caCertPem;
export const caValidityEndTime = etcd.caValidityEndTime;
export const certificateExpiry = etcd.certificateExpiry;
export const memberCertificates = etcd.members;
export const clientCertificates = etcd.clients;
export const encryptionConfiguration = etcd.encryptionConfiguration;
export const etcdManifests = etcd.etcdManifests;
export const apiserverFlags = etcd.apiserverFlags;
export const kubeApiserverPatch = etcd.kubeApiserverPatch;
export const kubeadmClusterConfiguration = etcd.kubeadmClusterConfiguration;
export const kubeadmPatches = etcd.kubeadmPatches;

// Secrets on the nodes: user data without secrets, and the Secrets Manager side it reads from (undefined
// when secure-etcd:secretStore.enabled is false). Wire nodeUserData[member] and nodeInstanceProfileNames[member]
// (or your own role, secure-etcd:secretStore.nodeRoles) into that member's control-plane instance.
export const nodeUserData = etcd.nodeUserData;
export const nodeBundles = etcd.nodeBundles;
export const nodeSecretNames = etcd.secretStore?.secretNames;
export const nodeSecretArns = etcd.secretStore?.secretArns;
export const nodeRoleArns = etcd.secretStore?.nodeRoleArns;
export const nodeInstanceProfileNames = etcd.secretStore?.nodeInstanceProfileNames;
export const nodeSecretPolicyJson = etcd.secretStore?.nodeSecretPolicyJson;
export const secretsKmsKeyArn = etcd.secretStore?.kmsKeyArn;
export const secretsReplicaKmsKeyArn = etcd.secretStore?.replicaKmsKeyArn;
export const keyArchiveSecretName = etcd.secretStore?.keyArchiveSecretName;
export const keyArchiveSecretArn = etcd.secretStore?.keyArchiveSecretArn;
export const keyArchiveReaderPolicyJson = etcd.secretStore?.keyArchiveReaderPolicyJson;
// Air-gapped labs only (secure-etcd:secretStore.offlineCloudInit; refused for prod): carries the keys. Secret.
export const offlineNodeCloudInit = etcd.offlineNodeCloudInit;

// Snapshots (undefined when secure-etcd:backup.enabled is false).
export const snapshotBucketName = etcd.snapshotStore?.bucketName;
export const snapshotBucketArn = etcd.snapshotStore?.bucketArn;
export const snapshotKmsKeyArn = etcd.snapshotStore?.kmsKeyArn;
export const snapshotPrefix = etcd.snapshotStore?.prefix;
export const snapshotWriterPolicyJson = etcd.snapshotStore?.writerPolicyJson;
export const snapshotReaderPolicyJson = etcd.snapshotStore?.readerPolicyJson;
export const snapshotRoleArn = etcd.snapshotStore?.roleArn;
export const snapshotSchedule = etcd.snapshotJob?.schedule;
export const snapshotJobManifests = etcd.snapshotJob?.manifestsYaml;
export const snapshotJobSecretYaml = etcd.snapshotJob?.secretYaml;
