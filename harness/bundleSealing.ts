/**
 * Seals node bundles the way the component does (components/secretStore/bundleSigning.ts: a certificate
 * self-signed by the signing key, naming the body's sha256), with the emulation's real crypto: for the
 * drills and tests that publish a renewed, edited or foreign-signed bundle.
 */
import { bundleDigest, publicKeyBase64, sealedBundle, sealUri } from "../components/secretStore/bundle";
import { SEAL_VALIDITY_HOURS } from "../components/secretStore/bundleSigning";
import { createSelfSignedCert, generatePrivateKey } from "./emulation";

export interface SigningKey {
  privateKeyPem: string;
  /** What a node's SECURE_ETCD_SIGNING_KEY holds (base64 DER). */
  publicKeyBase64: string;
}

/** A new ECDSA P-256 signing key, as the component creates one. */
export function newSigningKey(): SigningKey {
  const k = generatePrivateKey({ algorithm: "ECDSA", ecdsaCurve: "P256" });
  return { privateKeyPem: k.privateKeyPem, publicKeyBase64: publicKeyBase64(k.publicKeyPem) };
}

/** A signing key from its private key PEM (the emulation's record of the stack's key). */
export function signingKeyOf(privateKeyPem: string, publicKeyPem: string): SigningKey {
  return { privateKeyPem, publicKeyBase64: publicKeyBase64(publicKeyPem) };
}

// Each seal here gets a later second than the last, as seals made by successive `pulumi up`s do.
let lastGeneration = 0;
function nextGeneration(): Date {
  lastGeneration = Math.max(Math.floor(Date.now() / 1000), lastGeneration + 1);
  return new Date(lastGeneration * 1000);
}

/**
 * The whole bundle: `body` and an end line sealed by `key`, generation `notBefore` (default: a second
 * later than any seal made here before).
 */
export function sealWith(body: string, key: SigningKey, notBefore: Date = nextGeneration()): string {
  const seal = createSelfSignedCert({
    privateKeyPem: key.privateKeyPem,
    subject: { commonName: "secure-etcd node bundle seal" },
    uris: [sealUri(bundleDigest(body))],
    validityPeriodHours: SEAL_VALIDITY_HOURS,
    allowedUses: ["digital_signature"],
    notBefore,
  });
  return sealedBundle(body, seal.certPem);
}
