/**
 * Transport-security drills against a running rehearsal cluster, each proven with real clients:
 * etcdctl (etcd's own Go client) and a Node TLS/TCP client (OpenSSL) that reports exactly how a
 * connection failed. A "rejected" drill passes only if the connection is refused; its detail says how
 * (client error, the server's TLS alert, and etcd's own log line where it wrote one).
 *
 * Every building block takes plain endpoints and files, so the same checks can be aimed at a
 * deliberately insecure etcd to show they fail there.
 */
import { X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ClientRole } from "../../components/secureEtcd";
import type { RunningCluster } from "../../harness/cluster";
import { flagValue } from "../../harness/etcdFlags";
import { etcdctlTlsArgs, parseMemberList, runEtcdctl } from "../../harness/etcdctl";
import { layout } from "../../harness/layout";
import { foreignCa, issueLeaf, loopbackSource, writePair, type CaPair } from "../../harness/oneHostPki";
import { sleep } from "../../harness/process";
import {
  describeProbe,
  served,
  tlsProbe,
  type ProbeOptions,
  type ProbeOutcome,
} from "../../harness/tlsProbe";
import { lastLine } from "../../tools/shared/process";
import { logSize, rejectionLines } from "./etcdLog";
import { peerJoinDrill } from "./peerJoin";
import { clip, DrillFailure, expect, runDrill, type DrillResult } from "./types";

export interface TlsDrillOptions {
  /** Artifacts directory. */
  dir: string;
  cluster: RunningCluster;
  /** Scratch space for foreign/expired certs and the intruder's data dir. */
  workDir: string;
  /** The etcd CA key (never written to DIR); without it the expired-cert drill cannot run and fails. */
  caKeyPem?: string;
  /** The etcd CA cert; default DIR/pki/ca.crt. */
  caCertPem?: string;
  log?: (line: string) => void;
}

/** A client endpoint to aim a check at. */
export interface Endpoint {
  host: string;
  port: number;
  /** Member log to quote etcd's own rejection message from. */
  logFile?: string;
}

export interface ClientFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

export const endpointOf = (url: string, logFile?: string): Endpoint => {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, ""), port: Number(u.port), logFile };
};
const hostPort = (e: Endpoint) => `${e.host.includes(":") ? `[${e.host}]` : e.host}:${e.port}`;

/** What etcd logged about the attempt (waits briefly: etcd logs asynchronously). */
async function etcdSaid(e: Endpoint, offset: number): Promise<string> {
  if (!e.logFile) return "";
  for (let i = 0; i < 5; i++) {
    const lines = rejectionLines(e.logFile, offset);
    if (lines.length > 0) return `; etcd logged: ${clip(lines[0], 260)}`;
    await sleep(100);
  }
  return "";
}

/** etcdctl `get` against one endpoint with the given files; short timeouts (a refusal shows as a timeout). */
async function etcdctlGet(etcdctl: string, url: string, files: ClientFiles) {
  const tlsArgs = [
    ...(files.caFile ? [`--cacert=${files.caFile}`] : []),
    ...(files.certFile ? [`--cert=${files.certFile}`] : []),
    ...(files.keyFile ? [`--key=${files.keyFile}`] : []),
  ];
  return runEtcdctl(etcdctl, [`--endpoints=${url}`, ...tlsArgs, "get", "/rehearsal/tls-probe"], {
    dialTimeout: "1s",
    commandTimeout: "2s",
  });
}

/**
 * The common shape of a "rejected" drill: etcdctl must fail and the Node client must not be served.
 * Returns the detail; throws DrillFailure if either client got through.
 */
async function expectRejected(o: {
  etcdctl: string;
  endpoint: Endpoint;
  scheme: "http" | "https";
  files: ClientFiles;
  probe: Omit<ProbeOptions, "host" | "port">;
  what: string;
}): Promise<string> {
  const url = `${o.scheme}://${hostPort(o.endpoint)}`;
  const offset = logSize(o.endpoint.logFile);
  const ctl = await etcdctlGet(o.etcdctl, url, o.files);
  const probe = await tlsProbe({ host: o.endpoint.host, port: o.endpoint.port, ...o.probe });
  const said = await etcdSaid(o.endpoint, offset);
  const ctlText =
    ctl.code === 0
      ? "etcdctl get SUCCEEDED"
      : `etcdctl get failed (${clip(lastLine(ctl.output, "(no output)"), 90)})`;
  if (ctl.code === 0 || served(probe))
    throw new DrillFailure(
      `${o.what} was ACCEPTED by ${url}: ${ctlText}; node client: ${describeProbe(probe)}${said}`,
    );
  return `${o.what} refused by ${url}: ${ctlText}; node client: ${clip(describeProbe(probe), 160)}${said}`;
}

