/**
 * `pulumi.runtime.Mocks` that emulates the `tls` and `random` providers with real crypto, so a
 * program run under `pulumi.runtime.setMocks(new ProviderEmulation(), ...)` gets real keys, CSRs and
 * certificates, and records every resource it created for later inspection.
 */
import * as crypto from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { createCertRequest } from "./certRequest";
import { createSelfSignedCert, isReadyForRenewal, signCertRequest } from "./certificates";
import {
  generatePrivateKey,
  publicKeyFromPrivateKeyPem,
  type ProviderEcdsaCurve,
  type ProviderKeyAlgorithm,
} from "./keys";
import type { CertSubject } from "./names";

/** Resource and function tokens the emulation implements. */
export const TYPES = {
  privateKey: "tls:index/privateKey:PrivateKey",
  selfSignedCert: "tls:index/selfSignedCert:SelfSignedCert",
  certRequest: "tls:index/certRequest:CertRequest",
  locallySignedCert: "tls:index/locallySignedCert:LocallySignedCert",
  randomBytes: "random:index/randomBytes:RandomBytes",
} as const;

export const FUNCTIONS = {
  getCallerIdentity: "aws:index/getCallerIdentity:getCallerIdentity",
  getRegion: "aws:index/getRegion:getRegion",
  getPartition: "aws:index/getPartition:getPartition",
  getServicePrincipal: "aws:index/getServicePrincipal:getServicePrincipal",
  getSecrets: "aws:secretsmanager/getSecrets:getSecrets",
  getPublicKey: "tls:index/getPublicKey:getPublicKey",
} as const;

export const EMULATED_ACCOUNT_ID = "123456789012";
export const EMULATED_REGION = "us-east-1";

export interface ProviderEmulationOptions {
  /** The clock used for NotBefore, validity times and readyForRenewal. Default: real time. */
  now?: () => Date;
  /**
   * Mark the outputs the real SDKs list in `additionalSecretOutputs` (private key PEMs, RandomBytes
   * base64/hex) as secrets, as the real engine would. Off by default: mocks ignore
   * `additionalSecretOutputs`, and component code is expected to wrap such values itself. Inputs that
   * arrived as secrets are always returned as secrets.
   */
  markSecretOutputs?: boolean;
  /**
   * Outputs of deployed stacks, by fully qualified stack name, for `pulumi.StackReference` reads (a
   * program reading its own last deployment, or a promotion source). Unknown stacks read as never
   * deployed: no outputs.
   */
  stackOutputs?: Record<string, Record<string, unknown>>;
}

/** One resource the emulation created. `inputs` and `state` are plain values (secrets unwrapped). */
export interface EmulatedResource {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  id: string;
  state: Record<string, unknown>;
}

export interface EmulatedCall {
  token: string;
  inputs: Record<string, unknown>;
  result: Record<string, unknown>;
}

/** What the real SDKs put in `additionalSecretOutputs`. */
const SECRET_OUTPUTS: Record<string, readonly string[]> = {
  [TYPES.privateKey]: ["privateKeyOpenssh", "privateKeyPem", "privateKeyPemPkcs8"],
  [TYPES.selfSignedCert]: ["privateKeyPem"],
  [TYPES.certRequest]: ["privateKeyPem"],
  [TYPES.locallySignedCert]: ["caPrivateKeyPem"],
  [TYPES.randomBytes]: ["base64", "hex"],
};

const CERT_TYPES: readonly string[] = [TYPES.selfSignedCert, TYPES.locallySignedCert];

// Wire format of a secret inside deserialized mock inputs (see @pulumi/pulumi runtime/rpc).
const SPECIAL_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

function isSecretEnvelope(value: unknown): value is { value: unknown } {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<string, unknown>)[SPECIAL_SIG_KEY] === SECRET_SIG
  );
}

