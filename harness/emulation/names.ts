/**
 * Subject names the way the provider and Go's crypto/x509 write them: common_cert.go
 * createSubjectDistinguishedNames builds a pkix.Name, whose ToRDNSequence fixes the RDN order
 * (C, ST, L, street, postalCode, O, OU, CN, serialNumber, then ExtraNames) and puts all values of one
 * attribute into one multi-valued RDN.
 */
import { AttributeTypeAndValue, AttributeValue, Name, RelativeDistinguishedName } from "@peculiar/asn1-x509";
import { toDer, x509 } from "./peculiar";

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

/** The multi-valued fields of Go's pkix.Name, in ToRDNSequence order, with their OIDs. */
const LIST_FIELDS = [
  ["country", "2.5.4.6"],
  ["province", "2.5.4.8"],
  ["locality", "2.5.4.7"],
  ["streetAddress", "2.5.4.9"],
  ["postalCode", "2.5.4.17"],
  ["organization", "2.5.4.10"],
  ["organizationalUnit", "2.5.4.11"],
] as const;
const COMMON_NAME = "2.5.4.3";
const SERIAL_NUMBER = "2.5.4.5";
const EMAIL_ADDRESS = "1.2.840.113549.1.9.1";

type ListField = (typeof LIST_FIELDS)[number][0];

/** Go's pkix.Name, restricted to what the provider sets. */
export type GoName = Record<ListField, string[]> & {
  commonName: string;
  serialNumber: string;
  /** The provider's only ExtraName: an IA5String emailAddress. */
  emailAddress?: string;
};

/** common_cert.go createSubjectDistinguishedNames. */
export function goNameFromSubject(s: CertSubject | undefined): GoName {
  const one = (v: string | undefined | null): string[] => (v === undefined || v === null ? [] : [v]);
  return {
    country: one(s?.country),
    province: one(s?.province),
    locality: one(s?.locality),
    streetAddress: [...(s?.streetAddresses ?? [])],
    postalCode: one(s?.postalCode),
    organization: one(s?.organization),
    organizationalUnit: one(s?.organizationalUnit),
    commonName: s?.commonName ?? "",
    serialNumber: s?.serialNumber ?? "",
    emailAddress: s?.emailAddress ?? undefined,
  };
}

/**
 * pkix.Name.FillFromRDNSequence, as x509.ParseCertificateRequest fills the subject the provider copies:
 * only the well-known attributes survive (ExtraNames, so the email address, stay empty).
 */
export function goNameFromName(name: x509.Name): GoName {
  const n: GoName = {
    ...goNameFromSubject(undefined),
    commonName: name.getField(COMMON_NAME).at(-1) ?? "",
    serialNumber: name.getField(SERIAL_NUMBER).at(-1) ?? "",
  };
  for (const [field, oid] of LIST_FIELDS) n[field] = name.getField(oid);
  return n;
}

export function isEmptyGoName(n: GoName): boolean {
  return (
    !n.commonName &&
    !n.serialNumber &&
    n.emailAddress === undefined &&
    LIST_FIELDS.every(([field]) => n[field].length === 0)
  );
}

/** A value as Go's encoding/asn1 writes a plain string: PrintableString when it can, else UTF8String. */
const directoryString = (value: string): AttributeValue =>
  new AttributeValue(x509.Name.isPrintableString(value) ? { printableString: value } : { utf8String: value });

function rdn(type: string, values: AttributeValue[]): RelativeDistinguishedName {
  const atvs = values.map((value) => new AttributeTypeAndValue({ type, value }));
  // A SET OF is ordered by its elements' encodings (DER; Go's encoding/asn1 sorts too).
  atvs.sort((a, b) => Buffer.compare(toDer(a), toDer(b)));
  return new RelativeDistinguishedName(atvs);
}

/** pkix.Name.ToRDNSequence. */
export function encodeGoName(n: GoName): Name {
  const rdns: RelativeDistinguishedName[] = [];
  for (const [field, oid] of LIST_FIELDS)
    if (n[field].length > 0) rdns.push(rdn(oid, n[field].map(directoryString)));
  if (n.commonName) rdns.push(rdn(COMMON_NAME, [directoryString(n.commonName)]));
  if (n.serialNumber) rdns.push(rdn(SERIAL_NUMBER, [directoryString(n.serialNumber)]));
  if (n.emailAddress !== undefined)
    rdns.push(rdn(EMAIL_ADDRESS, [new AttributeValue({ ia5String: n.emailAddress })]));
  return new Name(rdns);
}
