import * as pulumi from "@pulumi/pulumi";
import type { SecureEtcdSettings } from "../config/schema";
import type { EncryptionKeyMaterial } from "../encryption/render";
import { nodeFiles, type NodeMaterial } from "../manifests/nodeFiles";
import { renderKeyArchive } from "../secretStore/keyArchive";
import { createBundleSigningKey, sealBundle } from "../secretStore/bundleSigning";
import { renderMemberBundleBody } from "../secretStore/memberBundle";
import type { PreviousSecretStore } from "../secretStore/existingSecrets";
import { NodeSecretStore } from "../secretStore/nodeSecretStore";
import { readBootstrapScript } from "./bootstrapScript";
import { renderOfflineCloudInit } from "./offlineCloudInit";
import { renderNodeUserData } from "./userData";

/** How each member's files reach its node. */
export interface NodeDelivery {
  /** Each member's node bundle (what its secret holds), sealed by the stack's signing key. Secret. */
  bundles: Record<string, pulumi.Output<string>>;
  /** The bundle-signing public key (base64 DER) every node's user data carries. Not a secret. */
  signingPublicKey: pulumi.Output<string>;
  /** The secrets, key and roles (unless `secretStore.enabled` is false). */
  store?: NodeSecretStore;
  /** Per member, user data that installs and times the bootstrap. Not a secret: it holds none. */
  userData?: Record<string, pulumi.Output<string>>;
  /** Per member, the opt-in offline user data that carries the files themselves. Secret. */
  offlineCloudInit?: Record<string, pulumi.Output<string>>;
}

/**
 * The bundles, the secret store that holds them, and the user data that makes each node fetch its own,
 * from the member material (certs, keys, EncryptionConfiguration) and the encryption keys. `s` decides
 * what exists; the files are rendered from `resolved` (member addresses known).
 */
export function createNodeDelivery(
  name: string,
  s: SecureEtcdSettings,
  resolved: pulumi.Output<SecureEtcdSettings>,
  material: (member: string) => pulumi.Output<NodeMaterial>,
  keys: pulumi.Output<EncryptionKeyMaterial[]>,
  parent: pulumi.Resource,
  previousSecretStore?: PreviousSecretStore,
): NodeDelivery {
  const perMember = <T>(f: (m: SecureEtcdSettings["members"][number]) => T): Record<string, T> =>
    Object.fromEntries(s.members.map((m) => [m.name, f(m)]));
  const signing = createBundleSigningKey(name, parent);
  const bundles = perMember((m) =>
    sealBundle(
      `${name}-${m.name}`,
      pulumi
        .all([material(m.name), keys, resolved])
        .apply(([mat, k, r]) => renderMemberBundleBody(r, memberOf(r, m.name), mat, k)),
      signing,
      parent,
    ),
  );
  const signingPublicKey = signing.publicKeyBase64;
  const offlineCloudInit = s.secretStore.offlineCloudInit
    ? perMember((m) =>
        pulumi.secret(
          pulumi.all([material(m.name), resolved]).apply(([mat, r]) => {
            const { files, dirs } = nodeFiles(r, memberOf(r, m.name), mat);
            return renderOfflineCloudInit(files, dirs);
          }),
        ),
      )
    : undefined;
  if (!s.secretStore.enabled) return { bundles, signingPublicKey, offlineCloudInit };

  const store = new NodeSecretStore(
    `${name}-secrets`,
    {
      clusterName: s.clusterName,
      environment: s.environment,
      members: s.members.map((m) => m.name),
      bundles,
      keyArchive: pulumi.secret(keys.apply((k) => renderKeyArchive(s.encryption.keys, k))),
      settings: s.secretStore,
      deployerPrincipalArns: s.deployerPrincipalArns,
      previous: previousSecretStore,
    },
    { parent },
  );
  const script = readBootstrapScript();
  const interval = s.secretStore.bootstrapIntervalMinutes;
  const userData = perMember((m) =>
    pulumi.all([store.region, signingPublicKey]).apply(([region, signingKey]) =>
      renderNodeUserData({
        member: m.name,
        cluster: s.clusterName,
        environment: s.environment,
        secretId: store.secretNames[m.name],
        region,
        signingKey,
        bootstrapIntervalMinutes: interval,
        script,
      }),
    ),
  );
  return { bundles, signingPublicKey, store, userData, offlineCloudInit };
}

function memberOf(s: SecureEtcdSettings, name: string): SecureEtcdSettings["members"][number] {
  return s.members.find((m) => m.name === name)!;
}
