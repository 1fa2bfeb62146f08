/**
 * The etcd restore procedure as data: per-member restore commands from ONE snapshot, and the runbook
 * around them (API servers down first, etcd down on every member, old data kept aside, restore, start).
 * Pure: plain values in, commands and text out. `npm run restore` prints it, and runs the member
 * commands for a local target with `--apply`.
 *
 * Sources: etcd op-guide/recovery.md (every member restores from the same snapshot with its own
 * --name/--initial-advertise-peer-urls and the whole --initial-cluster; `etcdutl` since 3.5, etcdctl lost
 * `snapshot restore` in 3.6; `--bump-revision --mark-compacted` so Kubernetes' watch caches and
 * informers do not keep serving resourceVersions newer than the restored store), Kubernetes "Operating
 * etcd clusters" (stop every API server before restoring, restart the control plane components after).
 */
import {
  etcdCapabilities,
  formatVersion,
  parseEtcdVersion,
  type EtcdCapabilities,
} from "../etcd/capabilities";
import { clientUrl, initialCluster, peerUrl } from "../manifests/urls";

/** Revision bump Kubernetes' own restore guidance uses: far beyond anything written since the snapshot. */
export const DEFAULT_BUMP_REVISION = 1_000_000_000;

export interface RestoreMember {
  name: string;
  ip: string;
}

export interface RestorePlanInput {
  /** Path of the snapshot (`.db`, decompressed) — the same file on every member. */
  snapshotPath: string;
  members: readonly RestoreMember[];
  /** `--initial-cluster-token` (see manifests/urls.ts `initialClusterToken`). */
  clusterToken: string;
  /** Target etcd version, e.g. 3.4.23: picks etcdutl vs etcdctl and the revision bump. */
  etcdVersion: string;
  /** New data dir: one path used on every node (`/var/lib/etcd`), or per member (local targets). */
  dataDir: string | ((member: RestoreMember) => string);
  /** Capabilities override (default: `etcdCapabilities(etcdVersion)`). */
  caps?: EtcdCapabilities;
  /** `--bump-revision` amount where supported (default 1,000,000,000; 0 turns the bump off). */
  bumpRevision?: number;
  /** Static pod manifests (default /etc/kubernetes/manifests). */
  manifestDir?: string;
  /** Where manifests are parked while the control plane is down (default /etc/kubernetes/restore-parked). */
  parkDir?: string;
  /** kubeadm PKI dir, for the health check command (default /etc/kubernetes/pki). */
  pkiDir?: string;
  /** Suffix for the moved-aside data dir (default `before-restore`). */
  asideSuffix?: string;
  /** SHA-256 of the snapshot file, when known: every member checks its copy before restoring. */
  snapshotSha256?: string;
  /** Where the operator has the verified snapshot (for the copy step); default `snapshotPath`. */
  localSnapshotPath?: string;
  etcdctlBinary?: string;
  etcdutlBinary?: string;
}

export interface MemberRestoreCommand {
  member: string;
  ip: string;
  dataDir: string;
  peerUrl: string;
  /** Environment the command needs (`ETCDCTL_API=3` for etcdctl). */
  env: Record<string, string>;
  /** Program and arguments, for running without a shell. */
  argv: string[];
  /** The same as one shell line. */
  command: string;
}

export interface RunbookStep {
  title: string;
  /** Where the commands run: `operator`, `every control-plane node`, `every etcd member`, or `<member> (<ip>)`. */
  where: string;
  commands: string[];
  note?: string;
}

export interface RestorePlan {
  etcdVersion: string;
  tool: "etcdutl" | "etcdctl";
  snapshotPath: string;
  clusterToken: string;
  initialCluster: string;
  /** The `--bump-revision` amount, or undefined where the version cannot bump. */
  bumpRevision?: number;
  warnings: string[];
  members: MemberRestoreCommand[];
  steps: RunbookStep[];
}

