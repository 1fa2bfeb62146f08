/**
 * Offline drill for a kube-apiserver EncryptionConfiguration: parses it strictly, checks key lengths and
 * the write provider (CIS 1.2.28), then exercises the real stored-value format (`k8s:enc:<provider>:v1:<key>:`
 * + aescbc/aesgcm/secretbox output, byte-compatible with kube-apiserver) for every resource: a value written
 * with the primary key reads back, and a value written with every other listed key (older or staged keys)
 * is still readable. kms providers are checked structurally only; their crypto is never claimed as exercised.
 */
import { randomBytes } from "node:crypto";
import {
  type KeyedProvider,
  type KeyedProviderType,
  type KeyLengthProblem,
  type ParsedEncryptionConfig,
  type ParsedProvider,
  parseEncryptionConfigurationDetailed,
  resolveProviders,
} from "../../harness/encryptionFormat/config";
import {
  decryptStoredValue,
  encryptStoredValue,
  kmsStoredValuePrefix,
  storedValuePrefix,
} from "../../harness/encryptionFormat/storedValue";

export * from "../../harness/encryptionFormat/config";
export * from "../../harness/encryptionFormat/storedValue";

export interface DrillCheck {
  name: string;
  passed: boolean;
  detail: string;
}

export interface EncryptionDrillResult {
  passed: boolean;
  checks: DrillCheck[];
}

export interface EncryptionDrillOptions {
  /**
   * The provider every resource entry must write with, and the name of its first key
   * (for kms: the kms provider's `name`, which is what appears in the stored prefix).
   */
  expectedPrimary?: { provider: string; keyName: string };
}

const ENCRYPTING_PROVIDERS = new Set(["aescbc", "aesgcm", "secretbox", "kms"]);

export function runEncryptionDrill(
  yamlText: string,
  opts: EncryptionDrillOptions = {},
): EncryptionDrillResult {
  const checks: DrillCheck[] = [];
  const done = (): EncryptionDrillResult => ({ passed: checks.every((c) => c.passed), checks });

  let config: ParsedEncryptionConfig;
  let keyLengthProblems: KeyLengthProblem[];
  try {
    ({ config, keyLengthProblems } = parseEncryptionConfigurationDetailed(yamlText, {
      enforceKeyLengths: false,
    }));
  } catch (e) {
    checks.push({ name: "config parses", passed: false, detail: (e as Error).message });
    return done();
  }
  const entries = config.resources;
  checks.push({
    name: "config parses",
    passed: true,
    detail: `${entries.length} resources entr${entries.length === 1 ? "y" : "ies"}: ${entries
      .map((e) => `[${e.resources.join(", ")}] → ${e.providers.map(describeProvider).join(", ")}`)
      .join("; ")}`,
  });

  const badKeyPaths = new Set(keyLengthProblems.map((p) => p.path.replace(/\.secret$/, "")));
  const keyCount = entries.flatMap((e) => e.providers).flatMap((p) => ("keys" in p ? p.keys : [])).length;
  checks.push({
    name: "key lengths",
    passed: keyLengthProblems.length === 0,
    detail:
      keyLengthProblems.length === 0
        ? `${keyCount} key(s), all of an allowed length (aescbc 32, aesgcm 16/24/32, secretbox 32 bytes)`
        : keyLengthProblems.map((p) => p.message).join("; "),
  });

  for (const entry of entries) {
    const first = entry.providers[0];
    const label = `${entry.path} [${entry.resources.join(", ")}]`;
    const encrypts = ENCRYPTING_PROVIDERS.has(first.type);
    checks.push({
      name: `${label}: first provider encrypts (CIS 1.2.28)`,
      passed: encrypts,
      detail: encrypts
        ? `writes with ${describeProvider(first)}`
        : `first provider is identity: new writes are stored in plaintext; put aescbc, aesgcm, secretbox or kms first`,
    });
    if (opts.expectedPrimary) {
      const want = opts.expectedPrimary;
      const gotKey = primaryKeyName(first);
      const ok = first.type === want.provider && gotKey === want.keyName;
      checks.push({
        name: `${label}: primary is ${want.provider}/${want.keyName}`,
        passed: ok,
        detail: ok
          ? `first provider ${first.type}, first key ${gotKey}`
          : `expected ${want.provider} with key ${want.keyName} first, found ${first.type}${gotKey === null ? "" : ` with key ${gotKey}`}`,
      });
    }
  }

  const seen = new Set<string>();
  for (const entry of entries) {
    for (const resource of entry.resources) {
      if (seen.has(resource)) continue;
      seen.add(resource);
      const providers = resolveProviders(config, resource) ?? entry.providers;
      checks.push(...resourceChecks(config, resource, providers, badKeyPaths));
    }
  }
  return done();
}

