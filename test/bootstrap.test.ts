import { strict as assert } from "node:assert";
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tls from "node:tls";
import { parse } from "yaml";
import type { EncryptionKeyMaterial } from "../components/encryption/render";
import { validateSettings } from "../components/config";
import { nodeFiles, nodePaths } from "../components/manifests";
import { startNodeSecretsOnMoto, type NodeSecretsOnMoto } from "../harness/motoNodeSecrets";
import { foreignCa, issueLeaf, reissueWithExtraIps } from "../harness/oneHostPki";
import {
  cleanEnv,
  findBinary,
  freeLoopbackAddress,
  pidAlive,
  sleep,
  spawnManaged,
  tailFile,
  type ManagedProcess,
} from "../harness/process";
import { bootstrapExit, bootstrapScriptPath, runBootstrap } from "../tools/bootstrap";
import { run } from "../tools/shared/process";
import {
  boot,
  bundle,
  editKeepingSeal,
  expectRefusal,
  keyLines,
  listing,
  makeFixture,
  material,
  memberPki,
  modeOf,
  newKey,
  removeTempDirs,
  reportTimings,
  reseal,
  secretNeedles,
  showListing,
  tempDir,
  type BootOptions,
  type Fixture,
  type Node,
} from "./support/bootstrapFixture";

/*
 * The node bootstrap script, run with the real AWS CLI against moto (IAM enforcement on, each node with
 * its own role's credentials from moto STS, through the fault proxy), into a scratch root per node.
 * Bundles are built the way the component builds them (renderMemberBundleBody, sealed) from real certs.
 */

const region = "eu-west-1";
after(removeTempDirs);

