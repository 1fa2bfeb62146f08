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
import { z } from "zod";
import { ConfigError, parseOrThrow } from "../config/errors";
import { show } from "../config/fields";
import {
  etcdCapabilities,
  formatVersion,
  type EtcdCapabilities,
  type EtcdVersion,
} from "../etcd/capabilities";
import { clientUrl, initialCluster, peerUrl } from "../manifests/urls";
import { etcdReleaseVersion, nonEmpty } from "../config/fields";
import { envelopeKeyRunbookStep } from "../kms/snapshotKeys";

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
  /**
   * The EncryptionConfiguration's keys in force when the snapshot was taken (`<provider>:<name>`, from
   * its `encryption-keys` metadata): the Secrets it holds are encrypted with them.
   */
  encryptionKeys?: string[];
  /** Where those keys' material is: the key archive secret (`secure-etcd/<cluster>/<env>/encryption-keys`). */
  keyArchive?: string;
  /**
   * Adds `--skip-hash-check`: only for a file whose SHA-256 trailer the caller checked itself (the restore
   * tool does, in its one pass over the download); a printed runbook never sets it, each member checks.
   */
  trailerChecked?: boolean;
  /** `s3://BUCKET/PREFIX/` the snapshot came from: the runbook ends by pointing the latest marker at the new lineage. */
  snapshotLocation?: string;
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
  /** The keys the snapshot's Secrets need and where their material is; undefined when it does not say. */
  encryptionKeys?: { keys: string[]; keyArchive?: string };
}

/** POSIX shell quoting: bare when safe, else single quotes. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

const line = (env: Record<string, string>, argv: string[]) =>
  [...Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}`), ...argv.map(shellQuote)].join(" ");

/** `source` of a refused plan's ConfigError. */
export const RESTORE_PLAN_SOURCE = "restore plan";

/** Each member's name and ip appear once: a restore needs every member exactly once. */
const restoreMembers = z
  .array(z.object({ name: nonEmpty("the member's name"), ip: nonEmpty("the member's IP") }))
  .min(1, { error: "is empty: a restore needs at least one member" })
  .superRefine((members, ctx) => {
    for (const key of ["name", "ip"] as const) {
      const seen = new Set<string>();
      members.forEach((m, i) => {
        if (m[key] !== "" && seen.has(m[key]))
          ctx.addIssue({
            code: "custom",
            path: [i, key],
            message: `member ${key} ${show(m[key])} is listed twice; every member restores once`,
          });
        seen.add(m[key]);
      });
    }
  });

const restoreInputSchema = z.object({
  snapshotPath: nonEmpty("the snapshot path (the same file on every member)"),
  clusterToken: nonEmpty("the --initial-cluster-token"),
  etcdVersion: etcdReleaseVersion(),
  members: restoreMembers,
  bumpRevision: z
    .number()
    .refine((n) => Number.isInteger(n) && n >= 0, {
      error: (iss) => `${show(iss.input)} is not a whole number >= 0 (0 turns the bump off)`,
    })
    .optional(),
});

/** What the plan is built from once the input is checked: the version's tool and the revision bump. */
interface ResolvedRestore {
  version: EtcdVersion;
  tool: RestorePlan["tool"];
  bumpRevision?: number;
}

function checkRestoreInput(input: RestorePlanInput): ResolvedRestore {
  const { etcdVersion: version } = parseOrThrow(restoreInputSchema, input, "", RESTORE_PLAN_SOURCE);
  const caps = input.caps ?? etcdCapabilities(version);
  if (!caps.etcdutl && !caps.etcdctlSnapshotStatusRestore)
    throw new ConfigError(
      [
        {
          path: input.caps ? "caps" : "etcdVersion",
          message: `etcd ${formatVersion(version)} has neither etcdutl nor etcdctl snapshot restore`,
        },
      ],
      RESTORE_PLAN_SOURCE,
    );
  const bump = input.bumpRevision ?? DEFAULT_BUMP_REVISION;
  return {
    version,
    tool: caps.etcdutl ? "etcdutl" : "etcdctl",
    bumpRevision: caps.restoreBumpRevision && bump > 0 ? bump : undefined,
  };
}

