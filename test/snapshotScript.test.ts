/**
 * components/backup/snapshot.sh (the file the CronJob runs) against a real etcd over mutual TLS and the
 * local S3 endpoint, and the restore tool against what it uploaded.
 *
 * The etcd here is one member with openssl-made certs on a free 127.0.0.x address (fast, and free of
 * the fixed addresses the rehearsal cluster uses); the multi-member path is the rehearsal's backup drill.
 */
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import type { SecureEtcdSettings } from "../components/config/schema";
import { parseEtcdVersion, snapshotFileTool } from "../components/etcd/capabilities";
import { renderArtifacts } from "../harness/artifacts";
import { startCluster, type RunningCluster } from "../harness/cluster";
import { runBackupDrill } from "../rehearsal/drills/backup";
import * as localS3 from "../harness/localS3";
import { cleanEnv, freeLoopbackAddress, sleep, spawnManaged, type ManagedProcess } from "../harness/process";
import { restoreCommand as restoreMain } from "../tools/commands/restore";
import { restoreSnapshot } from "../tools/restore";
import { findBinary, run } from "../tools/shared/process";
import { readStackConfig } from "./support/stackFiles";

const repoRoot = path.resolve(__dirname, "..");
const script = path.join(repoRoot, "components", "backup", "snapshot.sh");
const bucket = "etcd-snapshots";
const prefix = "rehearsal/local/";
const kmsKeyId = "arn:aws:kms:eu-west-1:111122223333:key/0d3c1d2e-aaaa-bbbb-cccc-123456789012";
const member = "snap-1";

interface Pki {
  ca: string;
  serverCrt: string;
  serverKey: string;
  clientCrt: string;
  clientKey: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const r = await run("openssl", args, { cwd, timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.output}`);
}

/** A throwaway etcd CA, a server cert for the given IPs (server+client auth) and a backup client cert. */
async function makePki(dir: string, ips: string[]): Promise<Pki> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(
    [
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-subj",
      "/CN=test-etcd-ca",
      "-days",
      "1",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
    ],
    dir,
  );
  const leaf = async (name: string, cn: string, ext: string, serial: string) => {
    fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
    await openssl(
      ["req", "-new", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`],
      dir,
    );
    await openssl(
      [
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-set_serial",
        serial,
        "-days",
        "1",
        "-out",
        `${name}.crt`,
        "-extfile",
        `${name}.ext`,
      ],
      dir,
    );
  };
  const sans = [...ips, "127.0.0.1"].map((ip) => `IP:${ip}`).join(",");
  await leaf(
    "server",
    member,
    `subjectAltName=${sans},DNS:localhost\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n`,
    "2",
  );
  await leaf(
    "client",
    "etcd-backup",
    "keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
    "3",
  );
  const p = (f: string) => path.join(dir, f);
  return {
    ca: p("ca.crt"),
    serverCrt: p("server.crt"),
    serverKey: p("server.key"),
    clientCrt: p("client.crt"),
    clientKey: p("client.key"),
  };
}

interface Etcd {
  ip: string;
  clientUrl: string;
  proc: ManagedProcess;
}

