/** Signatures as Go's x509 writes them for the provider (signingParamsForKey). */
import * as crypto from "node:crypto";
import type { AlgorithmIdentifier } from "@peculiar/asn1-x509";
import type { ParsedPrivateKey } from "./keys";
import { toArrayBuffer, x509 } from "./peculiar";

/**
 * The AlgorithmIdentifier for the signer's key, from the library's algorithm registry (what
 * X509CertificateGenerator uses; not @peculiar/asn1-rsa's `sha256WithRSAEncryption` constant, which in
 * 2.11.1 carries the sha512-256WithRSAEncryption OID).
 */
export function signatureAlgorithm(signer: ParsedPrivateKey): AlgorithmIdentifier {
  const name = signer.algorithm === "RSA" ? "RSASSA-PKCS1-v1_5" : "ECDSA";
  return new x509.AlgorithmProvider().toAsnAlgorithm({ name, hash: signer.hash });
}

/** PKCS#1 v1.5 for RSA; ECDSA signatures come out DER-encoded, as X.509 carries them. */
export function sign(signer: ParsedPrivateKey, der: Buffer): ArrayBuffer {
  return toArrayBuffer(crypto.sign(signer.hash.replace("-", "").toLowerCase(), der, signer.key));
}
