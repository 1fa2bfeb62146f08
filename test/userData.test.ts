import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { gunzipSync } from "node:zlib";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { keyAlgorithms } from "../components/config";
import {
  EC2_USER_DATA_LIMIT_BYTES,
  nodeBootstrapPaths,
  readBootstrapScript,
  renderNodeUserData,
  type NodeUserDataInput,
} from "../components/node";
import { parseNodeBundle } from "../components/secretStore/bundle";
import { valueOf } from "./support/recordingMocks";
import { buildSecureEtcd } from "./support/secureEtcdUnderMocks";
import { cloudInitSchema, runCloudInitWriteFiles } from "./support/cloudInit";
import { repoRoot } from "./support/stackFiles";

interface CloudConfig {
  write_files: { path: string; owner: string; permissions: string; encoding?: string; content: string }[];
  runcmd: string[];
}

/** The script as cloud-init writes it: gz+b64 unpacked. */
const unpacked = (f: { encoding?: string; content: string }) => {
  assert.equal(f.encoding, "gz+b64");
  return gunzipSync(Buffer.from(f.content, "base64")).toString("utf8");
};

/**
 * A realistic 10 KB bootstrap: real shell lines (the node bootstrap script's, whose line lengths are those of
 * a script of this kind) repeated up to exactly `bytes`.
 */
function fixtureScript(bytes: number): string {
  const lines = fs
    .readFileSync(path.join(repoRoot, "tools/bootstrap/secure-etcd-bootstrap.sh"), "utf8")
    .split("\n")
    .slice(1)
    .filter((l) => /^[\x20-\x7e\t]*$/.test(l)); // ASCII only: the fixture is sized in bytes
  let out = "#!/bin/sh\n";
  for (let i = 0; out.length + lines[i % lines.length].length + 1 <= bytes; i++)
    out += `${lines[i % lines.length]}\n`;
  return out + "#".repeat(bytes - out.length - 1) + "\n";
}
const script10k = fixtureScript(10 * 1024);

const signingKey =
  "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAED0m/2oSwCZKRiN1ZNsaoxsn8QrjrUxLC3V6q1zmQTyxPLJMrpM74svdyNanrSWlAUDNrpRTCrDPJBApV1S6FEw==";
const sample: NodeUserDataInput = {
  member: "prod-cp-1",
  cluster: "payments",
  environment: "prod",
  signingKey,
  secretId: "secure-etcd/payments/prod/prod-cp-1",
  region: "eu-west-1",
  bootstrapIntervalMinutes: 5,
  script: "#!/bin/sh\necho bootstrap\n",
};
const fileAt = (doc: CloudConfig, p: string) => {
  const f = doc.write_files.find((x) => x.path === p);
  assert.ok(f, `no ${p}`);
  return f;
};

