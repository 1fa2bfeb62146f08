import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { validateSettings } from "../components/config";
import { nodeFiles, type NodeMaterial } from "../components/manifests";
import { renderOfflineCloudInit } from "../components/node";
import { bundleFileRoles, bundleRoleTableLines } from "../components/secretStore/bundle";
import { bootstrapScriptPath } from "../tools/bootstrap";
import { cloudInitSchema, runCloudInitWriteFiles } from "./support/cloudInit";

const settings = validateSettings(
  {
    clusterName: "payments",
    environment: "prod",
    etcdVersion: "3.5.21",
    members: [{ name: "cp-1", ip: "10.0.1.10" }],
  },
  "",
  "test",
);
const material = Object.fromEntries(
  [
    "caCertPem",
    "serverCertPem",
    "serverKeyPem",
    "peerCertPem",
    "peerKeyPem",
    "apiserverClientCertPem",
    "apiserverClientKeyPem",
    "healthcheckClientCertPem",
    "healthcheckClientKeyPem",
    "encryptionConfiguration",
  ].map((k) => [k, `${k} of cp-1\n`]),
) as unknown as NodeMaterial;

describe("node files (what a member's bundle installs)", () => {
  const { files, dirs } = nodeFiles(settings, settings.members[0], material);

  it("keys, the manifest and the encryption config are 0600; certs 0644; the CA key is never shipped", () => {
    const mode = (p: string) => files.find((f) => f.path === p)?.mode;
    assert.equal(mode("/etc/kubernetes/pki/etcd/server.key"), "0600");
    assert.equal(mode("/etc/kubernetes/pki/etcd/peer.key"), "0600");
    assert.equal(mode("/etc/kubernetes/pki/apiserver-etcd-client.key"), "0600");
    assert.equal(mode("/etc/kubernetes/manifests/etcd.yaml"), "0600");
    assert.equal(mode("/etc/kubernetes/enc/encryption-config.yaml"), "0600");
    assert.equal(mode("/etc/kubernetes/pki/etcd/ca.crt"), "0644");
    assert.ok(!files.some((f) => f.path.endsWith("ca.key")));
    for (const f of files.filter((x) => x.path.endsWith(".key"))) assert.equal(f.mode, "0600", f.path);
  });

  it("the PKI, encryption and data dirs are 0700", () => {
    const mode = (p: string) => dirs.find((d) => d.path === p)?.mode;
    assert.equal(mode("/etc/kubernetes/pki/etcd"), "0700");
    assert.equal(mode("/etc/kubernetes/enc"), "0700");
    assert.equal(mode("/var/lib/etcd"), "0700");
  });

  it("every file carries its role (the bootstrap checks pairs and chains by role)", () => {
    assert.deepEqual(
      files.map((f) => f.role),
      [
        "ca-cert",
        "server-cert",
        "server-key",
        "peer-cert",
        "peer-key",
        "healthcheck-client-cert",
        "healthcheck-client-key",
        "apiserver-etcd-client-cert",
        "apiserver-etcd-client-key",
        "encryption-config",
        "etcd-manifest",
      ],
    );
  });
});

describe("the bundle's file roles: one table (bundle.ts), the bootstrap's copy of it, and what nodeFiles ships", () => {
  it("the script's RT lines are bundleFileRoles, line for line", () => {
    const script = fs.readFileSync(bootstrapScriptPath, "utf8");
    const rt = /^RT='([^']*)'$/m.exec(script);
    assert.ok(rt, "the script has its role table (RT='…')");
    assert.deepEqual(rt[1].split("\n"), bundleRoleTableLines());
  });

  it("every file nodeFiles ships has its role's file name and mode; pairs point at each other", () => {
    const { files } = nodeFiles(settings, settings.members[0], material);
    assert.deepEqual(files.map((f) => f.role).sort(), Object.keys(bundleFileRoles).sort());
    for (const f of files) {
      const r = bundleFileRoles[f.role];
      assert.equal(path.posix.basename(f.path), r.file, f.role);
      assert.equal(f.mode, r.mode, f.role);
      if (r.pair) assert.equal(bundleFileRoles[r.pair].pair, f.role, `${f.role} ↔ ${r.pair}`);
    }
  });
});

describe("offline cloud-init (air-gapped labs only, opt-in)", () => {
  const { files, dirs } = nodeFiles(settings, settings.members[0], material);

  it("writes the static pod manifest last, so kubelet never starts etcd before its certs exist", () => {
    const doc = parse(renderOfflineCloudInit(files, dirs)) as { write_files: { path: string }[] };
    assert.equal(doc.write_files[doc.write_files.length - 1].path, "/etc/kubernetes/manifests/etcd.yaml");
  });
});

describe("offline cloud-init through cloud-init's own code @integration", () => {
  const userData = renderOfflineCloudInit(
    ...(Object.values(nodeFiles(settings, settings.members[0], material)) as [never, never]),
  );

  it("passes `cloud-init schema`", () => {
    assert.match(cloudInitSchema(userData), /Valid cloud-config/);
  });

  it("cloud-init's write_files module and the bootcmd lay the files down with those modes and contents", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "node-root-"));
    const doc = parse(userData) as { bootcmd: string[][]; write_files: { path: string }[] };
    for (const cmd of doc.bootcmd) execFileSync(cmd[0], [...cmd.slice(1, -1), root + cmd[cmd.length - 1]]);
    runCloudInitWriteFiles(root, doc.write_files);
    const mode = (p: string) => (fs.statSync(root + p).mode & 0o777).toString(8);
    assert.equal(mode("/etc/kubernetes/pki/etcd"), "700");
    assert.equal(mode("/var/lib/etcd"), "700");
    assert.equal(mode("/etc/kubernetes/enc"), "700");
    assert.equal(mode("/etc/kubernetes/pki/etcd/server.key"), "600");
    assert.equal(mode("/etc/kubernetes/manifests/etcd.yaml"), "600");
    assert.equal(mode("/etc/kubernetes/pki/etcd/ca.crt"), "644");
    assert.equal(fs.readFileSync(root + "/etc/kubernetes/pki/etcd/peer.key", "utf8"), "peerKeyPem of cp-1\n");
    assert.match(
      fs.readFileSync(root + "/etc/kubernetes/manifests/etcd.yaml", "utf8"),
      /--cert-file=\/etc\/kubernetes\/pki\/etcd\/server\.crt/,
    );
    fs.rmSync(root, { recursive: true, force: true });
  });
});
