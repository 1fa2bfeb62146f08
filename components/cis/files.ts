import * as path from "node:path";
import type { NodePaths } from "../manifests/paths";
import { parseNodeBundle } from "../secretStore/bundle";
import {
  fail,
  pass,
  summarize,
  warn,
  type CheckInfo,
  type CheckResult,
  type Finding,
  type TargetFinding,
} from "./types";

/** A file or directory as installed: its mode and (on a node) its owner. */
export interface FileFact {
  kind: "file" | "dir";
  /** Absolute node path, or a path relative to the rendered artifacts dir. */
  path: string;
  mode: number;
  /** `user:group`; undefined for rendered artifacts (owned by whoever rendered them). */
  owner?: string;
}

/**
 * What the node bootstrap installs from a member's bundle (components/secretStore/bundle.ts): every
 * `dir` and `file` line with its mode, owned by the bootstrap's owner (root:root on a node). Reading the
 * rendered bundle, not the declarations, is what proves the modes.
 */
export function installedByBootstrap(bundle: string, owner = "root:root"): FileFact[] {
  const b = parseNodeBundle(bundle);
  return [
    ...b.dirs.map((d): FileFact => ({ kind: "dir", path: d.path, mode: parseInt(d.mode, 8), owner })),
    ...b.files.map((f): FileFact => ({ kind: "file", path: f.path, mode: parseInt(f.mode, 8), owner })),
  ];
}

/** kube-bench's `bitmask` compare: no permission bit beyond `max`. */
export const withinMode = (mode: number, max: number) => (max & mode) === mode;
const octal = (n: number) => n.toString(8).padStart(3, "0");

const modeAtMost = (max: number) => (f: FileFact) =>
  withinMode(f.mode, max)
    ? pass(`${octal(f.mode)} (≤ ${octal(max)})`)
    : fail(`permissions ${octal(f.mode)}, expected ${octal(max)} or more restrictive`);
const ownedBy = (owner: string) => (f: FileFact) =>
  f.owner === owner ? pass(`owner ${owner}`) : fail(`owner ${f.owner ?? "unknown"}, expected ${owner}`);

/**
 * 1.1.12 wants etcd:etcd, for an etcd that runs as an `etcd` user. In kubeadm's static pod etcd runs as
 * root and no `etcd` user exists on the node, so the data dir is root:root 0700 — deliberate: WARN, not PASS.
 */
const dataDirOwner = (f: FileFact): Finding =>
  f.owner === "etcd:etcd"
    ? pass("owner etcd:etcd")
    : f.owner === "root:root"
      ? warn(
          "root:root, not etcd:etcd: etcd runs as root in kubeadm's static pod (no etcd user on the node); 0700 keeps others out",
        )
      : fail(`owner ${f.owner ?? "unknown"}, expected etcd:etcd (or root:root for a root etcd)`);

const under = (dir: string, p: string) => p === dir || p.startsWith(`${dir.replace(/\/$/, "")}/`);

interface FileCheck extends CheckInfo {
  /** Which node facts this check reads; `required` is a node path that must be among them. */
  node?: { select: (f: FileFact, p: NodePaths) => boolean; required?: (p: NodePaths) => string };
  /** Which rendered artifacts it reads (ownership is not checked on artifacts). */
  artifact?: (f: FileFact) => boolean;
  evaluate: (f: FileFact) => Finding;
}

const cis = (id: string, title: string, scored: boolean, c: Omit<FileCheck, keyof CheckInfo>): FileCheck => ({
  id,
  title,
  source: "cis-1.12",
  scored,
  ...c,
});
const isFile = (f: FileFact) => f.kind === "file";
const isEtcdManifest = (f: FileFact, p: NodePaths) => isFile(f) && f.path === p.etcdManifest;
/** kubeadm keeps the apiserver's etcd client pair in the PKI dir itself, so its directory is that dir. */
const pkiDirOf = (p: NodePaths) => path.posix.dirname(p.certs["apiserver-etcd-client"].cert);
const inPki = (f: FileFact, p: NodePaths) => under(pkiDirOf(p), f.path);

