/**
 * What the node-bootstrap tests share: a cluster's real PKI and keys, bundles made from them the way the
 * component makes them (renderMemberBundleBody, sealed by a signing key), the bootstrap run with the real
 * AWS CLI against moto (through the fault proxy) with a member's role credentials, and listings of a node
 * root to prove what a run wrote — or did not.
 */
import { strict as assert } from "node:assert";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { validateSettings, type SecureEtcdSettings } from "../../components/config";
import {
  renderEncryptionConfiguration,
  type EncryptionKeyMaterial,
} from "../../components/encryption/render";
import type { NodeMaterial } from "../../components/manifests";
import { bundleDigest } from "../../components/secretStore/bundle";
import { renderMemberBundleBody } from "../../components/secretStore/memberBundle";
import { newSigningKey, sealWith, type SigningKey } from "../../harness/bundleSealing";
import type { NodeSecretsOnMoto } from "../../harness/motoNodeSecrets";
import { foreignCa, issueLeaf, type CaPair, type IssuedPair } from "../../harness/oneHostPki";
import { runBootstrap, type BootstrapOptions, type BootstrapResult } from "../../tools/bootstrap";

export const sha256 = (b: string | Buffer) => createHash("sha256").update(b).digest("hex");

export interface MemberPki {
  name: string;
  ip: string;
  server: IssuedPair;
  peer: IssuedPair;
}

export interface Fixture {
  settings: SecureEtcdSettings;
  ca: CaPair;
  members: Map<string, MemberPki>;
  apiserver: IssuedPair;
  healthcheck: IssuedPair;
  keys: EncryptionKeyMaterial[];
  signing: SigningKey;
}

export const newKey = (name: string, state: EncryptionKeyMaterial["state"]): EncryptionKeyMaterial => ({
  name,
  state,
  provider: "secretbox",
  secretBase64: randomBytes(32).toString("base64"),
});

