/**
 * The rehearsal's members installed the way a node installs itself: each member's bundle (the program's
 * own `nodeBundles` output, what its Secrets Manager secret holds) is published to a loopback endpoint
 * that speaks the Secrets Manager wire protocol, and the package's node bootstrap fetches it with the
 * real AWS CLI into a scratch root per member. The cluster then starts from the files the bootstrap wrote.
 *
 * One change one host forces, listed as a remap: each peer cert is re-issued (same CA, key, subject,
 * usages, SANs) with IP 127.0.0.1 added before it is published — on one host every peer connects from
 * 127.0.0.1, and etcd checks a peer's source address against its cert's SANs (see clusterPlan.ts).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseNodeBundle, renderNodeBundle, type NodeBundle } from "../components/secretStore/bundle";
import { memberSecretName } from "../components/secretStore/naming";
import { runBootstrap, type BootstrapResult } from "../tools/bootstrap";
import type { RenderedArtifacts } from "./artifacts";
import type { InstalledNode } from "./clusterPlan";
import { startLocalSecretsManager, type LocalSecretsManager } from "./localSecretsManager";
import { certSans, loopbackSource, reissueWithExtraIps, type CaPair } from "./oneHostPki";

export interface InstalledMembers {
  /** Per member: its node root and the manifest the bootstrap wrote. */
  nodes: Record<string, InstalledNode>;
  /** The loopback Secrets Manager holding every member's secret; stop it when done. */
  secrets: LocalSecretsManager;
  secretIds: Record<string, string>;
  /** The bootstrap's first run per member. */
  firstRuns: Record<string, BootstrapResult>;
  remaps: string[];
  /** Runs the bootstrap for a member again (as its timer does). */
  rerun(member: string): Promise<BootstrapResult>;
}

/** What the bootstrap needs to reach the loopback endpoint: dummy credentials, no instance metadata. */
const awsEnv = {
  AWS_ACCESS_KEY_ID: "rehearsal",
  AWS_SECRET_ACCESS_KEY: "rehearsal",
  AWS_EC2_METADATA_DISABLED: "true",
  AWS_PAGER: "",
};

export async function installMembersThroughBootstrap(
  a: RenderedArtifacts,
  workDir: string,
): Promise<InstalledMembers> {
  const ca: CaPair = { keyPem: a.caKeyPem, certPem: a.caCertPem };
  const secrets = await startLocalSecretsManager();
  const s = a.settings;
  const remaps: string[] = [];
  const nodes: Record<string, InstalledNode> = {};
  const secretIds: Record<string, string> = {};
  const firstRuns: Record<string, BootstrapResult> = {};
  // Not root here: the bootstrap writes files owned by whoever runs the rehearsal.
  const owner = `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`;
  const run = (member: string) =>
    runBootstrap({
      secretId: secretIds[member],
      region: secrets.region,
      member,
      endpointUrl: secrets.url,
      root: nodes[member].root,
      owner,
      env: awsEnv,
    });
  try {
    for (const m of s.members) {
      const bundle = forOneHost(parseNodeBundle(a.nodeBundles[m.name]), ca, (r) =>
        remaps.push(`${m.name}: ${r}`),
      );
      secretIds[m.name] = memberSecretName(s.clusterName, s.environment, m.name);
      secrets.put(secretIds[m.name], renderNodeBundle(bundle));
      const root = path.join(workDir, "nodes", m.name);
      fs.mkdirSync(root, { recursive: true, mode: 0o700 });
      const manifest = bundle.files.find((f) => f.role === "etcd-manifest");
      if (!manifest) throw new Error(`the bundle of ${m.name} has no etcd manifest`);
      nodes[m.name] = { root, manifestFile: path.join(root, manifest.path) };
      firstRuns[m.name] = await run(m.name);
      if (firstRuns[m.name].code !== 0)
        throw new Error(
          `the node bootstrap could not install ${m.name} (exit ${firstRuns[m.name].code}): ${firstRuns[m.name].stderr.trim()}`,
        );
    }
  } catch (e) {
    await secrets.stop();
    throw e;
  }
  return { nodes, secrets, secretIds, firstRuns, remaps, rerun: run };
}

/** The bundle with its peer cert re-issued to also name 127.0.0.1 (unless it already does). */
function forOneHost(b: NodeBundle, ca: CaPair, note: (remap: string) => void): NodeBundle {
  const cert = b.files.find((f) => f.role === "peer-cert");
  const key = b.files.find((f) => f.role === "peer-key");
  if (!cert || !key) throw new Error(`the bundle of ${b.member} has no peer cert and key`);
  if (certSans(cert.content).ipAddresses.includes(loopbackSource)) return b;
  note(
    `peer cert re-issued by the same CA with the same key, subject, usages and SANs plus IP ${loopbackSource} ` +
      `before it is published (on one host every peer connects from ${loopbackSource})`,
  );
  const reissued = reissueWithExtraIps({
    certPem: cert.content,
    keyPem: key.content,
    ca,
    extraIps: [loopbackSource],
  });
  return { ...b, files: b.files.map((f) => (f === cert ? { ...f, content: reissued } : f)) };
}
