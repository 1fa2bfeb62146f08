import { DEFAULT_SNAPSHOT_NAME, DEFAULT_SNAPSHOT_NAMESPACE } from "../defaults";
import type { CommonOptions, ObjectMeta } from "./types";

/** Names of the four objects for a given base name. */
export function snapshotJobObjectNames(name = DEFAULT_SNAPSHOT_NAME): {
  secret: string;
  configMap: string;
  serviceAccount: string;
  cronJob: string;
} {
  return { secret: `${name}-client-tls`, configMap: `${name}-script`, serviceAccount: name, cronJob: name };
}

/** Base name, namespace and labels shared by every object (options already checked). */
export function commonMetadata(o: CommonOptions): Omit<ObjectMeta, "name"> & { baseName: string } {
  const baseName = o.name ?? DEFAULT_SNAPSHOT_NAME;
  return {
    baseName,
    namespace: o.namespace ?? DEFAULT_SNAPSHOT_NAMESPACE,
    labels: {
      "app.kubernetes.io/name": "etcd-snapshot",
      "app.kubernetes.io/instance": baseName,
      "app.kubernetes.io/component": "backup",
      "app.kubernetes.io/part-of": "secure-etcd",
      "app.kubernetes.io/managed-by": "pulumi",
      "secure-etcd/cluster": o.clusterName,
      "secure-etcd/environment": o.environment,
      ...(o.labels ?? {}),
    },
  };
}

/** Metadata of one of the four objects. */
export function objectMetadata(
  o: CommonOptions,
  object: keyof ReturnType<typeof snapshotJobObjectNames>,
): ObjectMeta {
  const { baseName, namespace, labels } = commonMetadata(o);
  return { name: snapshotJobObjectNames(baseName)[object], namespace, labels };
}
