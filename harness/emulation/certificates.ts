/**
 * `tls_self_signed_cert` and `tls_locally_signed_cert`: common_cert.go createCertificate's template
 * (NotBefore = now, NotAfter = NotBefore + validity, a random serial below 2^128, allowed uses, basic
 * constraints, key ids) turned into a certificate the way x509.CreateCertificate writes it.
 */
import * as crypto from "node:crypto";
import { AsnIntegerBigIntConverter } from "@peculiar/asn1-schema";
import {
  Certificate,
  Extension,
  Extensions,
  Name,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from "@peculiar/asn1-x509";
import { readCertRequest } from "./certRequest";
import { altNamesFromInputs, certificateExtensions, resolveAllowedUses, type AltNames } from "./extensions";
import { parsePrivateKeyPem, spkiDer, subjectKeyId, type KeyAlgorithm, type ParsedPrivateKey } from "./keys";
import { encodeGoName, goNameFromSubject, isEmptyGoName, type CertSubject } from "./names";
import { fromDer, toArrayBuffer, toDer, toPem, x509 } from "./peculiar";
import { sign, signatureAlgorithm } from "./signing";

const HOUR = 3_600_000;

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
  return now.getTime() >= end.getTime() - earlyRenewalHours * HOUR;
}

function checkNonNegativeInt(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 0)) {
    throw new Error(`tls emulation: ${name} must be an integer >= 0, got ${String(value)}`);
  }
}

/** A serial's INTEGER content octets (two's complement, so a leading zero byte when the top bit is set). */
const serialOctets = (serial: bigint): ArrayBuffer =>
  toArrayBuffer(AsnIntegerBigIntConverter.toASN(serial).valueBlock.valueHexView);

interface CertPlan {
  common: CertValidityArgs;
  subject: Name;
  subjectIsEmpty: boolean;
  issuer: Name;
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
  const notAfter = new Date(notBefore.getTime() + c.validityPeriodHours * HOUR);
  const serialNumber = c.serialNumber ?? BigInt(`0x${crypto.randomBytes(16).toString("hex")}`);
  const isCa = c.isCaCertificate === true;
  const maxPathLen = c.maxPathLength !== undefined && c.maxPathLength >= 0 ? c.maxPathLength : 0;
  if (!isCa && maxPathLen > 0) throw new Error("x509: only CAs are allowed to specify MaxPathLen");
  const extensions = certificateExtensions({ ...plan, keyUsage, extKeyUsageOids, isCa, maxPathLen });
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: serialOctets(serialNumber),
    signature: signatureAlgorithm(plan.signer),
    issuer: plan.issuer,
    validity: new Validity({ notBefore, notAfter }),
    subject: plan.subject,
    subjectPublicKeyInfo: fromDer(plan.spki, SubjectPublicKeyInfo),
    extensions: new Extensions(extensions.map((e) => fromDer(e.rawData, Extension))),
  });
  const cert = new Certificate({
    tbsCertificate: tbs,
    signatureAlgorithm: tbs.signature,
    signatureValue: sign(plan.signer, toDer(tbs)),
  });
  return {
    id: serialNumber.toString(10),
    serialNumber,
    certPem: toPem(toDer(cert), "CERTIFICATE"),
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
  if (args.setAuthorityKeyId === true && !ski) {
    throw new Error("Invalid Certificate Authority: Could not determine Authority Key Identifier");
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
    authorityKeyId: args.setAuthorityKeyId === true ? ski : undefined, // parent == template
  });
  return { ...cert, keyAlgorithm: signer.algorithm };
}

/** `tls_locally_signed_cert`: signs a CSR with a CA key and cert. */
export function signCertRequest(args: SignCertRequestArgs): LocallySignedCertResult {
  const csr = readCertRequest(args.certRequestPem);
  const signer = parsePrivateKeyPem(args.caPrivateKeyPem);
  const ca = new x509.X509Certificate(args.caCertPem);
  if (!spkiDer(signer.key).equals(Buffer.from(ca.publicKey.rawData))) {
    throw new Error("x509: provided PrivateKey doesn't match parent's PublicKey");
  }
  const subject = encodeGoName(csr.name);
  const issuer = fromDer(ca.subjectName.toArrayBuffer(), Name);
  const caKeyId = ca.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  // x509.CreateCertificate: the AKI is the parent's SKI unless the result is self-signed.
  const selfSigned = toDer(issuer).equals(toDer(subject));
  const cert = createCertificate({
    common: args,
    subject,
    subjectIsEmpty: isEmptyGoName(csr.name),
    issuer,
    spki: csr.spki,
    altNames: csr.altNames,
    signer,
    subjectKeyId: plannedSubjectKeyId(args, csr.spki),
    authorityKeyId: !selfSigned && caKeyId ? Buffer.from(caKeyId, "hex") : undefined,
  });
  return { ...cert, caKeyAlgorithm: signer.algorithm };
}