/** One etcd member over mutual TLS (client and peer), started from `dataDir` (new or restored). */
async function startEtcd(pki: Pki, ip: string, dataDir: string, logFile: string): Promise<Etcd> {
  const clientUrl = `https://${ip}:2379`;
  const peer = `https://${ip}:2380`;
  const proc = spawnManaged(
    member,
    "etcd",
    [
      `--name=${member}`,
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=${member}=${peer}`,
      `--initial-cluster-token=rehearsal-local-etcd`,
      `--cert-file=${pki.serverCrt}`,
      `--key-file=${pki.serverKey}`,
      `--client-cert-auth=true`,
      `--trusted-ca-file=${pki.ca}`,
      `--peer-cert-file=${pki.serverCrt}`,
      `--peer-key-file=${pki.serverKey}`,
      `--peer-client-cert-auth=true`,
      `--peer-trusted-ca-file=${pki.ca}`,
    ],
    logFile,
  );
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await etcdctl(pki, clientUrl, ["endpoint", "health"]);
    if (r.code === 0) return { ip, clientUrl, proc };
    if (proc.exitStatus !== undefined || Date.now() > deadline) {
      await proc.stop();
      throw new Error(
        `etcd on ${clientUrl} did not become healthy: ${r.output}\n${fs.readFileSync(logFile, "utf8").slice(-2000)}`,
      );
    }
    await sleep(200);
  }
}

function etcdctl(pki: Pki, endpoint: string, args: string[], input?: Buffer) {
  const all = [
    `--endpoints=${endpoint}`,
    `--cacert=${pki.ca}`,
    `--cert=${pki.clientCrt}`,
    `--key=${pki.clientKey}`,
    "--dial-timeout=2s",
    ...args,
  ];
  return run("etcdctl", all, { env: cleanEnv({ ETCDCTL_API: "3" }), timeoutMs: 20_000, input });
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("snapshot.sh and the restore tool against a real etcd and a local S3 endpoint @integration", function () {
  this.timeout(60_000);
  let tmp: string;
  let pki: Pki;
  let etcd: Etcd;
  let restoreIp: string;
  let s3: localS3.LocalS3;
  let home: string;
  const started: ManagedProcess[] = [];

  function scriptEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const base = cleanEnv();
    for (const k of Object.keys(base)) if (k.startsWith("AWS_")) delete base[k];
    const work = fs.mkdtempSync(path.join(tmp, "work-"));
    return {
      ...base,
      HOME: home,
      ETCD_ENDPOINTS: etcd.clientUrl,
      CLUSTER: "rehearsal",
      ENVIRONMENT: "local",
      S3_BUCKET: bucket,
      S3_PREFIX: prefix,
      KMS_KEY_ID: kmsKeyId,
      ETCD_VERSION: "3.4.23",
      ENCRYPTION_KEYS: "secretbox:key-2026-11 aescbc:key-2026-05",
      AWS_REGION: "eu-west-1",
      ETCD_CACERT: pki.ca,
      ETCD_CERT: pki.clientCrt,
      ETCD_KEY: pki.clientKey,
      WORK_DIR: work,
      AWS_ENDPOINT_URL: s3.url,
      AWS_ACCESS_KEY_ID: "AKIDLOCALTEST",
      AWS_SECRET_ACCESS_KEY: "local-test-secret",
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_MAX_ATTEMPTS: "2",
      ETCD_DIAL_TIMEOUT: "2s",
      ETCD_COMMAND_TIMEOUT: "2s",
      ...extra,
    };
  }

  const runScript = async (env: NodeJS.ProcessEnv) => {
    const r = await run("sh", [script], { env, timeoutMs: 60_000 });
    // The work dir is private to the run and removed on every exit.
    assert.deepEqual(fs.readdirSync(env.WORK_DIR!), [], `work dir left behind:\n${r.output}`);
    return r;
  };
  const snapshots = () => s3.objects().filter((o) => o.key.endsWith(".db.gz"));
  const marker = () => s3.getObject(bucket, `${prefix}latest.json`);
  const awsEnv = () => scriptEnv();

  before(async function () {
    for (const bin of ["etcd", "etcdctl", "aws", "openssl"])
      if (!findBinary(bin))
        throw new Error(
          `${bin} not found; run scripts/setup.sh (apt-get install etcd-server etcd-client awscli openssl)`,
        );
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "snapshot-sh-"));
    home = path.join(tmp, "home");
    fs.mkdirSync(home);
    const ip = await freeLoopbackAddress([2379, 2380]);
    restoreIp = await freeLoopbackAddress([2379, 2380], [ip]);
    pki = await makePki(path.join(tmp, "pki"), [ip, restoreIp]);
    etcd = await startEtcd(pki, ip, path.join(tmp, "data"), path.join(tmp, "etcd.log"));
    started.push(etcd.proc);
    s3 = await localS3.start();
    // Data to find again after a restore, plus ~6 MiB of incompressible values so the upload is multipart.
    for (let i = 0; i < 20; i++)
      assert.equal((await etcdctl(pki, etcd.clientUrl, ["put", `/registry/test/k${i}`, `v${i}`])).code, 0);
    for (let i = 0; i < 6; i++) {
      const r = await etcdctl(pki, etcd.clientUrl, ["put", `/bulk/${i}`], randomMiB(i));
      assert.equal(r.code, 0, r.output);
    }
  });

  after(async function () {
    for (const p of started) await p.stop(); // by pid, SIGTERM then SIGKILL
    if (s3) await s3.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  let goodKey = "";

  it("happy path: a verified SSE-KMS multipart upload with metadata, then the latest marker", async function () {
    const r = await runScript(
      scriptEnv({ VERIFY_DOWNLOAD: "true", S3_MULTIPART_THRESHOLD: "5MB", S3_MULTIPART_CHUNKSIZE: "5MB" }),
    );
    assert.equal(r.code, 0, r.output);
    assert.equal(r.stderr, "", "nothing on stderr on success");
    assert.match(r.stdout, /integrity ok \(etcdctl\): hash \d+, revision \d+, \d+ keys/);
    const objs = snapshots();
    assert.equal(objs.length, 1);
    const obj = objs[0];
    goodKey = obj.key;
    // <UTC timestamp>-<run id>-<member>: a key no other run can pick.
    assert.match(obj.key, new RegExp(`^${prefix}\\d{8}T\\d{6}Z-[0-9a-f]{8}-${member}\\.db\\.gz$`));
    assert.equal(obj.metadata["encryption-keys"], "secretbox:key-2026-11 aescbc:key-2026-05");
    assert.equal(obj.metadata.sha256, sha256(obj.body));
    assert.equal(obj.metadata["etcd-version"], "3.4.23");
    assert.match(obj.metadata.hash, /^\d+$/);
    assert.match(obj.metadata.revision, /^\d+$/);
    assert.equal(obj.sseHeaders["x-amz-server-side-encryption"], "aws:kms");
    assert.equal(obj.sseHeaders["x-amz-server-side-encryption-aws-kms-key-id"], kmsKeyId);
    assert.ok(obj.parts >= 2, `expected a multipart upload, got ${obj.parts} parts of ${obj.size} bytes`);
    assert.equal(obj.contentType, "application/gzip");
    const db = zlib.gunzipSync(obj.body);
    assert.equal(sha256(db), obj.metadata["db-sha256"]);

    const m = marker();
    assert.ok(m, "latest.json written");
    assert.equal(m.sseHeaders["x-amz-server-side-encryption"], "aws:kms");
    const latest = JSON.parse(m.body.toString()) as Record<string, unknown>;
    assert.equal(latest.key, obj.key);
    assert.equal(latest.size, obj.size);
    assert.equal(latest.sha256, obj.metadata.sha256);
    assert.equal(String(latest.revision), obj.metadata.revision);
    assert.equal(latest.encryptionKeys, "secretbox:key-2026-11 aescbc:key-2026-05");
    assert.match(String(latest.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(s3.pendingUploads().length, 0);
    const ops = new Set(s3.requests().map((q) => q.operation));
    for (const op of [
      "CreateMultipartUpload",
      "UploadPart",
      "CompleteMultipartUpload",
      "HeadObject",
      "GetObject",
    ])
      assert.ok(ops.has(op), `${op} used`);
  });

  it("one member down: the snapshot is taken from the next member in order", async function () {
    const dead = await freeLoopbackAddress([2379], [etcd.ip, restoreIp]);
    const before = snapshots().length;
    const r = await runScript(scriptEnv({ ETCD_ENDPOINTS: `https://${dead}:2379,${etcd.clientUrl}` }));
    assert.equal(r.code, 0, r.output);
    assert.match(r.stdout, new RegExp(`skipping https://${dead.replace(/\./g, "\\.")}:2379: not healthy`));
    assert.equal(snapshots().length, before + 1);
    const latest = JSON.parse(marker()!.body.toString()) as { key: string };
    assert.match(latest.key, new RegExp(`-${member}\\.db\\.gz$`));
  });

  it("every member down: non-zero exit, one line naming each member, nothing uploaded", async function () {
    const dead = await freeLoopbackAddress([2379], [etcd.ip, restoreIp]);
    const before = s3.objects().map((o) => o.key);
    const r = await runScript(scriptEnv({ ETCD_ENDPOINTS: `cp-1=https://${dead}:2379` }));
    assert.equal(r.code, 1);
    assert.deepEqual(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /^snapshot: FAILED: no member produced a verified snapshot \(cp-1: not healthy/);
    assert.deepEqual(
      s3.objects().map((o) => o.key),
      before,
    );
  });

  it("S3 endpoint down: non-zero exit, one-line reason, nothing uploaded, marker untouched", async function () {
    const markerBefore = marker()!.body.toString();
    const before = s3.objects().map((o) => o.key);
    await s3.stop();
    try {
      const r = await runScript(scriptEnv());
      assert.equal(r.code, 1, r.output);
      const lines = r.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, `exactly one stderr line, got:\n${r.stderr}`);
      assert.match(
        lines[0],
        // The first S3 call fails: the check that the run's key is free.
        /^snapshot: FAILED: cannot check whether s3:\/\/etcd-snapshots\/rehearsal\/local\/\S+ exists \(.+\)/,
      );
    } finally {
      await s3.restart();
    }
    assert.deepEqual(
      s3.objects().map((o) => o.key),
      before,
    );
    assert.equal(marker()!.body.toString(), markerBefore);
  });

  it("an upload that fails verification is deleted and the marker is not updated", async function () {
    const markerBefore = marker()!.body.toString();
    const before = s3.objects().map((o) => o.key);
    s3.faults.truncateUploads = true;
    try {
      const r = await runScript(scriptEnv());
      assert.equal(r.code, 1);
      const lines = r.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(
        lines[0],
        /^snapshot: FAILED: uploaded object .* has \d+ bytes, expected \d+; removed the unverified object/,
      );
    } finally {
      s3.faults.truncateUploads = false;
    }
    assert.deepEqual(
      s3.objects().map((o) => o.key),
      before,
    );
    assert.equal(marker()!.body.toString(), markerBefore);
  });

  it("without delete permission an unverified upload is overwritten with an empty failed marker object", async function () {
    const markerBefore = marker()!.body.toString();
    s3.faults.truncateUploads = true;
    s3.faults.denyDelete = true;
    let key: string;
    try {
      const r = await runScript(scriptEnv());
      assert.equal(r.code, 1);
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
      assert.match(
        r.stderr,
        /could not delete the unverified object s3:\/\/\S+ \(.*AccessDenied.*\), overwrote it with an empty object marked snapshot-status=failed/,
      );
      key = /s3:\/\/etcd-snapshots\/(\S+\.db\.gz)/.exec(r.stderr)![1];
    } finally {
      s3.faults.truncateUploads = false;
      s3.faults.denyDelete = false;
    }
    const tomb = s3.getObject(bucket, key)!;
    assert.equal(tomb.size, 0);
    assert.deepEqual(tomb.metadata, { "snapshot-status": "failed" });
    assert.equal(marker()!.body.toString(), markerBefore);
    const out: string[] = [];
    const code = await restoreMain(
      ["--stack", "local", "--from", `s3://${bucket}/${key}`, "--endpoint-url", s3.url],
      {
        out: (l) => out.push(l),
        err: (l) => out.push(l),
        env: awsEnv(),
      },
    );
    assert.equal(code, 1);
    assert.match(out.join("\n"), /REFUSED: .*snapshot-status=failed/);
  });

  it("two runs of one member at once write two verified snapshots, never the same key", async function () {
    const before = new Set(snapshots().map((o) => o.key));
    const [a, b] = await Promise.all([runScript(scriptEnv()), runScript(scriptEnv())]);
    assert.equal(a.code, 0, a.output);
    assert.equal(b.code, 0, b.output);
    const added = snapshots().filter((o) => !before.has(o.key));
    assert.equal(added.length, 2, added.map((o) => o.key).join(", "));
    for (const o of added) assert.equal(o.metadata.sha256, sha256(o.body), `${o.key} is intact`);
    const latest = JSON.parse(marker()!.body.toString()) as { key: string; sha256: string };
    const named = s3.getObject(bucket, latest.key)!;
    assert.equal(sha256(named.body), latest.sha256, "the marker names an intact snapshot");
  });

  it("a run that fails cleans up only what it uploaded: an earlier good snapshot and the marker stay", async function () {
    const good = await runScript(scriptEnv());
    assert.equal(good.code, 0, good.output);
    const latest = JSON.parse(marker()!.body.toString()) as { key: string; sha256: string };
    const goodObject = s3.getObject(bucket, latest.key)!;
    const goodBytes = Buffer.from(goodObject.body);
    // Right after (same second as often as not), a second run whose upload fails verification.
    s3.faults.truncateUploads = true;
    try {
      const bad = await runScript(scriptEnv());
      assert.equal(bad.code, 1, bad.output);
      assert.ok(!bad.stderr.includes(latest.key), "the failed run names only its own object");
    } finally {
      s3.faults.truncateUploads = false;
    }
    const after = s3.getObject(bucket, latest.key)!;
    assert.ok(after.body.equals(goodBytes), "the good snapshot's bytes are untouched");
    assert.equal(after.metadata.sha256, latest.sha256);
    assert.equal(JSON.parse(marker()!.body.toString()).key, latest.key, "the marker still names it");
  });

  it("the marker only moves forward: a run older than the snapshot it names leaves it alone", async function () {
    const original = Buffer.from(marker()!.body);
    const newer = { ...JSON.parse(original.toString()), revision: 999_999_999 };
    s3.putObject(bucket, `${prefix}latest.json`, Buffer.from(JSON.stringify(newer)));
    try {
      const r = await runScript(scriptEnv());
      assert.equal(r.code, 0, r.output);
      assert.match(r.output, /kept the marker: it names a newer snapshot \(revision 999999999 > \d+\)/);
      assert.equal(JSON.parse(marker()!.body.toString()).revision, 999_999_999);
    } finally {
      s3.putObject(bucket, `${prefix}latest.json`, original);
    }
  });

  it("a marker that cannot be written fails the run but keeps the verified snapshot", async function () {
    const markerBefore = marker()!.body.toString();
    s3.faults.denyPutKeys = /latest\.json$/;
    try {
      const r = await runScript(scriptEnv());
      assert.equal(r.code, 1);
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
      assert.match(
        r.stderr,
        /^snapshot: FAILED: snapshot s3:\/\/\S+ is uploaded and verified, but the marker .* could not be updated/,
      );
    } finally {
      s3.faults.denyPutKeys = undefined;
    }
    assert.equal(marker()!.body.toString(), markerBefore);
  });

  it("restore: verifies the download and restores a member that serves the snapshot's data", async function () {
    const settings: Pick<
      SecureEtcdSettings,
      "clusterName" | "environment" | "members" | "etcdVersion" | "paths"
    > = {
      clusterName: "rehearsal",
      environment: "local",
      etcdVersion: "3.4.23",
      members: [{ name: member, ip: restoreIp, dnsNames: [] }],
      paths: {
        pkiDir: "/etc/kubernetes/pki",
        manifestDir: "/etc/kubernetes/manifests",
        dataDir: "/var/lib/etcd",
        encryptionConfigDir: "/etc/kubernetes/enc",
      },
    };
    const target = path.join(tmp, "restored");
    const r = await restoreSnapshot({
      settings,
      from: `s3://${bucket}/${goodKey}`,
      endpointUrl: s3.url,
      apply: { targetDir: target },
      env: awsEnv(),
    });
    assert.equal(r.plan.tool, "etcdctl");
    // The keys in force when the snapshot was taken, from its metadata: a restore needs them.
    assert.deepEqual(r.plan.encryptionKeys?.keys, ["secretbox:key-2026-11", "aescbc:key-2026-05"]);
    assert.equal(r.applied.length, 1);
    assert.equal(fs.statSync(r.applied[0].dataDir).mode & 0o777, 0o700);
    const restored = await startEtcd(pki, restoreIp, r.applied[0].dataDir, path.join(tmp, "restored.log"));
    started.push(restored.proc);
    try {
      const got = await etcdctl(pki, restored.clientUrl, ["get", "/registry/test/k7", "--print-value-only"]);
      assert.equal(got.stdout.trim(), "v7");
      const keys = await etcdctl(pki, restored.clientUrl, [
        "get",
        "/registry/test/",
        "--prefix",
        "--keys-only",
      ]);
      assert.equal(keys.stdout.split("\n").filter(Boolean).length, 20, keys.output);
    } finally {
      await restored.proc.stop();
    }
  });

  it("restore refuses a corrupted, an empty and a re-hashed but damaged download (exit 1, clear reason)", async function () {
    const good = s3.getObject(bucket, goodKey)!;
    const attempt = async (key: string) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await restoreMain(
        ["--stack", "local", "--from", `s3://${bucket}/${key}`, "--endpoint-url", s3.url],
        {
          out: (l) => out.push(l),
          err: (l) => err.push(l),
          env: awsEnv(),
        },
      );
      return { code, err: err.join("\n"), out: out.join("\n") };
    };
    const copy = (key: string, body: Buffer, metadata = good.metadata) =>
      s3.putObject(bucket, key, body, metadata);

    copy(`${prefix}flipped.db.gz`, good.body);
    s3.corrupt(bucket, `${prefix}flipped.db.gz`, "flip");
    let r = await attempt(`${prefix}flipped.db.gz`);
    assert.equal(r.code, 1);
    assert.match(r.err, /^restore: REFUSED: SHA-256 mismatch: got [0-9a-f]{64}, expected [0-9a-f]{64}$/);
    assert.doesNotMatch(r.out, /Restore plan/);

    copy(`${prefix}empty.db.gz`, good.body);
    s3.corrupt(bucket, `${prefix}empty.db.gz`, "empty");
    r = await attempt(`${prefix}empty.db.gz`);
    assert.equal(r.code, 1);
    assert.match(r.err, /REFUSED: .*is empty/);

    // Damaged inside the snapshot, with a matching sha256 (e.g. corrupted before upload): the snapshot's own checks catch it.
    const db = zlib.gunzipSync(good.body);
    db.fill(0x55, 8192, 8192 + 4096);
    const gz = zlib.gzipSync(db);
    copy(`${prefix}damaged.db.gz`, gz, { ...good.metadata, sha256: sha256(gz), "db-sha256": sha256(db) });
    r = await attempt(`${prefix}damaged.db.gz`);
    assert.equal(r.code, 1);
    assert.match(r.err, /REFUSED: the snapshot's own SHA-256 trailer does not match/);

    // And the good object still passes, printing the plan for the stack's three members.
    r = await attempt(goodKey);
    assert.equal(r.code, 0, r.err);
    // The local stack's etcdVersion decides the tool (etcdutl from 3.5; the capability table's rule).
    const version = readStackConfig("local")["secure-etcd:etcdVersion"];
    const tool = snapshotFileTool(parseEtcdVersion(version)!);
    assert.ok(r.out.includes(`Restore plan: etcd ${version} with ${tool}, 3 member(s)`), r.out);
    assert.match(r.out, /Stop every kube-apiserver FIRST/);
    const kept = /verified snapshot kept at (\S+)/.exec(r.out)![1];
    fs.rmSync(path.dirname(kept), { recursive: true, force: true });
  });

  it("the script is POSIX sh and shellcheck-clean", async function () {
    if (!findBinary("shellcheck"))
      throw new Error("shellcheck not found; apt-get install shellcheck (scripts/setup.sh does)");
    const r = await run("shellcheck", ["-s", "sh", script]);
    assert.equal(r.code, 0, r.output);
    assert.match(fs.readFileSync(script, "utf8"), /^#!\/bin\/sh\n[\s\S]*\nset -eu\n/);
  });
});

/** 1 MiB of deterministic incompressible bytes. */
function randomMiB(seed: number): Buffer {
  const out = Buffer.alloc(1 << 20);
  let block = createHash("sha256").update(`seed-${seed}`).digest();
  for (let off = 0; off < out.length; off += 32) {
    block.copy(out, off);
    block = createHash("sha256").update(block).digest();
  }
  return out;
}

describe("backup drill on the rehearsal cluster (3 members, rendered manifests) @integration", function () {
  this.timeout(120_000);
  let outDir: string;
  let cluster: RunningCluster | undefined;

  after(async function () {
    if (cluster) await cluster.stop();
    if (outDir) fs.rmSync(outDir, { recursive: true, force: true });
  });

  it("snapshot.sh → local S3 → restore tool → a fresh cluster with the same data; reports size, upload, restore, RPO", async function () {
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
