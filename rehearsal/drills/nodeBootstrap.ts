/**
 * The node bootstrap on the live cluster: the members were installed through it (harness/nodeInstall.ts,
 * Secrets Manager on moto with each node's own role); these drills show what it installed, that a second
 * run changes nothing, that a renewed cert reaches the live member without a restart, and that every
 * refused bundle writes nothing: a bad one sealed by the stack's own key, one signed by another key, one
 * written by another principal, and an old version re-staged.
 */
import { createHash, X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tls from "node:tls";
import { parseNodeBundle, renderBundleBody, type NodeBundle } from "../../components/secretStore/bundle";
import { newSigningKey, sealWith } from "../../harness/bundleSealing";
import type { RunningCluster } from "../../harness/cluster";
import { layout } from "../../harness/layout";
import type { InstalledMembers } from "../../harness/nodeInstall";
import { foreignCa, issueLeaf, reissueWithExtraIps, type CaPair } from "../../harness/oneHostPki";
import { bootstrapExit } from "../../tools/bootstrap";
import { expect, runDrill, type DrillResult } from "./types";

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
  // The version each member was installed from, before any drill publishes a newer one.
  const first = await o.installed.aws.current(o.installed.secretIds[members[0]]);
  return [
    await runDrill(
      "node bootstrap: every member installed from its own secret (AWS CLI with its own role's credentials, moto with IAM enforcement)",
      () => installedAsDeclared(o, members),
    ),
    await runDrill("node bootstrap: a second run changes nothing", () => secondRunChangesNothing(o, members)),
    await runDrill("node bootstrap: a renewed server cert reaches the live member without a restart", () =>
      renewalWithoutRestart(o, members[0]),
    ),
    await runDrill(
      "node bootstrap: a bad bundle sealed by the stack's own key is refused and writes nothing (foreign CA, mismatched pair, client-only cert as the server cert, truncated, wrong member)",
      () => refusalsWriteNothing(o, members[1] ?? members[0], members[2] ?? members[0]),
    ),
    await runDrill("node bootstrap: a bundle signed by another key is refused, nothing written", () =>
      signedByAnotherKey(o, members[1] ?? members[0]),
    ),
    await runDrill(
      "node bootstrap: a bundle written by another principal (an account admin with PutSecretValue) is refused, nothing written",
      () => writtenByAnotherPrincipal(o, members[2] ?? members[0]),
    ),
    await runDrill(
      "node bootstrap: a bundle re-staged to an old version (UpdateSecretVersionStage) is refused, nothing written",
      () => restagedToAnOldVersion(o, members[0], first.versionId),
    ),
  ];
}

const secretOf = (o: NodeBootstrapDrillOptions, member: string) => o.installed.secretIds[member];
const bundleOf = async (o: NodeBootstrapDrillOptions, member: string): Promise<NodeBundle> =>
  parseNodeBundle((await o.installed.aws.current(secretOf(o, member))).value);
/** A bundle sealed by the stack's own signing key (as `pulumi up` would publish it). */
const sealed = (o: NodeBootstrapDrillOptions, b: NodeBundle) =>
  sealWith(renderBundleBody(b), o.installed.signing);

