import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as localS3 from "../harness/localS3";

/** The local S3 endpoint's wire behaviour, without awscli (the snapshot tests drive it with awscli). */
describe("local S3 endpoint", () => {
  let s3: localS3.LocalS3;
  before(async () => {
    s3 = await localS3.start({ buckets: ["b"] });
  });
  after(async () => {
    await s3?.stop();
  });
  const req = (
    method: string,
    pathAndQuery: string,
    body?: string | Buffer,
    headers: Record<string, string> = {},
  ) => fetch(`${s3.url}${pathAndQuery}`, { method, body, headers });

  it("PutObject / HeadObject / GetObject (with Range) keep metadata and echo SSE headers", async () => {
    const put = await req("PUT", "/b/dir/one.txt", "hello world", {
      "x-amz-meta-sha256": "abc",
      "x-amz-server-side-encryption": "aws:kms",
      "content-type": "text/plain",
    });
    assert.equal(put.status, 200);
    assert.equal(put.headers.get("x-amz-server-side-encryption"), "aws:kms");
    const head = await req("HEAD", "/b/dir/one.txt");
    assert.equal(head.headers.get("x-amz-meta-sha256"), "abc");
    assert.equal(head.headers.get("content-length"), "11");
    const range = await req("GET", "/b/dir/one.txt", undefined, { range: "bytes=6-" });
    assert.equal(range.status, 206);
    assert.equal(await range.text(), "world");
    assert.equal(s3.getObject("b", "dir/one.txt")?.sseHeaders["x-amz-server-side-encryption"], "aws:kms");
    assert.equal((await req("HEAD", "/b/missing")).status, 404);
    assert.match(await (await req("GET", "/nope/x")).text(), /<Code>NoSuchBucket<\/Code>/);
  });

  it("ListObjectsV2 with prefix, delimiter and paging", async () => {
    for (const k of ["p/a", "p/b", "p/sub/c"]) s3.putObject("b", k, Buffer.from(k));
    const text = await (await req("GET", "/b?list-type=2&prefix=p/&delimiter=/")).text();
    assert.match(text, /<Key>p\/a<\/Key>[\s\S]*<Key>p\/b<\/Key>/);
    assert.match(text, /<CommonPrefixes><Prefix>p\/sub\/<\/Prefix><\/CommonPrefixes>/);
    const page = await (await req("GET", "/b?list-type=2&prefix=p/&max-keys=1")).text();
    assert.match(
      page,
      /<IsTruncated>true<\/IsTruncated><NextContinuationToken>p\/a<\/NextContinuationToken>/,
    );
  });

  it("multipart upload: create, parts, complete; abort drops a pending upload", async () => {
    const created = await (await req("POST", "/b/big?uploads", "", { "x-amz-meta-member": "m1" })).text();
    const uploadId = /<UploadId>(\w+)<\/UploadId>/.exec(created)![1];
    const etags: string[] = [];
    for (const [n, body] of [
      [1, "part-one-"],
      [2, "part-two"],
    ] as const)
      etags.push(
        (await req("PUT", `/b/big?partNumber=${n}&uploadId=${uploadId}`, body)).headers.get("etag")!,
      );
    assert.equal(s3.pendingUploads().length, 1);
    const xml = etags
      .map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`)
      .join("");
    const done = await req(
      "POST",
      `/b/big?uploadId=${uploadId}`,
      `<CompleteMultipartUpload>${xml}</CompleteMultipartUpload>`,
    );
    assert.equal(done.status, 200, await done.clone().text());
    const obj = s3.getObject("b", "big")!;
    assert.equal(obj.body.toString(), "part-one-part-two");
    assert.equal(obj.parts, 2);
    assert.match(obj.etag, /-2"$/);
    assert.equal(obj.metadata.member, "m1");
    const other = /<UploadId>(\w+)<\/UploadId>/.exec(await (await req("POST", "/b/x?uploads")).text())![1];
    assert.equal((await req("DELETE", `/b/x?uploadId=${other}`)).status, 204);
    assert.deepEqual(s3.pendingUploads(), []);
  });

  it("decodes aws-chunked bodies and checks their trailing checksum", async () => {
    const data = Buffer.from("chunked payload");
    const sha = createHash("sha256").update(data).digest("base64");
    const body = (checksum: string) =>
      `${data.length.toString(16)}\r\n${data}\r\n0\r\nx-amz-checksum-sha256:${checksum}\r\n\r\n`;
    const headers = {
      "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
      "content-encoding": "aws-chunked",
    };
    assert.equal((await req("PUT", "/b/chunked", body(sha), headers)).status, 200);
    assert.equal(s3.getObject("b", "chunked")!.body.toString(), "chunked payload");
    const bad = await req("PUT", "/b/chunked2", body("AAAA"), headers);
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /<Code>BadDigest<\/Code>/);
  });

  it("faults, corruption, and going down and up again", async () => {
    s3.putObject("b", "keep", Buffer.from("0123456789"));
    s3.faults.denyDelete = true;
    assert.equal((await req("DELETE", "/b/keep")).status, 403);
    s3.faults.denyDelete = false;
    s3.corrupt("b", "keep", "truncate");
    assert.equal(s3.getObject("b", "keep")!.body.toString(), "01234");
    await s3.stop();
    await assert.rejects(req("HEAD", "/b/keep"));
    await s3.restart();
    assert.equal((await req("HEAD", "/b/keep")).status, 200);
    assert.ok(s3.requests().some((r) => r.operation === "AccessDenied" && r.status === 403));
  });

  it("listens on loopback only", async () => {
    await assert.rejects(localS3.start({ host: "0.0.0.0" }), /loopback only/);
  });
});
