import { aws } from "./awsTypes";
import { createdBySecureEtcd, known, UNKNOWN, type ResourceInput, type Violation } from "./resources";
import { secureEtcds } from "./secureEtcdOutputs";
import type { ResourcePolicy, StackPolicy } from "./types";

/*
 * Secret outputs. What the pack can observe: @pulumi/policy hands policies every value — secrets
 * included — unwrapped to plain data (deserializeProperties(…, false)), so whether an output IS a secret
 * is invisible to it. Two things are visible, and enforced here:
 *  1. the `additionalSecretOutputs` option of the resources that produce key material (in `opts`);
 *  2. where key material appears among SecureEtcd's outputs: only at the outputs the component declares
 *     secret (below). Key material anywhere else would be stored and shown in plaintext.
 * That those declared outputs really are secrets is proven under mocks by the tests (the engine request
 * carries Pulumi's secret signature), not by the pack.
 */

/** Outputs that produce key material, and the ones that must be marked secret (the SDKs add them). */
export const keyMaterialOutputs: Record<string, readonly string[]> = {
  "tls:index/privateKey:PrivateKey": ["privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh"],
  "random:index/randomBytes:RandomBytes": ["base64", "hex"],
  [aws.secretVersion]: ["secretString", "secretBinary"],
};

export function secretOptionProblems(r: ResourceInput): string[] {
  const declared = new Set(r.opts?.additionalSecretOutputs ?? []);
  const missing = (keyMaterialOutputs[r.type] ?? []).filter((o) => !declared.has(o));
  return missing.length ? [`${r.name}: ${missing.join(", ")} not in additionalSecretOutputs`] : [];
}

/**
 * SecureEtcd outputs the component makes secret (README "Outputs"): `*` is one map key. Key material is
 * allowed here only. Add the secret store's outputs here when it registers any that hold keys.
 */
export const secretOutputPaths: readonly string[] = [
  "encryptionConfiguration",
  "nodeBundles.*",
  "offlineNodeCloudInit.*",
  "members.*.serverKeyPem",
  "members.*.peerKeyPem",
  "clients.*.keyPem",
];

/** Whether an output path (`members.cp-1.serverKeyPem` split on dots) matches a pattern of secretOutputPaths. */
export const outputPathMatches = (pattern: string, p: string[]) => {
  const parts = pattern.split(".");
  return parts.length === p.length && parts.every((x, i) => x === "*" || x === p[i]);
};
export const declaredSecret = (p: string[]) => secretOutputPaths.some((s) => outputPathMatches(s, p));

const PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
/** A 32-byte key in base64 under `secret:` (EncryptionConfiguration) */
const ENCRYPTION_SECRET = /(^|\s)secret:\s*["']?[A-Za-z0-9+/]{43}=/m;

/** Private keys in PEM, EncryptionConfiguration secrets, or either base64-encoded (cloud-init, Secret data). */
export function holdsKeyMaterial(text: string): boolean {
  if (PRIVATE_KEY.test(text) || ENCRYPTION_SECRET.test(text)) return true;
  for (const token of text.match(/[A-Za-z0-9+/]{64,}={0,2}/g) ?? []) {
    const decoded = Buffer.from(token, "base64").toString("latin1");
    if (PRIVATE_KEY.test(decoded) || ENCRYPTION_SECRET.test(decoded)) return true;
  }
  return false;
}

/** Paths (`a.b.c`) of string leaves holding key material outside the declared-secret outputs. */
export function leakedKeyMaterial(value: unknown, at: string[] = []): string[] {
  if (declaredSecret(at)) return [];
  if (typeof value === "string") return holdsKeyMaterial(value) ? [at.join(".")] : [];
  if (value === null || typeof value !== "object") return [];
  return Object.keys(value).flatMap((k) => {
    const child = known(() => (value as Record<string, unknown>)[k]);
    return child === UNKNOWN ? [] : leakedKeyMaterial(child, [...at, k]); // unknown: nothing to see yet
  });
}

export const secretPolicies: (ResourcePolicy | StackPolicy)[] = [
  {
    kind: "resource",
    name: "key-material-outputs-secret",
    displayName: "Outputs holding private keys or encryption keys are marked secret",
    description:
      "tls PrivateKey, random RandomBytes and Secrets Manager SecretVersion resources list their key outputs in additionalSecretOutputs.",
    enforcementLevel: "mandatory",
    severity: "critical",
    remediationSteps:
      "Create them with the provider SDK's resource classes (they add the option), or add it.",
    types: Object.keys(keyMaterialOutputs),
    validate: (r) => (createdBySecureEtcd(r.urn) ? secretOptionProblems(r) : []),
  },
  {
    kind: "stack",
    name: "no-key-material-in-plain-outputs",
    displayName: "SecureEtcd outputs carry key material only where they are secret",
    description: `Private keys and encryption keys appear only in SecureEtcd's secret outputs (${secretOutputPaths.join(", ")}).`,
    enforcementLevel: "mandatory",
    severity: "critical",
    remediationSteps:
      "Move the key material to a secret output (pulumi.secret) and keep it out of manifests and flags.",
    validate: (rs) =>
      secureEtcds(rs).flatMap((r): Violation[] =>
        leakedKeyMaterial(r.props).map((p) => ({
          urn: r.urn,
          message: `output ${p} holds key material but is not one of the secret outputs`,
        })),
      ),
  },
];
