import { strict as assert } from "node:assert";
import {
  loadStackConfig,
  validateSettings,
  type ArgsDrift,
  type SecureEtcdArgs,
  type SecureEtcdConfig,
} from "../components";
import { snapshotDefaults } from "../components/backup/defaults";
import { configProblems } from "./support/configErrors";
import { readStackConfig, toPulumiConfig } from "./support/stackFiles";

/*
 * One source of truth for the config shape. The type-level cases below are checked by `tsc`
 * (`npm run typecheck`): each line compiles only if the drift it names is detected.
 */
type WithIgnoredArg = Omit<SecureEtcdArgs, "backup"> & {
  backup?: NonNullable<SecureEtcdArgs["backup"]> & { deployJob?: boolean };
};
const detectsArgTheSchemaLacks: ArgsDrift<WithIgnoredArg>["onlyInArgs"] = "backup.deployJob";
type WithoutArg = Omit<SecureEtcdArgs, "earlyRenewalHours">;
const detectsSchemaKeyTheArgsLack: ArgsDrift<WithoutArg>["onlyInSchema"] = "earlyRenewalHours";
// The parsed stack config is handed to SecureEtcd as its args without a cast.
const parsedConfigIsArgs: (c: SecureEtcdConfig) => SecureEtcdArgs = (c) => c;

const base = {
  clusterName: "payments",
  etcdVersion: "3.5.16",
  members: [{ name: "cp-1", ip: "10.0.1.10" }],
};

describe("one home for every setting", () => {
  it("the type-level drift checks ran (they are compile-time; these values prove the file compiled)", () => {
    assert.equal(detectsArgTheSchemaLacks, "backup.deployJob");
    assert.equal(detectsSchemaKeyTheArgsLack, "earlyRenewalHours");
    assert.equal(typeof parsedConfigIsArgs, "function");
  });

  it("the component refuses program-only keys instead of ignoring them", () => {
    const p = configProblems(() =>
      validateSettings({ ...base, environment: "dev", backup: { deployJob: true } }, "", "args"),
    );
    assert.ok(
      p.some((x) => x.path === "backup" && x.message.includes('"deployJob"')),
      JSON.stringify(p),
    );
  });

  it("the stack loader sets program-only keys aside for the program", () => {
    const config = toPulumiConfig({
      "secure-etcd:clusterName": "payments",
      "secure-etcd:etcdVersion": "3.5.16",
      "secure-etcd:members": base.members,
      "secure-etcd:backup": { deployJob: "true", kubeContext: "admin@dev", retentionDays: 3 },
    });
    const s = loadStackConfig(config, "dev");
    assert.deepEqual(s.program, { deployJob: true, kubeContext: "admin@dev" });
    assert.equal("deployJob" in (s.args.backup ?? {}), false);
    assert.ok(s.settings.backup.enabled && s.settings.backup.retention.days === 3);
    const bad = configProblems(() =>
      loadStackConfig({ ...config, "secure-etcd:backup": JSON.stringify({ deployJob: "yes" }) }, "dev"),
    );
    assert.equal(bad[0].path, "secure-etcd:backup.deployJob");
  });

  it("snapshot settings resolve once: the table for known environments, overrides on top", () => {
    for (const env of ["dev", "staging", "prod"] as const) {
      const s = validateSettings({ ...base, environment: env }, "", "args");
      assert.ok(s.backup.enabled);
      assert.deepEqual(s.backup.schedule, snapshotDefaults[env].schedule, env);
      assert.deepEqual(
        { days: s.backup.retention.days, noncurrent: s.backup.retention.noncurrentVersionDays },
        {
          days: snapshotDefaults[env].retention.days,
          noncurrent: snapshotDefaults[env].retention.noncurrentVersionDays,
        },
      );
    }
    const fast = validateSettings(
      { ...base, environment: "prod", backup: { schedule: "*/5 * * * *" } },
      "",
      "a",
    );
    assert.ok(fast.backup.enabled);
    assert.equal(fast.backup.rpoMinutes, 5);
    assert.ok(fast.backup.schedule.activeDeadlineSeconds < 300, "a run still fits in the 5-minute interval");
  });

  it("an environment without defaults must name its schedule and retention, each named once", () => {
    const p = configProblems(() => validateSettings({ ...base, environment: "qa" }, "", "args"));
    assert.deepEqual(p.map((x) => x.path).sort(), [
      "backup.noncurrentVersionDays",
      "backup.retentionDays",
      "backup.schedule",
    ]);
    const ok = validateSettings(
      {
        ...base,
        environment: "qa",
        backup: { schedule: "@hourly", retentionDays: 5, noncurrentVersionDays: 2 },
      },
      "",
      "args",
    );
    assert.ok(
      ok.backup.enabled && ok.backup.rpoMinutes === 60 && ok.backup.schedule.activeDeadlineSeconds < 3600,
    );
    const off = validateSettings({ ...base, environment: "qa", backup: { enabled: false } }, "", "args");
    assert.deepEqual(off.backup, { enabled: false });
  });

  it("snapshot schedules Kubernetes would refuse, or too close together, are refused at preview", () => {
    for (const [schedule, fragment] of [
      ["0 0 * * 7", "Sunday is 0"],
      ["* * * * *", "at least 5 minutes"],
      ["TZ=UTC 0 * * * *", "timeZone"],
    ])
      assert.ok(
        configProblems(() =>
          validateSettings({ ...base, environment: "dev", backup: { schedule } }, "", "a"),
        ).some((x) => x.path === "backup.schedule" && x.message.includes(fragment)),
        schedule,
      );
  });

  it("an Object Lock longer than snapshots live is refused (irreversible)", () => {
    const p = configProblems(() =>
      validateSettings(
        { ...base, environment: "prod", backup: { objectLock: { mode: "COMPLIANCE", days: 365 } } },
        "",
        "a",
      ),
    );
    assert.ok(
      p.some((x) => x.path === "backup.objectLock.days" && x.message.includes("42")),
      JSON.stringify(p),
    );
  });

  it("every shipped stack resolves its snapshot schedule and RPO", () => {
    for (const stack of ["local", "dev", "staging", "prod"]) {
      const { settings } = loadStackConfig(readStackConfig(stack), stack);
      assert.ok(settings.backup.enabled, stack);
      assert.ok(settings.backup.rpoMinutes > 0, stack);
    }
  });
});
