import * as fs from "node:fs";
import * as path from "node:path";
import { formatRestorePlan, renderRestorePlan } from "../../components/backup/restorePlan";
import { keyClasses, settingsFromStackConfig, validateSettings, type KeyClass } from "../../components";
import { snapshotDefaults } from "../../components/backup/defaults";
import { renderCostTable, secretStoreCostOf } from "../../components/cost";
import {
  initialClusterToken,
  renderApiserverEtcdFlags,
  renderEtcdManifest,
} from "../../components/manifests";
import { caProfile, leafKeyUsages, leafProfiles } from "../../components/pki/profiles";
import { keyArchiveSecretName } from "../../components/secretStore/naming";
import { readStackConfig, stackNames } from "../../harness/stackFiles";
import { packPolicies } from "../../policy/policies";
import { repoRoot } from "./schema";

/*
 * Generated blocks inside hand-written pages, between `<!-- NAME:start -->` and `<!-- NAME:end -->`:
 * tables and examples whose facts live in code or in files other tools write. `npm run docs` fills them.
 */

export interface Block {
  /** The page, from the repository root. */
  file: string;
  name: string;
  text: string;
}

const markers = (name: string) => [`<!-- ${name}:start -->`, `<!-- ${name}:end -->`] as const;

/** The text between a block's markers in `page` (undefined when the page has no such block). */
export function blockIn(page: string, name: string): string | undefined {
  const [start, end] = markers(name);
  const a = page.indexOf(start);
  const b = page.indexOf(end);
  return a < 0 || b < a ? undefined : page.slice(a + start.length + 1, b - 1);
}

/** `page` with the block's text replaced; throws when the page lacks the markers. */
export function withBlock(page: string, b: Block): string {
  const [start, end] = markers(b.name);
  const a = page.indexOf(start);
  const z = page.indexOf(end);
  if (a < 0 || z < a) throw new Error(`${b.file} has no ${start} … ${end} block`);
  return `${page.slice(0, a + start.length)}\n${b.text}\n${page.slice(z)}`;
}

/** The promotion table: promotable and environment-owned keys, a group shown as `parent.*` when all agree. */
function promotionClasses(): string {
  const keys = Object.keys(keyClasses) as (keyof typeof keyClasses)[];
  const column = (c: KeyClass): string => {
    const shown: string[] = [];
    for (const k of keys.filter((k) => keyClasses[k] === c)) {
      const parent = k.includes(".") ? k.slice(0, k.lastIndexOf(".")) : undefined;
      const siblings = parent
        ? keys.filter((x) => x.startsWith(`${parent}.`) && !x.slice(parent.length + 1).includes("."))
        : [];
      const whole = parent && siblings.length > 1 && siblings.every((x) => keyClasses[x] === c);
      const label = whole ? `\`${parent}.*\`` : `\`${k}\``;
      if (!shown.includes(label)) shown.push(label);
    }
    return shown.join(", ");
  };
  return [
    "| promotable (moves) | owned by the environment (never moves) |",
    "|---|---|",
    `| ${column("promotable")} | ${column("environment")} |`,
  ].join("\n");
}

/** The secret store's monthly cost for the shipped stacks. */
function costTable(): string {
  return renderCostTable(
    stackNames.map((stack) => secretStoreCostOf(settingsFromStackConfig(readStackConfig(stack), stack))!),
  );
}

/** The latest benchmark results, as `npm run bench` wrote them. */
function benchResults(): string {
  // results.md sits in bench/: its relative images are bench/'s, seen from docs/.
  return fs
    .readFileSync(path.join(repoRoot, "bench", "results.md"), "utf8")
    .trim()
    .replace(/\]\((\w[\w.-]*\.svg)\)/g, "](../bench/$1)");
}

/** The restore plan `secure-etcd restore --stack prod` prints, for an example snapshot. */
function restorePlanExample(): string {
  const s = settingsFromStackConfig(readStackConfig("prod"), "prod");
  // As tools/restore/restoreSnapshot.ts plans it for a snapshot downloaded with --from (kept in its work
  // directory): the decompressed snapshot's SHA-256 (an example value) and the S3 prefix it came from.
  const plan = renderRestorePlan({
    snapshotPath: "/var/lib/etcd-restore/snapshot.db",
    localSnapshotPath: "/tmp/etcd-restore-Xq3v9a/snapshot.db",
    members: s.members,
    clusterToken: initialClusterToken(s.clusterName, s.environment),
    etcdVersion: s.etcdVersion,
    dataDir: s.paths.dataDir,
    manifestDir: s.paths.manifestDir,
    pkiDir: s.paths.pkiDir,
    encryptionKeys: s.encryption.keys
      .filter((k) => k.state !== "archived")
      .map((k) => `${k.provider}:${k.name}`),
    keyArchive: s.secretStore.enabled
      ? keyArchiveSecretName(s.clusterName, s.environment, s.secretStore.generation)
      : undefined,
    snapshotSha256: "5f0c2a9e8d4b7c1f3a6e9d2b8c5f1a4e7d0b3c6f9a2e5d8b1c4f7a0e3d6b9c2f",
    snapshotLocation: `s3://<bucket>/${s.clusterName}/${s.environment}/`,
  });
  return ["```", formatRestorePlan(plan), "```"].join("\n");
}

