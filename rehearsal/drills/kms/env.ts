/**
 * What every KMS v2 drill runs on: moto's KMS (and S3) on loopback, a fault proxy in front of it (real
 * KMS refuses a disabled key; moto 5.2.6 does not), one AWS key per kms key created in moto, the KMS v2
 * test plugin started with the command the node bootstrap installed (harness/kmsPlugin.ts lists the
 * remaps), and three real kube-apiservers that all dial one plugin per key (one host: one socket path;
 * on nodes each has its own plugin). The EncryptionConfigurations are the component's renderer's, with
 * the node's socket directory moved to the drill's (listed once).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { CreateKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { parse } from "yaml";
import type { SecureEtcdSettings } from "../../../components/config/schema";
import { kmsPluginManifestFile } from "../../../components/kms/naming";
import { kmsPluginCommandOf } from "../../../components/kms/pluginManifest";
import type { RunningCluster } from "../../../harness/cluster";
import type { DrillKey, KmsDrillKey, StackKeys } from "../../../harness/encryptionKeys";
import { startFaultProxy, type FaultProxy } from "../../../harness/faultProxy";
import { startKmsPlugin, type RunningKmsPlugin } from "../../../harness/kmsPlugin";
import { layout } from "../../../harness/layout";
import { startMoto, type MotoServer } from "../../../harness/moto";

/** One kms key of the drills: its AWS key in moto, the command rendered for it, its plugin. */
export interface DrillEnvelopeKey {
  key: KmsDrillKey;
  arn: string;
  keyId: string;
  /** The plugin's command as rendered (binary first). */
  command: string[];
  /** Where that command came from (the file the node bootstrap installed, or the renderer). */
  source: string;
  plugin?: RunningKmsPlugin;
}

export interface KmsEnv {
  moto: MotoServer;
  /** Between every plugin and moto. */
  proxy: FaultProxy;
  /** The region the rendered plugin command names (moto creates the keys there). */
  region: string;
  /** The drill's plugin socket directory (stands for the node's /var/run/kmsplugin). */
  socketDir: string;
  workDir: string;
  keys: Map<string, DrillEnvelopeKey>;
  remaps: string[];
  kms(): KMSClient;
  /** Creates the AWS key for a kms key and records the command rendered for it. */
  addKey(name: string, command: string[], source: string): Promise<DrillEnvelopeKey>;
  /** Starts (or restarts) a key's plugin with its rendered command. */
  startPlugin(name: string): Promise<RunningKmsPlugin>;
  stopPlugin(name: string): Promise<void>;
  /**
   * Another instance of a key's plugin on its own socket directory — another node's plugin, for a drill
   * that stops one node's and not the other's. Stopped with the env.
   */
  startNodePlugin(name: string, node: string): Promise<{ plugin: RunningKmsPlugin; endpoint: string }>;
  /** A rendered EncryptionConfiguration with the node's socket paths moved to the drill's. */
  remapConfig(yaml: string): string;
  stop(): Promise<void>;
}

const flagValue = (command: readonly string[], flag: string) =>
  command.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);

/** The plugin manifest the node bootstrap installed on the first member (else the artifacts'). */
export function installedPluginCommand(
  dir: string,
  settings: SecureEtcdSettings,
  key: string,
  nodeRoot?: string,
): { command: string[]; source: string } {
  const installed = nodeRoot
    ? path.join(nodeRoot, settings.paths.manifestDir, kmsPluginManifestFile(key))
    : undefined;
  const file = installed && fs.existsSync(installed) ? installed : layout.kmsPluginManifest(dir, key);
  return { command: kmsPluginCommandOf(fs.readFileSync(file, "utf8")), source: file };
}

