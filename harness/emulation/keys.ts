/**
 * `tls_private_key` for exactly the key types secure-etcd issues: kubeadm's ECDSA-P256, ECDSA-P384,
 * RSA-2048, RSA-3072 and RSA-4096 (components/config/constants.ts `keyAlgorithms`, turned into provider
 * inputs by components/pki/profiles.ts `privateKeyArgs`, which always sets the curve). The provider
 * also accepts P-224 (its default curve), P-521 and ED25519; the emulation refuses those by name, so a
 * program that asks for one fails here instead of being "proven" with untested encodings.
 */
import * as crypto from "node:crypto";
import { SubjectPublicKeyInfo } from "@peculiar/asn1-x509";
import { opensshEncodings } from "./openssh";
import { fromDer, toPem } from "./peculiar";

/** What the provider accepts. */
export type ProviderKeyAlgorithm = "RSA" | "ECDSA" | "ED25519";
export type ProviderEcdsaCurve = "P224" | "P256" | "P384" | "P521";
/** What the emulation supports. */
export type KeyAlgorithm = "RSA" | "ECDSA";
export type EcdsaCurve = "P256" | "P384";

export const SUPPORTED_RSA_BITS: readonly number[] = [2048, 3072, 4096];
export const SUPPORTED_CURVES: readonly EcdsaCurve[] = ["P256", "P384"];

/** Go's signingParamsForKey: SHA-384 for P-384, SHA-256 for P-256 and RSA. */
const CURVES: Record<EcdsaCurve, { nodeName: string; hash: "SHA-256" | "SHA-384" }> = {
  P256: { nodeName: "prime256v1", hash: "SHA-256" },
  P384: { nodeName: "secp384r1", hash: "SHA-384" },
};

/** The provider's schema defaults. */
const DEFAULT_RSA_BITS = 2048;
const DEFAULT_CURVE: ProviderEcdsaCurve = "P224";

const or = (items: readonly unknown[]): string => `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`;
const SUPPORTED = `ECDSA with ecdsaCurve ${or(SUPPORTED_CURVES)}, RSA with rsaBits ${or(SUPPORTED_RSA_BITS)}`;

function refuse(what: string): never {
  throw new Error(
    `tls emulation: ${what} is not supported; the emulation supports the keys secure-etcd issues: ${SUPPORTED}`,
  );
}

export interface GeneratePrivateKeyArgs {
  algorithm: ProviderKeyAlgorithm;
  /** RSA only; default 2048 (the provider's default). */
  rsaBits?: number;
  /** ECDSA only; the provider's default is P224, which the emulation refuses. */
  ecdsaCurve?: ProviderEcdsaCurve;
}

export interface GeneratedPrivateKey {
  /** sha1 hex of the PKIX public key DER, as the provider's resource id. */
  id: string;
  algorithm: KeyAlgorithm;
  /** The key's size for RSA; the input or provider default (2048) otherwise, as the provider's state. */
  rsaBits: number;
  /** The key's curve for ECDSA; the input or provider default (P224) otherwise, as the provider's state. */
  ecdsaCurve: ProviderEcdsaCurve;
  /** PKCS#1 `RSA PRIVATE KEY` for RSA, SEC1 `EC PRIVATE KEY` for ECDSA. */
  privateKeyPem: string;
  /** PKCS#8 `PRIVATE KEY`. */
  privateKeyPemPkcs8: string;
  /** `OPENSSH PRIVATE KEY`. */
  privateKeyOpenssh: string;
  /** PKIX `PUBLIC KEY`. */
  publicKeyPem: string;
  /** authorized_keys line with trailing newline. */
  publicKeyOpenssh: string;
  publicKeyFingerprintMd5: string;
  publicKeyFingerprintSha256: string;
}

export interface ParsedPrivateKey {
  key: crypto.KeyObject;
  algorithm: KeyAlgorithm;
  /** Set for ECDSA keys. */
  curve?: EcdsaCurve;
  /** The signature hash Go's x509 uses with this key. */
  hash: "SHA-256" | "SHA-384";
}

