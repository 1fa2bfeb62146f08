/**
 * Where the upstream binaries are: the builds of upstream/binaries.json (scripts/build-upstream.mjs puts
 * them in <cache>/bin/<id>-<version>/), Debian's etcd 3.4 as the 3.4 row, and the Python virtualenv
 * (moto, parliament) setup makes from upstream/python/requirements.txt. One place maps a version a stack
 * asks for ("3.6.8") to the binary that runs it (the built 3.6.17): the same minor's newest build.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { repoRoot } from "./stackFiles";

interface BinarySpec {
  package: string;
  versionArgs: string[];
}
interface BuildRow {
  id: string;
  module: string;
  version: string;
  binaries: Record<string, BinarySpec>;
}

const upstreamDir = path.join(repoRoot, "upstream");
const table = (): BuildRow[] =>
  (JSON.parse(fs.readFileSync(path.join(upstreamDir, "binaries.json"), "utf8")) as { builds: BuildRow[] })
    .builds;

/** The same rule as scripts/build-upstream.mjs cacheRoot(). */
export function cacheRoot(): string {
  if (process.env.SECURE_ETCD_CACHE) return path.resolve(process.env.SECURE_ETCD_CACHE);
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "secure-etcd");
}

/** Thrown when a binary setup builds is not there: says what to run. */
export class UpstreamMissing extends Error {
  constructor(what: string) {
    super(`${what} is not built on this machine; run: bash scripts/setup.sh`);
    this.name = "UpstreamMissing";
  }
}

function builtDir(row: BuildRow): string {
  return path.join(cacheRoot(), "bin", `${row.id}-${row.version}`);
}

function executable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** One etcd release this machine can run: its binaries and where they came from. */
export interface EtcdRelease {
  /** The version the binary itself reports, e.g. "3.7.4". */
  version: string;
  /** "3.7" */
  minor: string;
  etcd: string;
  etcdctl: string;
  /** Absent for 3.4 (etcdutl arrived in 3.5). */
  etcdutl?: string;
  /** "built" from upstream/<module>, "debian" (the 3.4 row), or "path" (whatever etcd is on PATH). */
  source: "built" | "debian" | "path";
}

const minorOf = (v: string) => v.split(".").slice(0, 2).join(".");

let debianVersion: string | null | undefined;
/** Debian's etcd (the 3.4 row), if installed: the version it reports. */
function debianEtcd(): EtcdRelease | undefined {
  const etcd = "/usr/bin/etcd";
  const etcdctl = "/usr/bin/etcdctl";
  if (!executable(etcd) || !executable(etcdctl)) return undefined;
  if (debianVersion === undefined) {
    const r = spawnSync(etcd, ["--version"], { encoding: "utf8", timeout: 10_000 });
    debianVersion = /etcd Version: (\d+\.\d+\.\d+)/.exec(r.stdout ?? "")?.[1] ?? null;
  }
  if (!debianVersion) return undefined;
  return { version: debianVersion, minor: minorOf(debianVersion), etcd, etcdctl, source: "debian" };
}

/** The etcd builds of the table (built or not), newest minor last. */
function etcdRows(): BuildRow[] {
  return table().filter((r) => r.id === "etcd");
}

/** Every etcd release the matrix covers: Debian's 3.4 and each built minor (missing builds throw). */
export function etcdReleases(): EtcdRelease[] {
  const out: EtcdRelease[] = [];
  const debian = debianEtcd();
  if (debian) out.push(debian);
  for (const row of etcdRows()) out.push(etcdRelease(row));
  return out;
}

function etcdRelease(row: BuildRow): EtcdRelease {
  const dir = builtDir(row);
  const bin = (n: string) => {
    const f = path.join(dir, n);
    if (!executable(f)) throw new UpstreamMissing(`etcd ${row.version} (${n})`);
    return f;
  };
  return {
    version: row.version,
    minor: minorOf(row.version),
    etcd: bin("etcd"),
    etcdctl: bin("etcdctl"),
    etcdutl: bin("etcdutl"),
    source: "built",
  };
}

/** The minors the matrix knows, whether built or not ("3.4" only when Debian's etcd is installed). */
export function knownEtcdMinors(): string[] {
  const minors = etcdRows().map((r) => minorOf(r.version));
  return debianEtcd() ? ["3.4", ...minors] : minors;
}

/**
 * The release that runs a stack's `etcdVersion`: the built (or Debian's) release of the same minor.
 * Returns the release and, when its patch differs from the one asked for, the remap to list.
 * Throws UpstreamMissing when that minor is known but not built; undefined for an unknown minor.
 */
export function etcdReleaseFor(version: string): { release: EtcdRelease; remap?: string } | undefined {
  const minor = minorOf(version);
  let release: EtcdRelease | undefined;
  if (minor === "3.4") release = debianEtcd();
  else {
    const row = etcdRows().find((r) => minorOf(r.version) === minor);
    if (row) release = etcdRelease(row);
  }
  if (!release) return undefined;
  const remap =
    release.version === version
      ? undefined
      : `etcd ${version} → ${release.version} (${release.source === "debian" ? "Debian's etcd" : "the built release"} of ${minor})`;
  return { release, remap };
}