/** What the checks of one resource work from. */
interface ResourceContext {
  config: ParsedEncryptionConfig;
  resource: string;
  /** In the order kube-apiserver tries them; the first one writes. */
  providers: ParsedProvider[];
  badKeyPaths: Set<string>;
  /** The etcd key a value of this resource is stored under (AES-GCM/CBC bind it as data context). */
  dataContext: string;
}

function resourceChecks(
  config: ParsedEncryptionConfig,
  resource: string,
  providers: ParsedProvider[],
  badKeyPaths: Set<string>,
): DrillCheck[] {
  const r: ResourceContext = {
    config,
    resource,
    providers,
    badKeyPaths,
    dataContext: sampleEtcdKey(resource),
  };
  return [...writeChecks(r), otherKeysReadable(r), ...keyNameClashes(r)];
}

/** 1. Round trip with the write provider's first key; 2. tampering detected by the authenticated providers. */
function writeChecks(r: ResourceContext): DrillCheck[] {
  const writer = r.providers[0];
  const name = `${r.resource}: write/read round trip`;
  if (writer.type === "identity") {
    const sample = samplePlaintext();
    const read = tryDecrypt(r.config, r.resource, sample.value, r.dataContext);
    const passed = read.ok && read.value.plaintext.equals(sample.value);
    const detail = passed
      ? "identity writes plaintext: the value reads back but is NOT encrypted at rest"
      : `plaintext written by identity did not read back: ${read.ok ? "different bytes" : read.error}`;
    return [{ name, passed, detail }];
  }
  if (writer.type === "kms")
    return [
      {
        name,
        passed: true,
        detail:
          `kms provider "${writer.name}" (${writer.apiVersion}, endpoint ${writer.endpoint}): structure checked, ` +
          `values would be prefixed ${kmsStoredValuePrefix(writer)}; encryption NOT exercised (needs the KMS plugin, not available offline)`,
      },
    ];
  const key = writer.keys[0];
  if (r.badKeyPaths.has(key.path))
    return [
      {
        name,
        passed: false,
        detail: `cannot write: ${key.path} has a key of the wrong length (see "key lengths")`,
      },
    ];
  const sample = samplePlaintext();
  const stored = encryptStoredValue({
    provider: writer.type,
    keyName: key.name,
    key: key.secret,
    plaintext: sample.value,
    dataContext: r.dataContext,
  });
  const prefix = storedValuePrefix(writer.type, key.name);
  const read = tryDecrypt(r.config, r.resource, stored, r.dataContext);
  const problems: string[] = [];
  if (!stored.subarray(0, Buffer.byteLength(prefix)).equals(Buffer.from(prefix)))
    problems.push("wrong prefix");
  if (stored.includes(sample.marker)) problems.push("plaintext visible in the stored value");
  if (!read.ok) problems.push(`read failed: ${read.error}`);
  else {
    if (!read.value.plaintext.equals(sample.value)) problems.push("read returned different bytes");
    if (read.value.provider !== writer.type || read.value.keyName !== key.name)
      problems.push(
        `read by ${read.value.provider}/${read.value.keyName} instead of ${writer.type}/${key.name}`,
      );
  }
  const roundTrip: DrillCheck = {
    name,
    passed: problems.length === 0,
    detail:
      problems.length === 0
        ? `${stored.length}-byte stored value prefixed ${prefix} reads back with ${writer.type}/${key.name}` +
          (writer.type === "aescbc" ? " (aescbc is unauthenticated and rated weak)" : "")
        : problems.join("; "),
  };
  if (!roundTrip.passed || writer.type === "aescbc") return [roundTrip];
  const tampered = Buffer.from(stored);
  tampered[tampered.length - 1] ^= 0x01;
  const t = tryDecrypt(r.config, r.resource, tampered, r.dataContext);
  return [
    roundTrip,
    {
      name: `${r.resource}: tampered value rejected`,
      passed: !t.ok,
      detail: t.ok ? `${writer.type} accepted a modified ciphertext` : `rejected: ${t.error}`,
    },
  ];
}