describe("node bootstrap script (tools/bootstrap/secure-etcd-bootstrap.sh), the real AWS CLI against moto @integration", function () {
  this.timeout(180_000);
  let aws: NodeSecretsOnMoto;
  let fx: Fixture;
  let needles: string[];
  const paths = () => nodePaths(fx.settings);

  async function newNode(member = "cp-1", value?: string): Promise<Node> {
    const node = {
      member,
      root: tempDir(`bootstrap-root-${member}-`),
      secretId: `payments/dev/etcd/${member}-${randomBytes(3).toString("hex")}`,
    };
    await aws.addNode(member, node.secretId, value);
    return node;
  }
  async function installed(member = "cp-1"): Promise<Node> {
    const node = await newNode(member, bundle(fx, member));
    const r = await boot(aws, fx, node, needles);
    assert.equal(r.code, 0, r.stderr);
    return node;
  }
  const run1 = (node: Node, o?: BootOptions, extra: string[] = []) =>
    boot(aws, fx, node, [...needles, ...extra], o);

  before(async () => {
    aws = await startNodeSecretsOnMoto({ workDir: tempDir("moto-"), region });
    fx = makeFixture([
      { name: "cp-1", ip: "10.0.1.10" },
      { name: "cp-2", ip: "10.0.1.11" },
      { name: "cp-3", ip: "10.0.1.12" },
    ]);
    needles = secretNeedles(fx);
  });
  after(async () => {
    await aws?.stop();
    reportTimings();
  });

  it("is POSIX sh (dash -n), shellcheck-clean and never traces", async () => {
    const syntax = await run("dash", ["-n", bootstrapScriptPath]);
    assert.equal(syntax.code, 0, syntax.output);
    const sc = findBinary("shellcheck");
    assert.ok(sc, "shellcheck is not installed (apt-get install shellcheck)");
    const lint = await run(sc, ["--shell=sh", "--severity=style", bootstrapScriptPath]);
    assert.equal(lint.code, 0, lint.output);
    const code = fs
      .readFileSync(bootstrapScriptPath, "utf8")
      .split("\n")
      .filter((l) => !l.trimStart().startsWith("#"));
    assert.ok(
      !code.some((l) => /set -[a-z]*x|set -o xtrace/.test(l)),
      "the script must never trace (set -x)",
    );
  });

  it("installs a member into an empty root: the bundle's contents and modes, dirs 0700, the manifest last, version and generation recorded", async () => {
    const text = bundle(fx, "cp-1");
    const node = await newNode("cp-1", text);
    const version = (await aws.current(node.secretId)).versionId;
    const r = await run1(node);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    const p = paths();
    const { files, dirs } = nodeFiles(fx.settings, fx.settings.members[0], material(fx, "cp-1", fx.keys));
    for (const f of files) {
      const abs = path.join(node.root, f.path);
      assert.equal(fs.readFileSync(abs, "utf8"), f.content, f.path);
      assert.equal(modeOf(abs), f.mode, f.path);
      assert.equal(fs.statSync(abs).uid, 0, f.path);
    }
    for (const k of [p.certs.server.key, p.certs.peer.key, p.etcdManifest, p.encryptionConfig])
      assert.equal(modeOf(path.join(node.root, k)), "0600", k);
    assert.equal(modeOf(path.join(node.root, p.caCert)), "0644");
    for (const d of [p.etcdPkiDir, p.encryptionConfigDir, p.dataDir])
      assert.equal(modeOf(path.join(node.root, d)), "0700", d);
    for (const d of dirs) assert.equal(modeOf(path.join(node.root, d.path)), d.mode, d.path);
    // The manifest last: by the script's own log and by the files' mtimes (ns).
    const wrote = r.lines.filter((l) => / wrote /.test(l)).map((l) => l.split(" ")[3]);
    assert.equal(wrote.length, files.length);
    assert.equal(wrote[wrote.length - 1], "etcd-manifest");
    const mtime = (f: string) => fs.statSync(path.join(node.root, f), { bigint: true }).mtimeNs;
    for (const f of files.filter((x) => x.role !== "etcd-manifest"))
      assert.ok(mtime(f.path) < mtime(p.etcdManifest), `${f.path} was written after the manifest`);
    const state = path.join(node.root, "var/lib/secure-etcd");
    assert.equal(fs.readFileSync(path.join(state, "installed-version"), "utf8"), `${version}\n`);
    const fp = (k: EncryptionKeyMaterial) => createHashHex(`${k.provider}:${k.secretBase64}`);
    assert.equal(
      fs.readFileSync(path.join(state, "installed-keys"), "utf8"),
      `primary:secretbox:key1:${fp(fx.keys[0])}\n`,
      "keys are recorded by fingerprint, not by name alone",
    );
    assert.match(
      fs.readFileSync(path.join(state, "installed-generation"), "utf8"),
      /^\d{14} [0-9a-f]{64}\n$/,
    );
    for (const f of ["installed-version", "installed-keys", "installed-generation", "notices"])
      assert.equal(modeOf(path.join(state, f)), "0600", f);
    assert.equal(modeOf(state), "0700");
    assert.ok(!fs.existsSync(path.join(state, "swap")), "the install journal is removed once done");
    assert.match(r.stdout, new RegExp(`version ${version} installed \\(11 files written\\)`));
    assert.match(r.stdout, /first install: kubelet starts etcd from the manifest/);
  });

  it("a second run changes nothing (same listing, hashes and mtimes) and says so", async () => {
    const node = await installed();
    const before = listing(node.root);
    const r = await run1(node);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.lines, [
      `secure-etcd-bootstrap: cp-1: version ${(await aws.current(node.secretId)).versionId} already installed, nothing changed`,
    ]);
    assert.equal(showListing(listing(node.root)), showListing(before));
  });

  it("repairs only what differs: a loosened key mode, a loosened dir and an edited manifest (and the state it records)", async () => {
    const node = await installed();
    const p = paths();
    fs.chmodSync(path.join(node.root, p.certs.peer.key), 0o644);
    fs.appendFileSync(path.join(node.root, p.etcdManifest), "# edited\n");
    fs.chmodSync(path.join(node.root, p.etcdPkiDir), 0o755);
    const before = listing(node.root);
    const r = await run1(node);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(modeOf(path.join(node.root, p.certs.peer.key)), "0600");
    assert.equal(modeOf(path.join(node.root, p.etcdPkiDir)), "0700");
    const after = listing(node.root);
    const changed = [...after.keys()].filter(
      (k) => showListing(new Map([[k, after.get(k)!]])) !== showListing(new Map([[k, before.get(k)!]])),
    );
    const state = "/var/lib/secure-etcd";
    assert.deepEqual(
      changed.sort(),
      [p.manifestDir, p.etcdManifest, p.certs.peer.key, p.etcdPkiDir, state, `${state}/notices`].sort(),
    );
    assert.match(r.stdout, /kubelet restarts the static pod \(new etcd-manifest\)/);
  });

  it("installs with the owner it is given (SECURE_ETCD_OWNER) and accepts the secret's ARN", async () => {
    const node = await newNode("cp-1", bundle(fx, "cp-1"));
    const arn = aws.node(node.secretId).secretArn;
    const r = await run1(node, { secretId: arn, env: { SECURE_ETCD_OWNER: "65534:65534" } });
    assert.equal(r.code, 0, r.stderr);
    const l = listing(node.root);
    for (const f of nodeFiles(fx.settings, fx.settings.members[0], material(fx, "cp-1", fx.keys)).files)
      assert.equal(l.get(f.path)?.owner, "65534:65534", f.path);
    assert.equal(l.get(paths().etcdPkiDir)?.owner, "65534:65534");
    assert.equal(l.get("/var/lib/secure-etcd/installed-version")?.owner, "65534:65534");
  });

  it("reads the current version's id and value in one GetSecretValue call (no mix of two versions), signed with the node role's session", async () => {
    const node = await newNode("cp-1", bundle(fx, "cp-1"));
    const seen: { target?: string; auth: string; token?: string }[] = [];
    aws.proxy.faults.push({
      match: (q) => {
        seen.push({
          target: q.target,
          auth: String(q.headers.authorization ?? ""),
          token: q.headers["x-amz-security-token"] as string | undefined,
        });
        return false;
      },
      action: { kind: "reset" },
    });
    try {
      const r = await run1(node);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      aws.proxy.faults.length = 0;
    }
    const creds = aws.node(node.secretId).credentials;
    assert.deepEqual(
      seen.map((q) => q.target),
      ["secretsmanager.GetSecretValue"],
    );
    for (const q of seen) {
      assert.match(q.auth, new RegExp(`Credential=${creds.accessKeyId}/\\d{8}/${region}/secretsmanager/`));
      assert.equal(q.token, creds.sessionToken);
    }
  });

  describe("day 2", () => {
    it("a renewed leaf (same CA, same key) is replaced in place: only that file, no restart needed", async () => {
      const node = await installed();
      const m = fx.members.get("cp-1")!;
      const renewed = reissueWithExtraIps({
        certPem: m.server.certPem,
        keyPem: m.server.keyPem,
        ca: fx.ca,
        extraIps: [],
      });
      const version = await aws.put(
        node.secretId,
        bundle(fx, "cp-1", { material: { serverCertPem: renewed } }),
      );
      const before = listing(node.root);
      const r = await run1(node);
      assert.equal(r.code, 0, r.stderr);
      const p = paths();
      assert.deepEqual(
        r.lines.filter((l) => / wrote /.test(l)),
        [`secure-etcd-bootstrap: cp-1: wrote server-cert ${p.certs.server.cert} 0644`],
      );
      assert.equal(fs.readFileSync(path.join(node.root, p.certs.server.cert), "utf8"), renewed);
      assert.match(r.stdout, /no restart needed \(etcd re-reads certificates per connection\)/);
      assert.doesNotMatch(r.stdout, /must be restarted/);
      const after = listing(node.root);
      assert.equal(after.get(p.certs.peer.key)?.mtimeNs, before.get(p.certs.peer.key)?.mtimeNs);
      assert.equal(
        fs.readFileSync(path.join(node.root, "var/lib/secure-etcd/installed-version"), "utf8"),
        `${version}\n`,
      );
    });

    it("a new CA is installed and reported: etcd must be restarted", async () => {
      const node = await installed();
      const ca = foreignCa("etcd-ca-2");
      const m = memberPki(ca, "cp-1", "10.0.1.10");
      const apiserver = issueLeaf({ ca, commonName: "kube-apiserver-etcd-client", uses: ["client_auth"] });
      const healthcheck = issueLeaf({
        ca,
        commonName: "kube-etcd-healthcheck-client",
        uses: ["client_auth"],
      });
      const extra = keyLines(m.server.keyPem, m.peer.keyPem, apiserver.keyPem, healthcheck.keyPem);
      await aws.put(
        node.secretId,
        bundle(fx, "cp-1", {
          material: {
            caCertPem: ca.certPem,
            serverCertPem: m.server.certPem,
            serverKeyPem: m.server.keyPem,
            peerCertPem: m.peer.certPem,
            peerKeyPem: m.peer.keyPem,
            apiserverClientCertPem: apiserver.certPem,
            apiserverClientKeyPem: apiserver.keyPem,
            healthcheckClientCertPem: healthcheck.certPem,
            healthcheckClientKeyPem: healthcheck.keyPem,
          },
        }),
      );
      const r = await run1(node, {}, extra);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /etcd must be restarted \(new CA: etcd reads CA files only at start\)/);
      assert.doesNotMatch(r.stdout, /no restart needed/);
      assert.equal(fs.readFileSync(path.join(node.root, paths().caCert), "utf8"), ca.certPem);
    });

    it("a full key rotation in the safe order is installed step by step, each step telling the API servers to restart", async () => {
      const node = await installed();
      const key1 = fx.keys[0];
      const key2 = newKey("key2", "staged");
      const fp = (k: EncryptionKeyMaterial) => createHashHex(`${k.provider}:${k.secretBase64}`);
      const steps: [EncryptionKeyMaterial[], string][] = [
        [[key1, key2], `primary:secretbox:key1:${fp(key1)},staged:secretbox:key2:${fp(key2)}`],
        [
          [
            { ...key2, state: "primary" },
            { ...key1, state: "retired" },
          ],
          `primary:secretbox:key2:${fp(key2)},retired:secretbox:key1:${fp(key1)}`,
        ],
        [
          [
            { ...key2, state: "primary" },
            { ...key1, state: "archived" },
          ],
          `primary:secretbox:key2:${fp(key2)}`,
        ],
        [[{ ...key2, state: "primary" }], `primary:secretbox:key2:${fp(key2)}`],
      ];
      for (const [keys, line] of steps) {
        await aws.put(node.secretId, bundle(fx, "cp-1", { keys }));
        const r = await run1(node, {}, [key2.secretBase64!]);
        assert.equal(r.code, 0, `${line}: ${r.stderr}`);
        const state = fs.readFileSync(path.join(node.root, "var/lib/secure-etcd/installed-keys"), "utf8");
        assert.equal(state, `${line}\n`);
        if (r.lines.some((l) => l.includes("wrote encryption-config")))
          assert.match(
            r.stdout,
            /every kube-apiserver must be restarted \(new EncryptionConfiguration\) unless --encryption-provider-config-automatic-reload is on/,
          );
        assert.doesNotMatch(r.stdout, /etcd must be restarted/);
      }
    });
  });

  describe("refuses a bad bundle with one line, exit 65, writing nothing", () => {
    it("on an empty root, not even the state dir (wrong member, foreign CA)", async () => {
      const node = await newNode("cp-1", bundle(fx, "cp-2"));
      const line = await expectRefusal(aws, fx, node, needles, /the bundle is for another member/);
      assert.ok(!line.includes("cp-2"), "the message quotes nothing from the bundle");
      assert.deepEqual(fs.readdirSync(node.root), []);
      const foreign = issueLeaf({
        ca: foreignCa(),
        commonName: "cp-1",
        uses: ["server_auth", "client_auth"],
      });
      await aws.put(
        node.secretId,
        bundle(fx, "cp-1", { material: { serverCertPem: foreign.certPem, serverKeyPem: foreign.keyPem } }),
      );
      await expectRefusal(
        aws,
        fx,
        node,
        [...needles, ...keyLines(foreign.keyPem)],
        /server-cert does not verify against the bundle's ca-cert for TLS server use \(unable to get local issuer certificate\)/,
      );
      assert.deepEqual(fs.readdirSync(node.root), []);
    });

    const cases: [string, (fx: Fixture) => string, RegExp][] = [
      [
        "a mismatched pair (the peer key of another cert)",
        (f) => bundle(f, "cp-1", { material: { peerKeyPem: f.members.get("cp-2")!.peer.keyPem } }),
        /peer-cert does not match peer-key/,
      ],
      [
        "a foreign CA (apiserver client cert signed by another CA)",
        (f) => {
          const foreign = issueLeaf({
            ca: foreignCa(),
            commonName: "kube-apiserver-etcd-client",
            uses: ["client_auth"],
          });
          return bundle(f, "cp-1", {
            material: { apiserverClientCertPem: foreign.certPem, apiserverClientKeyPem: foreign.keyPem },
          });
        },
        /apiserver-etcd-client-cert does not verify against the bundle's ca-cert/,
      ],
      [
        "an expired leaf",
        (f) => {
          const old = issueLeaf({
            ca: f.ca,
            commonName: "cp-1",
            uses: ["server_auth", "client_auth"],
            expiredHoursAgo: 2,
          });
          return bundle(f, "cp-1", { material: { serverCertPem: old.certPem, serverKeyPem: old.keyPem } });
        },
        /server-cert does not verify against the bundle's ca-cert for TLS server use \(certificate has expired\)/,
      ],
      [
        "a bundle truncated in the middle of a file line",
        (f) => {
          const t = bundle(f, "cp-1");
          return t.slice(0, Math.floor(t.length / 2));
        },
        /the bundle is truncated \(no end line\)/,
      ],
      [
        "a bundle that lost its last lines (end line included)",
        (f) => bundle(f, "cp-1").trimEnd().split("\n").slice(0, -3).join("\n") + "\n",
        /the bundle is truncated \(no end line\)/,
      ],
      [
        "a bundle whose end line no longer matches (a line dropped)",
        (f) => {
          const lines = bundle(f, "cp-1").trimEnd().split("\n");
          return [...lines.slice(0, -3), ...lines.slice(-2)].join("\n") + "\n";
        },
        /the bundle is truncated or edited \(the end line's sha256 does not match\)/,
      ],
      ["a wrong member", (f) => bundle(f, "cp-2"), /the bundle is for another member/],
      [
        "a tampered file (content no longer matches its sha256, bundle re-sealed)",
        (f) =>
          reseal(f, bundle(f, "cp-1"), (lines) =>
            lines.map((l) => {
              if (!l.startsWith("file encryption-config ")) return l;
              const parts = l.split(" ");
              parts[5] = Buffer.from("kind: EncryptionConfiguration\nresources: []\n").toString("base64");
              return parts.join(" ");
            }),
          ),
        /file encryption-config: content does not match its sha256/,
      ],
      [
        "a file path that leaves the root (re-sealed)",
        (f) =>
          reseal(f, bundle(f, "cp-1"), (lines) =>
            lines.map((l) =>
              l.startsWith("file ca-cert ")
                ? l.replace(" /etc/kubernetes/pki/etcd/ca.crt ", " /etc/../../ca.crt ")
                : l,
            ),
          ),
        /file ca-cert: the path must be a declared directory\/ca\.crt/,
      ],
      [
        "a private key shipped 0644 (re-sealed)",
        (f) =>
          reseal(f, bundle(f, "cp-1"), (lines) =>
            lines.map((l) =>
              l.startsWith("file server-key 0600 ")
                ? l.replace("file server-key 0600 ", "file server-key 0644 ")
                : l,
            ),
          ),
        /file server-key: mode must be 0600/,
      ],
      [
        "a secret that is not a bundle",
        () => "hunter2-not-a-bundle\n",
        /the secret is not a secure-etcd-node-bundle 2/,
      ],
      [
        "an edit after sealing (the seal names the old sha256)",
        (f) =>
          editKeepingSeal(bundle(f, "cp-1"), (lines) =>
            lines.map((l) => (l.startsWith("keys ") ? `${l},staged:secretbox:key9` : l)),
          ),
        /the bundle's seal is for another bundle/,
      ],
    ];
    // One installed node for every case: each refusal must leave it exactly as it was.
    let node: Node;
    before(async () => {
      node = await installed();
    });
    for (const [what, make, why] of cases)
      it(what, async () => {
        await aws.put(node.secretId, make(fx));
        await expectRefusal(aws, fx, node, [...needles, "hunter2"], why);
      });
  });

  describe("holds the EncryptionConfiguration back (exit 79) on an unsafe key step, installing the rest and naming the way out", () => {
    const k = newKey;
    const transitions: [string, () => EncryptionKeyMaterial[][], RegExp][] = [
      [
        "a new key made primary without the staged step",
        () => [[k("key2", "primary"), { ...fx.keys[0], state: "retired" }]],
        /unsafe key rotation: the new primary key was never installed here as staged/,
      ],
      [
        "the old primary dropped in the same step that makes the staged key primary",
        () => {
          const key2 = k("key2", "staged");
          return [[fx.keys[0], key2], [{ ...key2, state: "primary" }]];
        },
        /unsafe key rotation: the installed primary key is dropped in the step that replaces it/,
      ],
      [
        "a staged key dropped",
        () => [[fx.keys[0], k("key2", "staged")], [fx.keys[0]]],
        /unsafe key rotation: a key installed as staged would be dropped/,
      ],
      [
        "the same name under another provider (a different key) made primary",
        () => [
          [
            { ...k("key1", "primary"), provider: "aescbc" },
            { ...fx.keys[0], state: "retired" },
          ],
        ],
        /unsafe key rotation: the new primary key was never installed here as staged/,
      ],
    ];
    for (const [what, steps, why] of transitions)
      it(what, async () => {
        const node = await installed();
        const all = steps();
        for (const keys of all.slice(0, -1)) {
          await aws.put(node.secretId, bundle(fx, "cp-1", { keys }));
          assert.equal(
            (
              await run1(
                node,
                {},
                keys.map((x) => x.secretBase64!),
              )
            ).code,
            0,
          );
        }
        const p = paths();
        const enc = path.join(node.root, p.encryptionConfig);
        const state = path.join(node.root, "var/lib/secure-etcd/installed-keys");
        const [encBefore, stateBefore] = [fs.readFileSync(enc, "utf8"), fs.readFileSync(state, "utf8")];
        const last = all[all.length - 1];
        await aws.put(node.secretId, bundle(fx, "cp-1", { keys: last }));
        const r = await run1(
          node,
          {},
          last.map((x) => x.secretBase64!),
        );
        assert.equal(r.code, bootstrapExit.keysHeld, `exit ${r.code}: ${r.stderr}`);
        assert.match(r.stderr, why);
        assert.match(
          r.stderr,
          /the EncryptionConfiguration is held back, the rest is installed; .*SECURE_ETCD_ACCEPT_KEYS=1/,
        );
        assert.equal(fs.readFileSync(enc, "utf8"), encBefore, "the EncryptionConfiguration stayed");
        assert.equal(fs.readFileSync(state, "utf8"), stateBefore, "the installed keys stayed");
      });

    it("allows a rollback to the retired key (it was installed, so every API server can read it)", async () => {
      const node = await installed();
      const key2 = k("key2", "staged");
      const key1 = fx.keys[0];
      for (const keys of [
        [key1, key2],
        [
          { ...key2, state: "primary" as const },
          { ...key1, state: "retired" as const },
        ],
        [key1, { ...key2, state: "retired" as const }],
      ]) {
        await aws.put(node.secretId, bundle(fx, "cp-1", { keys }));
        const r = await run1(node, {}, [key2.secretBase64!]);
        assert.equal(r.code, 0, r.stderr);
      }
      assert.match(
        fs.readFileSync(path.join(node.root, "var/lib/secure-etcd/installed-keys"), "utf8"),
        /^primary:secretbox:key1:[0-9a-f]{64},retired:secretbox:key2:[0-9a-f]{64}\n$/,
      );
    });
  });

  describe("retry later (exit 75) when the secret or the service is not there, writing nothing", () => {
    async function expectRetry(node: Node, why: RegExp, o: BootOptions = {}) {
      const before = listing(node.root);
      const r = await run1(node, o);
      assert.equal(r.code, bootstrapExit.retryLater, `exit ${r.code}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stdout, "");
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, why);
      assert.equal(showListing(listing(node.root)), showListing(before));
      return r;
    }
    const fast = { timeoutSeconds: 2, env: { AWS_MAX_ATTEMPTS: "1", AWS_RETRY_MODE: "standard" } };

    it("the secret does not exist yet (the deployer's credentials: no node role without a secret)", async () => {
      const node = { member: "cp-1", root: tempDir("bootstrap-root-"), secretId: "payments/dev/etcd/none" };
      await expectRetry(
        node,
        /secret payments\/dev\/etcd\/none \(or its current version\) does not exist yet; retry later/,
        { asDeployer: true },
      );
    });

    it("the secret exists without a value (no AWSCURRENT version)", async () => {
      await expectRetry(await newNode(), /does not exist yet; retry later/);
    });

    it("the node's role may not read it (another member's secret): AccessDenied, named", async () => {
      const mine = await newNode("cp-1", bundle(fx, "cp-1"));
      const theirs = await newNode("cp-2", bundle(fx, "cp-2"));
      await expectRetry(mine, /this node's role may not read secret .* \(AccessDenied\); retry later/, {
        secretId: theirs.secretId,
      });
    });

    it("Secrets Manager is down, answers 500, answers too slowly, cuts the answer short; succeeds once it is back", async () => {
      const node = await newNode("cp-1", bundle(fx, "cp-1"));
      const sm = (q: { target?: string }) => q.target === "secretsmanager.GetSecretValue";
      await aws.proxy.down();
      try {
        await expectRetry(
          node,
          /cannot read secret .*Could not connect to the endpoint URL.*; retry later/,
          fast,
        );
      } finally {
        await aws.proxy.up();
      }
      const faults = aws.proxy.faults;
      try {
        faults.push({
          match: sm,
          action: {
            kind: "respond",
            status: 500,
            contentType: "application/x-amz-json-1.1",
            body: JSON.stringify({ __type: "InternalServiceError", message: "injected" }),
          },
        });
        await expectRetry(node, /cannot read secret .*InternalServiceError.*; retry later/, fast);
        faults.length = 0;
        faults.push({ match: sm, action: { kind: "delay", ms: 5000 } });
        await expectRetry(node, /cannot read secret .*(timeout|timed out).*; retry later/i, fast);
        faults.length = 0;
        faults.push({ match: sm, action: { kind: "truncateResponse", bytes: 40 } });
        await expectRetry(node, /cannot read secret .*; retry later/, fast);
      } finally {
        faults.length = 0;
      }
      const r = await run1(node);
      assert.equal(r.code, 0, r.stderr);
    });
  });

  it("a kms cluster: each plugin manifest 0600 before the EncryptionConfiguration, its socket dir 0700; a new one restarts the plugin; a bad kms role is refused", async () => {
    const kms = (name: string, state: EncryptionKeyMaterial["state"]): EncryptionKeyMaterial => ({
      name,
      state,
      provider: "kms",
      endpoint: `unix:///var/run/kmsplugin/${name}.sock`,
    });
    const keys = [kms("kms-a", "primary"), kms("kms-b", "staged")];
    const settings = validateSettings(
      {
        clusterName: fx.settings.clusterName,
        environment: fx.settings.environment,
        etcdVersion: fx.settings.etcdVersion,
        members: fx.settings.members.map((m) => ({ name: m.name, ip: m.ip })),
        encryption: { keys },
      },
      "",
      "test",
    );
    const pluginManifest = (k: string, n = 1) => `kind: Pod\nmetadata: {name: kms-plugin-${k}}\n# ${n}\n`;
    const kmsBundle = (n: number, role?: string) => {
      const text = bundle(fx, "cp-1", {
        settings,
        keys,
        material: {
          kmsPluginManifests: ["kms-a", "kms-b"].map((k) => ({
            key: k,
            manifest: pluginManifest(k, k === "kms-b" ? n : 1),
          })),
        },
      });
      if (!role) return text;
      return reseal(fx, text, (lines) =>
        lines.map((l) => l.replace(/^file kms-plugin-manifest-kms-b /, `file ${role} `)),
      );
    };
    const node = await newNode("cp-1", kmsBundle(1));
    const r = await run1(node);
    assert.equal(r.code, 0, r.stderr);
    for (const k of ["kms-a", "kms-b"]) {
      const at = path.join(node.root, "etc/kubernetes/manifests", `kms-plugin-${k}.yaml`);
      assert.equal(fs.readFileSync(at, "utf8"), pluginManifest(k));
      assert.equal(modeOf(at), "0600");
    }
    assert.equal(modeOf(path.join(node.root, "var/run/kmsplugin")), "0700");
    const wrote = r.lines.filter((l) => / wrote /.test(l)).map((l) => l.split(" ")[3]);
    assert.ok(
      wrote.indexOf("kms-plugin-manifest-kms-b") >= 0 &&
        wrote.indexOf("kms-plugin-manifest-kms-b") < wrote.indexOf("encryption-config"),
      wrote.join(" "),
    );
    await aws.put(node.secretId, kmsBundle(2));
    const again = await run1(node);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /kubelet restarts the KMS plugin of kms-b \(new static pod manifest\)/);
    assert.doesNotMatch(again.stdout, /KMS plugin of kms-a/);
    await aws.put(node.secretId, kmsBundle(3, "kms-plugin-manifest-Bad.Key"));
    await expectRefusal(aws, fx, node, needles, /file role kms-plugin-manifest-Bad\.Key: bad kms key name/);
  });

  it("bad configuration exits 64 with one line, before any AWS call", async () => {
    const node = await newNode();
    const since = aws.proxy.records.length;
    const bad: [Partial<Parameters<typeof runBootstrap>[0]>, Record<string, string>, RegExp][] = [
      [{ region: "" }, {}, /set SECURE_ETCD_REGION/],
      [{ member: "" }, {}, /set SECURE_ETCD_MEMBER/],
      [{ cluster: "" }, {}, /set SECURE_ETCD_CLUSTER/],
      [{ signingKey: "" }, {}, /set SECURE_ETCD_SIGNING_KEY/],
      [{ signingKey: "not base64!" }, {}, /SECURE_ETCD_SIGNING_KEY must be base64/],
      [{ signingKey: "AAAA" }, {}, /SECURE_ETCD_SIGNING_KEY is not a public key/],
      [{ root: path.join(node.root, "missing") }, {}, /SECURE_ETCD_ROOT .*missing\/ is not a directory/],
      [{ stateDir: "var/lib/secure-etcd" }, {}, /SECURE_ETCD_STATE_DIR must be an absolute path/],
      [
        { stateDir: "/../../tmp/elsewhere" },
        {},
        /SECURE_ETCD_STATE_DIR must be an absolute path .*no '\.\.'/,
      ],
      [{}, { SECURE_ETCD_TIMEOUT: "soon" }, /SECURE_ETCD_TIMEOUT must be whole seconds/],
    ];
    for (const [o, env, why] of bad) {
      const r = await runBootstrap({
        secretId: node.secretId,
        region,
        member: "cp-1",
        cluster: fx.settings.clusterName,
        environment: fx.settings.environment,
        signingKey: fx.signing.publicKeyBase64,
        root: node.root,
        endpointUrl: aws.proxy.url,
        shell: "dash",
        ...o,
        env: { ...aws.nodeEnv(node.secretId), ...env },
      });
      assert.equal(r.code, bootstrapExit.usage, `${JSON.stringify(o)}: ${r.stderr}`);
      assert.equal(r.stderr.trimEnd().split("\n").length, 1);
      assert.match(r.stderr, why);
    }
    assert.equal(aws.proxy.records.length, since);
    assert.deepEqual(fs.readdirSync(node.root), []);
  });

  // scripts/setup.sh installs Debian's awscli; the reason shows in the title when it is not there.
  const debianAws = fs.existsSync("/usr/bin/aws");
  it(`works with the first aws on PATH and with Debian's AWS CLI v2 (/usr/bin/aws)${debianAws ? "" : " (skipped: /usr/bin/aws not installed; Debian package awscli)"}`, async function () {
    if (!debianAws) this.skip();
    const clis: [string, Record<string, string>][] = [
      ["PATH as is", {}],
      ["PATH=/usr/bin:$PATH", { PATH: `/usr/bin:${process.env.PATH}` }],
    ];
    for (const [what, env] of clis) {
      const agents = new Set<string>();
      aws.proxy.faults.push({
        match: (q) => {
          agents.add(String(q.headers["user-agent"]).split(" ")[0]);
          return false;
        },
        action: { kind: "reset" },
      });
      try {
        const node = await newNode("cp-1", bundle(fx, "cp-1"));
        const version = (await aws.current(node.secretId)).versionId;
        const r = await run1(node, { env });
        assert.equal(r.code, 0, `${what}: ${r.stderr}`);
        assert.match(r.stdout, new RegExp(`version ${version} installed \\(11 files written\\)`));
        const again = await run1(node, { env });
        assert.match(again.stdout, /already installed, nothing changed/, what);
      } finally {
        aws.proxy.faults.length = 0;
      }
      assert.equal(agents.size, 1, `${what}: ${[...agents].join(", ")}`);
      const [agent] = agents;
      console.log(`      ${what}: ${agent}`);
      // The CLI that sent the requests is the one `aws --version` names on that PATH.
      const v = await run("aws", ["--version"], { env: { ...process.env, ...env } });
      assert.equal(agent, v.output.split(" ")[0], what);
      if (env.PATH) assert.match(agent, /^aws-cli\/2\./);
    }
  });
});

