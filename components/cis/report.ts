import { checkApiserverFlags, apiserverChecks } from "./apiserver";
import { checkEtcdManifest, etcdChecks } from "./etcd";
import {
  check1228,
  checkPrimaryStrength,
  checkProviderOrder,
  kubeBenchProviderReading,
  providerOrderOf,
  strongPrimary,
} from "./encryption";
import { checkFiles, type FileTargets } from "./files";
import { plainFlags } from "./flags";
import { backupsInProd, checkBackupsInProd, checkLeafValidity, leafValidity } from "./guidance";
import { kmsPluginCheck, kmsPluginFindings, type KmsCisInput } from "./kms";
import { fail, summarize, type CheckResult, type CisStatus, type Finding, type TargetFinding } from "./types";

/** Everything the report reads, as plain values (the command renders them; tests craft them). */
export interface CisReportInput {
  stack: string;
  /** Static pod manifest per member. */
  etcdManifests: Record<string, string>;
  /** The flags SecureEtcd adds to kube-apiserver. */
  apiserverFlags: string[];
  /** The EncryptionConfiguration's text and the node path the bootstrap installs it at. */
  encryptionConfiguration: { text: string; installedAt: string };
  files: FileTargets;
  /** Every leaf certificate's validity (NotAfter − NotBefore), by id. */
  leafCertificates: { id: string; validityHours: number }[];
  environment: string;
  backupsEnabled: boolean;
  prodEnvironments?: readonly string[];
  /** The KMS v2 plugins (when a key uses kms); `encryptionConfiguration` is taken from above. */
  kms?: Omit<KmsCisInput, "encryptionConfiguration">;
}

export interface CisReport {
  stack: string;
  benchmark: string;
  passed: boolean;
  counts: Record<CisStatus, number>;
  checks: CheckResult[];
}

export const benchmarkName = "CIS Kubernetes Benchmark 1.12 as kube-bench cfg/cis-1.12 reads it";

const each = <T>(entries: [string, T][], f: (v: T) => Finding): TargetFinding[] =>
  entries.map(([target, v]) => ({ target, ...f(v) }));

/**
 * 1.2.28 as kube-bench runs it: it reads the file kube-apiserver's flag points at. A flag that points
 * anywhere but where the bootstrap installs the config would make kube-apiserver refuse to start.
 */
function encryptionFinding(i: CisReportInput): Finding {
  const at = plainFlags(i.apiserverFlags).get("--encryption-provider-config");
  if (at !== i.encryptionConfiguration.installedAt)
    return fail(
      `--encryption-provider-config=${at ?? "(unset)"} but the config is installed at ${i.encryptionConfiguration.installedAt}`,
    );
  const text = i.encryptionConfiguration.text;
  return checkProviderOrder(providerOrderOf(text), kubeBenchProviderReading(text));
}

/** Every check, in kube-bench's order (1.1 files, 1.2 API server, 2 etcd), then guidance. Pure. */
export function cisReport(i: CisReportInput): CisReport {
  const members = Object.entries(i.etcdManifests).map(([m, y]): [string, Map<string, Finding>] => [
    m,
    checkEtcdManifest(y),
  ]);
  const api = checkApiserverFlags(i.apiserverFlags);
  const fileResults = checkFiles(i.files);
  const first = providerOrderOf(i.encryptionConfiguration.text)[0]?.[0];
  const checks: CheckResult[] = [
    ...fileResults.filter((r) => r.source === "cis-1.12"),
    ...apiserverChecks.map((c) => summarize(c, [{ target: "kube-apiserver", ...api.get(c.id)! }])),
    summarize(check1228, [{ target: "encryption-config", ...encryptionFinding(i) }]),
    ...etcdChecks.map((c) =>
      summarize(
        c,
        each(members, (f) => f.get(c.id)!),
      ),
    ),
    summarize(strongPrimary, [{ target: "encryption-config", ...checkPrimaryStrength(first) }]),
    summarize(
      leafValidity,
      each(
        i.leafCertificates.map((c) => [c.id, c.validityHours]),
        checkLeafValidity,
      ),
    ),
    summarize(backupsInProd, [
      {
        target: `environment ${i.environment}`,
        ...checkBackupsInProd(i.environment, i.backupsEnabled, i.prodEnvironments),
      },
    ]),
    ...fileResults.filter((r) => r.source === "guidance"),
    ...kmsRows(i),
  ];
  const counts = { PASS: 0, FAIL: 0, WARN: 0 };
  for (const c of checks) counts[c.status]++;
  return { stack: i.stack, benchmark: benchmarkName, passed: counts.FAIL === 0, counts, checks };
}

/** The kms plugin row, only when the EncryptionConfiguration has a kms provider. */
function kmsRows(i: CisReportInput): CheckResult[] {
  const findings = kmsPluginFindings({
    encryptionConfiguration: i.encryptionConfiguration.text,
    plugins: i.kms?.plugins ?? [],
    apiserverMountedDirs: i.kms?.apiserverMountedDirs ?? [],
    installed: i.kms?.installed,
    keyStates: i.kms?.keyStates,
  });
  return findings.length ? [summarize(kmsPluginCheck, findings)] : [];
}

/** kube-bench's text layout: `[STATUS] id title`, the reason indented below, a summary at the end. */
export function formatCisReport(r: CisReport): string {
  const lines = [`== ${r.benchmark}: stack ${r.stack} ==`];
  let section = "";
  for (const c of r.checks) {
    const s = c.source === "guidance" ? "guidance beyond CIS (never a FAIL)" : sectionOf(c.id);
    if (s !== section) lines.push("", `-- ${(section = s)} --`);
    lines.push(
      `[${c.status}] ${c.id.padEnd(6)} ${c.title}${c.scored || c.source === "guidance" ? "" : " (Manual)"}`,
    );
    lines.push(`         ${c.reason}`);
  }
  lines.push(
    "",
    "== Summary ==",
    `${r.counts.PASS} checks PASS`,
    `${r.counts.FAIL} checks FAIL`,
    `${r.counts.WARN} checks WARN`,
  );
  return lines.join("\n");
}

const sectionOf = (id: string) =>
  id.startsWith("1.1.")
    ? "1.1 Control Plane Node Configuration Files"
    : id.startsWith("1.2.")
      ? "1.2 API Server"
      : "2 Etcd Node Configuration";
