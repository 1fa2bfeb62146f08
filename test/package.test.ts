import { strict as assert } from "node:assert";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { compressFrame, END, MAGIC } from "../components/backup/runner/frames";
import { repoRoot } from "../harness/stackFiles";

/**
 * The package as users get it: built, packed, installed into another project, then imported by name
 * (`import { SecureEtcd } from "secure-etcd"`), type-checked and run — and its `secure-etcd` bin run
 * with npx from that project.
 */
describe("the packed package, consumed from another project @integration", function () {
  this.timeout(180_000);
  let dir: string;
  const modules = () => path.join(dir, "node_modules");

  before(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "consumer-"));
    execFileSync("npm", ["run", "--silent", "build"], { cwd: repoRoot, stdio: "pipe" });
    const tgz = execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], {
      cwd: repoRoot,
      encoding: "utf8",
    })
      .trim()
      .split("\n")
      .pop()!;
    fs.mkdirSync(modules());
    execFileSync("tar", ["xzf", path.join(dir, tgz), "-C", dir]);
    fs.renameSync(path.join(dir, "package"), path.join(modules(), "secure-etcd"));
    const bootstrap = path.join(modules(), "secure-etcd", "tools", "bootstrap", "secure-etcd-bootstrap.sh");
    assert.ok(fs.existsSync(bootstrap), "the node bootstrap ships with the package (nodeUserData embeds it)");
    // the package's own dependencies, from this checkout's install
    for (const dep of fs.readdirSync(path.join(repoRoot, "node_modules")))
      if (!fs.existsSync(path.join(modules(), dep)) && dep !== ".bin")
        fs.symlinkSync(path.join(repoRoot, "node_modules", dep), path.join(modules(), dep));
    // What `npm install` does for a package's `bin`: node_modules/.bin/secure-etcd (no registry needed).
    execFileSync("npm", ["rebuild", "--ignore-scripts", "--offline", "secure-etcd"], {
      cwd: dir,
      stdio: "pipe",
    });
  });

  after(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("npm pack → import { SecureEtcd, ConfigError } from 'secure-etcd' type-checks and runs", () => {
    const runner = fs.readdirSync(
      path.join(modules(), "secure-etcd", "bin", "components", "backup", "runner"),
    );
    const source = fs
      .readdirSync(path.join(repoRoot, "components", "backup", "runner"))
      .filter((f) => f.endsWith(".js"));
    for (const f of source) assert.ok(runner.includes(f), `the snapshot job's ${f} ships with the package`);
    fs.copyFileSync(
      path.join(repoRoot, "test", "fixtures", "consumer.ts.txt"),
      path.join(dir, "consumer.ts"),
    );
    fs.writeFileSync(
      path.join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: "commonjs",
          moduleResolution: "node",
          target: "ES2022",
          esModuleInterop: true,
          skipLibCheck: true,
          noEmit: true,
          types: ["node"],
        },
        files: ["consumer.ts"],
      }),
    );
    execFileSync(path.join(repoRoot, "node_modules", ".bin", "tsc"), ["-p", dir], { stdio: "pipe" });
    const out = execFileSync(path.join(repoRoot, "node_modules", ".bin", "tsx"), ["consumer.ts"], {
      cwd: dir,
      encoding: "utf8",
    });
    assert.match(out, /endpoints \[ 'https:\/\/10\.0\.0\.1:2379' \]/);
    assert.match(out, /user data #cloud-config true/);
    assert.match(out, /true\s+- members: must list at least one etcd member/);
  });

  it("npx secure-etcd restore runs from the consumer's project: --help, a bad flag, settings from flags", async () => {
    const npx = (...args: string[]) =>
      spawnSync("npx", ["--offline", "--no-install", "secure-etcd", ...args], { cwd: dir, encoding: "utf8" });
    const help = npx("restore", "--help");
    assert.equal(help.status, 0, help.stderr);
    assert.match(
      help.stdout,
      /^usage: secure-etcd restore <settings> \(--from s3:\/\/BUCKET\/KEY \| --file PATH\)/,
    );
    assert.match(npx("--help").stdout, /commands:\n {2}restore /);

    const bad = npx("restore", "--stack", "prod", "--file", "x.db", "--frm", "s3://b/k");
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /^restore: --frm: unknown flag\nusage: secure-etcd restore/);

    // Settings from flags alone reach the restore library, which refuses what is not a snapshot.
    fs.writeFileSync(path.join(dir, "junk.db"), "not a snapshot");
    const settings = ["--cluster-name", "shop", "--environment", "qa", "--etcd-version", "3.5.16"];
    const refused = npx("restore", ...settings, "--member", "cp-1=10.0.0.1", "--file", "junk.db");
    assert.equal(refused.status, 1, refused.stderr);
    assert.match(refused.stderr, /^restore: REFUSED: the snapshot has no SHA-256 trailer/);
    // The same junk in the job's brotli frames: decompressed by the packed worker thread
    // (bin/tools/restore/frameWorker.js), then refused for what it holds, not for a missing file.
    const frame = await compressFrame(Buffer.from("not a snapshot"), 0);
    fs.writeFileSync(path.join(dir, "junk.brf"), Buffer.concat([MAGIC, frame, END]));
    const framed = npx("restore", ...settings, "--member", "cp-1=10.0.0.1", "--file", "junk.brf");
    assert.equal(framed.status, 1, framed.stderr);
    assert.match(framed.stderr, /^restore: REFUSED: the snapshot has no SHA-256 trailer/);

    // The upgrade preflight ships too (compiled into bin/tools with the rest).
    const preflight = npx("preflight", "--help");
    assert.equal(preflight.status, 0, preflight.stderr);
    assert.match(preflight.stdout, /^usage: secure-etcd preflight <settings>/);
    const http = npx(
      "preflight",
      ...settings,
      "--member",
      "cp-1=10.0.0.1",
      "--endpoints",
      "http://10.0.0.1:2379",
    );
    assert.equal(http.status, 2, http.stderr);
    assert.match(http.stderr, /^preflight: --endpoints: "http:\/\/10\.0\.0\.1:2379" is not an https/);
  });
});