/** 3. Every other listed key (old keys being rotated away from, new keys being staged) stays readable. */
function otherKeysReadable(r: ResourceContext): DrillCheck {
  const readable: string[] = [];
  const unreadable: string[] = [];
  const notExercised: string[] = [];
  for (const [i, p] of r.providers.entries()) {
    if (p.type === "identity") {
      if (i === 0) continue;
      const sample = samplePlaintext();
      const read = tryDecrypt(r.config, r.resource, sample.value, r.dataContext);
      if (read.ok && read.value.plaintext.equals(sample.value)) readable.push("identity (plaintext)");
      else unreadable.push(`identity: ${read.ok ? "different bytes" : read.error}`);
    } else if (p.type === "kms") {
      if (i !== 0) notExercised.push(`kms/${p.name}`);
    } else
      for (const [j, key] of p.keys.entries()) {
        if (i === 0 && j === 0) continue;
        const problem = keyReadProblem(r, p.type, key);
        if (problem) unreadable.push(`${p.type}/${key.name}: ${problem}`);
        else readable.push(`${p.type}/${key.name}`);
      }
  }
  const parts: string[] = [];
  if (readable.length > 0) parts.push(`readable: ${readable.join(", ")}`);
  if (unreadable.length > 0) parts.push(`UNREADABLE: ${unreadable.join("; ")}`);
  if (notExercised.length > 0)
    parts.push(`structure only, crypto NOT exercised offline: ${notExercised.join(", ")}`);
  return {
    name: `${r.resource}: values written with every other listed key stay readable`,
    passed: unreadable.length === 0,
    detail: parts.length > 0 ? parts.join("; ") : "no other keys listed",
  };
}

/** Why a value written with this key would not read back through the config, or undefined. */
function keyReadProblem(
  r: ResourceContext,
  provider: KeyedProviderType,
  key: KeyedProvider["keys"][number],
): string | undefined {
  if (r.badKeyPaths.has(key.path)) return "wrong key length";
  const sample = samplePlaintext();
  const stored = encryptStoredValue({
    provider,
    keyName: key.name,
    key: key.secret,
    plaintext: sample.value,
    dataContext: r.dataContext,
  });
  const read = tryDecrypt(r.config, r.resource, stored, r.dataContext);
  if (!read.ok) return read.error;
  if (!read.value.plaintext.equals(sample.value)) return "read returned different bytes";
  if (read.value.provider !== provider || read.value.keyName !== key.name)
    return `read by ${read.value.provider}/${read.value.keyName}`;
  return undefined;
}

/** 4. Two keys with the same provider and name but different secrets make reads ambiguous. */
function keyNameClashes(r: ResourceContext): DrillCheck[] {
  const byId = new Map<string, Buffer>();
  const clashes = new Set<string>();
  for (const p of r.providers) {
    if (!isKeyed(p)) continue;
    for (const k of p.keys) {
      const id = `${p.type}/${k.name}`;
      const prev = byId.get(id);
      if (prev && !prev.equals(k.secret)) clashes.add(id);
      byId.set(id, k.secret);
    }
  }
  if (clashes.size === 0) return [];
  return [
    {
      name: `${r.resource}: key names unambiguous`,
      passed: false,
      detail: `same provider and key name with different secrets: ${[...clashes].join(", ")}; give every key its own name`,
    },
  ];
}

function tryDecrypt(
  config: ParsedEncryptionConfig,
  resource: string,
  stored: Buffer,
  dataContext: string,
): { ok: true; value: ReturnType<typeof decryptStoredValue> } | { ok: false; error: string } {
  try {
    return { ok: true, value: decryptStoredValue(config, resource, stored, dataContext) };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

function isKeyed(p: ParsedProvider): p is KeyedProvider {
  return p.type === "aescbc" || p.type === "aesgcm" || p.type === "secretbox";
}

function primaryKeyName(p: ParsedProvider): string | null {
  if (isKeyed(p)) return p.keys[0].name;
  if (p.type === "kms") return p.name;
  return null;
}

function describeProvider(p: ParsedProvider): string {
  if (isKeyed(p)) return `${p.type}(${p.keys.map((k) => k.name).join(", ")})`;
  if (p.type === "kms") return `kms ${p.apiVersion}(${p.name})`;
  return "identity";
}

/** A representative etcd key (the aesgcm additional data), e.g. /registry/secrets/rehearsal/encryption-drill. */
function sampleEtcdKey(resource: string): string {
  const r = resource.replace(/\*/g, "any").replace(/\.$/, "");
  return `/registry/${r}/rehearsal/encryption-drill`;
}

function samplePlaintext(): { value: Buffer; marker: Buffer } {
  const marker = Buffer.from(`drill-${randomBytes(12).toString("hex")}`);
  const value = Buffer.concat([
    Buffer.from('{"kind":"Secret","apiVersion":"v1","metadata":{"name":"encryption-drill"},"data":{"v":"'),
    marker,
    Buffer.from('"}}'),
  ]);
  return { value, marker };
}
