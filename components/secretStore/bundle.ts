import { createHash } from "node:crypto";
import type { KeyState, EncryptionProvider } from "../config/constants";
import type { NodeDir, NodeFile, NodeFileRole } from "../manifests/nodeFiles";

/*
 * The node bundle: what one member's secret in Secrets Manager holds and what the node bootstrap
 * (tools/bootstrap) installs. A line format, not JSON, because the bootstrap is POSIX sh with only the
 * AWS CLI and openssl on the node (no jq): every line is `<kind> <field> …`, fields never contain spaces
 * (paths are validated so), file contents are single-line base64, and the last line seals the rest:
 *
 *   secure-etcd-node-bundle 1
 *   cluster <name>
 *   environment <name>
 *   member <name>
 *   keys <state>:<provider>:<name>,…        the EncryptionConfiguration's keys, in its order (no secrets)
 *   dir <mode> <path>                       created root:root with that mode, before any file
 *   file <role> <mode> <sha256> <path> <base64>
 *   end <number of file lines> <sha256 of every line above, newlines included>
 *
 * A truncated or edited bundle fails the `end` check; a file whose content does not hash to its sha256
 * is refused. The bootstrap writes the `etcd-manifest` file last.
 */

export const bundleFormat = "secure-etcd-node-bundle";
export const bundleVersion = 1;

export interface BundleKey {
  state: KeyState;
  provider: EncryptionProvider;
  name: string;
}

export interface NodeBundle {
  cluster: string;
  environment: string;
  member: string;
  /** The EncryptionConfiguration's keys in its provider order (names and states only). */
  keys: BundleKey[];
  dirs: NodeDir[];
  files: NodeFile[];
}

const sha256 = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");
const noSpace = (what: string, v: string) => {
  if (!/^\S+$/.test(v))
    throw new Error(`node bundle: ${what} ${JSON.stringify(v)} must not be empty or contain whitespace`);
  return v;
};

/** The bundle as text (it embeds private keys: a secret). Pure and deterministic. */
export function renderNodeBundle(b: NodeBundle): string {
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
  const body = lines.map((l) => `${l}\n`).join("");
  return `${body}end ${b.files.length} ${sha256(body)}\n`;
}

/** Parses and checks a bundle (what the bootstrap does in sh; used by tests and tools). Throws on any defect. */
export function parseNodeBundle(text: string): NodeBundle {
  const endAt = text.lastIndexOf("\nend ");
  if (endAt < 0 || !text.endsWith("\n")) throw new Error("node bundle: no end line (truncated?)");
  const body = text.slice(0, endAt + 1);
  const [, count, digest] = text
    .slice(endAt + 1)
    .trim()
    .split(" ");
  if (digest !== sha256(body))
    throw new Error("node bundle: the end line's sha256 does not match (truncated or edited)");
  const lines = body.trimEnd().split("\n");
  const header = lines.shift();
  if (header !== `${bundleFormat} ${bundleVersion}`)
    throw new Error(`node bundle: unknown header ${JSON.stringify(header)}`);
  const b: NodeBundle = { cluster: "", environment: "", member: "", keys: [], dirs: [], files: [] };
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
      if (sha256(content) !== hash) throw new Error(`node bundle: ${path} does not match its sha256`);
      b.files.push({ role: role as NodeFileRole, mode: mode as NodeFile["mode"], path, content });
    } else throw new Error(`node bundle: unknown line kind ${JSON.stringify(kind)}`);
  }
  if (String(b.files.length) !== count)
    throw new Error(`node bundle: ${b.files.length} files, the end line says ${count}`);
  return b;
}
