/*
 * The one repeated-flag rule (tools/shared/commandLine.ts), across every command: a single-valued flag
 * given twice is exit 2 naming the flag, before anything is read or written; only flags declared
 * repeatable (--member, bench's --only) take several values.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseCli } from "../rehearsal/cli";
import { CisUsageError, parseCisCli } from "../rehearsal/cis";
import { promoteCommand } from "../tools/commands/promote";
import { parseRestoreArgs, restoreCommand } from "../tools/commands/restore";
import { verifyEncryptionCommand } from "../tools/commands/verify-encryption";
import { parseFlags, UsageError, type CommandIo } from "../tools/shared/commandLine";
import { tempDirs } from "./support/tempDirs";

const repo = path.resolve(__dirname, "..");

function capture(cwd?: string): { io: CommandIo; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l) => out.push(l), err: (l) => err.push(l), cwd }, out, err };
}

const isRepeated = (flag: string) => (e: unknown) =>
  e instanceof Error && new RegExp(`^${flag}: given twice; each flag may be given once`).test(e.message);

describe("repeated flags: one rule for every command", () => {
  const tempDir = tempDirs();

  describe("parseFlags", () => {
    const spec = {
      to: { type: "string" },
      apply: { type: "boolean" },
      member: { type: "string", multiple: true },
      help: { type: "boolean", short: "h" },
    } as const;
    const cases: [string, string[], string][] = [
      ["different values", ["--to", "staging", "--to", "prod"], "--to"],
      ["the same value", ["--to", "prod", "--to", "prod"], "--to"],
      ["--flag=value after --flag value", ["--to", "staging", "--to=prod"], "--to"],
      ["a boolean twice", ["--apply", "--apply"], "--apply"],
      ["a short form after the long one", ["--help", "-h"], "--help"],
    ];
    for (const [what, argv, flag] of cases)
      it(`refuses ${what}, naming ${flag}`, () => {
        assert.throws(
          () => parseFlags(argv, spec),
          (e: unknown) => e instanceof UsageError && e.flag === flag && isRepeated(flag)(e),
        );
      });

    it("takes every value of a repeatable flag, in order", () => {
      const v = parseFlags(["--member", "a=10.0.0.1", "--to", "x", "--member", "b=10.0.0.2"], spec);
      assert.deepEqual(v.member, ["a=10.0.0.1", "b=10.0.0.2"]);
      assert.equal(v.to, "x");
    });
  });

  it("promote: --to given twice is exit 2 and writes nothing (was last-wins)", async () => {
    const dir = tempDir("promote-flags-");
    for (const s of ["dev", "staging", "prod"])
      fs.copyFileSync(path.join(repo, "stacks", `Pulumi.${s}.yaml`), path.join(dir, `Pulumi.${s}.yaml`));
    const before = fs.readFileSync(path.join(dir, "Pulumi.staging.yaml"), "utf8");
    for (const argv of [
      ["--from", "dev", "--to", "prod", "--to", "staging", "--apply"],
      ["--from", "dev", "--to", "staging", "--apply", "--apply"],
      ["--from", "dev", "--from", "dev", "--to", "staging", "--apply"],
    ]) {
      const c = capture();
      const code = await promoteCommand([...argv, "--stacks-dir", dir], c.io);
      assert.equal(code, 2, `${argv.join(" ")}: ${c.out.join("\n")}`);
      assert.match(c.err.join("\n"), /^promote: --(to|apply|from): given twice; each flag may be given once/);
      assert.deepEqual(c.out, [], "nothing planned");
    }
    assert.equal(fs.readFileSync(path.join(dir, "Pulumi.staging.yaml"), "utf8"), before);
  });

  it("verify-encryption: --retiring given twice is exit 2 before etcd is read (was last-wins)", async () => {
    const dir = tempDir("verify-flags-");
    const files = ["ca.crt", "c.crt", "c.key"].map((f) => path.join(dir, f));
    for (const f of files) fs.writeFileSync(f, "x");
    const c = capture();
    const code = await verifyEncryptionCommand(
      [
        "--endpoints=https://127.0.0.1:2379",
        `--cacert=${files[0]}`,
        `--cert=${files[1]}`,
        `--key=${files[2]}`,
        "--retiring=key-old",
        "--retiring=key-other",
        // would fail with exit 3 if it got as far as running etcdctl
        "--etcdctl=/nonexistent/etcdctl",
      ],
      c.io,
    );
    assert.equal(code, 2, c.err.join("\n"));
    assert.match(c.err[0], /^verify-encryption: --retiring: given twice; each flag may be given once/);
  });

  it("restore: --sha256 given twice is exit 2; --member repeats", async () => {
    const c = capture("/");
    const sha = "a".repeat(64);
    const code = await restoreCommand(
      ["--stack-file", "/x.yaml", "--file", "/x.db", "--sha256", sha, "--sha256", sha],
      c.io,
    );
    assert.equal(code, 2);
    assert.match(c.err[0], /^restore: --sha256: given twice/);
    const members = parseRestoreArgs(
      [
        ...["--cluster-name", "p", "--environment", "qa", "--etcd-version", "3.6.4"],
        ...["--member", "a=10.0.0.1", "--member", "b=10.0.0.2", "--file", "/x.db"],
      ],
      "/",
    );
    assert.equal(members.settings.kind === "flags" && (members.settings.raw.members as unknown[]).length, 2);
  });

  it("rehearse and cis: --stack given twice is a usage error (cis was last-wins)", () => {
    assert.throws(() => parseCli(["--stack", "dev", "--stack", "local"]), isRepeated("--stack"));
    assert.throws(
      () => parseCisCli(["--stack", "dev", "--stack", "prod"]),
      (e: unknown) => e instanceof CisUsageError && /--stack: given twice/.test(e.message),
    );
  });

  it("bench: --out given twice exits 2 before measuring anything (was last-wins)", () => {
    const dir = tempDir("bench-flags-");
    const r = spawnSync(
      process.execPath,
      [
        path.join(repo, "node_modules", "tsx", "dist", "cli.mjs"),
        path.join(repo, "bench", "run.ts"),
        ...["--out", dir, "--out", path.join(dir, "other")],
      ],
      { cwd: repo, encoding: "utf8", timeout: 120_000 },
    );
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^bench: --out: given twice; each flag may be given once/);
    assert.deepEqual(fs.readdirSync(dir), [], "nothing written");
  });
});
