import type { SecureEtcdSettings } from "../../../components/config/schema";
import type { RunningCluster } from "../../../harness/cluster";
import type { DrillKey, KmsDrillKey } from "../../../harness/encryptionKeys";
import type { DrillData } from "../apiserverData";
import type { Rotation } from "../rotationSteps";
import type { KmsEnv } from "./env";

/** What the KMS v2 drills share. */
export interface KmsDrills {
  dir: string;
  settings: SecureEtcdSettings;
  cluster: RunningCluster;
  env: KmsEnv;
  /** The three apiservers, the drill data and the keys deployed so far (rotationSteps' state). */
  rot: Rotation;
  /** The stack's kms key (prod: aws-kms-prod). */
  kmsKey: KmsDrillKey;
  /** The local key it replaced (prod: secretbox prod-2026-09). */
  formerKey: DrillKey;
  /** The shipped EncryptionConfiguration, socket remapped, as a file (what --expect names). */
  shippedConfigFile: string;
  /** What the "stored as kms" drill wrote (the snapshot readback restores it). */
  atRest?: DrillData;
  /** The current kms primary (changes with the move to a new AWS key). */
  primary: KmsDrillKey;
  workDir: string;
  caKeyPem?: string;
  caCertPem?: string;
  log: (line: string) => void;
}
