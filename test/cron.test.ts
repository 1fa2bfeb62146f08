import { strict as assert } from "node:assert";
import { cronIntervals, cronMaxIntervalMinutes, cronScheduleProblem } from "../components/config/cron";

describe("cron schedules (cron-parser) as a Kubernetes CronJob reads them", () => {
  it("reads the interval of the schedules the stacks use (the RPO the rehearsal reports)", () => {
    assert.equal(cronMaxIntervalMinutes("*/15 * * * *"), 15);
    assert.equal(cronMaxIntervalMinutes("*/30 * * * *"), 30);
    assert.equal(cronMaxIntervalMinutes("0 * * * *"), 60);
    assert.equal(cronMaxIntervalMinutes("0 */6 * * *"), 360);
    assert.equal(cronMaxIntervalMinutes("30 2 * * *"), 1440);
    assert.equal(cronMaxIntervalMinutes("@hourly"), 60);
    assert.equal(cronMaxIntervalMinutes("5 4 * * sun"), 7 * 1440, "weekly");
  });

  it("the RPO is the longest gap, the overlap limit the shortest", () => {
    assert.deepEqual(cronIntervals("0 0 * * 1-5"), { shortestMinutes: 1440, longestMinutes: 3 * 1440 });
    assert.deepEqual(cronIntervals("0 8,20 * * *"), { shortestMinutes: 720, longestMinutes: 720 });
    assert.deepEqual(cronIntervals("0 9,10 * * *"), { shortestMinutes: 60, longestMinutes: 23 * 60 });
    // Every minute of January, then nothing until next January.
    assert.equal(cronMaxIntervalMinutes("* * * 1 *"), 334 * 1440 + 1);
  });

  for (const ok of [
    "*/15 * * * *",
    "0 0 ? * MON-FRI",
    "0 0 * jan,Jul *",
    "@daily",
    "@midnight",
    "0-59/61 * * * *",
  ])
    it(`accepts ${JSON.stringify(ok)}`, () => assert.equal(cronScheduleProblem(ok), undefined));

  const refused: [string, RegExp][] = [
    ["* * * * * *", /6 fields/],
    ["0 * * *", /4 fields/],
    ["60 * * * *", /minute field "60": 60 is out of range/],
    ["0 24 * * *", /hour field/],
    ["0 0 * * 7", /Sunday is 0/],
    ["0 0 L * *", /syntax Kubernetes does not accept/],
    ["0 0 * * 1#2", /syntax Kubernetes does not accept/],
    ["*/0 * * * *", /not a valid cron schedule/],
    ["5-1 * * * *", /not a valid cron schedule/],
    ["0 0 31 2 *", /not a valid cron schedule/],
    ["@every 1h", /not a cron descriptor/],
    ["TZ=UTC 0 * * * *", /timeZone/],
    ["CRON_TZ=Europe/Paris 0 * * * *", /timeZone/],
    ["every 5 minutes", /3 fields|syntax/],
  ];
  for (const [bad, why] of refused)
    it(`refuses ${JSON.stringify(bad)}`, () => assert.match(cronScheduleProblem(bad) ?? "(accepted)", why));
});
