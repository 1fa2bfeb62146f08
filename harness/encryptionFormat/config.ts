/**
 * Strict parser for kube-apiserver's `EncryptionConfiguration` (apiserver.config.k8s.io/v1).
 *
 * Mirrors what kube-apiserver checks when it loads `--encryption-provider-config`
 * (kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/apis/config/validation/validation.go and
 * pkg/server/options/encryptionconfig/config.go): strict decoding (unknown fields are errors), exactly
 * one provider per list element, base64 secrets, key sizes, KMS name/endpoint/timeout/cachesize rules,
 * resource-name rules and the "masked by earlier rule" check for wildcards. One deliberate difference:
 * Kubernetes accepts 16/24/32-byte aescbc keys, this project requires 32 (AES-256).
 *
 * Secrets are never echoed in error messages.
 */
import { parseAllDocuments } from "yaml";

export type KeyedProviderType = "aescbc" | "aesgcm" | "secretbox";
export type ProviderType = KeyedProviderType | "kms" | "identity";

export const ENCRYPTION_CONFIG_API_VERSION = "apiserver.config.k8s.io/v1";
export const ENCRYPTION_CONFIG_KIND = "EncryptionConfiguration";

/** Decoded key lengths (bytes) accepted per provider. aescbc: Kubernetes allows 16/24/32, we require 32. */
export const ALLOWED_KEY_LENGTHS: Readonly<Record<KeyedProviderType, readonly number[]>> = {
  aescbc: [32],
  aesgcm: [16, 24, 32],
  secretbox: [32],
};

export interface EncryptionKey {
  name: string;
  /** The base64-decoded key material. */
  secret: Buffer;
  /** e.g. `resources[0].providers[1].aesgcm.keys[0]` */
  path: string;
}

export interface KeyedProvider {
  type: KeyedProviderType;
  keys: EncryptionKey[];
  path: string;
}

export interface KmsProvider {
  type: "kms";
  /** Defaults to "v1" when omitted, as kube-apiserver's defaulting does. */
  apiVersion: "v1" | "v2";
  name: string;
  endpoint: string;
  /** As written (Go duration, e.g. "3s"); kube-apiserver defaults it to 3s. */
  timeout?: string;
  /** As written; kube-apiserver defaults it to 1000 for v1 and rejects it for v2. */
  cachesize?: number;
  path: string;
}

export interface IdentityProvider {
  type: "identity";
  path: string;
}

export type ParsedProvider = KeyedProvider | KmsProvider | IdentityProvider;

export interface ResourceEntry {
  resources: string[];
  /** In configuration order: the first one encrypts writes, reads try each in order. */
  providers: ParsedProvider[];
  path: string;
}

export interface ParsedEncryptionConfig {
  apiVersion: typeof ENCRYPTION_CONFIG_API_VERSION;
  kind: typeof ENCRYPTION_CONFIG_KIND;
  resources: ResourceEntry[];
}

/** A configuration error; `path` names the offending field (e.g. `resources[0].providers[1].kms.name`). */
export class EncryptionConfigError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(path ? `${path}: ${reason}` : reason);
    this.name = "EncryptionConfigError";
  }
}

export interface KeyLengthProblem {
  path: string;
  message: string;
}

interface ParseOptions {
  /** true: throw on the first bad key length; false: collect them into `keyLengthProblems`. */
  enforceKeyLengths: boolean;
}

export interface ParseResult {
  config: ParsedEncryptionConfig;
  keyLengthProblems: KeyLengthProblem[];
}

export function parseEncryptionConfiguration(yamlText: string): ParsedEncryptionConfig {
  return parseEncryptionConfigurationDetailed(yamlText, { enforceKeyLengths: true }).config;
}

/**
 * Same checks as {@link parseEncryptionConfiguration}, except that wrong key lengths can be collected
 * instead of thrown (the drill reports them as their own check).
 */
