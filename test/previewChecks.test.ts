import { strict as assert } from "node:assert";
import { settingsFromStackConfig } from "../components/config";
import { autoNamedResources, resourceNameProblem } from "../components/naming";
import { assertThrowsConfigError } from "./support/configErrors";
import { RecordingMocks } from "./support/recordingMocks";
import { runProgram } from "./support/program";
import { toPulumiConfig } from "./support/stackFiles";

/*
 * Every value that would fail later (tls provider, etcd, Kubernetes, S3, the AWS provider's auto-naming)
 * is refused at preview, naming the key and the value: one case per kind of failure.
 */

const good: Record<string, unknown> = {
  "secure-etcd:clusterName": "payments",
  "secure-etcd:etcdVersion": "3.5.16",
  "secure-etcd:members": [
    { name: "cp-1", ip: "10.0.1.10" },
    { name: "cp-2", ip: "10.0.2.10" },
    { name: "cp-3", ip: "10.0.3.10" },
  ],
};
const members = (m: Record<string, unknown>[]) => ({ "secure-etcd:members": m });
const load = (o: Record<string, unknown>, stack = "dev") =>
  settingsFromStackConfig(toPulumiConfig({ ...good, ...o }), stack);

const problem = (o: Record<string, unknown>, key: string): string =>
  assertThrowsConfigError(() => load(o), { path: key }).message;

const ip = (v: string) => members([{ name: "cp-1", ip: v }]);
const enc = (e: Record<string, unknown>) => ({ "secure-etcd:encryption": e });
const backup = (b: Record<string, unknown>) => ({ "secure-etcd:backup": b });
const m0 = "secure-etcd:members[0]";

