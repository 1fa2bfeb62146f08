import { z } from "zod";
import {
  coldStorageClasses,
  customEnvironmentBookkeeping,
  DEFAULT_COLD_STORAGE_CLASS,
  isSnapshotEnvironment,
  MIN_STORAGE_DAYS,
  snapshotDefaults,
  type ColdStorageClass,
} from "../backup/defaults";
import { bucketNameProblem, oidcProblem } from "./checks";
import { cronIntervals, cronScheduleProblem } from "./cron";
import { ConfigError, ProblemList, parseOrThrow } from "./errors";
import { checked, dnsLabel, flag, matching, oneOf, show, wholeDays } from "./fields";

/*
 * Snapshot settings: validated and resolved HERE, once, for the component (SecureEtcd), the standalone
 * SnapshotStore/SnapshotJob components and the rehearsal. Per-environment defaults are data in
 * backup/defaults.ts; an environment without a row must give schedule and retention itself.
 */

export const awsRegion = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;
/** Snapshots closer together than this would overlap with their own verification and upload. */
export const minSnapshotIntervalMinutes = 5;

/** S3 Object Lock retention mode. */
export const ObjectLockMode = {
  /** Users with `s3:BypassGovernanceRetention` can still delete a locked version. */
  Governance: "GOVERNANCE",
  /** Nobody, the account root included, can delete a locked version before its retention ends. */
  Compliance: "COMPLIANCE",
} as const;
export type ObjectLockMode = (typeof ObjectLockMode)[keyof typeof ObjectLockMode];
export const objectLockModes: readonly ObjectLockMode[] = Object.values(ObjectLockMode);

