import { z } from "zod";
import {
  capabilitySince,
  etcdCapabilityTable,
  formatVersion,
  hasCapability,
  parseEtcdVersion,
  unsupportedVersionReason,
} from "../etcd/capabilities";
import { awsAccessProblems, deployerPrincipalArnsSchema } from "./awsAccess";
import { backupSchema, resolveBackup, type ResolvedBackup } from "./backup";
import {
  allowedCipherSuites,
  defaultCipherSuites,
  defaults,
  encryptionProviders,
  keyAlgorithms,
  keyStates,
  maxValidityHours,
  minTlsVersions,
  type EncryptionProvider,
} from "./constants";
import { parseOrThrow, ProblemList } from "./errors";
import {
  cipherSuitesProblem,
  dnsNameProblem,
  encryptedResourceProblems,
  imageProblem,
  ipProblem,
  memberIdentityProblems,
  memberNameProblem,
  pathOverlapProblems,
} from "./checks";
import { absolutePath, checked, dnsLabel, dnsName, flag, matching, oneOf, show, wholeHours } from "./fields";
import { selfReplicationProblems, type DeploymentContext } from "./replication";
import { kmsChecks, kmsSettingsSchema, portNumber } from "./kms";
import { resolveSecretStore, secretStoreSchema, type SecretStoreSettings } from "./secretStore";

/*
 * THE config shape: one zod schema validates both the component's args (member Inputs once they
 * resolve, see ../memberInputs.ts) and a stack's `secure-etcd:*` config, so a bad value fails the same
 * way whichever way the user came in — known values before any resource exists. The settings type every
 * renderer works from is derived from it (never restated).
 */

/** Kubernetes puts the key name into the stored prefix `k8s:enc:<provider>:v1:<name>:`, so no colons. */
const keyName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const resourceName = /^(\*\.\*|\*\.|\*\.[a-z0-9.-]+|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9.-]+)?)$/;
const goDuration = /^\d+(ms|s|m|h)$/;

const memberSchema = z
  .object({
    name: matching(dnsLabel, "member name (lowercase DNS label, e.g. cp-1)").pipe(checked(memberNameProblem)),
    ip: checked(ipProblem),
    dnsNames: z
      .array(matching(dnsName, "DNS name (lowercase, e.g. cp-1.etcd.internal)").pipe(checked(dnsNameProblem)))
      .default([]),
  })
  .strict();

