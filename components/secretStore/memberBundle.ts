import type { EtcdMemberSpec, SecureEtcdSettings } from "../config/schema";
import { orderKeys, type EncryptionKeyMaterial } from "../encryption/render";
import { nodeFiles, type NodeMaterial } from "../manifests/nodeFiles";
import { renderBundleBody, sealedBundle } from "./bundle";

/**
 * The body of what one member's secret holds (everything but the sealed `end` line): its node files
 * (certs, keys, the EncryptionConfiguration, the static pod manifest) in the node bundle format, with
 * every key's name and state — archived keys too, so a node that missed rotation steps can tell. Pure;
 * the result embeds private keys (a secret).
 */
export function renderMemberBundleBody(
  s: SecureEtcdSettings,
  member: EtcdMemberSpec,
  material: NodeMaterial,
  keys: EncryptionKeyMaterial[],
): string {
  const { files, dirs } = nodeFiles(s, member, material);
  return renderBundleBody({
    cluster: s.clusterName,
    environment: s.environment,
    member: member.name,
    keys: orderKeys(keys).map((k) => ({ state: k.state, provider: k.provider, name: k.name })),
    dirs,
    files,
  });
}

/** The member's bundle with the given seal, or unsealed (for tools that read its files and modes). */
export function renderMemberBundle(
  s: SecureEtcdSettings,
  member: EtcdMemberSpec,
  material: NodeMaterial,
  keys: EncryptionKeyMaterial[],
  sealCertPem = "",
): string {
  return sealedBundle(renderMemberBundleBody(s, member, material, keys), sealCertPem);
}
