import { parse } from "yaml";

/**
 * A process's effective command-line settings, read the way the process itself reads them (Go's `flag`
 * package for etcd, `pflag` for kube-apiserver): `--f=v` or `-f=v`, `--f v` for a non-boolean flag, a bare
 * boolean `--f` meaning true, and the LAST occurrence winning. kube-bench is looser — it finds a flag by
 * substring (so `--cert-file` is "found" inside `--peer-cert-file`) and takes the first occurrence — so
 * these checks are at least as strict as kube-bench's.
 */
export interface Flags {
  /** The value in effect, or undefined when the flag is not set. */
  get(flag: string): string | undefined;
  /** Where the value came from, for the report: `flag` or the environment variable's name. */
  source(flag: string): string | undefined;
  /** True when this process ignores its flags and environment (etcd with `--config-file`). */
  readonly ignoredBecause?: string;
}

/** Parses a command line (argv without the program name) into flag → value, last occurrence winning. */
export function parseFlags(args: readonly string[], booleans: ReadonlySet<string>): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const m = /^--?([A-Za-z0-9][\w.-]*)(?:=(.*))?$/s.exec(args[i]);
    if (!m) continue; // a positional argument: etcd would refuse it, no check reads it
    const name = `--${m[1]}`;
    if (m[2] !== undefined) out.set(name, m[2]);
    else if (booleans.has(name) || i + 1 >= args.length || args[i + 1].startsWith("-")) out.set(name, "true");
    else out.set(name, args[++i]);
  }
  return out;
}

/** `--peer-cert-file` → `ETCD_PEER_CERT_FILE`: etcd reads every flag from the environment too. */
export const etcdEnvName = (flag: string) =>
  `ETCD_${flag.replace(/^--/, "").replace(/-/g, "_").toUpperCase()}`;

export interface ContainerSpec {
  name: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
}

/** The named container of a static pod manifest (YAML), or undefined. */
export function containerOf(manifestYaml: string, name: string): ContainerSpec | undefined {
  const pod = parse(manifestYaml) as { spec?: { containers?: ContainerSpec[] } } | null;
  return pod?.spec?.containers?.find((c) => c.name === name);
}

/**
 * etcd's effective settings from its container: a flag beats its `ETCD_*` variable (etcd warns and keeps
 * the flag); with `--config-file` (or ETCD_CONFIG_FILE) etcd ignores both, so nothing here is in effect.
 * An env value from a ConfigMap/Secret (`valueFrom`) is set but unreadable: it reads as "(valueFrom)".
 */
export function etcdFlags(c: ContainerSpec, booleans: ReadonlySet<string>): Flags {
  const argv = [...(c.command ?? []), ...(c.args ?? [])];
  const flags = parseFlags(argv[0] === "etcd" || argv[0]?.endsWith("/etcd") ? argv.slice(1) : argv, booleans);
  const env = new Map((c.env ?? []).map((e) => [e.name, e.value ?? (e.valueFrom ? "(valueFrom)" : "")]));
  const configFile = flags.get("--config-file") ?? env.get(etcdEnvName("--config-file"));
  return {
    get: (f) => flags.get(f) ?? env.get(etcdEnvName(f)),
    source: (f) => (flags.has(f) ? "flag" : env.has(etcdEnvName(f)) ? etcdEnvName(f) : undefined),
    ignoredBecause: configFile
      ? `etcd runs with --config-file=${configFile}, which makes it ignore every flag and ETCD_* variable: the manifest does not show what is in effect`
      : undefined,
  };
}

/** kube-apiserver's settings from a flag list (it has no env fallback for these flags). */
export function plainFlags(args: readonly string[], booleans: ReadonlySet<string> = new Set()): Flags {
  const flags = parseFlags(args, booleans);
  return { get: (f) => flags.get(f), source: (f) => (flags.has(f) ? "flag" : undefined) };
}
