/**
 * The one place that loads @peculiar/x509 and the ASN.1 schemas it is built on (@peculiar/asn1-*).
 *
 * The library needs `reflect-metadata` before it loads (its algorithm registry uses tsyringe), and a
 * WebCrypto for its asynchronous API (verify, thumbprints), which callers use on the emulation's
 * certificates. The emulation itself stays synchronous — its callers (drills, the cluster runner) are —
 * so it does not call `X509CertificateGenerator.create` (async only: it awaits `subtle.sign`). It does
 * what that function does, step for step: the library's schemas and extension classes build the
 * TBSCertificate / CertificationRequestInfo, `node:crypto` signs the DER synchronously, the schemas
 * serialize the result.
 */
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { AsnConvert } from "@peculiar/asn1-schema";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };

/** DER of an ASN.1 schema object. */
export const toDer = (asn: object): Buffer => Buffer.from(AsnConvert.serialize(asn));

/** Parses DER (e.g. an extension's `rawData`) into an ASN.1 schema object. */
export const fromDer = <T>(der: ArrayBuffer | Uint8Array, type: new () => T): T =>
  AsnConvert.parse(der, type);

/** PEM with the trailing newline Go's pem.EncodeToMemory writes. */
export const toPem = (der: ArrayBuffer | Uint8Array, label: string): string =>
  `${x509.PemConverter.encode(der, label)}\n`;

/** A standalone ArrayBuffer copy (a Buffer's `.buffer` may be a shared pool), as the schemas want. */
export const toArrayBuffer = (bytes: Uint8Array): ArrayBuffer => new Uint8Array(bytes).buffer;