const keySchema = z
  .object({
    name: matching(keyName, "encryption key name (letters, digits, . _ -; no colons; max 63)"),
    state: oneOf(keyStates, "key state"),
    provider: oneOf(encryptionProviders, "encryption provider").optional(),
    endpoint: z
      .string()
      .refine((v) => /^unix:\/\/\/.+/.test(v), {
        error: (iss) => `${show(iss.input)} is not a KMS plugin endpoint; expected unix:///path/to/socket`,
      })
      .optional(),
    timeout: matching(goDuration, "timeout (Go duration such as 3s)")
      .refine((v) => !/^0+(ms|s|m|h)$/.test(v), {
        error: (iss) => `${show(iss.input)} must be longer than zero`,
      })
      .optional(),
    /** kms only: the plugin's health port (default 8083 + the key's position among the kms keys). */
    healthPort: portNumber("kms plugin health port").optional(),
    archivedOn: z
      .string()
      .refine((v) => /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`)), {
        error: (iss) => `${show(iss.input)} is not a date like 2026-12-01`,
      })
      .optional(),
  })
  .strict();

const encryptionSchema = z
  .object({
    provider: oneOf(encryptionProviders, "encryption provider").default(defaults.encryptionProvider),
    resources: z
      .array(
        matching(
          resourceName,
          "resource name (lowercase plural such as secrets or configmaps, *.apps for a group, '*.' for the core group, '*.*' for all)",
        ),
      )
      .min(1, { error: "must list at least one resource (e.g. secrets)" })
      .default([...defaults.encryptedResources]),
    keys: z.array(keySchema).default([{ name: "key1", state: "primary" }]),
    identityFallback: flag().default(false),
    automaticReload: flag().default(false),
    /** The envelope keys in AWS KMS and the plugin, when a key uses kms (see config/kms.ts). */
    kms: kmsSettingsSchema.default(() => kmsSettingsSchema.parse({})),
  })
  .strict();

const pathsSchema = z
  .object({
    pkiDir: absolutePath.default(defaults.paths.pkiDir),
    manifestDir: absolutePath.default(defaults.paths.manifestDir),
    dataDir: absolutePath.default(defaults.paths.dataDir),
    encryptionConfigDir: absolutePath.default(defaults.paths.encryptionConfigDir),
  })
  .strict();

const tlsSchema = z
  .object({
    minVersion: oneOf(minTlsVersions, "minimum TLS version").default(defaults.minTlsVersion),
    /** Optional on input: with TLS1.3 Go's suites are fixed, so a list given then is a mistake. */
    cipherSuites: z
      .array(oneOf(allowedCipherSuites as readonly string[], "cipher suite (ECDHE with AEAD only)"))
      .min(1, { error: "must list at least one cipher suite" })
      .optional(),
  })
  .strict();

export const settingsSchema = z
  .object({
    clusterName: matching(dnsLabel, "cluster name (lowercase DNS label, e.g. payments-prod)"),
    environment: matching(dnsLabel, "environment name (lowercase DNS label, e.g. dev, staging, prod)"),
    members: z.array(memberSchema),
    etcdVersion: z.string(),
    etcdImage: checked(imageProblem).optional(),
    keyAlgorithm: oneOf(keyAlgorithms, "key algorithm").default(defaults.keyAlgorithm),
    caValidityHours: wholeHours("CA validity", maxValidityHours).default(defaults.caValidityHours),
    leafValidityHours: wholeHours("leaf certificate validity", maxValidityHours).default(
      defaults.leafValidityHours,
    ),
    earlyRenewalHours: wholeHours("early-renewal window", maxValidityHours).default(
      defaults.earlyRenewalHours,
    ),
    backupClientCommonName: matching(dnsLabel, "backup client common name").default(
      defaults.backupClientCommonName,
    ),
    encryption: encryptionSchema.default(() => encryptionSchema.parse({})),
    paths: pathsSchema.default(() => pathsSchema.parse({})),
    tls: tlsSchema.default(() => tlsSchema.parse({})),
    protectEncryptionKeys: flag().default(true),
    backup: backupSchema.default(() => backupSchema.parse({})),
    secretStore: secretStoreSchema.default(() => secretStoreSchema.parse({})),
    deployerPrincipalArns: deployerPrincipalArnsSchema,
  })
  .strict();

/** What the schema accepts (the component's args and the stack config before defaults). */
export type SettingsInput = z.input<typeof settingsSchema>;
type ParsedSettings = z.output<typeof settingsSchema>;
type ParsedKey = ParsedSettings["encryption"]["keys"][number];

export type EncryptionKeySpec = Omit<ParsedKey, "provider"> & { provider: EncryptionProvider };
export type EtcdMemberSpec = ParsedSettings["members"][number];
/** Snapshot settings, resolved per environment, or switched off. */
export type BackupSettings = ResolvedBackup | { enabled: false };

/** Fully defaulted, validated settings: what every renderer and resource builder works from. */
export type SecureEtcdSettings = Omit<
  ParsedSettings,
  "etcdImage" | "encryption" | "backup" | "tls" | "secretStore"
> & {
  etcdImage: string;
  encryption: Omit<ParsedSettings["encryption"], "keys"> & { keys: EncryptionKeySpec[] };
  tls: { minVersion: ParsedSettings["tls"]["minVersion"]; cipherSuites: string[] };
  backup: BackupSettings;
  /** Legal but weaker choices, for `pulumi.log.warn` at preview. */
  warnings: string[];
  secretStore: SecretStoreSettings;
};

/** Checks that span fields: counts, uniqueness, rotation states, windows, versions. */
function crossChecks(s: ParsedSettings, problems: ProblemList): void {
  const add = problems.add.bind(problems);
  const n = s.members.length;
  if (n === 0) add("members", "must list at least one etcd member");
  else if (n % 2 === 0 || n > 7)
    add("members", `has ${n} members; etcd needs an odd member count from 1 to 7 to keep quorum safely`);
  for (const p of memberIdentityProblems(s.members)) add(p.path, p.message);

  const versionProblem = unsupportedVersionReason(s.etcdVersion);
  if (versionProblem) add("etcdVersion", versionProblem);
  const v = versionProblem ? undefined : parseEtcdVersion(s.etcdVersion);
  if (v && s.tls.minVersion === "TLS1.3" && !hasCapability(v, "tlsMinVersion")) {
    add(
      "tls.minVersion",
      `"TLS1.3" needs etcd ${capabilitySince("tlsMinVersion")} (${etcdCapabilityTable.tlsMinVersion.what}); etcd ${s.etcdVersion} cannot enforce it`,
    );
  }

  s.members.forEach((m, i) =>
    m.dnsNames.forEach((d, j) => {
      if (m.dnsNames.indexOf(d) !== j) add(`members[${i}].dnsNames[${j}]`, `${show(d)} is listed twice`);
    }),
  );
  const reservedCns = new Map<string, string>([
    ["etcd-ca", "the CA"],
    ["kube-apiserver-etcd-client", "kube-apiserver's client cert"],
    ["kube-etcd-healthcheck-client", "the health-check client cert"],
    ...s.members.map((m): [string, string] => [m.name, `member ${m.name}'s server and peer certs`]),
  ]);
  if (reservedCns.has(s.backupClientCommonName))
    add(
      "backupClientCommonName",
      `${show(s.backupClientCommonName)} is the CN of ${reservedCns.get(s.backupClientCommonName)}; etcd identifies clients by CN, so the backup client needs its own`,
    );
  for (const p of pathOverlapProblems(s.paths)) add(`paths.${p.key}`, p.message);
  tlsChecks(s, add);

  if (s.leafValidityHours > s.caValidityHours)
    add(
      "leafValidityHours",
      `${s.leafValidityHours} exceeds caValidityHours (${s.caValidityHours}); a leaf cannot outlive its CA`,
    );
  if (s.earlyRenewalHours >= s.leafValidityHours)
    add(
      "earlyRenewalHours",
      `${s.earlyRenewalHours} must be less than leafValidityHours (${s.leafValidityHours}), or every 'pulumi up' would re-issue every cert`,
    );
  encryptionChecks(s, add);
}