export function memberPki(ca: CaPair, name: string, ip: string): MemberPki {
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

export function makeFixture(
  members: { name: string; ip: string }[],
  o: { clusterName?: string; environment?: string } = {},
): Fixture {
  const ca = foreignCa("etcd-ca");
  const settings = validateSettings(
    {
      clusterName: o.clusterName ?? "payments",
      environment: o.environment ?? "dev",
      etcdVersion: "3.4.23",
      members,
    },
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
    signing: newSigningKey(),
  };
}

export function material(fx: Fixture, member: string, keys: EncryptionKeyMaterial[]): NodeMaterial {
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

export interface BundleOptions {
  /** Overrides of the node material (e.g. a foreign server cert). */
  material?: Partial<NodeMaterial>;
  keys?: EncryptionKeyMaterial[];
  /** Sealed by this key instead of the fixture's. */
  signing?: SigningKey;
  /** Another cluster's or environment's settings. */
  settings?: SecureEtcdSettings;
}

/** The body the component renders for `member`. */
export function bundleBody(fx: Fixture, member: string, o: BundleOptions = {}): string {
  const keys = o.keys ?? fx.keys;
  const s = o.settings ?? fx.settings;
  const spec = s.members.find((m) => m.name === member)!;
  return renderMemberBundleBody(s, spec, { ...material(fx, member, keys), ...o.material }, keys);
}

/** A sealed bundle for `member`, each call a later generation. */
export function bundle(fx: Fixture, member: string, o: BundleOptions = {}): string {
  return sealWith(bundleBody(fx, member, o), o.signing ?? fx.signing);
}

/** Edits a bundle's body lines (every line but `end`) and seals the result with the fixture's key. */
export function reseal(fx: Fixture, text: string, edit: (lines: string[]) => string[]): string {
  const body = edit(text.trimEnd().split("\n").slice(0, -1))
    .map((l) => `${l}\n`)
    .join("");
  return sealWith(body, fx.signing);
}

/** An edit of the body that keeps the old seal: the seal names another sha256. */
export function editKeepingSeal(text: string, edit: (lines: string[]) => string[]): string {
  const lines = text.trimEnd().split("\n");
  const end = lines.pop()!.split(" ");
  const body = edit(lines)
    .map((l) => `${l}\n`)
    .join("");
  end[1] = String(body.split("\n").filter((l) => l.startsWith("file ")).length);
  end[2] = bundleDigest(body);
  return `${body}${end.join(" ")}\n`;
}

/** What must never appear in any output: PEM markers, key bodies, encryption keys, file contents. */
export function secretNeedles(fx: Fixture, extra: string[] = []): string[] {
  const pairs = [
    fx.apiserver,
    fx.healthcheck,
    ...[...fx.members.values()].flatMap((m) => [m.server, m.peer]),
  ];
  return [
    "-----BEGIN",
    "PRIVATE KEY",
    Buffer.from("-----BEGIN").toString("base64").slice(0, 12),
    Buffer.from("apiVersion: apiserver").toString("base64").slice(0, 16),
    ...keyLines(...pairs.map((p) => p.keyPem)),
    ...fx.keys.map((k) => k.secretBase64!),
    ...extra,
  ];
}

/** The body lines of private key PEMs (what a leak would show). */
export const keyLines = (...pems: string[]) =>
  pems.flatMap((p) => p.split("\n").filter((l) => l.length >= 16 && !l.startsWith("-----")));

// ---------------------------------------------------------------------------------------------
// Node roots: listings with hashes and mtimes, to prove what a run did (or did not) write

interface Entry {
  type: "dir" | "file" | "link";
  mode: string;
  owner: string;
  mtimeNs: bigint;
  sha256?: string;
}

export function listing(root: string): Map<string, Entry> {
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

export const showListing = (l: Map<string, Entry>) =>
  [...l].map(([p, e]) => `${e.type} ${e.mode} ${e.owner} ${e.mtimeNs} ${e.sha256 ?? ""} ${p}`).join("\n");

export const modeOf = (p: string) => (fs.statSync(p).mode & 0o7777).toString(8).padStart(4, "0");

// ---------------------------------------------------------------------------------------------
// Running the script

const scratch: string[] = [];
export function tempDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  scratch.push(d);
  return d;
}
export function removeTempDirs(): void {
  for (const d of scratch.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

export interface Node {
  member: string;
  root: string;
  secretId: string;
}

export interface Run extends BootstrapResult {
  lines: string[];
}

export interface BootOptions {
  env?: Record<string, string | undefined>;
  timeoutSeconds?: number;
  secretId?: string;
  acceptKeys?: boolean;
  /** Run with the deployer's credentials instead of the member role's (a node whose role is not there yet). */
  asDeployer?: boolean;
  /** Overrides of the script's options (another cluster, another signing key, a state dir…). */
  options?: Partial<BootstrapOptions>;
}

export const timings: number[] = [];

/**
 * Runs the bootstrap for `node` under dash with the member's role credentials from moto, through the
 * fault proxy. Asserts no secret in any output, no temp dir and no temp file left behind.
 */
export async function boot(
  aws: NodeSecretsOnMoto,
  fx: Fixture,
  node: Node,
  needles: string[],
  o: BootOptions = {},
): Promise<Run> {
  const tmp = tempDir("bootstrap-tmp-");
  const r = await runBootstrap({
    secretId: o.secretId ?? node.secretId,
    region: aws.region,
    member: node.member,
    cluster: fx.settings.clusterName,
    environment: fx.settings.environment,
    signingKey: fx.signing.publicKeyBase64,
    endpointUrl: aws.proxy.url,
    root: node.root,
    timeoutSeconds: o.timeoutSeconds,
    acceptKeys: o.acceptKeys,
    shell: "dash",
    ...o.options,
    env: {
      ...(o.asDeployer ? aws.deployerEnv() : aws.nodeEnv(node.secretId)),
      TMPDIR: tmp,
      ...o.env,
    },
  });
  timings.push(r.durationMs);
  const all = `${r.stdout}\n${r.stderr}`;
  for (const n of needles)
    assert.ok(!all.includes(n), `output contains a secret (${n.slice(0, 8)}…):\n${all}`);
  assert.deepEqual(fs.readdirSync(tmp), [], "the script left its temp dir behind");
  if (fs.existsSync(node.root)) {
    const leftovers = [...listing(node.root).keys()].filter((p) =>
      path.basename(p).startsWith(".secure-etcd"),
    );
    assert.deepEqual(leftovers, [], "temp files left in the root");
  }
  return { ...r, lines: r.stdout.trimEnd().split("\n").filter(Boolean) };
}

/** Exit 65, exactly one line on stderr matching `why`, nothing on stdout, and the root untouched. */
export async function expectRefusal(
  aws: NodeSecretsOnMoto,
  fx: Fixture,
  node: Node,
  needles: string[],
  why: RegExp,
  o: BootOptions = {},
): Promise<string> {
  const before = listing(node.root);
  const r = await boot(aws, fx, node, needles, o);
  assert.equal(r.code, 65, `exit ${r.code}\n${r.stdout}${r.stderr}`);
  assert.equal(r.stdout, "");
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], why);
  assert.match(lines[0], /^secure-etcd-bootstrap: \S+: refused: .*; nothing written$/);
  assert.equal(showListing(listing(node.root)), showListing(before), "a refused bundle wrote something");
  return lines[0];
}

/** Prints the bootstrap's run times once a suite is done. */
export function reportTimings(): void {
  if (timings.length === 0) return;
  const s = [...timings].sort((a, b) => a - b);
  console.log(
    `      bootstrap runs: ${s.length}, median ${s[Math.floor(s.length / 2)]} ms, max ${s[s.length - 1]} ms`,
  );
  timings.length = 0;
}
