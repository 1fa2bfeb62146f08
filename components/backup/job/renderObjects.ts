import { TLS_KEYS } from "./constants";
import { objectMetadata } from "./metadata";
import type {
  BackupClientTls,
  CommonOptions,
  ConfigMapManifest,
  ObjectMeta,
  SecretManifest,
  ServiceAccountManifest,
  SnapshotJobWorkloadOptions,
} from "./types";
import {
  checkCommonOptions,
  checkScriptOptions,
  checkSecretOptions,
  checkServiceAccountOptions,
  RENDER_SOURCE,
} from "./validate";

/** The Secret, ConfigMap and ServiceAccount beside the CronJob. Pure: plain values in, objects out. */

/** Metadata of the backup client Secret (kept apart so it need not be secret itself). */
export function renderBackupClientSecretMetadata(o: CommonOptions, source = RENDER_SOURCE): ObjectMeta {
  checkCommonOptions(o, source);
  return objectMetadata(o, "secret");
}

/** The Secret with the backup client cert, key and the etcd CA (type Opaque). */
export function renderBackupClientSecret(
  o: CommonOptions & { tls: BackupClientTls },
  source = RENDER_SOURCE,
): SecretManifest {
  checkSecretOptions(o, source);
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: objectMetadata(o, "secret"),
    type: "Opaque",
    stringData: { [TLS_KEYS.ca]: o.tls.caPem, [TLS_KEYS.cert]: o.tls.certPem, [TLS_KEYS.key]: o.tls.keyPem },
  };
}

/** The ConfigMap holding the job's runner files (mounted flat at /scripts). */
export function renderSnapshotScriptConfigMap(
  o: CommonOptions & { runner: Record<string, string> },
  source = RENDER_SOURCE,
): ConfigMapManifest {
  checkScriptOptions(o, source);
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: objectMetadata(o, "configMap"),
    data: { ...o.runner },
  };
}

/** The ServiceAccount (annotated for IRSA when a role ARN is given; no API token is mounted). */
export function renderSnapshotServiceAccount(
  o: SnapshotJobWorkloadOptions,
  source = RENDER_SOURCE,
): ServiceAccountManifest {
  checkServiceAccountOptions(o, source);
  const metadata = objectMetadata(o, "serviceAccount");
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: o.roleArn
      ? { ...metadata, annotations: { "eks.amazonaws.com/role-arn": o.roleArn } }
      : metadata,
    automountServiceAccountToken: false,
  };
}
