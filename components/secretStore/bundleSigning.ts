import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { bundleDigest, publicKeyBase64, sealedBundle, sealUri } from "./bundle";

/*
 * The stack's bundle-signing key and the seal of each member's bundle (components/secretStore/bundle.ts).
 * The seal is a `tls.SelfSignedCert` signed by the key whose only SAN names the body's sha256: the tls
 * provider makes the signature and keeps it in state, so it changes only when the body does (no diff on
 * every preview), and its notBefore — when the provider created it — is the bundle's generation.
 */

/** Seals live as long as a CA: nodes check them with -no_check_time, and a re-issue only raises the generation. */
export const SEAL_VALIDITY_HOURS = 10 * 365 * 24;

export interface BundleSigningKey {
  key: tls.PrivateKey;
  /** The private key (PEM), a Pulumi secret. */
  privateKeyPem: pulumi.Output<string>;
  /** The public key as the node's SECURE_ETCD_SIGNING_KEY holds it: base64 DER (SPKI). Not a secret. */
  publicKeyBase64: pulumi.Output<string>;
}

/** An ECDSA P-256 key (the tls provider's; openssl on every node verifies it). */
export function createBundleSigningKey(name: string, parent: pulumi.Resource): BundleSigningKey {
  const key = new tls.PrivateKey(
    `${name}-bundle-signing-key`,
    { algorithm: "ECDSA", ecdsaCurve: "P256" },
    { parent, additionalSecretOutputs: ["privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh"] },
  );
  return {
    key,
    // Mocks ignore additionalSecretOutputs (DESIGN.md): mark it ourselves.
    privateKeyPem: pulumi.secret(key.privateKeyPem),
    // Mocks that answer only with their inputs have no publicKeyPem: then no key, and a node refuses to run.
    publicKeyBase64: key.publicKeyPem.apply((pem) => (pem ? publicKeyBase64(pem) : "")),
  };
}

/**
 * Seals one member's bundle body: a self-signed certificate naming the body's sha256, signed by the
 * stack's key. Returns the whole bundle (a secret: the body holds private keys).
 */
export function sealBundle(
  name: string,
  body: pulumi.Output<string>,
  signing: BundleSigningKey,
  parent: pulumi.Resource,
): pulumi.Output<string> {
  const secretBody = pulumi.secret(body);
  const seal = new tls.SelfSignedCert(
    `${name}-bundle-seal`,
    {
      privateKeyPem: signing.privateKeyPem,
      subject: { commonName: "secure-etcd node bundle seal" },
      uris: [secretBody.apply((b) => sealUri(bundleDigest(b)))],
      validityPeriodHours: SEAL_VALIDITY_HOURS,
      allowedUses: ["digital_signature"],
    },
    { parent },
  );
  return pulumi.secret(pulumi.all([secretBody, seal.certPem]).apply(([b, pem]) => sealedBundle(b, pem)));
}
