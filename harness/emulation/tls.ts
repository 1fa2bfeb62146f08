/**
 * Real-crypto re-implementation of what terraform-provider-tls v4 (`@pulumi/tls` 5) does for
 * `tls_private_key`, `tls_self_signed_cert`, `tls_cert_request` and `tls_locally_signed_cert`.
 *
 * Certificates are assembled here in DER exactly the way Go's `crypto/x509.CreateCertificate` lays
 * them out for the provider's templates (RDN order, string types, extension order and criticality,
 * signature algorithm per key) and signed with `node:crypto`, so every key type the provider
 * supports works, including its default ECDSA curve P-224, which WebCrypto cannot sign with.
 * All functions are synchronous; awaiting them is harmless.
 */
import * as crypto from "node:crypto";
import {
  TAG,
  bitString,
  boolean,
  children,
  contextTag,
  decodeOid,
  decodeString,
  derNull,
  directoryString,
  fromPem,
  ia5String,
  integer,
  octetString,
  oid,
  parseDer,
  sequence,
  setOf,
  time,
  toPem,
  type DerNode,
} from "./der";

export type KeyAlgorithm = "RSA" | "ECDSA" | "ED25519";
export type EcdsaCurve = "P224" | "P256" | "P384" | "P521";

interface CurveInfo {
  nodeName: string;
  sshName?: string;
  hash: string;
  signatureOid: string;
}

const CURVES: Record<EcdsaCurve, CurveInfo> = {
  // Go signs with SHA-256 for P-224 and P-256, SHA-384 for P-384, SHA-512 for P-521.
  P224: { nodeName: "secp224r1", hash: "sha256", signatureOid: "1.2.840.10045.4.3.2" },
  P256: { nodeName: "prime256v1", sshName: "nistp256", hash: "sha256", signatureOid: "1.2.840.10045.4.3.2" },
  P384: { nodeName: "secp384r1", sshName: "nistp384", hash: "sha384", signatureOid: "1.2.840.10045.4.3.3" },
  P521: { nodeName: "secp521r1", sshName: "nistp521", hash: "sha512", signatureOid: "1.2.840.10045.4.3.4" },
};

export const SUPPORTED_ALGORITHMS: readonly KeyAlgorithm[] = ["RSA", "ECDSA", "ED25519"];
export const SUPPORTED_CURVES: readonly EcdsaCurve[] = ["P224", "P256", "P384", "P521"];

// ---------------------------------------------------------------------------------------------
// Allowed uses (common_cert.go: keyUsages / extendedKeyUsages)

/** Key-usage bits as Go numbers them (x509.KeyUsageDigitalSignature = 1 << 0, ...). */
export const KEY_USAGES: Readonly<Record<string, number>> = {
  digital_signature: 1 << 0,
  content_commitment: 1 << 1,
  key_encipherment: 1 << 2,
  data_encipherment: 1 << 3,
  key_agreement: 1 << 4,
  cert_signing: 1 << 5,
  crl_signing: 1 << 6,
  encipher_only: 1 << 7,
  decipher_only: 1 << 8,
};

/** Extended key usages and their OIDs. */
export const EXTENDED_KEY_USAGES: Readonly<Record<string, string>> = {
  any_extended: "2.5.29.37.0",
  server_auth: "1.3.6.1.5.5.7.3.1",
  client_auth: "1.3.6.1.5.5.7.3.2",
  code_signing: "1.3.6.1.5.5.7.3.3",
  email_protection: "1.3.6.1.5.5.7.3.4",
  ipsec_end_system: "1.3.6.1.5.5.7.3.5",
  ipsec_tunnel: "1.3.6.1.5.5.7.3.6",
  ipsec_user: "1.3.6.1.5.5.7.3.7",
  timestamping: "1.3.6.1.5.5.7.3.8",
  ocsp_signing: "1.3.6.1.5.5.7.3.9",
  microsoft_server_gated_crypto: "1.3.6.1.4.1.311.10.3.3",
  netscape_server_gated_crypto: "2.16.840.1.113730.4.1",
  microsoft_commercial_code_signing: "1.3.6.1.4.1.311.2.1.22",
  microsoft_kernel_code_signing: "1.3.6.1.4.1.311.61.1.1",
};

export const SUPPORTED_ALLOWED_USES: readonly string[] = [
  ...Object.keys(KEY_USAGES),
  ...Object.keys(EXTENDED_KEY_USAGES),
].sort();

/** Turns `allowed_uses` into a key-usage bit mask and an ordered EKU OID list; rejects unknown values. */
export function resolveAllowedUses(allowedUses: readonly string[]): {
  keyUsage: number;
  extKeyUsageOids: string[];
} {
  let keyUsage = 0;
  const extKeyUsageOids: string[] = [];
  for (const use of allowedUses) {
    if (use in KEY_USAGES) keyUsage |= KEY_USAGES[use];
    else if (use in EXTENDED_KEY_USAGES) extKeyUsageOids.push(EXTENDED_KEY_USAGES[use]);
    else {
      throw new Error(
        `tls emulation: unsupported allowed_uses value ${JSON.stringify(use)}; ` +
          `accepted values: ${SUPPORTED_ALLOWED_USES.join(", ")}`,
      );
    }
  }
  return { keyUsage, extKeyUsageOids };
}