export function parseEncryptionConfigurationDetailed(yamlText: string, opts: ParseOptions): ParseResult {
  const raw = loadYaml(yamlText);
  const keyLengthProblems: KeyLengthProblem[] = [];
  const top = asMap(raw, "");
  checkFields(top, ["apiVersion", "kind", "resources"], "");
  if (top.apiVersion !== ENCRYPTION_CONFIG_API_VERSION) {
    fail("apiVersion", `must be ${ENCRYPTION_CONFIG_API_VERSION}, got ${describe(top.apiVersion)}`);
  }
  if (top.kind !== ENCRYPTION_CONFIG_KIND) {
    fail("kind", `must be ${ENCRYPTION_CONFIG_KIND}, got ${describe(top.kind)}`);
  }
  const entriesRaw = asArray(top.resources, "resources");
  if (entriesRaw.length === 0) fail("resources", "at least one resources entry is required");

  const kmsNames = new Set<string>();
  const seenGroupResources = new Set<string>();
  const entries: ResourceEntry[] = entriesRaw.map((entryRaw, i) => {
    const path = `resources[${i}]`;
    const entry = asMap(entryRaw, path);
    checkFields(entry, ["resources", "providers"], path);
    const resources = parseResourceList(entry.resources, `${path}.resources`);
    const providersRaw = asArray(entry.providers, `${path}.providers`);
    if (providersRaw.length === 0) fail(`${path}.providers`, "at least one provider is required");
    const providers = providersRaw.map((p, j) =>
      parseProvider(p, `${path}.providers[${j}]`, kmsNames, opts, keyLengthProblems),
    );
    // config.go: a resource listed after a `*.group` or `*.*` rule that covers it is an error.
    resources.forEach((r, k) => {
      const gr = parseGroupResource(r);
      const groupWildcard = grKey({ group: gr.group, resource: "*" });
      if (seenGroupResources.has(groupWildcard)) {
        fail(
          `${path}.resources[${k}]`,
          `resource "${r}" is masked by earlier rule "${grYaml(gr.group, "*")}"`,
        );
      }
      if (seenGroupResources.has(grKey({ group: "*", resource: "*" }))) {
        fail(`${path}.resources[${k}]`, `resource "${r}" is masked by earlier rule "*.*"`);
      }
    });
    resources.forEach((r) => seenGroupResources.add(grKey(parseGroupResource(r))));
    return { resources, providers, path };
  });

  return {
    config: { apiVersion: ENCRYPTION_CONFIG_API_VERSION, kind: ENCRYPTION_CONFIG_KIND, resources: entries },
    keyLengthProblems,
  };
}

// ---------------------------------------------------------------------------------------------------
// group/resource helpers (schema.ParseGroupResource semantics: split at the first dot)

export interface GroupResource {
  group: string;
  resource: string;
}

export function parseGroupResource(s: string): GroupResource {
  const dot = s.indexOf(".");
  return dot === -1 ? { group: "", resource: s } : { resource: s.slice(0, dot), group: s.slice(dot + 1) };
}

export function grKey(gr: GroupResource): string {
  return `${gr.resource}\u0000${gr.group}`;
}

function grYaml(group: string, resource: string): string {
  return `${resource}.${group}`;
}

/**
 * The provider list kube-apiserver uses for `resource` (config.go transformerFromOverrides): the
 * concatenation of every entry that lists the exact group/resource, else `*.<group>`, else `*.*`.
 * Returns null when nothing covers the resource (the apiserver then stores it unencrypted).
 */
export function resolveProviders(config: ParsedEncryptionConfig, resource: string): ParsedProvider[] | null {
  const byGr = new Map<string, ParsedProvider[]>();
  for (const entry of config.resources) {
    for (const r of entry.resources) {
      const key = grKey(parseGroupResource(r));
      byGr.set(key, [...(byGr.get(key) ?? []), ...entry.providers]);
    }
  }
  const gr = parseGroupResource(resource);
  return (
    byGr.get(grKey(gr)) ??
    byGr.get(grKey({ group: gr.group, resource: "*" })) ??
    byGr.get(grKey({ group: "*", resource: "*" })) ??
    null
  );
}

// ---------------------------------------------------------------------------------------------------

function loadYaml(text: string): unknown {
  // YAML 1.1 like sigs.k8s.io/yaml (go-yaml v2): `yes`/`no`/`on` are booleans there too.
  const docs = parseAllDocuments(text, { version: "1.1", uniqueKeys: true, prettyErrors: true });
  const list = Array.from(docs);
  if (list.length !== 1) {
    fail("", `expected exactly one YAML document, found ${list.length}`);
  }
  const doc = list[0];
  if (doc.errors.length > 0) fail("", `invalid YAML: ${doc.errors[0].message}`);
  return doc.toJS();
}

