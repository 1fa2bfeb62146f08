import {
  apiserverChecks,
  check1228,
  checkApiserverFlags,
  checkEtcdManifest,
  checkProviderOrder,
  etcdChecks,
  type CheckInfo,
  type FlagCheck,
} from "../components/cis";
import type { Violation } from "./resources";
import { onOutput, providerGroupsOf, secureEtcds } from "./secureEtcdOutputs";
import type { StackPolicy } from "./types";

/*
 * One mandatory stack policy per CIS recommendation, over what SecureEtcd renders, using the same check
 * functions as the CIS report (components/cis). FAIL is a violation; WARN (a deliberate difference) is not.
 */

const cisPolicy = (
  c: CheckInfo,
  remediationSteps: string,
  validate: StackPolicy["validate"],
): StackPolicy => ({
  kind: "stack",
  name: `cis-${c.id.replace(/\./g, "-")}`,
  displayName: `CIS ${c.id}: ${c.title}`,
  description: `CIS Kubernetes Benchmark ${c.id} (kube-bench cfg/cis-1.12): ${c.title}.`,
  enforcementLevel: "mandatory",
  severity: "high",
  cis: { id: c.id, title: c.title },
  remediationSteps,
  validate,
});

const etcdPolicy = (c: FlagCheck) =>
  cisPolicy(c, "Render the etcd manifests with SecureEtcd and do not patch its TLS flags.", (resources) =>
    onOutput<Record<string, string>>(resources, "etcdManifests", `CIS ${c.id}`, (manifests, r) =>
      Object.entries(manifests).flatMap(([member, yaml]): Violation[] => {
        const f = checkEtcdManifest(yaml).get(c.id)!;
        return f.status === "FAIL"
          ? [{ urn: r.urn, message: `CIS ${c.id}, member ${member}: ${f.reason}` }]
          : [];
      }),
    ),
  );

const apiserverPolicy = (c: FlagCheck) =>
  cisPolicy(
    c,
    "Apply SecureEtcd's apiserverFlags (or kubeApiserverPatch) to every kube-apiserver.",
    (resources) =>
      onOutput<string[]>(resources, "apiserverFlags", `CIS ${c.id}`, (flags, r) => {
        const f = checkApiserverFlags(flags).get(c.id)!;
        return f.status === "FAIL" ? [{ urn: r.urn, message: `CIS ${c.id}: ${f.reason}` }] : [];
      }),
  );

/** 1.2.28 on the provider order (see providerGroupsOf for what the pack can read at preview). */
const providersPolicy = cisPolicy(
  check1228,
  "Make the primary key's provider secretbox or kms (or aescbc); aesgcm and identity fail CIS 1.2.28.",
  (resources) =>
    secureEtcds(resources).flatMap((r): Violation[] => {
      const groups = providerGroupsOf(r);
      if (groups === undefined)
        return [
          {
            urn: r.urn,
            message: `SecureEtcd ${r.name} registered neither encryptionProviders nor encryptionConfiguration: CIS 1.2.28 cannot be checked`,
          },
        ];
      const f = checkProviderOrder(groups);
      return f.status === "FAIL" ? [{ urn: r.urn, message: `CIS 1.2.28: ${f.reason}` }] : [];
    }),
);

export const cisPolicies: StackPolicy[] = [
  ...etcdChecks.map(etcdPolicy),
  ...apiserverChecks.map(apiserverPolicy),
  providersPolicy,
];
