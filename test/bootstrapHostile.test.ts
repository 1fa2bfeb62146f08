import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { EncryptionKeyMaterial } from "../components/encryption/render";
import { nodePaths } from "../components/manifests";
import { validateSettings } from "../components/config";
import { startNodeSecretsOnMoto, type NodeSecretsOnMoto } from "../harness/motoNodeSecrets";
import { issueLeaf, reissueWithExtraIps, foreignCa } from "../harness/oneHostPki";
import { bootstrapExit, runBootstrap } from "../tools/bootstrap";
import {
  boot,
  bundle,
  expectRefusal,
  keyLines,
  listing,
  makeFixture,
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
import { sealWith } from "../harness/bundleSealing";

/*
 * Issue 19's classes at the node bootstrap, each with bundles sealed by the stack's own key (so only the
 * node's own checks stand between them and the disk): writes outside the node root, bundles that cannot
 * work, false assurance about encryption keys, half-done state, and a node stuck after missed rotation
 * steps. The AWS side is moto with each node's own role, as in bootstrap.test.ts.
 */

after(removeTempDirs);

describe("node bootstrap against hostile and unlucky input (issue 19) @integration", function () {
  this.timeout(240_000);
  let aws: NodeSecretsOnMoto;
  let fx: Fixture;
  let needles: string[];
  const p = () => nodePaths(fx.settings);

  async function newNode(
    member = "cp-1",
    value?: string,
    root = tempDir(`hostile-${member}-`),
  ): Promise<Node> {
    const node = { member, root, secretId: `payments/dev/etcd/${member}-${randomBytes(3).toString("hex")}` };
    await aws.addNode(member, node.secretId, value);
    return node;
  }
  async function installed(member = "cp-1", o: { keys?: EncryptionKeyMaterial[] } = {}): Promise<Node> {
    const node = await newNode(member, bundle(fx, member, o));
    const r = await boot(aws, fx, node, needles);
    assert.equal(r.code, 0, r.stderr);
    return node;
  }
  const run1 = (node: Node, o?: BootOptions, extra: string[] = []) =>
    boot(aws, fx, node, [...needles, ...extra], o);
  const renewedServerCert = () => {
    const m = fx.members.get("cp-1")!;
    return reissueWithExtraIps({
      certPem: m.server.certPem,
      keyPem: m.server.keyPem,
      ca: fx.ca,
      extraIps: [],
    });
  };

  before(async () => {
    aws = await startNodeSecretsOnMoto({ workDir: tempDir("moto-") });
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

  describe("writes outside the node root: one confinement routine for every path written", () => {
    it("a directory under the root that is a symlink out of it: refused, nothing written or chmod-ed outside", async () => {
      const node = await installed();
      const outside = tempDir("outside-");
      fs.chmodSync(outside, 0o755);
      const pki = path.join(node.root, p().etcdPkiDir);
      fs.rmSync(pki, { recursive: true });
      fs.symlinkSync(outside, pki);
      await aws.put(node.secretId, bundle(fx, "cp-1", { material: { serverCertPem: renewedServerCert() } }));
      await expectRefusal(
        aws,
        fx,
        node,
        needles,
        /a bundle directory leads outside the node root \(a symbolic link\)/,
      );
      assert.deepEqual(fs.readdirSync(outside), [], "nothing written outside the root");
      assert.equal(modeOf(outside), "0755", "no chmod outside the root");
    });

    it("a parent of every bundle directory that is a symlink out of the root, on a first install", async () => {
      const root = tempDir("hostile-root-");
      const outside = tempDir("outside-");
      fs.symlinkSync(outside, path.join(root, "etc"));
      const node = await newNode("cp-1", bundle(fx, "cp-1"), root);
      await expectRefusal(aws, fx, node, needles, /leads outside the node root \(a symbolic link\)/);
      assert.deepEqual(fs.readdirSync(outside), []);
    });

    it("a file that is a symlink (the server key pointing out of the root): refused, its target untouched", async () => {
      const node = await installed();
      const target = path.join(tempDir("outside-"), "victim");
      fs.writeFileSync(target, "not a key\n", { mode: 0o644 });
      const key = path.join(node.root, p().certs.server.key);
      fs.rmSync(key);
      fs.symlinkSync(target, key);
      await aws.put(node.secretId, bundle(fx, "cp-1", { material: { serverCertPem: renewedServerCert() } }));
      await expectRefusal(aws, fx, node, needles, /file server-key is a symbolic link/);
      assert.equal(fs.readFileSync(target, "utf8"), "not a key\n");
      assert.equal(modeOf(target), "0644");
    });

    it("the state directory: outside the root by its setting (exit 64) or by a symlink (refused), nothing written", async () => {
      const node = await newNode("cp-1", bundle(fx, "cp-1"));
      const bad = await run1(node, { options: { stateDir: "/../../outside-state" } });
      assert.equal(bad.code, bootstrapExit.usage, bad.stderr);
      assert.match(bad.stderr, /SECURE_ETCD_STATE_DIR must be an absolute path .*no '\.\.'/);
      const outside = tempDir("outside-");
      fs.mkdirSync(path.join(node.root, "var/lib"), { recursive: true });
      fs.symlinkSync(outside, path.join(node.root, "var/lib/secure-etcd"));
      await expectRefusal(aws, fx, node, needles, /the state directory leads outside the node root/);
      assert.deepEqual(fs.readdirSync(outside), []);
    });

    it("a symlink that stays inside the root is followed (a data dir on another volume of the node)", async () => {
      const root = tempDir("hostile-root-");
      fs.mkdirSync(path.join(root, "data/etcd"), { recursive: true });
      fs.mkdirSync(path.join(root, "var/lib"), { recursive: true });
      fs.symlinkSync(path.join(root, "data/etcd"), path.join(root, "var/lib/etcd"));
      const node = await newNode("cp-1", bundle(fx, "cp-1"), root);
      const r = await run1(node);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(modeOf(path.join(root, "data/etcd")), "0700");
    });
  });

  describe("bundles that cannot work, sealed by the stack's own key: refused, nothing written, no bundle data quoted", () => {
    const cp2 = () => fx.members.get("cp-2")!;
    const cases: [string, () => string, RegExp][] = [
      [
        "another member's server pair",
        () =>
          bundle(fx, "cp-1", {
            material: { serverCertPem: cp2().server.certPem, serverKeyPem: cp2().server.keyPem },
          }),
        /server-cert is not issued to this member \(its CN differs\)/,
      ],
      [
        "another member's peer pair",
        () =>
          bundle(fx, "cp-1", {
            material: { peerCertPem: cp2().peer.certPem, peerKeyPem: cp2().peer.keyPem },
          }),
        /peer-cert is not issued to this member/,
      ],
      [
        "a client-only cert as the server cert",
        () => {
          const c = issueLeaf({ ca: fx.ca, commonName: "cp-1", uses: ["client_auth"] });
          return bundle(fx, "cp-1", { material: { serverCertPem: c.certPem, serverKeyPem: c.keyPem } });
        },
        /server-cert does not verify against the bundle's ca-cert for TLS server use \((unsuitable|unsupported) certificate purpose\)/,
      ],
      [
        "a server-only cert as the peer cert (etcd dials peers with it too)",
        () => {
          const c = issueLeaf({ ca: fx.ca, commonName: "cp-1", uses: ["server_auth"] });
          return bundle(fx, "cp-1", { material: { peerCertPem: c.certPem, peerKeyPem: c.keyPem } });
        },
        /peer-cert is not a TLS client certificate \(extended key usage\)/,
      ],
      [
        "the CA's own key as the server key (with the CA cert as the server cert)",
        () => bundle(fx, "cp-1", { material: { serverCertPem: fx.ca.certPem, serverKeyPem: fx.ca.keyPem } }),
        /server-key is the CA's own key/,
      ],
      [
        "a CA certificate as a client cert",
        () => {
          const sub = foreignCa("kube-apiserver-etcd-client");
          return bundle(fx, "cp-1", {
            material: { apiserverClientCertPem: sub.certPem, apiserverClientKeyPem: sub.keyPem },
          });
        },
        /apiserver-etcd-client-cert is a CA certificate/,
      ],
      [
        "another cluster's content",
        () => bundle(fx, "cp-1", { settings: otherSettings({ clusterName: "billing" }) }),
        /the bundle is for another cluster/,
      ],
      [
        "another environment's content",
        () => bundle(fx, "cp-1", { settings: otherSettings({ environment: "prod" }) }),
        /the bundle is for another environment/,
      ],
      [
        "a member line with a terminal escape (another member's bundle)",
        () =>
          reseal(fx, bundle(fx, "cp-1"), (lines) =>
            lines.map((l) => (l === "member cp-1" ? "member cp-1\x1b[2K\rsecure-etcd-bootstrap:" : l)),
          ),
        /the bundle is for another member/,
      ],
      [
        "a file at a path its role does not have (the manifest as the CA cert)",
        () =>
          reseal(fx, bundle(fx, "cp-1"), (lines) =>
            lines.map((l) =>
              l.startsWith("file etcd-manifest ")
                ? l.replace(" /etc/kubernetes/manifests/etcd.yaml ", " /etc/kubernetes/pki/etcd/ca.crt ")
                : l,
            ),
          ),
        /file etcd-manifest: the path must be a declared directory\/etcd\.yaml/,
      ],
      [
        "a file in a directory the bundle does not declare",
        () =>
          reseal(fx, bundle(fx, "cp-1"), (lines) =>
            lines.map((l) =>
              l.startsWith("file etcd-manifest ")
                ? l.replace(" /etc/kubernetes/manifests/etcd.yaml ", " /etc/cron.d/etcd.yaml ")
                : l,
            ),
          ),
        /file etcd-manifest: its directory is not declared in the bundle/,
      ],
      [
        "a top-level directory (chmod 0700 /etc would lock the node)",
        () =>
          reseal(fx, bundle(fx, "cp-1"), (lines) =>
            lines.map((l) => (l === "dir 0755 /etc/kubernetes/manifests" ? "dir 0700 /etc" : l)),
          ),
        /a dir line has an unsafe or top-level path/,
      ],
      [
        "a file of a role the node does not know",
        () =>
          reseal(fx, bundle(fx, "cp-1"), (lines) => [
            ...lines,
            `file sudoers 0600 ${"0".repeat(64)} /etc/kubernetes/pki/sudoers ${Buffer.from("x").toString("base64")}`,
          ]),
        /the bundle has a file of an unknown role/,
      ],
      [
        "nothing at all (an empty bundle, sealed)",
        () =>
          sealWith(
            "secure-etcd-node-bundle 2\ncluster payments\nenvironment dev\nmember cp-1\nkeys primary:secretbox:key1\n",
            fx.signing,
          ),
        /the bundle has no ca-cert/,
      ],
      [
        "no static pod manifest",
        () =>
          reseal(fx, bundle(fx, "cp-1"), (lines) =>
            lines.filter((l) => !l.startsWith("file etcd-manifest ")),
          ),
        /the bundle has no etcd-manifest/,
      ],
    ];
    let node: Node;
    before(async () => {
      node = await installed();
    });
    for (const [what, make, why] of cases)
      it(what, async () => {
        await aws.put(node.secretId, make());
        const line = await expectRefusal(aws, fx, node, [...needles, ...keyLines(fx.ca.keyPem)], why);
        assert.ok(
          ![...line].some((c) => c < " " || c === "\x7f"),
          "no control character from the bundle in the message",
        );
        assert.doesNotMatch(
          line,
          /billing|\/etc\/cron\.d|sudoers/,
          "no value read from the bundle in the message",
        );
      });

    function otherSettings(o: { clusterName?: string; environment?: string }) {
      return validateSettings(
        {
          clusterName: o.clusterName ?? "payments",
          environment: o.environment ?? "dev",
          etcdVersion: "3.4.23",
          members: fx.settings.members.map((m) => ({ name: m.name, ip: m.ip })),
        },
        "",
        "test",
      );
    }
  });

  describe("false assurance about encryption keys", () => {
    it("a bundle carrying the installed key's name with new secret bytes is not installed: keys are known by fingerprint", async () => {
      const node = await installed();
      const enc = path.join(node.root, p().encryptionConfig);
      const before = fs.readFileSync(enc, "utf8");
      const impostor = newKey("key1", "primary"); // same name, other bytes
      await aws.put(node.secretId, bundle(fx, "cp-1", { keys: [impostor] }));
      const r = await run1(node, {}, [impostor.secretBase64!]);
      assert.equal(r.code, bootstrapExit.keysHeld, r.stderr);
      assert.match(
        r.stderr,
        /a key has an installed key's name but other key material \(a new key needs a new name\)/,
      );
      assert.equal(
        fs.readFileSync(enc, "utf8"),
        before,
        "the EncryptionConfiguration with the old bytes stays",
      );
    });

    const disagreeing: [string, (keys: string) => string][] = [
      [
        "names a primary the EncryptionConfiguration does not have first",
        () => "primary:secretbox:key0,staged:secretbox:key1",
      ],
      ["leaves out a key the EncryptionConfiguration holds", () => "primary:secretbox:key1"],
      [
        "calls a key archived that the EncryptionConfiguration still holds",
        (k) => k.replace("staged:", "archived:"),
      ],
      ["names a key under another provider", (k) => k.replace("staged:secretbox:", "staged:aescbc:")],
    ];
    for (const [what, edit] of disagreeing)
      it(`a keys line that ${what} is refused`, async () => {
        const node = await installed();
        const keys = [fx.keys[0], newKey("key2", "staged")];
        const text = reseal(fx, bundle(fx, "cp-1", { keys }), (lines) =>
          lines.map((l) => (l.startsWith("keys ") ? `keys ${edit(l.slice(5))}` : l)),
        );
        await aws.put(node.secretId, text);
        await expectRefusal(
          aws,
          fx,
          node,
          [...needles, keys[1].secretBase64!],
          /the keys line does not match the EncryptionConfiguration the bundle ships/,
        );
      });
  });

  describe("half-done state: every install staged and swapped", () => {
    /** A bundle with a new CA and every pair re-issued under it: a change that must land whole. */
    function newCaBundle(): { text: string; extra: string[]; caCertPem: string } {
      const ca = foreignCa("etcd-ca-2");
      const m = memberPki(ca, "cp-1", "10.0.1.10");
      const apiserver = issueLeaf({ ca, commonName: "kube-apiserver-etcd-client", uses: ["client_auth"] });
      const healthcheck = issueLeaf({
        ca,
        commonName: "kube-etcd-healthcheck-client",
        uses: ["client_auth"],
      });
      return {
        text: bundle(fx, "cp-1", {
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
        extra: keyLines(m.server.keyPem, m.peer.keyPem, apiserver.keyPem, healthcheck.keyPem),
        caCertPem: ca.certPem,
      };
    }

    const canMount = (() => {
      try {
        const d = fs.mkdtempSync("/tmp/mount-probe-");
        execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", d], { stdio: "ignore" });
        execFileSync("umount", [d], { stdio: "ignore" });
        fs.rmdirSync(d);
        return true;
      } catch {
        return false;
      }
    })();
    it(`a full disk midway through a new CA: exit 74, every old file whole; once there is room the install lands with its restart notice${canMount ? "" : " (skipped: cannot mount a tmpfs here; needs root with CAP_SYS_ADMIN)"}`, async function () {
      if (!canMount) this.skip();
      const root = tempDir("hostile-tmpfs-");
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=160k,mode=0755", "tmpfs", root]);
      try {
        const node = await newNode("cp-1", bundle(fx, "cp-1"), root);
        assert.equal((await run1(node)).code, 0);
        // Leave room for a few files, not for all eleven.
        const free = () => {
          const out = execFileSync("df", ["-B1", "--output=avail", root], { encoding: "utf8" });
          return Number(out.trim().split("\n")[1]);
        };
        fs.writeFileSync(path.join(root, "filler"), Buffer.alloc(Math.max(0, free() - 12 * 1024)));
        const before = listing(root);
        const next = newCaBundle();
        await aws.put(node.secretId, next.text);
        const r = await run1(node, {}, next.extra);
        assert.equal(r.code, bootstrapExit.cannotWrite, `exit ${r.code}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, /could not write \S+ \(disk full or read-only\?\); nothing changed/);
        // Every file as it was, no staged file left (a directory's mtime shows a staged file came and went).
        const files = (l: ReturnType<typeof listing>) =>
          showListing(new Map([...l].map(([k, e]) => [k, e.type === "dir" ? { ...e, mtimeNs: 0n } : e])));
        assert.equal(files(listing(root)), files(before), "every old file whole, no staged file left");
        fs.rmSync(path.join(root, "filler"));
        const again = await run1(node, {}, next.extra);
        assert.equal(again.code, 0, again.stderr);
        assert.match(again.stdout, /etcd must be restarted \(new CA: etcd reads CA files only at start\)/);
        assert.equal(fs.readFileSync(path.join(root, p().caCert), "utf8"), next.caCertPem);
      } finally {
        execFileSync("umount", [root]);
      }
    });

    it("a crash midway through the swap: the next run completes it from the journal (even with Secrets Manager down) and repeats the restart notice", async () => {
      const node = await installed();
      const next = newCaBundle();
      await aws.put(node.secretId, next.text);
      // An mv that kills the bootstrap at its third rename of a bundle file (after the journal is committed).
      const shim = tempDir("mv-shim-");
      const count = path.join(shim, "count");
      fs.writeFileSync(
        path.join(shim, "mv"),
        [
          "#!/bin/sh",
          'case "$3" in */swap) exec /bin/mv "$@" ;; esac',
          `n=$(($(cat ${count} 2>/dev/null || echo 0) + 1)); echo $n >${count}`,
          'if [ "$n" -eq 3 ]; then kill -9 "$PPID"; sleep 5; fi',
          'exec /bin/mv "$@"',
          "",
        ].join("\n"),
        { mode: 0o755 },
      );
      const tmp = tempDir("crash-tmp-");
      const crashed = await runBootstrap({
        secretId: node.secretId,
        region: aws.region,
        member: "cp-1",
        cluster: fx.settings.clusterName,
        environment: fx.settings.environment,
        signingKey: fx.signing.publicKeyBase64,
        endpointUrl: aws.proxy.url,
        root: node.root,
        shell: "dash",
        env: { ...aws.nodeEnv(node.secretId), TMPDIR: tmp, PATH: `${shim}:${process.env.PATH}` },
      });
      assert.notEqual(crashed.code, 0, "the bootstrap was killed");
      const state = path.join(node.root, "var/lib/secure-etcd");
      assert.ok(fs.existsSync(path.join(state, "swap")), "the journal was committed before the crash");
      await aws.proxy.down();
      let r;
      try {
        r = await run1(node, { timeoutSeconds: 2, env: { AWS_MAX_ATTEMPTS: "1" } }, next.extra);
      } finally {
        await aws.proxy.up();
      }
      assert.equal(r.code, bootstrapExit.retryLater, r.stderr);
      assert.match(r.stdout, /completed an install that was interrupted/);
      assert.match(r.stdout, /etcd must be restarted \(new CA: etcd reads CA files only at start\)/);
      assert.ok(!fs.existsSync(path.join(state, "swap")));
      assert.equal(fs.readFileSync(path.join(node.root, p().caCert), "utf8"), next.caCertPem);
      const after = await run1(node, {}, next.extra);
      assert.equal(after.code, 0, after.stderr);
      assert.match(after.stdout, /already installed, nothing changed/);
    });

    it("a TERM midway (systemd's TimeoutStartSec): exit 75 'interrupted', never an undocumented code; the next run completes the install", async () => {
      const node = await installed();
      const next = newCaBundle();
      await aws.put(node.secretId, next.text);
      const shim = tempDir("mv-shim-");
      fs.writeFileSync(
        path.join(shim, "mv"),
        ["#!/bin/sh", 'case "$3" in */swap) ;; *) kill -TERM "$PPID" ;; esac', 'exec /bin/mv "$@"', ""].join(
          "\n",
        ),
        { mode: 0o755 },
      );
      // Run directly: the journal keeps the staged files for the next run, which boot() would call leftovers.
      const r = await runBootstrap({
        secretId: node.secretId,
        region: aws.region,
        member: "cp-1",
        cluster: fx.settings.clusterName,
        environment: fx.settings.environment,
        signingKey: fx.signing.publicKeyBase64,
        endpointUrl: aws.proxy.url,
        root: node.root,
        shell: "dash",
        env: {
          ...aws.nodeEnv(node.secretId),
          TMPDIR: tempDir("term-tmp-"),
          PATH: `${shim}:${process.env.PATH}`,
        },
      });
      assert.equal(r.code, bootstrapExit.retryLater, `exit ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, /interrupted; the next run completes or redoes the install/);
      const again = await run1(node, {}, next.extra);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /completed an install that was interrupted/);
      assert.match(again.stdout, /etcd must be restarted/);
      assert.equal(fs.readFileSync(path.join(node.root, p().caCert), "utf8"), next.caCertPem);
    });
  });

  it("stuck day 2: a node off through a whole key rotation keeps renewing its certs (exit 79, the EncryptionConfiguration held) until SECURE_ETCD_ACCEPT_KEYS=1 takes the cluster's keys", async () => {
    const node = await installed();
    const enc = path.join(node.root, p().encryptionConfig);
    const held = fs.readFileSync(enc, "utf8");
    // While the node was off: key2 staged, made primary, key1 retired, then archived.
    const key2 = { ...newKey("key2", "primary") };
    const keys = [key2, { ...fx.keys[0], state: "archived" as const }];
    const extra = [key2.secretBase64!];
    const cert1 = renewedServerCert();
    await aws.put(node.secretId, bundle(fx, "cp-1", { keys, material: { serverCertPem: cert1 } }));
    const r1 = await run1(node, {}, extra);
    assert.equal(r1.code, bootstrapExit.keysHeld, r1.stderr);
    assert.match(
      r1.stderr,
      /this node missed encryption key rotation steps while it was away \(its primary key is archived\)/,
    );
    assert.match(r1.stderr, /run this once with SECURE_ETCD_ACCEPT_KEYS=1/);
    assert.match(r1.stdout, /wrote server-cert/);
    assert.equal(fs.readFileSync(path.join(node.root, p().certs.server.cert), "utf8"), cert1);
    assert.equal(fs.readFileSync(enc, "utf8"), held);
    // The next renewal still lands.
    const cert2 = renewedServerCert();
    await aws.put(node.secretId, bundle(fx, "cp-1", { keys, material: { serverCertPem: cert2 } }));
    const r2 = await run1(node, {}, extra);
    assert.equal(r2.code, bootstrapExit.keysHeld, r2.stderr);
    assert.equal(fs.readFileSync(path.join(node.root, p().certs.server.cert), "utf8"), cert2);
    // The documented way out.
    const r3 = await run1(node, { acceptKeys: true }, extra);
    assert.equal(r3.code, 0, r3.stderr);
    assert.match(r3.stdout, /taking the bundle's encryption keys as asked \(SECURE_ETCD_ACCEPT_KEYS=1\)/);
    assert.match(r3.stdout, /wrote encryption-config/);
    assert.notEqual(fs.readFileSync(enc, "utf8"), held);
    const r4 = await run1(node, {}, extra);
    assert.equal(r4.code, 0, r4.stderr);
    assert.match(r4.stdout, /nothing changed/);
  });
});
