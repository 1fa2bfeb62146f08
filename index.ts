/*
 * The secure-etcd program: stack config (stacks/Pulumi.<stack>.yaml) → SecureEtcd → stack outputs.
 * The whole config is validated before any resource is created, and so are the steps from the key states
 * and the etcd version this stack last deployed (read from its own outputs) to the ones configured now, and — for a stack
 * promoted from another — that the source deployed the same package version and promotable settings.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig, SecureEtcd } from "./components";
import { checkPromotionGate, previousDeployment } from "./program/stackReferences";

export = async () => {
  const stack = loadStackConfig(pulumi.runtime.allConfig(), pulumi.getStack());
  const { settings, program } = stack;

  await checkPromotionGate(stack);
  const previous = await previousDeployment(settings.clusterName);

  // With backup.deployJob the snapshot job goes into the cluster the ambient kubeconfig points at;
  // otherwise it is only rendered (snapshotJobManifests) for GitOps or manual apply.
  const kubernetesProvider = program.deployJob
    ? new k8s.Provider(`${settings.clusterName}-cluster`, { context: program.kubeContext })
    : undefined;

  const etcd = new SecureEtcd(settings.clusterName, {
    ...stack.args,
    kubernetesProvider,
    previousEncryptionKeys: previous.encryptionKeys,
    previousSecretStore: previous.secretStore,
    previousEtcdVersion: previous.etcdVersion,
  });

  return {
    clusterName: settings.clusterName,
    environment: settings.environment,
    // Read back by the next preview (program/stackReferences.ts): an unsupported etcd step is refused.
    etcdVersion: settings.etcdVersion,
    etcdEndpoints: etcd.etcdEndpoints,
    caCertPem: etcd.caCertPem,
    caValidityEndTime: etcd.caValidityEndTime,
    certificateExpiry: etcd.certificateExpiry,
    memberCertificates: etcd.members,
    clientCertificates: etcd.clients,
    encryptionConfiguration: etcd.encryptionConfiguration,
    encryptionKeyStates: etcd.encryptionKeyStates,
    promotion: etcd.promotion,
    etcdManifests: etcd.etcdManifests,
    // Secrets on the nodes: user data without secrets, and the Secrets Manager side it reads from
    // (undefined when secure-etcd:secretStore.enabled is false). Wire nodeUserData[member] and
    // nodeInstanceProfileNames[member] (or your own role, secure-etcd:secretStore.nodeRoles) into that
    // member's control-plane instance.
    nodeUserData: etcd.nodeUserData,
    nodeBundles: etcd.nodeBundles,
    nodeSecretNames: etcd.secretStore?.secretNames,
    nodeSecretArns: etcd.secretStore?.secretArns,
    nodeRoleArns: etcd.secretStore?.nodeRoleArns,
    nodeInstanceProfileNames: etcd.secretStore?.nodeInstanceProfileNames,
    nodeSecretPolicyJson: etcd.secretStore?.nodeSecretPolicyJson,
    secretsKmsKeyArn: etcd.secretStore?.kmsKeyArn,
    secretsReplicaKmsKeyArn: etcd.secretStore?.replicaKmsKeyArn,
    keyArchiveSecretName: etcd.secretStore?.keyArchiveSecretName,
    keyArchiveSecretArn: etcd.secretStore?.keyArchiveSecretArn,
    keyArchiveReaderPolicyJson: etcd.secretStore?.keyArchiveReaderPolicyJson,
    // Who the key and secret policies admit as deployers; the next deployment checks it is one of them.
    deployerArns: etcd.secretStore?.deployerArns ?? etcd.snapshotStore?.deployerArns,
    // Air-gapped labs only (secure-etcd:secretStore.offlineCloudInit; refused for prod): carries the keys.
    offlineNodeCloudInit: etcd.offlineNodeCloudInit,
    // KMS v2 (when a key uses kms): the AWS keys behind the kms providers, and the plugin every
    // control-plane node runs (its manifests also travel in the node bundles).
    envelopeKeyArns: etcd.envelopeKeys?.keyArns,
    envelopeKeyGrantPolicyJson: etcd.envelopeKeys?.grantPolicyJson,
    kmsPlugins: etcd.kmsPlugins,
    kmsPluginManifests: etcd.kmsPluginManifests,
    apiserverFlags: etcd.apiserverFlags,
    kubeApiserverPatch: etcd.kubeApiserverPatch,
    kubeadmClusterConfiguration: etcd.kubeadmClusterConfiguration,
    kubeadmPatches: etcd.kubeadmPatches,
    // Snapshots (undefined when secure-etcd:backup.enabled is false).
    snapshotBucketName: etcd.snapshotStore?.bucketName,
    snapshotBucketArn: etcd.snapshotStore?.bucketArn,
    snapshotKmsKeyArn: etcd.snapshotStore?.kmsKeyArn,
    snapshotPrefix: etcd.snapshotStore?.prefix,
    snapshotWriterPolicyJson: etcd.snapshotStore?.writerPolicyJson,
    snapshotReaderPolicyJson: etcd.snapshotStore?.readerPolicyJson,
    snapshotRoleArn: etcd.snapshotStore?.roleArn,
    snapshotWriterArns: etcd.snapshotStore?.writerArns,
    snapshotReaderArns: etcd.snapshotStore?.readerArns,
    snapshotReplicationAlarmName: etcd.snapshotStore?.replicationAlarmName,
    snapshotSchedule: etcd.snapshotJob?.schedule,
    snapshotJobManifests: etcd.snapshotJob?.manifestsYaml,
    snapshotJobSecretYaml: etcd.snapshotJob?.secretYaml,
  };
};
