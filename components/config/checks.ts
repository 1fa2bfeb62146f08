import { isIP } from "node:net";
import * as path from "node:path";
import { show } from "./fields";

/*
 * Values that parse but would fail later — in the tls provider, in etcd, in Kubernetes, in S3 — each
 * answered here with why, so the schema refuses them at preview. Every function returns the problem
 * (to follow the value in the message) or undefined.
 */

/** Addresses etcd can listen on, advertise and put in a certificate, in the one spelling each has. */
export function ipProblem(v: string): string | undefined {
  if (v.includes("%"))
    return "has an IPv6 zone id; certificates and etcd URLs carry plain addresses only (e.g. fd00::10)";
  const family = isIP(v);
  if (family === 0) {
    const legacy = legacyIpv4(v);
    return legacy
      ? `is ${legacy.address} written ${legacy.notation}, which parsers read differently; write it in dotted decimal without leading zeros (${legacy.address})`
      : "is not an IPv4 or IPv6 address (e.g. 10.0.1.10 or fd00::10)";
  }
  const canonical = canonicalIp(v);
  if (family === 6 && isIP(canonical) === 4)
    return `is the IPv4 address ${canonical} written as an IPv4-mapped IPv6 address; write it as ${canonical} (one spelling per address)`;
  if (family === 6 && ipv4Compatible(v))
    return "is an IPv4-compatible IPv6 address (deprecated by RFC 4291, read differently by different stacks); write the IPv4 address or a real IPv6 address";
  if (canonical === "0.0.0.0" || canonical === "::")
    return "is the unspecified address; etcd must advertise the member's own address";
  if (isIP(canonical) === 4 && (Number(canonical.split(".")[0]) >= 224 || canonical === "255.255.255.255"))
    return "is a multicast or broadcast address, not a host";
  if (family === 6 && canonical.startsWith("ff")) return "is an IPv6 multicast address, not a host";
  return undefined;
}

/**
 * One spelling per address: IPv6 compressed, lowercase, no leading zeros (`FD00:0::0010` → `fd00::10`),
 * and an IPv4-mapped IPv6 address as the IPv4 address it is (`::ffff:10.0.1.10` → `10.0.1.10`): Go's
 * net.IP treats both spellings as one host.
 */
export function canonicalIp(v: string): string {
  if (isIP(v) !== 6) return v;
  const b = ipv6Bytes(v);
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff)
    return [...b.subarray(12)].join(".");
  return new URL(`http://[${v}]`).hostname.slice(1, -1);
}