async function installedAsDeclared(o: NodeBootstrapDrillOptions, members: string[]): Promise<string> {
  for (const m of members) {
    const root = o.installed.nodes[m].root;
    const b = await bundleOf(o, m);
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
  return `${members.length} members, each from secure-etcd/<cluster>/<env>/<member> through ${o.installed.aws.proxy.url} with its role's session (the package's node policy); files at their modes (keys, manifest, EncryptionConfiguration 0600; PKI, enc, data dirs 0700); ${members[0]} took ${(first.durationMs / 1000).toFixed(1)} s`;
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
  const b = await bundleOf(o, member);
  const cert = b.files.find((f) => f.role === "server-cert")!;
  const key = b.files.find((f) => f.role === "server-key")!;
  const renewed = reissueWithExtraIps({ certPem: cert.content, keyPem: key.content, ca: o.ca, extraIps: [] });
  const serial = new X509Certificate(renewed).serialNumber.toUpperCase();
  const version = await o.installed.aws.put(
    secretOf(o, member),
    sealed(o, { ...b, files: b.files.map((f) => (f === cert ? { ...f, content: renewed } : f)) }),
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

/** Publishes each bundle (as `as`), runs the member's bootstrap, and proves exit 65 with nothing written. */
async function expectRefused(
  o: NodeBootstrapDrillOptions,
  member: string,
  cases: [string, string][],
  as: "deployer" | "intruder" = "deployer",
): Promise<string[]> {
  const root = o.installed.nodes[member].root;
  const said: string[] = [];
  for (const [what, text] of cases) {
    const before = nodeTree(root).join("\n");
    await o.installed.aws.put(secretOf(o, member), text, as);
    const r = await o.installed.rerun(member);
    expect(
      r.code === bootstrapExit.refused,
      `${what}: exit ${r.code}, expected ${bootstrapExit.refused}: ${r.stderr.trim()}`,
    );
    expect(nodeTree(root).join("\n") === before, `${what}: files under ${root} changed`);
    said.push(`${what}: "${r.stderr.trim().replace(/^.*refused: /, "")}"`);
  }
  return said;
}

/** The deployer publishes the good bundle again (a new version, same content): nothing changes. */
async function publishBack(o: NodeBootstrapDrillOptions, member: string, goodText: string): Promise<void> {
  await o.installed.aws.put(secretOf(o, member), goodText);
  const back = await o.installed.rerun(member);
  expect(
    back.code === 0 && /\(0 files written\)|nothing changed/.test(back.stdout),
    `after the good bundle again: exit ${back.code}: ${back.stdout.trim()}${back.stderr.trim()}`,
  );
}

async function refusalsWriteNothing(
  o: NodeBootstrapDrillOptions,
  member: string,
  other: string,
): Promise<string> {
  const goodText = (await o.installed.aws.current(secretOf(o, member))).value;
  const good = parseNodeBundle(goodText);
  const replaceFiles = (contents: Record<string, string>) =>
    sealed(o, {
      ...good,
      files: good.files.map((f) => (f.role in contents ? { ...f, content: contents[f.role] } : f)),
    });
  const file = (role: string) => good.files.find((f) => f.role === role)!.content;
  const clientOnly = issueLeaf({ ca: o.ca, commonName: member, uses: ["client_auth"] });
  const cases: [string, string][] = [
    [
      "foreign CA",
      replaceFiles({
        "server-cert": reissueWithExtraIps({
          certPem: file("server-cert"),
          keyPem: file("server-key"),
          ca: foreignCa(),
          extraIps: [],
        }),
      }),
    ],
    ["mismatched pair", replaceFiles({ "server-cert": file("peer-cert") })],
    [
      "client-only cert as the server cert",
      replaceFiles({ "server-cert": clientOnly.certPem, "server-key": clientOnly.keyPem }),
    ],
    ["truncated", goodText.slice(0, Math.floor(goodText.length / 2))],
    ["wrong member", sealed(o, await bundleOf(o, other))],
  ];
  const said = await expectRefused(o, member, cases);
  await publishBack(o, member, goodText);
  return `${member}, each exit 65 with nothing written — ${said.join("; ")}`;
}

async function signedByAnotherKey(o: NodeBootstrapDrillOptions, member: string): Promise<string> {
  const goodText = (await o.installed.aws.current(secretOf(o, member))).value;
  const good = parseNodeBundle(goodText);
  const said = await expectRefused(o, member, [
    ["the stack's own bundle, signed by another key", sealWith(renderBundleBody(good), newSigningKey())],
  ]);
  await publishBack(o, member, goodText);
  return `${member}: ${said.join("; ")}`;
}

async function writtenByAnotherPrincipal(o: NodeBootstrapDrillOptions, member: string): Promise<string> {
  const goodText = (await o.installed.aws.current(secretOf(o, member))).value;
  const good = parseNodeBundle(goodText);
  // What an account admin could write: a manifest of its own, sealed by a key it has, or slipped under
  // the stack's seal (which names the old sha256).
  const hostile = {
    ...good,
    files: good.files.map((f) =>
      f.role === "etcd-manifest" ? { ...f, content: `${f.content}# written by another principal\n` } : f,
    ),
  };
  const underOldSeal = `${renderBundleBody(hostile)}${goodText.slice(goodText.lastIndexOf("end "))}`.replace(
    /^end (\d+) [0-9a-f]{64} /m,
    (_, n: string) => `end ${n} ${createHash("sha256").update(renderBundleBody(hostile)).digest("hex")} `,
  );
  const said = await expectRefused(
    o,
    member,
    [
      ["a manifest of its own, signed by its own key", sealWith(renderBundleBody(hostile), newSigningKey())],
      ["a manifest of its own under the stack's seal", underOldSeal],
    ],
    "intruder",
  );
  await publishBack(o, member, goodText);
  return `${member}, written as arn:aws:iam::…:user/account-admin (moto evaluates its identity policy; the secret's resource policy, which admits only the deployer as writer, is not evaluated by moto) — ${said.join("; ")}`;
}

async function restagedToAnOldVersion(
  o: NodeBootstrapDrillOptions,
  member: string,
  oldVersion: string,
): Promise<string> {
  const aws = o.installed.aws;
  const secret = secretOf(o, member);
  const now = await aws.current(secret);
  expect(now.versionId !== oldVersion, `${member}: no newer version was installed since ${oldVersion}`);
  const root = o.installed.nodes[member].root;
  const before = nodeTree(root).join("\n");
  // UpdateSecretVersionStage needs no KMS right: the account admin moves AWSCURRENT back.
  await aws.restage(secret, oldVersion, "intruder");
  const r = await o.installed.rerun(member);
  expect(
    r.code === bootstrapExit.refused,
    `exit ${r.code}, expected ${bootstrapExit.refused}: ${r.stderr.trim()}`,
  );
  expect(nodeTree(root).join("\n") === before, `files under ${root} changed`);
  await aws.restage(secret, now.versionId);
  const back = await o.installed.rerun(member);
  expect(back.code === 0, `after re-staging the current version: exit ${back.code}: ${back.stderr.trim()}`);
  return `${member}: AWSCURRENT moved back to ${oldVersion.slice(0, 8)} (older generation) → exit 65 "${r.stderr.trim().replace(/^.*refused: /, "")}", nothing written; moved forward again → exit 0`;
}
