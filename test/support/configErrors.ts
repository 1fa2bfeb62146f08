import { strict as assert } from "node:assert";
import type * as pulumi from "@pulumi/pulumi";
import { ConfigError, type ConfigProblem } from "../../components/config/errors";

/** What a refusal must say: the arg path, fragments of its message, and (optionally) the error's source. */
export interface ExpectedProblem {
  path: string;
  /** Each must match the problem's message. */
  message?: RegExp | RegExp[];
  /** Must match the thrown message's first line (`invalid <source> …`). */
  source?: RegExp;
}

/** Asserts that `err` is a ConfigError with a problem at `expected.path`; returns that problem. */
export function assertConfigProblem(err: unknown, expected: ExpectedProblem): ConfigProblem {
  assert.ok(err instanceof ConfigError, `expected a ConfigError naming ${expected.path}, got ${String(err)}`);
  const problem = err.problems.find((p) => p.path === expected.path);
  assert.ok(problem, `no problem at ${expected.path}; got:\n${err.message}`);
  const fragments = expected.message === undefined ? [] : [expected.message].flat();
  for (const re of fragments) assert.match(problem.message, re, `message at ${expected.path}`);
  if (expected.source) assert.match(err.message.split("\n")[0], expected.source);
  assert.ok(err.message.includes(expected.path), "the thrown message names the arg");
  return problem;
}

/** Every problem of the ConfigError `fn` throws (it must throw one). */
export function configProblems(fn: () => unknown): ConfigProblem[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail("expected a ConfigError, but nothing was thrown");
}

/** Runs `fn`, which must throw a ConfigError with a problem at `expected.path`. */
export function assertThrowsConfigError(fn: () => unknown, expected: ExpectedProblem): ConfigProblem {
  try {
    fn();
  } catch (err) {
    return assertConfigProblem(err, expected);
  }
  assert.fail(`expected a ConfigError naming ${expected.path}, but nothing was thrown`);
}

/**
 * Awaits an Output that must fail with a ConfigError at `expected.path` (thrown in an apply while it
 * resolved). `apply` never calls back on failure, so this reads the Output's internal promise.
 */
export async function assertOutputConfigError(
  o: pulumi.Output<unknown> | undefined,
  expected: ExpectedProblem,
): Promise<ConfigProblem> {
  assert.ok(o, `expected an Output failing with a ConfigError naming ${expected.path}`);
  try {
    await (o as unknown as { promise(): Promise<unknown> }).promise();
  } catch (err) {
    return assertConfigProblem(err, expected);
  }
  assert.fail(`expected a ConfigError naming ${expected.path}, but the Output resolved`);
}