export const backupSchema = z
  .object({
    enabled: flag().default(true),
    bucketName: checked(bucketNameProblem).optional(),
    schedule: checked(cronScheduleProblem).optional(),
    retentionDays: wholeDays("retention").optional(),
    noncurrentVersionDays: wholeDays("noncurrent-version retention").optional(),
    transitionToColdAfterDays: wholeDays("cold transition").optional(),
    coldStorageClass: oneOf(coldStorageClasses, "S3 storage class").optional(),
    objectLock: z
      .object({ mode: oneOf(objectLockModes, "Object Lock mode"), days: wholeDays("lock period") })
      .strict()
      .optional(),
    replicaRegion: matching(awsRegion, "AWS region (e.g. eu-central-1)").optional(),
    accessLogging: z
      .object({
        targetBucket: checked(bucketNameProblem),
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
  })
  .strict();

export type BackupConfig = z.output<typeof backupSchema>;

/** How long snapshots are kept (an S3 lifecycle rule scoped to the cluster's prefix). */
export interface SnapshotRetention {
  /** Days after upload until a snapshot expires (gets a delete marker on the versioned bucket). */
  days: number;
  /** Days a noncurrent (expired or overwritten) version is kept before it is deleted for good. */
  noncurrentVersionDays: number;
  /** Move snapshots to `coldStorageClass` after this many days (must be < `days`). */
  transitionToColdAfterDays?: number;
  /** Storage class for the transition (default GLACIER_IR). */
  coldStorageClass?: ColdStorageClass;
}

/** CronJob timing and bookkeeping of the snapshot job. */
export interface SnapshotScheduleSettings {
  /** Cron expression (5 fields or an `@hourly`-style descriptor), evaluated in `timeZone`. */
  schedule: string;
  /** IANA time zone for `schedule` (CronJob `spec.timeZone`). */
  timeZone: string;
  successfulJobsHistoryLimit: number;
  failedJobsHistoryLimit: number;
  /** A run that could not start within this many seconds of its slot is skipped (counted as missed). */
  startingDeadlineSeconds: number;
  /** Hard limit for one run, retries included; shorter than the shortest interval (concurrency is Forbid). */
  activeDeadlineSeconds: number;
  backoffLimit: number;
}

export interface SnapshotObjectLock {
  mode: ObjectLockMode;
  days: number;
}

/** Everything about snapshots, resolved: what SnapshotStore, SnapshotJob and the rehearsal consume. */
export interface ResolvedBackup extends Omit<
  BackupConfig,
  | "enabled"
  | "schedule"
  | "retentionDays"
  | "noncurrentVersionDays"
  | "transitionToColdAfterDays"
  | "coldStorageClass"
> {
  enabled: true;
  schedule: SnapshotScheduleSettings;
  /** Longest gap between two runs, in minutes: the recovery point objective the schedule implies. */
  rpoMinutes: number;
  retention: SnapshotRetention;
  /** Legal but probably costly choices, for `pulumi.log.warn`. */
  warnings: string[];
}

/**
 * The schedule of an environment: the table's row (or the custom-environment bookkeeping) with the
 * cron expression overridden, and deadlines capped so one run always fits in the shortest interval.
 */
export function resolveSchedule(
  environment: string,
  cron: string | undefined,
  problems: ProblemList,
  key = "backup.schedule",
): { schedule: SnapshotScheduleSettings; rpoMinutes: number } | undefined {
  const row = isSnapshotEnvironment(environment) ? snapshotDefaults[environment].schedule : undefined;
  const expression = cron ?? row?.schedule;
  if (expression === undefined) {
    problems.add(key, requiredFor(environment));
    return undefined;
  }
  const problem = cronScheduleProblem(expression);
  if (problem) {
    problems.add(key, `${show(expression)} ${problem}`);
    return undefined;
  }
  const { shortestMinutes, longestMinutes } = cronIntervals(expression);
  if (shortestMinutes < minSnapshotIntervalMinutes) {
    problems.add(
      key,
      `${show(expression)} runs ${shortestMinutes} minute(s) apart at its closest; snapshot runs need at least ${minSnapshotIntervalMinutes} minutes between them`,
    );
    return undefined;
  }
  const base = row ?? { ...customEnvironmentBookkeeping, timeZone: "Etc/UTC" };
  const interval = shortestMinutes * 60;
  return {
    schedule: {
      ...base,
      schedule: expression,
      // Forbid skips a slot while a run is still going: keep every run (and its start delay) inside it.
      activeDeadlineSeconds: Math.min(base.activeDeadlineSeconds, interval - 60),
      startingDeadlineSeconds: Math.max(10, Math.min(base.startingDeadlineSeconds, interval / 2)),
    },
    rpoMinutes: longestMinutes,
  };
}

function requiredFor(environment: string): string {
  return `is required for environment ${show(environment)}: built-in snapshot defaults exist only for ${Object.keys(snapshotDefaults).join(", ")}`;
}

/** Retention with the environment's defaults filled in, checked against S3's lifecycle rules. */
export function resolveRetention(
  environment: string,
  b: Pick<
    BackupConfig,
    "retentionDays" | "noncurrentVersionDays" | "transitionToColdAfterDays" | "coldStorageClass"
  >,
  problems: ProblemList,
  keys = { days: "backup.retentionDays", noncurrent: "backup.noncurrentVersionDays", prefix: "backup" },
): { retention: SnapshotRetention; warnings: string[] } | undefined {
  const row = isSnapshotEnvironment(environment) ? snapshotDefaults[environment].retention : undefined;
  const days = b.retentionDays ?? row?.days;
  const noncurrentVersionDays = b.noncurrentVersionDays ?? row?.noncurrentVersionDays;
  if (days === undefined) problems.add(keys.days, requiredFor(environment));
  if (noncurrentVersionDays === undefined) problems.add(keys.noncurrent, requiredFor(environment));
  if (days === undefined || noncurrentVersionDays === undefined) return undefined;
  const retention: SnapshotRetention = {
    days,
    noncurrentVersionDays,
    transitionToColdAfterDays: b.transitionToColdAfterDays,
    coldStorageClass: b.coldStorageClass,
  };
  return { retention, warnings: coldTransitionChecks(retention, problems, keys.prefix) };
}

/** S3's rules for a lifecycle transition, and warnings where one costs more than it saves. */
function coldTransitionChecks(r: SnapshotRetention, problems: ProblemList, prefix: string): string[] {
  const warnings: string[] = [];
  const cls = r.coldStorageClass ?? DEFAULT_COLD_STORAGE_CLASS;
  const t = r.transitionToColdAfterDays;
  if (t === undefined) {
    if (r.coldStorageClass !== undefined)
      warnings.push(`${prefix}.coldStorageClass is ignored without transitionToColdAfterDays`);
    return warnings;
  }
  const days = prefix === "backup" ? "backup.retentionDays" : `${prefix}.days`;
  if (t >= r.days)
    problems.add(
      `${prefix}.transitionToColdAfterDays`,
      `${t} must be less than ${days} (${r.days}): S3 requires the expiration to come after the transition`,
    );
  if ((cls === "STANDARD_IA" || cls === "ONEZONE_IA") && t < 30)
    problems.add(`${prefix}.transitionToColdAfterDays`, `${t} must be at least 30 for ${cls} (an S3 limit)`);
  if (r.days - t < MIN_STORAGE_DAYS[cls])
    warnings.push(
      `${prefix}: snapshots spend only ${r.days - t} days in ${cls} but it bills at least ${MIN_STORAGE_DAYS[cls]} days; the transition costs more than it saves`,
    );
  if (cls === "GLACIER" || cls === "DEEP_ARCHIVE")
    warnings.push(
      `${prefix}.coldStorageClass ${cls} needs an S3 restore (hours) before a snapshot can be downloaded; GLACIER_IR gives millisecond access`,
    );
  return warnings;
}

/**
 * Object Lock is irreversible: a lock longer than the snapshots live keeps every version (billed, and in
 * COMPLIANCE mode undeletable by anyone) past its retention, which can never be undone.
 */
export function checkObjectLock(
  lock: SnapshotObjectLock,
  r: SnapshotRetention,
  problems: ProblemList,
  key = "backup.objectLock.days",
): void {
  const kept = r.days + r.noncurrentVersionDays;
  if (lock.days > kept)
    problems.add(
      key,
      `${lock.days} exceeds how long a snapshot lives (retention ${r.days} + noncurrent ${r.noncurrentVersionDays} = ${kept} days): every version would be kept, billed and undeletable until its lock ends, and a lock can never be shortened or removed; use at most ${kept}`,
    );
}

/** Resolves the `backup` block for an environment; problems are added, not thrown. */
export function resolveBackup(
  environment: string,
  b: BackupConfig,
  problems: ProblemList,
): ResolvedBackup | { enabled: false } | undefined {
  // Disabled: nothing is created, so nothing environment-specific is required.
  if (!b.enabled) return { enabled: false };
  const {
    enabled: _enabled,
    schedule: cron,
    retentionDays,
    noncurrentVersionDays,
    transitionToColdAfterDays,
    coldStorageClass,
    ...rest
  } = b;
  const schedule = resolveSchedule(environment, cron, problems);
  const retention = resolveRetention(
    environment,
    { retentionDays, noncurrentVersionDays, transitionToColdAfterDays, coldStorageClass },
    problems,
  );
  if (b.accessLogging && b.bucketName && b.accessLogging.targetBucket === b.bucketName)
    problems.add(
      "backup.accessLogging.targetBucket",
      `${show(b.accessLogging.targetBucket)} is the snapshot bucket itself; logs must go elsewhere`,
    );
  if (retention && b.objectLock) checkObjectLock(b.objectLock, retention.retention, problems);
  const oidc = b.oidc && oidcProblem(b.oidc.providerArn, b.oidc.providerUrl);
  if (oidc) problems.add("backup.oidc.providerUrl", oidc);
  if (!schedule || !retention) return undefined;
  return {
    ...rest,
    enabled: true,
    ...schedule,
    retention: retention.retention,
    warnings: retention.warnings,
  };
}

// ---- standalone components (SnapshotStore, SnapshotJob) ------------------------------------------------

const retentionSchema = z
  .object({
    days: wholeDays("retention"),
    noncurrentVersionDays: wholeDays("noncurrent-version retention"),
    transitionToColdAfterDays: wholeDays("cold transition").optional(),
    coldStorageClass: oneOf(coldStorageClasses, "S3 storage class").optional(),
  })
  .strict();

/** Checks a SnapshotStore's retention (and lock); returns warnings, throws ConfigError naming the arg. */
export function validateRetention(
  retention: SnapshotRetention,
  source: string,
  objectLock?: SnapshotObjectLock,
): string[] {
  const r = parseOrThrow(retentionSchema, retention, "retention", source);
  const problems = new ProblemList("");
  const warnings = coldTransitionChecks(r, problems, "retention");
  if (objectLock) {
    const lock = parseOrThrow(
      z.object({ mode: oneOf(objectLockModes, "Object Lock mode"), days: wholeDays("lock period") }).strict(),
      objectLock,
      "objectLock",
      source,
    );
    checkObjectLock(lock, r, problems, "objectLock.days");
  }
  problems.throwIfAny(source);
  return warnings;
}

/** A SnapshotJob's schedule: the environment's defaults overlaid with overrides; ConfigError naming the arg. */
export function resolveSnapshotSchedule(
  environment: string,
  overrides: Partial<SnapshotScheduleSettings> = {},
  source = `snapshot schedule for environment ${show(environment)}`,
): SnapshotScheduleSettings {
  const problems = new ProblemList("");
  const resolved = resolveSchedule(environment, overrides.schedule, problems, "schedule.schedule");
  problems.throwIfAny(source);
  const merged = { ...resolved!.schedule, ...stripUndefined(overrides) };
  return parseOrThrow(scheduleSchema, merged, "schedule", source);
}

const scheduleSchema = z
  .object({
    schedule: checked(cronScheduleProblem),
    timeZone: z.string().min(1),
    successfulJobsHistoryLimit: z.number().int().min(0),
    failedJobsHistoryLimit: z.number().int().min(0),
    // The CronJob controller checks every 10 s; a shorter deadline can make every run "missed".
    startingDeadlineSeconds: z.number().int().min(10),
    activeDeadlineSeconds: z.number().int().positive(),
    backoffLimit: z.number().int().min(0),
  })
  .strict();

/** Checks a full schedule block (the SnapshotJob renderers' input); ConfigError naming the arg. */
export function validateSchedule(s: SnapshotScheduleSettings, source = "snapshot schedule"): void {
  parseOrThrow(scheduleSchema, s, "schedule", source);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const prefixSegment = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/**
 * The S3 key prefix of a cluster's snapshots: `<cluster>/<environment>/`. Both parts must be single path
 * segments, so the prefix-scoped IAM and lifecycle rules cannot match a sibling cluster's keys.
 */
export function snapshotPrefix(clusterName: string, environment: string): string {
  const problems = [
    ["clusterName", clusterName],
    ["environment", environment],
  ]
    .filter(([, v]) => typeof v !== "string" || !prefixSegment.test(v) || v === "." || v === "..")
    .map(([path, v]) => ({
      path,
      message: `${show(v)} is not one S3 path segment of letters, digits, '.', '_' or '-'`,
    }));
  if (problems.length > 0) throw new ConfigError(problems, "snapshot prefix");
  return `${clusterName}/${environment}/`;
}