// ---------------------------------------------------------------------------------------------
// Building blocks (also used against deliberately insecure etcds in the tests)

/** A plaintext (http://) client must not be served. */
export function plaintextClientRejected(etcdctl: string, endpoint: Endpoint): Promise<DrillResult> {
  return runDrill("rejected: plaintext client (http://)", () =>
    expectRejected({
      etcdctl,
      endpoint,
      scheme: "http",
      files: {},
      probe: { plaintext: true },
      what: "a plaintext HTTP/gRPC client",
    }),
  );
}

/** A TLS client that trusts the CA but presents no cert must not be served. */
export function certlessClientRejected(
  etcdctl: string,
  endpoint: Endpoint,
  caFile: string,
): Promise<DrillResult> {
  return runDrill("rejected: TLS client without a client cert", () =>
    expectRejected({
      etcdctl,
      endpoint,
      scheme: "https",
      files: { caFile },
      probe: { caFile },
      what: "a TLS client with no client cert",
    }),
  );
}

/** A TLS client presenting `client` (e.g. foreign-CA or expired) must not be served. */
export function clientCertRejected(
  name: string,
  what: string,
  etcdctl: string,
  endpoint: Endpoint,
  caFile: string,
  client: { cert: string; key: string },
): Promise<DrillResult> {
  const files = { caFile, certFile: client.cert, keyFile: client.key };
  return runDrill(name, () =>
    expectRejected({ etcdctl, endpoint, scheme: "https", files, probe: files, what }),
  );
}

// ---------------------------------------------------------------------------------------------
// The drills

interface Ctx extends TlsDrillOptions {
  ca: string;
  etcdctl: string;
  running: RunningCluster["members"];
  first: RunningCluster["members"][number];
  foreign: CaPair;
  foreignDir: string;
}

const clientFiles = (dir: string, role: ClientRole): ClientFiles => ({
  caFile: layout.caCert(dir),
  certFile: layout.client(dir, role, "crt"),
  keyFile: layout.client(dir, role, "key"),
});

function makeCtx(o: TlsDrillOptions): Ctx {
  const running = o.cluster.members.filter((m) => m.running);
  if (running.length === 0) throw new Error("TLS drills: no cluster member is running");
  const foreignDir = path.join(o.workDir, "tls-drills");
  fs.mkdirSync(foreignDir, { recursive: true, mode: 0o700 });
  const foreign = foreignCa("rehearsal-foreign-ca");
  fs.writeFileSync(path.join(foreignDir, "foreign-ca.crt"), foreign.certPem, { mode: 0o644 });
  return {
    ...o,
    ca: layout.caCert(o.dir),
    etcdctl: o.cluster.etcdctlBinary,
    running,
    first: running[0],
    foreign,
    foreignDir,
  };
}

/** Runs every TLS drill against the cluster; never throws for a failed drill. */
export async function runTlsDrills(o: TlsDrillOptions): Promise<DrillResult[]> {
  const log = o.log ?? (() => undefined);
  const ctx = makeCtx(o);

  const drills: [string, (c: Ctx) => Promise<DrillResult>][] = [
    ["mutual TLS health", clusterHealthy],
    ["put/get", putGetWithApiserverCert],
    ["plaintext", (c) => plaintextClientRejected(c.etcdctl, endpointOf(c.first.clientUrl, c.first.logFile))],
    [
      "no cert",
      (c) => certlessClientRejected(c.etcdctl, endpointOf(c.first.clientUrl, c.first.logFile), c.ca),
    ],
    ["foreign client", foreignClientRejected],
    ["foreign peer handshake", foreignPeerHandshakeRejected],
    ["foreign peer join", (c) => peerJoinDrill(c)],
    ["SAN", nameNotInSanRejected],
    ["expired", expiredClientRejected],
    ["TLS 1.1", tls11Refused],
    ["CBC", cbcCipherRefused],
    ["server certs", serverCertsVerify],
  ];
  const results: DrillResult[] = [];
  for (const [label, drill] of drills) {
    log(`tls drill: ${label}…`);
    const r = await drill(ctx);
    log(`  ${r.passed ? "PASS" : "FAIL"} ${r.name} (${r.seconds.toFixed(2)} s)`);
    results.push(r);
  }
  return results;
}

