/*
 * npm run cis -- --stack NAME [--out FILE]
 *
 * Renders the stack offline (the real program under the provider emulation, as the rehearsal does;
 * render-only, no etcd) and prints a kube-bench-style report over what the package ships: every member's
 * etcd manifest, the kube-apiserver flags, the EncryptionConfiguration, the owners and modes the node
 * bootstrap installs, and the rendered artifacts' modes. Writes the same as JSON (default
 * `.rehearsal/<stack>/cis-report.json`). Exit 0 with no FAIL, 1 on any FAIL, 2 for bad arguments or
 * config (the key is named).
 */
import { X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import {
  cisReport,
  formatCisReport,
  installedByBootstrap,
  type CisReport,
  type CisReportInput,
} from "../components/cis";
import { ConfigError } from "../components/config";
import { nodePaths, type NodeMaterial } from "../components/manifests";
import { renderMemberBundle } from "../components/secretStore/memberBundle";
import { kmsPluginManifestFile } from "../components/kms/naming";
import { kmsPluginPlans } from "../components/kms/plan";
import { apiserverMountedDirsOf } from "../components/kms/socketCoverage";
import { renderArtifacts, type RenderedArtifacts } from "../harness/artifacts";
import { layout } from "../harness/layout";
import { availableStacks, repoRoot } from "../harness/stackFiles";
import { parseFlags } from "../tools/shared/commandLine";

const usage = "usage: npm run cis -- --stack NAME [--out FILE]";

export class CisUsageError extends Error {}

export interface CisOptions {
  stack: string;
  out: string;
}

export function parseCisCli(argv: string[]): CisOptions {
  let values;
  try {
    // The shared repeated-flag rule: each flag once.
    values = parseFlags(argv, {
      stack: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", default: false },
    } as const);
  } catch (e) {
    throw new CisUsageError(`${(e as Error).message}\n${usage}`);
  }
  if (values.help) throw new CisUsageError(usage);
  const stacks = availableStacks();
  if (values.stack === undefined)
    throw new CisUsageError(`--stack: required; allowed: ${stacks.join(", ")}\n${usage}`);
  if (!stacks.includes(values.stack))
    throw new CisUsageError(
      `--stack: ${JSON.stringify(values.stack)} has no stacks/Pulumi.${values.stack}.yaml; allowed: ${stacks.join(", ")}`,
    );
  return {
    stack: values.stack,
    out: path.resolve(values.out ?? path.join(repoRoot, ".rehearsal", values.stack, "cis-report.json")),
  };
}

const read = (file: string) => fs.readFileSync(file, "utf8");

/** Each kms key's plugin manifest, as rendered (none without kms keys). */
function kmsPluginManifestsOf(dir: string, s: RenderedArtifacts["settings"]) {
  return kmsPluginPlans(s.encryption.keys).map((p) => ({
    key: p.key,
    manifest: read(layout.kmsPluginManifest(dir, p.key)),
  }));
}

/** What the member's node gets, as text, from the rendered artifacts (the same material the component uses). */
function materialOf(dir: string, member: string, s: RenderedArtifacts["settings"]): NodeMaterial {
  return {
    caCertPem: read(layout.caCert(dir)),
    serverCertPem: read(layout.member(dir, member, "server", "crt")),
    serverKeyPem: read(layout.member(dir, member, "server", "key")),
    peerCertPem: read(layout.member(dir, member, "peer", "crt")),
    peerKeyPem: read(layout.member(dir, member, "peer", "key")),
    apiserverClientCertPem: read(layout.client(dir, "apiserver-etcd-client", "crt")),
    apiserverClientKeyPem: read(layout.client(dir, "apiserver-etcd-client", "key")),
    healthcheckClientCertPem: read(layout.client(dir, "healthcheck-client", "crt")),
    healthcheckClientKeyPem: read(layout.client(dir, "healthcheck-client", "key")),
    encryptionConfiguration: read(layout.encryptionConfig(dir)),
    kmsPluginManifests: kmsPluginManifestsOf(dir, s),
  };
}

/** The flags the kube-apiserver patch appends (RFC 6902 `add …/command/-` operations). */
function apiserverFlagsOf(patchYaml: string): string[] {
  const ops = parse(patchYaml) as { op: string; path: string; value: unknown }[];
  return ops.filter((o) => o.op === "add" && /\/command\/-$/.test(o.path)).map((o) => String(o.value));
}

/** NotAfter − NotBefore of every rendered leaf certificate (the CA is not a leaf). */
function leafCertificatesOf(a: RenderedArtifacts): CisReportInput["leafCertificates"] {
  return a.files
    .filter((f) => f.path.endsWith(".crt") && path.join(a.outDir, f.path) !== layout.caCert(a.outDir))
    .map((f) => {
      const c = new X509Certificate(fs.readFileSync(path.join(a.outDir, f.path)));
      const hours = (Date.parse(c.validTo) - Date.parse(c.validFrom)) / 3_600_000;
      return { id: f.path.replace(/^pki\//, "").replace(/\.crt$/, ""), validityHours: hours };
    });
}

/** The report's input from a render: manifests, flags and config as written, node files as installed. */
export function reportInputOf(a: RenderedArtifacts): CisReportInput {
  const dir = a.outDir;
  const s = a.settings;
  const installed = s.members.map((m) => {
    // What the node bootstrap installs: the member's bundle, as its secret holds it.
    const bundle = renderMemberBundle(s, m, materialOf(dir, m.name, s), s.encryption.keys);
    return { member: m.name, paths: nodePaths(s), facts: installedByBootstrap(bundle) };
  });
  const plugins = kmsPluginManifestsOf(dir, s);
  return {
    stack: a.stack,
    etcdManifests: Object.fromEntries(s.members.map((m) => [m.name, read(layout.etcdManifest(dir, m.name))])),
    apiserverFlags: apiserverFlagsOf(read(layout.apiserverPatch(dir))),
    encryptionConfiguration: {
      text: read(layout.encryptionConfig(dir)),
      installedAt: nodePaths(s).encryptionConfig,
    },
    files: {
      nodes: installed,
      // The real modes on disk, not the ones asked for.
      artifacts: a.files.map((f) => ({
        kind: "file" as const,
        path: f.path,
        mode: fs.statSync(path.join(dir, f.path)).mode & 0o777,
      })),
    },
    leafCertificates: leafCertificatesOf(a),
    environment: s.environment,
    backupsEnabled: s.backup.enabled,
    kms: {
      plugins,
      apiserverMountedDirs: apiserverMountedDirsOf(read(layout.apiserverPatch(dir))),
      installed: installed.map((n) => ({
        member: n.member,
        facts: n.facts,
        manifestPaths: Object.fromEntries(
          plugins.map((p) => [p.key, path.posix.join(s.paths.manifestDir, kmsPluginManifestFile(p.key))]),
        ),
      })),
    },
  };
}

/**
 * Renders into a private temporary directory (it holds private keys) that is removed afterwards, and
 * writes the report JSON (0600). Throws ConfigError for a bad stack config.
 */
export async function runCis(o: CisOptions): Promise<CisReport> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "secure-etcd-cis-"));
  try {
    const artifacts = await renderArtifacts({ stack: o.stack, outDir: path.join(tmp, "artifacts") });
    const report = cisReport(reportInputOf(artifacts));
    fs.mkdirSync(path.dirname(o.out), { recursive: true, mode: 0o700 });
    fs.writeFileSync(o.out, JSON.stringify(report, null, 2) + "\n", { mode: 0o600 });
    return report;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(usage); // asked for: the usage, exit 0 (the docs test runs every documented command so)
    return 0;
  }
  let opts;
  try {
    opts = parseCisCli(argv);
  } catch (e) {
    console.error(`cis: ${(e as Error).message}`);
    return 2;
  }
  try {
    const report = await runCis(opts);
    console.log(formatCisReport(report));
    console.log(`\nreport: ${opts.out}`);
    return report.passed ? 0 : 1;
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`cis: ${e.message}`);
      return 2;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    console.error(`cis: failed: ${process.env.SECURE_ETCD_DEBUG ? (err.stack ?? err.message) : err.message}`);
    return 1;
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