/** The version an etcd binary reports (`etcd --version`). */
export function binaryEtcdVersion(etcd: string): string {
  const r = spawnSync(etcd, ["--version"], { encoding: "utf8", timeout: 10_000 });
  const version = /etcd Version: (\d+\.\d+\.\d+)/.exec(r.stdout ?? "")?.[1];
  if (!version)
    throw new Error(`${etcd} --version did not report a version: ${(r.stdout ?? "") + (r.stderr ?? "")}`);
  return version;
}

/** An etcd found on PATH (or at the given paths): the version its binary reports. */
export function etcdReleaseAt(etcd: string, etcdctl: string, etcdutl?: string): EtcdRelease {
  const version = binaryEtcdVersion(etcd);
  return {
    version,
    minor: minorOf(version),
    etcd,
    etcdctl,
    ...(etcdutl && { etcdutl }),
    source: debianEtcd()?.etcd === etcd ? "debian" : "path",
  };
}

/** Every release this machine can run, as `3.6.17` (`3.4.23 (Debian's etcd)`), for messages. */
export function availableEtcdReleases(): string[] {
  const out: string[] = [];
  const debian = debianEtcd();
  if (debian) out.push(`${debian.version} (Debian's etcd)`);
  for (const row of etcdRows()) {
    try {
      etcdRelease(row);
      out.push(row.version);
    } catch (e) {
      if (!(e instanceof UpstreamMissing)) throw e;
    }
  }
  return out;
}

/**
 * The release a user names (`3.6`, `3.6.8`, `3.6.17`): the built (or Debian's) release of that minor,
 * with the remap to list when the patch differs. Throws UnknownEtcdRelease naming what is available
 * when the text is not a version, its minor is unknown, or it is not built here.
 */
export function resolveEtcdRelease(text: string): { release: EtcdRelease; remap?: string; asked: string } {
  const t = text.trim().replace(/^v/, "");
  const minorOnly = /^\d+\.\d+$/.test(t);
  const unknown = (why: string) =>
    new UnknownEtcdRelease(
      `${JSON.stringify(text)} ${why}; available: ${availableEtcdReleases().join(", ") || "none (run bash scripts/setup.sh)"}`,
    );
  if (!minorOnly && !/^\d+\.\d+\.\d+$/.test(t)) throw unknown("is not an etcd version like 3.6 or 3.6.17");
  let found: ReturnType<typeof etcdReleaseFor>;
  try {
    found = etcdReleaseFor(minorOnly ? `${t}.0` : t);
  } catch (e) {
    if (e instanceof UpstreamMissing) throw unknown(`is not built on this machine (${e.message})`);
    throw e;
  }
  if (!found) throw unknown("is no etcd minor this machine has");
  if (minorOnly) return { release: found.release, asked: found.release.version };
  return { ...found, asked: t };
}

/** Thrown for a version that names no release this machine runs: the message lists those available. */
export class UnknownEtcdRelease extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnknownEtcdRelease";
  }
}

/** kube-apiserver and kubectl, built from k8s.io/kubernetes. */
export function kubernetesBinaries(): { version: string; kubeApiserver: string; kubectl: string } {
  const row = table().find((r) => r.id === "kubernetes");
  if (!row) throw new Error("upstream/binaries.json has no kubernetes row");
  const dir = builtDir(row);
  const bin = (n: string) => {
    const f = path.join(dir, n);
    if (!executable(f)) throw new UpstreamMissing(`${n} v${row.version}`);
    return f;
  };
  return { version: row.version, kubeApiserver: bin("kube-apiserver"), kubectl: bin("kubectl") };
}

/** A built binary of any other row (e.g. etcd's benchmark tool, the KMS plugin) by row id and file name. */
export function upstreamBinary(id: string, name: string): string {
  const row = table().find((r) => r.id === id && name in r.binaries);
  if (!row) throw new Error(`upstream/binaries.json has no ${id} row with ${name}`);
  const f = path.join(builtDir(row), name);
  if (!executable(f)) throw new UpstreamMissing(`${name} (${id} ${row.version})`);
  return f;
}

/** The virtualenv setup makes from upstream/python/requirements.txt (keyed by the file's hash). */
export function pythonVenv(): { dir: string; bin: (tool: string) => string } {
  const req = fs.readFileSync(path.join(upstreamDir, "python", "requirements.txt"));
  const dir = path.join(cacheRoot(), `venv-${createHash("sha256").update(req).digest("hex").slice(0, 12)}`);
  return {
    dir,
    bin: (tool: string) => {
      const f = path.join(dir, "bin", tool);
      if (!executable(f)) throw new UpstreamMissing(`${tool} (the Python virtualenv ${dir})`);
      return f;
    },
  };
}
