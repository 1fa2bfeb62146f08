/**
 * Certificate extensions as the provider's templates and Go's x509.CreateCertificate produce them:
 * `allowed_uses` (common_cert.go keyUsages / extendedKeyUsages), basic constraints, key ids and
 * subject alternative names, in buildCertExtensions' order.
 */
import * as net from "node:net";
import { x509 } from "./peculiar";

/** Key usages by their `allowed_uses` names. */
export const KEY_USAGES: Readonly<Record<string, x509.KeyUsageFlags>> = {
  digital_signature: x509.KeyUsageFlags.digitalSignature,
  content_commitment: x509.KeyUsageFlags.nonRepudiation,
  key_encipherment: x509.KeyUsageFlags.keyEncipherment,
  data_encipherment: x509.KeyUsageFlags.dataEncipherment,
  key_agreement: x509.KeyUsageFlags.keyAgreement,
  cert_signing: x509.KeyUsageFlags.keyCertSign,
  crl_signing: x509.KeyUsageFlags.cRLSign,
  encipher_only: x509.KeyUsageFlags.encipherOnly,
  decipher_only: x509.KeyUsageFlags.decipherOnly,
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

/** Turns `allowed_uses` into key-usage flags and an ordered EKU OID list; rejects unknown values. */
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

/** The subjectAltName entries the provider's templates carry (emails and other names are dropped). */
export interface AltNames {
  dnsNames: string[];
  /** Canonical text, IPv4 wherever Go writes 4 bytes. */
  ipAddresses: string[];
  uris: string[];
}

/**
 * net.ParseIP + marshalSANs' To4: an IPv4-mapped IPv6 address is written as its 4-byte IPv4 address.
 * The library's own IP parser accepts malformed text, so WHATWG URL parsing validates and canonicalizes
 * IPv6 first.
 */
export function goIp(text: string): string {
  if (net.isIPv4(text)) return text;
  let host: string;
  try {
    host = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  } catch {
    throw new Error(`Invalid IP address: failed to parse ${JSON.stringify(text)}`);
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (!mapped) return host;
  const [hi, lo] = [parseInt(mapped[1], 16), parseInt(mapped[2], 16)];
  return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join(".");
}

/** Go's marshalSANs refuses names that are not IA5 (ASCII) strings. */
function ia5(value: string): string {
  if ([...value].some((ch) => ch.charCodeAt(0) > 0x7f))
    throw new Error(`x509: ${JSON.stringify(value)} cannot be encoded as an IA5String`);
  return value;
}

export function altNamesFromInputs(dnsNames?: string[], ipAddresses?: string[], uris?: string[]): AltNames {
  for (const uri of uris ?? []) {
    if (!URL.canParse(uri)) throw new Error(`Invalid URI: failed to parse ${JSON.stringify(uri)}`);
  }
  return {
    dnsNames: (dnsNames ?? []).map(ia5),
    ipAddresses: (ipAddresses ?? []).map(goIp),
    uris: (uris ?? []).map(ia5),
  };
}

/** The SANs x509.ParseCertificateRequest yields and the provider copies into its template. */
export function altNamesOf(san: x509.SubjectAlternativeNameExtension | undefined): AltNames {
  const items = san?.names.items ?? [];
  const of = (type: string): string[] => items.filter((n) => n.type === type).map((n) => n.value);
  return { dnsNames: of("dns"), ipAddresses: of("ip").map(goIp), uris: of("url") };
}

const hasAltNames = (a: AltNames): boolean => a.dnsNames.length + a.ipAddresses.length + a.uris.length > 0;

/** marshalSANs: DNS names, then IPs, then URIs. Undefined when there are none. */
export function subjectAltName(a: AltNames, critical: boolean): x509.Extension | undefined {
  if (!hasAltNames(a)) return undefined;
  return new x509.SubjectAlternativeNameExtension(
    [
      ...a.dnsNames.map((value) => ({ type: "dns" as const, value })),
      ...a.ipAddresses.map((value) => ({ type: "ip" as const, value })),
      ...a.uris.map((value) => ({ type: "url" as const, value })),
    ],
    critical,
  );
}

export interface ExtensionPlan {
  keyUsage: number;
  extKeyUsageOids: string[];
  isCa: boolean;
  /** > 0 to write a path length constraint. */
  maxPathLen: number;
  subjectKeyId?: Buffer;
  authorityKeyId?: Buffer;
  altNames: AltNames;
  /** RFC 5280: the SAN extension is critical when the subject is empty. */
  subjectIsEmpty: boolean;
}

/** buildCertExtensions, in Go's order and criticality. */
export function certificateExtensions(p: ExtensionPlan): x509.Extension[] {
  const exts: (x509.Extension | undefined)[] = [
    p.keyUsage !== 0 ? new x509.KeyUsagesExtension(p.keyUsage, true) : undefined,
    p.extKeyUsageOids.length > 0 ? new x509.ExtendedKeyUsageExtension(p.extKeyUsageOids, false) : undefined,
    // BasicConstraintsValid is always true in the provider's templates.
    new x509.BasicConstraintsExtension(p.isCa, p.maxPathLen > 0 ? p.maxPathLen : undefined, true),
    p.subjectKeyId ? new x509.SubjectKeyIdentifierExtension(p.subjectKeyId.toString("hex")) : undefined,
    p.authorityKeyId ? new x509.AuthorityKeyIdentifierExtension(p.authorityKeyId.toString("hex")) : undefined,
    subjectAltName(p.altNames, p.subjectIsEmpty),
  ];
  return exts.filter((e): e is x509.Extension => e !== undefined);
}
