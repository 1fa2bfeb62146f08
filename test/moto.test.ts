import {
  CreateSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import * as assert from "node:assert/strict";
import { startFaultProxy, type FaultProxy } from "../harness/faultProxy";
import { startMoto, type MotoServer } from "../harness/moto";
import { pidAlive } from "../harness/process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

describe("moto server and the fault proxy @integration", function () {
  this.timeout(120_000);
  let moto: MotoServer;
  let proxy: FaultProxy;
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "moto-"));
  before(async () => {
    moto = await startMoto({ workDir });
    proxy = await startFaultProxy(moto.endpoint);
  });
  after(async () => {
    await proxy?.stop();
    await moto?.stop();
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  const secrets = () =>
    new SecretsManagerClient({ ...moto.clientConfig(), endpoint: proxy.url, maxAttempts: 1 });
  // No SDK checksums: the lost-bytes case must reach the store (the SDK would refuse the answer first).
  const s3 = () =>
    new S3Client({
      ...moto.clientConfig(),
      endpoint: proxy.url,
      maxAttempts: 1,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });

  it("serves Secrets Manager and S3 through the proxy, recording each operation", async () => {
    await secrets().send(new CreateSecretCommand({ Name: "a/b", SecretString: "v1" }));
    const got = await secrets().send(new GetSecretValueCommand({ SecretId: "a/b" }));
    assert.equal(got.SecretString, "v1");
    await s3().send(new CreateBucketCommand({ Bucket: "snapshots" }));
    await s3().send(new PutObjectCommand({ Bucket: "snapshots", Key: "k", Body: "hello" }));
    const obj = await s3().send(new GetObjectCommand({ Bucket: "snapshots", Key: "k" }));
    assert.equal(await obj.Body!.transformToString(), "hello");
    assert.ok(proxy.records.some((r) => r.target === "secretsmanager.GetSecretValue" && r.status === 200));
  });

  it("answers with an injected error once, then forwards again", async () => {
    proxy.faults.push({
      match: (r) => r.target === "secretsmanager.GetSecretValue",
      times: 1,
      action: {
        kind: "respond",
        status: 500,
        contentType: "application/x-amz-json-1.1",
        body: JSON.stringify({ __type: "InternalServiceError", message: "injected" }),
      },
    });
    await assert.rejects(secrets().send(new GetSecretValueCommand({ SecretId: "a/b" })), /injected/);
    const again = await secrets().send(new GetSecretValueCommand({ SecretId: "a/b" }));
    assert.equal(again.SecretString, "v1");
  });

  it("drops request bytes (a store that loses data) and cuts answers short", async () => {
    proxy.faults.push({
      match: (r) => r.method === "PUT",
      times: 1,
      action: { kind: "dropRequestBytes", bytes: 1 },
    });
    await s3().send(new PutObjectCommand({ Bucket: "snapshots", Key: "short", Body: "hello" }));
    const obj = await s3().send(new GetObjectCommand({ Bucket: "snapshots", Key: "short" }));
    assert.equal(await obj.Body!.transformToString(), "hell");
    proxy.faults.push({
      match: (r) => r.method === "GET",
      times: 1,
      action: { kind: "truncateResponse", bytes: 2 },
    });
    await assert.rejects(async () => {
      const cut = await s3().send(new GetObjectCommand({ Bucket: "snapshots", Key: "k" }));
      await cut.Body!.transformToString();
    });
  });

  it("goes down and comes back with moto's state intact", async () => {
    await proxy.down();
    await assert.rejects(secrets().send(new GetSecretValueCommand({ SecretId: "a/b" })));
    await proxy.up();
    assert.equal((await secrets().send(new GetSecretValueCommand({ SecretId: "a/b" }))).SecretString, "v1");
  });

  it("enforces IAM on request: unknown keys are refused, a user's key is held to its policy", async () => {
    const { IAMClient, CreateUserCommand, PutUserPolicyCommand, CreateAccessKeyCommand } =
      await import("@aws-sdk/client-iam");
    const iam = new IAMClient(moto.clientConfig());
    await iam.send(new CreateUserCommand({ UserName: "reader" }));
    await iam.send(
      new PutUserPolicyCommand({
        UserName: "reader",
        PolicyName: "read",
        PolicyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::snapshots/*" }],
        }),
      }),
    );
    const k = (await iam.send(new CreateAccessKeyCommand({ UserName: "reader" }))).AccessKey!;
    await moto.enforceIam(0);
    const as = (accessKeyId: string, secretAccessKey: string) =>
      new S3Client({
        ...moto.clientConfig({ accessKeyId, secretAccessKey }),
        endpoint: proxy.url,
        maxAttempts: 1,
      });
    const reader = as(k.AccessKeyId!, k.SecretAccessKey!);
    assert.equal(
      await (
        await reader.send(new GetObjectCommand({ Bucket: "snapshots", Key: "k" }))
      ).Body!.transformToString(),
      "hello",
    );
    await assert.rejects(
      reader.send(new PutObjectCommand({ Bucket: "snapshots", Key: "x", Body: "no" })),
      /AccessDenied/,
    );
    await assert.rejects(
      as("AKIDUNKNOWN", "nope").send(new GetObjectCommand({ Bucket: "snapshots", Key: "k" })),
    );
  });

  it("stops moto by pid", async () => {
    const pid = moto.pid;
    await moto.stop();
    assert.equal(pidAlive(pid), false);
  });
});
