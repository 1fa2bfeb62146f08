import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pythonVenv } from "../../harness/upstream";
import type { PolicyKind, RenderedPolicy } from "./renderedPolicies";

/*
 * parliament (duo-labs, PyPI; pinned in upstream/python/requirements.txt) over rendered policies, with
 * its community auditors. parliament lints identity policies: it knows every action, resource type and
 * condition key of AWS's Service Authorization Reference. Its findings on the other kinds of document are
 * judged here, once: every suppressed finding is in PARLIAMENT_SUPPRESSIONS with its reason, the table
 * docs/aws-access.md shows (and a test keeps equal).
 */

export interface Finding {
  issue: string;
  severity: string;
  detail: string;
  policy: RenderedPolicy;
}

export interface Suppression {
  issue: string;
  /** The kinds of document it applies to; anywhere else the finding stands. */
  kinds: readonly PolicyKind[];
  /** The finding's detail must match (when set). */
  detail?: RegExp;
  /** Why the finding does not apply, in one sentence a reviewer can check. */
  reason: string;
}

export const PARLIAMENT_SUPPRESSIONS: readonly Suppression[] = [
  {
    issue: "RESOURCE_STAR",
    kinds: ["kms-key", "secret-resource"],
    reason:
      'In a key policy `"Resource": "*"` means the key itself and is the only form KMS accepts; in a Secrets Manager resource policy it means the secret the policy is attached to — and each replica, which the primary\'s ARN would not match.',
  },
  {
    issue: "MALFORMED",
    kinds: ["trust"],
    detail: /^Statement contains neither Resource nor NotResource$/,
    reason:
      "A role's trust policy has no Resource (the role is the resource) and IAM rejects one that has it; parliament lints identity policies, which need one.",
  },
  {
    issue: "MISMATCHED_TYPE",
    kinds: ["bucket"],
    detail: /^Type mismatch: s3:TlsVersion requires a value of type Numeric but given \['1\.2'\]$/,
    reason:
      'parliament checks Numeric values with the regex `^\\d+$` (integers only) and crashes on a JSON number; s3:TlsVersion is a decimal, and IAM reads "1.2" as the number AWS\'s own TLS example writes.',
  },
  {
    issue: "UNKNOWN_CONDITION_FOR_ACTION",
    kinds: ["bucket"],
    detail: /^Unknown condition s3:TlsVersion for action s3:/,
    reason:
      "The TLS deny covers `s3:*`, AWS's recommended form; for the few actions whose request context lacks s3:TlsVersion the condition is false (nothing is allowed by it), and aws:SecureTransport still denies plain HTTP for every action.",
  },
  {
    issue: "MISMATCHED_TYPE_BUT_USABLE",
    kinds: ["bucket"],
    detail: /^Type mismatch: StringNotEquals requires a value of type String but given Arn$/,
    reason:
      "The SSE key-id header is whatever the client sent — a key ARN, a key id or an alias: StringNotEquals compares it literally, so only the exact key ARN passes (DESIGN.md: Null + StringNotEquals); an ARN operator would not refuse the other spellings.",
  },
  {
    issue: "UNKNOWN_FEDERATION_SOURCE",
    kinds: ["trust"],
    detail: /^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/.+$/,
    reason:
      "parliament knows SAML providers and four public identity providers only; an IAM OIDC provider ARN is how IRSA federates the snapshot ServiceAccount (sts:AssumeRoleWithWebIdentity, bound to its sub and aud).",
  },
  {
    issue: "PERMISSIONS_MANAGEMENT_ACTIONS",
    kinds: ["kms-key"],
    reason:
      "The AdministerKey statement gives the account root and the deployers kms:PutKeyPolicy and grant revocation: someone must administer the key, and KMS's lockout check requires whoever writes the key policy to keep PutKeyPolicy. That statement has no cryptographic action.",
  },
];

/** Whether a suppression covers a finding. */
export const covers = (s: Suppression, f: Finding): boolean =>
  s.issue === f.issue &&
  s.kinds.includes(f.policy.kind) &&
  (s.detail === undefined || s.detail.test(f.detail));

/** The suppressions as the Markdown table docs/aws-access.md carries. */
export function renderSuppressionTable(): string {
  const rows = PARLIAMENT_SUPPRESSIONS.map(
    (s) =>
      `| \`${s.issue}\` | ${s.kinds.join(", ")} | ${s.detail ? `\`${s.detail.source.replace(/\|/g, "\\|")}\`` : "any"} | ${s.reason.replace(/\|/g, "\\|")} |`,
  );
  return ["| finding | on | detail | why it does not apply |", "|---|---|---|---|", ...rows].join("\n");
}

/** Runs parliament (community auditors on, every severity) over `policies`; returns its findings, deduplicated. */
export function lint(policies: readonly RenderedPolicy[]): Finding[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "parliament-"));
  try {
    policies.forEach((p, i) => fs.writeFileSync(path.join(dir, `${i}.json`), p.json));
    let out: string;
    try {
      out = execFileSync(
        pythonVenv().bin("parliament"),
        [
          "--directory",
          dir,
          "--include_policy_extension",
          ".json",
          "--json",
          "--minimum_severity",
          "INFO",
          "--include-community-auditors",
        ],
        { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 },
      );
    } catch (e) {
      // Exit 1 means "there are findings": its stdout is the list. Anything else is a failure to lint.
      const err = e as { status?: number; stdout?: string; stderr?: string };
      if (err.status !== 1 || !err.stdout)
        throw new Error(`parliament failed (${err.status}): ${err.stderr ?? String(e)}`, { cause: e });
      out = err.stdout;
    }
    const seen = new Set<string>();
    const findings: Finding[] = [];
    for (const line of out.split("\n").filter((l) => l.trim())) {
      const f = JSON.parse(line) as {
        issue: string;
        severity: string;
        detail: unknown;
        location: { filepath: string };
      };
      const policy = policies[Number(path.basename(f.location.filepath, ".json"))];
      if (!policy) throw new Error(`parliament named a file it was not given: ${f.location.filepath}`);
      const detail = typeof f.detail === "string" ? f.detail : JSON.stringify(f.detail);
      const key = `${f.issue} ${detail} ${f.location.filepath}`;
      if (seen.has(key)) continue;
      seen.add(key);
      findings.push({ issue: f.issue, severity: f.severity, detail, policy });
    }
    return findings;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
