import * as YAML from "yaml";
import { renderSnapshotCronJob } from "./renderCronJob";
import {
  renderBackupClientSecret,
  renderSnapshotScriptConfigMap,
  renderSnapshotServiceAccount,
} from "./renderObjects";
import type {
  ConfigMapManifest,
  CronJobManifest,
  SecretManifest,
  ServiceAccountManifest,
  SnapshotJobRenderOptions,
} from "./types";
import { checkRenderOptions, RENDER_SOURCE } from "./validate";

export interface SnapshotJobManifests {
  secret: SecretManifest;
  configMap: ConfigMapManifest;
  serviceAccount: ServiceAccountManifest;
  cronJob: CronJobManifest;
  /** Secret, ConfigMap, ServiceAccount, CronJob in apply order. */
  objects: [SecretManifest, ConfigMapManifest, ServiceAccountManifest, CronJobManifest];
  /** All four as multi-document YAML (contains the private key: treat as secret). */
  yaml: string;
  /** The Secret alone as YAML (secret). */
  secretYaml: string;
  /** ConfigMap, ServiceAccount and CronJob as multi-document YAML (no secrets). */
  workloadYaml: string;
}

/** Multi-document YAML for a list of objects. */
export function toYaml(objects: readonly object[]): string {
  return objects.map((o) => YAML.stringify(o, { lineWidth: 0 })).join("---\n");
}

/**
 * Renders all four objects (Secret, ConfigMap, ServiceAccount, CronJob) and their YAML. Pure: no Pulumi.
 * The result contains the backup client's private key: treat `secret`, `objects` and `yaml` as secret.
 */
export function renderSnapshotJobManifests(
  opts: SnapshotJobRenderOptions,
  source = RENDER_SOURCE,
): SnapshotJobManifests {
  // One check of everything first, so a caller sees every problem at once.
  checkRenderOptions(opts, source);
  const secret = renderBackupClientSecret(opts, source);
  const configMap = renderSnapshotScriptConfigMap(opts, source);
  const serviceAccount = renderSnapshotServiceAccount(opts, source);
  const cronJob = renderSnapshotCronJob(opts, source);
  return {
    secret,
    configMap,
    serviceAccount,
    cronJob,
    objects: [secret, configMap, serviceAccount, cronJob],
    yaml: toYaml([secret, configMap, serviceAccount, cronJob]),
    secretYaml: toYaml([secret]),
    workloadYaml: toYaml([configMap, serviceAccount, cronJob]),
  };
}