function clusterHealthy(c: Ctx): Promise<DrillResult> {
  return runDrill("mutual TLS: every member healthy, peers on https", async () => {
    const endpoints = c.running.map((m) => m.clientUrl).join(",");
    const health = await runEtcdctl(c.etcdctl, [
      `--endpoints=${endpoints}`,
      ...etcdctlTlsArgs(c.dir, "healthcheck-client"),
      "endpoint",
      "health",
    ]);
    for (const m of c.running)
      expect(
        new RegExp(`${m.clientUrl.replace(/[.]/g, "\\.")} is healthy`).test(health.output),
        `${m.name} not healthy over mutual TLS: ${clip(health.output)}`,
      );
    const list = await runEtcdctl(c.etcdctl, [
      `--endpoints=${c.first.clientUrl}`,
      ...etcdctlTlsArgs(c.dir, "healthcheck-client"),
      "member",
      "list",
      "-w",
      "simple",
    ]);
    expect(list.code === 0, `etcdctl member list failed: ${clip(list.output)}`);
    const rows = parseMemberList(list.stdout);
    for (const m of c.cluster.members) {
      const row = rows.find((r) => r.name === m.name);
      expect(row, `member list has no started member ${m.name}: ${clip(list.stdout)}`);
      expect(row.status === "started", `${m.name} is ${row.status}`);
      expect(
        row.peerUrls.length > 0 && row.peerUrls.every((u) => u.startsWith("https://")),
        `${m.name} peer URLs are not all https: ${row.peerUrls.join(",")}`,
      );
    }
    // Raft traffic flows only over the peer listeners: a committed proposal proves the peers talk TLS.
    for (const m of c.running)
      for (const f of ["--client-cert-auth", "--peer-client-cert-auth"])
        expect(flagValue(m.args, f) === "true", `${m.name} runs without ${f}=true`);
    return (
      `${c.running.length} members healthy (healthcheck-client cert; health commits a proposal through raft); ` +
      `member list: ${rows.map((r) => `${r.name} ${r.status} ${r.peerUrls.join(",")}`).join("; ")}; ` +
      `every member runs --client-cert-auth=true --peer-client-cert-auth=true`
    );
  });
}

function putGetWithApiserverCert(c: Ctx): Promise<DrillResult> {
  return runDrill("put/get with the apiserver-etcd-client cert", async () => {
    const key = `/rehearsal/tls-drill/${Date.now()}`;
    const value = `written-over-mtls-${Math.random().toString(36).slice(2)}`;
    const tlsArgs = etcdctlTlsArgs(c.dir, "apiserver-etcd-client");
    const writer = c.first.clientUrl;
    const put = await runEtcdctl(c.etcdctl, [`--endpoints=${writer}`, ...tlsArgs, "put", key, value]);
    expect(put.code === 0 && put.stdout.includes("OK"), `put via ${writer} failed: ${clip(put.output)}`);
    const readers = c.running.slice(-1)[0];
    const get = await runEtcdctl(c.etcdctl, [
      `--endpoints=${readers.clientUrl}`,
      ...tlsArgs,
      "get",
      key,
      "--print-value-only",
    ]);
    expect(get.code === 0, `get via ${readers.clientUrl} failed: ${clip(get.output)}`);
    expect(get.stdout.trim() === value, `read back ${JSON.stringify(get.stdout.trim())}, wrote ${value}`);
    await runEtcdctl(c.etcdctl, [`--endpoints=${writer}`, ...tlsArgs, "del", key]);
    return `put ${key} via ${writer}, read the same value back via ${readers.clientUrl} (kube-apiserver-etcd-client cert)`;
  });
}

function foreignClientRejected(c: Ctx): Promise<DrillResult> {
  const pair = writePair(
    path.join(c.foreignDir, "foreign-client"),
    issueLeaf({ ca: c.foreign, commonName: "kube-apiserver-etcd-client", uses: ["client_auth"] }),
  );
  return clientCertRejected(
    "rejected: client cert from a foreign CA",
    "a client cert signed by a foreign CA (same CN as the apiserver's)",
    c.etcdctl,
    endpointOf(c.first.clientUrl, c.first.logFile),
    c.ca,
    pair,
  );
}

function foreignPeerPair(c: Ctx, ip: string) {
  const base = path.join(c.foreignDir, `foreign-peer-${ip}`);
  return writePair(
    base,
    issueLeaf({
      ca: c.foreign,
      commonName: "intruder",
      uses: ["server_auth", "client_auth"],
      dnsNames: ["intruder"],
      // 127.0.0.1 too, so etcd's source-address check is not what stops it: only the CA is wrong.
      ipAddresses: [ip, loopbackSource],
    }),
  );
}

