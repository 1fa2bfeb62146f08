import { createHash, createPublicKey, X509Certificate } from "node:crypto";
import type { EncryptionProvider, KeyState } from "../config/constants";
import type { NodeDir, NodeFile, NodeFileRole } from "../manifests/nodeFiles";

/*
 * The node bundle: what one member's secret in Secrets Manager holds and what the node bootstrap
 * (tools/bootstrap) installs. A line format, not JSON, because the bootstrap is POSIX sh with only the
 * AWS CLI and openssl on the node (no jq): every line is `<kind> <field> …`, fields never contain spaces
 * (paths are validated so), file contents are single-line base64, and the last line seals the rest:
 *
 *   secure-etcd-node-bundle 2
 *   cluster <name>
 *   environment <name>
 *   member <name>
 *   keys <state>:<provider>:<name>,…       every key of the stack: primary, staged, retired, archived
 *                                          (names and states only: no secret)
 *   dir <mode> <path>                       created root:root with that mode, before any file
 *   file <role> <mode> <sha256> <path> <base64>
 *   end <number of file lines> <sha256 of every line above> <seal>
 *
 * The seal is the DER (base64) of an X.509 certificate self-signed by the stack's bundle-signing key (an
 * ECDSA P-256 `tls.PrivateKey`, a Pulumi secret) whose only subjectAltName is
 * `urn:secure-etcd:node-bundle:sha256:<that sha256>`: a signature over the body that the node checks with
 * openssl against the public key its user data carries. The seal's notBefore is the bundle's generation:
 * the tls provider sets it when the seal is created, which happens only when the body changes, so it rises
 * with every new bundle and stays put otherwise. The node remembers the generation it installed and
 * refuses an older one (a version re-staged or written again).
 */

export const bundleFormat = "secure-etcd-node-bundle";
export const bundleVersion = 2;

/** What the node checks on a file: the chain's root, TLS purposes, that a cert names this member, the keys line. */
export type BundleCheck = "ca" | "server" | "client" | "member" | "keys";

/** A file role as the node sees it. */
export interface BundleFileRole {
  /** The file's name: a bundle may put it only directly in a directory it declares, under this name. */
  file: string;
  /** The only mode it may have. */
  mode: NodeFile["mode"];
  /** The other half of a cert/key pair (on the cert's row). */
  pair?: NodeFileRole;
  checks: BundleCheck[];
  /** What must restart when it changes (none: etcd re-reads certs per connection). */
  restart?: "etcd" | "apiserver" | "kubelet";
  /** A bundle without it is refused. */
  required: boolean;
}

/**
 * The roles a bundle may carry, and what the node checks and says for each: the bootstrap's role table
 * (`RT` in secure-etcd-bootstrap.sh) is this one, line for line (a test keeps them equal). A new role (a
 * KMS plugin's static pod, say) is a row here, a line there and a member of NodeFileRole.
 */
export const bundleFileRoles: Readonly<Record<NodeFileRole, BundleFileRole>> = {
  "ca-cert": { file: "ca.crt", mode: "0644", checks: ["ca"], restart: "etcd", required: true },
  "server-cert": {
    file: "server.crt",
    mode: "0644",
    pair: "server-key",
    checks: ["server", "client", "member"],
    required: true,
  },
  "server-key": { file: "server.key", mode: "0600", pair: "server-cert", checks: [], required: true },
  "peer-cert": {
    file: "peer.crt",
    mode: "0644",
    pair: "peer-key",
    checks: ["server", "client", "member"],
    required: true,
  },
  "peer-key": { file: "peer.key", mode: "0600", pair: "peer-cert", checks: [], required: true },
  "healthcheck-client-cert": {
    file: "healthcheck-client.crt",
    mode: "0644",
    pair: "healthcheck-client-key",
    checks: ["client"],
    required: true,
  },
  "healthcheck-client-key": {
    file: "healthcheck-client.key",
    mode: "0600",
    pair: "healthcheck-client-cert",
    checks: [],
    required: true,
  },
  "apiserver-etcd-client-cert": {
    file: "apiserver-etcd-client.crt",
    mode: "0644",
    pair: "apiserver-etcd-client-key",
    checks: ["client"],
    required: true,
  },
  "apiserver-etcd-client-key": {
    file: "apiserver-etcd-client.key",
    mode: "0600",
    pair: "apiserver-etcd-client-cert",
    checks: [],
    required: true,
  },
  "encryption-config": {
    file: "encryption-config.yaml",
    mode: "0600",
    checks: ["keys"],
    restart: "apiserver",
    required: true,
  },
  "etcd-manifest": { file: "etcd.yaml", mode: "0600", checks: [], restart: "kubelet", required: true },
};