// ---------------------------------------------------------------------------------------------
// Keys

export interface GeneratePrivateKeyArgs {
  algorithm: KeyAlgorithm;
  /** RSA only; default 2048. */
  rsaBits?: number;
  /** ECDSA only; default "P224" (the provider's default). */
  ecdsaCurve?: EcdsaCurve;
}

export interface GeneratedPrivateKey {
  /** sha1 hex of the PKIX public key DER, as the provider's resource id. */
  id: string;
  algorithm: KeyAlgorithm;
  rsaBits: number;
  ecdsaCurve: EcdsaCurve;
  /** PKCS#1 `RSA PRIVATE KEY` for RSA, SEC1 `EC PRIVATE KEY` for ECDSA, PKCS#8 for ED25519. */
  privateKeyPem: string;
  /** PKCS#8 `PRIVATE KEY`. */
  privateKeyPemPkcs8: string;
  /** `OPENSSH PRIVATE KEY`; empty for P-224 like the provider. */
  privateKeyOpenssh: string;
  /** PKIX `PUBLIC KEY`. */
  publicKeyPem: string;
  /** authorized_keys line with trailing newline; empty for P-224. */
  publicKeyOpenssh: string;
  publicKeyFingerprintMd5: string;
  publicKeyFingerprintSha256: string;
}

export interface ParsedPrivateKey {
  key: crypto.KeyObject;
  algorithm: KeyAlgorithm;
  /** Set for ECDSA keys. */
  curve?: EcdsaCurve;
}

function curveOf(key: crypto.KeyObject): EcdsaCurve {
  const nodeName = key.asymmetricKeyDetails?.namedCurve;
  const found = SUPPORTED_CURVES.find((c) => CURVES[c].nodeName === nodeName);
  if (!found) throw new Error(`x509: unsupported elliptic curve ${nodeName}`);
  return found;
}

function algorithmOf(key: crypto.KeyObject): KeyAlgorithm {
  switch (key.asymmetricKeyType) {
    case "rsa":
      return "RSA";
    case "ec":
      return "ECDSA";
    case "ed25519":
      return "ED25519";
    default:
      throw new Error(`unsupported private key type: ${key.asymmetricKeyType}`);
  }
}

/**
 * Parses a private key PEM the way the provider does: `RSA PRIVATE KEY` (PKCS#1), `EC PRIVATE KEY`
 * (SEC1) or `PRIVATE KEY` (PKCS#8) holding an RSA, ECDSA or Ed25519 key.
 */
export function parsePrivateKeyPem(pem: string): ParsedPrivateKey {
  const { type } = fromPem(pem);
  if (!["RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY"].includes(type)) {
    throw new Error(`unsupported PEM preamble/type: ${type}`);
  }
  const key = crypto.createPrivateKey({ key: pem, format: "pem" });
  const algorithm = algorithmOf(key);
  return { key, algorithm, curve: algorithm === "ECDSA" ? curveOf(key) : undefined };
}

function spkiDer(key: crypto.KeyObject): Buffer {
  return crypto.createPublicKey(key).export({ type: "spki", format: "der" });
}

/** The subjectPublicKey BIT STRING contents (what Go's marshalPublicKey returns). */
function subjectPublicKeyBytes(spki: Buffer): Buffer {
  const bits = children(parseDer(spki))[1];
  return bits.content.subarray(1);
}

/** Subject key id as the provider computes it: SHA-1 of the subjectPublicKey bits. */
export function subjectKeyId(spki: Buffer): Buffer {
  return crypto.createHash("sha1").update(subjectPublicKeyBytes(spki)).digest();
}

// --- OpenSSH encodings (golang.org/x/crypto/ssh) ---

const sshString = (data: Buffer | string): Buffer => {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  return Buffer.concat([len, bytes]);
};

