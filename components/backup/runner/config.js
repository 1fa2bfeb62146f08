// @ts-check
/**
 * The snapshot job's settings, from its environment (the CronJob sets them; see renderCronJob.ts). A bad
 * or missing value is a ConfigProblem: the job exits 2 naming the variable.
 */
"use strict";

class ConfigProblem extends Error {}

/**
 * @typedef {{
 *   endpoints: { name?: string, url: string }[], bucket: string, prefix: string, kmsKeyId: string, region: string,
 *   s3Endpoint?: string, etcdVersion: string, statusTool: "etcdutl" | "etcdctl", encryptionKeys: string,
 *   cacert: string, cert: string, key: string, workDir: string, etcdctl: string, etcdutl: string,
 *   dialTimeout: string, commandTimeout: string, snapshotTimeoutMs: number, verifyDownload: boolean,
 *   quality: number, threads: number, partBytes: number, partsInFlight: number, readTimeoutMs: number,
 *   connectTimeoutMs: number }} JobConfig
 */

/** Variables of the shell script this job replaced, with what took their place. */
const REPLACED = {
  GZIP_LEVEL: "COMPRESSION_QUALITY (brotli 0–11)",
  S3_MULTIPART_THRESHOLD: "S3_PART_SIZE (a snapshot smaller than one part is a single PUT)",
  S3_MULTIPART_CHUNKSIZE: "S3_PART_SIZE",
  S3_MAX_CONCURRENT_REQUESTS: "S3_PARTS_IN_FLIGHT",
};

const MiB = 1024 * 1024;

/** `64MiB`, `16MB` (= MiB here, as awscli read it), `8388608` → bytes. */
function bytesOf(/** @type {string} */ name, /** @type {string} */ v) {
  const m = /^(\d+)\s*(|k|ki|kib|kb|m|mi|mib|mb|g|gi|gib|gb)$/i.exec(v.trim());
  if (!m) throw new ConfigProblem(`${name} must be a size like 16MiB (got '${v}')`);
  const unit = m[2].toLowerCase()[0] ?? "";
  return Number(m[1]) * ({ "": 1, k: 1024, m: MiB, g: 1024 * MiB }[unit] ?? 1);
}

/** @param {string} name @param {string} v @param {number} min @param {number} max */
function whole(name, v, min, max) {
  if (!/^\d+$/.test(v.trim()) || Number(v) < min || Number(v) > max)
    throw new ConfigProblem(`${name} must be a whole number from ${min} to ${max} (got '${v}')`);
  return Number(v);
}