function foreignPeerHandshakeRejected(c: Ctx): Promise<DrillResult> {
  return runDrill("rejected: peer cert from a foreign CA (handshake on :2380)", async () => {
    const peer = endpointOf(c.first.peerUrl, c.first.logFile);
    const pair = foreignPeerPair(c, loopbackSource);
    // Control: a real member's peer cert is served by the same port.
    const other = c.running.find((m) => m.name !== c.first.name) ?? c.first;
    const control = await tlsProbe({
      host: peer.host,
      port: peer.port,
      caFile: c.ca,
      certFile: flagValue(other.args, "--peer-cert-file"),
      keyFile: flagValue(other.args, "--peer-key-file"),
    });
    expect(
      served(control),
      `control failed: ${other.name}'s own peer cert was not served: ${describeProbe(control)}`,
    );
    const offset = logSize(peer.logFile);
    const probe = await tlsProbe({
      host: peer.host,
      port: peer.port,
      caFile: c.ca,
      certFile: pair.cert,
      keyFile: pair.key,
    });
    const said = await etcdSaid(peer, offset);
    expect(
      !served(probe),
      `a foreign-CA peer cert was SERVED by ${c.first.peerUrl}: ${describeProbe(probe)}`,
    );
    return (
      `${c.first.peerUrl} refused a foreign-CA peer cert: ${clip(describeProbe(probe), 160)}${said}; ` +
      `control: ${other.name}'s peer cert ${describeProbe(control).split(" over")[0]}`
    );
  });
}

/**
 * `member add` an intruder, start a real etcd for it with a peer cert from `peerCa` (default: a foreign
 * CA) and --initial-cluster-state=existing, and show it never joins; then remove it again.
 * Passing the real CA (cert and key) instead shows the drill fails when the peer is legitimate.
 */
export function foreignPeerJoinRejected(
  o: TlsDrillOptions & { peerCa?: CaPair; waitMs?: number },
): Promise<DrillResult> {
  return peerJoinDrill(makeCtx(o), o);
}

function nameNotInSanRejected(c: Ctx): Promise<DrillResult> {
  return runDrill("rejected: server name not in the server cert's SANs", async () => {
    const e = endpointOf(c.first.clientUrl);
    const files = clientFiles(c.dir, "healthcheck-client");
    const name = "not-in-san.example";
    const bad = await tlsProbe({ host: e.host, port: e.port, servername: name, ...files });
    const good = await tlsProbe({ host: e.host, port: e.port, ...files });
    expect(served(good), `control failed: connecting by IP ${e.host} was not served: ${describeProbe(good)}`);
    expect(
      !served(bad) &&
        /ALTNAME|does not match|not in the cert/i.test(`${bad.authorizationError} ${bad.error}`),
      `connecting as ${name} to ${e.host} was ${served(bad) ? "SERVED" : `refused for another reason: ${describeProbe(bad)}`}`,
    );
    return (
      `client connecting to ${e.host}:${e.port} as ${name} refused the server: ${clip(bad.authorizationError ?? "", 120)} ` +
      `(cert SANs: ${bad.serverSan}); control by IP ${e.host}: ${describeProbe(good).split(" over")[0]}`
    );
  });
}

function expiredClientRejected(c: Ctx): Promise<DrillResult> {
  const name = "rejected: expired client cert (signed by the etcd CA)";
  if (!c.caKeyPem)
    return runDrill(name, () => {
      throw new DrillFailure("not run: needs the etcd CA key (caKeyPem) to sign an expired client cert");
    });
  const ca = { keyPem: c.caKeyPem, certPem: c.caCertPem ?? fs.readFileSync(c.ca, "utf8") };
  const pair = writePair(
    path.join(c.foreignDir, "expired-client"),
    issueLeaf({ ca, commonName: "kube-apiserver-etcd-client", uses: ["client_auth"], expiredHoursAgo: 1 }),
  );
  const notAfter = new X509Certificate(fs.readFileSync(pair.cert)).validTo;
  return clientCertRejected(
    name,
    `a client cert from the etcd CA that expired ${notAfter}`,
    c.etcdctl,
    endpointOf(c.first.clientUrl, c.first.logFile),
    c.ca,
    pair,
  );
}

async function versionProbe(
  c: Ctx,
  extra: Partial<ProbeOptions>,
): Promise<{ probe: ProbeOutcome; said: string }> {
  const e = endpointOf(c.first.clientUrl, c.first.logFile);
  const offset = logSize(e.logFile);
  const probe = await tlsProbe({
    host: e.host,
    port: e.port,
    ...clientFiles(c.dir, "healthcheck-client"),
    ...extra,
  });
  return { probe, said: await etcdSaid(e, offset) };
}

