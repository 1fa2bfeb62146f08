import * as assert from "node:assert/strict";
import { findBinary, lastLine, run } from "../tools/shared/process";
import { isLoopbackIp } from "../tools/shared/loopback";

describe("tools/shared: running commands", () => {
  it("collects stdout, stderr, the exit code and the time", async () => {
    const r = await run("sh", ["-c", "echo out; echo err >&2; exit 3"]);
    assert.deepEqual(
      [r.code, r.stdout, r.stderr, r.output, r.timedOut],
      [3, "out\n", "err\n", "out\nerr", false],
    );
    assert.ok(r.seconds >= 0);
  });

  it("feeds input on stdin and reports stdout line by line", async () => {
    const lines: string[] = [];
    const r = await run("sh", ["-c", "cat; printf 'last'"], {
      input: "a\nb\n",
      onLine: (l) => lines.push(l),
    });
    assert.equal(r.code, 0);
    assert.deepEqual(lines, ["a", "b", "last"]);
  });

  it("kills a command that outlives its timeout", async () => {
    const r = await run("sleep", ["5"], { timeoutMs: 100 });
    assert.equal(r.timedOut, true);
    assert.equal(r.signal, "SIGKILL");
  });

  it("rejects, naming the command, when it cannot start", async () => {
    await assert.rejects(run("/nonexistent/tool", []), /cannot run \/nonexistent\/tool: .*ENOENT/);
  });

  it("lastLine: the last non-blank line, or what to say instead", () => {
    assert.equal(lastLine("a\n  b  \n\n"), "b");
    assert.equal(lastLine(" \n", "(no output)"), "(no output)");
  });

  it("findBinary: looks on the given PATH; a path with a slash must be executable", () => {
    assert.equal(findBinary("sh", { PATH: "/nonexistent:/bin" }), "/bin/sh");
    assert.equal(findBinary("sh", { PATH: "/nonexistent" }), undefined);
    assert.equal(findBinary("/etc"), undefined, "a directory");
    assert.equal(findBinary("/nonexistent/sh"), undefined);
  });

  it("isLoopbackIp: 127.0.0.0/8 and ::1 only", () => {
    assert.deepEqual(
      ["127.0.0.1", "127.1.2.3", "::1", "10.0.0.1", "128.0.0.1", "localhost"].map(isLoopbackIp),
      [true, true, true, false, false, false],
    );
  });
});
