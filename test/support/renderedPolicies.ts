import * as pulumi from "@pulumi/pulumi";
import { runProgram } from "./program";
import { RecordingMocks } from "./recordingMocks";
import { readStackConfig, toPulumiConfig } from "./stackFiles";

/*
 * Every IAM, KMS key, Secrets Manager resource and S3 bucket policy the program renders for a stack:
 * the policy inputs of the resources it registers, and the policy documents it exports for you to
 * attach (writer, reader, node read, key archive reader). Run under mocks: what the program asks AWS for.
 */

/** What a document is, which decides what a linter may say about it. */
export type PolicyKind = "identity" | "trust" | "kms-key" | "secret-resource" | "bucket";

export interface RenderedPolicy {
  stack: string;
  /** Where it came from: a resource name and its input, or a program output path. */
  source: string;
  kind: PolicyKind;
  json: string;
}

/** Resource inputs that hold a policy document, by resource type. */
export const POLICY_INPUTS: Readonly<Record<string, { input: string; kind: PolicyKind }>> = {
  "aws:iam/role:Role": { input: "assumeRolePolicy", kind: "trust" },
  "aws:iam/rolePolicy:RolePolicy": { input: "policy", kind: "identity" },
  "aws:iam/policy:Policy": { input: "policy", kind: "identity" },
  "aws:kms/key:Key": { input: "policy", kind: "kms-key" },
  "aws:secretsmanager/secretPolicy:SecretPolicy": { input: "policy", kind: "secret-resource" },
  "aws:s3/bucketPolicy:BucketPolicy": { input: "policy", kind: "bucket" },
};

/** Program outputs that are identity policy documents (scalars, or maps by member). */
const POLICY_OUTPUTS = [
  "snapshotWriterPolicyJson",
  "snapshotReaderPolicyJson",
  "keyArchiveReaderPolicyJson",
  "nodeSecretPolicyJson",
];

const resolve = <T>(o: unknown): Promise<T> =>
  new Promise<T>((r) => pulumi.output(o as pulumi.Input<T>).apply((v) => r(v as T)));

/** A document-looking string: `{"Version":…,"Statement":…}`. */
export const isPolicyDocument = (v: unknown): v is string =>
  typeof v === "string" && /^\s*\{/.test(v) && /"Statement"/.test(v) && /"Version"/.test(v);

/**
 * The rendered policies of `stack` (with `overrides` as `secure-etcd:` config), and every resource input
 * that holds a document but is not in {@link POLICY_INPUTS} (a linter that misses a document is no lint).
 */
export async function renderedPolicies(
  stack: string,
  overrides: Record<string, unknown> = {},
): Promise<{ policies: RenderedPolicy[]; unlisted: string[] }> {
  const config = { ...readStackConfig(stack), ...toPulumiConfig(overrides) };
  const { mocks, outputs } = await runProgram(stack, new RecordingMocks(), config);
  const policies: RenderedPolicy[] = [];
  const unlisted: string[] = [];
  for (const r of mocks.resources) {
    const listed = POLICY_INPUTS[r.type];
    for (const [input, value] of Object.entries(r.inputs)) {
      if (!isPolicyDocument(value)) continue;
      if (listed?.input === input)
        policies.push({ stack, source: `${r.name}.${input}`, kind: listed.kind, json: value });
      else unlisted.push(`${r.type} ${r.name}.${input}`);
    }
  }
  for (const name of POLICY_OUTPUTS) {
    if (outputs[name] === undefined) continue;
    const value = await resolve<unknown>(outputs[name]);
    const entries: [string, unknown][] =
      typeof value === "string"
        ? [[name, value]]
        : Object.entries((value ?? {}) as Record<string, unknown>).map(([k, v]) => [`${name}.${k}`, v]);
    for (const [source, v] of entries)
      if (isPolicyDocument(v))
        policies.push({ stack, source: `output ${source}`, kind: "identity", json: v });
  }
  return { policies, unlisted };
}