const sshMpint = (b64url: string): Buffer => {
  let bytes = Buffer.from(b64url, "base64url");
  let start = 0;
  while (start < bytes.length && bytes[start] === 0) start++;
  bytes = bytes.subarray(start);
  if (bytes.length > 0 && bytes[0] & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return sshString(bytes);
};

const sshUint32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

function opensshEncodings(
  key: crypto.KeyObject,
  algorithm: KeyAlgorithm,
  curve: EcdsaCurve | undefined,
): { publicBlob: Buffer; keyType: string; privateFields: Buffer } | undefined {
  if (algorithm === "ECDSA" && !CURVES[curve as EcdsaCurve].sshName) return undefined; // P-224: x/crypto/ssh refuses
  const jwk = key.export({ format: "jwk" });
  if (algorithm === "RSA") {
    const keyType = "ssh-rsa";
    const publicBlob = Buffer.concat([
      sshString(keyType),
      sshMpint(jwk.e as string),
      sshMpint(jwk.n as string),
    ]);
    const privateFields = Buffer.concat([
      sshMpint(jwk.n as string),
      sshMpint(jwk.e as string),
      sshMpint(jwk.d as string),
      sshMpint(jwk.qi as string),
      sshMpint(jwk.p as string),
      sshMpint(jwk.q as string),
    ]);
    return { publicBlob, keyType, privateFields };
  }
  if (algorithm === "ECDSA") {
    const sshName = CURVES[curve as EcdsaCurve].sshName as string;
    const keyType = `ecdsa-sha2-${sshName}`;
    const point = subjectPublicKeyBytes(spkiDer(key));
    const publicBlob = Buffer.concat([sshString(keyType), sshString(sshName), sshString(point)]);
    const privateFields = Buffer.concat([sshString(sshName), sshString(point), sshMpint(jwk.d as string)]);
    return { publicBlob, keyType, privateFields };
  }
  const keyType = "ssh-ed25519";
  const pub = Buffer.from(jwk.x as string, "base64url");
  const seed = Buffer.from(jwk.d as string, "base64url");
  const publicBlob = Buffer.concat([sshString(keyType), sshString(pub)]);
  const privateFields = Buffer.concat([sshString(pub), sshString(Buffer.concat([seed, pub]))]);
  return { publicBlob, keyType, privateFields };
}

function opensshPrivateKeyPem(keyType: string, publicBlob: Buffer, privateFields: Buffer): string {
  const check = crypto.randomBytes(4).readUInt32BE();
  let section = Buffer.concat([
    sshUint32(check),
    sshUint32(check),
    sshString(keyType),
    privateFields,
    sshString(""),
  ]);
  const padding: number[] = [];
  for (let i = 1; (section.length + padding.length) % 8 !== 0; i++) padding.push(i);
  section = Buffer.concat([section, Buffer.from(padding)]);
  const body = Buffer.concat([
    Buffer.from("openssh-key-v1\0", "latin1"),
    sshString("none"),
    sshString("none"),
    sshString(""),
    sshUint32(1),
    sshString(publicBlob),
    sshString(section),
  ]);
  return toPem("OPENSSH PRIVATE KEY", body);
}

/** All the outputs of `tls_private_key` for an existing key object. */
export function describePrivateKey(
  key: crypto.KeyObject,
  defaults: { rsaBits?: number; ecdsaCurve?: EcdsaCurve } = {},
): GeneratedPrivateKey {
  const algorithm = algorithmOf(key);
  const curve = algorithm === "ECDSA" ? curveOf(key) : undefined;
  const spki = spkiDer(key);
  const privateKeyPem =
    algorithm === "RSA"
      ? (key.export({ type: "pkcs1", format: "pem" }) as string)
      : algorithm === "ECDSA"
        ? (key.export({ type: "sec1", format: "pem" }) as string)
        : (key.export({ type: "pkcs8", format: "pem" }) as string);
  const ssh = opensshEncodings(key, algorithm, curve);
  const md5 = ssh ? crypto.createHash("md5").update(ssh.publicBlob).digest("hex") : "";
  return {
    id: crypto.createHash("sha1").update(spki).digest("hex"),
    algorithm,
    rsaBits:
      algorithm === "RSA" ? (key.asymmetricKeyDetails?.modulusLength ?? 0) : (defaults.rsaBits ?? 2048),
    ecdsaCurve: curve ?? defaults.ecdsaCurve ?? "P224",
    privateKeyPem,
    privateKeyPemPkcs8: key.export({ type: "pkcs8", format: "pem" }) as string,
    privateKeyOpenssh: ssh ? opensshPrivateKeyPem(ssh.keyType, ssh.publicBlob, ssh.privateFields) : "",
    publicKeyPem: toPem("PUBLIC KEY", spki),
    publicKeyOpenssh: ssh ? `${ssh.keyType} ${ssh.publicBlob.toString("base64")}\n` : "",
    publicKeyFingerprintMd5: ssh ? (md5.match(/../g) as string[]).join(":") : "",
    publicKeyFingerprintSha256: ssh
      ? `SHA256:${crypto.createHash("sha256").update(ssh.publicBlob).digest("base64").replace(/=+$/, "")}`
      : "",
  };
}

/** `tls_private_key`: generates a key pair. */
export function generatePrivateKey(args: GeneratePrivateKeyArgs): GeneratedPrivateKey {
  const rsaBits = args.rsaBits ?? 2048;
  const ecdsaCurve = args.ecdsaCurve ?? "P224";
  let key: crypto.KeyObject;
  switch (args.algorithm) {
    case "RSA":
      if (!Number.isInteger(rsaBits) || rsaBits < 1024)
        throw new Error(`tls emulation: invalid rsaBits ${rsaBits}`);
      key = crypto.generateKeyPairSync("rsa", { modulusLength: rsaBits, publicExponent: 65537 }).privateKey;
      break;
    case "ECDSA":
      if (!(ecdsaCurve in CURVES)) {
        throw new Error(`invalid ECDSA curve; supported values are: ${SUPPORTED_CURVES.join(", ")}`);
      }
      key = crypto.generateKeyPairSync("ec", { namedCurve: CURVES[ecdsaCurve].nodeName }).privateKey;
      break;
    case "ED25519":
      key = crypto.generateKeyPairSync("ed25519").privateKey;
      break;
    default:
      throw new Error(
        `tls emulation: invalid algorithm ${JSON.stringify(args.algorithm)}; ` +
          `supported values are: ${SUPPORTED_ALGORITHMS.join(", ")}`,
      );
  }
  return describePrivateKey(key, { rsaBits, ecdsaCurve });
}

/** `data.tls_public_key`-style outputs from a private key PEM. */
export function publicKeyFromPrivateKeyPem(privateKeyPem: string): GeneratedPrivateKey {
  return describePrivateKey(parsePrivateKeyPem(privateKeyPem).key);
}

// ---------------------------------------------------------------------------------------------
// Names

/** Subject as @pulumi/tls takes it (camelCase). */
export interface CertSubject {
  commonName?: string;
  organization?: string;
  organizationalUnit?: string;
  streetAddresses?: string[];
  locality?: string;
  province?: string;
  country?: string;
  postalCode?: string;
  serialNumber?: string;
  emailAddress?: string;
}

/** Go's pkix.Name, restricted to what matters here. */
interface GoName {
  country: string[];
  province: string[];
  locality: string[];
  streetAddress: string[];
  postalCode: string[];
  organization: string[];
  organizationalUnit: string[];
  commonName: string;
  serialNumber: string;
  /** Pre-encoded AttributeTypeAndValue, one RDN each (ExtraNames). */
  extraNames: Buffer[];
}

const OID = {
  commonName: "2.5.4.3",
  serialNumber: "2.5.4.5",
  country: "2.5.4.6",
  locality: "2.5.4.7",
  province: "2.5.4.8",
  streetAddress: "2.5.4.9",
  organization: "2.5.4.10",
  organizationalUnit: "2.5.4.11",
  postalCode: "2.5.4.17",
  emailAddress: "1.2.840.113549.1.9.1",
  extensionRequest: "1.2.840.113549.1.9.14",
  subjectKeyId: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  authorityKeyId: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  rsaEncryption: "1.2.840.113549.1.1.1",
  sha256WithRSA: "1.2.840.113549.1.1.11",
  ed25519: "1.3.101.112",
} as const;

const emptyGoName = (): GoName => ({
  country: [],
  province: [],
  locality: [],
  streetAddress: [],
  postalCode: [],
  organization: [],
  organizationalUnit: [],
  commonName: "",
  serialNumber: "",
  extraNames: [],
});

/** common_cert.go createSubjectDistinguishedNames. */
function goNameFromSubject(subject: CertSubject | undefined): GoName {
  const n = emptyGoName();
  if (!subject) return n;
  const one = (v: string | undefined | null): string[] => (v === undefined || v === null ? [] : [v]);
  n.commonName = subject.commonName ?? "";
  n.organization = one(subject.organization);
  n.organizationalUnit = one(subject.organizationalUnit);
  n.streetAddress = [...(subject.streetAddresses ?? [])];
  n.locality = one(subject.locality);
  n.province = one(subject.province);
  n.country = one(subject.country);
  n.postalCode = one(subject.postalCode);
  n.serialNumber = subject.serialNumber ?? "";
  if (subject.emailAddress !== undefined && subject.emailAddress !== null) {
    n.extraNames.push(sequence(oid(OID.emailAddress), ia5String(subject.emailAddress)));
  }
  return n;
}

function isEmptyGoName(n: GoName): boolean {
  return (
    !n.commonName &&
    !n.serialNumber &&
    n.extraNames.length === 0 &&
    [
      n.country,
      n.province,
      n.locality,
      n.streetAddress,
      n.postalCode,
      n.organization,
      n.organizationalUnit,
    ].every((a) => a.length === 0)
  );
}

/** pkix.Name.ToRDNSequence + asn1.Marshal. */
function encodeGoName(n: GoName): Buffer {
  const rdns: Buffer[] = [];
  const add = (values: string[], type: string): void => {
    if (values.length === 0) return;
    rdns.push(setOf(...values.map((v) => sequence(oid(type), directoryString(v)))));
  };
  add(n.country, OID.country);
  add(n.province, OID.province);
  add(n.locality, OID.locality);
  add(n.streetAddress, OID.streetAddress);
  add(n.postalCode, OID.postalCode);
  add(n.organization, OID.organization);
  add(n.organizationalUnit, OID.organizationalUnit);
  if (n.commonName) add([n.commonName], OID.commonName);
  if (n.serialNumber) add([n.serialNumber], OID.serialNumber);
  for (const atv of n.extraNames) rdns.push(setOf(atv));
  return sequence(...rdns);
}

/** pkix.Name.FillFromRDNSequence: only the well-known attributes survive (ExtraNames stay empty). */
function goNameFromDer(nameNode: DerNode): GoName {
  const n = emptyGoName();
  for (const rdn of children(nameNode)) {
    for (const atv of children(rdn)) {
      const [typeNode, valueNode] = children(atv);
      const value = decodeString(valueNode);
      if (value === undefined) continue;
      switch (decodeOid(typeNode.content)) {
        case OID.commonName:
          n.commonName = value;
          break;
        case OID.serialNumber:
          n.serialNumber = value;
          break;
        case OID.country:
          n.country.push(value);
          break;
        case OID.locality:
          n.locality.push(value);
          break;
        case OID.province:
          n.province.push(value);
          break;
        case OID.streetAddress:
          n.streetAddress.push(value);
          break;
        case OID.organization:
          n.organization.push(value);
          break;
        case OID.organizationalUnit:
          n.organizationalUnit.push(value);
          break;
        case OID.postalCode:
          n.postalCode.push(value);
          break;
      }
    }
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Subject alternative names

interface AltNames {
  dnsNames: string[];
  /** 4- or 16-byte addresses. */
  ipAddresses: Buffer[];
  uris: string[];
}

/** IPv4 in 4 bytes when possible, like Go's marshalSANs (net.IP.To4). */
function to4(ip: Buffer): Buffer {
  if (ip.length === 16 && ip.subarray(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff) {
    return Buffer.from(ip.subarray(12));
  }
  return ip;
}

/** net.ParseIP: dotted IPv4 or IPv6 (with optional embedded IPv4 tail), no zones. */
export function parseIp(text: string): Buffer {
  const fail = (): never => {
    throw new Error(`Invalid IP address: failed to parse ${JSON.stringify(text)}`);
  };
  const v4 = (s: string): number[] | undefined => {
    const parts = s.split(".");
    if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
    return parts.map(Number);
  };
  if (typeof text !== "string") return fail();
  const asV4 = v4(text);
  if (asV4) return Buffer.from(asV4);
  if (!text.includes(":")) return fail();
  let s = text;
  const lastColon = s.lastIndexOf(":");
  const tail = s.slice(lastColon + 1);
  if (tail.includes(".")) {
    const bytes = v4(tail) ?? fail();
    s = `${s.slice(0, lastColon + 1)}${((bytes[0] << 8) | bytes[1]).toString(16)}:${((bytes[2] << 8) | bytes[3]).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return fail();
  const groups = (h: string): string[] => (h === "" ? [] : h.split(":"));
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  const fill = halves.length === 2 ? 8 - head.length - rest.length : 0;
  if ((halves.length === 2 && fill < 1) || (halves.length === 1 && head.length !== 8)) return fail();
  const all = [...head, ...Array<string>(fill).fill("0"), ...rest];
  if (!all.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return fail();
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function altNamesFromInputs(dnsNames?: string[], ipAddresses?: string[], uris?: string[]): AltNames {
  for (const uri of uris ?? []) {
    try {
      new URL(uri);
    } catch {
      throw new Error(`Invalid URI: failed to parse ${JSON.stringify(uri)}`);
    }
  }
  return {
    dnsNames: [...(dnsNames ?? [])],
    ipAddresses: (ipAddresses ?? []).map(parseIp),
    uris: [...(uris ?? [])],
  };
}

const hasAltNames = (a: AltNames): boolean => a.dnsNames.length + a.ipAddresses.length + a.uris.length > 0;

/** The raw octets of an IA5String (rejects non-ASCII like Go's isIA5String). */
const ia5Bytes = (value: string): Buffer => parseDer(ia5String(value)).content;

/** marshalSANs: DNS names, then IPs, then URIs. */
function encodeAltNames(a: AltNames): Buffer {
  return sequence(
    ...a.dnsNames.map((d) => contextTag(2, ia5Bytes(d), false)),
    ...a.ipAddresses.map((ip) => contextTag(7, to4(ip), false)),
    ...a.uris.map((u) => contextTag(6, ia5Bytes(u), false)),
  );
}

function decodeAltNames(value: Buffer): AltNames {
  const out: AltNames = { dnsNames: [], ipAddresses: [], uris: [] };
  for (const gn of children(parseDer(value))) {
    if (gn.tag === 0x82) out.dnsNames.push(gn.content.toString("ascii"));
    else if (gn.tag === 0x87) out.ipAddresses.push(Buffer.from(gn.content));
    else if (gn.tag === 0x86) out.uris.push(gn.content.toString("ascii"));
    // email (0x81) and other names are dropped: the provider's template only copies these three.
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Certificates

const extension = (id: string, critical: boolean, value: Buffer): Buffer =>
  sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));

const reverseBits = (b: number): number => {
  let r = 0;
  for (let i = 0; i < 8; i++) if (b & (1 << i)) r |= 1 << (7 - i);
  return r;
};

/** marshalKeyUsage: reversed bit order, shortest byte string, unused trailing bits counted. */
function keyUsageValue(ku: number): Buffer {
  const bytes = [reverseBits(ku & 0xff), reverseBits((ku >> 8) & 0xff)];
  if (bytes[1] === 0) bytes.pop();
  const last = bytes[bytes.length - 1];
  let unused = 0;
  while (unused < 8 && !(last & (1 << unused))) unused++;
  return bitString(Buffer.from(bytes), unused);
}

interface ExtensionPlan {
  keyUsage: number;
  extKeyUsageOids: string[];
  isCa: boolean;
  maxPathLen: number;
  subjectKeyId?: Buffer;
  authorityKeyId?: Buffer;
  altNames: AltNames;
  subjectIsEmpty: boolean;
}

/** buildCertExtensions, in Go's order. */
function buildExtensions(p: ExtensionPlan): Buffer[] {
  const exts: Buffer[] = [];
  if (p.keyUsage !== 0) exts.push(extension(OID.keyUsage, true, keyUsageValue(p.keyUsage)));
  if (p.extKeyUsageOids.length > 0) {
    exts.push(extension(OID.extKeyUsage, false, sequence(...p.extKeyUsageOids.map(oid))));
  }
  // BasicConstraintsValid is always true in the provider's templates.
  exts.push(
    extension(
      OID.basicConstraints,
      true,
      sequence(...(p.isCa ? [boolean(true)] : []), ...(p.maxPathLen > 0 ? [integer(p.maxPathLen)] : [])),
    ),
  );
  if (p.subjectKeyId) exts.push(extension(OID.subjectKeyId, false, octetString(p.subjectKeyId)));
  if (p.authorityKeyId) {
    exts.push(extension(OID.authorityKeyId, false, sequence(contextTag(0, p.authorityKeyId, false))));
  }
  if (hasAltNames(p.altNames))
    exts.push(extension(OID.subjectAltName, p.subjectIsEmpty, encodeAltNames(p.altNames)));
  return exts;
}

interface SignatureParams {
  hash: string | null;
  algorithmIdentifier: Buffer;
}

/** signingParamsForKey. */
function signatureParams(parsed: ParsedPrivateKey): SignatureParams {
  switch (parsed.algorithm) {
    case "RSA":
      return { hash: "sha256", algorithmIdentifier: sequence(oid(OID.sha256WithRSA), derNull()) };
    case "ECDSA": {
      const info = CURVES[parsed.curve as EcdsaCurve];
      return { hash: info.hash, algorithmIdentifier: sequence(oid(info.signatureOid)) };
    }
    case "ED25519":
      return { hash: null, algorithmIdentifier: sequence(oid(OID.ed25519)) };
  }
}

function signedEnvelope(tbs: Buffer, signer: ParsedPrivateKey): Buffer {
  const params = signatureParams(signer);
  const signature = crypto.sign(params.hash, tbs, signer.key);
  return sequence(tbs, params.algorithmIdentifier, bitString(signature));
}

/** Options shared by self-signed and locally signed certificates. */
export interface CertValidityArgs {
  /** Hours from NotBefore to NotAfter (>= 0). */
  validityPeriodHours: number;
  /** Hours before NotAfter from which the cert is "ready for renewal" (default 0). */
  earlyRenewalHours?: number;
  /** snake_case key usages / extended key usages; unknown values throw. */
  allowedUses: string[];
  isCaCertificate?: boolean;
  setSubjectKeyId?: boolean;
  /** Only for CAs; 0 or negative means no limit (like the provider). */
  maxPathLength?: number;
  /** The clock: NotBefore (unless `notBefore` is given) and the readyForRenewal check. Default: real now. */
  now?: Date;
  /** Overrides NotBefore only, e.g. a date in the past to make an already expired cert. */
  notBefore?: Date;
  /** Fixed serial number instead of a random one below 2^128. */
  serialNumber?: bigint;
}

export interface SelfSignedCertArgs extends CertValidityArgs {
  privateKeyPem: string;
  subject?: CertSubject;
  dnsNames?: string[];
  ipAddresses?: string[];
  uris?: string[];
  setAuthorityKeyId?: boolean;
}

export interface SignCertRequestArgs extends CertValidityArgs {
  certRequestPem: string;
  caPrivateKeyPem: string;
  caCertPem: string;
}

export interface IssuedCert {
  /** The serial number in decimal: the provider's resource id. */
  id: string;
  serialNumber: bigint;
  certPem: string;
  /** RFC 3339. */
  validityStartTime: string;
  /** RFC 3339. */
  validityEndTime: string;
  readyForRenewal: boolean;
}

export interface SelfSignedCertResult extends IssuedCert {
  keyAlgorithm: KeyAlgorithm;
}

export interface LocallySignedCertResult extends IssuedCert {
  caKeyAlgorithm: KeyAlgorithm;
}

/** ready_for_renewal: now >= NotAfter - earlyRenewalHours. */
export function isReadyForRenewal(
  validityEndTime: string | Date,
  earlyRenewalHours = 0,
  now: Date = new Date(),
): boolean {
  const end = typeof validityEndTime === "string" ? new Date(validityEndTime) : validityEndTime;
  if (Number.isNaN(end.getTime()))
    throw new Error(`Failed to parse data from string: ${String(validityEndTime)}`);
  return now.getTime() >= end.getTime() - earlyRenewalHours * 3_600_000;
}

function randomSerial(): bigint {
  return BigInt(`0x${crypto.randomBytes(16).toString("hex")}`);
}

function checkNonNegativeInt(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 0)) {
    throw new Error(`tls emulation: ${name} must be an integer >= 0, got ${String(value)}`);
  }
}

interface CertPlan {
  common: CertValidityArgs;
  subject: Buffer;
  subjectIsEmpty: boolean;
  issuer: Buffer;
  spki: Buffer;
  altNames: AltNames;
  signer: ParsedPrivateKey;
  subjectKeyId?: Buffer;
  authorityKeyId?: Buffer;
}

/** common_cert.go createCertificate + x509.CreateCertificate. */
function createCertificate(plan: CertPlan): IssuedCert {
  const c = plan.common;
  checkNonNegativeInt("validityPeriodHours", c.validityPeriodHours);
  checkNonNegativeInt("earlyRenewalHours", c.earlyRenewalHours);
  if (c.validityPeriodHours === undefined) throw new Error("tls emulation: validityPeriodHours is required");
  const { keyUsage, extKeyUsageOids } = resolveAllowedUses(c.allowedUses ?? []);
  const now = c.now ?? new Date();
  const notBefore = c.notBefore ?? now;
  const notAfter = new Date(notBefore.getTime() + c.validityPeriodHours * 3_600_000);
  const serialNumber = c.serialNumber ?? randomSerial();
  const isCa = c.isCaCertificate === true;
  const maxPathLen = c.maxPathLength !== undefined && c.maxPathLength >= 0 ? c.maxPathLength : 0;
  if (!isCa && maxPathLen > 0) throw new Error("x509: only CAs are allowed to specify MaxPathLen");
  const extensions = buildExtensions({
    keyUsage,
    extKeyUsageOids,
    isCa,
    maxPathLen,
    subjectKeyId: plan.subjectKeyId,
    authorityKeyId: plan.authorityKeyId,
    altNames: plan.altNames,
    subjectIsEmpty: plan.subjectIsEmpty,
  });
  const tbs = sequence(
    contextTag(0, integer(2), true),
    integer(serialNumber),
    signatureParams(plan.signer).algorithmIdentifier,
    plan.issuer,
    sequence(time(notBefore), time(notAfter)),
    plan.subject,
    plan.spki,
    contextTag(3, sequence(...extensions), true),
  );
  const der = signedEnvelope(tbs, plan.signer);
  return {
    id: serialNumber.toString(10),
    serialNumber,
    certPem: toPem("CERTIFICATE", der),
    validityStartTime: notBefore.toISOString(),
    validityEndTime: notAfter.toISOString(),
    readyForRenewal: isReadyForRenewal(notAfter, c.earlyRenewalHours ?? 0, now),
  };
}

/** The SKI the provider sets: for CAs always, otherwise with set_subject_key_id. */
function plannedSubjectKeyId(common: CertValidityArgs, spki: Buffer): Buffer | undefined {
  return common.isCaCertificate === true || common.setSubjectKeyId === true ? subjectKeyId(spki) : undefined;
}

/** `tls_self_signed_cert`. */
export function createSelfSignedCert(args: SelfSignedCertArgs): SelfSignedCertResult {
  const signer = parsePrivateKeyPem(args.privateKeyPem);
  const name = goNameFromSubject(args.subject);
  if (args.isCaCertificate === true && isEmptyGoName(name)) {
    throw new Error(
      "Invalid Certificate Subject: Must contain at least one Distinguished Name when creating Certificate Authority (CA)",
    );
  }
  const subject = encodeGoName(name);
  const spki = spkiDer(signer.key);
  const ski = plannedSubjectKeyId(args, spki);
  let aki: Buffer | undefined;
  if (args.setAuthorityKeyId === true) {
    if (!ski) throw new Error("Invalid Certificate Authority: Could not determine Authority Key Identifier");
    aki = ski; // parent == template for a self-signed cert
  }
  const cert = createCertificate({
    common: args,
    subject,
    subjectIsEmpty: isEmptyGoName(name),
    issuer: subject,
    spki,
    altNames: altNamesFromInputs(args.dnsNames, args.ipAddresses, args.uris),
    signer,
    subjectKeyId: ski,
    authorityKeyId: aki,
  });
  return { ...cert, keyAlgorithm: signer.algorithm };
}

export interface CertRequestArgs {
  privateKeyPem: string;
  subject?: CertSubject;
  dnsNames?: string[];
  ipAddresses?: string[];
  uris?: string[];
}

export interface CertRequestResult {
  /** sha1 hex of the CSR DER. */
  id: string;
  certRequestPem: string;
  keyAlgorithm: KeyAlgorithm;
}

/** `tls_cert_request`: a PKCS#10 CSR signed by the key (x509.CreateCertificateRequest). */
export function createCertRequest(args: CertRequestArgs): CertRequestResult {
  const signer = parsePrivateKeyPem(args.privateKeyPem);
  const altNames = altNamesFromInputs(args.dnsNames, args.ipAddresses, args.uris);
  const attributes: Buffer[] = [];
  if (hasAltNames(altNames)) {
    const extensions = sequence(extension(OID.subjectAltName, false, encodeAltNames(altNames)));
    attributes.push(sequence(oid(OID.extensionRequest), setOf(extensions)));
  }
  const info = sequence(
    integer(0),
    encodeGoName(goNameFromSubject(args.subject)),
    spkiDer(signer.key),
    contextTag(0, Buffer.concat(attributes), true),
  );
  const der = signedEnvelope(info, signer);
  return {
    id: crypto.createHash("sha1").update(der).digest("hex"),
    certRequestPem: toPem("CERTIFICATE REQUEST", der),
    keyAlgorithm: signer.algorithm,
  };
}

interface ParsedCsr {
  name: GoName;
  spki: Buffer;
  altNames: AltNames;
}

/** x509.ParseCertificateRequest (signature is not checked, like the provider). */
function parseCertRequestPem(pem: string): ParsedCsr {
  const der = fromPem(pem, "CERTIFICATE REQUEST").der;
  const [info] = children(parseDer(der));
  const [, subject, spki, attrs] = children(info);
  let altNames: AltNames = { dnsNames: [], ipAddresses: [], uris: [] };
  if (attrs && attrs.tag === 0xa0) {
    for (const attr of children(attrs)) {
      const [type, values] = children(attr);
      if (decodeOid(type.content) !== OID.extensionRequest) continue;
      const [exts] = children(values);
      for (const ext of children(exts)) {
        const parts = children(ext);
        if (decodeOid(parts[0].content) === OID.subjectAltName) {
          altNames = decodeAltNames(parts[parts.length - 1].content);
        }
      }
    }
  }
  return { name: goNameFromDer(subject), spki: Buffer.from(spki.raw), altNames };
}

export interface ParsedCertificate {
  serialNumber: bigint;
  /** DER of the subject Name, as written. */
  rawSubject: Buffer;
  rawIssuer: Buffer;
  spki: Buffer;
  notBefore: Date;
  notAfter: Date;
  isCa: boolean;
  subjectKeyId?: Buffer;
  authorityKeyId?: Buffer;
}

function decodeTime(node: DerNode): Date {
  const s = node.content.toString("ascii");
  const full = node.tag === TAG.UTC_TIME ? `${Number(s.slice(0, 2)) >= 50 ? "19" : "20"}${s}` : s;
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(full);
  if (!m) throw new Error(`x509: unsupported time ${s}`);
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

/** The parts of a certificate PEM the signer needs. */
export function parseCertificatePem(pem: string): ParsedCertificate {
  const der = fromPem(pem, "CERTIFICATE").der;
  const [tbs] = children(parseDer(der));
  const fields = children(tbs);
  const rest = fields[0].tag === 0xa0 ? fields.slice(1) : fields;
  const [serial, , issuer, validity, subject, spki, ...optional] = rest;
  const [notBefore, notAfter] = children(validity).map(decodeTime);
  const out: ParsedCertificate = {
    serialNumber: BigInt(`0x${serial.content.toString("hex") || "0"}`),
    rawSubject: Buffer.from(subject.raw),
    rawIssuer: Buffer.from(issuer.raw),
    spki: Buffer.from(spki.raw),
    notBefore,
    notAfter,
    isCa: false,
  };
  const extsNode = optional.find((n) => n.tag === 0xa3);
  if (extsNode) {
    for (const ext of children(children(extsNode)[0])) {
      const parts = children(ext);
      const value = parts[parts.length - 1].content;
      switch (decodeOid(parts[0].content)) {
        case OID.subjectKeyId:
          out.subjectKeyId = Buffer.from(parseDer(value).content);
          break;
        case OID.authorityKeyId: {
          const keyId = children(parseDer(value)).find((n) => n.tag === 0x80);
          if (keyId) out.authorityKeyId = Buffer.from(keyId.content);
          break;
        }
        case OID.basicConstraints: {
          const first = children(parseDer(value))[0];
          out.isCa = first !== undefined && first.tag === TAG.BOOLEAN && first.content[0] !== 0;
          break;
        }
      }
    }
  }
  return out;
}

/** `tls_locally_signed_cert`: signs a CSR with a CA key and cert. */
export function signCertRequest(args: SignCertRequestArgs): LocallySignedCertResult {
  const csr = parseCertRequestPem(args.certRequestPem);
  const signer = parsePrivateKeyPem(args.caPrivateKeyPem);
  const ca = parseCertificatePem(args.caCertPem);
  if (!spkiDer(signer.key).equals(ca.spki)) {
    throw new Error("x509: provided PrivateKey doesn't match parent's PublicKey");
  }
  const subject = encodeGoName(csr.name);
  const ski = plannedSubjectKeyId(args, csr.spki);
  // x509.CreateCertificate: the AKI is the parent's SKI unless the result is self-signed.
  const aki = !ca.rawSubject.equals(subject) && ca.subjectKeyId ? ca.subjectKeyId : undefined;
  const cert = createCertificate({
    common: args,
    subject,
    subjectIsEmpty: isEmptyGoName(csr.name),
    issuer: ca.rawSubject,
    spki: csr.spki,
    altNames: csr.altNames,
    signer,
    subjectKeyId: ski,
    authorityKeyId: aki,
  });
  return { ...cert, caKeyAlgorithm: signer.algorithm };
}
