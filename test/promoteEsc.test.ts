/*
 * promote and Pulumi ESC (issue 19): a stack file's `environment:` may supply settings. Promote reads
 * what is written (config:, an inline definition's static pulumiConfig) and refuses (exit 3, naming the
 * settings and the environments) where an imported or computed environment may set what the plan
 * depends on — never planning as if such a setting took its default.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { loadStackConfig } from "../components/config";
import { promoteCommand } from "../tools/commands/promote";
import { readStackEnvironment } from "../tools/promote/stackEnvironment";
import { tempDirs } from "./support/tempDirs";

const repoStacks = path.resolve(__dirname, "..", "stacks");

describe("promote with ESC environments", () => {
  const tempDir = tempDirs();
  let dir: string;
  beforeEach(() => {
    dir = tempDir("promote-esc-");
    for (const s of ["dev", "staging", "prod"])
      fs.copyFileSync(path.join(repoStacks, `Pulumi.${s}.yaml`), path.join(dir, `Pulumi.${s}.yaml`));
  });
  const file = (stack: string) => path.join(dir, `Pulumi.${stack}.yaml`);
  const edit = (stack: string, f: (text: string) => string) => {
    const before = fs.readFileSync(file(stack), "utf8");
    const after = f(before);
    assert.notEqual(after, before, `the edit of ${stack} changed nothing`);
    fs.writeFileSync(file(stack), after);
  };
  const withImports = (text: string, ...envs: string[]) =>
    `environment:\n${envs.map((e) => `  - ${e}\n`).join("")}${text}`;
  const run = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await promoteCommand([...argv, "--stacks-dir", dir], {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
    });
    return { code, out: out.join("\n"), err: err.join("\n") };
  };

  it("a source that imports an environment and leaves a setting out: exit 3, not a change to the default", async () => {
    // keyAlgorithm now comes from ESC (say ECDSA-P384); the old promote proposed RSA-2048, the default.
    edit("dev", (t) => withImports(t.replace("  secure-etcd:keyAlgorithm: RSA-2048\n", ""), "payments/dev"));
    const staging = fs.readFileSync(file("staging"), "utf8");
    const r = await run("--from", "dev", "--to", "staging", "--apply");
    assert.equal(r.code, 3, r.out + r.err);
    assert.match(
      r.err,
      /^promote: cannot know the settings: \S*Pulumi\.dev\.yaml imports ESC environment payments\/dev and leaves (secure-etcd:\w+, )*secure-etcd:keyAlgorithm(, secure-etcd:\w+)* out of its config:, so an environment may set them\. Promote cannot read ESC environments offline: write those settings in the stack file's config: \(a value there wins over every environment\), or leave them out with --only/,
    );
    assert.equal(r.out, "", "no plan shown");
    assert.equal(fs.readFileSync(file("staging"), "utf8"), staging, "nothing written");
  });

  it("a target that imports an environment: exit 3 for the settings it leaves out, and for promotedFrom", async () => {
    edit("staging", (t) => withImports(t, "payments/common", "payments/staging"));
    const r = await run("--from", "dev", "--to", "staging");
    assert.equal(r.code, 3, r.out + r.err);
    assert.match(
      r.err,
      /Pulumi\.staging\.yaml imports ESC environments payments\/common, payments\/staging and leaves secure-etcd:promotedFrom out of its config:, so promote cannot tell which stack staging is promoted from/,
    );
    edit("staging", (t) => t.replace("config:\n", "config:\n  secure-etcd:promotedFrom: dev\n"));
    const keys = await run("--from", "dev", "--to", "staging");
    assert.equal(keys.code, 3);
    assert.match(
      keys.err,
      /Pulumi\.staging\.yaml imports .* and leaves (secure-etcd:\w+, )*secure-etcd:caValidityHours(, secure-etcd:\w+)* out of its config:/,
    );
  });

  it("with imports, --only the settings both files write is planned and applied (exit 0)", async () => {
    edit("dev", (t) => withImports(t, "payments/dev"));
    edit("staging", (t) =>
      withImports(t, "payments/staging").replace("config:\n", "config:\n  secure-etcd:promotedFrom: dev\n"),
    );
    const r = await run("--from", "dev", "--to", "staging", "--only", "keyAlgorithm,etcdVersion", "--apply");
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /~ secure-etcd:keyAlgorithm: "ECDSA-P256" → "RSA-2048"/);
    const after = parse(fs.readFileSync(file("staging"), "utf8")) as {
      environment: string[];
      config: Record<string, unknown>;
    };
    assert.deepEqual(after.environment, ["payments/staging"], "the imports stay");
    assert.equal(after.config["secure-etcd:keyAlgorithm"], "RSA-2048");
  });

  it("an inline environment's static pulumiConfig is read: its value is promoted, not the default", async () => {
    edit("dev", (t) =>
      [
        "environment:",
        "  values:",
        "    pulumiConfig:",
        "      secure-etcd:keyAlgorithm: ECDSA-P384",
        t.replace("  secure-etcd:keyAlgorithm: RSA-2048\n", ""),
      ].join("\n"),
    );
    const r = await run("--from", "dev", "--to", "staging", "--apply");
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /~ secure-etcd:keyAlgorithm: "ECDSA-P256" → "ECDSA-P384"/);
    const config = (parse(fs.readFileSync(file("staging"), "utf8")) as { config: Record<string, string> })
      .config;
    assert.equal(config["secure-etcd:keyAlgorithm"], "ECDSA-P384");
    const flat = Object.fromEntries(
      Object.entries(config).map(([k, v]) => [k, typeof v === "object" ? JSON.stringify(v) : String(v)]),
    );
    assert.equal(loadStackConfig(flat, "staging").settings.keyAlgorithm, "ECDSA-P384");
  });

  it("an inline value computed when the environment opens (${…}, fn::secret) is unknowable: exit 3", async () => {
    for (const computed of ["${keys.algorithm}", "{ fn::secret: ECDSA-P384 }"]) {
      fs.copyFileSync(path.join(repoStacks, "Pulumi.dev.yaml"), file("dev"));
      edit("dev", (t) =>
        [
          "environment:",
          "  imports: []",
          "  values:",
          "    pulumiConfig:",
          `      secure-etcd:keyAlgorithm: ${computed}`,
          t.replace("  secure-etcd:keyAlgorithm: RSA-2048\n", ""),
        ].join("\n"),
      );
      const r = await run("--from", "dev", "--to", "staging");
      assert.equal(r.code, 3, `${computed}: ${r.out}`);
      assert.match(r.err, /computes secure-etcd:keyAlgorithm in its inline environment/);
    }
  });

  it("a target whose required settings come from an environment is exit 3, not a config error", async () => {
    edit("staging", (t) =>
      withImports(t.replace("  secure-etcd:clusterName: payments\n", ""), "payments/staging"),
    );
    const r = await run("--from", "dev", "--to", "staging");
    assert.equal(r.code, 3, r.out + r.err);
    assert.match(
      r.err,
      /Pulumi\.staging\.yaml imports ESC environment payments\/staging, which may supply settings promote cannot read offline; without them it is rejected \([\s\S]*secure-etcd:clusterName: is required/,
    );
  });

  it("an environment: promote cannot read is exit 3, naming the file", () => {
    for (const env of ["payments/dev", { imports: "payments/dev" }, { values: {}, other: 1 }])
      assert.throws(
        () => readStackEnvironment(env, "Pulumi.dev.yaml"),
        /^SettingsUnknowable: Pulumi\.dev\.yaml: environment: .*; promote cannot tell which settings it supplies$/,
      );
    assert.deepEqual(readStackEnvironment(["a/b"], "f"), {
      imports: ["a/b"],
      staticConfig: {},
      computedKeys: [],
    });
  });
});
