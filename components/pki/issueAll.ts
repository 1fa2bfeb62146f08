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

/**
 * The whole etcd PKI the settings call for: the CA and every row of the profile table. Which certs exist
 * comes from the construction-time settings `s`; their SANs from `resolved` (the same profile table over
 * the settings once member addresses are known), so an address from another resource lands in the CSR.
 */
export function issuePki(
  baseName: string,
  s: SecureEtcdSettings,
  resolved: pulumi.Output<SecureEtcdSettings>,
  parent: pulumi.Resource,
): IssuedPki {
  const opts = {
    baseName,
    algorithm: s.keyAlgorithm,
    leafValidityHours: s.leafValidityHours,
    earlyRenewalHours: s.earlyRenewalHours,
    parent,
  };
  const ca = issueCa(caProfile(s), opts);
  const leaves = new Map<string, IssuedCert>();
  const resolvedProfiles = resolved.apply(leafProfiles);
  leafProfiles(s).forEach((profile, i) => {
    const sans = {
      dnsNames: resolvedProfiles.apply((p) => p[i].dnsNames),
      ipAddresses: resolvedProfiles.apply((p) => p[i].ipAddresses),
    };
    leaves.set(profile.id, issueLeaf(profile, ca, opts, sans));
  });
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