function ipv6Bytes(v: string): Buffer {
  const groups = new URL(`http://[${v}]`).hostname.slice(1, -1);
  const [head, tail] = groups.includes("::") ? groups.split("::") : [groups, undefined];
  const parse = (s: string | undefined) => (s ? s.split(":").map((g) => parseInt(g, 16)) : []);
  const h = parse(head);
  const t = parse(tail);
  const all = tail === undefined ? h : [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** `::a.b.c.d` (the first 96 bits zero), other than `::` and `::1`. */
function ipv4Compatible(v: string): boolean {
  const b = ipv6Bytes(v);
  return b.subarray(0, 12).every((x) => x === 0) && b.readUInt32BE(12) > 1;
}

/**
 * An address as the C library's inet_aton (and so getaddrinfo, curl, ping) reads it, in the forms
 * Node and Go refuse: fewer than four parts (`10.1`), one number (`167772161`), hex (`0x0a.0.0.1`) and
 * octal or leading zeros (`010.0.0.1` is 8.0.0.1 there, 10.0.0.1 elsewhere).
 */
export function legacyIpv4(v: string): { address: string; notation: string } | undefined {
  const parts = v.split(".");
  if (parts.length > 4 || parts.some((p) => !/^(0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*)$/.test(p)))
    return undefined;
  const values = parts.map((p) =>
    /^0[xX]/.test(p)
      ? parseInt(p.slice(2) || "0", 16)
      : p.length > 1 && p.startsWith("0")
        ? parseInt(p, 8)
        : Number(p),
  );
  const lastBits = 8 * (5 - parts.length);
  if (values.slice(0, -1).some((x) => x > 255) || values[values.length - 1] >= 2 ** lastBits)
    return undefined;
  let n = values[values.length - 1];
  values.slice(0, -1).forEach((x, i) => (n += x * 2 ** (8 * (3 - i))));
  const address = [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
  const notation =
    parts.length === 1
      ? "as a single number"
      : parts.some((p) => /^0[xX]/.test(p))
        ? "in hexadecimal"
        : parts.some((p) => p.length > 1 && p.startsWith("0"))
          ? "with leading zeros (octal to the C library)"
          : `in ${parts.length} parts instead of 4`;
  return { address, notation };
}

/** A DNS SAN that is really an address belongs in `ip`: Go's x509 would match it as a name only. */
export function dnsNameProblem(v: string): string | undefined {
  if (isIP(v) !== 0) return "is an IP address; list addresses as the member's ip, not as a DNS name";
  const legacy = legacyIpv4(v);
  return legacy
    ? `is read as the address ${legacy.address} by the C library's resolver (written ${legacy.notation}); list addresses as the member's ip, not as a DNS name`
    : undefined;
}

/** A member name is its certs' CN and a DNS SAN: one a resolver reads as an address is refused too. */
export function memberNameProblem(v: string): string | undefined {
  const legacy = legacyIpv4(v);
  return legacy
    ? `is read as the address ${legacy.address} by the C library's resolver (written ${legacy.notation}); a member name needs a letter (e.g. cp-1)`
    : undefined;
}

/** Names and addresses every member's server certificate carries besides its own. */
const everyServerCert = ["localhost", "127.0.0.1", "::1"];

/** What a name or address identifies, whatever its spelling: `ip:10.0.1.10`, `dns:cp-1.etcd.internal`. */
export function hostIdentity(v: string): string {
  if (isIP(v) !== 0) return `ip:${canonicalIp(v)}`;
  const legacy = legacyIpv4(v);
  return legacy ? `ip:${legacy.address}` : `dns:${v.toLowerCase().replace(/\.$/, "")}`;
}

export interface MemberIdentities {
  name: string;
  ip: string;
  dnsNames: readonly string[];
}

/**
 * Every name and address a member's certificates are valid for must be that member's alone: across
 * members no name, DNS name or address (in any spelling) may be another member's, or one member's
 * certificates would be valid for the other (a peer could impersonate it). With several members the
 * names every server certificate carries (localhost, 127.0.0.1, ::1) name none of them.
 */
export function memberIdentityProblems(
  members: readonly MemberIdentities[],
): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const seen = new Map<string, { member: number; field: string; value: string }>();
  const shared = new Set(everyServerCert.map(hostIdentity));
  members.forEach((m, i) => {
    const fields: [string, string][] = [
      ["name", m.name],
      ["ip", m.ip],
      ...m.dnsNames.map((d, j): [string, string] => [`dnsNames[${j}]`, d]),
    ];
    for (const [field, value] of fields) {
      const id = hostIdentity(value);
      if (members.length > 1 && shared.has(id)) {
        out.push({
          path: `members[${i}].${field}`,
          message: `${show(value)} is on every member's server certificate (localhost, 127.0.0.1 and ::1 always are), so with ${members.length} members it identifies none of them; use the member's own name or address`,
        });
        continue;
      }
      const first = seen.get(id);
      if (first === undefined) {
        seen.set(id, { member: i, field, value });
        continue;
      }
      if (first.member === i) continue; // the same member may name itself twice (checked elsewhere)
      const other = `members[${first.member}].${first.field}`;
      const spelled =
        first.value === value
          ? ""
          : ` (${show(first.value)}: the same ${id.startsWith("ip:") ? "address" : "name"} written another way)`;
      const why =
        field === "name" && first.field === "name"
          ? "names must be unique"
          : field === "ip" && first.field === "ip"
            ? "each member needs its own address"
            : `a member's names and addresses may not be another member's: ${m.name}'s certificates would be valid for ${members[first.member].name}`;
      out.push({
        path: `members[${i}].${field}`,
        message: `${show(value)} duplicates ${other}${spelled}; ${why}`,
      });
    }
  });
  return out;
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
