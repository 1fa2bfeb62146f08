import { strict as assert } from "node:assert";
import { parse } from "yaml";
import { validateSettings, type SecureEtcdSettings } from "../components/config";
import {
  forbiddenFlags,
  renderApiserverEtcdFlags,
  renderClusterConfiguration,
  renderEtcdFlags,
  renderEtcdManifest,
  renderKubeadmPatches,
  renderKubeApiserverPatch,
  requiredTlsFlags,
} from "../components/manifests";

function settings(overrides: Record<string, unknown> = {}): SecureEtcdSettings {
  return validateSettings(
    {
      clusterName: "payments",
      environment: "prod",
      etcdVersion: "3.5.16",
      members: [
        { name: "cp-1", ip: "10.0.1.10", dnsNames: ["cp-1.internal"] },
        { name: "cp-2", ip: "10.0.2.10" },
        { name: "cp-3", ip: "fd00::3" },
      ],
      ...overrides,
    },
    "",
    "test",
  );
}

const flagMap = (flags: string[]) =>
  new Map(flags.map((f) => [f.split("=")[0], f.includes("=") ? f.slice(f.indexOf("=") + 1) : ""]));

describe("etcd manifest", () => {
  const s = settings();
  const flags = flagMap(renderEtcdFlags(s, s.members[0]));

  it("sets every CIS 2.1–2.7 TLS flag, with the auth flags true", () => {
    for (const f of requiredTlsFlags) assert.ok(flags.get(f), `${f} missing`);
    assert.equal(flags.get("--client-cert-auth"), "true");
    assert.equal(flags.get("--peer-client-cert-auth"), "true");
    assert.equal(flags.get("--trusted-ca-file"), "/etc/kubernetes/pki/etcd/ca.crt");
    assert.equal(flags.get("--peer-trusted-ca-file"), "/etc/kubernetes/pki/etcd/ca.crt");
    assert.equal(flags.get("--cert-file"), "/etc/kubernetes/pki/etcd/server.crt");
    assert.equal(flags.get("--peer-key-file"), "/etc/kubernetes/pki/etcd/peer.key");
  });

  it("never renders auto-tls (CIS 2.3, 2.6)", () => {
    for (const stack of [settings(), settings({ etcdVersion: "3.4.23" }), settings({ etcdVersion: "3.6.4" })])
      for (const m of stack.members)
        for (const f of forbiddenFlags) assert.ok(!renderEtcdManifest(stack, m).includes(f));
  });

  it("listens and advertises https only; metrics on loopback http", () => {
    for (const k of [
      "--advertise-client-urls",
      "--listen-client-urls",
      "--listen-peer-urls",
      "--initial-advertise-peer-urls",
    ])
      for (const url of flags.get(k)!.split(",")) assert.match(url, /^https:\/\//, k);
    assert.equal(flags.get("--listen-metrics-urls"), "http://127.0.0.1:2381");
    assert.equal(flags.get("--advertise-client-urls"), "https://10.0.1.10:2379");
  });

  it("names every member in --initial-cluster, brackets IPv6", () => {
    assert.equal(
      flags.get("--initial-cluster"),
      "cp-1=https://10.0.1.10:2380,cp-2=https://10.0.2.10:2380,cp-3=https://[fd00::3]:2380",
    );
    assert.equal(flags.get("--initial-cluster-token"), "payments-prod-etcd");
  });

  it("version gates: 3.4 gets cipher suites but no --tls-min-version", () => {
    const f = flagMap(renderEtcdFlags(settings({ etcdVersion: "3.4.23" }), s.members[0]));
    assert.ok(f.get("--cipher-suites")!.includes("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"));
    assert.ok(!f.has("--tls-min-version"));
  });

  it("version gates: 3.5.8+ gets --tls-min-version; 3.5.7 does not", () => {
    assert.equal(
      flagMap(renderEtcdFlags(settings({ etcdVersion: "3.5.8" }), s.members[0])).get("--tls-min-version"),
      "TLS1.2",
    );
    assert.ok(
      !flagMap(renderEtcdFlags(settings({ etcdVersion: "3.5.7" }), s.members[0])).has("--tls-min-version"),
    );
  });

  it("TLS1.3 renders the minimum alone (Go rejects cipher suites with TLS 1.3 only)", () => {
    const f = flagMap(renderEtcdFlags(settings({ tls: { minVersion: "TLS1.3" } }), s.members[0]));
    assert.equal(f.get("--tls-min-version"), "TLS1.3");
    assert.ok(!f.has("--cipher-suites"));
  });

  it("cipher suites are ECDHE + AEAD only", () => {
    for (const suite of flags.get("--cipher-suites")!.split(","))
      assert.match(suite, /^TLS_ECDHE_(ECDSA|RSA)_WITH_(AES_(128|256)_GCM|CHACHA20_POLY1305)_SHA(256|384)$/);
  });

  it("is a complete static pod with kubeadm-like probes and mounts", () => {
    const pod = parse(renderEtcdManifest(s, s.members[1]));
    assert.equal(pod.kind, "Pod");
    assert.equal(pod.metadata.namespace, "kube-system");
    assert.equal(pod.spec.hostNetwork, true);
    const c = pod.spec.containers[0];
    assert.equal(c.image, "registry.k8s.io/etcd:3.5.16-0");
    assert.equal(c.command[0], "etcd");
    assert.ok(c.command.includes("--name=cp-2"));
    assert.equal(c.livenessProbe.httpGet.port, 2381);
    // 3.5.16 serves /livez and /readyz (3.5.11+): kubeadm's probes; test/etcdVersions.test.ts has the rest.
    assert.equal(c.livenessProbe.httpGet.path, "/livez");
    assert.equal(c.readinessProbe.httpGet.path, "/readyz");
    assert.deepEqual(c.volumeMounts.map((v: { mountPath: string }) => v.mountPath).sort(), [
      "/etc/kubernetes/pki/etcd",
      "/var/lib/etcd",
    ]);
    assert.equal(c.volumeMounts.find((v: { name: string }) => v.name === "etcd-certs").readOnly, true);
    assert.deepEqual(pod.spec.volumes.map((v: { hostPath: { path: string } }) => v.hostPath.path).sort(), [
      "/etc/kubernetes/pki/etcd",
      "/var/lib/etcd",
    ]);
  });

  it("follows custom host paths everywhere", () => {
    const custom = settings({ paths: { pkiDir: "/srv/pki", dataDir: "/data/etcd" } });
    const yaml = renderEtcdManifest(custom, custom.members[0]);
    assert.ok(yaml.includes("--cert-file=/srv/pki/etcd/server.crt"));
    assert.ok(yaml.includes("--data-dir=/data/etcd"));
    assert.ok(!yaml.includes("/etc/kubernetes/pki"));
  });
});

describe("kube-apiserver patch", () => {
  const s = settings({ encryption: { automaticReload: true } });
  const flags = flagMap(renderApiserverEtcdFlags(s));

  it("has the etcd client flags (CIS 1.2.23, 1.2.26) and the encryption config (1.2.27)", () => {
    assert.equal(
      flags.get("--etcd-servers"),
      "https://10.0.1.10:2379,https://10.0.2.10:2379,https://[fd00::3]:2379",
    );
    assert.equal(flags.get("--etcd-cafile"), "/etc/kubernetes/pki/etcd/ca.crt");
    assert.equal(flags.get("--etcd-certfile"), "/etc/kubernetes/pki/apiserver-etcd-client.crt");
    assert.equal(flags.get("--etcd-keyfile"), "/etc/kubernetes/pki/apiserver-etcd-client.key");
    assert.equal(flags.get("--encryption-provider-config"), "/etc/kubernetes/enc/encryption-config.yaml");
    assert.equal(flags.get("--encryption-provider-config-automatic-reload"), "true");
  });

  it("is an RFC 6902 patch adding the flags, a volume and a read-only mount", () => {
    const ops = parse(renderKubeApiserverPatch(s)) as { op: string; path: string; value: never }[];
    assert.ok(ops.every((o) => o.op === "add"));
    const added = ops.filter((o) => o.path === "/spec/containers/0/command/-").map((o) => o.value);
    assert.deepEqual(added, renderApiserverEtcdFlags(s));
    const mount = ops.find((o) => o.path === "/spec/containers/0/volumeMounts/-")!.value as {
      mountPath: string;
      readOnly: boolean;
    };
    assert.deepEqual([mount.mountPath, mount.readOnly], ["/etc/kubernetes/enc", true]);
    assert.ok(ops.some((o) => o.path === "/spec/volumes/-"));
  });

  it("encryption settings never land in the etcd manifest (etcd does not encrypt its disk)", () => {
    for (const m of s.members) assert.ok(!renderEtcdManifest(s, m).includes("encryption-provider-config"));
  });
});

describe("kubeadm", () => {
  const s = settings({ etcdVersion: "3.5.21" });

  it("ClusterConfiguration points kubeadm at our certs dir, image and SANs", () => {
    const doc = parse(renderClusterConfiguration(s));
    assert.equal(doc.apiVersion, "kubeadm.k8s.io/v1beta4");
    assert.equal(doc.certificatesDir, "/etc/kubernetes/pki");
    assert.equal(doc.etcd.local.imageRepository, "registry.k8s.io");
    assert.equal(doc.etcd.local.imageTag, "3.5.21-0");
    assert.ok(doc.etcd.local.serverCertSANs.includes("fd00::3"));
    assert.ok(doc.etcd.local.peerCertSANs.includes("cp-1.internal"));
  });

  it("--patches files are named <target>+json.yaml and add only flags kubeadm does not set", () => {
    const files = renderKubeadmPatches(s);
    assert.deepEqual(Object.keys(files).sort(), ["etcd+json.yaml", "kube-apiserver+json.yaml"]);
    const etcdFlags = (parse(files["etcd+json.yaml"]) as { value: string }[]).map(
      (o) => o.value.split("=")[0],
    );
    assert.deepEqual(etcdFlags.sort(), ["--cipher-suites", "--tls-min-version"]);
    const apiFlags = (parse(files["kube-apiserver+json.yaml"]) as { path: string; value: string }[])
      .filter((o) => o.path.endsWith("command/-"))
      .map((o) => o.value.split("=")[0]);
    assert.deepEqual(apiFlags, ["--encryption-provider-config"]);
  });

  it("etcd 3.4 patch adds only cipher suites", () => {
    const files = renderKubeadmPatches(settings({ etcdVersion: "3.4.23" }));
    assert.deepEqual(
      (parse(files["etcd+json.yaml"]) as { value: string }[]).map((o) => o.value.split("=")[0]),
      ["--cipher-suites"],
    );
  });
});
