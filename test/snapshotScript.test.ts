/**
 * The snapshot job (components/backup/runner, the files the CronJob runs with node) against a real etcd
 * over mutual TLS — the built 3.7 release — and moto behind the fault proxy (harness/snapshotBucket.ts),
 * with moto's IAM enforcement on: the job signs with the credentials of a user holding the package's own
 * writer policy, so every call it makes is proven to fit that policy (and it can never delete). moto does
 * not evaluate conditions, bucket or key policies, and does not encrypt (SSE-KMS is recorded and echoed):
 * the assertions on SSE headers check what the job asked for.
 *
 * The etcd here is one member on a free 127.0.0.x address; the multi-member path is the rehearsal's
 * backup drill (last describe). Every test that can fail on the job before issue 19 says so.
 */
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { decompressFrame, FrameReader } from "../components/backup/runner/frames";
import { unsupportedVersionReason } from "../components/etcd/capabilities";
import { renderArtifacts } from "../harness/artifacts";
import { startCluster, type RunningCluster } from "../harness/cluster";
import { freeLoopbackAddress, type ManagedProcess } from "../harness/process";
import { startSnapshotBucket, type SnapshotBucket } from "../harness/snapshotBucket";
import { runSnapshotJob, snapshotJobEnv, type JobRun } from "../harness/snapshotJob";
import { etcdReleaseFor, type EtcdRelease } from "../harness/upstream";
import { runBackupDrill } from "../rehearsal/drills/backup";
import { snapshotMarkerCommand } from "../tools/commands/snapshotMarker";
import { parseManifest } from "../tools/restore/source";
import { run } from "../tools/shared/process";
import { onTinyDisk, tinyDiskUnavailable } from "./support/tinyDisk";
import { etcdctl, incompressibleMiB, makePki, startTlsEtcd, type Pki, type TlsEtcd } from "./support/tlsEtcd";

const prefix = "rehearsal/local/";
const member = "snap-1";
const KEYS = "secretbox:key-2026-11 aescbc:key-2026-05";
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
/** The built release the job runs against, and the version the settings name (the newest the table supports). */
const release = (): EtcdRelease => etcdReleaseFor("3.7.4")!.release;
const settingsVersion = (v: string) => (unsupportedVersionReason(v) ? "3.6.17" : v);

/** The brotli frames of an object, decompressed: the snapshot it holds. */
async function unframe(body: Buffer): Promise<Buffer> {
  const r = new FrameReader(1 << 30);
  const frames = r.push(body);
  r.finish();
  return Buffer.concat(await Promise.all(frames.map(decompressFrame)));
}

