import { isIP } from "node:net";
import * as path from "node:path";
import { z } from "zod";
import { coldStorageClasses, type ColdStorageClass } from "../backup/defaults";
import {
  etcdCapabilityTable,
  hasCapability,
  parseEtcdVersion,
  unsupportedVersionReason,
} from "../etcd/capabilities";
import {
  allowedCipherSuites,
  defaultCipherSuites,
  defaults,
  encryptionProviders,
  keyAlgorithms,
  keyStates,
  minTlsVersions,
  type EncryptionProvider,
  type KeyAlgorithm,
  type KeyState,
  type MinTlsVersion,
} from "./constants";
import { ConfigError, type ConfigProblem } from "./errors";

/*
 * One schema validates both the component's plain args and a stack's `secure-etcd:*` config, so a
 * bad value fails the same way, before any resource exists, whichever way the user came in.
 */

const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const dnsName = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;
/** Kubernetes puts the key name into the stored prefix `k8s:enc:<provider>:v1:<name>:`, so no colons. */
const keyName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const resourceName = /^(\*\.\*|\*\.[a-z0-9.-]+|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9.-]+)?)$/;
const goDuration = /^\d+(ms|s|m|h)$/;

const show = (v: unknown): string =>
  typeof v === "string" ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));

function oneOf<T extends string>(values: readonly T[], what: string) {
  return z.string().refine((v) => (values as readonly string[]).includes(v), {
    error: (iss) => `${show(iss.input)} is not a ${what}; allowed: ${values.join(", ")}`,
  }) as unknown as z.ZodType<T>;
}

function matching(re: RegExp, what: string) {
  return z.string().refine((v) => re.test(v), {
    error: (iss) => `${show(iss.input)} is not a valid ${what}`,
  });
}

/** Pulumi passes numbers in stack files as strings; accept both, reject anything else with the value shown. */
function wholeHours(what: string) {
  return z.union([z.number(), z.string()]).transform((v, ctx) => {
    const n = typeof v === "number" ? v : /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n <= 0) {
      ctx.addIssue({
        code: "custom",
        message: `${show(v)} is not a valid ${what}; expected a whole number of hours > 0`,
      });
      return z.NEVER;
    }
    return n;
  });
}

function flag() {
  return z.unknown().transform((v, ctx) => {
    if (v === true || v === "true") return true;
    if (v === false || v === "false") return false;
    ctx.addIssue({ code: "custom", message: `${show(v)} is not a boolean; allowed: true, false` });
    return z.NEVER;
  });
}

const absolutePath = z.string().refine((v) => path.posix.isAbsolute(v) && !v.includes(".."), {
  error: (iss) => `${show(iss.input)} is not an absolute path without '..'`,
});

const memberSchema = z
  .object({
    name: matching(dnsLabel, "member name (lowercase DNS label, e.g. cp-1)"),
    ip: z.string().refine((v) => isIP(v) !== 0, {
      error: (iss) => `${show(iss.input)} is not an IPv4 or IPv6 address (e.g. 10.0.1.10 or fd00::10)`,
    }),
    dnsNames: z.array(matching(dnsName, "DNS name (lowercase, e.g. cp-1.etcd.internal)")).default([]),
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
    timeout: matching(goDuration, "timeout (Go duration such as 3s)").optional(),
  })
  .strict();

const encryptionSchema = z
  .object({
    provider: oneOf(encryptionProviders, "encryption provider").default(defaults.encryptionProvider),
    resources: z
      .array(matching(resourceName, "resource name (e.g. secrets, configmaps, *.apps)"))
      .min(1, { error: "must list at least one resource (e.g. secrets)" })
      .default([...defaults.encryptedResources]),
    keys: z.array(keySchema).default([{ name: "key1", state: "primary" }]),
    identityFallback: flag().default(false),
    automaticReload: flag().default(false),
  })
  .strict();

const pathsSchema = z
  .object({
    pkiDir: absolutePath.default("/etc/kubernetes/pki"),
    manifestDir: absolutePath.default("/etc/kubernetes/manifests"),
    dataDir: absolutePath.default("/var/lib/etcd"),
    encryptionConfigDir: absolutePath.default("/etc/kubernetes/enc"),
  })
  .strict();

