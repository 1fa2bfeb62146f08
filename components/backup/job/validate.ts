import { z } from "zod";
import { validateSchedule } from "../../config/backup";
import { parseOrThrow } from "../../config/errors";
import { checked, dnsLabel as DNS_LABEL, matching, oneOf, show } from "../../config/fields";
import type { EtcdVersion } from "../../etcd/capabilities";
import { etcdReleaseVersion, nonEmpty } from "../../config/fields";
import { RESERVED_ENV, SCRIPT_KEY } from "./constants";
import type { CommonOptions, SnapshotJobRenderOptions, SnapshotJobWorkloadOptions } from "./types";

/*
 * What the snapshot job accepts: one zod shape, extended per renderer, so every refusal is a ConfigError
 * that names the option (`images.etcd`, `etcdEndpoints[1]`, `tls.keyPem`), shows the value and says what
 * is allowed. Renderers called on their own check what they use; `renderSnapshotJobManifests` checks all.
 */

/** `source` of the errors when a renderer is called directly (the component passes its own). */
export const RENDER_SOURCE = "snapshot job options";

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const HTTPS_CLIENT_URL = /^https:\/\/[^\s,/]+(:\d+)?\/?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Why an image reference is refused (unpinned: no tag or `:latest`), or undefined. Digests always pass. */
export function pinnedImageProblem(image: string): string | undefined {
  if (image.trim() === "" || /\s/.test(image)) return "is not an image reference";
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return undefined;
  const lastSegment = image.split("/").pop() ?? "";
  const tag = lastSegment.includes(":") ? lastSegment.slice(lastSegment.lastIndexOf(":") + 1) : "";
  return tag === "" || tag === "latest"
    ? "is not pinned: use a version tag other than latest (repo:3.5.16-0) or a digest (repo@sha256:…)"
    : undefined;
}

const pinnedImage = checked(pinnedImageProblem);

/** Throws a ConfigError naming `arg` unless `image` is a pinned image reference. */
export function assertPinnedImage(arg: string, image: string, source = RENDER_SOURCE): void {
  parseOrThrow(pinnedImage, image, arg, source);
}
const dnsLabel = (max: number) =>
  checked((v) =>
    DNS_LABEL.test(v) && v.length <= max
      ? undefined
      : `is not a DNS label (lowercase letters, digits and '-') of at most ${max} characters`,
  );
const labelValue = checked((v) =>
  v !== "" && v.length <= 63 && LABEL_VALUE.test(v)
    ? undefined
    : "is not a label value (1–63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)",
);
/** PEM text: the value is never shown (it may be a private key). */
const pem = (marker: "CERTIFICATE" | "PRIVATE KEY") =>
  z.string().refine((v) => v.includes("-----BEGIN ") && v.includes(marker), {
    error: `is not a PEM ${marker.toLowerCase()} (no "-----BEGIN …${marker}-----" block; value not shown)`,
  });

const extraEnv = z.record(z.string(), z.unknown()).superRefine((env, ctx) => {
  for (const name of Object.keys(env)) {
    if (RESERVED_ENV.includes(name))
      ctx.addIssue({
        code: "custom",
        path: [name],
        message: `would shadow a variable the job sets itself (reserved: ${RESERVED_ENV.join(", ")})`,
      });
    else if (!ENV_NAME.test(name))
      ctx.addIssue({
        code: "custom",
        path: [name],
        message: `${show(name)} is not a variable name (letters, digits and '_', not starting with a digit)`,
      });
  }
});

const commonShape = {
  name: dnsLabel(40).optional(),
  namespace: dnsLabel(63).optional(),
  clusterName: labelValue,
  environment: labelValue,
};

