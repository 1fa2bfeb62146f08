/**
 * encryption-config-status's command line, checked before any apiserver is asked: every problem names
 * its flag (exit 2).
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { parseFlags, UsageError } from "../shared/commandLine";

export const usage = [
  "usage: secure-etcd encryption-config-status --apiservers URL[,URL...]",
  "         [--expect FILE | --expect-hash sha256:HEX] [--kubeconfig FILE] [--kubectl PATH] [--json]",
  "Asks every kube-apiserver, each at its own address (not a load balancer), which EncryptionConfiguration",
  "it has loaded: the hash it reports in apiserver_encryption_config_controller_last_config_info",
  "(kube-apiserver 1.34+), read from /metrics with `kubectl get --raw` as the kubeconfig's user.",
  "--expect FILE: the config every apiserver must run (kube-apiserver hashes the file's bytes, so the",
  "same file as on the nodes). Without it, every apiserver must report the same hash.",
  "Exit 0: every apiserver has loaded it; 1: at least one lags or they differ (each named);",
  "2: bad arguments; 3: an apiserver could not be checked (unreachable, refused, no such metric, or",
  "the same apiserver reached at two addresses) — nothing is claimed for it.",
].join("\n");

export interface StatusArgs {
  apiservers: string[];
  /** What every apiserver must have loaded, and where that came from. */
  expected?: { hash: string; source: string };
  kubeconfig?: string;
  kubectl: string;
  json: boolean;
}

const flags = {
  apiservers: { type: "string" },
  expect: { type: "string" },
  "expect-hash": { type: "string" },
  kubeconfig: { type: "string" },
  kubectl: { type: "string", default: "kubectl" },
  json: { type: "boolean", default: false },
  help: { type: "boolean", default: false },
} as const;

/** The hash kube-apiserver reports for a config file: `sha256:` and the hex digest of its bytes. */
export const configFileHash = (bytes: Buffer) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

export function parseStatusArgs(argv: readonly string[]): StatusArgs | "help" {
  const v = parseFlags(argv, flags);
  if (v.help) return "help";
  if (v.expect !== undefined && v["expect-hash"] !== undefined)
    throw new UsageError("--expect-hash", "give either --expect FILE or --expect-hash, not both");
  return {
    apiservers: apiserverList(v.apiservers),
    expected:
      v.expect !== undefined
        ? { hash: configFileHash(readFile("--expect", v.expect)), source: v.expect }
        : v["expect-hash"] !== undefined
          ? { hash: expectHash(v["expect-hash"]), source: "--expect-hash" }
          : undefined,
    kubeconfig:
      v.kubeconfig === undefined ? undefined : (readFile("--kubeconfig", v.kubeconfig), v.kubeconfig),
    kubectl: v.kubectl,
    json: v.json,
  };
}

function apiserverList(v: string | undefined): string[] {
  if (v === undefined)
    throw new UsageError("--apiservers", "is required: each kube-apiserver's own https URL");
  const list = v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) throw new UsageError("--apiservers", "names no apiserver");
  const seen = new Set<string>();
  for (const u of list) {
    let url: URL;
    try {
      url = new URL(u);
    } catch {
      throw new UsageError("--apiservers", `${JSON.stringify(u)} is not a URL (e.g. https://10.0.1.10:6443)`);
    }
    if (url.protocol !== "https:") throw new UsageError("--apiservers", `${u} is not https`);
    if (url.pathname !== "/" || url.search)
      throw new UsageError("--apiservers", `${u}: give the apiserver's address only (scheme, host, port)`);
    if (seen.has(url.origin)) throw new UsageError("--apiservers", `${u} is listed twice`);
    seen.add(url.origin);
  }
  return list.map((u) => new URL(u).origin);
}

function readFile(flag: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new UsageError(
      flag,
      `${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
}

function expectHash(v: string): string {
  const m = /^sha256:([0-9a-fA-F]{64})$/.exec(v);
  if (!m) throw new UsageError("--expect-hash", `${JSON.stringify(v)} is not sha256:<64 hex digits>`);
  return `sha256:${m[1].toLowerCase()}`;
}
