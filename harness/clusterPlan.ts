/**
 * Works out how each member of a rehearsal cluster runs on this one host: the flags of its static pod
 * manifest, as rendered, with only what one host forces changed — and every change listed in `remaps`:
 *  - node paths (kubeadm's /etc/kubernetes/pki/..., /var/lib/etcd) → the files in the artifacts
 *    directory and a per-member data dir under workDir;
 *  - listeners every member declares identically (kubeadm's `https://127.0.0.1:2379` client listener
 *    and `http://127.0.0.1:2381` metrics) → the shared client listener is dropped (the member still
 *    serves clients on its own address), metrics move to the member's own address;
 *  - peer certs: etcd (3.2+) checks that a connecting peer's source address is one of the SANs of the
 *    client cert it presents. On one Linux host every connection between 127.0.0.x addresses comes
 *    from 127.0.0.1, so each member's peer cert is re-issued by the same CA, with the same key,
 *    subject, usages and SANs plus IP 127.0.0.1 (needs the CA key; skipped if the SAN is already there).
 * TLS flags, cipher suites, --initial-cluster, the token and everything else are passed through.
 *
 * With `installed` nodes (the rehearsal installs every member through the node bootstrap, as a node does
 * at boot), each member runs from its own node root instead: the manifest the bootstrap wrote, and every
 * node path prefixed with that root — the files the bootstrap wrote, data dir included.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { isLoopbackIp } from "../tools/shared/loopback";
import { flagValue, formatFlags, parseFlags, splitUrls, type Flag } from "./etcdFlags";
import { layout } from "./layout";
import { certSans, loopbackSource, reissueWithExtraIps, type CaPair } from "./oneHostPki";

export interface MemberPlan {
  name: string;
  ip: string;
  renderedArgs: string[];
  args: string[];
  remaps: string[];
  clientUrl: string;
  peerUrl: string;
  metricsUrl: string;
  dataDir: string;
  logFile: string;
  /** host:port → flag, for the port check before start. */
  listeners: { host: string; port: number; flag: string }[];
}

const listenerFlags = ["--listen-client-urls", "--listen-peer-urls", "--listen-metrics-urls"] as const;

const hostPort = (u: string) => {
  const url = new URL(u);
  return { host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port) };
};
const listenKey = (u: string) => {
  const { host, port } = hostPort(u);
  return `${host}:${port}`;
};

/** Reads DIR/manifests/<member>/etcd.yaml (or the given manifest) and returns the etcd arguments. */
export function readManifestArgs(
  dir: string,
  member: string,
  file = layout.etcdManifest(dir, member),
): string[] {
  const pod = parse(fs.readFileSync(file, "utf8")) as {
    spec?: { containers?: { name?: string; command?: string[]; args?: string[] }[] };
  };
  const container = pod.spec?.containers?.find((c) => c.name === "etcd") ?? pod.spec?.containers?.[0];
  const command = [...(container?.command ?? []), ...(container?.args ?? [])];
  if (command.length === 0 || path.basename(command[0]) !== "etcd")
    throw new Error(`${file}: the etcd container has no command starting with "etcd"`);
  return command.slice(1);
}

/**
 * The etcd version a manifest runs, from its image tag (`registry.k8s.io/etcd:3.6.17-0` → 3.6.17, kubeadm's
 * tag scheme; `…:v3.6.17` too); undefined when the tag names no version (a digest, a custom tag).
 */
export function manifestEtcdVersion(file: string): string | undefined {
  const pod = parse(fs.readFileSync(file, "utf8")) as {
    spec?: { containers?: { name?: string; image?: string }[] };
  };
  const container = pod.spec?.containers?.find((c) => c.name === "etcd") ?? pod.spec?.containers?.[0];
  const image = container?.image ?? "";
  const tag = image.lastIndexOf(":") > image.lastIndexOf("/") ? image.slice(image.lastIndexOf(":") + 1) : "";
  return /^v?(\d+\.\d+\.\d+)(-\d+)?$/.exec(tag)?.[1];
}

/** Members that have a manifest in DIR/manifests/<member>/etcd.yaml, sorted. */
export function manifestMembers(dir: string): string[] {
  const root = layout.etcdManifests(dir);
  if (!fs.existsSync(root)) throw new Error(`${root} does not exist; render the artifacts first`);
  return fs
    .readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(layout.etcdManifest(dir, e.name)))
    .map((e) => e.name)
    .sort();
}

/** A member installed into a scratch node root (by the bootstrap): its root and its manifest file. */
export interface InstalledNode {
  root: string;
  manifestFile: string;
}

interface PlanContext {
  dir: string;
  workDir: string;
  ca?: CaPair;
  installed?: Record<string, InstalledNode>;
  clusterSize: number;
  /** Whether more than one member listens on this URL's host:port. */
  shared: (url: string) => boolean;
}

