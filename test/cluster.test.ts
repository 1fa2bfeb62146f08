import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { renderArtifacts, type RenderedArtifacts } from "../harness/artifacts";
import { layout } from "../harness/layout";
import { startCluster, type RunningCluster } from "../harness/cluster";
import { planCluster } from "../harness/clusterPlan";
import { etcdReleaseFor } from "../harness/upstream";
import { flagValue, parseFlags } from "../harness/etcdFlags";
import { etcdctlTlsArgs, runEtcdctl } from "../harness/etcdctl";
import { runSnapshotDrill } from "../rehearsal/drills/snapshot";
import {
  certlessClientRejected,
  clientCertRejected,
  foreignPeerJoinRejected,
  plaintextClientRejected,
  runTlsDrills,
} from "../rehearsal/drills/tls";
import type { DrillResult } from "../rehearsal/drills/types";
import { foreignCa, issueLeaf, writePair } from "../harness/oneHostPki";
import {
  freeLoopbackAddress,
  freePort,
  livePids,
  pidAlive,
  sleep,
  spawnManaged,
  type ManagedProcess,
} from "../harness/process";

/** renderArtifacts runs the whole program; if an output never resolves it would hang until mocha's timeout. */
async function render(outDir: string): Promise<RenderedArtifacts> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error("renderArtifacts({stack: 'local'}) did not finish within 45 s")),
      45_000,
    );
  });
  try {
    return await Promise.race([renderArtifacts({ stack: "local", outDir }), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const assertPassed = (results: DrillResult[]) => {
  const failed = results.filter((r) => !r.passed);
  assert.deepEqual(
    failed.map((r) => `${r.name}: ${r.detail}`),
    [],
    `drills failed:\n${failed.map((r) => `  ${r.name}: ${r.detail}`).join("\n")}`,
  );
};

/** Flags whose values the runner may change; everything else must be passed through as rendered. */
const remappable = new Set([
  "--data-dir",
  "--cert-file",
  "--key-file",
  "--peer-cert-file",
  "--peer-key-file",
  "--trusted-ca-file",
  "--peer-trusted-ca-file",
  "--listen-client-urls",
  "--listen-metrics-urls",
]);

describe("local etcd cluster from the rendered artifacts @integration", function () {
  this.timeout(120_000);
  let tmp: string;
  let dir: string;
  let workDir: string;
  let artifacts: RenderedArtifacts;
  let cluster: RunningCluster | undefined;
  const pidsSeen = new Set<number>();
  const remember = () => cluster?.members.filter((m) => m.running).forEach((m) => pidsSeen.add(m.pid));

  before(async function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cluster-test-"));
    dir = path.join(tmp, "artifacts");
    workDir = path.join(tmp, "work");
    artifacts = await render(dir);
    cluster = await startCluster({ dir, workDir, caKeyPem: artifacts.caKeyPem });
    remember();
  });

  after(async function () {
    await cluster?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("runs one etcd per member with the rendered flags, changing only what one host forces", function () {
    const c = cluster!;
    assert.deepEqual(
      c.members.map((m) => m.name),
      artifacts.settings.members.map((m) => m.name),
    );
    for (const m of c.members) {
      assert.ok(m.running && m.pid > 0 && pidAlive(m.pid), `${m.name} not running`);
      const rendered = parseFlags(m.renderedArgs);
      const actual = parseFlags(m.args);
      assert.deepEqual(
        actual.map(([k]) => k),
        rendered.map(([k]) => k),
        "same flags, same order: none added or dropped",
      );
      for (const [i, [k, v]] of rendered.entries())
        if (!remappable.has(k))
          assert.equal(actual[i][1], v, `${m.name}: ${k} must be passed through unchanged`);
      assert.equal(flagValue(m.args, "--client-cert-auth"), "true");
      assert.equal(flagValue(m.args, "--peer-client-cert-auth"), "true");
      assert.match(flagValue(m.args, "--cipher-suites")!, /TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256/);
      assert.equal(flagValue(m.args, "--listen-client-urls"), m.clientUrl, "shared 127.0.0.1:2379 dropped");
      assert.equal(flagValue(m.args, "--listen-metrics-urls"), `http://${m.ip}:2381`);
      assert.equal(flagValue(m.args, "--data-dir"), path.join(workDir, "data", m.name));
      assert.equal(fs.statSync(m.dataDir).mode & 0o777, 0o700);
      assert.equal(flagValue(m.args, "--cert-file"), layout.member(dir, m.name, "server", "crt"));
      assert.equal(flagValue(m.args, "--trusted-ca-file"), layout.caCert(dir));
      // every change is listed
      for (const [i, [k, v]] of rendered.entries())
        if (actual[i][1] !== v)
          assert.ok(
            c.remaps.some((r) => r.startsWith(`${m.name}: ${k}`)),
            `${m.name}: ${k} changed but not listed in remaps`,
          );
    }
    assert.ok(
      c.remaps.some((r) => /etcd-1: --peer-cert-file .*re-issued .*127\.0\.0\.1/.test(r)),
      c.remaps.join("\n"),
    );
  });

  it("runs the release the manifests name: the built etcd of that minor, not whatever etcd is on PATH", function () {
    const c = cluster!;
    const rendered = artifacts.settings.etcdVersion;
    const expected = etcdReleaseFor(rendered)!.release;
    assert.equal(c.release.etcd, expected.etcd);
    assert.equal(c.etcdutlBinary, expected.etcdutl);
    for (const m of c.members) {
      assert.equal(m.etcdVersion, expected.version);
      assert.equal(
        fs.realpathSync(`/proc/${m.pid}/exe`),
        fs.realpathSync(expected.etcd),
        `${m.name}'s process`,
      );
    }
    if (expected.version !== rendered)
      assert.ok(
        c.remaps.some((r) => r.startsWith(`etcd ${rendered} → ${expected.version}`)),
        c.remaps.join("\n"),
      );
  });

  it("explains why it needs the CA key when peer certs do not name 127.0.0.1", function () {
    assert.throws(
      () => planCluster(dir, path.join(tmp, "plan-only")),
      /does not name 127\.0\.0\.1.*source address.*caKeyPem/s,
    );
  });

  it("refuses to start when a listener's port is taken, naming it", async function () {
    await assert.rejects(
      startCluster({ dir, workDir: path.join(tmp, "second"), caKeyPem: artifacts.caKeyPem }),
      /cannot start etcd-1: 127\.0\.0\.11:2379 \(--listen-client-urls\) is in use/,
    );
  });

  it("says how to install etcd when the binary is missing", async function () {
    await assert.rejects(
      startCluster({ dir, workDir: path.join(tmp, "nobin"), etcdBinary: "/nonexistent/etcd" }),
      /apt-get install -y etcd-server etcd-client/,
    );
  });

  it("passes every TLS drill", async function () {
    const results = await runTlsDrills({ dir, cluster: cluster!, workDir, caKeyPem: artifacts.caKeyPem });
    assert.ok(results.length >= 12, `only ${results.length} TLS drills ran`);
    for (const expected of [
      /plaintext/,
      /without a client cert/,
      /foreign CA/,
      /foreign-CA cert trying to join/,
      /not in the server cert's SANs/,
      /expired client cert/,
      /TLS 1\.1/,
    ])
      assert.ok(
        results.some((r) => expected.test(r.name)),
        `no drill matching ${expected}`,
      );
    assertPassed(results);
    for (const r of results.filter((x) => x.name.startsWith("rejected:")))
      assert.match(r.detail, /refused|answered|never started/, `${r.name} must say how it was refused`);
  });

  it("the join drill fails when the joining peer's cert is from the real CA", async function () {
    const realCa = { certPem: artifacts.caCertPem, keyPem: artifacts.caKeyPem };
    const r = await foreignPeerJoinRejected({
      dir,
      cluster: cluster!,
      workDir,
      peerCa: realCa,
      waitMs: 15_000,
    });
    assert.equal(r.passed, false, r.detail);
    assert.match(r.detail, /JOINED/);
    const list = await runEtcdctl(cluster!.etcdctlBinary, [
      `--endpoints=${cluster!.clientUrls().join(",")}`,
      ...etcdctlTlsArgs(dir, "healthcheck-client"),
      "member",
      "list",
    ]);
    assert.equal(list.stdout.trim().split("\n").length, 3, `intruder not removed:\n${list.stdout}`);
  });

  it("keeps serving with one member down, and the member rejoins", async function () {
    const c = cluster!;
    const down = c.member("etcd-3");
    const oldPid = down.pid;
    await c.stopMember("etcd-3");
    assert.equal(down.running, false);
    assert.ok(!pidAlive(oldPid), "stopped member's process still exists");
    const tls = etcdctlTlsArgs(dir, "apiserver-etcd-client");
    const put = await runEtcdctl(c.etcdctlBinary, [
      `--endpoints=${c.clientUrls().join(",")}`,
      ...tls,
      "put",
      "/t/down",
      "1",
    ]);
    assert.equal(put.code, 0, put.output);
    await c.startMember("etcd-3");
    remember();
    assert.notEqual(down.pid, oldPid);
    assert.deepEqual(
      down.pids.slice(-2),
      [oldPid, down.pid],
      "pids keeps every process, the current one last",
    );
    const get = await runEtcdctl(c.etcdctlBinary, [
      `--endpoints=${down.clientUrl}`,
      ...tls,
      "get",
      "/t/down",
      "--print-value-only",
    ]);
    assert.equal(get.stdout.trim(), "1", get.output);
  });

  it("passes the snapshot drill: save with the backup cert, verify, restore, serve", async function () {
    const results = await runSnapshotDrill({ dir, cluster: cluster!, workDir });
    assert.equal(results.length, 3);
    assertPassed(results);
    assert.match(results[2].detail, /all 25 keys read back/);
  });

  it("stop() ends every etcd it started", async function () {
    remember();
    assert.ok(pidsSeen.size >= 4);
    await cluster!.stop();
    for (const pid of pidsSeen) assert.ok(!pidAlive(pid), `etcd pid ${pid} still running`);
    assert.ok(cluster!.members.every((m) => !m.running));
    assert.deepEqual(livePids(), []);
  });
});

describe("TLS drills fail against an insecure etcd @integration", function () {
  this.timeout(60_000);
  let tmp: string;
  let dir: string;
  const procs: ManagedProcess[] = [];

  /** A throwaway single-member etcd; resolves once `etcdctl endpoint health` succeeds. */
  async function throwaway(
    name: string,
    scheme: "http" | "https",
    host: string,
    tlsArgs: string[],
    ctl: string[],
  ) {
    const [cp, pp] = [await freePort(host), await freePort(host)];
    const clientUrl = `${scheme}://${host}:${cp}`;
    const peerUrl = `http://${host}:${pp}`;
    const data = path.join(tmp, name);
    fs.mkdirSync(data, { mode: 0o700 });
    const p = spawnManaged(
      name,
      "etcd",
      [
        `--name=${name}`,
        `--data-dir=${data}`,
        `--listen-client-urls=${clientUrl}`,
        `--advertise-client-urls=${clientUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=${name}=${peerUrl}`,
        ...tlsArgs,
      ],
      path.join(tmp, `${name}.log`),
    );
    procs.push(p);
    for (let i = 0; i < 60; i++) {
      const h = await runEtcdctl("etcdctl", [`--endpoints=${clientUrl}`, ...ctl, "endpoint", "health"]);
      if (h.code === 0) return { host, port: cp, logFile: p.logFile };
      if (p.exitStatus !== undefined) break;
      await sleep(250);
    }
    throw new Error(
      `throwaway etcd ${name} did not start: ${fs.readFileSync(p.logFile, "utf8").slice(-800)}`,
    );
  }

  before(async function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "insecure-etcd-"));
    dir = path.join(tmp, "artifacts");
    await render(dir);
  });

  after(async function () {
    for (const p of procs) await p.stop();
    for (const p of procs) assert.ok(!pidAlive(p.pid));
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("'plaintext client rejected' fails against an etcd that serves http", async function () {
    const host = await freeLoopbackAddress([2379]);
    const e = await throwaway("plain", "http", host, [], []);
    const r = await plaintextClientRejected("etcdctl", e);
    assert.equal(r.passed, false, r.detail);
    assert.match(r.detail, /ACCEPTED/);
  });

  it("'no cert' and 'foreign CA' drills fail against an etcd without --client-cert-auth", async function () {
    // TLS on, client-cert-auth off: etcd-1's server cert names 127.0.0.1.
    const tlsArgs = [
      `--cert-file=${layout.member(dir, "etcd-1", "server", "crt")}`,
      `--key-file=${layout.member(dir, "etcd-1", "server", "key")}`,
    ];
    const e = await throwaway("no-client-auth", "https", "127.0.0.1", tlsArgs, [
      `--cacert=${layout.caCert(dir)}`,
    ]);
    const ca = layout.caCert(dir);
    const noCert = await certlessClientRejected("etcdctl", e, ca);
    assert.equal(noCert.passed, false, noCert.detail);
    const foreign = writePair(
      path.join(tmp, "foreign-client"),
      issueLeaf({ ca: foreignCa(), commonName: "kube-apiserver-etcd-client", uses: ["client_auth"] }),
    );
    const r = await clientCertRejected("foreign", "a foreign-CA client cert", "etcdctl", e, ca, foreign);
    assert.equal(r.passed, false, r.detail);
    assert.match(r.detail, /ACCEPTED/);
  });
});
