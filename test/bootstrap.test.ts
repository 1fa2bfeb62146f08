import { strict as assert } from "node:assert";
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { parse } from "yaml";
import { validateSettings, type SecureEtcdSettings } from "../components/config";
import {
  orderKeys,
  renderEncryptionConfiguration,
  type EncryptionKeyMaterial,
} from "../components/encryption/render";
import { nodeFiles, nodePaths, type NodeMaterial } from "../components/manifests";
import { renderNodeBundle } from "../components/secretStore/bundle";
import { startLocalSecretsManager, type LocalSecretsManager } from "../harness/localSecretsManager";
import {
  foreignCa,
  issueLeaf,
  reissueWithExtraIps,
  type CaPair,
  type IssuedPair,
} from "../harness/oneHostPki";
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
import { bootstrapExit, bootstrapScriptPath, runBootstrap, type BootstrapResult } from "../tools/bootstrap";
import { run } from "../tools/shared/process";

/*
 * The node bootstrap script, run with the real AWS CLI against a loopback Secrets Manager, into a
 * scratch root per member. Bundles are built the way the component builds them
 * (renderNodeBundle(nodeFiles(...))) from real certs and keys.
 */

const sha256 = (b: string | Buffer) => createHash("sha256").update(b).digest("hex");
const region = "eu-west-1";

// ---------------------------------------------------------------------------------------------
// Fixture: a cluster's PKI and keys, and bundles made from them

interface MemberPki {
  name: string;
  ip: string;
  server: IssuedPair;
  peer: IssuedPair;
}

interface Fixture {
  settings: SecureEtcdSettings;
  ca: CaPair;
  members: Map<string, MemberPki>;
  apiserver: IssuedPair;
  healthcheck: IssuedPair;
  keys: EncryptionKeyMaterial[];
}

const newKey = (name: string, state: EncryptionKeyMaterial["state"]): EncryptionKeyMaterial => ({
  name,
  state,
  provider: "secretbox",
  secretBase64: randomBytes(32).toString("base64"),
});

function memberPki(ca: CaPair, name: string, ip: string): MemberPki {
  return {
    name,
    ip,
    server: issueLeaf({
      ca,
      commonName: name,
      uses: ["server_auth", "client_auth"],
      dnsNames: [name, "localhost"],
      ipAddresses: [ip, "127.0.0.1"],
    }),
    // 127.0.0.1 too: on one host every peer connects from it, and etcd checks the source against the SANs.
    peer: issueLeaf({
      ca,
      commonName: name,
      uses: ["server_auth", "client_auth"],
      dnsNames: [name],
      ipAddresses: [ip, "127.0.0.1"],
    }),
  };
}

function makeFixture(members: { name: string; ip: string }[]): Fixture {
  const ca = foreignCa("etcd-ca");
  const settings = validateSettings(
    { clusterName: "payments", environment: "dev", etcdVersion: "3.4.23", members },
    "",
    "test",
  );
  return {
    settings,
    ca,
    members: new Map(members.map((m) => [m.name, memberPki(ca, m.name, m.ip)])),
    apiserver: issueLeaf({ ca, commonName: "kube-apiserver-etcd-client", uses: ["client_auth"] }),
    healthcheck: issueLeaf({ ca, commonName: "kube-etcd-healthcheck-client", uses: ["client_auth"] }),
    keys: [newKey("key1", "primary")],
  };
}

interface BundleOptions {
  /** Overrides of the node material (e.g. a foreign server cert). */
  material?: Partial<NodeMaterial>;
  /** The `member` line says this instead. */
  memberLine?: string;
  keys?: EncryptionKeyMaterial[];
}

function material(fx: Fixture, member: string, keys: EncryptionKeyMaterial[]): NodeMaterial {
  const m = fx.members.get(member)!;
  return {
    caCertPem: fx.ca.certPem,
    serverCertPem: m.server.certPem,
    serverKeyPem: m.server.keyPem,
    peerCertPem: m.peer.certPem,
    peerKeyPem: m.peer.keyPem,
    apiserverClientCertPem: fx.apiserver.certPem,
    apiserverClientKeyPem: fx.apiserver.keyPem,
    healthcheckClientCertPem: fx.healthcheck.certPem,
    healthcheckClientKeyPem: fx.healthcheck.keyPem,
    encryptionConfiguration: renderEncryptionConfiguration({
      resources: ["secrets"],
      keys: keys.filter((k) => k.state !== "archived"),
      identityFallback: false,
    }),
  };
}

function bundle(fx: Fixture, member: string, o: BundleOptions = {}): string {
  const keys = o.keys ?? fx.keys;
  const spec = fx.settings.members.find((m) => m.name === member)!;
  const { files, dirs } = nodeFiles(fx.settings, spec, { ...material(fx, member, keys), ...o.material });
  return renderNodeBundle({
    cluster: fx.settings.clusterName,
    environment: fx.settings.environment,
    member: o.memberLine ?? member,
    keys: orderKeys(keys).map((k) => ({ state: k.state, provider: k.provider, name: k.name })),
    dirs,
    files,
  });
}

