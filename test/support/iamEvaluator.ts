import type { PolicyDocument, PolicyStatement } from "../../components/backup/policies";

/*
 * A small IAM evaluator for the policies this package renders: moto stores resource and key policies
 * but does not evaluate them (and evaluates identity policies only in part), so the tests judge the
 * rendered JSON with this, per the IAM docs ("Policy evaluation logic", "Condition operators"):
 *
 * - an explicit Deny in any applicable policy wins; otherwise an Allow in an identity policy OR in the
 *   resource policy (same account) allows; otherwise the request is implicitly denied;
 * - KMS is different: the key policy is the authority. A key policy statement naming a principal allows
 *   it on its own; one naming the account root delegates to IAM (the identity policy must allow too).
 * - a key missing from the request context makes positive operators false and negated ones (…Not…)
 *   true; `…IfExists` makes a missing key true; `Null: "true"` means "absent". Conditions are ANDed;
 *   the values of one key are ORed, and for negated operators none may match (NOR).
 * - `Resource` and `NotResource`, `Action` globs (`*`, `?`), and the Principal element ("*", AWS ARNs —
 *   an account root matches every principal of its account —, Service).
 */

export type Ctx = Record<string, string | undefined>;

export interface Request {
  /** The caller as `aws:PrincipalArn` sees it (a role's ARN for its sessions); absent for a service. */
  principal?: string;
  /** A service principal making the call (`s3.amazonaws.com`). */
  service?: string;
  action: string;
  resource: string;
  /** Request context; `aws:PrincipalArn` is filled in from `principal`. */
  context?: Ctx;
}

export type Decision = "Allow" | "Deny" | "ImplicitDeny";

function glob(pattern: string, value: string, ignoreCase = false): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${re}$`, ignoreCase ? "i" : "").test(value);
}

const list = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

function matchOne(base: string, expected: string, actual: string): boolean {
  switch (base) {
    case "StringEquals":
    case "ArnEquals":
      return expected === actual;
    case "StringLike":
    case "ArnLike":
      return glob(expected, actual);
    case "Bool":
      return expected.toLowerCase() === actual.toLowerCase();
    case "NumericLessThan":
      return Number(actual) < Number(expected);
    default:
      throw new Error(`evaluator does not know ${base}`);
  }
}

const NEGATED: Record<string, string> = {
  StringNotEquals: "StringEquals",
  StringNotLike: "StringLike",
  ArnNotEquals: "ArnEquals",
  ArnNotLike: "ArnLike",
};

export function conditionHolds(op: string, key: string, expected: string[], ctx: Ctx): boolean {
  const ifExists = op.endsWith("IfExists");
  const base = ifExists ? op.slice(0, -"IfExists".length) : op;
  const actual = ctx[key];
  if (base === "Null") return expected.some((e) => (e === "true") === (actual === undefined));
  const positive = NEGATED[base];
  if (actual === undefined) return ifExists ? true : positive !== undefined;
  if (positive) return !expected.some((e) => matchOne(positive, e, actual));
  return expected.some((e) => matchOne(base, e, actual));
}

function principalMatches(p: PolicyStatement["Principal"], req: Request, viaRoot: boolean): boolean {
  if (p === undefined) return true; // identity policy: the holder
  if (p === "*") return true;
  for (const arn of list(p.AWS)) {
    if (arn === "*" || arn === req.principal) return true;
    const root = /^arn:[^:]+:iam::(\d{12}):root$/.exec(arn);
    if (viaRoot && root && req.principal?.includes(`::${root[1]}:`)) return true;
  }
  return req.service !== undefined && list(p.Service).includes(req.service);
}

function contextOf(req: Request): Ctx {
  return { ...(req.principal ? { "aws:PrincipalArn": req.principal } : {}), ...req.context };
}

export function statementApplies(s: PolicyStatement, req: Request, viaRoot = true): boolean {
  if (!list(s.Action).some((a) => glob(a, req.action, true))) return false;
  if (s.Resource !== undefined && !list(s.Resource).some((r) => glob(r, req.resource))) return false;
  if (s.NotResource !== undefined && list(s.NotResource).some((r) => glob(r, req.resource))) return false;
  if (!principalMatches(s.Principal, req, viaRoot)) return false;
  const ctx = contextOf(req);
  for (const [op, keys] of Object.entries(s.Condition ?? {}))
    for (const [key, values] of Object.entries(keys))
      if (!conditionHolds(op, key, list(values), ctx)) return false;
  return true;
}

/** Identity policies plus (same-account) resource policies. */
export function decide(policies: PolicyDocument[], req: Request): Decision {
  const statements = policies.flatMap((p) => p.Statement);
  if (statements.some((s) => s.Effect === "Deny" && statementApplies(s, req))) return "Deny";
  if (statements.some((s) => s.Effect === "Allow" && statementApplies(s, req))) return "Allow";
  return "ImplicitDeny";
}

/**
 * A KMS request: the key policy decides; a statement naming the account root lets the identity
 * policies decide for that action. Explicit denies anywhere win.
 */
export function decideKms(keyPolicy: PolicyDocument, identity: PolicyDocument[], req: Request): Decision {
  const all = [keyPolicy, ...identity].flatMap((p) => p.Statement);
  if (all.some((s) => s.Effect === "Deny" && statementApplies(s, req))) return "Deny";
  const named = keyPolicy.Statement.some((s) => s.Effect === "Allow" && statementApplies(s, req, false));
  if (named) return "Allow";
  const delegated = keyPolicy.Statement.some((s) => s.Effect === "Allow" && statementApplies(s, req, true));
  if (delegated && decide(identity, req) === "Allow") return "Allow";
  return "ImplicitDeny";
}

/** An identity policy that allows everything (AdministratorAccess): isolates what a resource policy denies. */
export const ALLOW_ALL: PolicyDocument = {
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }],
};
