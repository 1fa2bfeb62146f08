/**
 * Secret-store defaults per environment: pure data. Validation and resolution live in
 * config/secretStore.ts, the one place these settings resolve.
 */

/** The environments with their own row; any other environment gets {@link otherEnvironmentDefaults}. */
export type SecretStoreEnvironment = "dev" | "staging" | "prod";

export interface EnvironmentSecretStoreRow {
  /** Days a deleted node secret can still be restored (Secrets Manager allows 7–30). */
  recoveryWindowDays: number;
  /** Whether the opt-in `offlineNodeCloudInit` (private keys in user data) may be rendered. */
  offlineCloudInitAllowed: boolean;
}

/**
 * | env     | recovery window | offline cloud-init |
 * |---------|-----------------|--------------------|
 * | dev     | 7 days          | allowed (opt-in)   |
 * | staging | 14 days         | allowed (opt-in)   |
 * | prod    | 30 days         | refused            |
 * | other   | 30 days         | allowed (opt-in)   |
 *
 * Why: a member's secret is deleted with this window when the member is removed (or the stack
 * destroyed), and its name stays taken until the window ends: dev frees it within a week; prod keeps a
 * deleted bundle restorable for the longest window Secrets Manager offers. An environment without a row gets the longest
 * window too (the safe choice costs nothing more: a secret pending deletion is not billed).
 */
export const secretStoreDefaults: Readonly<
  Record<SecretStoreEnvironment, Readonly<EnvironmentSecretStoreRow>>
> = Object.freeze({
  dev: Object.freeze({ recoveryWindowDays: 7, offlineCloudInitAllowed: true }),
  staging: Object.freeze({ recoveryWindowDays: 14, offlineCloudInitAllowed: true }),
  prod: Object.freeze({ recoveryWindowDays: 30, offlineCloudInitAllowed: false }),
});

export const otherEnvironmentDefaults: Readonly<EnvironmentSecretStoreRow> = Object.freeze({
  recoveryWindowDays: 30,
  offlineCloudInitAllowed: true,
});

/**
 * The key archive (every local encryption key, archived ones included) always gets the longest recovery
 * window: without it, the snapshots it serves cannot be restored.
 */
export const KEY_ARCHIVE_RECOVERY_WINDOW_DAYS = 30;

/** How often each node re-runs the bootstrap by default (minutes). */
export const DEFAULT_BOOTSTRAP_INTERVAL_MINUTES = 5;

/** The row for an environment: its own, or the one for environments without a row. */
export function secretStoreRow(environment: string): Readonly<EnvironmentSecretStoreRow> {
  return Object.prototype.hasOwnProperty.call(secretStoreDefaults, environment)
    ? secretStoreDefaults[environment as SecretStoreEnvironment]
    : otherEnvironmentDefaults;
}
