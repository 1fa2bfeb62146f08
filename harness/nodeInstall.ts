/**
 * The rehearsal's members installed the way a node installs itself: each member's bundle (the program's
 * own `nodeBundles` output, sealed by the stack's signing key) is published to Secrets Manager on moto
 * (harness/motoNodeSecrets.ts: IAM enforcement on, each node with its own role carrying the package's node
 * policy), and the package's node bootstrap fetches it with the real AWS CLI and that role's credentials
 * into a scratch root per member. The cluster then starts from the files the bootstrap wrote.
 *
 * One change one host forces, listed as a remap: each peer cert is re-issued (same CA, key, subject,
 * usages, SANs) with IP 127.0.0.1 added and the bundle sealed again with the stack's signing key before
 * it is published — on one host every peer connects from 127.0.0.1, and etcd checks a peer's source
 * address against its cert's SANs (see clusterPlan.ts).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  parseNodeBundle,
  renderBundleBody,
  verifyBundleSeal,
  type NodeBundle,
} from "../components/secretStore/bundle";
import { memberSecretName } from "../components/secretStore/naming";
import { runBootstrap, type BootstrapResult } from "../tools/bootstrap";
import type { RenderedArtifacts } from "./artifacts";
import { sealWith, signingKeyOf, type SigningKey } from "./bundleSealing";
import type { InstalledNode } from "./clusterPlan";
import { startNodeSecretsOnMoto, type NodeSecretsOnMoto } from "./motoNodeSecrets";
import { certSans, loopbackSource, reissueWithExtraIps, type CaPair } from "./oneHostPki";

export interface InstalledMembers {
  /** Per member: its node root and the manifest the bootstrap wrote. */
  nodes: Record<string, InstalledNode>;
  /** moto (with the fault proxy) holding every member's secret. */
  aws: NodeSecretsOnMoto;
  secretIds: Record<string, string>;
  /** The stack's bundle-signing key, as the program (under the emulation) created it. */
  signing: SigningKey;
  /** The bootstrap's first run per member. */
  firstRuns: Record<string, BootstrapResult>;
  remaps: string[];
  /** Runs the bootstrap for a member again (as its timer does). */
  rerun(member: string): Promise<BootstrapResult>;
  stop(): Promise<void>;
}

/** The stack's signing key from the emulation's record of what the program created. */
function stackSigningKey(a: RenderedArtifacts): SigningKey {
  const name = `${a.settings.clusterName}-bundle-signing-key`;
  const key = a.emulation.resources.find(
    (r) => r.type === "tls:index/privateKey:PrivateKey" && r.name === name,
  );
  if (!key) throw new Error(`the program created no ${name}; cannot seal bundles`);
  return signingKeyOf(String(key.state.privateKeyPem), String(key.state.publicKeyPem));
}

export async function installMembersThroughBootstrap(
  a: RenderedArtifacts,
  workDir: string,
): Promise<InstalledMembers> {
  const ca: CaPair = { keyPem: a.caKeyPem, certPem: a.caCertPem };
  const s = a.settings;
  const signing = stackSigningKey(a);
  const aws = await startNodeSecretsOnMoto({ workDir: path.join(workDir, "moto") });
  const remaps: string[] = [];
  const nodes: Record<string, InstalledNode> = {};
  const secretIds: Record<string, string> = {};
  const firstRuns: Record<string, BootstrapResult> = {};
  // Not root here: the bootstrap writes files owned by whoever runs the rehearsal.
  const owner = `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`;
  const run = (member: string) =>
    runBootstrap({
      secretId: secretIds[member],
      region: aws.region,
      member,
      cluster: s.clusterName,
      environment: s.environment,
      signingKey: signing.publicKeyBase64,
      endpointUrl: aws.proxy.url,
      root: nodes[member].root,
      owner,
      env: aws.nodeEnv(secretIds[member]),
    });
  try {
    for (const m of s.members) {
      // The program's bundle must carry the stack's own seal before the harness touches it.
      const sealed = verifyBundleSeal(a.nodeBundles[m.name], signing.publicKeyBase64);
      const bundle = forOneHost(sealed, ca, (r) => remaps.push(`${m.name}: ${r}`));
      const text = bundle === sealed ? a.nodeBundles[m.name] : sealWith(renderBundleBody(bundle), signing);
      secretIds[m.name] = memberSecretName(s.clusterName, s.environment, m.name);
      await aws.addNode(m.name, secretIds[m.name], text);
      const root = path.join(workDir, "nodes", m.name);
      fs.mkdirSync(root, { recursive: true, mode: 0o700 });
      const manifest = parseNodeBundle(text).files.find((f) => f.role === "etcd-manifest");
      if (!manifest) throw new Error(`the bundle of ${m.name} has no etcd manifest`);
      nodes[m.name] = { root, manifestFile: path.join(root, manifest.path) };
      firstRuns[m.name] = await run(m.name);
      if (firstRuns[m.name].code !== 0)
        throw new Error(
          `the node bootstrap could not install ${m.name} (exit ${firstRuns[m.name].code}): ${firstRuns[m.name].stderr.trim()}`,
        );
    }
  } catch (e) {
    await aws.stop();
    throw e;
  }
  return { nodes, aws, secretIds, signing, firstRuns, remaps, rerun: run, stop: () => aws.stop() };
}

/** The bundle with its peer cert re-issued to also name 127.0.0.1 (the same object if it already does). */
function forOneHost<B extends NodeBundle>(b: B, ca: CaPair, note: (remap: string) => void): B {
  const cert = b.files.find((f) => f.role === "peer-cert");
  const key = b.files.find((f) => f.role === "peer-key");
  if (!cert || !key) throw new Error(`the bundle of ${b.member} has no peer cert and key`);
  if (certSans(cert.content).ipAddresses.includes(loopbackSource)) return b;
  note(
    `peer cert re-issued by the same CA with the same key, subject, usages and SANs plus IP ${loopbackSource}, ` +
      `and the bundle sealed again with the stack's signing key, before it is published (on one host every peer connects from ${loopbackSource})`,
  );
  const reissued = reissueWithExtraIps({
    certPem: cert.content,
    keyPem: key.content,
    ca,
    extraIps: [loopbackSource],
  });
  return { ...b, files: b.files.map((f) => (f === cert ? { ...f, content: reissued } : f)) };
}
