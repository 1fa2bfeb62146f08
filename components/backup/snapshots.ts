import type * as aws from "@pulumi/aws";
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ResolvedBackup } from "../config/backup";
import type { SecureEtcdSettings } from "../config/schema";
import { inEncryptionConfiguration, orderKeys } from "../encryption/render";
import { SnapshotJob } from "./snapshotJob";
import { SnapshotStore } from "./snapshotStore";

export interface SnapshotWiring {
  /** The members' client URLs, from the resolved settings (addresses may be Inputs). */
  etcdEndpoints: pulumi.Input<string[]>;
  /** Backup client cert and key, and the etcd CA cert. */
  tls: { certPem: pulumi.Output<string>; keyPem: pulumi.Output<string>; caPem: pulumi.Output<string> };
  kubernetesProvider?: k8s.Provider;
  replicaProvider?: aws.Provider;
  parent: pulumi.Resource;
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
      tags,
    },
    { parent: w.parent },
  );
  const job = new SnapshotJob(
    `${name}-snapshot-job`,
    {
      provider: w.kubernetesProvider,
      clusterName: s.clusterName,
      environment: s.environment,
      schedule: b.schedule,
      etcdEndpoints: w.etcdEndpoints,
      etcdVersion: s.etcdVersion,
      encryptionKeys: orderKeys(s.encryption.keys)
        .filter(inEncryptionConfiguration)
        .map((k) => `${k.provider}:${k.name}`),
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