/** Strips secret envelopes; returns the plain value and whether any secret was found. */
function unwrapSecrets(value: unknown): { plain: unknown; secret: boolean } {
  if (isSecretEnvelope(value)) return { plain: unwrapSecrets(value.value).plain, secret: true };
  if (Array.isArray(value)) {
    const items = value.map(unwrapSecrets);
    return { plain: items.map((i) => i.plain), secret: items.some((i) => i.secret) };
  }
  if (typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    let secret = false;
    const plain: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const u = unwrapSecrets(v);
      plain[k] = u.plain;
      secret ||= u.secret;
    }
    return { plain, secret };
  }
  return { plain: value, secret: false };
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);
const bool = (v: unknown): boolean | undefined => (typeof v === "boolean" ? v : undefined);
const strings = (v: unknown): string[] | undefined =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : undefined;

function required(type: string, name: string, inputs: Record<string, unknown>, key: string): string {
  const value = str(inputs[key]) ?? str(inputs[`${key}Wo`]);
  if (value === undefined)
    throw new Error(`tls emulation: ${type} "${name}" is missing required input ${key}`);
  return value;
}

function subjectOf(v: unknown): CertSubject | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const s = v as Record<string, unknown>;
  return {
    commonName: str(s.commonName),
    organization: str(s.organization),
    organizationalUnit: str(s.organizationalUnit),
    streetAddresses: strings(s.streetAddresses),
    locality: str(s.locality),
    province: str(s.province),
    country: str(s.country),
    postalCode: str(s.postalCode),
    serialNumber: str(s.serialNumber),
    emailAddress: str(s.emailAddress),
  };
}

/** Write-only inputs are never stored in state. */
function withoutWriteOnly(inputs: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(inputs).filter(([k]) => !/Wo(Version)?$/.test(k)));
}

export class ProviderEmulation implements pulumi.runtime.Mocks {
  /** Every resource created, in creation order. */
  readonly resources: EmulatedResource[] = [];
  /** Every function call, in order. */
  readonly calls: EmulatedCall[] = [];
  private readonly clock: () => Date;
  private readonly markSecretOutputs: boolean;
  private readonly stackOutputs: Record<string, Record<string, unknown>>;

  constructor(options: ProviderEmulationOptions = {}) {
    this.clock = options.now ?? (() => new Date());
    this.markSecretOutputs = options.markSecretOutputs ?? false;
    this.stackOutputs = options.stackOutputs ?? {};
  }

  /** The emulation's current time. */
  now(): Date {
    return new Date(this.clock().getTime());
  }

  /** First resource of the given type token and logical name, if any. */
  find(type: string, name: string): EmulatedResource | undefined {
    return this.resources.find((r) => r.type === type && r.name === name);
  }

  /** Like {@link find} but throws, listing what exists of that type. */
  get(type: string, name: string): EmulatedResource {
    const found = this.find(type, name);
    if (!found) {
      const names = this.ofType(type).map((r) => r.name);
      throw new Error(`no emulated ${type} named "${name}" (have: ${names.join(", ") || "none"})`);
    }
    return found;
  }

  /** First resource with this logical name (optionally of this type); throws if none. */
  named(name: string, type?: string): EmulatedResource {
    const found = this.resources.find((r) => r.name === name && (type === undefined || r.type === type));
    if (!found) {
      throw new Error(
        `no emulated resource named "${name}"; have: ${this.resources.map((r) => r.name).join(", ")}`,
      );
    }
    return found;
  }

  ofType(type: string): EmulatedResource[] {
    return this.resources.filter((r) => r.type === type);
  }

  /**
   * Like `pulumi refresh` for the tls certs: recomputes `readyForRenewal` of every emulated
   * SelfSignedCert / LocallySignedCert against the clock and returns those that are ready.
   */
  refresh(): EmulatedResource[] {
    const now = this.now();
    const ready: EmulatedResource[] = [];
    for (const r of this.resources) {
      if (!CERT_TYPES.includes(r.type)) continue;
      r.state.readyForRenewal = isReadyForRenewal(
        String(r.state.validityEndTime),
        num(r.state.earlyRenewalHours) ?? 0,
        now,
      );
      if (r.state.readyForRenewal) ready.push(r);
    }
    return ready;
  }

  newResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
    const raw = (args.inputs ?? {}) as Record<string, unknown>;
    const secretKeys = new Set(Object.keys(raw).filter((k) => unwrapSecrets(raw[k]).secret));
    const inputs = unwrapSecrets(raw).plain as Record<string, unknown>;

