import { plainFlags } from "./flags";
import { allSet } from "./flagChecks";
import type { FlagCheck } from "./etcd";
import type { Finding } from "./types";

/** kube-bench cfg/cis-1.12/master.yaml checks on kube-apiserver's etcd and encryption flags. */
export const apiserverChecks: readonly FlagCheck[] = [
  {
    id: "1.2.23",
    title: "Ensure that the --etcd-certfile and --etcd-keyfile arguments are set as appropriate",
    source: "cis-1.12",
    scored: true,
    evaluate: (f) => allSet(f, "--etcd-certfile", "--etcd-keyfile"),
  },
  {
    id: "1.2.26",
    title: "Ensure that the --etcd-cafile argument is set as appropriate",
    source: "cis-1.12",
    scored: true,
    evaluate: (f) => allSet(f, "--etcd-cafile"),
  },
  {
    id: "1.2.27",
    title: "Ensure that the --encryption-provider-config argument is set as appropriate",
    source: "cis-1.12",
    scored: false,
    evaluate: (f) => allSet(f, "--encryption-provider-config"),
  },
];

/** Every kube-apiserver flag check on a flag list (SecureEtcd's `apiserverFlags`), by id. */
export function checkApiserverFlags(flags: readonly string[]): Map<string, Finding> {
  const f = plainFlags(flags);
  return new Map(apiserverChecks.map((c) => [c.id, c.evaluate(f)]));
}
