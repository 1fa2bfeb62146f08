/*
 * secure-etcd promote --from dev --to staging [--apply] [--only KEY,…] [--stacks-dir DIR]
 *
 * Shows which promotable settings of the target stack file change to the source's (a readable diff),
 * validates the result with the stack loader, and writes the target only with --apply (comments and
 * order kept). Refuses (exit 2, the key named) to touch a key the environment owns, to skip an
 * environment, or to write a file the loader would reject. A dry run changes no file.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { formatPlan, planPromotion, PromotionRefused, type StackText } from "../promote/plan";
import { parseFlags, UsageError, type CommandIo } from "../shared/commandLine";
import { stackConfigDir, stackFileIn } from "../shared/stackFiles";

export const usage =
  "usage: secure-etcd promote --from STACK --to STACK [--apply] [--only KEY,...] [--stacks-dir DIR]";

/** Each flag once (the shared repeated-flag rule): `--to staging --to prod` is refused, not last-wins. */
const promoteFlags = {
  from: { type: "string" },
  to: { type: "string" },
  apply: { type: "boolean", default: false },
  only: { type: "string" },
  "stacks-dir": { type: "string" },
  help: { type: "boolean", default: false },
} as const;

export async function promoteCommand(
  argv: readonly string[],
  io: CommandIo = { out: console.log, err: console.error },
): Promise<number> {
  let values;
  try {
    values = parseFlags(argv, promoteFlags);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`promote: ${e.message}\n${usage}`);
    return 2;
  }
  if (values.help) {
    io.out(usage);
    return 0;
  }
  const dir = path.resolve(values["stacks-dir"] ?? stackConfigDir(io.cwd ?? process.cwd()));
  try {
    const source = readStack(dir, values.from, "--from");
    const target = readStack(dir, values.to, "--to");
    if (source.name === target.name) throw new PromotionRefused("--to", "is the same stack as --from");
    const only = values.only
      ?.split(",")
      .map((k) => k.trim())
      .filter(Boolean);
    const plan = planPromotion(source, target, { only });
    io.out(formatPlan(source, target, plan));
    if (!values.apply) {
      io.out(plan.changes.length > 0 ? `dry run: ${target.file} unchanged (add --apply to write it)` : "");
      return 0;
    }
    if (plan.changes.length > 0) {
      const tmp = `${target.file}.promote-${process.pid}`;
      fs.writeFileSync(tmp, plan.text, { mode: fs.statSync(target.file).mode & 0o777 });
      fs.renameSync(tmp, target.file);
      io.out(`wrote ${target.file} (${plan.changes.length} change${plan.changes.length === 1 ? "" : "s"})`);
    }
    return 0;
  } catch (e) {
    if (e instanceof PromotionRefused) {
      io.err(`promote: refused: ${e.message}`);
      return 2;
    }
    io.err(`promote: failed: ${(e as Error).message}`);
    return 1;
  }
}

function readStack(dir: string, name: string | undefined, flag: string): StackText {
  if (!name) throw new PromotionRefused(flag, `is required; ${usage}`);
  if (!/^[A-Za-z0-9_.-]+$/.test(name))
    throw new PromotionRefused(flag, `${JSON.stringify(name)} is not a stack name`);
  const file = stackFileIn(dir, name);
  if (!fs.existsSync(file)) throw new PromotionRefused(flag, `no stack file ${file}`);
  return { name, file, text: fs.readFileSync(file, "utf8") };
}
