import {
  checkBackupsInProd,
  checkLeafValidity,
  checkPrimaryStrength,
  defaultProdEnvironments,
} from "../components/cis";
import { createdBySecureEtcd } from "./resources";
import { backupEnabledOf, environmentOf, providerGroupsOf, secureEtcds } from "./secureEtcdOutputs";
import type { PackPolicy } from "./types";

/*
 * Advisory: where CIS passes but guidance is weaker. The same guidance functions as the CIS report's
 * G-rows; a WARN is reported, a PASS is not.
 */

export const advisoryPolicies: PackPolicy[] = [
  {
    kind: "stack",
    name: "encryption-provider-strength",
    displayName: "The provider that encrypts writes is a strong one (kms v2 or secretbox)",
    description:
      "aescbc passes CIS 1.2.28 but Kubernetes rates it weak (padding oracle); aesgcm needs rotation every 200,000 writes.",
    enforcementLevel: "advisory",
    severity: "medium",
    remediationSteps:
      "Stage a secretbox or kms key, make it primary, rewrite every object, then retire the old key.",
    validate: (rs) =>
      secureEtcds(rs).flatMap((r) => {
        const f = checkPrimaryStrength(providerGroupsOf(r)?.[0]?.[0]);
        return f.status === "PASS" ? [] : [{ urn: r.urn, message: f.reason }];
      }),
  },
  {
    kind: "resource",
    name: "leaf-validity-max-one-year",
    displayName: "Leaf certificates are valid for at most one year",
    description:
      "etcd server, peer and client certificates are issued for at most 8760 hours (kubeadm's default).",
    enforcementLevel: "advisory",
    severity: "low",
    remediationSteps:
      "Set leafValidityHours to 8760 or less; earlyRenewalHours re-issues them on a `pulumi up`.",
    types: ["tls:index/locallySignedCert:LocallySignedCert"],
    validate: (r) => {
      if (!createdBySecureEtcd(r.urn) || r.props.isCaCertificate === true) return [];
      const f = checkLeafValidity(Number(r.props.validityPeriodHours));
      return f.status === "PASS" ? [] : [`${r.name}: ${f.reason}`];
    },
  },
  {
    kind: "stack",
    name: "backups-enabled-in-prod",
    displayName: "Snapshots are enabled in production",
    description: `backup.enabled is not false in a production environment (config prodEnvironments; default ${defaultProdEnvironments.join(", ")}).`,
    enforcementLevel: "advisory",
    severity: "high",
    remediationSteps: "Remove backup.enabled: false from the production stack.",
    configSchema: {
      properties: {
        prodEnvironments: { type: "array", items: { type: "string" }, default: [...defaultProdEnvironments] },
      },
    },
    validate: (rs, config) =>
      secureEtcds(rs).flatMap((r) => {
        const prod = Array.isArray(config.prodEnvironments) ? config.prodEnvironments.map(String) : undefined;
        const f = checkBackupsInProd(environmentOf(r), backupEnabledOf(r), prod);
        return f.status === "PASS" ? [] : [{ urn: r.urn, message: f.reason }];
      }),
  },
];
