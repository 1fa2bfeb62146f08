/**
 * How loaded the machine was while something was measured: other helpers share its cores, so every
 * figure comes with the load average and the share of CPU time that was busy meanwhile, and CPU seconds of
 * a process come from /proc (what a run cost, not only how long it took).
 */
import * as fs from "node:fs";

const TICKS = 100; // USER_HZ on Linux

/** 1-minute load average. */
export function loadAverage(): number {
  return Number(fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
}

/** Busy and total jiffies of all CPUs since boot. */
function cpuTimes(): { busy: number; total: number } {
  const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

export interface LoadWindow {
  loadStart: number;
  loadEnd: number;
  /** Share of all CPU time that was busy (0–1), everyone's. */
  busy: number;
}

/** Starts a window; call the result to close it. */
export function loadWindow(): () => LoadWindow {
  const t0 = cpuTimes();
  const loadStart = loadAverage();
  return () => {
    const t1 = cpuTimes();
    return {
      loadStart,
      loadEnd: loadAverage(),
      busy: Math.round(((t1.busy - t0.busy) / Math.max(1, t1.total - t0.total)) * 1000) / 1000,
    };
  };
}

/** CPU seconds a process used so far, its waited-for children included (undefined once it is gone). */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICKS;
  } catch {
    return undefined;
  }
}
