import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { repoRoot } from "../harness/stackFiles";

/**
 * The package as users get it: built, packed, installed into another project, then imported by name
 * (`import { SecureEtcd } from "secure-etcd"`), type-checked and run.
 */
describe("the packed package, consumed from another project @integration", function () {
  this.timeout(180_000);

  it("npm pack → import { SecureEtcd, ConfigError } from 'secure-etcd' type-checks and runs", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "consumer-"));
    execFileSync("npm", ["run", "--silent", "build"], { cwd: repoRoot, stdio: "pipe" });
    const tgz = execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], {
      cwd: repoRoot,
      encoding: "utf8",
    })
      .trim()
      .split("\n")
      .pop()!;
    const modules = path.join(dir, "node_modules");
    fs.mkdirSync(modules);
    execFileSync("tar", ["xzf", path.join(dir, tgz), "-C", dir]);
    fs.renameSync(path.join(dir, "package"), path.join(modules, "secure-etcd"));
    const packed = fs.readdirSync(path.join(modules, "secure-etcd", "bin", "components", "backup"));
    assert.ok(packed.includes("snapshot.sh"), "the snapshot script ships with the package");
    const bootstrap = path.join(modules, "secure-etcd", "tools", "bootstrap", "secure-etcd-bootstrap.sh");
    assert.ok(fs.existsSync(bootstrap), "the node bootstrap ships with the package (nodeUserData embeds it)");
    // the package's own dependencies, from this checkout's install
    for (const dep of fs.readdirSync(path.join(repoRoot, "node_modules")))
      if (!fs.existsSync(path.join(modules, dep)))
        fs.symlinkSync(path.join(repoRoot, "node_modules", dep), path.join(modules, dep));
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
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