/** A key's fingerprint as the node records it: sha256 of `<provider>:<secret>`. */
function createHashHex(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}

// ---------------------------------------------------------------------------------------------
// A real etcd cluster from the files the bootstrap installed, then a renewal without a restart

/** etcd's arguments from the installed static pod manifest, with node paths under the root. */
function etcdArgsFromRoot(root: string, manifest: string, ip: string): string[] {
  const pod = parse(fs.readFileSync(path.join(root, manifest), "utf8")) as {
    spec: { containers: { command: string[] }[] };
  };
  return pod.spec.containers[0].command.slice(1).map((a) => {
    const [k, v] = [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)];
    // One host: every member cannot bind 127.0.0.1:2379/2381; serve on the member's own address.
    if (k === "--listen-client-urls") {
      const own = v.split(",").filter((u) => u !== "https://127.0.0.1:2379");
      assert.deepEqual(own, [`https://${ip}:2379`]);
      return `${k}=${own.join(",")}`;
    }
    if (k === "--listen-metrics-urls") return `${k}=http://${ip}:2381`;
    return v.startsWith("/") ? `${k}=${path.join(root, v)}` : a;
  });
}

function serialServed(o: { host: string; ca: string; cert: string; key: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect(
      { host: o.host, port: 2379, ca: o.ca, cert: o.cert, key: o.key, timeout: 5000 },
      () => {
        const serial = s.getPeerCertificate().serialNumber;
        s.end();
        resolve(serial);
      },
    );
    s.on("error", reject);
    s.on("timeout", () => s.destroy(new Error("TLS handshake timed out")));
  });
}

