/**
 * The node bootstrap on the live cluster: the members were installed through it (harness/nodeInstall.ts);
 * these drills show what it installed, that a second run changes nothing, that a renewed cert reaches the
 * live member without a restart, and that every refused bundle writes nothing.
 */
import { createHash, X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tls from "node:tls";
import { parseNodeBundle, renderNodeBundle, type NodeBundle } from "../../components/secretStore/bundle";
import type { RunningCluster } from "../../harness/cluster";
import { layout } from "../../harness/layout";
import type { InstalledMembers } from "../../harness/nodeInstall";
import { foreignCa, reissueWithExtraIps, type CaPair } from "../../harness/oneHostPki";
import { bootstrapExit } from "../../tools/bootstrap";
import { DrillFailure, expect, runDrill, type DrillResult } from "./types";

export interface NodeBootstrapDrillOptions {
  dir: string;
  cluster: RunningCluster;
  installed: InstalledMembers;
  ca: CaPair;
}

/** Every file and dir under a node root with its mode, size, mtime and content hash. */
export function nodeTree(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      const st = fs.statSync(p);
      const mode = (st.mode & 0o777).toString(8);
      if (e.isDirectory()) {
        out.push(`${path.relative(root, p)}/ ${mode}`);
        walk(p);
      } else {
        const hash = createHash("sha256").update(fs.readFileSync(p)).digest("hex").slice(0, 16);
        out.push(`${path.relative(root, p)} ${mode} ${st.size} ${st.mtimeMs} ${hash}`);
      }
    }
  };
  walk(root);
  return out;
}

export async function runNodeBootstrapDrills(o: NodeBootstrapDrillOptions): Promise<DrillResult[]> {
  const members = o.cluster.members.map((m) => m.name);
  return [
    await runDrill(
      "node bootstrap: every member installed from its own secret (AWS CLI, Secrets Manager wire protocol)",
      () => installedAsDeclared(o, members),
    ),
    await runDrill("node bootstrap: a second run changes nothing", () => secondRunChangesNothing(o, members)),
    await runDrill("node bootstrap: a renewed server cert reaches the live member without a restart", () =>
      renewalWithoutRestart(o, members[0]),
    ),
    await runDrill(
      "node bootstrap: a bad bundle is refused and writes nothing (foreign CA, mismatched pair, truncated, wrong member)",
      () => refusalsWriteNothing(o, members[1] ?? members[0], members[2] ?? members[0]),
    ),
  ];
}

const bundleOf = (o: NodeBootstrapDrillOptions, member: string): NodeBundle => {
  const s = o.installed.secrets.get(o.installed.secretIds[member]);
  const current = s?.versions.find((v) => v.stages.includes("AWSCURRENT"));
  if (!current?.secretString) throw new DrillFailure(`no current secret version for ${member}`);
  return parseNodeBundle(current.secretString);
};

function installedAsDeclared(o: NodeBootstrapDrillOptions, members: string[]): string {
  for (const m of members) {
    const root = o.installed.nodes[m].root;
    const b = bundleOf(o, m);
    for (const d of b.dirs) {
      const mode = (fs.statSync(path.join(root, d.path)).mode & 0o777).toString(8).padStart(4, "0");
      expect(mode === d.mode, `${m}: ${d.path} is ${mode}, the bundle says ${d.mode}`);
    }
    for (const f of b.files) {
      const file = path.join(root, f.path);
      const mode = (fs.statSync(file).mode & 0o777).toString(8).padStart(4, "0");
      expect(mode === f.mode, `${m}: ${f.path} is ${mode}, the bundle says ${f.mode}`);
      expect(fs.readFileSync(file, "utf8") === f.content, `${m}: ${f.path} differs from the bundle`);
    }
  }
  const first = o.installed.firstRuns[members[0]];
  return `${members.length} members, each from secure-etcd/<cluster>/<env>/<member> through ${o.installed.secrets.url}; files at their modes (keys, manifest, EncryptionConfiguration 0600; PKI, enc, data dirs 0700); ${members[0]} took ${(first.durationMs / 1000).toFixed(1)} s`;
}

async function secondRunChangesNothing(o: NodeBootstrapDrillOptions, members: string[]): Promise<string> {
  for (const m of members) {
    const before = nodeTree(o.installed.nodes[m].root);
    const r = await o.installed.rerun(m);
    expect(r.code === 0, `${m}: exit ${r.code}: ${r.stderr.trim()}`);
    expect(
      /nothing changed/.test(r.stdout),
      `${m}: the bootstrap did not say nothing changed: ${r.stdout.trim()}`,
    );
    expect(nodeTree(o.installed.nodes[m].root).join("\n") === before.join("\n"), `${m}: files changed`);
  }
  return `every member: exit 0, "nothing changed", no file written (modes, sizes, mtimes, hashes equal)`;
}

