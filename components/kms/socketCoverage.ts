import * as path from "node:path";
import { parse } from "yaml";
import { socketPathOf } from "./naming";

/*
 * "Every kms provider has a plugin listening on its socket, and kube-apiserver can reach that socket":
 * the check that turns a kube-apiserver whose KMS provider can never become healthy (Secrets cannot be
 * written) into an error at preview, naming the key. Pure; used by SecureEtcd at preview, the CIS report
 * and the policy pack, on what was rendered (the flags and mounts as written, not the plan behind them).
 */

export interface KmsProviderEntry {
  /** The kms provider's name (the key name in `k8s:enc:kms:v2:<name>:`). */
  name: string;
  endpoint: string;
}

export interface RenderedKmsPlugin {
  key: string;
  /** The plugin's command line as rendered. */
  command: readonly string[];
  /** Host directories the plugin's pod mounts at the same path. */
  mountedDirs: readonly string[];
}

export interface SocketProblem {
  key: string;
  message: string;
}

/** The kms providers of an EncryptionConfiguration (YAML or JSON text), in order; no key material. */
export function kmsProvidersOf(config: string): KmsProviderEntry[] {
  const doc = parse(config) as {
    resources?: { providers?: { kms?: { name?: unknown; endpoint?: unknown } }[] }[];
  } | null;
  const out = new Map<string, KmsProviderEntry>();
  for (const r of doc?.resources ?? [])
    for (const p of r.providers ?? [])
      if (p?.kms) {
        const e = { name: String(p.kms.name ?? ""), endpoint: String(p.kms.endpoint ?? "") };
        out.set(`${e.name}\u0000${e.endpoint}`, e);
      }
  return [...out.values()];
}

/** Every `--listen` of a command (comma lists and repeats, as aws-encryption-provider reads them). */
export function listenPathsOf(command: readonly string[]): string[] {
  const out: string[] = [];
  command.forEach((a, i) => {
    const v = a.startsWith("--listen=") ? a.slice(9) : a === "--listen" ? command[i + 1] : undefined;
    if (v !== undefined) out.push(...v.split(",").filter(Boolean));
  });
  return out;
}

/** hostPath volumes of a kube-apiserver RFC 6902 patch (YAML) that are also mounted into its container. */
export function apiserverMountedDirsOf(patchYaml: string): string[] {
  const ops = (parse(patchYaml) ?? []) as { op?: string; path?: string; value?: Record<string, unknown> }[];
  const volumes = new Map<string, string>();
  const mounts = new Map<string, string>();
  for (const o of ops) {
    const v = o.value ?? {};
    if (o.path === "/spec/volumes/-" && typeof v.name === "string") {
      const hp = v.hostPath as { path?: unknown } | undefined;
      if (typeof hp?.path === "string") volumes.set(v.name, hp.path);
    }
    if (
      /\/volumeMounts\/-$/.test(o.path ?? "") &&
      typeof v.name === "string" &&
      typeof v.mountPath === "string"
    )
      mounts.set(v.name, v.mountPath);
  }
  return [...volumes].filter(([name, host]) => mounts.get(name) === host).map(([, host]) => host);
}

/**
 * Problems, per kms provider: no plugin listens on its socket; the plugin that does serves another key
 * (its pod would answer for the wrong AWS key); the plugin or kube-apiserver does not mount the socket's
 * directory. `apiserverMountedDirs` undefined skips the kube-apiserver side.
 */
export function kmsSocketProblems(
  providers: readonly KmsProviderEntry[],
  plugins: readonly RenderedKmsPlugin[],
  apiserverMountedDirs?: readonly string[],
): SocketProblem[] {
  const out: SocketProblem[] = [];
  for (const p of providers) {
    let socket: string;
    try {
      socket = socketPathOf(p.endpoint);
    } catch {
      out.push({ key: p.name, message: `endpoint ${JSON.stringify(p.endpoint)} is not a unix:// socket` });
      continue;
    }
    const dir = path.posix.dirname(socket);
    const listening = plugins.filter((q) => listenPathsOf(q.command).includes(socket));
    if (listening.length === 0) {
      out.push({
        key: p.name,
        message: `no rendered KMS plugin listens on ${p.endpoint}: kube-apiserver's kms provider ${JSON.stringify(p.name)} could never become healthy and no Secret could be written`,
      });
      continue;
    }
    for (const q of listening) {
      if (q.key !== p.name)
        out.push({
          key: p.name,
          message: `the plugin listening on ${p.endpoint} is kms key ${JSON.stringify(q.key)}'s: it would answer with another AWS key`,
        });
      if (!q.mountedDirs.includes(dir))
        out.push({ key: p.name, message: `the plugin of ${JSON.stringify(q.key)} does not mount ${dir}` });
    }
    if (apiserverMountedDirs && !apiserverMountedDirs.includes(dir))
      out.push({
        key: p.name,
        message: `kube-apiserver does not mount ${dir}, so it cannot reach the plugin's socket ${socket}`,
      });
  }
  return out;
}

/** The plugin's command and mounts from a rendered static pod manifest. */
export function renderedKmsPluginOf(key: string, manifest: string): RenderedKmsPlugin {
  const pod = parse(manifest) as {
    spec?: {
      containers?: { command?: unknown[]; volumeMounts?: { name?: string; mountPath?: string }[] }[];
      volumes?: { name?: string; hostPath?: { path?: string } }[];
    };
  };
  const c = pod?.spec?.containers?.[0];
  const hostPaths = new Map((pod?.spec?.volumes ?? []).map((v) => [v.name, v.hostPath?.path]));
  return {
    key,
    command: (c?.command ?? []).map(String),
    mountedDirs: (c?.volumeMounts ?? [])
      .filter((m) => m.mountPath !== undefined && hostPaths.get(m.name) === m.mountPath)
      .map((m) => m.mountPath!),
  };
}
