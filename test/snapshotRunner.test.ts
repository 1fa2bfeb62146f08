/**
 * The snapshot job's runner files (components/backup/runner) piece by piece, without etcd or moto: the
 * SigV4 signer against the AWS SDK's own (@smithy/signature-v4), the credential chain against loopback
 * stand-ins for the container-credentials endpoint and IMDSv2 (not S3: the S3 side is moto, see
 * snapshotScript.test.ts), the frame format and its caps, the raw digest, and the config rules.
 */
import { SignatureV4 } from "@smithy/signature-v4";
import type { SourceData } from "@smithy/types";
import * as assert from "node:assert/strict";
import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { SNAPSHOT_PART_BYTES } from "../components/backup/job/constants";
import { HttpClient, signV4 } from "../components/backup/runner/aws";
import { readConfig } from "../components/backup/runner/config";
import { credentialChain } from "../components/backup/runner/credentials";
import { SnapshotDigest } from "../components/backup/runner/digest";
import { compressFrame, decompressFrame, END, FrameReader, MAGIC } from "../components/backup/runner/frames";
import { compositeSha256 } from "../components/backup/runner/s3";
import { readSnapshotRunner, snapshotRunnerDir } from "../components/backup/snapshotRunner";
import * as fs from "node:fs";

const bytes = (d: SourceData): Buffer =>
  typeof d === "string"
    ? Buffer.from(d)
    : ArrayBuffer.isView(d)
      ? Buffer.from(d.buffer, d.byteOffset, d.byteLength)
      : Buffer.from(d);

/** The SDK's Checksum interface over node's crypto (HMAC when given a secret). */
class NodeSha256 {
  private readonly h: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.h = secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(secret));
  }
  update(data: SourceData): void {
    this.h.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
}

const creds = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
  sessionToken: "tok",
};

