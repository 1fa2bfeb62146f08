import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { SecureEtcd, type SecureEtcdArgs } from "../components";
import { assertConfigProblem, assertThrowsConfigError } from "./support/configErrors";
import { RecordingMocks, valueOf } from "./support/recordingMocks";

/*
 * Member addresses and DNS names as Inputs (e.g. an ENI's privateIp): validated by the same schema when
 * they resolve, carried into the cert requests and the rendered flags, key material still secret; plain
 * values are still refused at construction.
 */

/** An Output that resolves only later, as another resource's attribute does. */
const later = <T>(v: T): pulumi.Output<T> =>
  pulumi.output(new Promise<T>((resolve) => setTimeout(() => resolve(v), 5))) as pulumi.Output<T>;

/** A mock input as sent: a secret arrives wrapped (`{ <sig>: …, value }`). */
const sent = (v: unknown): unknown =>
  v !== null && typeof v === "object" && !Array.isArray(v) && "value" in v
    ? (v as { value: unknown }).value
    : v;

const base = (members: SecureEtcdArgs["members"]): SecureEtcdArgs => ({
  clusterName: "payments",
  environment: "dev",
  etcdVersion: "3.5.16",
  members,
  backup: { enabled: false },
});

describe("SecureEtcd with member ip / dnsNames as pulumi.Inputs (mocks)", () => {
  let mocks: RecordingMocks;
  beforeEach(async () => {
    mocks = new RecordingMocks();
    await pulumi.runtime.setMocks(mocks, "secure-etcd", "dev", false);
  });

  it("a good Output ip lands in the cert requests' ipAddresses and the rendered manifest flags", async () => {
    const etcd = new SecureEtcd(
      "payments",
      base([
        { name: "cp-1", ip: "10.0.1.10" },
        { name: "cp-2", ip: later("10.0.2.10"), dnsNames: later(["cp-2.etcd.internal"]) },
        { name: "cp-3", ip: pulumi.secret("10.0.3.10") },
      ]),
    );
    const manifest = await valueOf(etcd.etcdManifests["cp-2"]);
    assert.match(manifest, /--advertise-client-urls=https:\/\/10\.0\.2\.10:2379/);
    assert.match(manifest, /--initial-advertise-peer-urls=https:\/\/10\.0\.2\.10:2380/);
    assert.match(manifest, /cp-3=https:\/\/10\.0\.3\.10:2380/, "the initial cluster names every address");
    assert.deepEqual(await valueOf(etcd.etcdEndpoints), [
      "https://10.0.1.10:2379",
      "https://10.0.2.10:2379",
      "https://10.0.3.10:2379",
    ]);
    assert.ok((await valueOf(etcd.apiserverFlags)).some((f) => f.includes("https://10.0.2.10:2379")));

    await valueOf(etcd.member("cp-2").serverCertPem);
    await valueOf(etcd.member("cp-3").peerCertPem);
    // cp-3's address is a secret, so the resolved settings (and every SAN list) are too.
    const server = mocks.named("payments-server-cp-2-csr").inputs;
    assert.deepEqual(sent(server.ipAddresses), ["10.0.2.10", "127.0.0.1", "::1"]);
    assert.deepEqual(sent(server.dnsNames), ["cp-2", "cp-2.etcd.internal", "localhost"]);
    assert.deepEqual(sent(mocks.named("payments-peer-cp-2-csr").inputs.ipAddresses), ["10.0.2.10"]);
    assert.deepEqual(sent(mocks.named("payments-peer-cp-3-csr").inputs.ipAddresses), ["10.0.3.10"]);
    const settings = await valueOf(etcd.settings);
    assert.equal(settings.members[1].ip, "10.0.2.10");
  });

  it("key material stays secret when addresses are Inputs", async () => {
    const etcd = new SecureEtcd(
      "payments",
      base([
        { name: "cp-1", ip: later("10.0.1.10") },
        { name: "cp-2", ip: later("10.0.2.10") },
        { name: "cp-3", ip: later("10.0.3.10") },
      ]),
    );
    for (const m of etcd.memberNames) {
      assert.ok(await pulumi.isSecret(etcd.member(m).serverKeyPem), `${m} server key`);
      assert.ok(await pulumi.isSecret(etcd.member(m).peerKeyPem), `${m} peer key`);
      assert.ok(await pulumi.isSecret(etcd.nodeBundles[m]), `${m} node bundle`);
    }
    assert.ok(await pulumi.isSecret(etcd.encryptionConfiguration));
    assert.ok(await pulumi.isSecret(etcd.clients["apiserver-etcd-client"].keyPem));
    assert.equal(await pulumi.isSecret(etcd.etcdManifests["cp-1"]), false, "manifests hold no key");
  });

  it("an Output ip that resolves to a bad value rejects with the ConfigError naming members[1].ip", async () => {
    const etcd = new SecureEtcd(
      "payments",
      base([
        { name: "cp-1", ip: "10.0.1.10" },
        { name: "cp-2", ip: later("224.0.0.251") },
        { name: "cp-3", ip: "10.0.3.10" },
      ]),
    );
    const outputs: pulumi.Output<unknown>[] = [etcd.settings, etcd.etcdEndpoints, etcd.etcdManifests["cp-1"]];
    for (const out of outputs) {
      const err = await valueOf(out).then(
        () => assert.fail("a bad resolved ip must reject"),
        (e: unknown) => e,
      );
      assertConfigProblem(err, { path: "members[1].ip", message: /"224.0.0.251".*multicast/ });
    }
  });

  it("Output dnsNames that resolve to an address are refused, naming members[0].dnsNames[1]", async () => {
    const etcd = new SecureEtcd(
      "payments",
      base([{ name: "cp-1", ip: "10.0.1.10", dnsNames: later(["a.x", "10.0.0.5"]) }]),
    );
    const err = await valueOf(etcd.etcdManifests["cp-1"]).then(
      () => assert.fail("must reject"),
      (e: unknown) => e,
    );
    assertConfigProblem(err, { path: "members[0].dnsNames[1]", message: /IP address/ });
  });

  it("resolved values get the cross-field checks too: an Output ip that duplicates a plain one", async () => {
    const etcd = new SecureEtcd(
      "payments",
      base([
        { name: "cp-1", ip: "10.0.1.10" },
        { name: "cp-2", ip: later("10.0.1.10") },
        { name: "cp-3", ip: "10.0.3.10" },
      ]),
    );
    const err = await valueOf(etcd.settings).then(
      () => assert.fail("must reject"),
      (e: unknown) => e,
    );
    assertConfigProblem(err, { path: "members[1].ip", message: /duplicates members\[0\]\.ip/ });
  });

  it("a plain bad value still throws at construction, before any resource", () => {
    assertThrowsConfigError(() => new SecureEtcd("payments", base([{ name: "cp-1", ip: "0.0.0.0" }])), {
      path: "members[0].ip",
      message: /unspecified/,
    });
    assertThrowsConfigError(
      () =>
        new SecureEtcd("payments", base([{ name: "cp-1", ip: later("10.0.1.10"), dnsNames: ["10.0.0.5"] }])),
      { path: "members[0].dnsNames[0]", message: /IP address/ },
    );
    assert.equal(mocks.resources.length, 0, "nothing was registered");
  });
});