/**
 * Works out every member's remapped command line. Reads the manifests; writes nothing except re-issued
 * peer certs (workDir/pki/<member>/peer.crt) when `ca` is given and they are needed.
 */
export function planCluster(
  dir: string,
  workDir: string,
  ca?: CaPair,
  installed?: Record<string, InstalledNode>,
): MemberPlan[] {
  const names = installed ? Object.keys(installed).sort() : manifestMembers(dir);
  if (names.length === 0) throw new Error(`no etcd manifests under ${layout.etcdManifests(dir)}`);
  const rendered = names.map((name) => ({
    name,
    args: readManifestArgs(dir, name, installed?.[name].manifestFile),
  }));
  // Which listeners would collide when every member runs on this one host.
  const owners = new Map<string, Set<string>>();
  for (const r of rendered)
    for (const f of listenerFlags)
      for (const u of splitUrls(flagValue(r.args, f))) {
        const k = listenKey(u);
        owners.set(k, (owners.get(k) ?? new Set()).add(r.name));
      }
  const shared = (u: string) => (owners.get(listenKey(u))?.size ?? 0) > 1;
  const ctx: PlanContext = { dir, workDir, ca, installed, clusterSize: names.length, shared };
  return rendered.map(({ name, args }) => planMember(ctx, name, args));
}

function planMember(ctx: PlanContext, name: string, args: string[]): MemberPlan {
  const { clientUrl, peerUrl, ip } = advertisedAddress(name, args);
  const remaps: string[] = [];
  const note = (s: string) => remaps.push(`${name}: ${s}`);
  const node = ctx.installed?.[name];
  const dataDir = node
    ? onNode(node, flagValue(args, "--data-dir") ?? "")
    : path.join(ctx.workDir, "data", name);
  const member = { name, ip, dataDir, note };
  const finalArgs = formatFlags(parseFlags(args).map(([k, v]) => remapFlag(ctx, member, k, v)));
  return {
    name,
    ip,
    renderedArgs: args,
    args: finalArgs,
    remaps,
    clientUrl,
    peerUrl,
    metricsUrl: splitUrls(flagValue(finalArgs, "--listen-metrics-urls"))[0] ?? "",
    dataDir: member.dataDir,
    logFile: path.join(ctx.workDir, "logs", `${name}.log`),
    listeners: listenerFlags.flatMap((f) =>
      splitUrls(flagValue(finalArgs, f)).map((u) => ({ ...hostPort(u), flag: f })),
    ),
  };
}

/** The member's advertised URLs, after the checks that make a one-host rehearsal meaningful. */
function advertisedAddress(name: string, args: string[]): { clientUrl: string; peerUrl: string; ip: string } {
  const flagName = flagValue(args, "--name");
  if (flagName !== name)
    throw new Error(`manifest of ${name} runs etcd with --name=${flagName ?? "(unset)"}; expected ${name}`);
  const clientUrl = splitUrls(flagValue(args, "--advertise-client-urls"))[0];
  const peerUrl = splitUrls(flagValue(args, "--initial-advertise-peer-urls"))[0];
  if (!clientUrl || !peerUrl)
    throw new Error(`manifest of ${name} has no --advertise-client-urls or --initial-advertise-peer-urls`);
  const ip = hostPort(clientUrl).host;
  if (!isLoopbackIp(ip))
    throw new Error(
      `member ${name} advertises ${clientUrl}, not a loopback address; a local rehearsal only runs members ` +
        `on 127.0.0.0/8 (render the artifacts with members mapped onto loopback addresses)`,
    );
  for (const f of ["--auto-tls", "--peer-auto-tls"])
    if (args.some((a) => a === f || a === `${f}=true`))
      throw new Error(`manifest of ${name} sets ${f}; refusing to rehearse with self-signed auto TLS`);
  return { clientUrl, peerUrl, ip };
}

interface MemberContext {
  name: string;
  ip: string;
  dataDir: string;
  note: (remap: string) => void;
}

/** A node path inside a member's scratch root. */
const onNode = (node: InstalledNode, p: string) => path.join(node.root, p);

