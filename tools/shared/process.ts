/**
 * Running a command to completion and collecting what it printed: the one helper the restore tool,
 * the harness and the drills share (never through a shell; killed after a timeout).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export interface RunResult {
  /** Exit code; null when a signal ended the process. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Killed because stdout and stderr together passed `maxOutputBytes` (what was kept is cut short). */
  overflowed: boolean;
  /** stdout and stderr, trimmed, for error messages. */
  output: string;
  seconds: number;
}

export interface RunOptions {
  /** Killed (SIGKILL) after this long; default 30 s. */
  timeoutMs?: number;
  /** Default: this process's environment. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to stdin, which is then closed (without it stdin is closed at once). */
  input?: Buffer | string;
  /** Called with each complete stdout line as it arrives (progress output, timings). */
  onLine?: (line: string) => void;
  /**
   * Kill (SIGKILL) once stdout and stderr together pass this many bytes, and keep no more: a bound on
   * the memory a command's output can take (default: none).
   */
  maxOutputBytes?: number;
}

/** Runs `cmd` with `args`; rejects only when it cannot be started. */
export function run(cmd: string, args: readonly string[], o: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: o.env ?? process.env,
      cwd: o.cwd,
      stdio: ["pipe", "pipe", "pipe"],
    });
    // A command that exits without reading its input must not crash us with EPIPE; its exit code tells.
    child.stdin.on("error", () => undefined);
    child.stdin.end(o.input);
    let stdout = "";
    let stderr = "";
    let partial = "";
    let timedOut = false;
    let overflowed = false;
    let outputBytes = 0;
    const keep = (d: Buffer): boolean => {
      if (overflowed) return false;
      outputBytes += d.length;
      if (o.maxOutputBytes === undefined || outputBytes <= o.maxOutputBytes) return true;
      overflowed = true;
      child.kill("SIGKILL");
      return false;
    };
    child.stdout.on("data", (d: Buffer) => {
      if (!keep(d)) return;
      stdout += d.toString();
      if (!o.onLine) return;
      const lines = (partial + d.toString()).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) o.onLine(line);
    });
    child.stderr.on("data", (d: Buffer) => {
      if (keep(d)) stderr += d.toString();
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, o.timeoutMs ?? 30_000);
    child.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      // Keep the errno code (ENOENT: not installed) for callers that say how to install it.
      reject(Object.assign(new Error(`cannot run ${cmd}: ${e.message}`), { code: e.code }));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (partial && o.onLine) o.onLine(partial);
      const output = [stdout.trim(), stderr.trim()].filter(Boolean).join("\n");
      resolve({
        code,
        signal,
        stdout,
        stderr,
        timedOut,
        overflowed,
        output,
        seconds: (Date.now() - started) / 1000,
      });
    });
  });
}

/** The last non-blank line of a command's output (where tools put the reason they failed). */
export function lastLine(text: string, whenEmpty = ""): string {
  return (
    text
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean)
      .pop() ?? whenEmpty
  );
}

/** Absolute path of an executable: as given if it contains a slash, else looked up on the env's PATH. */
export function findBinary(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = name.includes("/")
    ? [name]
    : (env.PATH ?? "/usr/local/bin:/usr/bin:/bin")
        .split(":")
        .filter(Boolean)
        .map((d) => path.join(d, name));
  for (const c of candidates) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      if (fs.statSync(c).isFile()) return path.resolve(c);
    } catch {
      // not here
    }
  }
  return undefined;
}
