import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { settingsFromStackConfig, type SecureEtcdSettings } from "../components/config";
import { clientRoles } from "../components/secureEtcd";
import { ProviderEmulation } from "./emulation";
import { isLoopbackIp } from "../tools/shared/loopback";
import { layout } from "./layout";
import { runProgram } from "./program";
import { readStackConfig } from "./stackFiles";

export interface RenderArtifactsOptions {
  stack: string;
  outDir: string;
  /**
   * Move members that are not on loopback onto 127.0.0.<11+i> (so a real cluster can run on this machine).
   * Certs are then issued for the loopback addresses; every move is listed in `remaps`.
   */
  mapMembersToLoopback?: boolean;
  /** Stack config values to override (`secure-etcd:keyAlgorithm` → `RSA-4096`), e.g. to rehearse every key algorithm. */
  configOverrides?: Record<string, string>;
  now?: () => Date;
}

export interface RenderedArtifacts {
  stack: string;
  outDir: string;
  settings: SecureEtcdSettings;
  /** Every change made to the stack's config so it runs on one machine. */
  remaps: string[];
  /** Files written, relative to outDir, with their modes. */
  files: { path: string; mode: number }[];
  /** Kept in memory only (never written): drills need it to sign e.g. an expired client cert. */
  caKeyPem: string;
  caCertPem: string;
  /** Each member's node bundle, as its Secrets Manager secret holds it (in memory only: it has keys). */
  nodeBundles: Record<string, string>;
  emulation: ProviderEmulation;
}

/** Resolves any Output (or nested record of Outputs) to its plain value. */
export function resolved<T>(o: unknown): Promise<T> {
  return new Promise((resolve) =>
    (pulumi.output(o as pulumi.Input<object>) as pulumi.Output<T>).apply(resolve),
  );
}

/**
 * Runs the real program for a stack under the provider emulation (real keys and certs) and writes every
 * artifact in the layout the manifests' node paths map to. Throws ConfigError for a bad stack config.
 */
export async function renderArtifacts(o: RenderArtifactsOptions): Promise<RenderedArtifacts> {
  const config = { ...readStackConfig(o.stack), ...(o.configOverrides ?? {}) };
  const original = settingsFromStackConfig(config, o.stack); // validates before anything runs
  const remaps: string[] = [];
  if (o.mapMembersToLoopback && !original.members.every((m) => isLoopbackIp(m.ip))) {
    const moved = original.members.map((m, i) => {
      const ip = `127.0.0.${11 + i}`;
      remaps.push(`member ${m.name}: ${m.ip} → ${ip} (certs issued for ${ip})`);
      return { name: m.name, ip, dnsNames: m.dnsNames };
    });
    config["secure-etcd:members"] = JSON.stringify(moved);
  }
  const settings = settingsFromStackConfig(config, o.stack);

  const emulation = new ProviderEmulation({ now: o.now });
  const { outputs } = await runProgram(o.stack, emulation, config);
  const out = (await resolved<Record<string, unknown>>(outputs)) as {
    caCertPem: string;
    memberCertificates: Record<
      string,
      { serverCertPem: string; serverKeyPem: string; peerCertPem: string; peerKeyPem: string }
    >;
    clientCertificates: Record<string, { certPem: string; keyPem: string }>;
    encryptionConfiguration: string;
    etcdManifests: Record<string, string>;
    kubeApiserverPatch: string;
    kubeadmPatches: Record<string, string>;
    kubeadmClusterConfiguration: string;
    nodeBundles: Record<string, string>;
    kmsPluginManifests?: Record<string, string>;
  };

  const files: { path: string; mode: number }[] = [];
  const write = (file: string, content: string, mode: number) => {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    fs.writeFileSync(file, content, { mode });
    fs.chmodSync(file, mode); // an existing file keeps its old mode otherwise
    files.push({ path: path.relative(o.outDir, file), mode });
  };
  fs.mkdirSync(o.outDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(o.outDir, 0o700);
  const dir = o.outDir;
  write(layout.caCert(dir), out.caCertPem, 0o644);
  for (const m of settings.members) {
    const c = out.memberCertificates[m.name];
    write(layout.member(dir, m.name, "server", "crt"), c.serverCertPem, 0o644);
    write(layout.member(dir, m.name, "server", "key"), c.serverKeyPem, 0o600);
    write(layout.member(dir, m.name, "peer", "crt"), c.peerCertPem, 0o644);
    write(layout.member(dir, m.name, "peer", "key"), c.peerKeyPem, 0o600);
    write(layout.etcdManifest(dir, m.name), out.etcdManifests[m.name], 0o600);
  }
  for (const role of clientRoles) {
    write(layout.client(dir, role, "crt"), out.clientCertificates[role].certPem, 0o644);
    write(layout.client(dir, role, "key"), out.clientCertificates[role].keyPem, 0o600);
  }
  write(layout.encryptionConfig(dir), out.encryptionConfiguration, 0o600);
  write(layout.apiserverPatch(dir), out.kubeApiserverPatch, 0o600);
  for (const [name, text] of Object.entries(out.kubeadmPatches))
    write(path.join(layout.kubeadmPatches(dir), name), text, 0o600);
  write(layout.kubeadmConfig(dir), out.kubeadmClusterConfiguration, 0o600);
  for (const [key, manifest] of Object.entries(out.kmsPluginManifests ?? {}))
    write(layout.kmsPluginManifest(dir, key), manifest, 0o600);
  for (const d of walkDirs(dir)) fs.chmodSync(d, 0o700);

  const caKey = emulation.resources.find(
    (r) => r.type === "tls:index/privateKey:PrivateKey" && r.name === `${settings.clusterName}-ca-key`,
  );
  if (!caKey) throw new Error("the program created no CA key; cannot continue");
  return {
    stack: o.stack,
    outDir: dir,
    settings,
    remaps,
    files,
    caKeyPem: String(caKey.state.privateKeyPem),
    caCertPem: out.caCertPem,
    nodeBundles: out.nodeBundles,
    emulation,
  };
}

function walkDirs(dir: string): string[] {
  const out = [dir];
  for (const e of fs.readdirSync(dir, { withFileTypes: true }))
    if (e.isDirectory()) out.push(...walkDirs(path.join(dir, e.name)));
  return out;
}
