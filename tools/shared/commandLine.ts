/**
 * What every `secure-etcd` command shares on its command line: strict flag parsing where every bad
 * argument is a UsageError naming the flag, and one mapping from errors to exit codes
 * (0 ok, 1 refused or failed, 2 bad arguments or config).
 *
 * The repeated-flag rule, the same for every command (restore, promote, verify-encryption, rehearse,
 * cis, bench): a flag that takes one value may be given once. Given again — with the same value or
 * another, as `--x`, `--x=` or its short form — the command stops with exit 2 naming the flag, before
 * it reads or writes anything. Last-wins would let an appended or pasted flag silently replace the one
 * the operator checked; first-wins would silently drop it. Only flags documented as repeatable (declared
 * `multiple`, e.g. `--member NAME=IP`) take every occurrence, in order.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ConfigError } from "../../components/config/errors";

/** A bad argument; `flag` names it (`--stack`, `--from`, …). Commands exit 2 with this message. */
export class UsageError extends Error {
  constructor(
    readonly flag: string,
    message: string,
  ) {
    super(`${flag}: ${message}`);
  }
}

/** Where a command prints, and the environment and directory it works in (tests pass their own). */
export interface CommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export type FlagSpecs = NonNullable<ParseArgsConfig["options"]>;
type Strict<O extends FlagSpecs> = { options: O; strict: true; allowPositionals: false; tokens: true };
export type FlagValues<O extends FlagSpecs> = ReturnType<typeof parseArgs<Strict<O>>>["values"];

/**
 * `node:util` parseArgs, strict, plus what it lets through: an empty value (`--stack=`) and a
 * single-valued flag given twice (the repeated-flag rule above) are errors too.
 */
export function parseFlags<O extends FlagSpecs>(argv: readonly string[], options: O): FlagValues<O> {
  let parsed: ReturnType<typeof parseArgs<Strict<O>>>;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false, tokens: true });
  } catch (e) {
    throw usageErrorFrom(e);
  }
  const seen = new Set<string>();
  for (const t of parsed.tokens) {
    if (t.kind !== "option") continue;
    const spec = options[t.name];
    if (spec.type === "string" && !t.value) throw new UsageError(t.rawName, "needs a value");
    if (!spec.multiple && seen.has(t.name))
      throw new UsageError(`--${t.name}`, "given twice; each flag may be given once");
    seen.add(t.name);
  }
  return parsed.values;
}

/** parseArgs' errors (`Unknown option '--x'`, `Option '--y <value>' argument missing`, …) as UsageErrors. */
function usageErrorFrom(e: unknown): Error {
  const err = e as Error & { code?: string };
  const named = /'(-[^' ]+)/.exec(err.message)?.[1];
  switch (err.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return new UsageError(named ?? "(flag)", "unknown flag");
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return new UsageError("(argument)", `unexpected argument ${/'([^']*)'/.exec(err.message)?.[1] ?? ""}`);
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return new UsageError(
        named ?? "(flag)",
        /does not take an argument/.test(err.message) ? "takes no value" : "needs a value",
      );
    default:
      return err;
  }
}

/**
 * Prints why a command stopped and returns its exit code: 2 for a UsageError (with the usage when
 * given) or a ConfigError (it names the config key), 1 for anything else.
 */
export function reportFailure(command: string, e: unknown, io: CommandIo, usage?: string): number {
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof UsageError || e instanceof ConfigError) {
    io.err(`${command}: ${message}`);
    if (usage && e instanceof UsageError) io.err(usage);
    return 2;
  }
  io.err(`${command}: FAILED: ${message}`);
  return 1;
}
