import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { EncryptionKeySpec } from "../config/schema";
import type { EncryptionKeyMaterial } from "./render";

/** 32 bytes: the only size secretbox and (here) aescbc accept, and the strongest aesgcm offers. */
export const encryptionKeyBytes = 32;

export interface EncryptionKeyResources {
  /** Key material per key (kms keys have none), every value a Pulumi secret. */
  material: pulumi.Output<EncryptionKeyMaterial[]>;
  resources: random.RandomBytes[];
}

/**
 * One RandomBytes per declared local key, named after the key (not its position), so reordering or
 * changing a key's state never regenerates it. Protected by default: dropping a key that may still
 * encrypt stored data would make that data unreadable, so removal must be a deliberate
 * `pulumi state unprotect` after every object has been rewritten.
 */
export function createEncryptionKeys(
  baseName: string,
  keys: EncryptionKeySpec[],
  protect: boolean,
  parent: pulumi.Resource,
): EncryptionKeyResources {
  const resources: random.RandomBytes[] = [];
  const parts = keys.map((k): pulumi.Output<EncryptionKeyMaterial> => {
    if (k.provider === "kms") {
      return pulumi.output({
        name: k.name,
        state: k.state,
        provider: k.provider,
        endpoint: k.endpoint,
        timeout: k.timeout,
      });
    }
    const bytes = new random.RandomBytes(
      `${baseName}-enc-${k.name}`,
      { length: encryptionKeyBytes },
      { parent, protect, additionalSecretOutputs: ["base64", "hex"] },
    );
    resources.push(bytes);
    return pulumi
      .secret(bytes.base64)
      .apply((secretBase64) => ({ name: k.name, state: k.state, provider: k.provider, secretBase64 }));
  });
  return { material: pulumi.secret(pulumi.all(parts)), resources };
}