function parseResourceList(v: unknown, path: string): string[] {
  const list = asArray(v, path);
  if (list.length === 0) fail(path, "at least one resource is required");
  const resources = list.map((r, k) => {
    const p = `${path}[${k}]`;
    const s = asNonEmptyString(r, p);
    if (s.toLowerCase() !== s) fail(p, `resource name "${s}" should not contain capital letters`);
    if (s === "*")
      fail(p, `use '*.' to encrypt all the resources from core API group or *.* to encrypt all resources`);
    if (["apiserveripinfo", "serviceipallocations", "servicenodeportallocations"].includes(s)) {
      fail(p, `"${s}": resources which do not have REST API/s cannot be encrypted`);
    }
    const gr = parseGroupResource(s);
    if (gr.group === "events.k8s.io") {
      fail(p, `'*.events.k8s.io' objects are stored using the 'events' API group in etcd; use 'events'`);
    }
    if (gr.group === "extensions")
      fail(p, `'extensions' group has been removed and cannot be used for encryption`);
    if (gr.group === "*" && gr.resource !== "*") {
      fail(p, `"${s}": encrypting the same resource across groups is not supported`);
    }
    return s;
  });
  // validateResourceOverlap
  const grs = resources.map(parseGroupResource);
  grs.forEach((a, i) =>
    grs.forEach((b, j) => {
      if (i === j) return;
      if (a.group === b.group && a.resource === b.resource) {
        fail(path, `the same resource cannot be specified multiple times ("${resources[i]}")`);
      }
      if (
        (a.group === "*" && a.resource === "*") ||
        (a.group === b.group && (a.resource === "*" || b.resource === "*"))
      ) {
        fail(
          path,
          `using overlapping resources such as "${resources[i]}" and "${resources[j]}" in the same list is not allowed as they will be masked`,
        );
      }
    }),
  );
  return resources;
}

const PROVIDER_FIELDS: readonly ProviderType[] = ["aescbc", "aesgcm", "secretbox", "kms", "identity"];

function parseProvider(
  v: unknown,
  path: string,
  kmsNames: Set<string>,
  opts: ParseOptions,
  problems: KeyLengthProblem[],
): ParsedProvider {
  const m = asMap(v, path);
  checkFields(m, PROVIDER_FIELDS, path);
  const present = PROVIDER_FIELDS.filter((f) => f in m);
  if (present.length === 0) {
    fail(
      path,
      "provider does not contain any of the expected providers: aescbc, aesgcm, secretbox, kms, identity",
    );
  }
  if (present.length > 1) {
    fail(
      path,
      `more than one provider (${present.join(", ")}) specified in a single element, should split into different list elements`,
    );
  }
  const type = present[0];
  const p = `${path}.${type}`;
  switch (type) {
    case "identity": {
      checkFields(asMap(m.identity, p), [], p);
      return { type, path };
    }
    case "kms":
      return parseKms(m.kms, p, path, kmsNames);
    default:
      return parseKeyed(type, m[type], p, path, opts, problems);
  }
}

function parseKeyed(
  type: KeyedProviderType,
  v: unknown,
  p: string,
  providerPath: string,
  opts: ParseOptions,
  problems: KeyLengthProblem[],
): KeyedProvider {
  const m = asMap(v, p);
  checkFields(m, ["keys"], p);
  const keysRaw = asArray(m.keys, `${p}.keys`);
  if (keysRaw.length === 0) fail(`${p}.keys`, "at least one key is required");
  const keys = keysRaw.map((k, i) => {
    const kp = `${p}.keys[${i}]`;
    const km = asMap(k, kp);
    checkFields(km, ["name", "secret"], kp);
    if (km.name === undefined || km.name === "") fail(`${kp}.name`, "name is a mandatory field for a key");
    const name = asNonEmptyString(km.name, `${kp}.name`);
    if (km.secret === undefined || km.secret === "")
      fail(`${kp}.secret`, "secret is a mandatory field for a key");
    if (typeof km.secret !== "string") fail(`${kp}.secret`, `must be a string, got ${typeOf(km.secret)}`);
    const secret = decodeBase64Strict(km.secret, `${kp}.secret`);
    const allowed = ALLOWED_KEY_LENGTHS[type];
    if (!allowed.includes(secret.length)) {
      const reason =
        `decodes to ${secret.length} bytes, ${type} needs ${formatLengths(allowed)}` +
        (type === "aescbc" && [16, 24].includes(secret.length)
          ? " (Kubernetes would accept it; this project requires AES-256)"
          : "");
      if (opts.enforceKeyLengths) fail(`${kp}.secret`, reason);
      problems.push({ path: `${kp}.secret`, message: `${kp}.secret: ${reason}` });
    }
    return { name, secret, path: kp };
  });
  return { type, keys, path: providerPath };
}