function tlsChecks(s: ParsedSettings, add: (path: string, message: string) => void): void {
  const suites = s.tls.cipherSuites;
  if (!suites) return;
  if (s.tls.minVersion === "TLS1.3")
    add(
      "tls.cipherSuites",
      "does not apply with minVersion TLS1.3 (Go's TLS 1.3 suites are fixed); remove it",
    );
  const problem = cipherSuitesProblem(suites, s.keyAlgorithm);
  if (problem) add("tls.cipherSuites", `${show(suites)} ${problem}`);
  suites.forEach((c, i) => {
    if (suites.indexOf(c) !== i) add(`tls.cipherSuites[${i}]`, `${show(c)} is listed twice`);
  });
}

function encryptionChecks(s: ParsedSettings, add: (path: string, message: string) => void): void {
  const keys = s.encryption.keys;
  const primaries = keys.filter((k) => k.state === "primary");
  if (keys.length === 0) add("encryption.keys", "must list at least one key, with state primary");
  else if (primaries.length === 0)
    add("encryption.keys", `has no key with state "primary"; exactly one key must encrypt writes`);
  else if (primaries.length > 1)
    add(
      "encryption.keys",
      `has ${primaries.length} keys with state "primary" (${primaries.map((k) => show(k.name)).join(", ")}); exactly one is allowed — mark the new key "staged" until every API server can read it`,
    );
  const seenKeys = new Map<string, number>();
  keys.forEach((k, i) => {
    if (seenKeys.has(k.name))
      add(
        `encryption.keys[${i}].name`,
        `${show(k.name)} duplicates encryption.keys[${seenKeys.get(k.name)}].name`,
      );
    else seenKeys.set(k.name, i);
    const provider = k.provider ?? s.encryption.provider;
    if (provider === "kms" && !k.endpoint)
      add(
        `encryption.keys[${i}].endpoint`,
        `is required for a kms key (the KMS v2 plugin socket, e.g. unix:///var/run/kms.sock)`,
      );
    if ((k.state === "archived") !== (k.archivedOn !== undefined))
      add(
        `encryption.keys[${i}].archivedOn`,
        k.state === "archived"
          ? "is required for an archived key (the day it left the EncryptionConfiguration, e.g. 2026-12-01): snapshots taken before then still need it"
          : `only applies to archived keys; this key is ${show(k.state)}`,
      );
    if (provider !== "kms" && (k.endpoint || k.timeout || k.healthPort !== undefined))
      add(
        `encryption.keys[${i}]`,
        `endpoint/timeout/healthPort only apply to kms keys; this key's provider is ${show(provider)}`,
      );
  });
  kmsChecks(s, add);
  const resources = new Set<string>();
  s.encryption.resources.forEach((r, i) => {
    if (resources.has(r)) add(`encryption.resources[${i}]`, `${show(r)} is listed twice`);
    resources.add(r);
  });
  for (const p of encryptedResourceProblems(s.encryption.resources))
    add(`encryption.resources[${p.index}]`, p.message);
}