/** Re-seals an edited bundle body (every line but `end`) so only the edit itself can be caught. */
function reseal(text: string, edit: (lines: string[]) => string[]): string {
  const lines = edit(text.trimEnd().split("\n").slice(0, -1));
  const body = lines.map((l) => `${l}\n`).join("");
  return `${body}end ${lines.filter((l) => l.startsWith("file ")).length} ${sha256(body)}\n`;
}

/** What must never appear in any output: PEM markers, key bodies, encryption keys, file contents. */
function secretNeedles(fx: Fixture, extra: string[] = []): string[] {
  const pairs = [
    fx.apiserver,
    fx.healthcheck,
    ...[...fx.members.values()].flatMap((m) => [m.server, m.peer]),
  ];
  const keyBodies = pairs.flatMap((p) => p.keyPem.split("\n").filter((l) => l && !l.startsWith("-----")));
  return [
    "-----BEGIN",
    "PRIVATE KEY",
    Buffer.from("-----BEGIN").toString("base64").slice(0, 12),
    Buffer.from("apiVersion: apiserver").toString("base64").slice(0, 16),
    ...keyBodies.filter((l) => l.length >= 16),
    ...fx.keys.map((k) => k.secretBase64!),
    ...extra,
  ];
}

// ---------------------------------------------------------------------------------------------
// Node roots: listings with hashes and mtimes, to prove what a run did (or did not) write

interface Entry {
  type: "dir" | "file" | "link";
  mode: string;
  owner: string;
  mtimeNs: bigint;
  sha256?: string;
}

function listing(root: string): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const walk = (abs: string, rel: string) => {
    const st = fs.lstatSync(abs, { bigint: true });
    const e: Entry = {
      type: st.isDirectory() ? "dir" : st.isSymbolicLink() ? "link" : "file",
      mode: (Number(st.mode) & 0o7777).toString(8).padStart(4, "0"),
      owner: `${st.uid}:${st.gid}`,
      mtimeNs: st.mtimeNs,
    };
    if (e.type === "file") e.sha256 = sha256(fs.readFileSync(abs));
    out.set(rel || "/", e);
    if (e.type === "dir") for (const n of fs.readdirSync(abs).sort()) walk(path.join(abs, n), `${rel}/${n}`);
  };
  walk(root, "");
  return out;
}

const showListing = (l: Map<string, Entry>) =>
  [...l].map(([p, e]) => `${e.type} ${e.mode} ${e.owner} ${e.mtimeNs} ${e.sha256 ?? ""} ${p}`).join("\n");

// ---------------------------------------------------------------------------------------------
// Running the script

const scratch: string[] = [];
function tempDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  scratch.push(d);
  return d;
}

interface Node {
  member: string;
  root: string;
  secretId: string;
}

interface Run extends BootstrapResult {
  lines: string[];
}