const workloadShape = {
  ...commonShape,
  etcdEndpoints: z
    .array(
      checked((v) =>
        HTTPS_CLIENT_URL.test(v)
          ? undefined
          : "is not an https:// member client URL (https://<host>:<port>); plain http is refused",
      ),
    )
    .min(1, { error: "is empty; list at least one member client URL (https://<host>:2379)" }),
  etcdVersion: etcdReleaseVersion(),
  encryptionKeys: z
    .array(
      matching(
        /^((aescbc|aesgcm|secretbox|kms):[A-Za-z0-9][A-Za-z0-9._-]{0,62}|kms:[a-z0-9][-a-z0-9]{0,62}=arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+)$/,
        "encryption key (<provider>:<name>, or kms:<name>=<AWS key ARN>)",
      ),
    )
    .optional(),
  bucketName: nonEmpty("the snapshot bucket name"),
  prefix: checked((v) =>
    v.trim() === ""
      ? "is empty; expected <cluster>/<environment>/ (SnapshotStore.prefix)"
      : v.endsWith("/")
        ? undefined
        : `must end with "/" (<cluster>/<environment>/, SnapshotStore.prefix)`,
  ),
  kmsKeyArn: checked((v) =>
    /^arn:[a-z-]+:kms:/.test(v)
      ? undefined
      : "is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>): the bucket policy compares the header to the ARN literally",
  ),
  awsRegion: nonEmpty("the bucket's AWS region"),
  roleArn: matching(
    /^arn:[a-z-]+:iam::\d{12}:role\/.+$/,
    "IAM role ARN (arn:aws:iam::<account>:role/<name>)",
  ).optional(),
  irsaToken: oneOf(["projected", "webhook"], "IRSA token mode").optional(),
  images: z
    .object({
      etcd: pinnedImage.optional(),
      node: pinnedImage.optional(),
      // The image the job needed before: refused by name, never silently ignored.
      awsCli: z
        .unknown()
        .superRefine((_v, ctx) =>
          ctx.addIssue({
            code: "custom",
            message:
              "is no longer used: the job runs `node /scripts/snapshot.js` (no AWS CLI); set images.node to an image with node ≥ 20",
          }),
        )
        .optional(),
    })
    .optional(),
  extraEnv: extraEnv.optional(),
};

// Built once: zod schemas are costly to create and cheap to run.
const commonSchema = z.object(commonShape);
const workloadSchema = z.object(workloadShape);
const tlsSchema = z.object({
  certPem: pem("CERTIFICATE"),
  keyPem: pem("PRIVATE KEY"),
  caPem: pem("CERTIFICATE"),
});
const runnerSchema = z
  .record(z.string().regex(/^[a-z0-9]+\.js$/), nonEmpty("a runner file's text"))
  .refine((files) => SCRIPT_KEY in files, {
    error: `has no ${SCRIPT_KEY} (readSnapshotRunner() gives every runner file)`,
  });
const secretSchema = commonSchema.extend({ tls: tlsSchema });
const configMapSchema = commonSchema.extend({ runner: runnerSchema });
const serviceAccountSchema = commonSchema.extend({ roleArn: workloadShape.roleArn });
const renderSchema = workloadSchema.extend({ tls: tlsSchema, runner: runnerSchema });
const plainArgsSchema = workloadSchema.pick({
  name: true,
  namespace: true,
  irsaToken: true,
  images: true,
  extraEnv: true,
});

export function checkCommonOptions(o: CommonOptions, source = RENDER_SOURCE): void {
  parseOrThrow(commonSchema, o, "", source);
}

export function checkSecretOptions(o: CommonOptions & { tls: unknown }, source = RENDER_SOURCE): void {
  parseOrThrow(secretSchema, o, "", source);
}

export function checkScriptOptions(o: CommonOptions & { runner: unknown }, source = RENDER_SOURCE): void {
  parseOrThrow(configMapSchema, o, "", source);
}

export function checkServiceAccountOptions(o: SnapshotJobWorkloadOptions, source = RENDER_SOURCE): void {
  parseOrThrow(serviceAccountSchema, o, "", source);
}

/** Checks the CronJob's options; returns the parsed etcd version. */
export function checkWorkloadOptions(o: SnapshotJobWorkloadOptions, source = RENDER_SOURCE): EtcdVersion {
  validateSchedule(o.schedule, source);
  return parseOrThrow(workloadSchema, o, "", source).etcdVersion;
}

/** Every option at once, so one call reports all problems (the schedule's first). */
export function checkRenderOptions(o: SnapshotJobRenderOptions, source = RENDER_SOURCE): void {
  validateSchedule(o.schedule, source);
  parseOrThrow(renderSchema, o, "", source);
}

/** The SnapshotJob args that are always plain values, checked before anything is registered. */
export function checkPlainJobArgs(
  args: Pick<SnapshotJobWorkloadOptions, "name" | "namespace" | "irsaToken" | "images" | "extraEnv">,
  source: string,
): void {
  parseOrThrow(plainArgsSchema, args, "", source);
}