describe("snapshot job runner (unit)", function () {
  it("signs exactly as the AWS SDK does (SigV4: path, query, headers, payload hash, session token)", async function () {
    const now = new Date("2026-12-07T12:34:56Z");
    const body = Buffer.from("part bytes");
    const payloadHash = createHash("sha256").update(body).digest("hex");
    const headers: Record<string, string> = {
      "x-amz-checksum-sha256": createHash("sha256").update(body).digest("base64"),
      "content-type": "application/octet-stream",
      "x-amz-meta-encryption-keys": "secretbox:key-1 aescbc:key 0",
      "if-none-match": "*",
    };
    const path = "/etcd-snapshots/a%20b/20261207T123456Z-0a1b2c3d-cp-1.db.brf";
    const query: [string, string][] = [
      ["uploadId", "a+b/c="],
      ["partNumber", "7"],
    ];
    const ours = signV4(
      { method: "PUT", host: "127.0.0.1:9000", path, query, headers: { ...headers }, payloadHash },
      creds,
      "eu-west-1",
      "s3",
      now,
    );
    const sdk = new SignatureV4({
      credentials: creds,
      region: "eu-west-1",
      service: "s3",
      sha256: NodeSha256,
      uriEscapePath: false,
      applyChecksum: false,
    });
    const signed = await sdk.sign(
      {
        method: "PUT",
        protocol: "http:",
        hostname: "127.0.0.1",
        port: 9000,
        path,
        query: { uploadId: "a+b/c=", partNumber: "7" },
        headers: { ...headers, host: "127.0.0.1:9000", "x-amz-content-sha256": payloadHash },
        body,
      },
      { signingDate: now },
    );
    assert.equal(ours.headers.authorization, signed.headers.authorization);
  });

  it("credential chain: container credentials (EKS Pod Identity) with its token, then IMDSv2; temporary keys are refreshed", async function () {
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      seen.push(
        `${req.method} ${req.url} ${req.headers.authorization ?? ""}${req.headers["x-aws-ec2-metadata-token"] ?? ""}`,
      );
      const expiration = new Date(Date.now() + 60_000).toISOString(); // inside the refresh window
      const answers: Record<string, string> = {
        "GET /creds": JSON.stringify({
          AccessKeyId: "ASIACONTAINER",
          SecretAccessKey: "s",
          Token: "t",
          Expiration: expiration,
        }),
        "PUT /latest/api/token": "imds-token",
        "GET /latest/meta-data/iam/security-credentials/": "node-role\n",
        "GET /latest/meta-data/iam/security-credentials/node-role": JSON.stringify({
          AccessKeyId: "ASIAIMDS",
          SecretAccessKey: "s",
          Token: "t",
          Expiration: expiration,
        }),
      };
      const answer = answers[`${req.method} ${req.url}`];
      res.statusCode = answer === undefined ? 404 : 200;
      res.end(answer ?? "");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = new HttpClient({ readTimeoutMs: 5000, connectTimeoutMs: 5000, maxSockets: 2 });
    try {
      const tokenFile = `${fs.mkdtempSync("/tmp/pod-identity-")}/token`;
      fs.writeFileSync(tokenFile, "pod-identity-token\n");
      const container = credentialChain(
        {
          AWS_CONTAINER_CREDENTIALS_FULL_URI: `${base}/creds`,
          AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile,
        },
        client,
        "eu-west-1",
      );
      assert.equal(container.source, "container credentials");
      assert.equal((await container.get()).accessKeyId, "ASIACONTAINER");
      await container.get();
      assert.equal(
        seen.filter((s) => s === "GET /creds pod-identity-token").length,
        2,
        "expiring within 5 minutes: fetched again",
      );
      const imds = credentialChain({ AWS_EC2_METADATA_SERVICE_ENDPOINT: base }, client, "eu-west-1");
      assert.equal((await imds.get()).accessKeyId, "ASIAIMDS");
      assert.ok(
        seen.includes("GET /latest/meta-data/iam/security-credentials/node-role imds-token"),
        seen.join("\n"),
      );
      const none = credentialChain({ AWS_EC2_METADATA_DISABLED: "true" }, client, "eu-west-1");
      await assert.rejects(none.get(), /no AWS credentials/);
      await assert.rejects(
        credentialChain(
          { AWS_CONTAINER_CREDENTIALS_FULL_URI: "http://10.1.2.3/creds" },
          client,
          "eu-west-1",
        ).get(),
        /must be https or a loopback\/ECS\/EKS Pod Identity address/,
      );
    } finally {
      client.close();
      server.close();
    }
  });

  it("frames: round trip; refused when truncated, damaged, declaring past the cap, or decompressing past what they declare", async function () {
    const raw = Buffer.concat([Buffer.alloc(3 << 20, 7), createHash("sha256").update("x").digest()]);
    const frame = await compressFrame(raw, 0);
    const obj = Buffer.concat([MAGIC, frame, END]);
    const reader = new FrameReader(1 << 30);
    const frames = [];
    for (let o = 0; o < obj.length; o += 777) frames.push(...reader.push(obj.subarray(o, o + 777)));
    reader.finish();
    assert.ok(Buffer.concat(await Promise.all(frames.map(decompressFrame))).equals(raw));
    const cut = new FrameReader(1 << 30);
    cut.push(obj.subarray(0, obj.length - 3));
    assert.throws(() => cut.finish(), /truncated/);
    assert.throws(
      () => new FrameReader(1 << 20).push(obj),
      (e: Error & { kind?: string }) => e.kind === "limit",
    );
    const liar = Buffer.from(frame);
    liar.writeUInt32BE(1024, 0);
    const [lying] = new FrameReader(1 << 30).push(Buffer.concat([MAGIC, liar, END]));
    await assert.rejects(decompressFrame(lying), /decompresses to more than the 1024 bytes it declares/);
    assert.throws(() => new FrameReader(1 << 30).push(Buffer.from("not a snapshot!")), /bad magic/);
  });

  it("digest: the SHA-256 of everything and the trailer check, in one pass, however the bytes are cut", function () {
    const body = Buffer.alloc(4096, 1);
    const good = Buffer.concat([body, createHash("sha256").update(body).digest()]);
    for (const step of [1, 31, 32, 33, 4096, 5000]) {
      const d = new SnapshotDigest();
      for (let o = 0; o < good.length; o += step) d.update(good.subarray(o, o + step));
      const r = d.finish();
      assert.deepEqual(r, {
        size: good.length,
        sha256: createHash("sha256").update(good).digest("hex"),
        shapeOk: true,
        trailerOk: true,
      });
    }
    const bad = Buffer.from(good);
    bad[bad.length - 1] ^= 1;
    const d = new SnapshotDigest();
    d.update(bad);
    assert.equal(d.finish().trailerOk, false);
    assert.equal(compositeSha256([Buffer.alloc(32)]).endsWith("-1"), true);
  });

  it("config: what the CronJob sets is enough; old variables are refused by name; the part size is the cost model's", function () {
    const env = {
      ETCD_ENDPOINTS: "cp-1=https://10.0.1.10:2379,https://10.0.2.10:2379",
      S3_BUCKET: "b",
      S3_PREFIX: "c/e",
      KMS_KEY_ID: "arn:aws:kms:eu-west-1:111122223333:key/x",
      AWS_REGION: "eu-west-1",
      ETCD_STATUS_TOOL: "etcdutl",
    };
    const c = readConfig(env);
    assert.equal(c.prefix, "c/e/");
    assert.deepEqual(c.endpoints, [
      { name: "cp-1", url: "https://10.0.1.10:2379" },
      { name: undefined, url: "https://10.0.2.10:2379" },
    ]);
    assert.equal(c.partBytes, SNAPSHOT_PART_BYTES);
    assert.throws(
      () => readConfig({ ...env, S3_MULTIPART_CHUNKSIZE: "64MB" }),
      /S3_MULTIPART_CHUNKSIZE is no longer read .* use S3_PART_SIZE/,
    );
    assert.throws(
      () => readConfig({ ...env, ETCD_STATUS_TOOL: "" }),
      /ETCD_STATUS_TOOL must be etcdutl or etcdctl/,
    );
    assert.throws(
      () => readConfig({ ...env, ETCD_ENDPOINTS: "http://10.0.1.10:2379" }),
      /is not an https:\/\/ client URL/,
    );
    assert.throws(() => readConfig({ ...env, S3_PART_SIZE: "1MiB" }), /from 5MiB/);
  });

  it("the ConfigMap carries every runner file, and each sibling a file requires is among them", function () {
    const files = readSnapshotRunner();
    const onDisk = fs
      .readdirSync(snapshotRunnerDir)
      .filter((f) => f.endsWith(".js"))
      .sort();
    assert.deepEqual(Object.keys(files), onDisk);
    for (const [name, text] of Object.entries(files))
      for (const m of text.matchAll(/require\("\.\/([^"]+)"\)/g))
        assert.ok(m[1] in files, `${name} requires ${m[1]}`);
  });
});