const timings: number[] = [];
after(() => {
  for (const d of scratch.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

async function boot(
  sm: LocalSecretsManager,
  node: Node,
  needles: string[],
  o: { env?: Record<string, string | undefined>; timeoutSeconds?: number; secretId?: string } = {},
): Promise<Run> {
  const tmp = tempDir("bootstrap-tmp-");
  const r = await runBootstrap({
    secretId: o.secretId ?? node.secretId,
    region,
    member: node.member,
    endpointUrl: sm.url,
    root: node.root,
    timeoutSeconds: o.timeoutSeconds,
    shell: "dash",
    env: {
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_CONFIG_FILE: path.join(tmp, "no-aws-config"),
      AWS_SHARED_CREDENTIALS_FILE: path.join(tmp, "no-aws-credentials"),
      AWS_EC2_METADATA_DISABLED: "true",
      TMPDIR: tmp,
      ...o.env,
    },
  });
  timings.push(r.durationMs);
  const all = `${r.stdout}\n${r.stderr}`;
  for (const n of needles)
    assert.ok(!all.includes(n), `output contains a secret (${n.slice(0, 8)}…):\n${all}`);
  assert.deepEqual(fs.readdirSync(tmp), [], "the script left its temp dir behind");
  const leftovers = [...listing(node.root).keys()].filter((p) => path.basename(p).startsWith(".secure-etcd"));
  assert.deepEqual(leftovers, [], "temp files left in the root");
  return { ...r, lines: r.stdout.trimEnd().split("\n").filter(Boolean) };
}

/** Exit 65, exactly one line on stderr matching `why`, nothing on stdout, and the root untouched. */
async function expectRefusal(
  sm: LocalSecretsManager,
  node: Node,
  needles: string[],
  why: RegExp,
): Promise<string> {
  const before = listing(node.root);
  const r = await boot(sm, node, needles);
  assert.equal(r.code, bootstrapExit.refused, `exit ${r.code}\n${r.stdout}${r.stderr}`);
  assert.equal(r.stdout, "");
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], why);
  assert.match(lines[0], /^secure-etcd-bootstrap: \S+: refused: .*; nothing written$/);
  assert.equal(showListing(listing(node.root)), showListing(before), "a refused bundle wrote something");
  return lines[0];
}

const modeOf = (p: string) => (fs.statSync(p).mode & 0o7777).toString(8).padStart(4, "0");

// ---------------------------------------------------------------------------------------------

describe("node bootstrap script (tools/bootstrap/secure-etcd-bootstrap.sh), the real AWS CLI against a loopback Secrets Manager @integration", function () {
  this.timeout(120_000);
  let sm: LocalSecretsManager;
  let fx: Fixture;
  let needles: string[];
  const paths = () => nodePaths(fx.settings);

  function newNode(member = "cp-1"): Node {
    return {
      member,
      root: tempDir(`bootstrap-root-${member}-`),
      secretId: `payments/dev/etcd/${member}-${randomBytes(3).toString("hex")}`,
    };
  }
  async function installed(member = "cp-1"): Promise<Node> {
    const node = newNode(member);
    sm.put(node.secretId, bundle(fx, member));
    const r = await boot(sm, node, needles);
    assert.equal(r.code, 0, r.stderr);
    return node;
  }

  before(async () => {
    sm = await startLocalSecretsManager({ region });
    fx = makeFixture([
      { name: "cp-1", ip: "10.0.1.10" },
      { name: "cp-2", ip: "10.0.1.11" },
      { name: "cp-3", ip: "10.0.1.12" },
    ]);
    needles = secretNeedles(fx);
  });
  after(async () => {
    await sm?.stop();
    if (timings.length > 0) {
      const s = [...timings].sort((a, b) => a - b);
      console.log(
        `      bootstrap runs: ${s.length}, median ${s[Math.floor(s.length / 2)]} ms, max ${s[s.length - 1]} ms`,
      );
    }
  });

  it("is POSIX sh (dash -n), shellcheck-clean and under 10 KB", async () => {
    const size = fs.statSync(bootstrapScriptPath).size;
    assert.ok(size < 10 * 1024, `the script is ${size} bytes; user data needs it under 10 KB`);
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

  it("installs a member into an empty root: the bundle's contents and modes, dirs 0700, the manifest last, the version recorded", async () => {
    const node = newNode();
    const text = bundle(fx, "cp-1");
    const version = sm.put(node.secretId, text);
    const r = await boot(sm, node, needles);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    const p = paths();
    const spec = fx.settings.members[0];
    const { files, dirs } = nodeFiles(fx.settings, spec, material(fx, "cp-1", fx.keys));
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
    assert.equal(fs.readFileSync(path.join(state, "installed-keys"), "utf8"), "primary:secretbox:key1\n");
    assert.equal(modeOf(path.join(state, "installed-version")), "0600");
    assert.equal(modeOf(state), "0700");
    assert.match(r.stdout, new RegExp(`version ${version} installed \\(11 files written\\)`));
    assert.match(r.stdout, /first install: kubelet starts etcd from the manifest/);
  });

  it("a second run changes nothing (same listing, hashes and mtimes) and says so", async () => {
    const node = await installed();
    const before = listing(node.root);
    const r = await boot(sm, node, needles);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.lines, [
      `secure-etcd-bootstrap: cp-1: version ${sm.currentVersion(node.secretId)} already installed, nothing changed`,
    ]);
    assert.equal(showListing(listing(node.root)), showListing(before));
  });

  it("repairs only what differs: a loosened key mode, a loosened dir and an edited manifest, nothing else", async () => {
    const node = await installed();
    const p = paths();
    fs.chmodSync(path.join(node.root, p.certs.peer.key), 0o644);
    fs.appendFileSync(path.join(node.root, p.etcdManifest), "# edited\n");
    fs.chmodSync(path.join(node.root, p.etcdPkiDir), 0o755);
    const before = listing(node.root);
    const r = await boot(sm, node, needles);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(modeOf(path.join(node.root, p.certs.peer.key)), "0600");
    assert.equal(modeOf(path.join(node.root, p.etcdPkiDir)), "0700");
    const after = listing(node.root);
    const changed = [...after.keys()].filter(
      (k) => showListing(new Map([[k, after.get(k)!]])) !== showListing(new Map([[k, before.get(k)!]])),
    );
    assert.deepEqual(changed.sort(), [p.manifestDir, p.etcdManifest, p.certs.peer.key, p.etcdPkiDir].sort());
    assert.match(r.stdout, /kubelet restarts etcd \(new static pod manifest\)/);
  });

  it("installs with the owner it is given (SECURE_ETCD_OWNER) and accepts the secret's ARN", async () => {
    const node = newNode();
    const arn = sm.create(node.secretId, bundle(fx, "cp-1")).arn;
    const r = await boot(sm, node, needles, { secretId: arn, env: { SECURE_ETCD_OWNER: "65534:65534" } });
    assert.equal(r.code, 0, r.stderr);
    const l = listing(node.root);
    for (const f of nodeFiles(fx.settings, fx.settings.members[0], material(fx, "cp-1", fx.keys)).files)
      assert.equal(l.get(f.path)?.owner, "65534:65534", f.path);
    assert.equal(l.get(paths().etcdPkiDir)?.owner, "65534:65534");
    assert.equal(l.get("/var/lib/secure-etcd/installed-version")?.owner, "65534:65534");
  });

  it("reads AWSCURRENT's VersionId first, then exactly that version (no mix of two versions)", async () => {
    const node = newNode();
    const version = sm.put(node.secretId, bundle(fx, "cp-1"));
    const since = sm.requests().length;
    const r = await boot(sm, node, needles);
    assert.equal(r.code, 0, r.stderr);
    const reqs = sm.requests().slice(since);
    assert.deepEqual(
      reqs.map((q) => [q.operation, q.secretId, q.versionId, q.versionStage, q.status, q.region, q.service]),
      [
        ["GetSecretValue", node.secretId, undefined, undefined, 200, region, "secretsmanager"],
        ["GetSecretValue", node.secretId, version, undefined, 200, region, "secretsmanager"],
      ],
    );
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
      const version = sm.put(node.secretId, bundle(fx, "cp-1", { material: { serverCertPem: renewed } }));
      const before = listing(node.root);
      const r = await boot(sm, node, needles);
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
      const extra = [m.server, m.peer, apiserver, healthcheck].flatMap((p) =>
        p.keyPem.split("\n").filter((l) => l.length >= 16 && !l.startsWith("-----")),
      );
      sm.put(
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
      const r = await boot(sm, node, [...needles, ...extra]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /etcd must be restarted \(new CA: etcd reads CA files only at start\)/);
      assert.doesNotMatch(r.stdout, /no restart needed/);
      assert.equal(fs.readFileSync(path.join(node.root, paths().caCert), "utf8"), ca.certPem);
    });

    it("a full key rotation in the safe order is installed step by step, each step telling the API servers to restart", async () => {
      const node = await installed();
      const key1 = fx.keys[0];
      const key2 = newKey("key2", "staged");
      const rotationNeedles = [...needles, key2.secretBase64!];
      const steps: [EncryptionKeyMaterial[], string][] = [
        [[key1, key2], "primary:secretbox:key1,staged:secretbox:key2"],
        [
          [
            { ...key2, state: "primary" },
            { ...key1, state: "retired" },
          ],
          "primary:secretbox:key2,retired:secretbox:key1",
        ],
        [
          [
            { ...key2, state: "primary" },
            { ...key1, state: "archived" },
          ],
          "primary:secretbox:key2,archived:secretbox:key1",
        ],
        [[{ ...key2, state: "primary" }], "primary:secretbox:key2"],
      ];
      for (const [keys, line] of steps) {
        sm.put(node.secretId, bundle(fx, "cp-1", { keys }));
        const r = await boot(sm, node, rotationNeedles);
        assert.equal(r.code, 0, `${line}: ${r.stderr}`);
        const state = fs.readFileSync(path.join(node.root, "var/lib/secure-etcd/installed-keys"), "utf8");
        assert.equal(state, `${line}\n`);
        // The last step only drops the archived key from the list: the EncryptionConfiguration stays as it is.
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
      const node = newNode();
      sm.put(node.secretId, bundle(fx, "cp-2"));
      const line = await expectRefusal(sm, node, needles, /bundle is for member 'cp-2', this node is 'cp-1'/);
      assert.ok(!line.includes("BEGIN"));
      assert.deepEqual(fs.readdirSync(node.root), []);
      const foreign = issueLeaf({
        ca: foreignCa(),
        commonName: "cp-1",
        uses: ["server_auth", "client_auth"],
      });
      sm.put(
        node.secretId,
        bundle(fx, "cp-1", { material: { serverCertPem: foreign.certPem, serverKeyPem: foreign.keyPem } }),
      );
      await expectRefusal(
        sm,
        node,
        [...needles, ...foreign.keyPem.split("\n").filter((l) => l.length >= 16 && !l.startsWith("-----"))],
        /server-cert does not verify against the bundle's ca-cert \(unable to get local issuer certificate\)/,
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
        /server-cert does not verify against the bundle's ca-cert \(certificate has expired\)/,
      ],
      [
        "a bundle truncated in the middle of a file line",
        (f) => {
          const t = bundle(f, "cp-1");
          return t.slice(0, Math.floor(t.length / 2));
        },
        /bundle is truncated \(no end line\)/,
      ],
      [
        "a bundle that lost its last lines (end line included)",
        (f) => bundle(f, "cp-1").trimEnd().split("\n").slice(0, -3).join("\n") + "\n",
        /bundle is truncated \(no end line\)/,
      ],
      [
        "a bundle whose end line no longer matches (a line dropped)",
        (f) => {
          const lines = bundle(f, "cp-1").trimEnd().split("\n");
          return [...lines.slice(0, -3), ...lines.slice(-2)].join("\n") + "\n";
        },
        /bundle is truncated or edited \(the end line's sha256 does not match\)/,
      ],
      ["a wrong member", (f) => bundle(f, "cp-2"), /bundle is for member 'cp-2', this node is 'cp-1'/],
      [
        "a tampered file (content no longer matches its sha256, bundle re-sealed)",
        (f) =>
          reseal(bundle(f, "cp-1"), (lines) =>
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
          reseal(bundle(f, "cp-1"), (lines) =>
            lines.map((l) =>
              l.startsWith("file ca-cert ")
                ? l.replace(" /etc/kubernetes/pki/etcd/ca.crt ", " /etc/../../ca.crt ")
                : l,
            ),
          ),
        /file ca-cert: path has unsafe characters/,
      ],
      [
        "a private key shipped 0644 (re-sealed)",
        (f) =>
          reseal(bundle(f, "cp-1"), (lines) =>
            lines.map((l) =>
              l.startsWith("file server-key 0600 ")
                ? l.replace("file server-key 0600 ", "file server-key 0644 ")
                : l,
            ),
          ),
        /file server-key: mode 0644 \(must be 0600\)/,
      ],
      [
        "a secret that is not a bundle",
        () => "hunter2-not-a-bundle\n",
        /the secret is not a secure-etcd-node-bundle 1/,
      ],
      [
        "two primary keys (re-sealed)",
        (f) =>
          reseal(bundle(f, "cp-1"), (lines) =>
            lines.map((l) => (l.startsWith("keys ") ? `${l},primary:secretbox:key9` : l)),
          ),
        /keys: the bundle must have exactly one primary key, it has 2/,
      ],
    ];
    // One installed node for every case: each refusal must leave it exactly as it was.
    let node: Node;
    before(async () => {
      node = await installed();
    });
    for (const [what, make, why] of cases)
      it(what, async () => {
        sm.put(node.secretId, make(fx));
        await expectRefusal(sm, node, [...needles, "hunter2"], why);
      });
  });

  describe("refuses an unsafe key transition (DESIGN.md's rotation order), naming the rule and the next step", () => {
    const k = newKey;
    const transitions: [string, string, () => EncryptionKeyMaterial[], RegExp][] = [
      [
        "a new key made primary without the staged step",
        "primary:secretbox:key1",
        () => [k("key2", "primary"), k("key1", "retired")],
        /unsafe key rotation: key2 becomes primary without being staged first; publish it as staged, restart every kube-apiserver, then make it primary/,
      ],
      [
        "an archived key made primary again",
        "primary:secretbox:key2,archived:secretbox:key1",
        () => [k("key1", "primary"), k("key2", "retired")],
        /key1 becomes primary without being staged first/,
      ],
      [
        "the old primary dropped in the same step that makes the staged key primary",
        "primary:secretbox:key1,staged:secretbox:key2",
        () => [k("key2", "primary")],
        /unsafe key rotation: key1 is dropped in the same step that makes key2 primary; keep it retired until every object is rewritten with key2, then drop it/,
      ],
      [
        "the primary archived in the step that replaces it",
        "primary:secretbox:key1,staged:secretbox:key2",
        () => [k("key2", "primary"), k("key1", "archived")],
        /key1 is dropped in the same step that makes key2 primary/,
      ],
      [
        "a staged key dropped",
        "primary:secretbox:key1,staged:secretbox:key2",
        () => [k("key1", "primary")],
        /unsafe key rotation: key2 is installed as staged and would be dropped; mark it retired, rewrite every object, then drop it/,
      ],
      [
        "the same name under another provider (a different key) made primary",
        "primary:secretbox:key1",
        () => [{ ...k("key1", "primary"), provider: "aescbc" }, k("key0", "retired")],
        /key1 becomes primary without being staged first/,
      ],
    ];
    let node: Node;
    before(async () => {
      node = await installed();
    });
    for (const [what, installedKeys, keys, why] of transitions)
      it(what, async () => {
        fs.writeFileSync(path.join(node.root, "var/lib/secure-etcd/installed-keys"), `${installedKeys}\n`);
        const ks = keys();
        sm.put(node.secretId, bundle(fx, "cp-1", { keys: ks }));
        await expectRefusal(sm, node, [...needles, ...ks.map((x) => x.secretBase64!)], why);
      });

    it("allows a rollback to the retired key (it was installed, so every API server can read it)", async () => {
      const state = path.join(node.root, "var/lib/secure-etcd/installed-keys");
      fs.writeFileSync(state, "primary:secretbox:key2,retired:secretbox:key1\n");
      const ks = [k("key1", "primary"), k("key2", "retired")];
      sm.put(node.secretId, bundle(fx, "cp-1", { keys: ks }));
      const r = await boot(sm, node, [...needles, ...ks.map((x) => x.secretBase64!)]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(fs.readFileSync(state, "utf8"), "primary:secretbox:key1,retired:secretbox:key2\n");
    });
  });

  describe("retry later (exit 75) when the secret or the service is not there, writing nothing", () => {
    async function expectRetry(node: Node, why: RegExp, o: Parameters<typeof boot>[3] = {}) {
      const before = listing(node.root);
      const r = await boot(sm, node, needles, o);
      assert.equal(r.code, bootstrapExit.retryLater, `exit ${r.code}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stdout, "");
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, why);
      assert.equal(showListing(listing(node.root)), showListing(before));
      return r;
    }

    it("the secret does not exist yet", async () => {
      await expectRetry(
        newNode(),
        /secret payments\/dev\/etcd\/cp-1-\w+ \(or its current version\) does not exist yet; retry later/,
      );
    });

    it("the secret exists without a value (no AWSCURRENT version)", async () => {
      const node = newNode();
      sm.create(node.secretId);
      await expectRetry(node, /does not exist yet; retry later/);
    });

    it("Secrets Manager is unreachable, then answers too slowly, then fails; succeeds once it is back", async () => {
      const node = newNode();
      sm.put(node.secretId, bundle(fx, "cp-1"));
      const fast = { timeoutSeconds: 2, env: { AWS_MAX_ATTEMPTS: "1", AWS_RETRY_MODE: "standard" } };
      await sm.stop();
      try {
        await expectRetry(
          node,
          /cannot read secret .*Could not connect to the endpoint URL.*; retry later/,
          fast,
        );
      } finally {
        await sm.restart();
      }
      sm.faults.delayMs = 5000;
      try {
        await expectRetry(node, /cannot read secret .*(timeout|timed out).*; retry later/i, fast);
      } finally {
        sm.faults.delayMs = undefined;
      }
      sm.faults.error = { status: 500, type: "InternalServiceError", message: "injected" };
      try {
        await expectRetry(node, /cannot read secret .*InternalServiceError.*; retry later/, fast);
      } finally {
        sm.faults.error = undefined;
      }
      const r = await boot(sm, node, needles);
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
    const settings = validateSettings(
      {
        clusterName: "payments",
        environment: "dev",
        etcdVersion: "3.4.23",
        members: [{ name: "cp-1", ip: "10.0.1.10" }],
        encryption: { keys: [kms("kms-a", "primary"), kms("kms-b", "staged")] },
      },
      "",
      "test",
    );
    const keys = [kms("kms-a", "primary"), kms("kms-b", "staged")];
    const pluginManifest = (k: string, n = 1) => `kind: Pod\nmetadata: {name: kms-plugin-${k}}\n# ${n}\n`;
    const kmsBundle = (n: number, role?: string) => {
      const { files, dirs } = nodeFiles(settings, settings.members[0], {
        ...material(fx, "cp-1", keys),
        kmsPluginManifests: ["kms-a", "kms-b"].map((k) => ({
          key: k,
          manifest: pluginManifest(k, k === "kms-b" ? n : 1),
        })),
      });
      return renderNodeBundle({
        cluster: "payments",
        environment: "dev",
        member: "cp-1",
        keys: orderKeys(keys).map((k) => ({ state: k.state, provider: k.provider, name: k.name })),
        dirs,
        files: role
          ? files.map((f) =>
              f.role === "kms-plugin-manifest-kms-b" ? { ...f, role: role as typeof f.role } : f,
            )
          : files,
      });
    };
    const node = newNode();
    sm.put(node.secretId, kmsBundle(1));
    const r = await boot(sm, node, needles);
    assert.equal(r.code, 0, r.stderr);
    for (const k of ["kms-a", "kms-b"]) {
      const at = path.join(node.root, "etc/kubernetes/manifests", `kms-plugin-${k}.yaml`);
      assert.equal(fs.readFileSync(at, "utf8"), pluginManifest(k));
      assert.equal(modeOf(at), "0600");
    }
    assert.equal(modeOf(path.join(node.root, "var/run/kmsplugin")), "0700");
    const wrote = r.lines.filter((l) => / wrote /.test(l)).map((l) => l.split(" ")[3]);
    assert.ok(
      wrote.indexOf("kms-plugin-manifest-kms-b") < wrote.indexOf("encryption-config"),
      wrote.join(" "),
    );
    sm.put(node.secretId, kmsBundle(2));
    const again = await boot(sm, node, needles);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /kubelet restarts the KMS plugin of kms-b \(new static pod manifest\)/);
    assert.doesNotMatch(again.stdout, /KMS plugin of kms-a/);
    sm.put(node.secretId, kmsBundle(3, "kms-plugin-manifest-Bad.Key"));
    await expectRefusal(sm, node, needles, /file role kms-plugin-manifest-Bad\.Key: bad kms key name/);
  });

  it("bad configuration exits 64 with one line, before any AWS call", async () => {
    const node = newNode();
    const since = sm.requests().length;
    const bad: [Partial<Parameters<typeof runBootstrap>[0]>, Record<string, string>, RegExp][] = [
      [{ region: "" }, {}, /set SECURE_ETCD_SECRET_ID, SECURE_ETCD_REGION and SECURE_ETCD_MEMBER/],
      [{ member: "" }, {}, /set SECURE_ETCD_SECRET_ID, SECURE_ETCD_REGION and SECURE_ETCD_MEMBER/],
      [{ root: path.join(node.root, "missing") }, {}, /SECURE_ETCD_ROOT .*missing\/ is not a directory/],
      [{ stateDir: "var/lib/secure-etcd" }, {}, /SECURE_ETCD_STATE_DIR must be an absolute path/],
      [{}, { SECURE_ETCD_TIMEOUT: "soon" }, /SECURE_ETCD_TIMEOUT must be whole seconds/],
    ];
    for (const [o, env, why] of bad) {
      const r = await runBootstrap({
        secretId: node.secretId,
        region,
        member: "cp-1",
        root: node.root,
        endpointUrl: sm.url,
        shell: "dash",
        ...o,
        env,
      });
      assert.equal(r.code, bootstrapExit.usage, `${JSON.stringify(o)}: ${r.stderr}`);
      assert.equal(r.stderr.trimEnd().split("\n").length, 1);
      assert.match(r.stderr, why);
    }
    assert.equal(sm.requests().length, since);
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
      const since = sm.requests().length;
      const node = newNode();
      const version = sm.put(node.secretId, bundle(fx, "cp-1"));
      const r = await boot(sm, node, needles, { env });
      assert.equal(r.code, 0, `${what}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`version ${version} installed \\(11 files written\\)`));
      const again = await boot(sm, node, needles, { env });
      assert.match(again.stdout, /already installed, nothing changed/, what);
      const missing = await boot(sm, newNode(), needles, { env });
      assert.equal(missing.code, bootstrapExit.retryLater, `${what}: ${missing.stderr}`);
      assert.match(missing.stderr, /does not exist yet; retry later/);
      const agents = [
        ...new Set(
          sm
            .requests()
            .slice(since)
            .map((q) => q.userAgent?.split(" ")[0]),
        ),
      ];
      assert.equal(agents.length, 1, `${what}: ${agents.join(", ")}`);
      console.log(`      ${what}: ${agents[0]}`);
      // The CLI that sent the requests is the one `aws --version` names on that PATH.
      const v = await run("aws", ["--version"], { env: { ...process.env, ...env } });
      assert.equal(agents[0], v.output.split(" ")[0], what);
      if (env.PATH) assert.match(agents[0]!, /^aws-cli\/2\./);
    }
  });
});

describe("local Secrets Manager (harness/localSecretsManager.ts) as the AWS CLI sees it @integration", function () {
  this.timeout(60_000);
  let sm: LocalSecretsManager;
  before(async () => {
    sm = await startLocalSecretsManager({ region });
  });
  after(async () => sm?.stop());
  const aws = async (...args: string[]) => {
    const r = await run(
      "aws",
      ["--endpoint-url", sm.url, "--region", region, "--output", "json", "secretsmanager", ...args],
      {
        env: { ...process.env, AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test", AWS_PAGER: "" },
      },
    );
    return { ...r, json: r.code === 0 && r.stdout.trim() ? JSON.parse(r.stdout) : undefined };
  };

  it("create, put, AWSCURRENT/AWSPREVIOUS, --version-stage and --version-id, DescribeSecret's stages", async () => {
    const created = await aws("create-secret", "--name", "t/one", "--secret-string", "first");
    assert.equal(created.code, 0, created.output);
    const put = await aws("put-secret-value", "--secret-id", "t/one", "--secret-string", "second");
    assert.deepEqual(put.json.VersionStages, ["AWSCURRENT"]);
    const current = await aws("get-secret-value", "--secret-id", created.json.ARN);
    assert.equal(current.json.SecretString, "second");
    const previous = await aws("get-secret-value", "--secret-id", "t/one", "--version-stage", "AWSPREVIOUS");
    assert.equal(previous.json.SecretString, "first");
    assert.equal(previous.json.VersionId, created.json.VersionId);
    const byId = await aws(
      "get-secret-value",
      "--secret-id",
      "t/one",
      "--version-id",
      created.json.VersionId,
    );
    assert.equal(byId.json.SecretString, "first");
    const third = sm.put("t/one", "third");
    const described = await aws("describe-secret", "--secret-id", "t/one");
    assert.deepEqual(described.json.VersionIdsToStages, {
      [put.json.VersionId]: ["AWSPREVIOUS"],
      [third]: ["AWSCURRENT"],
    });
    // the oldest version lost its last label but stays readable by id, as in AWS
    const oldest = await aws(
      "get-secret-value",
      "--secret-id",
      "t/one",
      "--version-id",
      created.json.VersionId,
    );
    assert.equal(oldest.json.SecretString, "first");
  });

  it("answers errors in the AWS JSON shape: ResourceNotFoundException, ResourceExistsException, a missing signature", async () => {
    const missing = await aws("get-secret-value", "--secret-id", "t/none");
    assert.notEqual(missing.code, 0);
    assert.match(
      missing.stderr,
      /ResourceNotFoundException.*GetSecretValue operation: Secrets Manager can't find the specified secret/,
    );
    sm.create("t/empty");
    const empty = await aws("get-secret-value", "--secret-id", "t/empty");
    assert.match(empty.stderr, /ResourceNotFoundException.*staging label: AWSCURRENT/);
    const twice = await aws("create-secret", "--name", "t/empty");
    assert.match(twice.stderr, /ResourceExistsException/);
    const unsigned = await fetch(sm.url, {
      method: "POST",
      headers: {
        "x-amz-target": "secretsmanager.GetSecretValue",
        "content-type": "application/x-amz-json-1.1",
      },
      body: JSON.stringify({ SecretId: "t/empty" }),
    });
    assert.equal(unsigned.status, 400);
    assert.deepEqual(await unsigned.json(), {
      __type: "MissingAuthenticationTokenException",
      Message: "Missing Authentication Token",
    });
  });
});

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
  this.timeout(180_000);
  let sm: LocalSecretsManager;
  let fx: Fixture;
  const procs: ManagedProcess[] = [];
  const nodes: (Node & { ip: string })[] = [];
  const dirs: string[] = [];

  before(async function () {
    const etcd = findBinary("etcd");
    const etcdctl = findBinary("etcdctl");
    if (!etcd || !etcdctl)
      throw new Error("etcd/etcdctl not installed (apt-get install etcd-server etcd-client)");
    sm = await startLocalSecretsManager({ region });
    const ips: string[] = [];
    for (let i = 0; i < 3; i++) ips.push(await freeLoopbackAddress([2379, 2380, 2381], ips));
    fx = makeFixture(ips.map((ip, i) => ({ name: `cp-${i + 1}`, ip })));
  });
  after(async () => {
    for (const p of procs) await p.stop();
    await sm?.stop();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  const etcdctl = (node: Node & { ip: string }, args: string[]) => {
    const p = nodePaths(fx.settings);
    const r = (f: string) => path.join(node.root, f);
    return run(
      findBinary("etcdctl")!,
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
      const root = fs.mkdtempSync(path.join(os.tmpdir(), `bootstrap-live-${m.name}-`));
      dirs.push(root);
      const node = { member: m.name, root, secretId: `payments/dev/etcd/${m.name}`, ip: m.ip };
      sm.put(node.secretId, bundle(fx, m.name));
      const r = await boot(sm, node, needles);
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
      procs.push(spawnManaged(node.member, findBinary("etcd")!, args, path.join(node.root, "etcd.log")));
    }
    const deadline = Date.now() + 60_000;
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
    const version = sm.put(node.secretId, bundle(fx, node.member, { material: { serverCertPem: renewed } }));
    const run1 = await boot(sm, node, secretNeedles(fx));
    assert.equal(run1.code, 0, run1.stderr);
    assert.match(run1.stdout, new RegExp(`version ${version} installed \\(1 files written\\)`));
    assert.match(run1.stdout, /no restart needed/);

    assert.equal(await probe(), newSerial, "the live member still serves the old cert");
    assert.equal(proc.exitStatus, undefined, "etcd exited");
    assert.ok(pidAlive(proc.pid), `etcd pid ${proc.pid} is gone`);
    const health = await etcdctl(node, ["endpoint", "health"]);
    assert.equal(health.code, 0, health.output);

    const run2 = await boot(sm, node, secretNeedles(fx));
    assert.match(run2.stdout, /already installed, nothing changed/);
  });
});