    if (args.id !== undefined && args.id !== "") return this.read(args, inputs, secretKeys);

    if (pulumi.containsUnknowns(inputs)) {
      // Preview with unknown inputs: nothing can be computed yet, like a real provider's plan.
      return { id: undefined, state: this.wire(args.type, inputs, secretKeys) };
    }

    const { id, state } = this.create(args.type, args.name, inputs);
    this.resources.push({ type: args.type, name: args.name, inputs, id, state });
    return { id, state: this.wire(args.type, state, secretKeys) };
  }

  call(args: pulumi.runtime.MockCallArgs): pulumi.runtime.MockCallResult {
    const inputs = unwrapSecrets(args.inputs ?? {}).plain as Record<string, unknown>;
    let result: Record<string, unknown>;
    switch (args.token) {
      case FUNCTIONS.getCallerIdentity:
        result = {
          accountId: EMULATED_ACCOUNT_ID,
          arn: `arn:aws:iam::${EMULATED_ACCOUNT_ID}:user/emulated`,
          userId: "AIDAEMULATEDUSER0000",
          id: EMULATED_ACCOUNT_ID,
        };
        break;
      case FUNCTIONS.getRegion:
        result = {
          name: EMULATED_REGION,
          region: EMULATED_REGION,
          id: EMULATED_REGION,
          endpoint: `ec2.${EMULATED_REGION}.amazonaws.com`,
          description: "US East (N. Virginia)",
        };
        break;
      case FUNCTIONS.getPartition:
        result = {
          partition: "aws",
          dnsSuffix: "amazonaws.com",
          reverseDnsPrefix: "com.amazonaws",
          id: "aws",
        };
        break;
      case FUNCTIONS.getServicePrincipal: {
        // What the provider answers in the aws partition: `<service>.amazonaws.com`.
        const service = str(inputs.serviceName) ?? "";
        const region = str(inputs.region) ?? EMULATED_REGION;
        result = {
          serviceName: service,
          region,
          name: `${service}.amazonaws.com`,
          id: `${service}.${region}.amazonaws.com`,
          suffix: "amazonaws.com",
        };
        break;
      }
      case FUNCTIONS.getSecrets:
        // A fresh emulated account: no secret exists before the program creates one.
        result = { ...inputs, arns: [], names: [], id: EMULATED_REGION, region: EMULATED_REGION };
        break;
      case FUNCTIONS.getPublicKey: {
        const pem = str(inputs.privateKeyPem);
        if (pem === undefined) result = { ...inputs };
        else {
          const k = publicKeyFromPrivateKeyPem(pem);
          result = {
            ...inputs,
            id: k.id,
            algorithm: k.algorithm,
            publicKeyPem: k.publicKeyPem,
            publicKeyOpenssh: k.publicKeyOpenssh,
            publicKeyFingerprintMd5: k.publicKeyFingerprintMd5,
            publicKeyFingerprintSha256: k.publicKeyFingerprintSha256,
          };
        }
        break;
      }
      default:
        result = { ...inputs };
    }
    this.calls.push({ token: args.token, inputs, result });
    return result;
  }

  // -------------------------------------------------------------------------------------------

  private create(
    type: string,
    name: string,
    inputs: Record<string, unknown>,
  ): { id: string; state: Record<string, unknown> } {
    const now = this.now();
    switch (type) {
      case TYPES.privateKey: {
        const algorithm = str(inputs.algorithm);
        if (algorithm === undefined)
          throw new Error(`tls emulation: ${type} "${name}" is missing required input algorithm`);
        const k = generatePrivateKey({
          algorithm: algorithm as ProviderKeyAlgorithm,
          rsaBits: num(inputs.rsaBits),
          ecdsaCurve: str(inputs.ecdsaCurve) as ProviderEcdsaCurve | undefined,
        });
        const { id, ...outputs } = k;
        return { id, state: { ...inputs, ...outputs } };
      }
      case TYPES.selfSignedCert: {
        const common = this.certCommon(inputs, now);
        const c = createSelfSignedCert({
          ...common,
          privateKeyPem: required(type, name, inputs, "privateKeyPem"),
          subject: subjectOf(inputs.subject),
          dnsNames: strings(inputs.dnsNames),
          ipAddresses: strings(inputs.ipAddresses),
          uris: strings(inputs.uris),
          setAuthorityKeyId: bool(inputs.setAuthorityKeyId),
        });
        return {
          id: c.id,
          state: {
            ...withoutWriteOnly(inputs),
            ...this.certDefaults(inputs),
            setAuthorityKeyId: bool(inputs.setAuthorityKeyId) ?? false,
            certPem: c.certPem,
            keyAlgorithm: c.keyAlgorithm,
            validityStartTime: c.validityStartTime,
            validityEndTime: c.validityEndTime,
            readyForRenewal: c.readyForRenewal,
          },
        };
      }
      case TYPES.certRequest: {
        const r = createCertRequest({
          privateKeyPem: required(type, name, inputs, "privateKeyPem"),
          subject: subjectOf(inputs.subject),
          dnsNames: strings(inputs.dnsNames),
          ipAddresses: strings(inputs.ipAddresses),
          uris: strings(inputs.uris),
        });
        return {
          id: r.id,
          state: {
            ...withoutWriteOnly(inputs),
            certRequestPem: r.certRequestPem,
            keyAlgorithm: r.keyAlgorithm,
          },
        };
      }
      case TYPES.locallySignedCert: {
        const common = this.certCommon(inputs, now);
        const c = signCertRequest({
          ...common,
          certRequestPem: required(type, name, inputs, "certRequestPem"),
          caPrivateKeyPem: required(type, name, inputs, "caPrivateKeyPem"),
          caCertPem: required(type, name, inputs, "caCertPem"),
        });
        return {
          id: c.id,
          state: {
            ...withoutWriteOnly(inputs),
            ...this.certDefaults(inputs),
            certPem: c.certPem,
            caKeyAlgorithm: c.caKeyAlgorithm,
            validityStartTime: c.validityStartTime,
            validityEndTime: c.validityEndTime,
            readyForRenewal: c.readyForRenewal,
          },
        };
      }
      case TYPES.randomBytes: {
        const length = num(inputs.length);
        if (length === undefined || !Number.isInteger(length) || length < 1) {
          throw new Error(
            `random emulation: ${type} "${name}" needs an integer length >= 1, got ${String(length)}`,
          );
        }
        const bytes = crypto.randomBytes(length);
        return {
          id: "none", // the real provider's static id; never the (secret) value
          state: { ...inputs, length, base64: bytes.toString("base64"), hex: bytes.toString("hex") },
        };
      }
      default: {
        const state = this.genericState(type, name, inputs);
        // A secret's id is its ARN, as the provider reports it.
        const isSecret = type === "aws:secretsmanager/secret:Secret";
        return { id: isSecret ? String(state.arn) : `${name}-id`, state };
      }
    }
  }

  private certCommon(inputs: Record<string, unknown>, now: Date) {
    const validityPeriodHours = num(inputs.validityPeriodHours);
    if (validityPeriodHours === undefined) throw new Error("tls emulation: validityPeriodHours is required");
    return {
      validityPeriodHours,
      earlyRenewalHours: num(inputs.earlyRenewalHours),
      allowedUses: strings(inputs.allowedUses) ?? [],
      isCaCertificate: bool(inputs.isCaCertificate),
      setSubjectKeyId: bool(inputs.setSubjectKeyId),
      maxPathLength: num(inputs.maxPathLength),
      now,
    };
  }

  /** Computed defaults the provider fills in. */
  private certDefaults(inputs: Record<string, unknown>): Record<string, unknown> {
    return {
      earlyRenewalHours: num(inputs.earlyRenewalHours) ?? 0,
      isCaCertificate: bool(inputs.isCaCertificate) ?? false,
      setSubjectKeyId: bool(inputs.setSubjectKeyId) ?? false,
      maxPathLength: num(inputs.maxPathLength) ?? 0,
    };
  }

  private genericState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
    const state: Record<string, unknown> = { ...inputs };
    if (type.startsWith("aws:")) {
      const service = type.slice(4).split("/")[0].split(":")[0];
      const isBucket = /^aws:s3\/bucket(V2)?:Bucket(V2)?$/.test(type);
      if (isBucket) {
        const bucket = str(inputs.bucket) ?? name;
        state.bucket = bucket;
        state.arn = str(inputs.arn) ?? `arn:aws:s3:::${bucket}`;
        state.region ??= EMULATED_REGION;
        state.bucketDomainName ??= `${bucket}.s3.amazonaws.com`;
        state.bucketRegionalDomainName ??= `${bucket}.s3.${EMULATED_REGION}.amazonaws.com`;
      } else if (type === "aws:kms/key:Key") {
        // Real key ARNs are `…:key/<uuid>`; derive a stable uuid-shaped id from the name.
        const h = crypto.createHash("sha256").update(name).digest("hex");
        const keyId = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
        state.keyId = keyId;
        state.arn = `arn:aws:kms:${str(inputs.region) ?? EMULATED_REGION}:${EMULATED_ACCOUNT_ID}:key/${keyId}`;
      } else if (type === "aws:secretsmanager/secret:Secret") {
        // Secrets Manager appends 6 random characters to the name: `…:secret:<name>-AbCdEf` (stable here).
        const suffix = crypto.createHash("sha256").update(name).digest("base64url").replace(/[-_]/g, "x");
        const region = str(inputs.region) ?? EMULATED_REGION;
        state.arn = `arn:aws:secretsmanager:${region}:${EMULATED_ACCOUNT_ID}:secret:${str(inputs.name) ?? name}-${suffix.slice(0, 6)}`;
      } else if (service === "iam") {
        const kind = type.split(":").pop()!.toLowerCase();
        // IAM auto-names like any provider resource: the name is known once created.
        state.name ??= name;
        state.arn =
          str(inputs.arn) ?? `arn:aws:iam::${EMULATED_ACCOUNT_ID}:${kind}/${str(inputs.name) ?? name}`;
      } else {
        state.arn = str(inputs.arn) ?? `arn:aws:${service}:${EMULATED_REGION}:${EMULATED_ACCOUNT_ID}:${name}`;
      }
    } else if (type.startsWith("kubernetes:")) {
      const metadata =
        typeof inputs.metadata === "object" && inputs.metadata !== null
          ? { ...(inputs.metadata as Record<string, unknown>) }
          : {};
      metadata.name = str(metadata.name) ?? name;
      state.metadata = metadata;
    }
    return state;
  }

  /** `Resource.get(...)` / import: no new crypto; certs get readyForRenewal recomputed like a Read. */
  private read(
    args: pulumi.runtime.MockResourceArgs,
    inputs: Record<string, unknown>,
    secretKeys: Set<string>,
  ): pulumi.runtime.MockResourceResult {
    const id = args.id as string;
    if (args.type === "pulumi:pulumi:StackReference")
      return { id, state: { ...inputs, outputs: this.stackOutputs[id] ?? {}, secretOutputNames: [] } };
    const known = this.resources.find((r) => r.type === args.type && r.id === id);
    const state: Record<string, unknown> = { ...(known?.state ?? {}), ...inputs };
    if (CERT_TYPES.includes(args.type) && typeof state.validityEndTime === "string") {
      state.readyForRenewal = isReadyForRenewal(
        state.validityEndTime,
        num(state.earlyRenewalHours) ?? 0,
        this.now(),
      );
    }
    return { id, state: this.wire(args.type, state, secretKeys) };
  }

  /** The state handed back to the Pulumi runtime: secrets re-wrapped. */
  private wire(
    type: string,
    state: Record<string, unknown>,
    secretKeys: Set<string>,
  ): Record<string, unknown> {
    const secret = new Set(secretKeys);
    if (this.markSecretOutputs) for (const k of SECRET_OUTPUTS[type] ?? []) secret.add(k);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(state))
      out[k] = secret.has(k) && v !== undefined ? pulumi.secret(v) : v;
    return out;
  }
}