/** Choices CIS or upstream guidance rates weaker: said at preview, never silently accepted. */
function weakerChoices(s: ParsedSettings): string[] {
  const primary = s.encryption.keys.find((k) => k.state === "primary");
  const provider = primary?.provider ?? s.encryption.provider;
  const out: string[] = [];
  if (provider === "aesgcm")
    out.push(
      `encryption: the primary key ${show(primary?.name)} uses aesgcm, which FAILS CIS 1.2.28 as kube-bench checks it (the first provider must be aescbc, kms or secretbox), and needs rotating every 200,000 writes; prefer secretbox or kms`,
    );
  if (provider === "aescbc")
    out.push(
      `encryption: the primary key ${show(primary?.name)} uses aescbc, which Kubernetes rates weak (padding oracle); prefer secretbox or kms`,
    );
  return out;
}

/** Args-shaped config after parsing: numbers are numbers, defaults filled, nothing resolved yet. */
export type SecureEtcdConfig = ParsedSettings;

/**
 * Validates raw args/config and fills in every default (snapshot defaults per environment included).
 * Throws one ConfigError listing every problem, each naming `${prefix}<key>`, the bad value and what is
 * allowed (replication targets against `context.stackRegion` too, when known). Returns both the parsed config (Args-shaped, e.g. for handing to SecureEtcd) and the resolved
 * settings.
 */
export function parseSettings(
  raw: unknown,
  prefix: string,
  source: string,
  context: DeploymentContext = {},
): { config: SecureEtcdConfig; settings: SecureEtcdSettings } {
  const s = parseOrThrow(settingsSchema, raw, prefix, source);
  const problems = new ProblemList(prefix);
  crossChecks(s, problems);
  for (const p of selfReplicationProblems(s, context)) problems.add(p.path, p.message);
  const backup = resolveBackup(s.environment, s.backup, problems);
  const members = s.members.map((m) => m.name);
  const snapshotReplica = s.backup.enabled ? s.backup.replicaRegion : undefined;
  const secretStore = resolveSecretStore(s.environment, members, s.secretStore, snapshotReplica, problems);
  awsAccessProblems(s, problems);
  problems.throwIfAny(source);
  const version = formatVersion(parseEtcdVersion(s.etcdVersion)!);
  const settings: SecureEtcdSettings = {
    ...s,
    etcdVersion: version,
    etcdImage: s.etcdImage ?? `${defaults.etcdImageRepository}:${version}-0`,
    members: s.members.map((m) => ({ name: m.name, ip: m.ip, dnsNames: [...m.dnsNames] })),
    encryption: {
      ...s.encryption,
      keys: s.encryption.keys.map((k) => ({ ...k, provider: k.provider ?? s.encryption.provider })),
    },
    tls: { minVersion: s.tls.minVersion, cipherSuites: s.tls.cipherSuites ?? [...defaultCipherSuites] },
    backup: backup!,
    warnings: weakerChoices(s),
    secretStore,
  };
  return { config: s, settings };
}

/** {@link parseSettings}, for callers that need only the resolved settings. */
export function validateSettings(raw: unknown, prefix: string, source: string): SecureEtcdSettings {
  return parseSettings(raw, prefix, source).settings;
}
