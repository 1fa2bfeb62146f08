import { containerOf, etcdFlags, type Flags } from "./flags";
import { allSet, isTrue, notTrue } from "./flagChecks";
import { fail, type CheckInfo, type Finding } from "./types";

export interface FlagCheck extends CheckInfo {
  evaluate(f: Flags): Finding;
}

const cis = (id: string, title: string, evaluate: (f: Flags) => Finding, scored = true): FlagCheck => ({
  id,
  title,
  source: "cis-1.12",
  scored,
  evaluate,
});

/** Boolean etcd flags: a bare `--client-cert-auth` means true and never takes the next argument. */
export const etcdBooleanFlags: ReadonlySet<string> = new Set([
  "--client-cert-auth",
  "--peer-client-cert-auth",
  "--auto-tls",
  "--peer-auto-tls",
]);

/** kube-bench cfg/cis-1.12/etcd.yaml, checks 2.1–2.7, over etcd's effective flags. */
export const etcdChecks: readonly FlagCheck[] = [
  cis("2.1", "Ensure that the --cert-file and --key-file arguments are set as appropriate", (f) =>
    allSet(f, "--cert-file", "--key-file"),
  ),
  cis("2.2", "Ensure that the --client-cert-auth argument is set to true", (f) =>
    isTrue(f, "--client-cert-auth"),
  ),
  cis("2.3", "Ensure that the --auto-tls argument is not set to true", (f) => notTrue(f, "--auto-tls")),
  cis("2.4", "Ensure that the --peer-cert-file and --peer-key-file arguments are set as appropriate", (f) =>
    allSet(f, "--peer-cert-file", "--peer-key-file"),
  ),
  cis("2.5", "Ensure that the --peer-client-cert-auth argument is set to true", (f) =>
    isTrue(f, "--peer-client-cert-auth"),
  ),
  cis("2.6", "Ensure that the --peer-auto-tls argument is not set to true", (f) =>
    notTrue(f, "--peer-auto-tls"),
  ),
  // Manual in CIS: kube-bench only sees that a CA file is set. That it is an etcd-only CA holds by
  // construction (SecureEtcd issues a dedicated `etcd-ca` and never uses the cluster CA).
  cis(
    "2.7",
    "Ensure that a unique Certificate Authority is used for etcd",
    (f) => allSet(f, "--trusted-ca-file"),
    false,
  ),
];

/**
 * Every etcd check on one static pod manifest, by id. A manifest without an etcd container, or one whose
 * etcd ignores its flags (`--config-file`), fails every check with that reason.
 */
export function checkEtcdManifest(manifestYaml: string): Map<string, Finding> {
  let reasonAll: string | undefined;
  let flags: Flags | undefined;
  try {
    const c = containerOf(manifestYaml, "etcd");
    if (!c) reasonAll = "no container named etcd in the manifest";
    else {
      flags = etcdFlags(c, etcdBooleanFlags);
      reasonAll = flags.ignoredBecause;
    }
  } catch (e) {
    reasonAll = `the manifest is not YAML: ${(e as Error).message}`;
  }
  return new Map(
    etcdChecks.map((c) => [
      c.id,
      reasonAll !== undefined || !flags ? fail(reasonAll ?? "") : c.evaluate(flags),
    ]),
  );
}

/**
 * The failing etcd checks of one manifest as lines (`2.1 --cert-file not set`): a drop-in for the
 * rehearsal drill's former `cisEtcdFailures` (same shape, stricter reading).
 */
export function etcdFailureLines(manifestYaml: string): string[] {
  return [...checkEtcdManifest(manifestYaml)]
    .filter(([, f]) => f.status === "FAIL")
    .map(([id, f]) => `${id} ${f.reason}`);
}