/** @param {NodeJS.ProcessEnv} env @returns {JobConfig} */
function readConfig(env) {
  const get = (/** @type {string} */ n, /** @type {string} */ dflt = "") => (env[n] ?? "").trim() || dflt;
  for (const [old, now] of Object.entries(REPLACED))
    if (env[old] !== undefined)
      throw new ConfigProblem(
        `${old} is no longer read (the job no longer runs the AWS CLI or gzip); use ${now}`,
      );

  const endpointsText = get("ETCD_ENDPOINTS");
  if (!endpointsText)
    throw new ConfigProblem(
      "ETCD_ENDPOINTS is not set (comma list of https://<member-ip>:2379 in member order)",
    );
  const endpoints = endpointsText
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean)
    .map((e) => {
      const eq = e.indexOf("=");
      const [name, url] =
        eq > 0 && !e.startsWith("https://") ? [e.slice(0, eq), e.slice(eq + 1)] : [undefined, e];
      if (!/^https:\/\/[^\s/]+\/?$/.test(url))
        throw new ConfigProblem(`ETCD_ENDPOINTS: '${url}' is not an https:// client URL`);
      return { name: name?.replace(/[^A-Za-z0-9._-]/g, "-"), url };
    });
  if (!endpoints.length) throw new ConfigProblem("ETCD_ENDPOINTS lists no endpoint");

  const bucket = get("S3_BUCKET");
  if (!bucket) throw new ConfigProblem("S3_BUCKET is not set");
  const kmsKeyId = get("KMS_KEY_ID");
  if (!kmsKeyId) throw new ConfigProblem("KMS_KEY_ID is not set (snapshots are only uploaded with SSE-KMS)");
  let prefix = get("S3_PREFIX");
  if (!prefix) {
    if (!get("CLUSTER") || !get("ENVIRONMENT"))
      throw new ConfigProblem(
        "S3_PREFIX is not set and CLUSTER/ENVIRONMENT are not both set to derive <cluster>/<env>/",
      );
    prefix = `${get("CLUSTER")}/${get("ENVIRONMENT")}/`;
  }
  if (!prefix.endsWith("/")) prefix += "/";
  if (prefix.startsWith("/") || prefix.includes(".."))
    throw new ConfigProblem(`S3_PREFIX '${prefix}' must be relative like <cluster>/<env>/ without '..'`);
  const region = get("AWS_REGION", get("AWS_DEFAULT_REGION"));
  if (!region)
    throw new ConfigProblem("AWS_REGION is not set (the bucket's region: requests are signed for it)");
  const statusTool = get("ETCD_STATUS_TOOL");
  if (statusTool !== "etcdutl" && statusTool !== "etcdctl")
    throw new ConfigProblem(
      `ETCD_STATUS_TOOL must be etcdutl or etcdctl (got '${statusTool}'): the tool of the target etcd version that reads a snapshot (the CronJob sets it from the etcd capability table)`,
    );
  const encryptionKeys = get("ENCRYPTION_KEYS");
  // A kms key is `kms:<name>=<AWS key ARN>`: the envelope key a restore checks before any API server.
  if (/[^A-Za-z0-9:._/= -]/.test(encryptionKeys))
    throw new ConfigProblem(
      `ENCRYPTION_KEYS must be '<provider>:<name>' or 'kms:<name>=<key ARN>' words (got '${encryptionKeys}')`,
    );
  const verify = get("VERIFY_DOWNLOAD", "false");
  if (verify !== "true" && verify !== "false")
    throw new ConfigProblem(`VERIFY_DOWNLOAD must be true or false (got '${verify}')`);
  const partBytes = bytesOf("S3_PART_SIZE", get("S3_PART_SIZE", "16MiB"));
  if (partBytes < 5 * MiB || partBytes > 512 * MiB)
    throw new ConfigProblem(
      `S3_PART_SIZE must be from 5MiB (S3's minimum) to 512MiB (got ${partBytes} bytes)`,
    );

  return {
    endpoints,
    bucket,
    prefix,
    kmsKeyId,
    region,
    s3Endpoint: get("AWS_ENDPOINT_URL_S3", get("AWS_ENDPOINT_URL")) || undefined,
    etcdVersion: get("ETCD_VERSION"),
    statusTool,
    encryptionKeys,
    cacert: get("ETCD_CACERT", "/etc/etcd-backup/ca.crt"),
    cert: get("ETCD_CERT", "/etc/etcd-backup/tls.crt"),
    key: get("ETCD_KEY", "/etc/etcd-backup/tls.key"),
    workDir: get("WORK_DIR", "/work"),
    etcdctl: get("ETCDCTL", "etcdctl"),
    etcdutl: get("ETCDUTL", "etcdutl"),
    dialTimeout: get("ETCD_DIAL_TIMEOUT", "5s"),
    commandTimeout: get("ETCD_COMMAND_TIMEOUT", "5s"),
    snapshotTimeoutMs: whole("ETCD_SNAPSHOT_TIMEOUT", get("ETCD_SNAPSHOT_TIMEOUT", "600"), 1, 86400) * 1000,
    verifyDownload: verify === "true",
    quality: whole("COMPRESSION_QUALITY", get("COMPRESSION_QUALITY", "0"), 0, 11),
    threads: whole("COMPRESSION_THREADS", get("COMPRESSION_THREADS", "2"), 1, 16),
    partBytes,
    partsInFlight: whole("S3_PARTS_IN_FLIGHT", get("S3_PARTS_IN_FLIGHT", "3"), 1, 16),
    readTimeoutMs: whole("S3_READ_TIMEOUT", get("S3_READ_TIMEOUT", "300"), 1, 3600) * 1000,
    connectTimeoutMs: whole("S3_CONNECT_TIMEOUT", get("S3_CONNECT_TIMEOUT", "30"), 1, 600) * 1000,
  };
}

module.exports = { readConfig, ConfigProblem };
