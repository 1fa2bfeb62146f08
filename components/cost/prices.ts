/**
 * AWS list prices the cost figures are computed from — the ONE place they live.
 *
 * Source: the AWS pricing pages below (Secrets Manager and the KMS key/rotation prices as the project's
 * design notes quote them, "Delivering secrets to nodes (checked facts)"; the KMS request price and the
 * two-rotation cap from the KMS page). Checked 2026-12-01.
 * Prices are USD, before tax and free tiers (the KMS free tier of 20,000 requests per month is per
 * account, not per stack, so it is not subtracted).
 * S3 (snapshot bucket): S3 Standard in us-east-1, first 50 TB tier, from https://aws.amazon.com/s3/pricing/
 * (checked 2026-12-02); other regions differ by a few percent.
 */
export const prices = Object.freeze({
  source:
    "https://aws.amazon.com/secrets-manager/pricing/, https://aws.amazon.com/kms/pricing/, https://aws.amazon.com/s3/pricing/",
  checkedOn: "2026-12-01",
  /** Per secret per month; every replica counts as one more secret. */
  secretPerMonth: 0.4,
  /** Secrets Manager API calls (GetSecretValue, DescribeSecret, …), per 10,000. */
  secretsManagerPer10kCalls: 0.05,
  /** A customer-managed KMS key per month. */
  kmsKeyPerMonth: 1,
  /** Each rotated backing key adds this per month… */
  kmsRotatedBackingKeyPerMonth: 1,
  /** …for the first two rotations of a key only; later rotations are not billed. */
  kmsBilledRotations: 2,
  /** Symmetric KMS requests (Secrets Manager's Decrypt on every GetSecretValue), per 10,000. */
  kmsPer10kRequests: 0.03,
  /** S3 Standard storage, per GB-month (AWS bills GB as 2^30 bytes). */
  s3StandardPerGbMonth: 0.023,
  /** S3 PUT, COPY, POST, LIST requests (multipart create/part/complete each count), per 1,000. */
  s3PutPer1kRequests: 0.005,
  /** S3 GET, HEAD and other requests, per 1,000. */
  s3GetPer1kRequests: 0.0004,
  /**
   * CloudWatch, from https://aws.amazon.com/cloudwatch/pricing/ (checked 2026-12-07): S3 Replication
   * metrics bill as custom metrics (first 10,000 tier), a standard-resolution alarm per alarm-month.
   */
  cloudWatchMetricPerMonth: 0.3,
  cloudWatchAlarmPerMonth: 0.1,
  /** Hours AWS bills as one month. */
  hoursPerMonth: 730,
});
