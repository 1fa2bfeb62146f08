import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { renderArtifacts, type RenderedArtifacts } from "../harness/artifacts";
import { planCluster } from "../harness/clusterPlan";
import { etcdctlTlsArgs, untilHealthy } from "../harness/etcdctl";
import { layout } from "../harness/layout";
import { freeLoopbackAddress, spawnManaged, type ManagedProcess } from "../harness/process";
import { repoRoot } from "../harness/stackFiles";
import { etcdReleaseFor, type EtcdRelease } from "../harness/upstream";
import { preflightCommand, preflightUsage } from "../tools/commands/preflight";
import { secureEtcd } from "../tools/cli";
import { memberListCheck } from "../tools/preflight";
import { parseMemberList, type ListedMember } from "../tools/preflight/live";
import { tempDirs } from "./support/tempDirs";

const declared = [
  { name: "cp-1", ip: "10.0.1.10" },
  { name: "cp-2", ip: "10.0.2.10" },
  { name: "cp-3", ip: "10.0.3.10" },
];
const listed = (over: Partial<ListedMember>[] = []): ListedMember[] => [
  ...declared.map((d, i) => ({
    id: `a${i}`,
    name: d.name,
    started: true,
    peerUrls: [`https://${d.ip}:2380`],
    clientUrls: [`https://${d.ip}:2379`],
    learner: false,
  })),
  ...over.map((o) => ({
    id: "ff",
    name: "",
    started: true,
    peerUrls: [],
    clientUrls: [],
    learner: false,
    ...o,
  })),
];

const capture = async (argv: string[], cwd = repoRoot) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await preflightCommand(argv, { out: (l) => out.push(l), err: (l) => err.push(l), cwd });
  return { code, out: out.join("\n"), err: err.join("\n") };
};

describe("preflight: member list against the declared members", () => {
  it("exactly the declared members, started, at their peer URLs: pass", () => {
    assert.equal(memberListCheck(declared, listed()).status, "pass");
  });

  it("a member added and never started (a replaced node's zombie) is named with its removal", () => {
    const c = memberListCheck(
      declared,
      listed([{ id: "8e9e05c52164694d", started: false, peerUrls: ["https://10.0.9.9:2380"] }]),
    );
    assert.equal(c.status, "fail");
    assert.match(
      c.detail,
      /8e9e05c52164694d \(peer https:\/\/10\.0\.9\.9:2380\) was added but never started — a zombie; remove it: etcdctl member remove 8e9e05c52164694d/,
    );
  });

  it("a started member the stack does not declare, a wrong peer URL, a missing member, a learner", () => {
    const undeclared = memberListCheck(
      declared,
      listed([{ id: "77", name: "old-cp-2", peerUrls: ["https://10.0.2.9:2380"] }]),
    );
    assert.match(
      undeclared.detail,
      /member 77 "old-cp-2" .*not declared in the stack.*etcdctl member remove 77/,
    );
    const moved = listed();
    moved[1].peerUrls = ["https://10.0.2.11:2380"];
    assert.match(
      memberListCheck(declared, moved).detail,
      /"cp-2" peers at https:\/\/10\.0\.2\.11:2380, the stack declares https:\/\/10\.0\.2\.10:2380/,
    );
    assert.match(
      memberListCheck(declared, listed().slice(0, 2)).detail,
      /declared member "cp-3" .* is not in the cluster/,
    );
    const learner = listed();
    learner[2].learner = true;
    assert.match(memberListCheck(declared, learner).detail, /"cp-3" is still a learner/);
  });

  it("reads etcdctl's member list (3.4 and 3.6 print the same columns)", () => {
    const rows = parseMemberList(
      "73009e83126d16ac, started, etcd-2, https://127.0.0.12:2380, https://127.0.0.12:2379, false\n" +
        "249a77049839098b, unstarted, , https://127.0.0.19:2380, , false\n",
    );
    assert.deepEqual(rows[1], {
      id: "249a77049839098b",
      name: "",
      started: false,
      peerUrls: ["https://127.0.0.19:2380"],
      clientUrls: [],
      learner: false,
    });
    assert.equal(rows[0].started, true);
  });
});

describe("secure-etcd preflight: arguments", () => {
  it("is dispatched by the CLI and documents its exit codes", async () => {
    const out: string[] = [];
    assert.equal(
      await secureEtcd(["preflight", "--help"], { out: (l) => out.push(l), err: () => undefined }),
      0,
    );
    assert.equal(out.join("\n"), preflightUsage);
    assert.match(
      preflightUsage,
      /Exit 0: every check passed; 1: a check failed; 2: bad arguments or settings;\n3: nothing failed/,
    );
    const top: string[] = [];
    await secureEtcd(["--help"], { out: (l) => top.push(l), err: () => undefined });
    assert.match(top.join("\n"), /preflight +check a live cluster before a new etcd version/);
  });

  it("bad arguments exit 2 naming the flag; bad settings name the key", async () => {
    const http = await capture(["--stack", "dev", "--endpoints", "http://10.0.0.1:2379"]);
    assert.equal(http.code, 2);
    assert.match(
      http.err,
      /--endpoints: "http:\/\/10\.0\.0\.1:2379" is not an https:\/\/HOST:PORT client URL/,
    );
    const none = await capture([]);
    assert.equal(none.code, 2);
    assert.match(none.err, /--stack: is required/);
    const certs = await capture(["--stack", "dev"]);
    assert.equal(certs.code, 2, "kubeadm's CA path does not exist here");
    assert.match(certs.err, /--cacert: \/etc\/kubernetes\/pki\/etcd\/ca\.crt is not a readable file/);
    const version = await capture([
      "--cluster-name",
      "c",
      "--environment",
      "qa",
      "--etcd-version",
      "3.9.0",
      "--member",
      "m=10.0.0.1",
    ]);
    assert.equal(version.code, 2);
    assert.match(version.err, /etcdVersion: "3\.9\.0" is newer than any etcd release/);
  });
});