describe("the snapshot job against a real etcd and moto (IAM enforced) behind the fault proxy @integration", function () {
  this.timeout(120_000);
  let tmp: string;
  let home: string;
  let pki: Pki;
  let etcd: TlsEtcd;
  let s3: SnapshotBucket;
  const started: ManagedProcess[] = [];

  const env = (extra: Record<string, string> = {}, role: "writer" | "admin" = "writer") =>
    snapshotJobEnv(
      s3,
      {
        endpoints: [etcd.clientUrl],
        tls: { ca: pki.ca, cert: pki.clientCrt, key: pki.clientKey },
        etcdVersion: release().version,
        etcdctl: release().etcdctl,
        etcdutl: release().etcdutl,
      },
      {
        workDir: fs.mkdtempSync(path.join(tmp, "work-")),
        home,
        role,
        encryptionKeys: KEYS,
        extra: { ETCD_DIAL_TIMEOUT: "2s", ETCD_COMMAND_TIMEOUT: "2s", S3_PART_SIZE: "5MiB", ...extra },
      },
    );
  const job = async (e: NodeJS.ProcessEnv): Promise<JobRun> => {
    const r = await runSnapshotJob(e, { timeoutMs: 100_000 });
    // The work dir is private to the run and removed on every exit.
    assert.deepEqual(fs.readdirSync(e.WORK_DIR!), [], `work dir left behind:\n${r.output}`);
    return r;
  };
  const snapshots = async () => (await s3.list()).filter((o) => o.key.endsWith(".db.brf"));
  const marker = async () => {
    const m = await s3.get(`${prefix}latest.json`);
    return m ? (JSON.parse(m.body.toString()) as Record<string, unknown>) : undefined;
  };
  const stderrLines = (r: JobRun) => r.stderr.trimEnd().split("\n");

  before(async function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "snapshot-job-"));
    home = path.join(tmp, "home");
    fs.mkdirSync(home);
    const ip = await freeLoopbackAddress([2379, 2380, 2381]);
    pki = await makePki(path.join(tmp, "pki"), [ip], member);
    etcd = await startTlsEtcd(release(), pki, {
      ip,
      member,
      dataDir: path.join(tmp, "data"),
      logFile: path.join(tmp, "etcd.log"),
    });
    started.push(etcd.proc);
    s3 = await startSnapshotBucket({ workDir: path.join(tmp, "moto"), prefix });
    for (let i = 0; i < 20; i++)
      assert.equal(
        (await etcdctl(release(), pki, etcd.clientUrl, ["put", `/registry/test/k${i}`, `v${i}`])).code,
        0,
      );
    // ~6 MiB of incompressible values: with 5 MiB parts the upload is multipart.
    for (let i = 0; i < 6; i++) {
      const r = await etcdctl(
        release(),
        pki,
        etcd.clientUrl,
        ["put", `/bulk/${i}`],
        incompressibleMiB(`seed-${i}`),
      );
      assert.equal(r.code, 0, r.output);
    }
  });

  afterEach(() => {
    s3.proxy.faults.length = 0;
  });

  after(async function () {
    for (const p of started) await p.stop(); // by pid, SIGTERM then SIGKILL
    if (s3) await s3.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  let goodKey = "";

  it("happy path: streamed, verified SSE-KMS multipart upload, its manifest, then the marker — all within the writer policy", async function () {
    const before = s3.proxy.records.length;
    const r = await job(env({ VERIFY_DOWNLOAD: "true" }));
    assert.equal(r.code, 0, r.output);
    assert.equal(r.stderr, "", "nothing on stderr on success");
    assert.match(r.stdout, /integrity ok \(etcdutl\): hash \d+, revision \d+, \d+ keys; SHA-256 trailer ok/);
    assert.match(
      r.stdout,
      /verified: size, SSE-KMS, the SHA-256 S3 computed on receipt, a downloaded copy's SHA-256/,
    );
    const objs = await snapshots();
    assert.equal(objs.length, 1);
    goodKey = objs[0].key;
    // <UTC timestamp>-<run id>-<member>: a key no other run can pick.
    assert.match(goodKey, new RegExp(`^${prefix}\\d{8}T\\d{6}Z-[0-9a-f]{8}-${member}\\.db\\.brf$`));
    const obj = (await s3.get(goodKey))!;
    assert.equal(obj.sse, "aws:kms");
    assert.equal(obj.kmsKeyId, s3.kmsKeyArn);
    assert.equal(obj.metadata["snapshot-format"], "brotli-frames-v1");
    assert.equal(obj.metadata["encryption-keys"], KEYS);
    assert.equal(obj.metadata["etcd-version"], release().version);
    assert.equal(obj.metadata.member, member);

    const manifest = JSON.parse((await s3.get(`${goodKey}.manifest.json`))!.body.toString()) as Record<
      string,
      unknown
    >;
    assert.equal(manifest.sha256, sha256(obj.body));
    assert.equal(manifest.size, obj.size);
    const db = await unframe(obj.body);
    assert.equal(manifest.dbSha256, sha256(db));
    assert.equal(manifest.dbSize, db.length);
    assert.equal(db.length % 512, 32, "an etcd snapshot: bolt pages and the SHA-256 trailer");
    assert.ok(
      (manifest.parts as number) >= 2,
      `expected a multipart upload, got ${String(manifest.parts)} parts`,
    );
    assert.equal(manifest.encryptionKeys, KEYS);
    // The restore tool reads this manifest, and a kms stack's key list (ARNs carry / and =) too.
    assert.equal(parseManifest(JSON.stringify(manifest), "manifest").encryptionKeys, KEYS);
    const kmsKeys = `kms:aws-kms-prod=arn:aws:kms:eu-west-1:111122223333:key/0d3c1d2e-aaaa-bbbb-cccc-123456789012 ${KEYS}`;
    assert.equal(
      parseManifest(JSON.stringify({ ...manifest, encryptionKeys: kmsKeys }), "manifest").encryptionKeys,
      kmsKeys,
    );
    assert.match(String(manifest.clusterId), /^\d+$/);

    const latest = await marker();
    assert.ok(latest, "latest.json written");
    assert.equal(latest.key, goodKey);
    assert.equal(latest.sha256, manifest.sha256);
    assert.equal(latest.revision, manifest.revision);
    assert.match(String(latest.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(await s3.pendingUploads(), []);
    const calls = s3.proxy.records
      .slice(before)
      .map((q) => `${q.method} ${q.url.replace(/\?.*/, (m) => m.replace(/=[^&]*/g, ""))}`);
    for (const want of [
      /^POST .*\?uploads$/,
      /^PUT .*\?partNumber&uploadId$/,
      /^POST .*\?uploadId$/,
      /^HEAD /,
      /^GET .*\.db\.brf$/,
    ])
      assert.ok(
        calls.some((c) => want.test(c)),
        `${want} used:\n${calls.join("\n")}`,
      );
    assert.ok(!calls.some((c) => c.startsWith("DELETE")), "nothing deleted on success");
  });

  it("one member down: the snapshot is taken from the next member in order", async function () {
    const dead = await freeLoopbackAddress([2379], [etcd.ip]);
    const before = (await snapshots()).length;
    const r = await job({ ...env(), ETCD_ENDPOINTS: `https://${dead}:2379,${etcd.clientUrl}` });
    assert.equal(r.code, 0, r.output);
    assert.match(r.stdout, new RegExp(`skipping https://${dead.replace(/\./g, "\\.")}:2379: not healthy`));
    assert.equal((await snapshots()).length, before + 1);
    assert.match(String((await marker())!.key), new RegExp(`-${member}\\.db\\.brf$`));
  });

  it("every member down: exit 1, one line naming each member, nothing uploaded", async function () {
    const dead = await freeLoopbackAddress([2379], [etcd.ip]);
    const before = await s3.list();
    const r = await job({ ...env(), ETCD_ENDPOINTS: `cp-1=https://${dead}:2379` });
    assert.equal(r.code, 1);
    assert.equal(stderrLines(r).length, 1, r.stderr);
    assert.match(r.stderr, /^snapshot: FAILED: no member produced a verified snapshot \(cp-1: not healthy/);
    assert.deepEqual(await s3.list(), before);
  });

  it("S3 endpoint down: exit 1, one-line reason, nothing uploaded, marker untouched", async function () {
    const markerBefore = await marker();
    const before = await s3.list();
    await s3.proxy.down();
    try {
      const r = await job(env({ S3_CONNECT_TIMEOUT: "5" }));
      assert.equal(r.code, 1, r.output);
      assert.equal(stderrLines(r).length, 1, r.stderr);
      assert.match(r.stderr, /^snapshot: FAILED: .*ECONNREFUSED/);
    } finally {
      await s3.proxy.up();
    }
    assert.deepEqual(await s3.list(), before);
    assert.deepEqual(await marker(), markerBefore);
  });

  it("a store that loses bytes: the upload fails verification; the writer may not delete, so it is overwritten with an empty failed object", async function () {
    const markerBefore = await marker();
    s3.proxy.faults.push({
      match: (q) => q.method === "PUT" && /partNumber=2&/.test(q.url),
      times: 1,
      action: { kind: "dropRequestBytes", bytes: 1000 },
    });
    const r = await job(env());
    assert.equal(r.code, 1, r.output);
    assert.equal(stderrLines(r).length, 1, r.stderr);
    assert.match(
      r.stderr,
      /^snapshot: FAILED: uploaded object s3:\/\/\S+ has \d+ bytes, expected \d+; could not delete the unverified object s3:\/\/\S+ \(.*AccessDenied.*\), overwrote it with an empty object marked snapshot-status=failed\n$/,
    );
    const key = /could not delete the unverified object s3:\/\/[^/]+\/(\S+\.db\.brf)/.exec(r.stderr)![1];
    const tomb = (await s3.get(key))!;
    assert.equal(tomb.size, 0);
    assert.equal(tomb.metadata["snapshot-status"], "failed");
    assert.equal(await s3.get(`${key}.manifest.json`), undefined, "no manifest: it is not a snapshot");
    assert.deepEqual(await marker(), markerBefore);
  });

  it("the same failure with a principal that may delete: the unverified object is removed", async function () {
    const before = await s3.list();
    s3.proxy.faults.push({
      match: (q) => q.method === "PUT" && /partNumber=1&/.test(q.url),
      times: 1,
      action: { kind: "dropRequestBytes", bytes: 10 },
    });
    const r = await job(env({}, "admin"));
    assert.equal(r.code, 1, r.output);
    assert.match(r.stderr, /has \d+ bytes, expected \d+; removed the unverified object s3:\/\//);
    assert.deepEqual(await s3.list(), before);
  });

  it("error answers and slow answers are retried; a truncated answer too", async function () {
    s3.proxy.faults.push(
      {
        match: (q) => q.method === "PUT" && /partNumber=1&/.test(q.url),
        times: 1,
        action: {
          kind: "respond",
          status: 500,
          body: "<Error><Code>InternalError</Code><Message>injected</Message></Error>",
        },
      },
      {
        match: (q) => q.method === "HEAD" && q.url.endsWith(".db.brf"),
        times: 1,
        action: { kind: "delay", ms: 8000 },
      },
      {
        match: (q) => q.method === "GET" && q.url.endsWith("latest.json"),
        times: 1,
        action: { kind: "truncateResponse", bytes: 5 },
      },
    );
    const r = await job(env({ S3_READ_TIMEOUT: "2" }));
    assert.equal(r.code, 0, r.output);
    const faults = s3.proxy.records.filter((q) => q.fault).map((q) => q.fault);
    for (const f of ["respond", "delay", "truncateResponse"])
      assert.ok(faults.includes(f as never), `${f} was injected: ${faults.join(",")}`);
  });

  it("two runs of one member at once write two verified snapshots, never the same key", async function () {
    const before = new Set((await snapshots()).map((o) => o.key));
    const [a, b] = await Promise.all([job(env()), job(env())]);
    assert.equal(a.code, 0, a.output);
    assert.equal(b.code, 0, b.output);
    const added = (await snapshots()).filter((o) => !before.has(o.key));
    assert.equal(added.length, 2, added.map((o) => o.key).join(", "));
    for (const o of added) {
      const body = (await s3.get(o.key))!.body;
      const m = JSON.parse((await s3.get(`${o.key}.manifest.json`))!.body.toString()) as { sha256: string };
      assert.equal(m.sha256, sha256(body), `${o.key} is intact`);
    }
    const latest = (await marker())!;
    assert.equal(
      sha256((await s3.get(String(latest.key)))!.body),
      latest.sha256,
      "the marker names an intact snapshot",
    );
  });

  it("a run that fails cleans up only what it uploaded: an earlier good snapshot and the marker stay", async function () {
    const good = await job(env());
    assert.equal(good.code, 0, good.output);
    const latest = (await marker())!;
    const goodBytes = (await s3.get(String(latest.key)))!.body;
    s3.proxy.faults.push({
      match: (q) => q.method === "PUT" && /partNumber=1&/.test(q.url),
      times: 1,
      action: { kind: "dropRequestBytes", bytes: 10 },
    });
    const bad = await job(env());
    assert.equal(bad.code, 1, bad.output);
    assert.ok(!bad.stderr.includes(String(latest.key)), "the failed run names only its own object");
    assert.ok(
      (await s3.get(String(latest.key)))!.body.equals(goodBytes),
      "the good snapshot's bytes are untouched",
    );
    assert.equal((await marker())!.key, latest.key, "the marker still names it");
  });

  it("the marker only moves forward: one naming a later snapshot (higher revision, taken after this one) stays", async function () {
    const original = (await s3.get(`${prefix}latest.json`))!.body;
    const later = {
      ...JSON.parse(original.toString()),
      revision: 999_999_999,
      snapshotTime: new Date(Date.now() + 3_600_000).toISOString(),
    };
    await s3.put(`${prefix}latest.json`, Buffer.from(JSON.stringify(later)));
    try {
      const r = await job(env());
      assert.equal(r.code, 0, r.output);
      assert.match(
        r.output,
        /kept the marker: it names a snapshot taken after this one \(revision 999999999 > \d+\)/,
      );
      assert.equal((await marker())!.revision, 999_999_999);
    } finally {
      await s3.put(`${prefix}latest.json`, original);
    }
  });

  it("issue 19: after a restore lowered the revision the job stops with exit 3 naming the way out, and `secure-etcd snapshot-marker` is it (the job before: OK, marker stuck for good)", async function () {
    // A marker from the lineage before a restore: higher revision, taken earlier (as snapshot.sh wrote it: no snapshotTime).
    const stuck = {
      time: "2026-01-01T00:00:00Z",
      key: `${prefix}old.db.gz`,
      revision: 999_999_999,
      sha256: "0".repeat(64),
    };
    await s3.put(`${prefix}latest.json`, Buffer.from(JSON.stringify(stuck)));
    const r = await job(env());
    assert.equal(r.code, 3, r.output);
    assert.equal(stderrLines(r).length, 1, r.stderr);
    const m =
      /point it at this snapshot with: secure-etcd snapshot-marker --stack <stack> --from (s3:\/\/\S+) \(the stack/.exec(
        r.stderr.trim(),
      );
    assert.ok(m, r.stderr);
    assert.match(
      r.stderr,
      /names revision 999999999, taken before this snapshot at revision \d+: the store's revision went back/,
    );
    assert.equal((await marker())!.revision, 999_999_999, "exit 3 leaves the marker as it was");
    const from = m[1];
    const key = from.replace(`s3://${s3.bucket}/`, "");
    assert.ok(await s3.get(`${key}.manifest.json`), "the snapshot itself is stored and verified");

    const out: string[] = [];
    const code = await snapshotMarkerCommand(
      [
        "--cluster-name",
        "rehearsal",
        "--environment",
        "local",
        "--etcd-version",
        settingsVersion(release().version),
        "--member",
        `${member}=127.0.0.1`,
      ].concat(["--from", from, "--endpoint-url", s3.endpoint]),
      {
        out: (l) => out.push(l),
        err: (l) => out.push(l),
        env: { ...s3.env("writer"), PATH: `${path.dirname(release().etcdutl!)}:${process.env.PATH}` },
      },
    );
    assert.equal(code, 0, out.join("\n"));
    assert.match(
      out.join("\n"),
      /integrity ok \(etcdutl\)/,
      "the snapshot was verified before the marker moved",
    );
    assert.equal((await marker())!.key, key);
    const next = await job(env());
    assert.equal(next.code, 0, next.output);
    assert.match(next.stdout, /marker s3:\/\/\S+latest\.json -> /, "the marker moves forward again");
  });

  it("a marker that cannot be written fails the run but keeps the verified snapshot", async function () {
    const markerBefore = await marker();
    s3.proxy.faults.push({
      match: (q) => q.method === "PUT" && q.url.endsWith("latest.json"),
      action: {
        kind: "respond",
        status: 403,
        body: "<Error><Code>AccessDenied</Code><Message>injected</Message></Error>",
      },
    });
    const r = await job(env());
    assert.equal(r.code, 1);
    assert.equal(stderrLines(r).length, 1, r.stderr);
    assert.match(
      r.stderr,
      /^snapshot: FAILED: snapshot s3:\/\/\S+ is uploaded and verified, but the marker .* could not be updated \(.*AccessDenied/,
    );
    assert.deepEqual(await marker(), markerBefore);
  });

  it("issue 19: a snapshot whose own integrity trailer is wrong is refused before anything moves (the job before: OK and the marker moved)", async function () {
    // etcdctl as a member with a damaged disk would answer: the real save, then the trailer's last byte flipped.
    const fake = path.join(tmp, "etcdctl-bad-trailer");
    fs.writeFileSync(
      fake,
      `#!${process.execPath}
const { spawnSync } = require("node:child_process"); const fs = require("node:fs");
const real = ${JSON.stringify(release().etcdctl)}; const a = process.argv.slice(2); const i = a.indexOf("save");
if (i > 0 && a[i - 1] === "snapshot") {
  const db = a[i + 1]; const r = spawnSync(real, [...a.slice(0, i + 1), db + ".real"], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
  const b = fs.readFileSync(db + ".real"); b[b.length - 1] ^= 0xff;
  fs.writeFileSync(db + ".part", b); fs.renameSync(db + ".part", db); fs.rmSync(db + ".real"); process.exit(0);
}
process.exit(spawnSync(real, a, { stdio: "inherit" }).status ?? 1);
`,
      { mode: 0o755 },
    );
    const markerBefore = await marker();
    const before = await s3.list();
    const r = await job({ ...env(), ETCDCTL: fake });
    assert.equal(r.code, 1, r.output);
    assert.equal(stderrLines(r).length, 1, r.stderr);
    assert.match(
      r.stderr,
      /no member produced a verified snapshot \(.*the snapshot's own SHA-256 integrity trailer does not match its content\)/,
    );
    assert.deepEqual(await s3.list(), before, "nothing that looks like a snapshot is left");
    assert.deepEqual(await s3.pendingUploads(), []);
    assert.deepEqual(await marker(), markerBefore);
  });

  it("issue 19: messages never quote what a snapshot tool printed from the snapshot (the job before quoted it)", async function () {
    const fake = path.join(tmp, "etcdutl-talks");
    fs.writeFileSync(fake, '#!/bin/sh\necho "SECRET-FROM-SNAPSHOT k8s:enc:secretbox:v1:key:c2VjcmV0"\n', {
      mode: 0o755,
    });
    const r = await job({ ...env(), ETCDUTL: fake });
    assert.equal(r.code, 1, r.output);
    assert.match(r.stderr, /etcdutl snapshot status printed no usable hash\/revision\/totalKey/);
    assert.doesNotMatch(r.output, /SECRET-FROM-SNAPSHOT|c2VjcmV0/);
  });

  it("issue 19: every outcome has its documented exit status — 2 bad configuration, 4 no space in WORK_DIR (the job before: 1 for both)", async function () {
    const noBucket = env();
    delete noBucket.S3_BUCKET;
    const bad = await job(noBucket);
    assert.equal(bad.code, 2, bad.output);
    assert.match(bad.stderr, /^snapshot: FAILED: S3_BUCKET is not set\n$/);
    const old = await job({ ...env(), GZIP_LEVEL: "1" });
    assert.equal(old.code, 2, old.output);
    assert.match(old.stderr, /GZIP_LEVEL is no longer read .* use COMPRESSION_QUALITY/);
  });

  it(`issue 19: a full WORK_DIR is said to be one, exit 4${tinyDiskUnavailable() ? ` — SKIPPED: ${tinyDiskUnavailable()}` : ""}`, async function () {
    if (tinyDiskUnavailable()) this.skip();
    const e = env();
    const before = await s3.list();
    const { cmd, args } = onTinyDisk(e.WORK_DIR!, 1024 * 1024, process.execPath, [
      path.join(__dirname, "..", "components", "backup", "runner", "snapshot.js"),
    ]);
    const r = await run(cmd, args, { env: e, timeoutMs: 100_000 });
    assert.equal(r.code, 4, r.output);
    assert.match(
      r.stderr,
      /^snapshot: FAILED: no space left in WORK_DIR \S+ while saving from \S+: it must hold the whole snapshot/,
    );
    assert.deepEqual(await s3.list(), before);
  });

  it("credentials from a web identity (IRSA): STS AssumeRoleWithWebIdentity, then every call signed with the role's keys", async function () {
    // moto with IAM enforced answers an unsigned AssumeRoleWithWebIdentity with HTTP 500 (it wants an
    // Authorization header AWS does not), so this one runs against a moto without enforcement: it proves
    // the credential chain, not the role's policy.
    const open = await startSnapshotBucket({
      workDir: path.join(tmp, "moto-irsa"),
      prefix,
      enforceIam: false,
    });
    try {
      const token = path.join(tmp, "web-identity-token");
      fs.writeFileSync(token, "eyJhbGciOiJSUzI1NiJ9.test.token", { mode: 0o600 });
      const e = snapshotJobEnv(
        open,
        {
          endpoints: [etcd.clientUrl],
          tls: { ca: pki.ca, cert: pki.clientCrt, key: pki.clientKey },
          etcdVersion: release().version,
          etcdctl: release().etcdctl,
          etcdutl: release().etcdutl,
        },
        { workDir: fs.mkdtempSync(path.join(tmp, "work-")), home },
      );
      delete e.AWS_ACCESS_KEY_ID;
      delete e.AWS_SECRET_ACCESS_KEY;
      const r = await job({
        ...e,
        AWS_ROLE_ARN: open.webIdentityRoleArn,
        AWS_WEB_IDENTITY_TOKEN_FILE: token,
      });
      assert.equal(r.code, 0, r.output);
      assert.ok(
        open.proxy.records.some((q) => q.method === "POST" && q.url === "/"),
        "STS was asked",
      );
      const keys = new Set(
        open.proxy.records.filter((q) => q.url.includes(".db.brf")).map((q) => q.accessKeyId),
      );
      assert.equal(keys.size, 1, [...keys].join(","));
      const [used] = keys;
      assert.ok(
        used && !Object.values(open.credentials).some((c) => c.accessKeyId === used),
        `${used}: STS's temporary key, no user's`,
      );
      assert.ok((await open.list()).some((o) => o.key.endsWith(".db.brf")));
    } finally {
      await open.stop();
    }
  });

  it("the runner is plain node: every file parses, requires only node: built-ins and its siblings", async function () {
    const dir = path.join(__dirname, "..", "components", "backup", "runner");
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith(".js"))) {
      const r = await run(process.execPath, ["--check", path.join(dir, f)]);
      assert.equal(r.code, 0, `${f}: ${r.output}`);
      const text = fs.readFileSync(path.join(dir, f), "utf8");
      for (const m of text.matchAll(/require\("([^"]+)"\)/g))
        assert.match(
          m[1],
          /^(node:[a-z_/]+|\.\/[a-z0-9]+\.js)$/,
          `${f} requires ${m[1]}: the image has node and nothing else`,
        );
      assert.match(text, /^(#!\/usr\/bin\/env node\n)?\/\/ @ts-check\n/, `${f} is type-checked`);
    }
  });
});

describe("backup drill on the rehearsal cluster (3 members, rendered manifests) @integration", function () {
  this.timeout(180_000);
  let outDir: string;
  let cluster: RunningCluster | undefined;

  after(async function () {
    if (cluster) await cluster.stop();
    if (outDir) fs.rmSync(outDir, { recursive: true, force: true });
  });

  it("snapshot job → moto → restore tool → a fresh cluster with the same data; reports size, upload, restore, RPO", async function () {
    outDir = fs.mkdtempSync(path.join(os.tmpdir(), "backup-drill-"));
    const a = await renderArtifacts({ stack: "local", outDir });
    cluster = await startCluster({
      dir: outDir,
      workDir: path.join(outDir, "run"),
      existingData: "wipe",
      caKeyPem: a.caKeyPem,
      caCertPem: a.caCertPem,
    });
    const { drills, extra } = await runBackupDrill({
      dir: outDir,
      cluster,
      workDir: path.join(outDir, "run"),
      settings: a.settings,
      caKeyPem: a.caKeyPem,
      caCertPem: a.caCertPem,
      schedule: { cron: "*/15 * * * *", rpoMinutes: 15 },
    });
    const failed = drills.filter((d) => !d.passed);
    assert.deepEqual(failed, [], failed.map((d) => `${d.name}: ${d.detail}`).join("\n"));
    assert.equal(drills.length, 5);
    const m = extra.backup;
    assert.ok(m.snapshotBytes! > 5 * 1024 * 1024 && m.parts! >= 2, JSON.stringify(m));
    assert.ok(m.uploadSeconds! >= 0 && m.restoreSeconds! > 0, JSON.stringify(m));
    assert.equal(m.rpoMinutes, 15);
    // The caller's cluster is handed back running.
    assert.ok(cluster.members.every((x) => x.running));
    console.log(`      ${drills.map((d) => `${d.name}: ${d.detail}`).join("\n      ")}`);
  });
});