describe("SecureEtcd member lookups (typed and checked)", () => {
  before(async () => {
    await pulumi.runtime.setMocks(new RecordingMocks(), "secure-etcd", "dev", false);
  });

  it("member names given as literals type the outputs: an unknown name fails to compile", () => {
    const etcd = new SecureEtcd("payments", base([{ name: "cp-1", ip: "10.0.1.10" }]));
    const typed = new SecureEtcd("typed", {
      ...base([]),
      members: [
        { name: "cp-1", ip: "10.0.1.10" },
        { name: "cp-2", ip: "10.0.2.10" },
        { name: "cp-3", ip: "10.0.3.10" },
      ],
    });
    assert.ok(typed.members["cp-1"].serverCertPem);
    assert.ok(typed.member("cp-3"));
    // @ts-expect-error "cp-9" is not one of the members' names
    assert.equal(typed.members["cp-9"], undefined);
    // @ts-expect-error the lookup takes member names only
    assert.throws(() => typed.member("cp-9"));
    assert.ok(etcd.member("cp-1"));
  });

  it("member(name) with a name known only at run time throws naming the members there are", () => {
    const names: string[] = ["cp-1"];
    const etcd = new SecureEtcd("payments", base(names.map((name) => ({ name, ip: "10.0.1.10" }))));
    assert.throws(
      () => etcd.member("cp-9"),
      (e: Error) => /no member "cp-9"; its members are "cp-1"/.test(e.message),
    );
  });
});
