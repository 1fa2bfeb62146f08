/**
 * Snapshot defaults and validation helpers. Pure data and functions: no Pulumi resources here, so the
 * table can be read by config validation, docs generators and tests without mocks.
 */

/** The environments this package knows defaults for. Other environment names work if every value is given. */
export type SnapshotEnvironment = "dev" | "staging" | "prod";

/** S3 storage classes a lifecycle rule may transition snapshots into. */
export type ColdStorageClass =
  "STANDARD_IA" | "ONEZONE_IA" | "INTELLIGENT_TIERING" | "GLACIER_IR" | "GLACIER" | "DEEP_ARCHIVE";

/**
 * How long snapshots are kept. Retention is enforced by an S3 lifecycle rule scoped to the
 * `<cluster>/<environment>/` prefix.
 *
 * On a versioned bucket (this one always is) expiry does not delete data: after `days` the current
 * version gets a delete marker and becomes noncurrent; it is removed for good `noncurrentVersionDays`
 * later. A snapshot therefore exists for at most `days + noncurrentVersionDays` (longer while an Object
 * Lock retention period still protects it). Expired delete markers are cleaned up automatically because
 * the rule specifies expiration `days`.
 */
export interface SnapshotRetention {
  /** Days after upload until a snapshot expires (gets a delete marker). Positive integer. */
  days: number;
  /**
   * Days after upload until a snapshot moves to `coldStorageClass`. Must be smaller than `days`.
   * Omit to keep snapshots in STANDARD (cheapest for short retention: cold classes bill a minimum
   * storage duration, e.g. 90 days for GLACIER_IR, 30 for STANDARD_IA).
   */
  transitionToColdAfterDays?: number;
  /** Storage class for the transition. Default `GLACIER_IR` (millisecond retrieval, no restore step). */
  coldStorageClass?: ColdStorageClass;
  /** Days a noncurrent (expired or overwritten) version is kept before it is deleted. Positive integer. */
  noncurrentVersionDays: number;
}

/** CronJob timing and bookkeeping for the snapshot job. */
export interface SnapshotScheduleSettings {
  /** Cron expression (5 fields or an `@hourly`-style macro), evaluated in `timeZone`. */
  schedule: string;
  /** IANA time zone for `schedule` (CronJob `spec.timeZone`, GA in Kubernetes 1.27). Default `Etc/UTC`. */
  timeZone?: string;
  /** Finished successful Jobs kept for inspection. */
  successfulJobsHistoryLimit: number;
  /** Finished failed Jobs kept for inspection (their pods hold the one-line failure reason). */
  failedJobsHistoryLimit: number;
  /** A run that could not start within this many seconds of its slot is skipped (counted as missed). */
  startingDeadlineSeconds: number;
  /** Hard limit for one run, retries included. Keep it below the schedule interval (concurrency is Forbid). */
  activeDeadlineSeconds: number;
  /** Pod retries within one run before the Job is marked failed. */
  backoffLimit: number;
}

/** Everything environment-specific about snapshots. */
export interface EnvironmentSnapshotDefaults {
  /** Recovery point objective implied by `schedule`, in minutes (documentation and reporting). */
  rpoMinutes: number;
  schedule: SnapshotScheduleSettings;
  retention: SnapshotRetention;
}

/**
 * Per-environment defaults.
 *
 * | env     | schedule        | RPO    | keep (current + noncurrent) | cold transition | history ok/failed |
 * |---------|-----------------|--------|-----------------------------|-----------------|-------------------|
 * | dev     | every 6 h       | 6 h    | 7 d + 1 d                   | none            | 1 / 3             |
 * | staging | hourly          | 1 h    | 14 d + 3 d                  | none            | 3 / 3             |
 * | prod    | every 15 min    | 15 min | 35 d + 7 d                  | none            | 3 / 5             |
 *
 * Why: prod matches kops' 15-minute cadence; 35 days covers a monthly audit/review cycle plus margin.
 * No cold transition by default: every cold class bills a minimum storage duration (GLACIER_IR 90 d,
 * STANDARD_IA 30 d) that is longer than what is left of a 35-day retention after any useful transition
 * day, so transitioning would cost more than it saves. Set `transitionToColdAfterDays` (e.g. 30 with a
 * retention of 120+ days) when keeping snapshots longer. The deadlines keep one run (retries included)
 * shorter than the interval, so `concurrencyPolicy: Forbid` never skips a slot because of a slow run.
 */
