import type { EtcdMemberSpec, SecureEtcdSettings } from "../config/schema";
import { inEncryptionConfiguration, orderKeys, type EncryptionKeyMaterial } from "../encryption/render";
import { nodeFiles, type NodeMaterial } from "../manifests/nodeFiles";
import { renderNodeBundle } from "./bundle";

/**
 * What one member's secret holds: its node files (certs, keys, the EncryptionConfiguration, the static pod
 * manifest) in the node bundle format, with the EncryptionConfiguration's key names and states in its
 * order. Pure; the result embeds private keys (a secret).
 */
export function renderMemberBundle(
  s: SecureEtcdSettings,
  member: EtcdMemberSpec,
  material: NodeMaterial,
  keys: EncryptionKeyMaterial[],
): string {
  const { files, dirs } = nodeFiles(s, member, material);
  return renderNodeBundle({
    cluster: s.clusterName,
    environment: s.environment,
    member: member.name,
    keys: orderKeys(keys)
      .filter(inEncryptionConfiguration)
      .map((k) => ({ state: k.state, provider: k.provider, name: k.name })),
    dirs,
    files,
  });
}
