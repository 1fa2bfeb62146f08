import { isIP } from "node:net";
import * as path from "node:path";
import { show } from "./fields";

/*
 * Values that parse but would fail later — in the tls provider, in etcd, in Kubernetes, in S3 — each
 * answered here with why, so the schema refuses them at preview. Every function returns the problem
 * (to follow the value in the message) or undefined.
 */

/** Addresses etcd can listen on, advertise and put in a certificate. */
export function ipProblem(v: string): string | undefined {
  if (v.includes("%"))
    return "has an IPv6 zone id; certificates and etcd URLs carry plain addresses only (e.g. fd00::10)";
  const family = isIP(v);
  if (family === 0) return "is not an IPv4 or IPv6 address (e.g. 10.0.1.10 or fd00::10)";
  const canonical = canonicalIp(v);
  if (canonical === "0.0.0.0" || canonical === "::")
    return "is the unspecified address; etcd must advertise the member's own address";
  if (family === 4 && (Number(canonical.split(".")[0]) >= 224 || canonical === "255.255.255.255"))
    return "is a multicast or broadcast address, not a host";
  if (family === 6 && canonical.startsWith("ff")) return "is an IPv6 multicast address, not a host";
  return undefined;
}

/** One spelling per address (`fd00:0::10` and `fd00::10` are the same member). */
export function canonicalIp(v: string): string {
  return isIP(v) === 6 ? new URL(`http://[${v}]`).hostname.slice(1, -1) : v;
}

/** A DNS SAN that is really an address belongs in `ip`: Go's x509 would match it as a name only. */
export function dnsNameProblem(v: string): string | undefined {
  return isIP(v) !== 0 ? "is an IP address; list addresses as the member's ip, not as a DNS name" : undefined;
}

const component = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const registry = "(?:[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*(?::\\d+)?/)?";
const imageReference = new RegExp(
  `^${registry}${component}(?:/${component})*(?::[\\w][\\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$`,
);

/** An image Kubernetes can pull and that cannot change under the cluster (a tag or a digest, never latest). */
export function imageProblem(v: string): string | undefined {
  if (!imageReference.test(v))
    return "is not an image reference like registry.k8s.io/etcd:3.5.16-0 (lowercase repository, optional tag and @sha256 digest)";
  if (/@sha256:/.test(v)) return undefined;
  const last = v.split("/").pop() ?? "";
  const tag = last.includes(":") ? last.slice(last.lastIndexOf(":") + 1) : "";
  if (tag === "" || tag === "latest")
    return "must be pinned to a version tag or a digest, not latest or untagged";
  return undefined;
}

/**
 * kube-apiserver's own rules for an EncryptionConfiguration resource list (apiserver
 * validation_encryption.go): lowercase, no bare `*`, no resources without REST storage, no
 * `events.k8s.io` or `extensions` group, no `resource.*`, and no overlap with a wildcard in the same list.
 */
export function encryptedResourceProblems(
  resources: readonly string[],
): { index: number; message: string }[] {
  const out: { index: number; message: string }[] = [];
  const parsed = resources.map(parseGroupResource);
  resources.forEach((r, i) => {
    const gr = parsed[i];
    const why =
      r === "*"
        ? "use '*.' for every resource of the core group or '*.*' for all resources"
        : ["apiserveripinfo", "serviceipallocations", "servicenodeportallocations"].includes(r)
          ? "has no REST API, so kube-apiserver cannot encrypt it"
          : gr.group === "events.k8s.io"
            ? "is stored under the 'events' group in etcd; list 'events' instead"
            : gr.group === "extensions"
              ? "names the removed 'extensions' group"
              : gr.group === "*" && gr.resource !== "*"
                ? "encrypting one resource across every group is not supported"
                : undefined;
    if (why) out.push({ index: i, message: `${show(r)} ${why}` });
  });
  const overlapping = parsed.findIndex(
    (a, i) =>
      parsed.length > 1 &&
      ((a.group === "*" && a.resource === "*") ||
        parsed.some((b, j) => j !== i && a.group === b.group && (a.resource === "*" || b.resource === "*"))),
  );
  if (overlapping >= 0)
    out.push({
      index: overlapping,
      message: `${show(resources[overlapping])} overlaps another resource in the list (a wildcard masks the rest; kube-apiserver refuses this)`,
    });
  return out;
}

function parseGroupResource(r: string): { group: string; resource: string } {
  const dot = r.indexOf(".");
  return dot < 0 ? { group: "", resource: r } : { group: r.slice(dot + 1), resource: r.slice(0, dot) };
}

/** Node directories must be distinct and not nested: kubelet reads every file in the manifest dir. */
export function pathOverlapProblems(paths: Record<string, string>): { key: string; message: string }[] {
  const entries = Object.entries(paths);
  const out: { key: string; message: string }[] = [];
  for (const [key, p] of entries) {
    if (p === "/") {
      out.push({ key, message: `${show(p)} is the root directory` });
      continue;
    }
    const clash = entries.find(
      ([other, q]) => other !== key && (q === p || p.startsWith(`${path.posix.join(q, "/")}`)),
    );
    if (clash)
      out.push({
        key,
        message: `${show(p)} ${clash[1] === p ? "is the same directory as" : "lies inside"} paths.${clash[0]} (${show(clash[1])}); each must be its own directory`,
      });
  }
  return out;
}

/** TLS 1.2 suites usable with a certificate key: Go only offers ECDSA suites for ECDSA keys and RSA suites for RSA keys. */
export function cipherSuitesProblem(suites: readonly string[], keyAlgorithm: string): string | undefined {
  const family = keyAlgorithm.startsWith("RSA") ? "RSA" : "ECDSA";
  if (suites.some((s) => s.startsWith(`TLS_ECDHE_${family}_`))) return undefined;
  return `has no TLS_ECDHE_${family}_* suite, so no TLS 1.2 handshake could use the ${keyAlgorithm} certificates; add one`;
}

/** S3's bucket naming rules, plus no dots: a dotted name breaks TLS to virtual-hosted endpoints, and the bucket refuses plain HTTP. */
export function bucketNameProblem(v: string): string | undefined {
  if (!/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(v))
    return "is not an S3 bucket name for this package: 3–63 lowercase letters, digits and hyphens, starting and ending with a letter or digit (no dots: they break TLS to the bucket's virtual-hosted endpoint)";
  const reserved = ["xn--", "sthree-", "amzn-s3-demo-"].find((p) => v.startsWith(p));
  if (reserved) return `starts with ${show(reserved)}, which S3 reserves`;
  const reservedSuffix = ["-s3alias", "--ol-s3", "--x-s3", "--table-s3"].find((s) => v.endsWith(s));
  if (reservedSuffix) return `ends with ${show(reservedSuffix)}, which S3 reserves`;
  return undefined;
}

/** The IRSA issuer the trust policy names must be the one the OIDC provider ARN is for. */
export function oidcProblem(providerArn: string, providerUrl: string): string | undefined {
  const issuer = providerUrl.replace(/^https:\/\//, "").replace(/\/+$/, "");
  if (/^[a-z]+:\/\//i.test(issuer) || issuer === "" || /\s/.test(issuer))
    return `${show(providerUrl)} is not an https issuer URL (e.g. https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE)`;
  if (!providerArn.endsWith(`:oidc-provider/${issuer}`))
    return `${show(providerUrl)} is not the issuer of ${show(providerArn)}; the role could never be assumed`;
  return undefined;
}