describe("node bootstrap → a real etcd cluster, renewal without a restart @integration", function () {
  this.timeout(240_000);
  let aws: NodeSecretsOnMoto;
  let fx: Fixture;
  const procs: ManagedProcess[] = [];
  const nodes: (Node & { ip: string })[] = [];
  // The bundle's manifest runs the version it was rendered for (3.4.23: Debian's etcd, on PATH).
  const etcd = findBinary("etcd");
  const etcdctlBin = findBinary("etcdctl");

  before(async function () {
    if (!etcd || !etcdctlBin)
      throw new Error("etcd/etcdctl not installed (apt-get install etcd-server etcd-client)");
    aws = await startNodeSecretsOnMoto({ workDir: tempDir("moto-"), region });
    const ips: string[] = [];
    for (let i = 0; i < 3; i++) ips.push(await freeLoopbackAddress([2379, 2380, 2381], ips));
    fx = makeFixture(ips.map((ip, i) => ({ name: `cp-${i + 1}`, ip })));
  });
  after(async () => {
    for (const p of procs) await p.stop();
    await aws?.stop();
  });

  const etcdctl = (node: Node & { ip: string }, args: string[]) => {
    const p = nodePaths(fx.settings);
    const r = (f: string) => path.join(node.root, f);
    return run(
      etcdctlBin!,
      [
        `--endpoints=https://${node.ip}:2379`,
        `--cacert=${r(p.caCert)}`,
        `--cert=${r(p.certs["apiserver-etcd-client"].cert)}`,
        `--key=${r(p.certs["apiserver-etcd-client"].key)}`,
        "--dial-timeout=3s",
        "--command-timeout=5s",
        ...args,
      ],
      { env: cleanEnv({ ETCDCTL_API: "3" }) },
    );
  };

  it("installs three members through the bootstrap and starts the cluster from the installed files", async () => {
    const needles = secretNeedles(fx);
    for (const m of fx.settings.members) {
      const root = tempDir(`bootstrap-live-${m.name}-`);
      const node = { member: m.name, root, secretId: `payments/dev/etcd/${m.name}`, ip: m.ip };
      await aws.addNode(m.name, node.secretId, bundle(fx, m.name));
      const r = await boot(aws, fx, node, needles);
      assert.equal(r.code, 0, r.stderr);
      nodes.push(node);
    }
    const p = nodePaths(fx.settings);
    for (const node of nodes) {
      const args = etcdArgsFromRoot(node.root, p.etcdManifest, node.ip);
      for (const a of args.filter((x) =>
        /^--(cert|key|peer-cert|peer-key|trusted-ca|peer-trusted-ca)-file=/.test(x),
      ))
        assert.ok(a.includes(node.root), `${a} does not point into the installed root`);
      procs.push(spawnManaged(node.member, etcd!, args, path.join(node.root, "etcd.log")));
    }
    const deadline = Date.now() + 90_000;
    for (const node of nodes)
      for (;;) {
        const h = await etcdctl(node, ["endpoint", "health"]);
        if (h.code === 0) break;
        if (Date.now() > deadline || procs.some((x) => x.exitStatus !== undefined))
          throw new Error(
            `${node.member} not healthy: ${h.output}\n${tailFile(path.join(node.root, "etcd.log"))}`,
          );
        await sleep(300);
      }
    const put = await etcdctl(nodes[0], ["put", "/bootstrap/probe", "from-installed-files"]);
    assert.equal(put.code, 0, put.output);
    const get = await etcdctl(nodes[2], ["get", "/bootstrap/probe", "--print-value-only"]);
    assert.equal(get.stdout.trim(), "from-installed-files");
  });

  it("a renewed server cert, published as a new version and installed by the bootstrap, is served by the live member without a restart", async () => {
    assert.equal(nodes.length, 3, "the cluster did not start");
    const node = nodes[0];
    const proc = procs[0];
    const p = nodePaths(fx.settings);
    const r = (f: string) => path.join(node.root, f);
    const probe = () =>
      serialServed({
        host: node.ip,
        ca: fs.readFileSync(r(p.caCert), "utf8"),
        cert: fs.readFileSync(r(p.certs["healthcheck-client"].cert), "utf8"),
        key: fs.readFileSync(r(p.certs["healthcheck-client"].key), "utf8"),
      });
    const m = fx.members.get(node.member)!;
    const oldSerial = new X509Certificate(m.server.certPem).serialNumber;
    assert.equal(await probe(), oldSerial);

    const renewed = reissueWithExtraIps({
      certPem: m.server.certPem,
      keyPem: m.server.keyPem,
      ca: fx.ca,
      extraIps: [],
    });
    const newSerial = new X509Certificate(renewed).serialNumber;
    assert.notEqual(newSerial, oldSerial);
    const version = await aws.put(
      node.secretId,
      bundle(fx, node.member, { material: { serverCertPem: renewed } }),
    );
    const run1 = await boot(aws, fx, node, secretNeedles(fx));
    assert.equal(run1.code, 0, run1.stderr);
    assert.match(run1.stdout, new RegExp(`version ${version} installed \\(1 files written\\)`));
    assert.match(run1.stdout, /no restart needed/);

    assert.equal(await probe(), newSerial, "the live member still serves the old cert");
    assert.equal(proc.exitStatus, undefined, "etcd exited");
    assert.ok(pidAlive(proc.pid), `etcd pid ${proc.pid} is gone`);
    const health = await etcdctl(node, ["endpoint", "health"]);
    assert.equal(health.code, 0, health.output);

    const run2 = await boot(aws, fx, node, secretNeedles(fx));
    assert.match(run2.stdout, /already installed, nothing changed/);
  });
});