/** One restore command per member, all from the same snapshot with the whole --initial-cluster. */
function memberRestoreCommands(
  input: RestorePlanInput,
  resolved: ResolvedRestore,
  cluster: string,
): MemberRestoreCommand[] {
  const { tool, bumpRevision } = resolved;
  const binary = tool === "etcdutl" ? (input.etcdutlBinary ?? "etcdutl") : (input.etcdctlBinary ?? "etcdctl");
  const env: Record<string, string> = tool === "etcdctl" ? { ETCDCTL_API: "3" } : {};
  return input.members.map((m) => {
    const dataDir = typeof input.dataDir === "function" ? input.dataDir(m) : input.dataDir;
    if (!dataDir)
      throw new ConfigError(
        [
          {
            path: "dataDir",
            message: `gave ${show(dataDir)} for member ${show(m.name)}; expected a data dir path`,
          },
        ],
        RESTORE_PLAN_SOURCE,
      );
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
      ...(input.trailerChecked ? ["--skip-hash-check"] : []),
    ];
    return { member: m.name, ip: m.ip, dataDir, peerUrl: peerUrl(m), env, argv, command: line(env, argv) };
  });
}

/** The shell lines the runbook repeats: park/unpark a static pod, wait for it to stop, etcdctl health. */
function runbookCommands(input: RestorePlanInput) {
  const manifestDir = input.manifestDir ?? "/etc/kubernetes/manifests";
  const parkDir = input.parkDir ?? "/etc/kubernetes/restore-parked";
  const pki = input.pkiDir ?? "/etc/kubernetes/pki";
  const q = shellQuote;
  const endpoints = input.members.map((m) => clientUrl(m)).join(",");
  return {
    waitGone: (container: string) =>
      `while crictl ps -q --name '^${container}$' | grep -q .; do sleep 2; done`,
    park: (file: string) => `mkdir -p ${q(parkDir)} && mv ${q(`${manifestDir}/${file}`)} ${q(`${parkDir}/`)}`,
    unpark: (file: string) => `mv ${q(`${parkDir}/${file}`)} ${q(`${manifestDir}/`)}`,
    health: (cmd: string) =>
      line({ ETCDCTL_API: "3" }, [
        input.etcdctlBinary ?? "etcdctl",
        `--endpoints=${endpoints}`,
        `--cacert=${pki}/etcd/ca.crt`,
        `--cert=${pki}/etcd/healthcheck-client.crt`,
        `--key=${pki}/etcd/healthcheck-client.key`,
        ...cmd.split(" "),
      ]),
  };
}

/** Copy → stop API servers → stop etcd → keep old data → restore each member → start etcd → start API servers. */
/**
 * A snapshot is useless without the keys that wrote its Secrets: before any API server starts, its
 * EncryptionConfiguration must list every one of them (archived ones back as `retired`).
 */
function keysStep(input: RestorePlanInput): RunbookStep[] {
  const keys = input.encryptionKeys ?? [];
  if (keys.length === 0) return [];
  const envelope = envelopeKeyRunbookStep(keys);
  return [
    ...(envelope ? [envelope] : []),
    {
      title: `Give every kube-apiserver the snapshot's encryption keys: ${keys.join(", ")}`,
      where: "every control-plane node",
      commands: input.keyArchive
        ? [
            `aws secretsmanager get-secret-value --secret-id ${shellQuote(input.keyArchive)} --query SecretString --output text`,
          ]
        : [],
      note:
        `every key listed must be in the EncryptionConfiguration (an archived one goes back as "retired") or the ` +
        `Secrets it encrypted stay unreadable` +
        (input.keyArchive
          ? `; the key archive holds their material (read with the restore reader role)`
          : ""),
    },
  ];
}

