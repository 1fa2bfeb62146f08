import * as aws from "@pulumi/aws";
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ResolvedBackup } from "../config/backup";
import type { SecureEtcdSettings } from "../config/schema";
import { inEncryptionConfiguration, orderKeys } from "../encryption/render";
import { nodeSnapshotWriterPolicyName } from "../secretStore/naming";
import type { NodeSecretStore } from "../secretStore/nodeSecretStore";
import { snapshotKeyWords } from "../kms/snapshotKeys";
import { SnapshotJob } from "./snapshotJob";
import { SnapshotStore } from "./snapshotStore";

export interface SnapshotWiring {
  /** The members' client URLs, from the resolved settings (addresses may be Inputs). */
  etcdEndpoints: pulumi.Input<string[]>;
  /** Backup client cert and key, and the etcd CA cert. */
  tls: { certPem: pulumi.Output<string>; keyPem: pulumi.Output<string>; caPem: pulumi.Output<string> };
  kubernetesProvider?: k8s.Provider;
  replicaProvider?: aws.Provider;
  /** The node roles: without IRSA they run the snapshot job, so they are its writers. */
  secretStore?: NodeSecretStore;
  /** The deployers the last deployment admitted; checked here only without a secret store (it checks them). */
  previousDeployerArns?: string[];
  /** kms key name → its AWS key ARN: every snapshot records the ARN of each envelope key it needs. */
  envelopeKeyArns?: Record<string, pulumi.Output<string>>;
  parent: pulumi.Resource;
}

/**
 * Who writes and who restores: the IRSA role (made by the store) or else the members' node roles (the
 * job runs on the control-plane nodes with the node's role), plus `backup.writerRoleArns`; the restore
 * reader is `backup.restoreReaderRoleArn`, else `secretStore.restoreReaderRoleArn`.
 */
function snapshotPrincipals(
  s: SecureEtcdSettings,
  b: ResolvedBackup,
  store: NodeSecretStore | undefined,
): { writerRoleArns: pulumi.Output<string[]>; readerRoleArns: string[] } {
  const nodeRoles = !b.oidc && store ? Object.values(store.nodeRoleArns) : [];
  const restoreReader =
    b.restoreReaderRoleArn ?? (s.secretStore.enabled ? s.secretStore.restoreReaderRoleArn : undefined);
  return {
    writerRoleArns: pulumi.all([...nodeRoles, ...(b.writerRoleArns ?? [])]),
    readerRoleArns: restoreReader ? [restoreReader] : [],
  };
}

/** Without IRSA the node roles are the writers: each gets the writer policy, as an inline policy. */
function attachNodeWriterPolicies(
  name: string,
  s: SecureEtcdSettings,
  store: NodeSecretStore,
  writerPolicyJson: pulumi.Output<string>,
  parent: pulumi.Resource,
): void {
  for (const m of s.members)
    new aws.iam.RolePolicy(
      `${name}-snapshots-${m.name}-writer`,
      {
        role: store.nodeRoleNames[m.name],
        name: nodeSnapshotWriterPolicyName(s.clusterName, s.environment, m.name),
        policy: writerPolicyJson,
      },
      { parent },
    );
}

/** SecureEtcd's snapshots: the hardened store and the job, from settings resolved once in config/. */
export function createSnapshots(
  name: string,
  s: SecureEtcdSettings,
  b: ResolvedBackup,
  w: SnapshotWiring,
): { store: SnapshotStore; job: SnapshotJob } {
  const tags = { "secure-etcd:cluster": s.clusterName, "secure-etcd:environment": s.environment };
  const store = new SnapshotStore(
    `${name}-snapshots`,
    {
      clusterName: s.clusterName,
      environment: s.environment,
      bucketName: b.bucketName,
      retention: b.retention,
      objectLock: b.objectLock,
      replication: b.replicaRegion
        ? { destinationRegion: b.replicaRegion, destinationProvider: w.replicaProvider }
        : undefined,
      accessLogging: b.accessLogging,
      oidc: b.oidc,
      kmsKeyDeletionWindowDays: b.kmsKeyDeletionWindowDays,
      ...snapshotPrincipals(s, b, w.secretStore),
      deployerPrincipalArns: s.deployerPrincipalArns,
      previousDeployerArns: w.secretStore ? undefined : w.previousDeployerArns,
      tags,
    },
    { parent: w.parent },
  );
  if (!b.oidc && w.secretStore)
    attachNodeWriterPolicies(name, s, w.secretStore, store.writerPolicyJson, w.parent);
  const job = new SnapshotJob(
    `${name}-snapshot-job`,
    {
      provider: w.kubernetesProvider,
      clusterName: s.clusterName,
      environment: s.environment,
      schedule: b.schedule,
      etcdEndpoints: w.etcdEndpoints,
      etcdVersion: s.etcdVersion,
      encryptionKeys: pulumi
        .output(w.envelopeKeyArns ?? {})
        .apply((arns) =>
          snapshotKeyWords(orderKeys(s.encryption.keys).filter(inEncryptionConfiguration), arns),
        ),
      bucketName: store.bucketName,
      prefix: store.prefix,
      kmsKeyArn: store.kmsKeyArn,
      awsRegion: store.region,
      roleArn: store.roleArn,
      tls: w.tls,
    },
    { parent: w.parent },
  );
  for (const warning of b.warnings) pulumi.log.warn(`${name}: ${warning}`, w.parent);
  return { store, job };
}