/** The role table as the bootstrap's `RT` lines: role, file, mode, pair, checks, restart, required. */
export function bundleRoleTableLines(): string[] {
  return Object.entries(bundleFileRoles).map(([role, r]) =>
    [
      role,
      r.file,
      r.mode,
      r.pair ?? "-",
      r.checks.length ? r.checks.join(",") : "-",
      r.restart ?? "-",
      r.required ? "y" : "n",
    ].join(" "),
  );
}

export interface BundleKey {
  state: KeyState;
  provider: EncryptionProvider;
  name: string;
}

export interface NodeBundle {
  cluster: string;
  environment: string;
  member: string;
  /** Every key of the stack, archived ones too (names and states only), primary first. */
  keys: BundleKey[];
  dirs: NodeDir[];
  files: NodeFile[];
}

/** A parsed bundle with what its end line says. */
export interface SealedNodeBundle extends NodeBundle {
  /** sha256 of the body (every line before `end`). */
  digest: string;
  /** The seal certificate (PEM). */
  sealPem: string;
}

const sha256 = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");
const noSpace = (what: string, v: string) => {
  if (!/^\S+$/.test(v))
    throw new Error(`node bundle: ${what} ${JSON.stringify(v)} must not be empty or contain whitespace`);
  return v;
};

/** The subjectAltName URI that binds a seal to one body. */
export const sealUri = (digest: string) => `urn:secure-etcd:node-bundle:sha256:${digest}`;

/** sha256 (hex) of a bundle body: what the seal names. */
export const bundleDigest = (body: string): string => sha256(body);

/** The bundle's body: every line but `end` (it embeds private keys: a secret). Pure and deterministic. */
export function renderBundleBody(b: NodeBundle): string {
  const lines = [
    `${bundleFormat} ${bundleVersion}`,
    `cluster ${noSpace("cluster", b.cluster)}`,
    `environment ${noSpace("environment", b.environment)}`,
    `member ${noSpace("member", b.member)}`,
    `keys ${b.keys.map((k) => `${k.state}:${k.provider}:${noSpace("key name", k.name)}`).join(",")}`,
    ...b.dirs.map((d) => `dir ${d.mode} ${noSpace("dir", d.path)}`),
    // The manifest last: kubelet must not start etcd before its certs are in place.
    ...[
      ...b.files.filter((f) => f.role !== "etcd-manifest"),
      ...b.files.filter((f) => f.role === "etcd-manifest"),
    ].map(
      (f) =>
        `file ${f.role} ${f.mode} ${sha256(f.content)} ${noSpace("file", f.path)} ${Buffer.from(f.content, "utf8").toString("base64")}`,
    ),
  ];
  return lines.map((l) => `${l}\n`).join("");
}

/** The DER of a PEM certificate, base64 on one line. */
function pemBody(pem: string): string {
  return pem
    .replace(/-----(BEGIN|END) [A-Z ]+-----/g, "")
    .replace(/\s+/g, "")
    .trim();
}

/** The whole bundle: the body and its end line with the seal (a certificate naming the body's sha256). */
export function sealedBundle(body: string, sealCertPem: string): string {
  const files = body.split("\n").filter((l) => l.startsWith("file ")).length;
  return `${body}end ${[files, bundleDigest(body), pemBody(sealCertPem)].filter(String).join(" ")}\n`;
}

