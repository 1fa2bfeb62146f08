import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../config/errors";
import type { SecureEtcdSettings } from "../config/schema";
import { inEncryptionConfiguration, orderKeys } from "../encryption/render";
import { renderKubeApiserverPatch } from "../manifests/apiserver";
import type { NodeSecretStore } from "../secretStore/nodeSecretStore";
import { EnvelopeKeys } from "./envelopeKeys";
import { envelopeEncryptionContext } from "./naming";
import { kmsPluginPlans, usesKms, type KmsPluginPlan } from "./plan";
import { kmsPluginCommand, renderKmsPluginManifest } from "./pluginManifest";
import { apiserverMountedDirsOf, kmsSocketProblems, type RenderedKmsPlugin } from "./socketCoverage";

/** One kms key's plugin as rendered: what SecureEtcd's `kmsPlugins` output lists (nothing secret). */
export interface KmsPluginInfo {
  key: string;
  state: KmsPluginPlan["state"];
  endpoint: string;
  healthPort: number;
  keyArn: string;
  region: string;
  image: string;
  command: string[];
}

/** SecureEtcd's KMS v2 part: the plugin plans now, the envelope keys once the node roles exist. */
export interface KmsV2 {
  plans: KmsPluginPlan[];
  /** Each plugin's static pod manifest, per kms key (resolves once the envelope keys exist). */
  pluginManifests: pulumi.Output<{ key: string; manifest: string }[]>;
  plugins: pulumi.Output<KmsPluginInfo[]>;
  /** Creates the envelope keys and the node grant on the secret store's node roles; call exactly once. */
  provision(name: string, store: NodeSecretStore, parent: pulumi.Resource): EnvelopeKeys;
}

const placeholderArn = "arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000";

/**
 * Refuses, at preview, a kms provider that no rendered plugin would serve: every kms key of the
 * EncryptionConfiguration must have a plugin listening on its endpoint, mounting its directory, and
 * kube-apiserver must mount it too. Checked on the rendered flags and mounts (the ARN is not needed).
 */
export function refuseUncoveredKmsSockets(s: SecureEtcdSettings, source: string): void {
  const keys = orderKeys(s.encryption.keys).filter(inEncryptionConfiguration);
  const providers = keys
    .filter((k) => k.provider === "kms")
    .map((k) => ({ name: k.name, endpoint: k.endpoint ?? "" }));
  if (providers.length === 0) return;
  const plugins: RenderedKmsPlugin[] = kmsPluginPlans(s.encryption.keys).map((plan) => ({
    key: plan.key,
    command: kmsPluginCommand({
      plan,
      keyArn: placeholderArn,
      region: "us-east-1",
      image: s.encryption.kms.pluginImage,
      encryptionContext: envelopeEncryptionContext(s.clusterName, s.environment),
    }),
    mountedDirs: [plan.socketDir],
  }));
  const problems = kmsSocketProblems(providers, plugins, apiserverMountedDirsOf(renderKubeApiserverPatch(s)));
  if (problems.length)
    throw new ConfigError(
      problems.map((p) => ({
        path: `encryption.keys[${s.encryption.keys.findIndex((k) => k.name === p.key)}]`,
        message: `kms key ${JSON.stringify(p.key)}: ${p.message}`,
      })),
      source,
    );
}

/**
 * The KMS v2 part of a stack, or undefined when no key uses kms. The plugin manifests name the envelope
 * keys' ARNs, which exist only after the keys, whose policies name the node roles, which the secret
 * store creates from the bundles that carry the manifests: the manifests are therefore a deferred
 * Output, resolved by `provision` (no cycle between resources: role ← key ← bundle ← secret).
 */
export function planKmsV2(
  s: SecureEtcdSettings,
  snapshotLifeDays: number,
  source: string,
): KmsV2 | undefined {
  if (!usesKms(s.encryption.keys)) return undefined;
  refuseUncoveredKmsSockets(s, source);
  const plans = kmsPluginPlans(s.encryption.keys);
  type Located = { arns: Record<string, string>; region: string };
  let settle!: (o: pulumi.Output<Located>) => void;
  // pulumi.output of a promise of an Output: the apply lifts the inner Output (its value, secrecy and
  // resources), so consumers depend on the envelope keys as if they had been passed directly.
  const located = pulumi
    .output(new Promise<pulumi.Output<Located>>((r) => (settle = r)))
    .apply((o) => o as unknown as Located);
  const context = envelopeEncryptionContext(s.clusterName, s.environment);
  const image = s.encryption.kms.pluginImage;
  const plugins = located.apply(({ arns, region }) =>
    plans.map((plan): KmsPluginInfo => {
      const input = { plan, keyArn: arns[plan.key], region, image, encryptionContext: context };
      return {
        key: plan.key,
        state: plan.state,
        endpoint: plan.endpoint,
        healthPort: plan.healthPort,
        keyArn: arns[plan.key],
        region,
        image,
        command: kmsPluginCommand(input),
      };
    }),
  );
  const pluginManifests = located.apply(({ arns, region }) =>
    plans.map((plan) => ({
      key: plan.key,
      manifest: renderKmsPluginManifest({
        plan,
        keyArn: arns[plan.key],
        region,
        image,
        encryptionContext: context,
      }),
    })),
  );
  let provisioned = false;
  return {
    plans,
    pluginManifests,
    plugins,
    provision(name, store, parent) {
      if (provisioned) throw new Error("planKmsV2: provision called twice");
      provisioned = true;
      const nodeRoles = Object.fromEntries(
        Object.keys(store.nodeRoleArns).map((m) => [
          m,
          { roleName: store.nodeRoleNames[m], roleArn: store.nodeRoleArns[m] },
        ]),
      );
      const keys = new EnvelopeKeys(
        `${name}-envelope-keys`,
        {
          clusterName: s.clusterName,
          environment: s.environment,
          keys: s.encryption.keys,
          deletionWindowDays: s.encryption.kms.keyDeletionWindowDays,
          nodeRoles,
          restoreReaderRoleArn: s.secretStore.enabled ? s.secretStore.restoreReaderRoleArn : undefined,
          snapshotLifeDays,
        },
        { parent },
      );
      settle(pulumi.output({ arns: keys.keyArns, region: keys.region }) as unknown as pulumi.Output<Located>);
      return keys;
    },
  };
}
