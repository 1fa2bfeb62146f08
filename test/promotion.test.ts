import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import type { z } from "zod";
import {
  ConfigError,
  keyClasses,
  loadStackConfig,
  promotableKeys,
  promotionGateProblems,
  promotionRecord,
  settingsSchema,
  type PromotionRecord,
} from "../components/config";
import { packageVersion } from "../components/packageInfo";
import { promoteCommand as promote } from "../tools/commands/promote";
import { planPromotion } from "../tools/promote/plan";
import { RecordingMocks } from "./support/recordingMocks";
import { runProgram } from "./support/program";
import { readStackConfig } from "./support/stackFiles";

const repoStacks = path.resolve(__dirname, "..", "stacks");
const stackText = (dir: string, name: string) => ({
  name,
  file: path.join(dir, `Pulumi.${name}.yaml`),
  text: fs.readFileSync(path.join(dir, `Pulumi.${name}.yaml`), "utf8"),
});

/** Key paths of a zod schema down through objects (arrays and scalars are leaves), read at runtime. */
function schemaKeys(schema: z.ZodType, prefix = ""): string[] {
  const def = (schema as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
  if (def.type === "optional" || def.type === "default" || def.type === "nullable")
    return schemaKeys(def.innerType as z.ZodType, prefix);
  if (def.type !== "object") return [prefix];
  return Object.entries(def.shape as Record<string, z.ZodType>).flatMap(([k, v]) =>
    schemaKeys(v, prefix ? `${prefix}.${k}` : k),
  );
}

describe("promotion: which settings move", () => {
  it("every key of the schema, and every program key, has exactly one class", () => {
    const program = ["backup.deployJob", "backup.kubeContext", "promotedFrom"];
    assert.deepEqual(Object.keys(keyClasses).sort(), [...schemaKeys(settingsSchema), ...program].sort());
  });

  it("identity, key names, buckets, ARNs, OIDC and safety switches stay; versions, algorithms, windows, TLS move", () => {
    const mustStay = [
      "clusterName",
      "environment",
      "members",
      "encryption.keys",
      "backup.bucketName",
      "backup.oidc.providerArn",
      "backup.objectLock.days",
      "backup.replicaRegion",
      "backup.accessLogging.targetBucket",
      "protectEncryptionKeys",
      "backup.enabled",
      "promotedFrom",
    ];
    const mustMove = [
      "etcdVersion",
      "etcdImage",
      "keyAlgorithm",
      "caValidityHours",
      "leafValidityHours",
      "earlyRenewalHours",
      "tls.minVersion",
      "tls.cipherSuites",
      "encryption.provider",
      "encryption.resources",
    ];
    for (const k of mustStay) assert.equal(keyClasses[k as keyof typeof keyClasses], "environment", k);
    for (const k of mustMove) assert.equal(keyClasses[k as keyof typeof keyClasses], "promotable", k);
  });
});

describe("secure-etcd promote on the shipped stacks", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "promote-"));
    for (const f of fs.readdirSync(repoStacks)) fs.copyFileSync(path.join(repoStacks, f), path.join(dir, f));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const run = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await promote([...argv, "--stacks-dir", dir], {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
    });
    return { code, out: out.join("\n"), err: err.join("\n") };
  };

  it("dev → staging: the promotable settings move, staging keeps its own identity and keys", () => {
    const plan = planPromotion(stackText(dir, "dev"), stackText(dir, "staging"));
    const moved = plan.changes.map((c) => c.key).sort();
    assert.deepEqual(moved, [
      "caValidityHours",
      "earlyRenewalHours",
      "encryption.automaticReload",
      "etcdVersion",
      "keyAlgorithm",
      "leafValidityHours",
    ]);
    const after = loadStackConfig(flat(plan.text), "staging");
    const before = loadStackConfig(readStackConfig("staging"), "staging");
    const dev = loadStackConfig(readStackConfig("dev"), "dev");
    assert.equal(after.settings.keyAlgorithm, dev.settings.keyAlgorithm);
    assert.equal(after.settings.etcdVersion, dev.settings.etcdVersion);
    for (const own of ["clusterName", "members", "environment"] as const)
      assert.deepEqual(after.settings[own], before.settings[own], own);
    assert.deepEqual(after.settings.encryption.keys, before.settings.encryption.keys, "staging's keys stay");
    assert.equal(after.settings.encryption.identityFallback, false, "dev's migration aid does not travel");
    assert.deepEqual(after.args.backup, before.args.backup, "staging's access logging stays");
  });

  it("a dry run changes no file; --apply writes a file the loader accepts, comments and order kept", async () => {
    const before = fs.readFileSync(path.join(dir, "Pulumi.staging.yaml"), "utf8");
    const dry = await run("--from", "dev", "--to", "staging");
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.out, /~ secure-etcd:keyAlgorithm: "ECDSA-P256" → "RSA-2048"/);
    assert.match(dry.out, /dry run/);
    assert.equal(fs.readFileSync(path.join(dir, "Pulumi.staging.yaml"), "utf8"), before);
    const applied = await run("--from", "dev", "--to", "staging", "--apply");
    assert.equal(applied.code, 0, applied.err);
    const after = fs.readFileSync(path.join(dir, "Pulumi.staging.yaml"), "utf8");
    assert.ok(after.startsWith("# staging: three members, mid key rotation"), "the header comment stays");
    for (const line of before.split("\n").filter((l) => l.trim().startsWith("#")))
      assert.ok(after.includes(line), `comment kept: ${line}`);
    assert.ok(after.indexOf("secure-etcd:clusterName") < after.indexOf("secure-etcd:members"), "order kept");
    assert.ok(loadStackConfig(flat(after), "staging"));
    const again = await run("--from", "dev", "--to", "staging");
    assert.match(again.out, /nothing to promote/);
  });

  it("refuses an environment-owned key, naming it (exit 2)", async () => {
    for (const key of ["encryption.keys", "members", "backup.bucketName", "clusterName"]) {
      const r = await run("--from", "dev", "--to", "staging", "--only", key);
      assert.equal(r.code, 2, key);
      assert.match(r.err, new RegExp(`${key.replace(".", "\\.")}: is owned by each environment`));
    }
  });

  it("refuses to skip an environment, unless the target names its source", async () => {
    const skip = await run("--from", "dev", "--to", "prod");
    assert.equal(skip.code, 2);
    assert.match(skip.err, /--to: "prod" does not follow "dev"/);
    const prodFile = path.join(dir, "Pulumi.prod.yaml");
    fs.appendFileSync(prodFile, "  secure-etcd:promotedFrom: staging\n");
    const wrong = await run("--from", "dev", "--to", "prod");
    assert.match(wrong.err, /secure-etcd:promotedFrom: prod is promoted from "staging"/);
  });

  it("refuses a default provider that would change the provider of the target's keys", () => {
    const prod = stackText(dir, "prod");
    prod.text = prod.text.replace("        provider: kms\n", "");
    assert.throws(
      () => planPromotion(stackText(dir, "staging"), prod),
      /"aws-kms-prod" in prod take encryption\.provider's default/,
    );
  });

  it("refuses a result the stack loader would reject, writing nothing", async () => {
    const staging = path.join(dir, "Pulumi.staging.yaml");
    const dev = path.join(dir, "Pulumi.dev.yaml");
    // Fine in dev, but in staging the backup client's CN would be a staging member's.
    fs.appendFileSync(dev, "  secure-etcd:backupClientCommonName: stg-cp-1\n");
    const before = fs.readFileSync(staging, "utf8");
    const r = await run("--from", "dev", "--to", "staging", "--apply");
    assert.equal(r.code, 2, r.out + r.err);
    assert.match(r.err, /secure-etcd:backupClientCommonName: "stg-cp-1" is the CN of member stg-cp-1/);
    assert.equal(fs.readFileSync(staging, "utf8"), before);
  });

  it("names the flag for bad arguments", async () => {
    assert.equal((await run("--from", "dev")).code, 2);
    assert.equal((await run("--from", "dev", "--to", "nope")).code, 2);
    assert.equal((await run("--bogus")).code, 2);
  });
});