/** POSIX shell quoting: bare when safe, else single quotes. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

const line = (env: Record<string, string>, argv: string[]) =>
  [...Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}`), ...argv.map(shellQuote)].join(" ");

/** Builds the plan; throws on inputs that would give a broken restore (no members, duplicates, bad version). */
export function renderRestorePlan(input: RestorePlanInput): RestorePlan {
  const version = parseEtcdVersion(input.etcdVersion);
  if (!version)
    throw new Error(`etcdVersion ${JSON.stringify(input.etcdVersion)} is not a version like 3.5.16`);
  const caps = input.caps ?? etcdCapabilities(version);
  if (input.members.length === 0) throw new Error("a restore needs at least one member");
  if (!input.snapshotPath) throw new Error("snapshotPath is required");
  if (!input.clusterToken) throw new Error("clusterToken is required");
  const seen = new Set<string>();
  for (const m of input.members) {
    for (const [what, v] of [
      ["name", m.name],
      ["ip", m.ip],
    ] as const) {
      if (!v) throw new Error(`every member needs a ${what}`);
      if (seen.has(`${what}:${v}`)) throw new Error(`member ${what} ${v} is listed twice`);
      seen.add(`${what}:${v}`);
    }
  }
  if (!caps.etcdutl && !caps.etcdctlSnapshotStatusRestore)
    throw new Error(`etcd ${formatVersion(version)} has neither etcdutl nor etcdctl snapshot restore`);

  const tool: RestorePlan["tool"] = caps.etcdutl ? "etcdutl" : "etcdctl";
  const binary = tool === "etcdutl" ? (input.etcdutlBinary ?? "etcdutl") : (input.etcdctlBinary ?? "etcdctl");
  const env: Record<string, string> = tool === "etcdctl" ? { ETCDCTL_API: "3" } : {};
  const bump = input.bumpRevision ?? DEFAULT_BUMP_REVISION;
  if (!Number.isInteger(bump) || bump < 0)
    throw new Error(`bumpRevision must be a whole number >= 0 (got ${bump})`);
  const bumpRevision = caps.restoreBumpRevision && bump > 0 ? bump : undefined;
  const specs = input.members.map((m) => ({ name: m.name, ip: m.ip, dnsNames: [] as string[] }));
  const cluster = initialCluster(specs);
  const dataDirOf = (m: RestoreMember) =>
    typeof input.dataDir === "function" ? input.dataDir(m) : input.dataDir;

  const members: MemberRestoreCommand[] = input.members.map((m) => {
    const dataDir = dataDirOf(m);
    if (!dataDir) throw new Error(`no data dir for member ${m.name}`);
    const argv = [
      binary,
      "snapshot",
      "restore",
      input.snapshotPath,
      `--name=${m.name}`,
      `--initial-cluster=${cluster}`,
      `--initial-cluster-token=${input.clusterToken}`,
      `--initial-advertise-peer-urls=${peerUrl(m)}`,
      `--data-dir=${dataDir}`,
      ...(bumpRevision !== undefined ? [`--bump-revision=${bumpRevision}`, "--mark-compacted"] : []),
    ];
    return { member: m.name, ip: m.ip, dataDir, peerUrl: peerUrl(m), env, argv, command: line(env, argv) };
  });

  const warnings: string[] = [];
  if (bumpRevision === undefined)
    warnings.push(
      `etcd ${formatVersion(version)} cannot restore with --bump-revision/--mark-compacted: after the restore ` +
        `the store's revision goes back, so Kubernetes watch caches and informers may keep serving newer ` +
        `resourceVersions; the runbook restarts every API server, controller manager, scheduler and kubelet`,
    );

  const manifestDir = input.manifestDir ?? "/etc/kubernetes/manifests";
  const parkDir = input.parkDir ?? "/etc/kubernetes/restore-parked";
  const pki = input.pkiDir ?? "/etc/kubernetes/pki";
  const aside = input.asideSuffix ?? "before-restore";
  const q = shellQuote;
  const waitGone = (container: string) =>
    `while crictl ps -q --name '^${container}$' | grep -q .; do sleep 2; done`;
  const park = (file: string) =>
    `mkdir -p ${q(parkDir)} && mv ${q(`${manifestDir}/${file}`)} ${q(`${parkDir}/`)}`;
  const unpark = (file: string) => `mv ${q(`${parkDir}/${file}`)} ${q(`${manifestDir}/`)}`;
  const endpoints = input.members.map((m) => clientUrl(m)).join(",");
  const health = (cmd: string) =>
    line({ ETCDCTL_API: "3" }, [
      input.etcdctlBinary ?? "etcdctl",
      `--endpoints=${endpoints}`,
      `--cacert=${pki}/etcd/ca.crt`,
      `--cert=${pki}/etcd/healthcheck-client.crt`,
      `--key=${pki}/etcd/healthcheck-client.key`,
      ...cmd.split(" "),
    ]);
  const local = input.localSnapshotPath ?? input.snapshotPath;
  const uniqueDirs = [...new Set(members.map((m) => m.dataDir))];

  const steps: RunbookStep[] = [
    {
      title:
        "Copy the SAME verified snapshot to every member (never restore members from different snapshots)",
      where: "operator",
      commands: [
        ...input.members.map((m) => `scp ${q(local)} ${q(`root@${m.ip}:${input.snapshotPath}`)}`),
        ...(input.snapshotSha256
          ? [`# on every member: sha256sum ${q(input.snapshotPath)}  → must print ${input.snapshotSha256}`]
          : []),
      ],
    },
    {
      title: "Stop every kube-apiserver FIRST (nothing may write to etcd while it is restored)",
      where: "every control-plane node",
      commands: [park("kube-apiserver.yaml"), waitGone("kube-apiserver")],
      note: "kubelet stops a static pod when its manifest leaves the manifest directory",
    },
    {
      title: "Stop etcd on every member",
      where: "every etcd member",
      commands: [park("etcd.yaml"), waitGone("etcd")],
    },
    {
      title: "Move the old data dir aside (keep it until the restored cluster is proven good)",
      where: "every etcd member",
      commands: uniqueDirs.map((d) => `mv ${q(d)} ${q(`${d}.${aside}`)}`),
    },
    ...members.map((m) => ({
      title: `Restore member ${m.member} from the snapshot`,
      where: `${m.member} (${m.ip})`,
      commands: [
        ...(input.snapshotSha256
          ? [`echo ${q(`${input.snapshotSha256}  ${input.snapshotPath}`)} | sha256sum -c -`]
          : []),
        m.command,
        `chmod 700 ${q(m.dataDir)}`,
      ],
    })),
    {
      title: "Start etcd on every member, then check the cluster",
      where: "every etcd member",
      commands: [unpark("etcd.yaml"), health("endpoint health"), health("endpoint status -w table")],
      note: "every member must be healthy and report the same revision before the API servers start",
    },
    {
      title: "Start the API servers, then restart the other control-plane components and kubelets",
      where: "every control-plane node",
      commands: [
        unpark("kube-apiserver.yaml"),
        "kubectl get --raw /readyz",
        `${park("kube-controller-manager.yaml")} && ${waitGone("kube-controller-manager")} && ${unpark("kube-controller-manager.yaml")}`,
        `${park("kube-scheduler.yaml")} && ${waitGone("kube-scheduler")} && ${unpark("kube-scheduler.yaml")}`,
        "systemctl restart kubelet",
      ],
      note: "then remove the moved-aside data dirs once workloads are confirmed",
    },
  ];

  return {
    etcdVersion: formatVersion(version),
    tool,
    snapshotPath: input.snapshotPath,
    clusterToken: input.clusterToken,
    initialCluster: cluster,
    bumpRevision,
    warnings,
    members,
    steps,
  };
}

/** The plan as a numbered runbook for the terminal or a ticket. */
export function formatRestorePlan(plan: RestorePlan): string {
  const out = [
    `Restore plan: etcd ${plan.etcdVersion} with ${plan.tool}, ${plan.members.length} member(s), snapshot ${plan.snapshotPath}`,
    `  --initial-cluster=${plan.initialCluster}`,
    `  --initial-cluster-token=${plan.clusterToken}`,
    plan.bumpRevision !== undefined
      ? `  --bump-revision=${plan.bumpRevision} --mark-compacted`
      : "  (no revision bump: not supported by this etcd version)",
  ];
  for (const w of plan.warnings) out.push(`WARNING: ${w}`);
  plan.steps.forEach((s, i) => {
    out.push("", `${i + 1}. ${s.title}`, `   on: ${s.where}`);
    for (const c of s.commands) out.push(`   $ ${c}`);
    if (s.note) out.push(`   (${s.note})`);
  });
  return out.join("\n");
}