function tls11Refused(c: Ctx): Promise<DrillResult> {
  return runDrill("rejected: TLS 1.1 handshake", async () => {
    // SECLEVEL=0 lets OpenSSL offer TLS 1.1 at all; the drill only counts a refusal by the server.
    const { probe, said } = await versionProbe(c, {
      minVersion: "TLSv1.1",
      maxVersion: "TLSv1.1",
      ciphers: "DEFAULT:@SECLEVEL=0",
    });
    expect(!served(probe), `TLS 1.1 was SERVED: ${describeProbe(probe)}`);
    expect(
      probe.serverAlert,
      `inconclusive: the client failed locally, not by the server: ${describeProbe(probe)}`,
    );
    return `${c.first.clientUrl} answered a TLS 1.1 ClientHello with ${clip(alertOf(probe), 120)}${said}`;
  });
}

function cbcCipherRefused(c: Ctx): Promise<DrillResult> {
  return runDrill("rejected: TLS 1.2 with only non-AEAD (CBC) cipher suites", async () => {
    const { probe, said } = await versionProbe(c, {
      maxVersion: "TLSv1.2",
      ciphers:
        "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:@SECLEVEL=0",
    });
    expect(!served(probe), `a CBC suite was SERVED: ${describeProbe(probe)}`);
    expect(
      probe.serverAlert,
      `inconclusive: the client failed locally, not by the server: ${describeProbe(probe)}`,
    );
    // The control: what the member's --tls-min-version allows, with the default suites (AEAD) is served.
    const tls13Only = c.first.args.includes("--tls-min-version=TLS1.3");
    const aead = await versionProbe(c, tls13Only ? {} : { maxVersion: "TLSv1.2" });
    expect(
      served(aead.probe),
      `control failed: ${tls13Only ? "TLS 1.3" : "TLS 1.2 with AEAD suites"} was not served: ${describeProbe(aead.probe)}`,
    );
    return (
      `CBC-only ClientHello answered with ${clip(alertOf(probe), 120)}${said}; ` +
      (tls13Only
        ? `control: --tls-min-version=TLS1.3 refuses TLS 1.2 altogether, TLS 1.3 negotiated ${aead.probe.cipher}`
        : `control: TLS 1.2 negotiated ${aead.probe.cipher}`)
    );
  });
}

const alertOf = (p: ProbeOutcome) => {
  const m = /alert ([a-z ]+?)(?::|$)/i.exec(p.error ?? "");
  return m ? `alert "${m[1].trim()}" (${p.error?.split(":")[0]})` : (p.error ?? "no error");
};

function serverCertsVerify(c: Ctx): Promise<DrillResult> {
  return runDrill(
    "server and peer certs verify against DIR/pki/ca.crt with the member's IP SAN",
    async () => {
      const caCert = new X509Certificate(fs.readFileSync(c.ca));
      const notes: string[] = [];
      for (const m of c.cluster.members) {
        for (const kind of ["server", "peer"] as const) {
          const file = layout.member(c.dir, m.name, kind, "crt");
          const cert = new X509Certificate(fs.readFileSync(file));
          expect(
            cert.checkIssued(caCert) && cert.verify(caCert.publicKey),
            `${file} is not signed by ${c.ca}`,
          );
          expect(
            cert.checkIP(m.ip) !== undefined,
            `${file} has no IP SAN ${m.ip} (SANs: ${cert.subjectAltName})`,
          );
        }
        if (!m.running) continue;
        const e = endpointOf(m.clientUrl);
        const p = await tlsProbe({ host: e.host, port: e.port, ...clientFiles(c.dir, "healthcheck-client") });
        expect(p.authorized && served(p), `${m.clientUrl}: ${p.authorizationError ?? describeProbe(p)}`);
        const served_ = fs.readFileSync(layout.member(c.dir, m.name, "server", "crt"), "utf8");
        expect(
          (p.serverSan ?? "") === (new X509Certificate(served_).subjectAltName ?? ""),
          `${m.clientUrl} serves a cert other than ${m.name}/server.crt (SANs ${p.serverSan})`,
        );
        notes.push(`${m.name}: ${m.clientUrl} verified by IP (${p.protocol} ${p.cipher})`);
      }
      return `${c.cluster.members.length * 2} member certs signed by ca.crt with their member IP SAN; ${notes.join("; ")}`;
    },
  );
}