/** A stack file's config as Pulumi hands it to a program (structured values as JSON text). */
function flat(text: string): Record<string, string> {
  const config = (parse(text) as { config: Record<string, unknown> }).config;
  return Object.fromEntries(
    Object.entries(config).map(([k, v]) => [
      k,
      typeof v === "object" && v !== null ? JSON.stringify(v) : String(v),
    ]),
  );
}

describe("the promotion gate", () => {
  const record = (stack: string): PromotionRecord =>
    promotionRecord(loadStackConfig(readStackConfig(stack), stack).args, packageVersion());
  const self = (stack: string) => `organization/secure-etcd/${stack}`;

  it("compares package version and every promotable setting, naming what differs", () => {
    const staging = record("staging");
    assert.deepEqual(promotionGateProblems("dev", staging, staging), []);
    assert.match(promotionGateProblems("dev", undefined, staging)[0], /never deployed/);
    assert.match(
      promotionGateProblems("dev", { ...staging, packageVersion: "0.0.1" }, staging)[0],
      /runs secure-etcd 0\.0\.1/,
    );
    const other = { ...staging, settings: { ...staging.settings, keyAlgorithm: "RSA-4096" } };
    assert.deepEqual(promotionGateProblems("dev", other, staging), [
      `keyAlgorithm is "ECDSA-P256" here but "RSA-4096" in "dev": promote it, or deploy it there first`,
    ]);
    assert.equal(Object.keys(staging.settings).length, promotableKeys.length);
  });

  const withGate = (stack: string, from: string) => ({
    ...readStackConfig(stack),
    "secure-etcd:promotedFrom": from,
  });

  it("under mocks: passes when the source deployed the same version and settings", async () => {
    // The source "deployed" exactly what staging now has: a StackReference to it returns that record.
    const source = { promotion: record("staging") };
    await runProgram(
      "staging",
      new RecordingMocks({ stackOutputs: { [self("dev")]: source } }),
      withGate("staging", "dev"),
    );
  });

  for (const [what, outputs, reason] of [
    ["a source that never deployed", undefined, /"dev" has never deployed/],
    [
      "a different package version",
      { promotion: { ...record("staging"), packageVersion: "0.0.9" } },
      /runs secure-etcd 0\.0\.9/,
    ],
    [
      "a different promoted setting",
      {
        promotion: {
          ...record("staging"),
          settings: { ...record("staging").settings, etcdVersion: "3.5.16" },
        },
      },
      new RegExp(`etcdVersion is "${record("staging").settings.etcdVersion}" here but "3\\.5\\.16" in "dev"`),
    ],
  ] as const)
    it(`under mocks: fails preview for ${what}, with the reason`, async () => {
      const mocks = new RecordingMocks({ stackOutputs: outputs ? { [self("dev")]: outputs } : {} });
      await assert.rejects(runProgram("staging", mocks, withGate("staging", "dev")), (e: unknown) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.ok(e.problems.every((p) => p.path === "secure-etcd:promotedFrom"));
        assert.match(e.message, reason);
        return true;
      });
      assert.equal(mocks.ofType("tls:index/privateKey:PrivateKey").length, 0, "nothing was created");
    });

  it("accepts config that arrives from Pulumi ESC (pulumiConfig values as JSON and strings)", async () => {
    // ESC hands a stack the same secure-etcd:* keys; numbers and booleans may arrive as JSON text.
    const esc = {
      ...readStackConfig("staging"),
      "secure-etcd:leafValidityHours": JSON.stringify(4380),
      "secure-etcd:encryption": JSON.stringify({
        ...JSON.parse(readStackConfig("staging")["secure-etcd:encryption"]),
        automaticReload: "true",
      }),
      "secure-etcd:promotedFrom": "dev",
    };
    const s = loadStackConfig(esc, "staging");
    assert.equal(s.settings.leafValidityHours, 4380);
    assert.equal(s.program.promotedFrom, "dev");
    assert.deepEqual(promotionRecord(s.args, packageVersion()), record("staging"));
  });
});
