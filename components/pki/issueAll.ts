import type * as pulumi from "@pulumi/pulumi";
import type { SecureEtcdSettings } from "../config/schema";
import { issueCa, issueLeaf, type IssuedCa, type IssuedCert } from "./issue";
import { caProfile, leafProfiles } from "./profiles";

export interface IssuedPki {
  ca: IssuedCa;
  /** Every leaf, by profile id (`server-cp-1`, `backup-client`, …), in profile order. */
  leaves: Map<string, IssuedCert>;
  leaf(id: string): IssuedCert;
}

/** The whole etcd PKI the settings call for: the CA and every row of the profile table. */
export function issuePki(baseName: string, s: SecureEtcdSettings, parent: pulumi.Resource): IssuedPki {
  const opts = {
    baseName,
    algorithm: s.keyAlgorithm,
    leafValidityHours: s.leafValidityHours,
    earlyRenewalHours: s.earlyRenewalHours,
    parent,
  };
  const ca = issueCa(caProfile(s), opts);
  const leaves = new Map<string, IssuedCert>();
  for (const profile of leafProfiles(s)) leaves.set(profile.id, issueLeaf(profile, ca, opts));
  return {
    ca,
    leaves,
    leaf(id) {
      const found = leaves.get(id);
      if (!found) throw new Error(`no certificate profile ${JSON.stringify(id)}`);
      return found;
    },
  };
}