const tlsSchema = z
  .object({
    minVersion: oneOf(minTlsVersions, "minimum TLS version").default(defaults.minTlsVersion),
    cipherSuites: z
      .array(oneOf(allowedCipherSuites as readonly string[], "cipher suite (ECDHE with AEAD only)"))
      .min(1, { error: "must list at least one cipher suite" })
      .default([...defaultCipherSuites]),
  })
  .strict();

function wholeDays(what: string, min = 1, max = 36500) {
  return z.union([z.number(), z.string()]).transform((v, ctx) => {
    const n = typeof v === "number" ? v : /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      ctx.addIssue({
        code: "custom",
        message: `${show(v)} is not a valid ${what}; expected a whole number of days from ${min} to ${max}`,
      });
      return z.NEVER;
    }
    return n;
  });
}

const bucketName = /^(?!xn--)(?!.*-s3alias$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const awsRegion = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;
const cronExpression = /^(@(hourly|daily|weekly|monthly|yearly|annually|midnight)|(\S+\s+){4}\S+)$/;

const backupSchema = z
  .object({
    enabled: flag().default(true),
    bucketName: matching(
      bucketName,
      "S3 bucket name (3–63 lowercase letters, digits, dots, hyphens)",
    ).optional(),
    schedule: matching(cronExpression, "cron schedule (5 fields or @hourly-style macro)").optional(),
    retentionDays: wholeDays("retention").optional(),
    noncurrentVersionDays: wholeDays("noncurrent-version retention").optional(),
    transitionToColdAfterDays: wholeDays("cold transition").optional(),
    coldStorageClass: oneOf(coldStorageClasses, "S3 storage class").optional(),
    objectLock: z
      .object({
        mode: oneOf(["GOVERNANCE", "COMPLIANCE"] as const, "Object Lock mode"),
        days: wholeDays("lock period"),
      })
      .strict()
      .optional(),
    replicaRegion: matching(awsRegion, "AWS region (e.g. eu-central-1)").optional(),
    accessLogging: z
      .object({
        targetBucket: matching(bucketName, "S3 bucket name"),
        targetPrefix: z.string().default("s3-access-logs/"),
      })
      .strict()
      .optional(),
    oidc: z
      .object({
        providerArn: matching(/^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/.+$/, "IAM OIDC provider ARN"),
        providerUrl: z.string().min(1),
        namespace: matching(dnsLabel, "namespace").optional(),
        serviceAccount: matching(dnsLabel, "service account name").optional(),
      })
      .strict()
      .optional(),
    kmsKeyDeletionWindowDays: wholeDays("KMS key deletion window", 7, 30).default(30),
    /** Program only: create the snapshot job in the cluster (via the ambient kubeconfig) instead of only rendering it. */
    deployJob: flag().default(false),
    /** Program only: kubeconfig context for deployJob (default: the current context). */
    kubeContext: z.string().min(1).optional(),
  })
  .strict();

export const settingsSchema = z
  .object({
    clusterName: matching(dnsLabel, "cluster name (lowercase DNS label, e.g. payments-prod)"),
    environment: matching(dnsLabel, "environment name (lowercase DNS label, e.g. dev, staging, prod)"),
    members: z.array(memberSchema),
    etcdVersion: z.string(),
    etcdImage: z.string().min(1).optional(),
    keyAlgorithm: oneOf(keyAlgorithms, "key algorithm").default(defaults.keyAlgorithm),
    caValidityHours: wholeHours("CA validity").default(defaults.caValidityHours),
    leafValidityHours: wholeHours("leaf certificate validity").default(defaults.leafValidityHours),
    earlyRenewalHours: wholeHours("early-renewal window").default(defaults.earlyRenewalHours),
    backupClientCommonName: matching(dnsLabel, "backup client common name").default(
      defaults.backupClientCommonName,
    ),
    encryption: encryptionSchema.default({
      provider: defaults.encryptionProvider,
      resources: [...defaults.encryptedResources],
      keys: [{ name: "key1", state: "primary" }],
      identityFallback: false,
      automaticReload: false,
    }),
    paths: pathsSchema.default({
      pkiDir: "/etc/kubernetes/pki",
      manifestDir: "/etc/kubernetes/manifests",
      dataDir: "/var/lib/etcd",
      encryptionConfigDir: "/etc/kubernetes/enc",
    }),
    tls: tlsSchema.default({ minVersion: defaults.minTlsVersion, cipherSuites: [...defaultCipherSuites] }),
    protectEncryptionKeys: flag().default(true),
    backup: backupSchema.default({ enabled: true, kmsKeyDeletionWindowDays: 30, deployJob: false }),
  })
  .strict();

/** Environments with built-in snapshot schedule and retention defaults. */
export const environmentsWithBackupDefaults = ["dev", "staging", "prod"] as const;

export interface EtcdMemberSpec {
  name: string;
  ip: string;
  dnsNames: string[];
}

export interface EncryptionKeySpec {
  name: string;
  state: KeyState;
  provider: EncryptionProvider;
  endpoint?: string;
  timeout?: string;
}

/** Fully defaulted, validated settings: what every renderer and resource builder works from. */
export interface SecureEtcdSettings {
  clusterName: string;
  environment: string;
  members: EtcdMemberSpec[];
  etcdVersion: string;
  etcdImage: string;
  keyAlgorithm: KeyAlgorithm;
  caValidityHours: number;
  leafValidityHours: number;
  earlyRenewalHours: number;
  backupClientCommonName: string;
  encryption: {
    provider: EncryptionProvider;
    resources: string[];
    keys: EncryptionKeySpec[];
    identityFallback: boolean;
    automaticReload: boolean;
  };
  paths: { pkiDir: string; manifestDir: string; dataDir: string; encryptionConfigDir: string };
  tls: { minVersion: MinTlsVersion; cipherSuites: string[] };
  protectEncryptionKeys: boolean;
  backup: BackupSettings;
}

export interface BackupSettings {
  enabled: boolean;
  bucketName?: string;
  schedule?: string;
  retentionDays?: number;
  noncurrentVersionDays?: number;
  transitionToColdAfterDays?: number;
  coldStorageClass?: ColdStorageClass;
  objectLock?: { mode: "GOVERNANCE" | "COMPLIANCE"; days: number };
  replicaRegion?: string;
  accessLogging?: { targetBucket: string; targetPrefix: string };
  oidc?: { providerArn: string; providerUrl: string; namespace?: string; serviceAccount?: string };
  kmsKeyDeletionWindowDays: number;
  deployJob: boolean;
  kubeContext?: string;
}

function formatPath(prefix: string, p: PropertyKey[]): string {
  let out = prefix;
  for (const seg of p)
    out +=
      typeof seg === "number" ? `[${seg}]` : `${out === "" || out.endsWith(":") ? "" : "."}${String(seg)}`;
  return out || "(root)";
}

function issueMessage(iss: z.core.$ZodIssue & { input?: unknown }): string {
  switch (iss.code) {
    case "invalid_type":
      return iss.input === undefined
        ? `is required (expected ${iss.expected})`
        : `${show(iss.input)} has the wrong type; expected ${iss.expected}`;
    case "unrecognized_keys":
      return `unknown key${iss.keys.length > 1 ? "s" : ""} ${iss.keys.map((k) => show(k)).join(", ")}`;
    default:
      return iss.message;
  }
}

/** Checks that span fields: counts, uniqueness, rotation states, windows, versions. */
function crossChecks(s: z.output<typeof settingsSchema>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (p: string, message: string) => problems.push({ path: p, message });

  const n = s.members.length;
  if (n === 0) add("members", "must list at least one etcd member");
  else if (n % 2 === 0 || n > 7)
    add("members", `has ${n} members; etcd needs an odd member count from 1 to 7 to keep quorum safely`);
  const seenNames = new Map<string, number>();
  const seenIps = new Map<string, number>();
  s.members.forEach((m, i) => {
    if (seenNames.has(m.name))
      add(
        `members[${i}].name`,
        `${show(m.name)} duplicates members[${seenNames.get(m.name)}].name; names must be unique`,
      );
    else seenNames.set(m.name, i);
    if (seenIps.has(m.ip))
      add(
        `members[${i}].ip`,
        `${show(m.ip)} duplicates members[${seenIps.get(m.ip)}].ip; each member needs its own address`,
      );
    else seenIps.set(m.ip, i);
  });

  const versionProblem = unsupportedVersionReason(s.etcdVersion);
  if (versionProblem) add("etcdVersion", versionProblem);
  const v = versionProblem ? undefined : parseEtcdVersion(s.etcdVersion);

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

  if (v && s.tls.minVersion === "TLS1.3" && !hasCapability(v, "tlsMinVersion")) {
    const row = etcdCapabilityTable.tlsMinVersion;
    add(
      "tls.minVersion",
      `"TLS1.3" needs etcd ${row.since} or later (${row.what}); etcd ${s.etcdVersion} cannot enforce it`,
    );
  }

  const keys = s.encryption.keys;
  const primaries = keys.map((k, i) => ({ k, i })).filter(({ k }) => k.state === "primary");
  if (keys.length === 0) add("encryption.keys", "must list at least one key, with state primary");
  else if (primaries.length === 0)
    add("encryption.keys", `has no key with state "primary"; exactly one key must encrypt writes`);
  else if (primaries.length > 1)
    add(
      "encryption.keys",
      `has ${primaries.length} keys with state "primary" (${primaries.map(({ k }) => show(k.name)).join(", ")}); exactly one is allowed — mark the new key "staged" until every API server can read it`,
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
    if (provider !== "kms" && (k.endpoint || k.timeout))
      add(
        `encryption.keys[${i}]`,
        `endpoint/timeout only apply to kms keys; this key's provider is ${show(provider)}`,
      );
  });
  const b = s.backup;
  if (b.enabled && !(environmentsWithBackupDefaults as readonly string[]).includes(s.environment)) {
    for (const k of ["schedule", "retentionDays", "noncurrentVersionDays"] as const)
      if (b[k] === undefined)
        add(
          `backup.${k}`,
          `is required for environment ${show(s.environment)}: built-in snapshot defaults exist only for ${environmentsWithBackupDefaults.join(", ")}`,
        );
  }
  if (
    b.transitionToColdAfterDays !== undefined &&
    b.retentionDays !== undefined &&
    b.transitionToColdAfterDays >= b.retentionDays
  )
    add(
      "backup.transitionToColdAfterDays",
      `${b.transitionToColdAfterDays} must be less than backup.retentionDays (${b.retentionDays})`,
    );
  if (b.accessLogging && b.bucketName && b.accessLogging.targetBucket === b.bucketName)
    add(
      "backup.accessLogging.targetBucket",
      `${show(b.accessLogging.targetBucket)} is the snapshot bucket itself; logs must go elsewhere`,
    );

  const resources = new Set<string>();
  s.encryption.resources.forEach((r, i) => {
    if (resources.has(r)) add(`encryption.resources[${i}]`, `${show(r)} is listed twice`);
    resources.add(r);
  });
  return problems;
}

/**
 * Validates raw args/config and fills in defaults. Throws one ConfigError listing every problem, each
 * naming `${prefix}<key>`, the bad value and what is allowed.
 */
export function validateSettings(raw: unknown, prefix: string, source: string): SecureEtcdSettings {
  const parsed = settingsSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((iss) => ({
      path: formatPath(prefix, iss.path),
      message: issueMessage(iss),
    }));
    throw new ConfigError(problems, source);
  }
  const cross = crossChecks(parsed.data);
  if (cross.length > 0)
    throw new ConfigError(
      cross.map((p) => ({ ...p, path: prefix + p.path })),
      source,
    );
  const s = parsed.data;
  const version = parseEtcdVersion(s.etcdVersion)!;
  return {
    ...s,
    etcdVersion: `${version.major}.${version.minor}.${version.patch}`,
    etcdImage:
      s.etcdImage ?? `${defaults.etcdImageRepository}:${version.major}.${version.minor}.${version.patch}-0`,
    members: s.members.map((m) => ({ name: m.name, ip: m.ip, dnsNames: [...m.dnsNames] })),
    encryption: {
      ...s.encryption,
      keys: s.encryption.keys.map((k) => ({ ...k, provider: k.provider ?? s.encryption.provider })),
    },
  };
}
