import type { EncryptionProvider, KeyState } from "../config/constants";
import type { EncryptionKeySpec } from "../config/schema";
import type { EncryptionKeyMaterial } from "../encryption/render";

/*
 * The key archive: every local encryption key declared in config — primary, staged, retired and archived
 * (archived keys are out of the EncryptionConfiguration but still decrypt older snapshots) — in one
 * secret that no node role can read. kms keys have no local material and are not archived here (their
 * material never leaves the KMS provider).
 */

export interface ArchivedKey {
  name: string;
  provider: EncryptionProvider;
  state: KeyState;
  /** The day an archived key left the EncryptionConfiguration. */
  archivedOn?: string;
  /** The key, base64 (as the EncryptionConfiguration carries it). */
  secret: string;
}

export interface KeyArchive {
  keys: ArchivedKey[];
}

/** The archive as JSON, in declared key order (it holds every local key: a secret). Pure. */
export function renderKeyArchive(specs: EncryptionKeySpec[], material: EncryptionKeyMaterial[]): string {
  const keys = specs
    .filter((k) => k.provider !== "kms")
    .map((k): ArchivedKey => {
      const m = material.find((x) => x.name === k.name);
      if (!m?.secretBase64)
        throw new Error(`key archive: no material for encryption key ${JSON.stringify(k.name)}`);
      return {
        name: k.name,
        provider: k.provider,
        state: k.state,
        ...(k.archivedOn !== undefined ? { archivedOn: k.archivedOn } : {}),
        secret: m.secretBase64,
      };
    });
  const archive: KeyArchive = { keys };
  return JSON.stringify(archive);
}
