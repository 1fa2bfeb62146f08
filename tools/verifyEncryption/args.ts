/**
 * verify-encryption's command line, checked before anything connects: every problem names its flag
 * (exit 2), so a typo never turns into a scan that "passes" over the wrong prefix or resources.
 */
import * as fs from "node:fs";
import { defaults } from "../../components/config/constants";
import { parseFlags, UsageError } from "../shared/commandLine";
import type { EtcdctlConnection } from "./etcdctl";
import { defaultEtcdPrefix } from "./objectKeys";
import type { ScanOptions } from "./scan";

export const usage = [
  "usage: secure-etcd verify-encryption --endpoints URLS --cacert FILE --cert FILE --key FILE",
  "         [--resources secrets,configmaps] [--retiring KEYNAME] [--json]",
  "         [--etcd-prefix /registry] [--page-size 500] [--etcdctl PATH]",
  "Scans what kube-apiserver stored in etcd (reads values, never prints one) and counts them per",
  "provider and key. Exit 0: nothing in plaintext and the --retiring key encrypts nothing;",
  "1: plaintext found (each named) or the retiring key is still in use; 2: bad arguments;",
  "3: etcd could not be scanned (nothing was verified).",
].join("\n");

/** A bad argument: the shared UsageError, so every command names the flag the same way (exit 2). */
export class ArgumentError extends UsageError {}

export interface VerifyArgs {
  json: boolean;
  connection: EtcdctlConnection;
  scan: ScanOptions;
}

const resourceSegment = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

const verifyFlags = {
  endpoints: { type: "string" },
  cacert: { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
  resources: { type: "string", default: defaults.encryptedResources.join(",") },
  retiring: { type: "string" },
  json: { type: "boolean", default: false },
  "etcd-prefix": { type: "string", default: defaultEtcdPrefix },
  "page-size": { type: "string", default: "500" },
  etcdctl: { type: "string", default: "etcdctl" },
  help: { type: "boolean", default: false },
} as const;

/** The checked arguments, or "help" for --help. Throws a UsageError naming the flag. */
export function parseVerifyArgs(argv: readonly string[]): VerifyArgs | "help" {
  // The shared rule: each flag once (a second --retiring or --endpoints is refused, not last-wins).
  const values = parseFlags(argv, verifyFlags);
  if (values.help) return "help";
  return {
    json: values.json!,
    connection: {
      etcdctl: nonEmpty("--etcdctl", values.etcdctl),
      endpoints: endpointList(values.endpoints),
      cacert: readableFile("--cacert", values.cacert),
      cert: readableFile("--cert", values.cert),
      key: readableFile("--key", values.key),
    },
    scan: {
      resources: resourceList(values.resources!),
      retiring: values.retiring === undefined ? undefined : keyName(values.retiring),
      etcdPrefix: etcdPrefix(values["etcd-prefix"]!),
      pageSize: pageSize(values["page-size"]!),
    },
  };
}

function nonEmpty(flag: string, v: string | undefined): string {
  if (v === undefined || v.trim() === "") throw new ArgumentError(flag, "is required");
  return v;
}

function endpointList(v: string | undefined): string[] {
  const list = nonEmpty("--endpoints", v)
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const u of list) {
    let url: URL;
    try {
      url = new URL(u);
    } catch {
      throw new ArgumentError(
        "--endpoints",
        `${JSON.stringify(u)} is not a URL (e.g. https://10.0.1.10:2379)`,
      );
    }
    if (url.protocol !== "https:")
      throw new ArgumentError(
        "--endpoints",
        `${u} is not https: a secured etcd serves clients over mutual TLS`,
      );
  }
  if (list.length === 0) throw new ArgumentError("--endpoints", "is required");
  return list;
}

function readableFile(flag: string, v: string | undefined): string {
  const file = nonEmpty(flag, v);
  try {
    fs.accessSync(file, fs.constants.R_OK);
    if (!fs.statSync(file).isFile()) throw new Error("not a file");
  } catch (e) {
    throw new ArgumentError(
      flag,
      `${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  return file;
}

function resourceList(v: string): string[] {
  const list = v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) throw new ArgumentError("--resources", "names no resource");
  for (const r of list)
    if (!resourceSegment.test(r))
      throw new ArgumentError(
        "--resources",
        `${JSON.stringify(r)} is not a resource as etcd keys name it (lowercase plural, e.g. secrets)`,
      );
  return [...new Set(list)];
}

function keyName(v: string): string {
  if (v === "" || /[:\s]/.test(v))
    throw new ArgumentError("--retiring", `${JSON.stringify(v)} is not a key name (no colons or spaces)`);
  return v;
}

function etcdPrefix(v: string): string {
  if (!/^\/[^\s]*$/.test(v) || v === "/")
    throw new ArgumentError(
      "--etcd-prefix",
      `${JSON.stringify(v)} must be an absolute key prefix like /registry`,
    );
  return v.replace(/\/+$/, "");
}

function pageSize(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 2 || n > 10_000)
    throw new ArgumentError("--page-size", `${JSON.stringify(v)} must be a whole number from 2 to 10000`);
  return n;
}
