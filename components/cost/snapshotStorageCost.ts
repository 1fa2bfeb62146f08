import { cronMaxIntervalMinutes } from "../config/cron";
import type { SecureEtcdSettings } from "../config/schema";
import { SNAPSHOT_PART_BYTES } from "../backup/job/constants";
import { prices } from "./prices";

/** What one snapshot job run sends to S3 besides the upload itself: key check, verify (HEAD), marker read. */
export const SNAPSHOT_GET_CLASS_REQUESTS_PER_RUN = 3;
/** The manifest and the marker writes (the upload's own requests are counted from its parts). */
export const SNAPSHOT_EXTRA_PUT_REQUESTS_PER_RUN = 2;
/** The job's part size (S3_PART_SIZE): an object of one part or less is a single PUT. */
export const SNAPSHOT_MULTIPART_BYTES = SNAPSHOT_PART_BYTES;
/**
 * S3 Replication metrics per rule (ReplicationLatency, BytesPendingReplication,
 * OperationsPendingReplication, OperationsFailedReplication), and the one alarm on failed operations.
 */
export const REPLICATION_METRICS_PER_RULE = 4;

export interface SnapshotStorageCost {
  environment: string;
  schedule: string;
  runsPerMonth: number;
  /** Objects held at steady state: current for the retention, then noncurrent for noncurrentVersionDays. */
  objectsKept: number;
  objectBytes: number;
  storedGb: number;
  storageUsd: number;
  requestsUsd: number;
  /** SSE-KMS data-key requests (one per upload; S3 Bucket Keys make it fewer). */
  kmsUsd: number;
  /** With replication: its metrics and the failed-replication alarm (replica storage is not counted). */
  replicationMonitoringUsd: number;
  totalUsd: number;
}

/**
 * Monthly S3 cost of an environment's snapshots at steady state, from {@link prices}: its schedule
 * (runs per day = 1440 / the schedule's longest gap: exact for evenly spaced schedules, a lower bound
 * otherwise), its retention, and the size of one compressed snapshot. Undefined when backups are off.
 */
export function snapshotStorageCostOf(
  s: Pick<SecureEtcdSettings, "environment" | "backup">,
  objectBytes: number,
): SnapshotStorageCost | undefined {
  if (!s.backup.enabled) return undefined;
  const schedule = s.backup.schedule.schedule;
  const runsPerDay = 1440 / cronMaxIntervalMinutes(schedule);
  const runsPerMonth = (runsPerDay * prices.hoursPerMonth) / 24;
  const r = s.backup.retention;
  const objectsKept = runsPerDay * (r.days + r.noncurrentVersionDays);
  const storedGb = (objectsKept * objectBytes) / 1024 ** 3;
  const parts =
    objectBytes > SNAPSHOT_MULTIPART_BYTES ? Math.ceil(objectBytes / SNAPSHOT_MULTIPART_BYTES) + 2 : 1;
  const putRequests = runsPerMonth * (parts + SNAPSHOT_EXTRA_PUT_REQUESTS_PER_RUN);
  const getRequests = runsPerMonth * SNAPSHOT_GET_CLASS_REQUESTS_PER_RUN;
  const storageUsd = storedGb * prices.s3StandardPerGbMonth;
  const requestsUsd =
    (putRequests / 1000) * prices.s3PutPer1kRequests + (getRequests / 1000) * prices.s3GetPer1kRequests;
  const kmsUsd =
    ((runsPerMonth * (1 + SNAPSHOT_EXTRA_PUT_REQUESTS_PER_RUN)) / 10_000) * prices.kmsPer10kRequests;
  const replicationMonitoringUsd = s.backup.replicaRegion
    ? REPLICATION_METRICS_PER_RULE * prices.cloudWatchMetricPerMonth + prices.cloudWatchAlarmPerMonth
    : 0;
  return {
    environment: s.environment,
    schedule,
    runsPerMonth,
    objectsKept,
    objectBytes,
    storedGb,
    storageUsd,
    requestsUsd,
    kmsUsd,
    replicationMonitoringUsd,
    totalUsd: storageUsd + requestsUsd + kmsUsd + replicationMonitoringUsd,
  };
}