const cases: [string, Record<string, unknown>, string, RegExp][] = [
  ["IPv6 with a zone id", ip("fe80::1%eth0"), `${m0}.ip`, /"fe80::1%eth0".*zone id/],
  ["the unspecified address", ip("0.0.0.0"), `${m0}.ip`, /unspecified/],
  ["the IPv6 unspecified address", ip("::"), `${m0}.ip`, /unspecified/],
  ["an IPv4 multicast address", ip("224.0.0.251"), `${m0}.ip`, /multicast/],
  ["an IPv6 multicast address", ip("ff02::1"), `${m0}.ip`, /multicast/],
  [
    "one IPv6 address spelled two ways",
    members([
      { name: "a", ip: "fd00::10" },
      { name: "b", ip: "fd00:0:0::10" },
      { name: "c", ip: "fd00::11" },
    ]),
    "secure-etcd:members[1].ip",
    /duplicates members\[0\]/,
  ],
  [
    "an address as a DNS name",
    members([{ name: "cp-1", ip: "10.0.0.1", dnsNames: ["10.0.0.5"] }]),
    `${m0}.dnsNames[0]`,
    /IP address/,
  ],
  [
    "a DNS name twice",
    members([{ name: "cp-1", ip: "10.0.0.1", dnsNames: ["a.x", "a.x"] }]),
    `${m0}.dnsNames[1]`,
    /twice/,
  ],
  [
    "an untagged etcd image",
    { "secure-etcd:etcdImage": "registry.k8s.io/etcd" },
    "secure-etcd:etcdImage",
    /pinned/,
  ],
  [
    "a latest etcd image",
    { "secure-etcd:etcdImage": "quay.io/coreos/etcd:latest" },
    "secure-etcd:etcdImage",
    /latest/,
  ],
  [
    "an image with capitals",
    { "secure-etcd:etcdImage": "Registry/Etcd:3.5.16" },
    "secure-etcd:etcdImage",
    /image reference/,
  ],
  [
    "an image with a space",
    { "secure-etcd:etcdImage": "etcd 3.5.16" },
    "secure-etcd:etcdImage",
    /image reference/,
  ],
  [
    "a CA validity no certificate can carry",
    { "secure-etcd:caValidityHours": 10_000_000 },
    "secure-etcd:caValidityHours",
    /10000000.*876000/,
  ],
  [
    "a backup CN that is kube-apiserver's",
    { "secure-etcd:backupClientCommonName": "kube-apiserver-etcd-client" },
    "secure-etcd:backupClientCommonName",
    /kube-apiserver's client cert/,
  ],
  [
    "a backup CN that is a member's",
    { "secure-etcd:backupClientCommonName": "cp-2" },
    "secure-etcd:backupClientCommonName",
    /member cp-2/,
  ],
  ["a bare * resource", enc({ resources: ["*"] }), "secure-etcd:encryption.resources[0]", /'\*\.'/],
  [
    "events.k8s.io",
    enc({ resources: ["events.events.k8s.io"] }),
    "secure-etcd:encryption.resources[0]",
    /'events' group/,
  ],
  [
    "the extensions group",
    enc({ resources: ["deployments.extensions"] }),
    "secure-etcd:encryption.resources[0]",
    /extensions/,
  ],
  [
    "a resource without REST storage",
    enc({ resources: ["serviceipallocations"] }),
    "secure-etcd:encryption.resources[0]",
    /no REST API/,
  ],
  [
    "a wildcard masking a resource",
    enc({ resources: ["secrets", "*."] }),
    "secure-etcd:encryption.resources[0]",
    /overlaps/,
  ],
  [
    "*.* with anything else",
    enc({ resources: ["*.*", "secrets"] }),
    "secure-etcd:encryption.resources[0]",
    /overlaps/,
  ],
  [
    "a capitalised resource",
    enc({ resources: ["Secrets"] }),
    "secure-etcd:encryption.resources[0]",
    /"Secrets"/,
  ],
  [
    "a kms timeout of zero",
    enc({
      provider: "kms",
      keys: [{ name: "k", state: "primary", endpoint: "unix:///k.sock", timeout: "0s" }],
    }),
    "secure-etcd:encryption.keys[0].timeout",
    /longer than zero/,
  ],
  [
    "the data dir as manifest dir",
    { "secure-etcd:paths": { dataDir: "/etc/kubernetes/manifests" } },
    "secure-etcd:paths.dataDir",
    /same directory as paths.manifestDir/,
  ],
  [
    "the data dir inside the PKI dir",
    { "secure-etcd:paths": { dataDir: "/etc/kubernetes/pki/etcd-data" } },
    "secure-etcd:paths.dataDir",
    /inside paths.pkiDir/,
  ],
  [
    "the root dir",
    { "secure-etcd:paths": { encryptionConfigDir: "/" } },
    "secure-etcd:paths.encryptionConfigDir",
    /root directory/,
  ],
  [
    "a path with a space",
    { "secure-etcd:paths": { dataDir: "/var/lib/my etcd" } },
    "secure-etcd:paths.dataDir",
    /no spaces/,
  ],
  [
    "cipher suites with TLS 1.3",
    {
      "secure-etcd:etcdVersion": "3.5.21",
      "secure-etcd:tls": { minVersion: "TLS1.3", cipherSuites: ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"] },
    },
    "secure-etcd:tls.cipherSuites",
    /does not apply/,
  ],
  [
    "only RSA suites for ECDSA certs",
    { "secure-etcd:tls": { cipherSuites: ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"] } },
    "secure-etcd:tls.cipherSuites",
    /no TLS_ECDHE_ECDSA_\* suite/,
  ],
  [
    "only ECDSA suites for RSA certs",
    {
      "secure-etcd:keyAlgorithm": "RSA-2048",
      "secure-etcd:tls": { cipherSuites: ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"] },
    },
    "secure-etcd:tls.cipherSuites",
    /no TLS_ECDHE_RSA_\* suite/,
  ],
  [
    "a cipher suite twice",
    {
      "secure-etcd:tls": {
        cipherSuites: ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
      },
    },
    "secure-etcd:tls.cipherSuites[1]",
    /twice/,
  ],
  [
    "a dotted bucket name",
    backup({ bucketName: "etcd.snapshots.example" }),
    "secure-etcd:backup.bucketName",
    /no dots/,
  ],
  [
    "a reserved bucket prefix",
    backup({ bucketName: "xn--etcd-snapshots" }),
    "secure-etcd:backup.bucketName",
    /reserves/,
  ],
  [
    "a reserved bucket suffix",
    backup({ bucketName: "etcd-snapshots--ol-s3" }),
    "secure-etcd:backup.bucketName",
    /reserves/,
  ],
  ["a two-letter bucket", backup({ bucketName: "ab" }), "secure-etcd:backup.bucketName", /3–63/],
  [
    "a bad log bucket",
    backup({ accessLogging: { targetBucket: "Logs" } }),
    "secure-etcd:backup.accessLogging.targetBucket",
    /"Logs"/,
  ],
  [
    "an OIDC issuer that is not the provider's",
    backup({
      oidc: {
        providerArn: "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/AAA",
        providerUrl: "https://oidc.eks.eu-west-1.amazonaws.com/id/BBB",
      },
    }),
    "secure-etcd:backup.oidc.providerUrl",
    /never be assumed/,
  ],
  [
    "an http OIDC issuer",
    backup({ oidc: { providerArn: "arn:aws:iam::123456789012:oidc-provider/x", providerUrl: "http://x" } }),
    "secure-etcd:backup.oidc.providerUrl",
    /https issuer/,
  ],
  [
    "a cluster name too long for the bucket Pulumi names after it",
    { "secure-etcd:clusterName": "a".repeat(39) },
    "secure-etcd:clusterName",
    /at most 38.*snapshot bucket/,
  ],
];

describe("every bad value is stopped at preview, naming the key and the value", () => {
  for (const [title, overrides, key, pattern] of cases)
    it(`${title} → ${key}`, () => assert.match(problem(overrides, key), pattern));

  it("the same settings are fine once the value is right", () => {
    assert.ok(load(ip("fd00::10")));
    assert.ok(load({ "secure-etcd:etcdImage": "registry.k8s.io/etcd:3.5.16-0" }));
    assert.ok(load({ "secure-etcd:etcdImage": `quay.io/coreos/etcd@sha256:${"a".repeat(64)}` }));
    assert.ok(load(enc({ resources: ["secrets", "configmaps", "*.apps"] })));
    assert.ok(load(enc({ resources: ["*.*"] })));
    assert.ok(
      load({
        "secure-etcd:clusterName": "a".repeat(39),
        "secure-etcd:backup": { bucketName: "my-etcd-snapshots" },
        // Roles of your own: the component names no IAM role after the cluster.
        "secure-etcd:secretStore": { nodeRoles: { "cp-1": "r1", "cp-2": "r2", "cp-3": "r3" } },
      }),
    );
    assert.ok(load({ "secure-etcd:clusterName": "a".repeat(38) }));
  });

  it("an aesgcm primary passes validation but is called out at preview (it fails CIS 1.2.28)", () => {
    const s = load(enc({ provider: "aesgcm", keys: [{ name: "k1", state: "primary" }] }));
    assert.ok(
      s.warnings.some((w) => /aesgcm.*FAILS CIS 1\.2\.28/.test(w)),
      s.warnings.join("\n"),
    );
    assert.deepEqual(load({}).warnings, [], "secretbox draws no warning");
  });
});

describe("auto-named physical names fit AWS's limits", () => {
  it("the budget table matches the names the program registers, at the longest allowed name", async () => {
    const full = {
      ...good,
      "secure-etcd:environment": "prod",
      "secure-etcd:backup": {
        replicaRegion: "eu-central-1",
        oidc: {
          providerArn: "arn:aws:iam::123456789012:oidc-provider/oidc.example.com/id/X",
          providerUrl: "https://oidc.example.com/id/X",
        },
      },
    };
    const config = toPulumiConfig(full);
    const s = settingsFromStackConfig(config, "prod");
    const longest = Math.min(
      ...autoNamedResources.flatMap((r) => r.suffixes(s).map((suffix) => r.max - suffix.length - 8)),
    );
    const name = "c".repeat(longest);
    assert.equal(resourceNameProblem(name, s), undefined);
    assert.match(resourceNameProblem(`${name}c`, s) ?? "", new RegExp(`at most ${longest}`));
    config["secure-etcd:clusterName"] = name;
    const { mocks } = await runProgram("prod", new RecordingMocks(), config);
    const limits: Record<string, number> = {
      "aws:s3/bucket:Bucket": 63,
      "aws:iam/role:Role": 64,
      "aws:iam/instanceProfile:InstanceProfile": 128,
    };
    const autoNamed = mocks.resources.filter(
      (r) => limits[r.type] !== undefined && r.inputs.bucket === undefined && r.inputs.name === undefined,
    );
    assert.ok(
      autoNamed.length >= 4,
      `buckets and roles registered: ${autoNamed.map((r) => r.name).join(", ")}`,
    );
    for (const r of autoNamed) {
      assert.ok(
        r.name.length + 8 <= limits[r.type],
        `${r.name} + 7 random characters exceeds ${limits[r.type]}`,
      );
      assert.ok(
        autoNamedResources.some((t) => t.suffixes(s).some((suffix) => r.name === `${name}${suffix}`)),
        `${r.name} is auto-named but missing from the budget table in components/naming.ts`,
      );
    }
  });
});