/** One flag as this host runs it; every change is noted. */
function remapFlag(ctx: PlanContext, m: MemberContext, k: string, v: string | undefined): Flag {
  const node = ctx.installed?.[m.name];
  if (node && v?.startsWith("/") && k !== "--wal-dir") {
    // The file the bootstrap installed: the node path under this member's root.
    const target = k === "--data-dir" ? m.dataDir : onNode(node, v);
    if (k !== "--data-dir" && !fs.existsSync(target))
      throw new Error(`${k} of ${m.name}: the bootstrap installed no ${target}`);
    m.note(`${k} ${v} → ${target} (the member's node root)`);
    return [k, target];
  }
  const file = artifactFile(ctx.dir, m.name, k);
  if (file !== undefined) {
    if (!fs.existsSync(file)) throw new Error(`${k} of ${m.name}: ${file} does not exist`);
    const reissued =
      k === "--peer-cert-file" && ctx.clusterSize > 1
        ? peerCertForOneHost(ctx.dir, ctx.workDir, m.name, file, ctx.ca)
        : undefined;
    if (reissued) {
      m.note(
        `${k} ${v} → ${reissued} (${file} re-issued by the same CA with the same key, subject, usages and ` +
          `SANs plus IP ${loopbackSource}: etcd checks a peer's source address against its cert's SANs, ` +
          `and on one host every peer connects from ${loopbackSource})`,
      );
      return [k, reissued];
    }
    m.note(`${k} ${v} → ${file}`);
    return [k, file];
  }
  if (k === "--data-dir" || k === "--wal-dir") {
    const target = k === "--data-dir" ? m.dataDir : path.join(ctx.workDir, "wal", m.name);
    m.note(`${k} ${v} → ${target}`);
    return [k, target];
  }
  if ((listenerFlags as readonly string[]).includes(k)) return [k, remapListeners(ctx, m, k, v)];
  if (v?.startsWith("/"))
    throw new Error(`${k}=${v} of ${m.name} names a node path the rehearsal does not know how to map`);
  return [k, v];
}

/** Listeners every member declares identically: the client one is dropped, metrics move to the member's IP. */
function remapListeners(
  ctx: PlanContext,
  m: MemberContext,
  k: string,
  v: string | undefined,
): string | undefined {
  const urls = splitUrls(v);
  if (k === "--listen-client-urls") {
    const keep = urls.filter((u) => !ctx.shared(u));
    if (keep.length === 0)
      throw new Error(`every --listen-client-urls of ${m.name} (${v}) is shared with another member`);
    for (const u of urls.filter(ctx.shared))
      m.note(
        `${k}: dropped ${u} (every member listens there; one host can bind it once) — serving ${keep.join(",")}`,
      );
    return keep.join(",");
  }
  if (k === "--listen-peer-urls") {
    const shares = urls.filter(ctx.shared);
    if (shares.length > 0)
      throw new Error(`--listen-peer-urls ${shares.join(",")} of ${m.name} is shared with another member`);
    return v;
  }
  return urls
    .map((u) => {
      if (!ctx.shared(u)) return u;
      const url = new URL(u);
      url.hostname = m.ip.includes(":") ? `[${m.ip}]` : m.ip;
      const moved = url.toString().replace(/\/$/, "");
      if (ctx.shared(moved)) throw new Error(`cannot move ${k} ${u} of ${m.name}: ${moved} is shared too`);
      m.note(`${k}: ${u} → ${moved} (every member uses ${u}; one host can bind it once)`);
      return moved;
    })
    .join(",");
}

/** File flags the manifest sets, and where each one's file is in the artifacts directory. */
function artifactFile(dir: string, member: string, flag: string): string | undefined {
  switch (flag) {
    case "--cert-file":
      return layout.member(dir, member, "server", "crt");
    case "--key-file":
      return layout.member(dir, member, "server", "key");
    case "--peer-cert-file":
      return layout.member(dir, member, "peer", "crt");
    case "--peer-key-file":
      return layout.member(dir, member, "peer", "key");
    case "--trusted-ca-file":
    case "--peer-trusted-ca-file":
      return layout.caCert(dir);
    default:
      return undefined;
  }
}

/** Path of a re-issued peer cert that also names 127.0.0.1, or undefined if the original already does. */
function peerCertForOneHost(
  dir: string,
  workDir: string,
  member: string,
  certFile: string,
  ca: CaPair | undefined,
): string | undefined {
  const certPem = fs.readFileSync(certFile, "utf8");
  if (certSans(certPem).ipAddresses.includes(loopbackSource)) return undefined;
  if (!ca)
    throw new Error(
      `the peer cert of ${member} (${certFile}) does not name ${loopbackSource}. etcd 3.4 rejects a peer whose ` +
        `source address is not among its cert's SANs (3.5 added --experimental-peer-skip-client-san-verification), ` +
        `and on one host every peer connects from ${loopbackSource}; pass caKeyPem so the rehearsal can re-issue ` +
        `the peer certs with that extra SAN`,
    );
  const keyPem = fs.readFileSync(layout.member(dir, member, "peer", "key"), "utf8");
  const out = path.join(workDir, "pki", member, "peer.crt");
  fs.mkdirSync(path.dirname(out), { recursive: true, mode: 0o700 });
  fs.writeFileSync(out, reissueWithExtraIps({ certPem, keyPem, ca, extraIps: [loopbackSource] }), {
    mode: 0o644,
  });
  return out;
}
