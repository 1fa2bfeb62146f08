import { CronExpressionParser } from "cron-parser";

/*
 * Cron schedules as a Kubernetes CronJob reads them. Kubernetes parses `spec.schedule` with
 * robfig/cron's standard parser (5 fields, or a descriptor such as @hourly) and refuses `TZ=`/`CRON_TZ=`
 * prefixes (that is `spec.timeZone`'s job). cron-parser (the library) does the parsing here; the few
 * things it accepts and Kubernetes does not are refused before it is called.
 */

const descriptors = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];

const monthNames = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC";
const dayNames = "SUN|MON|TUE|WED|THU|FRI|SAT";

/** Characters robfig/cron accepts per field: digits, names (month, day of week), and `* ? , - /`. */
const fieldPatterns: readonly { name: string; pattern: RegExp; max: number }[] = [
  { name: "minute", pattern: /^[0-9*?,/-]+$/, max: 59 },
  { name: "hour", pattern: /^[0-9*?,/-]+$/, max: 23 },
  { name: "day of month", pattern: /^[0-9*?,/-]+$/, max: 31 },
  { name: "month", pattern: new RegExp(`^([0-9*?,/-]|${monthNames})+$`, "i"), max: 12 },
  { name: "day of week", pattern: new RegExp(`^([0-9*?,/-]|${dayNames})+$`, "i"), max: 6 },
];

/** Why a CronJob with this schedule would be refused (or never run), or undefined when it is fine. */
export function cronScheduleProblem(schedule: string): string | undefined {
  const text = String(schedule ?? "").trim();
  if (/TZ/.test(text))
    return "Kubernetes refuses TZ=/CRON_TZ= in a schedule; the CronJob's timeZone (Etc/UTC) applies";
  if (text.startsWith("@")) {
    if (descriptors.includes(text.toLowerCase())) return undefined;
    return `is not a cron descriptor this package renders; allowed: ${descriptors.join(", ")} or 5 fields`;
  }
  const fields = text.split(/\s+/);
  if (fields.length !== 5)
    return `has ${fields.length} field${fields.length === 1 ? "" : "s"}; a CronJob schedule has 5 (minute hour day-of-month month day-of-week) or is a descriptor such as @hourly`;
  for (const [i, f] of fields.entries()) {
    const spec = fieldPatterns[i];
    if (!spec.pattern.test(f))
      return `${spec.name} field ${JSON.stringify(f)} uses syntax Kubernetes does not accept (allowed: numbers, ${i === 3 ? "JAN-DEC, " : i === 4 ? "SUN-SAT, " : ""}* ? , - /)`;
    for (const n of f.split(/[,/-]/).filter((x) => /^\d+$/.test(x)))
      if (Number(n) > spec.max && !f.includes(`/${n}`))
        return `${spec.name} field ${JSON.stringify(f)}: ${n} is out of range (0–${spec.max}${i === 4 ? "; Sunday is 0" : ""})`;
  }
  try {
    CronExpressionParser.parse(text, { tz: "UTC", currentDate: referenceStart });
  } catch (e) {
    return `is not a valid cron schedule: ${(e as Error).message}`;
  }
  return undefined;
}

/** A fixed start, so the interval a schedule implies is the same on every run. */
const referenceStart = new Date("2026-01-01T00:00:00Z");
const dayMs = 24 * 3600 * 1000;

/** The 5-field form of each descriptor (robfig/cron's definitions). */
const descriptorFields: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

/** Shortest and longest gap between two consecutive runs, in minutes. */
export interface CronIntervals {
  shortestMinutes: number;
  /** The recovery point objective a snapshot schedule implies (`0 0 * * 1-5` → 4320, over the weekend). */
  longestMinutes: number;
}

/**
 * The gaps between runs, evaluated in UTC (the CronJob's timeZone) over two years: the days a schedule
 * fires come from cron-parser iterating `0 0 <dom> <month> <dow>`, its times of day from the parsed
 * minute and hour fields, so no cron semantics are written here. Throws for a schedule
 * {@link cronScheduleProblem} refuses.
 */
export function cronIntervals(schedule: string): CronIntervals {
  const problem = cronScheduleProblem(schedule);
  if (problem) throw new Error(`schedule ${JSON.stringify(schedule)} ${problem}`);
  const text = schedule.trim();
  const [minute, hour, dom, month, dow] = (descriptorFields[text.toLowerCase()] ?? text).split(/\s+/);
  const parsed = CronExpressionParser.parse(`${minute} ${hour} * * *`, { tz: "UTC" }).fields;
  const times = parsed.hour.values
    .flatMap((h) => parsed.minute.values.map((m) => Number(h) * 60 + Number(m)))
    .sort((a, b) => a - b);
  const days = CronExpressionParser.parse(`0 0 ${dom} ${month} ${dow}`, {
    tz: "UTC",
    currentDate: new Date(referenceStart.getTime() - 1),
    endDate: new Date(referenceStart.getTime() + 2 * 366 * dayMs),
  });
  const firingDays: number[] = [];
  while (days.hasNext()) firingDays.push(Math.round(days.next().getTime() / dayMs));
  const gaps: number[] = [];
  for (let i = 1; i < times.length; i++) gaps.push(times[i] - times[i - 1]);
  const first = times[0];
  const last = times[times.length - 1];
  for (let i = 1; i < firingDays.length; i++)
    gaps.push((firingDays[i] - firingDays[i - 1]) * 1440 - last + first);
  if (gaps.length === 0)
    throw new Error(`schedule ${JSON.stringify(schedule)} runs less than twice in two years`);
  return { shortestMinutes: Math.min(...gaps), longestMinutes: Math.max(...gaps) };
}

/** The recovery point objective a snapshot schedule implies: its longest gap, in minutes. */
export function cronMaxIntervalMinutes(schedule: string): number {
  return cronIntervals(schedule).longestMinutes;
}