describe("secure-etcd preflight against a live single-member cluster @integration", function () {
  this.timeout(300_000);
  const tempDir = tempDirs();

  /** The dev stack (one member) on a free address, rendered for `version`, started with that release. */
  async function liveMember(version: string, out: string) {
    const ip = await freeLoopbackAddress([2379, 2380, 2381]);
    const doc = parse(fs.readFileSync(path.join(repoRoot, "stacks", "Pulumi.dev.yaml"), "utf8"));
    doc.config["secure-etcd:members"][0].ip = ip;
    const stackFile = (target: string) => {
      doc.config["secure-etcd:etcdVersion"] = target;
      const f = path.join(out, `stack-${target}`, "Pulumi.dev.yaml");
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, stringify(doc));
      return f;
    };
    const a: RenderedArtifacts = await renderArtifacts({
      stack: "dev",
      outDir: path.join(out, "artifacts"),
      configOverrides: {
        "secure-etcd:members": JSON.stringify(doc.config["secure-etcd:members"]),
        "secure-etcd:etcdVersion": version,
      },
    });
    const release: EtcdRelease = etcdReleaseFor(version)!.release;
    const plan = planCluster(a.outDir, path.join(out, "run"))[0];
    fs.mkdirSync(plan.dataDir, { recursive: true, mode: 0o700 });
    fs.mkdirSync(path.dirname(plan.logFile), { recursive: true });
    const proc = spawnManaged(plan.name, release.etcd, plan.args, plan.logFile);
    await untilHealthy({
      name: plan.name,
      endpoint: plan.clientUrl,
      tlsArgs: etcdctlTlsArgs(a.outDir, "healthcheck-client"),
      proc,
      logFile: plan.logFile,
      timeoutMs: 60_000,
      etcdctlBinary: release.etcdctl,
    });
    const flags = (target: string, etcdutl = release.etcdutl) => [
      ...["--stack-file", stackFile(target)],
      ...["--cacert", layout.caCert(a.outDir)],
      ...["--cert", layout.client(a.outDir, "healthcheck-client", "crt")],
      ...["--key", layout.client(a.outDir, "healthcheck-client", "key")],
      ...["--etcdctl", release.etcdctl],
      ...(etcdutl ? ["--etcdutl", etcdutl] : []),
    ];
    return { proc, flags, plan, release };
  }

  let procs: ManagedProcess[] = [];
  afterEach(async () => {
    for (const p of procs) await p.stop();
    procs = [];
  });

  it("etcd 3.4.23: a step to 3.6 is refused (skips 3.5), a step to 3.5 passes", async () => {
    const m = await liveMember("3.4.23", tempDir("preflight-34-"));
    procs.push(m.proc);
    const skip = await capture(m.flags("3.6.17"));
    assert.equal(skip.code, 1, skip.out + skip.err);
    assert.match(
      skip.out,
      /FAIL +every member can step to 3\.6\.17: https:\/\/[\d.]+:2379 runs 3\.4\.23: 3\.6\.17 skips a minor release from 3\.4\.23.*safe next step is 3\.5\.36/,
    );
    assert.match(
      skip.out,
      /PASS +member list holds exactly the declared members: 1 started members: dev-cp-1/,
    );
    assert.match(skip.out, /^result: FAILED/m);
    const next = await capture(m.flags("3.5.36"));
    assert.equal(next.code, 0, next.out + next.err);
    assert.match(next.out, /^preflight: etcd 3\.4\.23 → 3\.5\.36 \(cluster version 3\.4\.0\)$/m);
    assert.doesNotMatch(next.out, /v2 store/, "no v2 store check before 3.5");
  });

  it("etcd 3.5: before 3.6 the v2 store must be checked — exit 3 without a data dir, 0 with it", async () => {
    const m = await liveMember("3.5.36", tempDir("preflight-35-"));
    procs.push(m.proc);
    const remote = await capture(m.flags("3.6.17"));
    assert.equal(remote.code, 3, remote.out + remote.err);
    assert.match(
      remote.out,
      /NOT CHECKED +v2 store holds membership only \(before 3\.6\): needs each member's data dir/,
    );
    assert.match(remote.out, /^result: INCOMPLETE/m);
    const onNode = await capture([...m.flags("3.6.17"), "--v2store-data-dir", m.plan.dataDir]);
    assert.equal(onNode.code, 0, onNode.out + onNode.err);
    assert.match(
      onNode.out,
      /PASS +v2 store holds membership only.*No custom content found in both v2store and WAL records/,
    );
    assert.ok(
      fs.existsSync(path.join(m.plan.dataDir, "member", "wal")),
      "the member's own data dir untouched",
    );
    const notEtcdutl = await capture([
      ...m.flags("3.6.17", "/usr/bin/etcdctl"),
      "--v2store-data-dir",
      m.plan.dataDir,
    ]);
    assert.equal(notEtcdutl.code, 1, "a tool that is no 3.5.32+ etcdutl cannot clear the check");
    assert.match(notEtcdutl.out, /FAIL +v2 store.*is not an etcdutl that reports its version/);
  });
});
