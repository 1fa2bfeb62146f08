/*
 * One encryption-config-status run as a library: arguments in, exit code back. The command
 * (tools/commands/encryption-config-status.ts) and the rehearsal's rotation drill both call it, so the
 * drill gates each step on exactly what operators run.
 */
import { reportFailure, type CommandIo } from "../shared/commandLine";
import { lastLine, run } from "../shared/process";
import { parseStatusArgs, usage, type StatusArgs } from "./args";
import { encryptionConfigFacts } from "./metrics";
import { formatStatus, judge, statusJson, type Answer, type StatusReport } from "./report";

export { usage };

/** Reads one apiserver's /metrics. */
export type MetricsReader = (url: string) => Promise<{ text: string } | { error: string }>;

/** `kubectl [--kubeconfig F] --server URL get --raw /metrics`: the kubeconfig's user and CA, this apiserver. */
export function kubectlMetrics(
  a: Pick<StatusArgs, "kubectl" | "kubeconfig">,
  env = process.env,
): MetricsReader {
  return async (url) => {
    const args = [
      ...(a.kubeconfig ? [`--kubeconfig=${a.kubeconfig}`] : []),
      `--server=${url}`,
      "--request-timeout=15s",
      "get",
      "--raw",
      "/metrics",
    ];
    try {
      const r = await run(a.kubectl, args, { env, timeoutMs: 60_000 });
      if (r.code === 0) return { text: r.stdout };
      return {
        error: `kubectl get --raw /metrics failed: ${r.timedOut ? "timed out" : lastLine(r.stderr, `exit ${r.code}`)}`,
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT")
        return { error: `${a.kubectl} not found (install kubectl, or pass --kubectl PATH)` };
      return { error: (e as Error).message };
    }
  };
}

/** Asks every apiserver; returns the report (the exit code is `report.code`). */
export async function checkApiservers(
  apiservers: readonly string[],
  read: MetricsReader,
  expected?: StatusArgs["expected"],
): Promise<StatusReport> {
  const answers = await Promise.all(
    apiservers.map(async (url): Promise<Answer> => {
      const r = await read(url);
      if ("error" in r) return { url, error: r.error };
      try {
        return { url, facts: encryptionConfigFacts(r.text) };
      } catch (e) {
        return { url, error: `its /metrics could not be read: ${(e as Error).message}` };
      }
    }),
  );
  return judge(answers, expected);
}

/** 0 every apiserver loaded the config; 1 one lags or they differ; 2 bad arguments; 3 one not checked. */
export async function encryptionConfigStatus(
  argv: readonly string[],
  io: CommandIo = { out: console.log, err: console.error },
): Promise<number> {
  let args;
  try {
    args = parseStatusArgs(argv);
  } catch (e) {
    return reportFailure("encryption-config-status", e, io, usage);
  }
  if (args === "help") {
    io.out(usage);
    return 0;
  }
  const report = await checkApiservers(
    args.apiservers,
    kubectlMetrics(args, io.env ?? process.env),
    args.expected,
  );
  io.out(args.json ? statusJson(report) : formatStatus(report));
  return report.code;
}