/** Classifies a key, refusing any the emulation does not support. */
function inspect(key: crypto.KeyObject): ParsedPrivateKey {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === "rsa") {
    if (!SUPPORTED_RSA_BITS.includes(details.modulusLength ?? 0))
      refuse(`an RSA key of ${details.modulusLength} bits`);
    return { key, algorithm: "RSA", hash: "SHA-256" };
  }
  if (key.asymmetricKeyType === "ec") {
    const curve = SUPPORTED_CURVES.find((c) => CURVES[c].nodeName === details.namedCurve);
    if (!curve) refuse(`an ECDSA key on curve ${details.namedCurve}`);
    return { key, algorithm: "ECDSA", curve, hash: CURVES[curve].hash };
  }
  return refuse(`a private key of type ${key.asymmetricKeyType}`);
}

/**
 * Parses a private key PEM the way the provider does: `RSA PRIVATE KEY` (PKCS#1), `EC PRIVATE KEY`
 * (SEC1) or `PRIVATE KEY` (PKCS#8).
 */
export function parsePrivateKeyPem(pem: string): ParsedPrivateKey {
  const type = /-----BEGIN ([A-Z ]+)-----/.exec(pem ?? "")?.[1];
  if (!type || !["RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY"].includes(type)) {
    throw new Error(`unsupported PEM preamble/type: ${type ?? "none"}`);
  }
  return inspect(crypto.createPrivateKey({ key: pem, format: "pem" }));
}

/** SPKI DER of a key's public half. */
export const spkiDer = (key: crypto.KeyObject): Buffer =>
  crypto.createPublicKey(key).export({ type: "spki", format: "der" });

/** Subject key id as the provider computes it: SHA-1 of the subjectPublicKey bits. */
export function subjectKeyId(spki: Buffer): Buffer {
  const bits = fromDer(spki, SubjectPublicKeyInfo).subjectPublicKey;
  return crypto.createHash("sha1").update(Buffer.from(bits)).digest();
}

/** All the outputs of `tls_private_key` for a supported key. */
export function describePrivateKey(
  key: crypto.KeyObject,
  inputs: { rsaBits?: number; ecdsaCurve?: ProviderEcdsaCurve } = {},
): GeneratedPrivateKey {
  const parsed = inspect(key);
  const spki = spkiDer(key);
  const pkcs8 = key.export({ type: "pkcs8", format: "pem" }) as string;
  return {
    id: crypto.createHash("sha1").update(spki).digest("hex"),
    algorithm: parsed.algorithm,
    rsaBits: key.asymmetricKeyDetails?.modulusLength ?? inputs.rsaBits ?? DEFAULT_RSA_BITS,
    ecdsaCurve: parsed.curve ?? inputs.ecdsaCurve ?? DEFAULT_CURVE,
    privateKeyPem: key.export({
      type: parsed.algorithm === "RSA" ? "pkcs1" : "sec1",
      format: "pem",
    }) as string,
    privateKeyPemPkcs8: pkcs8,
    publicKeyPem: toPem(spki, "PUBLIC KEY"),
    ...opensshEncodings(pkcs8),
  };
}

/** `tls_private_key`: generates a key pair of a supported type. */
export function generatePrivateKey(args: GeneratePrivateKeyArgs): GeneratedPrivateKey {
  const rsaBits = args.rsaBits ?? DEFAULT_RSA_BITS;
  const ecdsaCurve = args.ecdsaCurve ?? DEFAULT_CURVE;
  let key: crypto.KeyObject;
  if (args.algorithm === "RSA") {
    if (!SUPPORTED_RSA_BITS.includes(rsaBits)) refuse(`rsaBits ${rsaBits}`);
    key = crypto.generateKeyPairSync("rsa", { modulusLength: rsaBits, publicExponent: 65537 }).privateKey;
  } else if (args.algorithm === "ECDSA") {
    const curve = SUPPORTED_CURVES.find((c) => c === ecdsaCurve);
    if (!curve) {
      const isDefault = args.ecdsaCurve === undefined;
      refuse(
        `ecdsaCurve "${ecdsaCurve}"${isDefault ? " (the tls provider's default when ecdsaCurve is unset)" : ""}`,
      );
    }
    key = crypto.generateKeyPairSync("ec", { namedCurve: CURVES[curve].nodeName }).privateKey;
  } else {
    refuse(`algorithm ${JSON.stringify(args.algorithm)}`);
  }
  return describePrivateKey(key, args);
}

/** `data.tls_public_key`-style outputs from a private key PEM. */
export function publicKeyFromPrivateKeyPem(privateKeyPem: string): GeneratedPrivateKey {
  return describePrivateKey(parsePrivateKeyPem(privateKeyPem).key);
}
