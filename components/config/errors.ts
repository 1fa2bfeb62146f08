/** One bad value: where it is (e.g. `secure-etcd:members[1].ip`) and what is wrong with it. */
export interface ConfigProblem {
  path: string;
  message: string;
}

/**
 * Thrown before any resource is created when args or stack config are invalid.
 * The message lists every problem on its own line so one `pulumi preview` shows them all.
 */
export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[], source: string) {
    super(
      `invalid ${source} (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p.path}: ${p.message}`).join("\n"),
    );
    this.name = "ConfigError";
    this.problems = problems;
  }
}
