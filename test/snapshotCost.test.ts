import { strict as assert } from "node:assert";
import { settingsFromStackConfig } from "../components";
import { prices, snapshotStorageCostOf } from "../components/cost";
import { readStackConfig } from "./support/stackFiles";

describe("snapshot storage cost (components/cost/snapshotStorageCost.ts, from the one price table)", () => {
  const prod = settingsFromStackConfig(readStackConfig("prod"), "prod");
  const gib = 1024 ** 3;

  it("prod: every 15 min, 35 + 7 days kept → 4032 objects; storage at the S3 Standard price", () => {
    const c = snapshotStorageCostOf(prod, 0.5 * gib)!;
    assert.equal(c.objectsKept, 96 * 42);
    assert.equal(c.runsPerMonth, 96 * (prices.hoursPerMonth / 24));
    assert.equal(c.storedGb, 4032 * 0.5);
    assert.ok(Math.abs(c.storageUsd - 2016 * prices.s3StandardPerGbMonth) < 1e-9);
    assert.ok(c.totalUsd > c.storageUsd && c.requestsUsd > 0 && c.kmsUsd > 0);
  });

  it("replication adds its metrics and the failed-replication alarm (prod replicates; staging does not)", () => {
    const p = snapshotStorageCostOf(prod, gib)!;
    assert.equal(
      p.replicationMonitoringUsd,
      4 * prices.cloudWatchMetricPerMonth + prices.cloudWatchAlarmPerMonth,
    );
    assert.ok(
      Math.abs(p.totalUsd - (p.storageUsd + p.requestsUsd + p.kmsUsd + p.replicationMonitoringUsd)) < 1e-9,
    );
    const staging = settingsFromStackConfig(readStackConfig("staging"), "staging");
    assert.equal(snapshotStorageCostOf(staging, gib)!.replicationMonitoringUsd, 0);
  });

  it("scales with the snapshot size and is undefined with backups off", () => {
    const small = snapshotStorageCostOf(prod, 0.1 * gib)!;
    const big = snapshotStorageCostOf(prod, gib)!;
    assert.ok(Math.abs(big.storageUsd / small.storageUsd - 10) < 1e-9);
    assert.equal(snapshotStorageCostOf({ environment: "x", backup: { enabled: false } }, gib), undefined);
  });
});
