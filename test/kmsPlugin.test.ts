import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  CreateKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EncryptCommand,
  KMSClient,
} from "@aws-sdk/client-kms";
import { settingsFromStackConfig } from "../components";
import { envelopeEncryptionContext } from "../components/kms/naming";
import { kmsPluginPlans } from "../components/kms/plan";
import { kmsPluginCommand } from "../components/kms/pluginManifest";
import { startFaultProxy, type FaultProxy } from "../harness/faultProxy";
import {
  disabledKeyAnswer,
  remapKmsPluginCommand,
  startKmsPlugin,
  type RunningKmsPlugin,
} from "../harness/kmsPlugin";
import { startMoto, type MotoServer } from "../harness/moto";
import { upstreamBinary } from "../harness/upstream";
import { run } from "../tools/shared/process";
import { readStackConfig } from "./support/stackFiles";

const region = "eu-west-1";
const prod = settingsFromStackConfig(readStackConfig("prod"), "prod");
const rendered = (keyArn: string) =>
  kmsPluginCommand({
    plan: kmsPluginPlans(prod.encryption.keys)[0],
    keyArn,
    region,
    image: prod.encryption.kms.pluginImage,
    encryptionContext: envelopeEncryptionContext("payments", "prod"),
  });

describe("remapping the rendered plugin command for one host (pure)", () => {
  it("moves only the socket, the health port and (when given) the key; adds the endpoint; lists each", () => {
    const arn = "arn:aws:kms:eu-west-1:123456789012:key/rendered";
    const r = remapKmsPluginCommand(rendered(arn), {
      socketDir: "/tmp/drill/kmsplugin",
      healthAddress: "127.0.0.5:40000",
      kmsEndpoint: "http://127.0.0.1:5000",
      keyArn: "arn:aws:kms:eu-west-1:123456789012:key/moto",
    });
    assert.deepEqual(r.args, [
      "--key=arn:aws:kms:eu-west-1:123456789012:key/moto",
      "--region=eu-west-1",
      "--listen=/tmp/drill/kmsplugin/socket.sock",
      "--health-port=127.0.0.5:40000",
      "--health-kms-version=v2",
      "--encryption-context=cluster=payments,environment=prod",
      "--kms-endpoint=http://127.0.0.1:5000",
    ]);
    assert.equal(r.remaps.length, 5);
    assert.deepEqual(r.socketPaths, ["/tmp/drill/kmsplugin/socket.sock"]);
  });
});

describe("the KMS v2 test plugin (upstream/kms-plugin) against moto's KMS @integration", function () {
  this.timeout(180_000);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "kms-plugin-"));
  let moto: MotoServer;
  let proxy: FaultProxy;
  let plugin: RunningKmsPlugin;
  let keyArn: string;
  let keyId: string;
  const kms = () => new KMSClient({ ...moto.clientConfig(), region });

  before(async () => {
    moto = await startMoto({ workDir, region });
    proxy = await startFaultProxy(moto.endpoint);
    const key = await kms().send(new CreateKeyCommand({ Description: "envelope key (test)" }));
    keyArn = key.KeyMetadata!.Arn!;
    keyId = key.KeyMetadata!.KeyId!;
    plugin = await startKmsPlugin({
      command: rendered(keyArn),
      host: "127.0.0.1",
      socketDir: path.join(workDir, "kmsplugin"),
      kmsEndpoint: proxy.url,
      workDir,
      env: moto.env(),
    });
  });
  after(async () => {
    await plugin?.stop();
    await proxy?.stop();
    await moto?.stop();
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  it("reports its version and refuses a v1 health check or unpaired keys and sockets (exit 2)", async () => {
    const bin = upstreamBinary("kms-plugin", "kms-plugin");
    const v = await run(bin, ["--version"]);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /kms-plugin v0\.1\.0/);
    const v1 = await run(bin, ["--key=a", "--region=eu-west-1", "--health-kms-version=v1"]);
    assert.equal(v1.code, 2);
    assert.match(v1.stderr, /serves only the KMS v2 API/);
    const pairs = await run(bin, ["--key=a,b", "--listen=/tmp/x.sock", "--health-kms-version=v2"]);
    assert.equal(pairs.code, 2);
  });

  it("listens on the rendered socket (0600) and its health check is an Encrypt+Decrypt through KMS", async () => {
    assert.equal(fs.statSync(plugin.socketPaths[0]).mode & 0o777, 0o600);
    const before = proxy.records.length;
    const h = await plugin.health("healthz");
    assert.deepEqual(h, { status: 200, body: "OK" });
    const targets = proxy.records.slice(before).map((r) => r.target);
    // Either it ran the check now, or it reused one from the last 30 s (the start-up probe).
    assert.ok(
      targets.length === 0 ||
        (targets.includes("TrentService.Encrypt") && targets.includes("TrentService.Decrypt")),
      targets.join(", "),
    );
    assert.ok(proxy.records.some((r) => r.target === "TrentService.Encrypt" && r.status === 200));
    assert.ok(!proxy.records.some((r) => /DescribeKey|GenerateDataKey/.test(r.target ?? "")));
  });

  it("a disabled key: moto alone keeps encrypting (recorded), so the proxy answers as AWS does; healthz fails, livez does not; back once enabled", async () => {
    await kms().send(new DisableKeyCommand({ KeyId: keyId }));
    // moto 5.2.6 stores the state but does not enforce it on Encrypt/Decrypt (real KMS answers
    // DisabledException): if this starts failing, moto enforces it and the proxy's stand-in can go.
    const direct = await kms().send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from("x") }));
    assert.ok(direct.CiphertextBlob?.length);
    proxy.faults.push({
      match: (r) => r.target === "TrentService.Encrypt" || r.target === "TrentService.Decrypt",
      action: { kind: "respond", ...disabledKeyAnswer(keyArn) },
    });
    // A second plugin with no cached health: its first check meets the disabled key.
    const fresh = await startKmsPlugin({
      command: rendered(keyArn),
      host: "127.0.0.1",
      socketDir: path.join(workDir, "kmsplugin2"),
      kmsEndpoint: proxy.url,
      workDir,
      env: moto.env(),
      name: "kms-plugin-fresh",
    });
    try {
      const h = await fresh.health("healthz");
      assert.equal(h.status, 500);
      assert.match(h.body, /DisabledException/);
      assert.equal(
        (await fresh.health("livez")).status,
        200,
        "a disabled key is the operator's to fix: no restart",
      );
      proxy.faults.splice(0);
      await kms().send(new EnableKeyCommand({ KeyId: keyId }));
      // The failed check is cached for the health-check period (30 s), as aws-encryption-provider does.
      let status = 0;
      for (let i = 0; i < 60 && status !== 200; i++) {
        status = (await fresh.health("healthz")).status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 1000));
      }
      assert.equal(status, 200);
    } finally {
      await fresh.stop();
    }
  });
});
