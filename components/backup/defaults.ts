import type { SnapshotRetention, SnapshotScheduleSettings } from "../config/backup";

/**
 * Snapshot defaults per environment: pure data. Validation and resolution (an environment without a row,
 * overrides, deadlines that fit the schedule) live in config/backup.ts, the one place settings resolve.
 */

/** The environments this package knows defaults for. Other environment names work if schedule and retention are given. */
export type SnapshotEnvironment = "dev" | "staging" | "prod";

/** S3 storage class a lifecycle rule may transition snapshots into. */
export const ColdStorageClass = {
  StandardIa: "STANDARD_IA",
  OnezoneIa: "ONEZONE_IA",
  IntelligentTiering: "INTELLIGENT_TIERING",
  GlacierIr: "GLACIER_IR",
  Glacier: "GLACIER",
  DeepArchive: "DEEP_ARCHIVE",
} as const;
export type ColdStorageClass = (typeof ColdStorageClass)[keyof typeof ColdStorageClass];

/** One environment's row: the shapes are config/backup.ts's, which validates and resolves them. */
export interface EnvironmentSnapshotRow {
  schedule: SnapshotScheduleSettings;
  retention: Pick<SnapshotRetention, "days" | "noncurrentVersionDays">;
}

/**
 * Per-environment defaults (the RPO is the schedule's longest gap, computed from it).
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
 * day, so transitioning would cost more than it saves. The deadlines keep one run (retries included)
 * shorter than the interval, so `concurrencyPolicy: Forbid` never skips a slot because of a slow run.
 */
export const snapshotDefaults: Readonly<Record<SnapshotEnvironment, Readonly<EnvironmentSnapshotRow>>> =
  Object.freeze({
    dev: Object.freeze({
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

/**
 * CronJob bookkeeping for an environment without a row (its schedule and retention must be given); the
 * deadlines are capped to fit that schedule when settings resolve.
 */
export const customEnvironmentBookkeeping = Object.freeze({
  successfulJobsHistoryLimit: 3,
  failedJobsHistoryLimit: 3,
  startingDeadlineSeconds: 900,
  activeDeadlineSeconds: 3600,
  backoffLimit: 2,
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

/** True for an environment with a row in {@link snapshotDefaults}. */
export function isSnapshotEnvironment(env: string): env is SnapshotEnvironment {
  return Object.prototype.hasOwnProperty.call(snapshotDefaults, env);
}