/** Snapshot defaults per environment, resolved the way a stack's settings resolve them. */
function snapshotDefaultsTable(): string {
  const rows = Object.keys(snapshotDefaults).map((environment) => {
    const s = validateSettings(
      {
        clusterName: "payments",
        environment,
        etcdVersion: "3.6.17",
        members: [{ name: "cp-1", ip: "10.0.1.10" }],
      },
      "",
      "docs",
    );
    if (!s.backup.enabled) throw new Error(`snapshots are off by default in ${environment}`);
    const { schedule, rpoMinutes, retention } = s.backup;
    return `| ${environment} | \`${schedule.schedule}\` (${schedule.timeZone}) | ${rpoMinutes} min | ${retention.days} + ${retention.noncurrentVersionDays} days |`;
  });
  return [
    "| environment | schedule | RPO (longest gap) | kept current + noncurrent |",
    "|---|---|---|---|",
    ...rows,
  ].join("\n");
}

/** The settings the "what it renders" examples use: one member, everything else the defaults. */
const exampleSettings = () =>
  validateSettings(
    {
      clusterName: "payments",
      environment: "prod",
      etcdVersion: "3.6.17",
      members: [{ name: "cp-1", ip: "10.0.1.10", dnsNames: ["cp-1.payments.internal"] }],
    },
    "",
    "docs",
  );

/** The certificate profiles (components/pki/profiles.ts) as a table. */
function certProfilesTable(): string {
  const s = exampleSettings();
  const uses = (list: string[]) => list.map((u) => `\`${u}\``).join(", ");
  const rsaOnly = leafKeyUsages("RSA-2048").filter((u) => !leafKeyUsages("ECDSA-P256").includes(u));
  const ca = caProfile(s);
  const rows = [
    `| etcd CA | \`${ca.commonName}\` | CA: ${uses(ca.allowedUses)} | — | ${ca.validityHours} h (\`caValidityHours\`) |`,
    ...leafProfiles(s).map((p) => {
      const ecdsa = p.allowedUses;
      const sans = [...p.dnsNames, ...p.ipAddresses].map((x) => `\`${x}\``).join(", ") || "none";
      return `| \`${p.id}\` | \`${p.commonName}\` | ${uses(ecdsa)}${rsaOnly.length ? ` (+ ${uses(rsaOnly)} for RSA keys)` : ""} | ${sans} | ${s.leafValidityHours} h (\`leafValidityHours\`) |`;
    }),
  ];
  return ["| cert | CN | allowed uses | SANs | validity |", "|---|---|---|---|---|", ...rows].join("\n");
}

const fenced = (lang: string, text: string) => ["```" + lang, text.trimEnd(), "```"].join("\n");

/** The policy pack's policies (policy/policies.ts). */
function policyTable(): string {
  return [
    "| policy | checks | level | severity |",
    "|---|---|---|---|",
    ...packPolicies.map(
      (p) =>
        `| \`${p.name}\` | ${p.description.replace(/\|/g, "\\|")} | ${p.enforcementLevel} | ${p.severity} |`,
    ),
  ].join("\n");
}

export function generatedBlocks(): Block[] {
  return [
    { file: "docs/promotion.md", name: "promotion-classes", text: promotionClasses() },
    { file: "docs/what-it-renders.md", name: "cert-profiles", text: certProfilesTable() },
    {
      file: "docs/what-it-renders.md",
      name: "etcd-manifest",
      text: fenced("yaml", renderEtcdManifest(exampleSettings(), exampleSettings().members[0])),
    },
    {
      file: "docs/what-it-renders.md",
      name: "apiserver-flags",
      text: fenced("", renderApiserverEtcdFlags(exampleSettings()).join("\n")),
    },
    { file: "docs/secrets-on-nodes.md", name: "cost-table", text: costTable() },
    { file: "docs/cis-and-policy-pack.md", name: "policy-table", text: policyTable() },
    { file: "docs/benchmarks.md", name: "bench-results", text: benchResults() },
    { file: "docs/snapshots-and-restore.md", name: "snapshot-defaults", text: snapshotDefaultsTable() },
    { file: "docs/snapshots-and-restore.md", name: "restore-plan", text: restorePlanExample() },
  ];
}
