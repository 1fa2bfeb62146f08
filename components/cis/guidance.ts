import { pass, warn, type CheckInfo, type Finding } from "./types";

/*
 * Guidance beyond CIS: things kube-bench passes but that are weaker than they should be. They WARN, never
 * FAIL (the pack reports them as advisory).
 */

/** kubeadm's leaf validity, and the longest CA/Browser-style guidance accepts: one year. */
export const maxLeafValidityHours = 8760;

export const leafValidity: CheckInfo = {
  id: "G-2",
  title: "Leaf certificates are valid for at most one year",
  source: "guidance",
  scored: false,
};

export function checkLeafValidity(hours: number): Finding {
  return hours <= maxLeafValidityHours
    ? pass(`valid ${Math.round(hours)} h (≤ ${maxLeafValidityHours} h)`)
    : warn(
        `valid ${Math.round(hours)} h, longer than a year: a stolen key stays useful longer (kubeadm issues 1-year leaves)`,
      );
}

/** Environments where snapshots must be on (policy config `prodEnvironments` overrides). */
export const defaultProdEnvironments: readonly string[] = ["prod", "production"];

export const backupsInProd: CheckInfo = {
  id: "G-3",
  title: "Snapshots are enabled in production",
  source: "guidance",
  scored: false,
};

export function checkBackupsInProd(
  environment: string,
  backupsEnabled: boolean,
  prodEnvironments: readonly string[] = defaultProdEnvironments,
): Finding {
  if (backupsEnabled) return pass(`snapshots on (${environment})`);
  return prodEnvironments.includes(environment)
    ? warn(`snapshots are off in ${environment}: a lost quorum or a bad write cannot be undone`)
    : pass(`snapshots off outside production (${environment})`);
}