/**
 * A bundle from its parts; with no seal it is unsealed (the node refuses it: for tools that only read its
 * files and modes, such as the CIS file checks).
 */
export function renderNodeBundle(b: NodeBundle, sealCertPem = ""): string {
  return sealedBundle(renderBundleBody(b), sealCertPem);
}

/**
 * Parses and checks a bundle's structure and digest (not its signature: {@link verifyBundleSeal}). Used
 * by tests and tools; the bootstrap does the same in sh. Throws on any defect.
 */
export function parseNodeBundle(text: string): SealedNodeBundle {
  const endAt = text.lastIndexOf("\nend ");
  if (endAt < 0 || !text.endsWith("\n")) throw new Error("node bundle: no end line (truncated?)");
  const body = text.slice(0, endAt + 1);
  const [, count, digest, seal] = text
    .slice(endAt + 1)
    .trim()
    .split(" ");
  if (digest !== sha256(body))
    throw new Error("node bundle: the end line's sha256 does not match (truncated or edited)");
  const lines = body.trimEnd().split("\n");
  const header = lines.shift();
  if (header !== `${bundleFormat} ${bundleVersion}`)
    throw new Error(`node bundle: not a ${bundleFormat} ${bundleVersion}`);
  const b: SealedNodeBundle = {
    cluster: "",
    environment: "",
    member: "",
    keys: [],
    dirs: [],
    files: [],
    digest,
    sealPem: `-----BEGIN CERTIFICATE-----\n${(seal ?? "").replace(/(.{64})/g, "$1\n").trimEnd()}\n-----END CERTIFICATE-----\n`,
  };
  for (const line of lines) {
    const [kind, ...f] = line.split(" ");
    if (kind === "cluster" || kind === "environment" || kind === "member") b[kind] = f[0];
    else if (kind === "keys")
      b.keys = (f[0] ?? "")
        .split(",")
        .filter(Boolean)
        .map((k) => {
          const [state, provider, name] = k.split(":");
          return { state: state as KeyState, provider: provider as EncryptionProvider, name };
        });
    else if (kind === "dir") b.dirs.push({ mode: f[0] as NodeDir["mode"], path: f[1] });
    else if (kind === "file") {
      const [role, mode, hash, path, b64] = f;
      const content = Buffer.from(b64 ?? "", "base64").toString("utf8");
      if (sha256(content) !== hash) throw new Error(`node bundle: file ${role} does not match its sha256`);
      b.files.push({ role: role as NodeFileRole, mode: mode as NodeFile["mode"], path, content });
    } else throw new Error("node bundle: a line of an unknown kind");
  }
  if (String(b.files.length) !== count)
    throw new Error(`node bundle: ${b.files.length} files, the end line says ${count}`);
  return b;
}

/**
 * What the node checks of the seal, in TypeScript: signed by the key whose DER (base64) is
 * `publicKeyBase64`, naming this body's sha256. Returns the bundle with its generation (the seal's
 * notBefore). Throws naming what failed.
 */
export function verifyBundleSeal(
  text: string,
  publicKeyBase64: string,
): SealedNodeBundle & { generation: Date } {
  const b = parseNodeBundle(text);
  const seal = new X509Certificate(b.sealPem);
  const key = createPublicKey({ key: Buffer.from(publicKeyBase64, "base64"), format: "der", type: "spki" });
  const sealKey = seal.publicKey.export({ format: "der", type: "spki" });
  if (!sealKey.equals(key.export({ format: "der", type: "spki" })))
    throw new Error("node bundle: signed by another key");
  if (!seal.verify(key)) throw new Error("node bundle: the signature does not verify");
  if (seal.subjectAltName !== `URI:${sealUri(b.digest)}`)
    throw new Error("node bundle: the seal is for another bundle");
  return { ...b, generation: new Date(seal.validFrom) };
}

/** The base64 DER of a PEM public key: what the node's SECURE_ETCD_SIGNING_KEY holds. */
export const publicKeyBase64 = (publicKeyPem: string): string => pemBody(publicKeyPem);