export const snapshotDefaults: Readonly<Record<SnapshotEnvironment, Readonly<EnvironmentSnapshotDefaults>>> =
  Object.freeze({
    dev: Object.freeze({
      rpoMinutes: 360,
      schedule: Object.freeze({
        schedule: "0 */6 * * *",
        timeZone: "Etc/UTC",
        successfulJobsHistoryLimit: 1,
        failedJobsHistoryLimit: 3,
        startingDeadlineSeconds: 1800,
        activeDeadlineSeconds: 3600,
        backoffLimit: 1,
      }),
      retention: Object.freeze({ days: 7, noncurrentVersionDays: 1 }),
    }),
    staging: Object.freeze({
      rpoMinutes: 60,
      schedule: Object.freeze({
        schedule: "0 * * * *",
        timeZone: "Etc/UTC",
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        startingDeadlineSeconds: 900,
        activeDeadlineSeconds: 1800,
        backoffLimit: 2,
      }),
      retention: Object.freeze({ days: 14, noncurrentVersionDays: 3 }),
    }),
    prod: Object.freeze({
      rpoMinutes: 15,
      schedule: Object.freeze({
        schedule: "*/15 * * * *",
        timeZone: "Etc/UTC",
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 5,
        startingDeadlineSeconds: 300,
        activeDeadlineSeconds: 840,
        backoffLimit: 2,
      }),
      retention: Object.freeze({ days: 35, noncurrentVersionDays: 7 }),
    }),
  });

/** Namespace the snapshot job lives in by default (the IRSA trust policy defaults to the same). */
export const DEFAULT_SNAPSHOT_NAMESPACE = "kube-system";
/** Name of the snapshot ServiceAccount/CronJob by default (the IRSA trust policy defaults to the same). */
export const DEFAULT_SNAPSHOT_NAME = "etcd-snapshot";
/** Default cold storage class for the lifecycle transition. */
export const DEFAULT_COLD_STORAGE_CLASS: ColdStorageClass = "GLACIER_IR";

/** Minimum billed storage duration per class (days), used to warn about transitions that cost money. */
export const MIN_STORAGE_DAYS: Readonly<Record<ColdStorageClass, number>> = Object.freeze({
  STANDARD_IA: 30,
  ONEZONE_IA: 30,
  INTELLIGENT_TIERING: 0,
  GLACIER_IR: 90,
  GLACIER: 90,
  DEEP_ARCHIVE: 180,
});

/** Every storage class a lifecycle transition may use. */
export const coldStorageClasses = Object.keys(MIN_STORAGE_DAYS) as ColdStorageClass[];
const COLD_CLASSES = coldStorageClasses;

/** True for a known environment name. */
export function isSnapshotEnvironment(env: string): env is SnapshotEnvironment {
  return Object.prototype.hasOwnProperty.call(snapshotDefaults, env);
}

function isPositiveInt(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n > 0;
}

function isNonNegativeInt(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 0;
}

/**
 * Checks a retention block. Throws with the offending arg path on hard errors; returns warnings for
 * settings that are legal but probably costly.
 */
export function validateRetention(retention: SnapshotRetention, argPath = "retention"): string[] {
  const warnings: string[] = [];
  if (!isPositiveInt(retention.days)) {
    throw new Error(`${argPath}.days must be a positive integer (got ${String(retention.days)})`);
  }
  if (!isPositiveInt(retention.noncurrentVersionDays)) {
    throw new Error(
      `${argPath}.noncurrentVersionDays must be a positive integer (got ${String(retention.noncurrentVersionDays)}); ` +
        "on a versioned bucket expiry only adds delete markers, noncurrent versions must expire too",
    );
  }
  const cls = retention.coldStorageClass ?? DEFAULT_COLD_STORAGE_CLASS;
  if (!COLD_CLASSES.includes(cls)) {
    throw new Error(
      `${argPath}.coldStorageClass must be one of ${COLD_CLASSES.join(", ")} (got ${String(cls)})`,
    );
  }
  const t = retention.transitionToColdAfterDays;
  if (t !== undefined) {
    if (!isPositiveInt(t)) {
      throw new Error(`${argPath}.transitionToColdAfterDays must be a positive integer (got ${String(t)})`);
    }
    if (t >= retention.days) {
      throw new Error(
        `${argPath}.transitionToColdAfterDays (${t}) must be smaller than ${argPath}.days (${retention.days}): ` +
          "S3 requires the expiration to come after the transition",
      );
    }
    if ((cls === "STANDARD_IA" || cls === "ONEZONE_IA") && t < 30) {
      throw new Error(`${argPath}.transitionToColdAfterDays must be at least 30 for ${cls} (an S3 limit)`);
    }
    const min = MIN_STORAGE_DAYS[cls];
    if (retention.days - t < min) {
      warnings.push(
        `${argPath}: snapshots spend only ${retention.days - t} days in ${cls} but it bills at least ${min} days; ` +
          "the transition costs more than it saves",
      );
    }
    if (cls === "GLACIER" || cls === "DEEP_ARCHIVE") {
      warnings.push(
        `${argPath}.coldStorageClass ${cls} needs an S3 restore (hours) before a snapshot can be downloaded; ` +
          "GLACIER_IR gives millisecond access",
      );
    }
  } else if (retention.coldStorageClass !== undefined) {
    warnings.push(`${argPath}.coldStorageClass is ignored without transitionToColdAfterDays`);
  }
  return warnings;
}

