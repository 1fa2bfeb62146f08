/**
 * `tls_cert_request`: a PKCS#10 request as x509.CreateCertificateRequest writes it (subject, the SANs in
 * an extensionRequest attribute, signed by the key), and the parts of a request that
 * `tls_locally_signed_cert` copies into its template.
 */
import * as crypto from "node:crypto";
import { CertificationRequest, CertificationRequestInfo, Attributes } from "@peculiar/asn1-csr";
import { Attribute, SubjectPublicKeyInfo } from "@peculiar/asn1-x509";
import { altNamesFromInputs, altNamesOf, subjectAltName, type AltNames } from "./extensions";
import { parsePrivateKeyPem, spkiDer, type KeyAlgorithm } from "./keys";
import { encodeGoName, goNameFromName, goNameFromSubject, type CertSubject, type GoName } from "./names";
import { fromDer, toDer, toPem, x509 } from "./peculiar";
import { sign, signatureAlgorithm } from "./signing";

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

export function createCertRequest(args: CertRequestArgs): CertRequestResult {
  const signer = parsePrivateKeyPem(args.privateKeyPem);
  // Go marks the SAN extension of a request non-critical whatever the subject.
  const san = subjectAltName(altNamesFromInputs(args.dnsNames, args.ipAddresses, args.uris), false);
  const info = new CertificationRequestInfo({
    subject: encodeGoName(goNameFromSubject(args.subject)),
    subjectPKInfo: fromDer(spkiDer(signer.key), SubjectPublicKeyInfo),
    attributes: new Attributes(san ? [fromDer(new x509.ExtensionsAttribute([san]).rawData, Attribute)] : []),
  });
  const der = toDer(
    new CertificationRequest({
      certificationRequestInfo: info,
      signatureAlgorithm: signatureAlgorithm(signer),
      signature: sign(signer, toDer(info)),
    }),
  );
  return {
    id: crypto.createHash("sha1").update(der).digest("hex"),
    certRequestPem: toPem(der, "CERTIFICATE REQUEST"),
    keyAlgorithm: signer.algorithm,
  };
}

export interface ReadCertRequest {
  name: GoName;
  spki: Buffer;
  altNames: AltNames;
}

/** x509.ParseCertificateRequest, as far as the provider uses it (the signature is not checked). */
export function readCertRequest(pem: string): ReadCertRequest {
  const csr = new x509.Pkcs10CertificateRequest(pem);
  return {
    name: goNameFromName(csr.subjectName),
    spki: Buffer.from(csr.publicKey.rawData),
    altNames: altNamesOf(csr.extensions.find((e) => e instanceof x509.SubjectAlternativeNameExtension)),
  };
}