/** The serial of the cert a member's client listener serves right now. */
function servedSerial(dir: string, url: string): Promise<string> {
  const u = new URL(url);
  const file = (ext: "crt" | "key") => fs.readFileSync(layout.client(dir, "healthcheck-client", ext));
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      {
        host: u.hostname,
        port: Number(u.port),
        ca: fs.readFileSync(layout.caCert(dir)),
        cert: file("crt"),
        key: file("key"),
        servername: undefined,
        checkServerIdentity: () => undefined,
      },
      () => {
        resolve(socket.getPeerCertificate().serialNumber.toUpperCase());
        socket.end();
      },
    );
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no TLS handshake with ${url}`)));
    socket.on("error", reject);
  });
}

async function renewalWithoutRestart(o: NodeBootstrapDrillOptions, member: string): Promise<string> {
  const m = o.cluster.member(member);
  const pid = m.pid;
  const before = await servedSerial(o.dir, m.clientUrl);
  const b = bundleOf(o, member);
  const cert = b.files.find((f) => f.role === "server-cert")!;
  const key = b.files.find((f) => f.role === "server-key")!;
  const renewed = reissueWithExtraIps({ certPem: cert.content, keyPem: key.content, ca: o.ca, extraIps: [] });
  const serial = new X509Certificate(renewed).serialNumber.toUpperCase();
  const version = o.installed.secrets.put(
    o.installed.secretIds[member],
    renderNodeBundle({ ...b, files: b.files.map((f) => (f === cert ? { ...f, content: renewed } : f)) }),
  );
  const r = await o.installed.rerun(member);
  expect(r.code === 0, `exit ${r.code}: ${r.stderr.trim()}`);
  expect(
    /no restart needed/.test(r.stdout),
    `the bootstrap did not say no restart is needed: ${r.stdout.trim()}`,
  );
  const after = await servedSerial(o.dir, m.clientUrl);
  expect(
    after === serial,
    `the member serves serial ${after}, the renewed cert is ${serial} (before: ${before})`,
  );
  expect(m.pid === pid && m.running, `etcd pid ${pid} → ${m.pid} (running: ${m.running})`);
  return `${member}: version ${version.slice(0, 8)} installed; serving serial ${before} → ${after} with the same pid ${pid}; the bootstrap said "no restart needed"`;
}

async function refusalsWriteNothing(
  o: NodeBootstrapDrillOptions,
  member: string,
  other: string,
): Promise<string> {
  const good = bundleOf(o, member);
  const goodText = renderNodeBundle(good);
  const replaceFile = (role: string, content: string) =>
    renderNodeBundle({ ...good, files: good.files.map((f) => (f.role === role ? { ...f, content } : f)) });
  const file = (role: string) => good.files.find((f) => f.role === role)!.content;
  const cases: [string, string][] = [
    [
      "foreign CA",
      replaceFile(
        "server-cert",
        reissueWithExtraIps({
          certPem: file("server-cert"),
          keyPem: file("server-key"),
          ca: foreignCa(),
          extraIps: [],
        }),
      ),
    ],
    ["mismatched pair", replaceFile("server-cert", file("peer-cert"))],
    ["truncated", goodText.slice(0, Math.floor(goodText.length / 2))],
    ["wrong member", renderNodeBundle(bundleOf(o, other))],
  ];
  const root = o.installed.nodes[member].root;
  const said: string[] = [];
  for (const [what, text] of cases) {
    const before = nodeTree(root).join("\n");
    o.installed.secrets.put(o.installed.secretIds[member], text);
    const r = await o.installed.rerun(member);
    expect(
      r.code === bootstrapExit.refused,
      `${what}: exit ${r.code}, expected ${bootstrapExit.refused}: ${r.stderr.trim()}`,
    );
    expect(nodeTree(root).join("\n") === before, `${what}: files under ${root} changed`);
    said.push(`${what}: "${r.stderr.trim().replace(/^.*refused: /, "")}"`);
  }
  // The operator publishes the good bundle again (a new version of the same content): no file changes.
  o.installed.secrets.put(o.installed.secretIds[member], goodText);
  const back = await o.installed.rerun(member);
  expect(
    back.code === 0 && /\(0 files written\)|nothing changed/.test(back.stdout),
    `after the good bundle again: exit ${back.code}: ${back.stdout.trim()}`,
  );
  return `${member}, each exit 65 with nothing written — ${said.join("; ")}`;
}