function parseKms(v: unknown, p: string, providerPath: string, kmsNames: Set<string>): KmsProvider {
  const m = asMap(v, p);
  checkFields(m, ["apiVersion", "name", "endpoint", "cachesize", "timeout"], p);
  let apiVersion: "v1" | "v2" = "v1";
  if (m.apiVersion !== undefined) {
    if (m.apiVersion !== "v1" && m.apiVersion !== "v2") {
      fail(
        `${p}.apiVersion`,
        `unsupported apiVersion ${describe(m.apiVersion)} for KMS provider, only v1 and v2 are supported`,
      );
    }
    apiVersion = m.apiVersion;
  }
  if (m.name === undefined || m.name === "") fail(`${p}.name`, "name is a mandatory field for a provider");
  const name = asNonEmptyString(m.name, `${p}.name`);
  if (apiVersion === "v2" && name.includes(":"))
    fail(`${p}.name`, `invalid KMS provider name ${name}, must not contain ':'`);
  if (apiVersion === "v2" && kmsNames.has(name)) {
    fail(`${p}.name`, `duplicate KMS provider name ${name}, names must be unique`);
  }
  kmsNames.add(name);
  if (m.endpoint === undefined || m.endpoint === "")
    fail(`${p}.endpoint`, "endpoint is a mandatory field for a kms");
  const endpoint = asNonEmptyString(m.endpoint, `${p}.endpoint`);
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(endpoint)?.[1]?.toLowerCase() ?? "";
  if (scheme !== "unix")
    fail(`${p}.endpoint`, `unsupported scheme "${scheme}" for KMS provider, only unix is supported`);
  let timeout: string | undefined;
  if (m.timeout !== undefined) {
    if (typeof m.timeout !== "string")
      fail(`${p}.timeout`, `must be a duration string like "3s", got ${typeOf(m.timeout)}`);
    const ms = parseGoDuration(m.timeout);
    if (ms === null) fail(`${p}.timeout`, `invalid duration ${JSON.stringify(m.timeout)}`);
    if (ms <= 0) fail(`${p}.timeout`, "timeout should be a positive value");
    timeout = m.timeout;
  }
  let cachesize: number | undefined;
  if (m.cachesize !== undefined) {
    if (typeof m.cachesize !== "number" || !Number.isInteger(m.cachesize)) {
      fail(`${p}.cachesize`, `must be an integer, got ${typeOf(m.cachesize)}`);
    }
    if (apiVersion === "v2") fail(`${p}.cachesize`, "cachesize is not supported in v2");
    if (m.cachesize === 0)
      fail(`${p}.cachesize`, "cachesize should be a positive value, or negative to disable");
    cachesize = m.cachesize;
  }
  return { type: "kms", apiVersion, name, endpoint, timeout, cachesize, path: providerPath };
}

// ---------------------------------------------------------------------------------------------------

/** Go's base64.StdEncoding.DecodeString: padded standard alphabet; CR/LF are ignored, nothing else is. */
function decodeBase64Strict(s: string, path: string): Buffer {
  const t = s.replace(/[\r\n]/g, "");
  if (t.length % 4 !== 0 || !/^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(t)) {
    fail(path, "secrets must be base64 encoded (standard alphabet, padded)");
  }
  return Buffer.from(t, "base64");
}

/** Go time.ParseDuration, returning milliseconds (null if malformed). */
export function parseGoDuration(s: string): number | null {
  if (s === "0" || s === "+0" || s === "-0") return 0;
  const m = /^([-+]?)((?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/.exec(s);
  if (!m) return null;
  const unitMs: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    μs: 1e-3,
    ms: 1,
    s: 1e3,
    m: 6e4,
    h: 3.6e6,
  };
  let total = 0;
  for (const part of m[2].matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    total += parseFloat(part[1]) * unitMs[part[2]];
  }
  return m[1] === "-" ? -total : total;
}

function formatLengths(l: readonly number[]): string {
  return l.length === 1 ? `${l[0]}` : `${l.slice(0, -1).join(", ")} or ${l[l.length - 1]}`;
}

function fail(path: string, reason: string): never {
  throw new EncryptionConfigError(path, reason);
}

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return typeof v;
}

function describe(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : v === undefined ? "nothing" : typeOf(v);
}

function asMap(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Map) {
    fail(path, `must be a mapping, got ${v === undefined ? "nothing" : typeOf(v)}`);
  }
  return v as Record<string, unknown>;
}

function asArray(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) fail(path, `must be a list, got ${v === undefined ? "nothing" : typeOf(v)}`);
  return v;
}

function asNonEmptyString(v: unknown, path: string): string {
  if (typeof v !== "string") fail(path, `must be a string, got ${v === undefined ? "nothing" : typeOf(v)}`);
  if (v === "") fail(path, "must not be empty");
  return v;
}

/** Strict decoding: any field not in `allowed` is an error, named by its full path. */
function checkFields(m: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(m)) {
    if (!allowed.includes(k)) fail(path ? `${path}.${k}` : k, "unknown field");
  }
}