export async function startKmsEnv(o: { workDir: string; region: string; host: string }): Promise<KmsEnv> {
  fs.mkdirSync(o.workDir, { recursive: true, mode: 0o700 });
  const moto = await startMoto({ workDir: o.workDir, region: o.region });
  const proxy = await startFaultProxy(moto.endpoint);
  const socketDir = path.join(o.workDir, "kmsplugin");
  fs.mkdirSync(socketDir, { recursive: true, mode: 0o700 });
  const keys = new Map<string, DrillEnvelopeKey>();
  const extra: RunningKmsPlugin[] = [];
  const remaps: string[] = [
    `kms: the node's /var/run/kmsplugin → ${socketDir} in every EncryptionConfiguration and --listen (one host)`,
    "kms: the three kube-apiservers dial one plugin per kms key (one host, one socket path; on nodes each node runs its own)",
    `kms: AWS KMS → moto ${moto.endpoint} (through a fault proxy ${proxy.url}, which answers DisabledException as AWS does while a key is disabled: moto does not)`,
  ];
  const kms = () => new KMSClient({ ...moto.clientConfig(), region: o.region });
  const env: KmsEnv = {
    moto,
    proxy,
    region: o.region,
    socketDir,
    workDir: o.workDir,
    keys,
    remaps,
    kms,
    async addKey(name, command, source) {
      const made = await kms().send(
        new CreateKeyCommand({
          Description: `secure-etcd drill envelope key ${name}`,
          Tags: [{ TagKey: "secure-etcd:encryption-key", TagValue: name }],
        }),
      );
      const listen = flagValue(command, "--listen");
      if (!listen) throw new Error(`the plugin command rendered for ${name} has no --listen`);
      const k: DrillEnvelopeKey = {
        key: {
          name,
          provider: "kms",
          endpoint: `unix://${path.join(socketDir, path.basename(listen))}`,
          timeout: "3s",
        },
        arn: made.KeyMetadata!.Arn!,
        keyId: made.KeyMetadata!.KeyId!,
        command,
        source,
      };
      keys.set(name, k);
      return k;
    },
    async startPlugin(name) {
      const k = keys.get(name);
      if (!k) throw new Error(`no drill key ${name}`);
      if (k.plugin && k.plugin.proc.exitStatus === undefined) return k.plugin;
      k.plugin = await startKmsPlugin({
        command: k.command,
        host: o.host,
        socketDir,
        kmsEndpoint: proxy.url,
        keyArn: k.arn,
        workDir: path.join(o.workDir, "logs"),
        env: moto.env(),
        name: `kms-plugin-${name}`,
      });
      for (const r of k.plugin.remaps) if (!remaps.includes(r)) remaps.push(r);
      return k.plugin;
    },
    async stopPlugin(name) {
      await keys.get(name)?.plugin?.stop();
    },
    async startNodePlugin(name, node) {
      const k = keys.get(name);
      if (!k) throw new Error(`no drill key ${name}`);
      const dir = path.join(o.workDir, `kmsplugin-${node}`);
      const plugin = await startKmsPlugin({
        command: k.command,
        host: o.host,
        socketDir: dir,
        kmsEndpoint: proxy.url,
        keyArn: k.arn,
        workDir: path.join(o.workDir, "logs"),
        env: moto.env(),
        name: `kms-plugin-${name}-${node}`,
      });
      extra.push(plugin);
      return { plugin, endpoint: `unix://${plugin.socketPaths[0]}` };
    },
    remapConfig(yaml) {
      return yaml.replace(
        /unix:\/\/(\/[^\s"']+)/g,
        (_, p: string) => `unix://${path.join(socketDir, path.basename(p))}`,
      );
    },
    async stop() {
      for (const p of extra) await p.stop();
      for (const k of keys.values()) await k.plugin?.stop();
      await proxy.stop();
      await moto.stop();
    },
  };
  return env;
}

/** The stack's local keys with their material, from the rendered EncryptionConfiguration. */
export function renderedLocalKeys(dir: string): DrillKey[] {
  const doc = parse(fs.readFileSync(layout.encryptionConfig(dir), "utf8")) as {
    resources: { providers: Record<string, { keys?: { name: string; secret: string }[] }>[] }[];
  };
  const out: DrillKey[] = [];
  for (const entry of doc.resources[0]?.providers ?? [])
    for (const provider of ["secretbox", "aescbc", "aesgcm"] as const)
      for (const k of entry[provider]?.keys ?? [])
        out.push({ name: k.name, provider, secretBase64: k.secret });
  return out;
}

/** The key set a drill context reports as "the stack's": here the pre-kms history (local keys only). */
export function historyStack(settings: SecureEtcdSettings, local: DrillKey[]): StackKeys {
  const states = Object.fromEntries(local.map((k) => [k.name, "primary" as const]));
  if (local.length !== 1)
    throw new Error(
      `the kms drills expect one local (former) key beside the kms key; the stack has ${local.length}`,
    );
  return {
    keys: local,
    states,
    primary: local[0],
    resources: [...settings.encryption.resources],
    identityFallback: settings.encryption.identityFallback,
  };
}

export type { RunningCluster };