/** Checks a schedule block; throws naming the arg. */
export function validateSchedule(s: SnapshotScheduleSettings, argPath = "schedule"): void {
  const sched = typeof s.schedule === "string" ? s.schedule.trim() : "";
  const isMacro = /^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$/.test(sched);
  if (!isMacro && sched.split(/\s+/).length !== 5) {
    throw new Error(
      `${argPath}.schedule must be a 5-field cron expression or a macro (got "${String(s.schedule)}")`,
    );
  }
  for (const k of ["successfulJobsHistoryLimit", "failedJobsHistoryLimit", "backoffLimit"] as const) {
    if (!isNonNegativeInt(s[k])) throw new Error(`${argPath}.${k} must be a non-negative integer`);
  }
  for (const k of ["startingDeadlineSeconds", "activeDeadlineSeconds"] as const) {
    if (!isPositiveInt(s[k])) throw new Error(`${argPath}.${k} must be a positive integer`);
  }
  if (s.startingDeadlineSeconds < 10) {
    // The CronJob controller checks every 10 s; a shorter deadline can make every run "missed".
    throw new Error(`${argPath}.startingDeadlineSeconds must be at least 10`);
  }
}

/**
 * Resolves the schedule for an environment: the table's values overlaid with `overrides`. Unknown
 * environments must supply every field.
 */
export function resolveSnapshotSchedule(
  environment: string,
  overrides: Partial<SnapshotScheduleSettings> = {},
): SnapshotScheduleSettings {
  const base: Partial<SnapshotScheduleSettings> = isSnapshotEnvironment(environment)
    ? snapshotDefaults[environment].schedule
    : {};
  const merged = { timeZone: "Etc/UTC", ...base, ...stripUndefined(overrides) };
  const required: (keyof SnapshotScheduleSettings)[] = [
    "schedule",
    "successfulJobsHistoryLimit",
    "failedJobsHistoryLimit",
    "startingDeadlineSeconds",
    "activeDeadlineSeconds",
    "backoffLimit",
  ];
  const missing = required.filter((k) => merged[k] === undefined);
  if (missing.length > 0) {
    throw new Error(
      `environment "${environment}" has no snapshot defaults (known: ${Object.keys(snapshotDefaults).join(", ")}); ` +
        `schedule.${missing.join(", schedule.")} must be given`,
    );
  }
  const resolved = merged as SnapshotScheduleSettings;
  validateSchedule(resolved);
  return resolved;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/**
 * The S3 key prefix of a cluster's snapshots: `<cluster>/<environment>/`. Both parts must be single
 * path segments (letters, digits, `.`, `_`, `-`), so that the prefix-scoped IAM and lifecycle rules
 * cannot match a sibling cluster's keys.
 */
export function snapshotPrefix(clusterName: string, environment: string): string {
  for (const [arg, v] of [
    ["clusterName", clusterName],
    ["environment", environment],
  ] as const) {
    if (typeof v !== "string" || !SEGMENT.test(v) || v === "." || v === "..") {
      throw new Error(
        `${arg} must be one S3 path segment of letters, digits, '.', '_' or '-' (got "${String(v)}")`,
      );
    }
  }
  return `${clusterName}/${environment}/`;
}