describe("node user data (renderer)", () => {
  const doc = parse(renderNodeUserData(sample)) as CloudConfig;

  it("is a #cloud-config that writes the bootstrap 0755, its env 0600 and the units 0644, root:root", () => {
    assert.match(renderNodeUserData(sample), /^#cloud-config\n/);
    assert.deepEqual(
      doc.write_files.map((f) => [f.path, f.permissions, f.owner]),
      [
        ["/usr/local/sbin/secure-etcd-bootstrap", "0755", "root:root"],
        ["/etc/secure-etcd/bootstrap.env", "0600", "root:root"],
        ["/etc/systemd/system/secure-etcd-bootstrap.service", "0644", "root:root"],
        ["/etc/systemd/system/secure-etcd-bootstrap.timer", "0644", "root:root"],
      ],
    );
    assert.equal(unpacked(fileAt(doc, nodeBootstrapPaths.script)), sample.script);
  });

  it("the env file names the secret, the region, the member, cluster and environment, and the signing public key (nothing else)", () => {
    assert.equal(
      fileAt(doc, nodeBootstrapPaths.env).content,
      "SECURE_ETCD_SECRET_ID=secure-etcd/payments/prod/prod-cp-1\nSECURE_ETCD_REGION=eu-west-1\nSECURE_ETCD_MEMBER=prod-cp-1\n" +
        `SECURE_ETCD_CLUSTER=payments\nSECURE_ETCD_ENVIRONMENT=prod\nSECURE_ETCD_SIGNING_KEY=${signingKey}\n`,
    );
    assert.throws(() => renderNodeUserData({ ...sample, member: "cp 1" }), /SECURE_ETCD_MEMBER="cp 1"/);
  });

  it("a oneshot service for which exit 75 (secret not there yet) is not a failure", () => {
    const unit = fileAt(doc, nodeBootstrapPaths.service).content;
    for (const line of [
      "Type=oneshot",
      "EnvironmentFile=/etc/secure-etcd/bootstrap.env",
      "ExecStart=/usr/local/sbin/secure-etcd-bootstrap",
      "SuccessExitStatus=75",
      "After=network-online.target",
    ])
      assert.ok(unit.split("\n").includes(line), line);
  });

  it("a timer: 30 s after boot, then every bootstrapIntervalMinutes, persistent; runcmd enables it", () => {
    const timer = fileAt(doc, nodeBootstrapPaths.timer).content.split("\n");
    for (const line of ["OnBootSec=30s", "OnUnitActiveSec=5min", "Persistent=true", "WantedBy=timers.target"])
      assert.ok(timer.includes(line), line);
    const every17 = parse(renderNodeUserData({ ...sample, bootstrapIntervalMinutes: 17 })) as CloudConfig;
    assert.ok(fileAt(every17, nodeBootstrapPaths.timer).content.includes("OnUnitActiveSec=17min\n"));
    assert.throws(() => renderNodeUserData({ ...sample, bootstrapIntervalMinutes: 0 }), /1 to 60/);
    assert.deepEqual(doc.runcmd, [
      "systemctl daemon-reload",
      "systemctl enable --now secure-etcd-bootstrap.timer",
    ]);
  });

  it("packs the script gz+b64, byte for byte, the same on every render (fflate, mtime 0: no zlib build in it)", () => {
    const text = renderNodeUserData({ ...sample, script: script10k });
    const f = fileAt(parse(text) as CloudConfig, nodeBootstrapPaths.script);
    assert.equal(unpacked(f), script10k);
    assert.equal(renderNodeUserData({ ...sample, script: script10k }), text);
    // mtime 0 in the gzip header: nothing of the moment of rendering is in the user data
    assert.equal(Buffer.from(f.content, "base64").readUInt32LE(4), 0);
  });

  it("refuses to render more than EC2's 16 KB, saying how big it got", () => {
    // Random text does not compress: 16 KB of it packs to more than 16 KB.
    const noise = `#!/bin/sh\n${randomBytes(12 * 1024).toString("base64")}\n`;
    assert.throws(
      () => renderNodeUserData({ ...sample, script: noise }),
      /nodeUserData for member "prod-cp-1" is \d+ bytes; EC2 accepts at most 16384/,
    );
  });
});

describe("node user data from the component: no secret, under 16 KB for every algorithm at 7 members", () => {
  const members = Array.from({ length: 7 }, (_, i) => ({
    name: `prod-cp-${i + 1}`,
    ip: `10.30.${i + 1}.10`,
    dnsNames: [`prod-cp-${i + 1}.payments.internal`],
  }));
  const sizes: string[] = [];
  after(() => {
    if (sizes.length) console.log(`      user data sizes:\n${sizes.join("\n")}`);
  });

  for (const algorithm of keyAlgorithms)
    it(`${algorithm}, 7 members`, async () => {
      const b = await buildSecureEtcd("prod", {
        "secure-etcd:keyAlgorithm": algorithm,
        "secure-etcd:members": members,
      });
      const userData = b.etcd.nodeUserData!;
      assert.deepEqual(
        Object.keys(userData),
        members.map((m) => m.name),
      );
      let largest = 0;
      for (const m of b.members) {
        assert.equal(await pulumi.isSecret(userData[m]), false, `${m}: nodeUserData is not a secret`);
        const text = await valueOf(userData[m]);
        const env = fileAt(parse(text) as CloudConfig, nodeBootstrapPaths.env).content;
        const key = /^SECURE_ETCD_SIGNING_KEY=(\S+)$/m.exec(env)?.[1];
        assert.ok(key, "the user data carries the bundle-signing public key");
        const input = {
          member: m,
          cluster: "payments",
          environment: "prod",
          signingKey: key,
          secretId: `secure-etcd/payments/prod/${m}`,
          region: "us-east-1",
          bootstrapIntervalMinutes: 5,
        };
        assert.equal(
          text,
          renderNodeUserData({ ...input, script: readBootstrapScript() }),
          "the package's script, as rendered",
        );
        assertCarriesNoSecret(
          text,
          await valueOf(b.etcd.nodeBundles[m]),
          await valueOf(b.etcd.encryptionConfiguration),
        );
        largest = Math.max(largest, Buffer.byteLength(text));
      }
      assert.ok(largest < EC2_USER_DATA_LIMIT_BYTES, `${largest} bytes`);
      sizes.push(
        `        ${algorithm}: ${largest} bytes with the package's ${Buffer.byteLength(readBootstrapScript())}-byte bootstrap (headroom ${EC2_USER_DATA_LIMIT_BYTES - largest})`,
      );
    });
});

/** No PEM key, no key file's content or base64, no encryption key: only names, a region, the script. */
function assertCarriesNoSecret(userData: string, bundleText: string, encryptionConfiguration: string): void {
  assert.ok(!/PRIVATE KEY/.test(userData), "no PEM private key");
  const bundle = parseNodeBundle(bundleText);
  const keyFiles = bundle.files.filter((f) => f.role.endsWith("-key") || f.role === "encryption-config");
  assert.equal(
    keyFiles.length,
    5,
    "server, peer, healthcheck, apiserver client keys + the encryption config",
  );
  for (const f of keyFiles) {
    assert.ok(!userData.includes(f.content.trim()), `${f.role} content`);
    assert.ok(!userData.includes(Buffer.from(f.content).toString("base64")), `${f.role} as base64`);
  }
  const encryptionKeys = [...encryptionConfiguration.matchAll(/secret: (\S+)/g)].map((x) => x[1]);
  assert.ok(encryptionKeys.length > 0);
  for (const k of encryptionKeys) assert.ok(!userData.includes(k), "an encryption key");
  // No EncryptionConfiguration key entry (`secret: <base64>`) and no stored-value prefix anywhere.
  assert.ok(!/^\s*-?\s*secret:\s*\S/m.test(userData) && !userData.includes("k8s:enc"));
}

describe("node user data through cloud-init and systemd @integration", () => {
  const userData = renderNodeUserData({ ...sample, script: script10k });

  it("passes `cloud-init schema` (with the 10 KB bootstrap and with the package's)", () => {
    for (const text of [userData, renderNodeUserData({ ...sample, script: readBootstrapScript() })])
      assert.match(cloudInitSchema(text), /Valid cloud-config/);
  });

  it("cloud-init's write_files module lays the files down with those modes, the script byte for byte", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "node-root-"));
    const doc = parse(userData) as CloudConfig;
    runCloudInitWriteFiles(root, doc.write_files);
    const mode = (p: string) => (fs.statSync(root + p).mode & 0o777).toString(8);
    assert.equal(mode(nodeBootstrapPaths.script), "755");
    assert.equal(mode(nodeBootstrapPaths.env), "600");
    assert.equal(mode(nodeBootstrapPaths.service), "644");
    assert.equal(mode(nodeBootstrapPaths.timer), "644");
    assert.equal(
      fs.readFileSync(root + nodeBootstrapPaths.script, "utf8"),
      script10k,
      "cloud-init unpacks gz+b64",
    );
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("`systemd-analyze verify` accepts the service and the timer", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "units-"));
    const doc = parse(renderNodeUserData(sample)) as CloudConfig;
    const bootstrap = path.join(dir, "secure-etcd-bootstrap");
    fs.writeFileSync(bootstrap, sample.script, { mode: 0o755 });
    for (const p of [nodeBootstrapPaths.service, nodeBootstrapPaths.timer])
      fs.writeFileSync(
        path.join(dir, path.basename(p)),
        fileAt(doc, p).content.replace(nodeBootstrapPaths.script, bootstrap),
      );
    const units = ["service", "timer"].map((u) => path.join(dir, `secure-etcd-bootstrap.${u}`));
    const r = spawnSync("systemd-analyze", ["verify", ...units], { encoding: "utf8" });
    // systemd only warns (exit 0) about a bad setting: any output is a finding.
    assert.deepEqual([r.status, r.stdout + r.stderr], [0, ""]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