/** kube-bench cfg/cis-1.12/master.yaml 1.1.x file checks that touch what SecureEtcd installs, plus guidance. */
export const fileChecks: readonly FileCheck[] = [
  cis(
    "1.1.7",
    "Ensure that the etcd pod specification file permissions are set to 600 or more restrictive",
    true,
    {
      node: { select: isEtcdManifest, required: (p) => p.etcdManifest },
      artifact: (f) => isFile(f) && /^manifests\/[^/]+\/etcd\.yaml$/.test(f.path),
      evaluate: modeAtMost(0o600),
    },
  ),
  cis("1.1.8", "Ensure that the etcd pod specification file ownership is set to root:root", true, {
    node: { select: isEtcdManifest, required: (p) => p.etcdManifest },
    evaluate: ownedBy("root:root"),
  }),
  cis("1.1.11", "Ensure that the etcd data directory permissions are set to 700 or more restrictive", true, {
    node: { select: (f, p) => f.kind === "dir" && f.path === p.dataDir, required: (p) => p.dataDir },
    evaluate: modeAtMost(0o700),
  }),
  cis("1.1.12", "Ensure that the etcd data directory ownership is set to etcd:etcd", true, {
    node: { select: (f, p) => f.kind === "dir" && f.path === p.dataDir, required: (p) => p.dataDir },
    evaluate: dataDirOwner,
  }),
  cis("1.1.19", "Ensure that the Kubernetes PKI directory and file ownership is set to root:root", true, {
    node: { select: inPki },
    evaluate: ownedBy("root:root"),
  }),
  cis(
    "1.1.20",
    "Ensure that the Kubernetes PKI certificate file permissions are set to 644 or more restrictive",
    false,
    {
      node: { select: (f, p) => isFile(f) && inPki(f, p) && f.path.endsWith(".crt") },
      artifact: (f) => isFile(f) && f.path.endsWith(".crt"),
      evaluate: modeAtMost(0o644),
    },
  ),
  cis("1.1.21", "Ensure that the Kubernetes PKI key file permissions are set to 600", false, {
    node: { select: (f, p) => isFile(f) && inPki(f, p) && f.path.endsWith(".key") },
    artifact: (f) => isFile(f) && f.path.endsWith(".key"),
    evaluate: modeAtMost(0o600),
  }),
  {
    id: "G-4",
    title: "The EncryptionConfiguration (it holds the keys) is 0600 root:root in a 0700 directory",
    source: "guidance",
    scored: false,
    node: {
      select: (f, p) =>
        f.path === p.encryptionConfig || (f.kind === "dir" && f.path === p.encryptionConfigDir),
      required: (p) => p.encryptionConfig,
    },
    artifact: (f) => f.path === "encryption-config.yaml",
    evaluate: (f) => {
      const m = modeAtMost(f.kind === "dir" ? 0o700 : 0o600)(f);
      if (m.status !== "PASS" || f.owner === undefined) return m;
      return f.owner === "root:root"
        ? pass(`${m.reason}, root:root`)
        : warn(`owner ${f.owner}; expected root:root`);
    },
  },
];

export interface FileTargets {
  /** Per member: what its node bootstrap installs. */
  nodes: { member: string; paths: NodePaths; facts: FileFact[] }[];
  /** The rendered artifacts (rehearsal layout), with their real modes. */
  artifacts: FileFact[];
}

/** Every file check over every node and artifact it applies to. */
export function checkFiles(t: FileTargets): CheckResult[] {
  return fileChecks.map((c) => {
    const findings: TargetFinding[] = [];
    for (const n of t.nodes) {
      if (!c.node) continue;
      const picked = n.facts.filter((f) => c.node!.select(f, n.paths));
      const required = c.node.required?.(n.paths);
      if (required !== undefined && !picked.some((f) => f.path === required))
        findings.push({ target: `${n.member}:${required}`, ...fail("not installed by the node bootstrap") });
      for (const f of picked) findings.push({ target: `${n.member}:${f.path}`, ...c.evaluate(f) });
    }
    if (c.artifact)
      for (const f of t.artifacts.filter(c.artifact))
        findings.push({ target: `artifact:${path.posix.normalize(f.path)}`, ...c.evaluate(f) });
    // Guidance never FAILs (exit 1 is for CIS): what it finds wrong WARNs.
    const graded =
      c.source === "guidance"
        ? findings.map((f) => (f.status === "FAIL" ? { ...f, status: "WARN" as const } : f))
        : findings;
    return summarize(c, graded);
  });
}
