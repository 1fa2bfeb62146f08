/**
 * The way out of a stuck marker: after a restore that lowered the store's revision, `<prefix>latest.json`
 * still names a higher revision, and the snapshot job stops with exit 3 on every run. This points the
 * marker at a snapshot of the restored cluster — after verifying that snapshot as a restore would
 * (download, every hash, the trailer, `snapshot status`) — so the job's forward-only rule holds again.
 */
import { restoreSnapshot } from "./restoreSnapshot";
import { parseManifest, parseS3Url } from "./source";
import { RestoreRefused, type RestoreOptions } from "./types";

export interface AdoptedMarker {
  marker: string;
  key: string;
  revision: number;
}

/** Verifies the snapshot at `o.from` and writes its manifest, as the marker, to `<prefix>latest.json`. */
export async function pointMarkerAt(
  o: Omit<RestoreOptions, "apply" | "file"> & { from: string },
): Promise<AdoptedMarker> {
  const loc = parseS3Url(o.from);
  if (!loc) throw new RestoreRefused(`${o.from} is not an s3://BUCKET/KEY URL`);
  const verified = await restoreSnapshot({ ...o, keepDownload: false });
  if (verified.snapshot.format !== "brotli-frames-v1")
    throw new RestoreRefused(
      `${o.from} is a snapshot of the format before manifests; take a new snapshot and point the marker at it`,
    );
  const { S3Client, GetObjectCommand, HeadObjectCommand, PutObjectCommand } =
    await import("@aws-sdk/client-s3");
  const env = { ...process.env, ...(o.env ?? {}) };
  const s3 = new S3Client({
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1",
    credentials:
      env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
        ? {
            accessKeyId: env.AWS_ACCESS_KEY_ID,
            secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
            sessionToken: env.AWS_SESSION_TOKEN || undefined,
          }
        : undefined,
    followRegionRedirects: true,
    ...(o.endpointUrl ? { endpoint: o.endpointUrl, forcePathStyle: true } : {}),
  });
  const head = await s3.send(new HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
  const got = await s3.send(new GetObjectCommand({ Bucket: loc.bucket, Key: `${loc.key}.manifest.json` }));
  const text = await got.Body!.transformToString();
  const manifest = parseManifest(text, o.from);
  if (manifest.sha256 !== verified.snapshot.sha256 || manifest.revision !== verified.snapshot.revision)
    throw new RestoreRefused(`the manifest of ${o.from} changed while it was verified`);
  const markerKey = `${loc.key.slice(0, loc.key.lastIndexOf("/") + 1)}latest.json`;
  const record = {
    ...(JSON.parse(text) as object),
    markerSetBy: "secure-etcd snapshot-marker",
    markerSetAt: new Date().toISOString(),
  };
  await s3.send(
    new PutObjectCommand({
      Bucket: loc.bucket,
      Key: markerKey,
      Body: `${JSON.stringify(record)}\n`,
      ContentType: "application/json",
      ServerSideEncryption: "aws:kms",
      SSEKMSKeyId: head.SSEKMSKeyId,
    }),
  );
  return { marker: `s3://${loc.bucket}/${markerKey}`, key: loc.key, revision: manifest.revision };
}