function restoreRunbook(input: RestorePlanInput, members: MemberRestoreCommand[]): RunbookStep[] {
  const { waitGone, park, unpark, health } = runbookCommands(input);
  const q = shellQuote;
  const aside = input.asideSuffix ?? "before-restore";
  const local = input.localSnapshotPath ?? input.snapshotPath;
  const sha = input.snapshotSha256;
  const restart = (c: string) => `${park(`${c}.yaml`)} && ${waitGone(c)} && ${unpark(`${c}.yaml`)}`;
  return [
    {
      title:
        "Copy the SAME verified snapshot to every member (never restore members from different snapshots)",
      where: "operator",
      commands: [
        ...input.members.map((m) => `scp ${q(local)} ${q(`root@${m.ip}:${input.snapshotPath}`)}`),
        ...(sha ? [`# on every member: sha256sum ${q(input.snapshotPath)}  → must print ${sha}`] : []),
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
      commands: [...new Set(members.map((m) => m.dataDir))].map((d) => `mv ${q(d)} ${q(`${d}.${aside}`)}`),
    },
    ...members.map((m) => ({
      title: `Restore member ${m.member} from the snapshot`,
      where: `${m.member} (${m.ip})`,
      commands: [
        ...(sha ? [`echo ${q(`${sha}  ${input.snapshotPath}`)} | sha256sum -c -`] : []),
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
    ...keysStep(input),
    {
      title: "Start the API servers, then restart the other control-plane components and kubelets",
      where: "every control-plane node",
      commands: [
        unpark("kube-apiserver.yaml"),
        "kubectl get --raw /readyz",
        restart("kube-controller-manager"),
        restart("kube-scheduler"),
        "systemctl restart kubelet",
      ],
      note: "then remove the moved-aside data dirs once workloads are confirmed",
    },
    ...markerStep(input),
  ];
}

/**
 * After a restore the store's revision may be lower than the one the latest marker names (always without
 * --bump-revision): the snapshot job would then stop with exit 3 on every run until the marker names a
 * snapshot of the restored cluster.
 */
function markerStep(input: RestorePlanInput): RunbookStep[] {
  if (!input.snapshotLocation) return [];
  return [
    {
      title: "Take a snapshot of the restored cluster and point the latest marker at it",
      where: "operator",
      commands: [
        "kubectl -n kube-system create job --from=cronjob/etcd-snapshot etcd-snapshot-after-restore",
        `secure-etcd snapshot-marker --stack <stack> --from ${shellQuote(`${input.snapshotLocation}<key of that run's snapshot>`)}`,
      ],
      note:
        "--stack (or --stack-file, or the settings flags) as given to restore; the job's log names the snapshot when the marker names a higher revision than the restored cluster " +
        "(exit 3); until then monitoring keeps seeing the old marker",
    },
  ];
}

/**
 * Builds the plan. Inputs that would give a broken restore (no members, duplicates, a bad version) throw
 * a ConfigError naming the field (`members[1].name`, `etcdVersion`, …), source `restore plan`.
 */
export function renderRestorePlan(input: RestorePlanInput): RestorePlan {
  const resolved = checkRestoreInput(input);
  const cluster = initialCluster(input.members.map((m) => ({ name: m.name, ip: m.ip, dnsNames: [] })));
  const members = memberRestoreCommands(input, resolved, cluster);
  const version = formatVersion(resolved.version);
  const warnings =
    resolved.bumpRevision === undefined
      ? [
          `etcd ${version} cannot restore with --bump-revision/--mark-compacted: after the restore ` +
            `the store's revision goes back, so Kubernetes watch caches and informers may keep serving newer ` +
            `resourceVersions; the runbook restarts every API server, controller manager, scheduler and kubelet`,
        ]
      : [];
  return {
    etcdVersion: version,
    tool: resolved.tool,
    snapshotPath: input.snapshotPath,
    clusterToken: input.clusterToken,
    initialCluster: cluster,
    bumpRevision: resolved.bumpRevision,
    warnings,
    members,
    steps: restoreRunbook(input, members),
    encryptionKeys: input.encryptionKeys?.length
      ? { keys: [...input.encryptionKeys], keyArchive: input.keyArchive }
      : undefined,
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
  if (plan.encryptionKeys)
    out.push(
      `  encryption keys of this snapshot: ${plan.encryptionKeys.keys.join(", ")}` +
        (plan.encryptionKeys.keyArchive ? ` (material in ${plan.encryptionKeys.keyArchive})` : ""),
    );
  for (const w of plan.warnings) out.push(`WARNING: ${w}`);
  plan.steps.forEach((s, i) => {
    out.push("", `${i + 1}. ${s.title}`, `   on: ${s.where}`);
    for (const c of s.commands) out.push(`   $ ${c}`);
    if (s.note) out.push(`   (${s.note})`);
  });
  return out.join("\n");
}
