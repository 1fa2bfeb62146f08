import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { repoRoot } from "../harness/stackFiles";
import { tempDirs } from "./support/tempDirs";

/**
 * The component provider through the real engine, from Python: `pulumi package add <this package>`
 * (launches provider/, generates the Python SDK), then `pulumi preview` of a program that uses it.
 * Needs the Pulumi CLI (and the tls/random plugins it downloads); skipped, saying so, without it.
 */
describe("SecureEtcd from Python through the Pulumi engine @integration", function () {
  this.timeout(900_000);
  const tempDir = tempDirs();

  const onPath = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;

  before(function () {
    const missing = ["pulumi", "python3"].filter((c) => !onPath(c));
    if (missing.length > 0) {
      console.log(`      skipped: ${missing.join(" and ")} not on PATH (no Pulumi CLI on this machine)`);
      this.skip();
    }
  });

  it("pulumi package add + pulumi preview of a Python program with an Output member ip", () => {
    const dir = tempDir("secure-etcd-python-");
    const env = {
      ...process.env,
      PULUMI_BACKEND_URL: `file://${dir}/state`,
      PULUMI_CONFIG_PASSPHRASE: "test-only",
      PULUMI_SKIP_UPDATE_CHECK: "true",
    };
    const run = (cmd: string, args: string[]) => {
      const r = spawnSync(cmd, args, { cwd: dir, env, encoding: "utf8" });
      assert.equal(r.status, 0, `${cmd} ${args.join(" ")}:\n${r.stdout}\n${r.stderr}`);
      return r.stdout;
    };
    fs.mkdirSync(path.join(dir, "state"));
    fs.writeFileSync(
      path.join(dir, "Pulumi.yaml"),
      "name: secure-etcd-python\nruntime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: venv\n",
    );
    fs.writeFileSync(path.join(dir, "requirements.txt"), "pulumi>=3.0.0,<4.0.0\n");
    fs.writeFileSync(path.join(dir, "__main__.py"), pythonProgram);
    run("python3", ["-m", "venv", "venv"]);
    run(path.join(dir, "venv", "bin", "pip"), ["install", "-q", "-r", "requirements.txt"]);
    run("pulumi", ["stack", "init", "dev", "--non-interactive"]);
    run("pulumi", ["package", "add", repoRoot]);
    const out = run("pulumi", ["preview", "--non-interactive", "--diff"]);
    assert.match(out, /secure-etcd:index:SecureEtcd/);
    assert.match(out, /tls:index\/certRequest:CertRequest/);
  });
});

/** README "Any language": an address from another Output, secret store and backups off (no AWS here). */
const pythonProgram = `import pulumi
import pulumi_secure_etcd as secure_etcd

ip = pulumi.Output.from_input("10.0.1.10")
etcd = secure_etcd.SecureEtcd(
    "payments",
    cluster_name="payments",
    environment="dev",
    etcd_version="3.5.16",
    members=[{"name": "cp-1", "ip": ip, "dns_names": ["cp-1.payments.internal"]}],
    backup={"enabled": False},
    secret_store={"enabled": False},
)
pulumi.export("etcdEndpoints", etcd.etcd_endpoints)
pulumi.export("encryptionConfiguration", etcd.encryption_configuration)
`;
