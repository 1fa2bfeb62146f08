/**
 * The provider's OpenSSH outputs (golang.org/x/crypto/ssh `MarshalPrivateKey(key, "")`,
 * `MarshalAuthorizedKey`, `FingerprintLegacyMD5`, `FingerprintSHA256`), written by sshpk.
 */
import * as sshpk from "sshpk";

export interface OpensshEncodings {
  /** `OPENSSH PRIVATE KEY` (openssh-key-v1, unencrypted). */
  privateKeyOpenssh: string;
  /** authorized_keys line with trailing newline. */
  publicKeyOpenssh: string;
  /** `aa:bb:…` */
  publicKeyFingerprintMd5: string;
  /** `SHA256:…` without padding. */
  publicKeyFingerprintSha256: string;
}

export function opensshEncodings(pkcs8Pem: string): OpensshEncodings {
  const key = sshpk.parsePrivateKey(pkcs8Pem, "pkcs8");
  key.comment = ""; // Go writes an empty comment; sshpk would write "(unnamed)"
  const pub = key.toPublic();
  return {
    privateKeyOpenssh: key.toString("ssh-private"),
    publicKeyOpenssh: `${pub.toString("ssh")}\n`,
    publicKeyFingerprintMd5: pub.fingerprint("md5").toString("hex"),
    publicKeyFingerprintSha256: pub.fingerprint("sha256").toString("base64"),
  };
}
