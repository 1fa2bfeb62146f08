/*
 * Configs that slipped past preview (issue 19): one host written two ways as two members' addresses,
 * a member's names claiming another member's, a replica in the stack's own region. Each class is
 * covered in every spelling, refused at preview with the key, the value and what is allowed — for stack
 * config, for the component's args, and when member ip/dnsNames are Outputs that resolve late.
 */
import { strict as assert } from "node:assert";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { SecureEtcd, type SecureEtcdArgs } from "../components";
import { ConfigError, settingsFromStackConfig } from "../components/config";
import { canonicalIp, hostIdentity, legacyIpv4 } from "../components/config/checks";
import {
  assertConfigProblem,
  assertOutputConfigError,
  assertThrowsConfigError,
  configProblems,
} from "./support/configErrors";
import { RecordingMocks, valueOf } from "./support/recordingMocks";
import { toPulumiConfig } from "./support/stackFiles";

const good: Record<string, unknown> = {
  "aws:region": "eu-west-1",
  "secure-etcd:clusterName": "payments",
  "secure-etcd:etcdVersion": "3.5.16",
  "secure-etcd:members": [
    { name: "cp-1", ip: "10.0.1.10", dnsNames: ["cp-1.etcd.internal"] },
    { name: "cp-2", ip: "10.0.2.10", dnsNames: ["cp-2.etcd.internal"] },
    { name: "cp-3", ip: "fd00::30", dnsNames: ["cp-3.etcd.internal"] },
  ],
};
const load = (o: Record<string, unknown>) =>
  settingsFromStackConfig(toPulumiConfig({ ...good, ...o }), "dev");
/** The stack's members with member 1 (cp-2) changed. */
const second = (m: Record<string, unknown>) => ({
  "secure-etcd:members": [
    (good["secure-etcd:members"] as unknown[])[0],
    { name: "cp-2", ip: "10.0.2.10", ...m },
    (good["secure-etcd:members"] as unknown[])[2],
  ],
});
const m1 = "secure-etcd:members[1]";

describe("one host written two ways, as two members' addresses", () => {
  const aliases: [string, string, RegExp][] = [
    [
      "IPv4-mapped IPv6",
      "::ffff:10.0.1.10",
      /IPv4 address 10\.0\.1\.10 written as an IPv4-mapped IPv6 address/,
    ],
    ["IPv4-mapped IPv6 in hex", "::ffff:a00:10a", /IPv4 address 10\.0\.1\.10 written as an IPv4-mapped/],
    ["IPv4-mapped, expanded and upper case", "0:0:0:0:0:FFFF:0A00:010A", /IPv4-mapped/],
    [
      "IPv4 with a leading zero",
      "10.0.1.010",
      /is 10\.0\.1\.8 written with leading zeros \(octal to the C library\)/,
    ],
    ["IPv4 in three parts", "10.0.266", /is 10\.0\.1\.10 written in 3 parts instead of 4/],
    ["IPv4 as one number", "167772426", /is 10\.0\.1\.10 written as a single number/],
    ["IPv4 in hexadecimal", "0x0a.0.1.0x0a", /is 10\.0\.1\.10 written in hexadecimal/],
    ["IPv4-compatible IPv6", "::10.0.1.10", /IPv4-compatible IPv6 address \(deprecated/],
  ];
  for (const [what, ip, message] of aliases)
    it(`${what} (${ip}) of members[0]'s 10.0.1.10 is refused at members[1].ip`, () => {
      const problems = configProblems(() => load(second({ ip })));
      const p = problems.find((x) => x.path === `${m1}.ip`);
      assert.ok(p, problems.map((x) => `${x.path}: ${x.message}`).join("\n"));
      assert.match(p.message, message);
      assert.ok(p.message.includes(JSON.stringify(ip)), "names the value");
    });

  const ipv6: [string, string][] = [
    ["expanded", "fd00:0:0:0:0:0:0:30"],
    ["upper case", "FD00::30"],
    ["leading zeros in groups", "fd00:0000::0030"],
    ["mixed case and zeros", "Fd00:0::0:030"],
  ];
  for (const [what, ip] of ipv6)
    it(`IPv6 ${what} (${ip}) and members[2]'s fd00::30 are one address: refused, the alias named`, () => {
      assertThrowsConfigError(() => load(second({ ip })), {
        path: "secure-etcd:members[2].ip",
        message: [
          new RegExp(
            `"fd00::30" duplicates members\\[1\\]\\.ip \\("${ip}": the same address written another way\\)`,
          ),
          /each member needs its own address/,
        ],
      });
    });

  it("the canonical forms agree with each other", () => {
    assert.equal(canonicalIp("::FFFF:A00:10A"), "10.0.1.10");
    assert.equal(canonicalIp("FD00:0::0030"), "fd00::30");
    assert.equal(hostIdentity("0x0a.0.1.10"), hostIdentity("10.0.1.10"));
    assert.equal(hostIdentity("::ffff:10.0.1.10"), "ip:10.0.1.10");
    assert.deepEqual(legacyIpv4("10.1"), { address: "10.0.0.1", notation: "in 2 parts instead of 4" });
    assert.equal(legacyIpv4("256.1.1.1"), undefined, "out of range is not an address at all");
    assert.equal(legacyIpv4("cp-1"), undefined);
  });

  it("distinct members in their plain spelling still load", () => {
    assert.equal(load({}).members.length, 3);
  });
});

describe("a member's names claiming another member's", () => {
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    [
      "a DNS name that is another member's name",
      { dnsNames: ["cp-1"] },
      `${m1}.dnsNames[0]`,
      /"cp-1" duplicates members\[0\]\.name; a member's names and addresses may not be another member's: cp-2's certificates would be valid for cp-1/,
    ],
    [
      "a DNS name that is another member's DNS name",
      { dnsNames: ["cp-1.etcd.internal"] },
      `${m1}.dnsNames[0]`,
      /duplicates members\[0\]\.dnsNames\[0\]/,
    ],
    [
      "a DNS name that is another member's address in inet_aton notation",
      { dnsNames: ["10.0.266"] },
      `${m1}.dnsNames[0]`,
      /"10\.0\.266" is read as the address 10\.0\.1\.10 by the C library's resolver/,
    ],
    [
      "a DNS name that is an address as one number",
      { dnsNames: ["167772426"] },
      `${m1}.dnsNames[0]`,
      /read as the address 10\.0\.1\.10/,
    ],
    [
      "a member name that a resolver reads as an address",
      { name: "0x0a000110" },
      `${m1}.name`,
      /"0x0a000110" is read as the address 10\.0\.1\.16 .*a member name needs a letter/,
    ],
    [
      "localhost, which every member's server certificate carries",
      { dnsNames: ["localhost"] },
      `${m1}.dnsNames[0]`,
      /"localhost" is on every member's server certificate .* with 3 members it identifies none of them/,
    ],
    [
      "127.0.0.1 as a member's address among several",
      { ip: "127.0.0.1" },
      `${m1}.ip`,
      /"127\.0\.0\.1" is on every member's server certificate/,
    ],
    [
      "::1 as a member's address, expanded",
      { ip: "0:0:0:0:0:0:0:1" },
      `${m1}.ip`,
      /is on every member's server certificate/,
    ],
  ];
  for (const [what, m, key, message] of cases)
    it(`${what} → ${key}`, () => assertThrowsConfigError(() => load(second(m)), { path: key, message }));

  it("another member's name as this member's name is refused (names must be unique)", () => {
    const members = (good["secure-etcd:members"] as Record<string, unknown>[]).map((m) => ({ ...m }));
    members[2] = { ...members[2], name: "cp-1", dnsNames: [] };
    assertThrowsConfigError(() => load({ "secure-etcd:members": members }), {
      path: "secure-etcd:members[2].name",
      message: /"cp-1" duplicates members\[0\]\.name; names must be unique/,
    });
    // A name that is another member's DNS name (a DNS label can be one).
    members[2] = { name: "cp-1", ip: "fd00::30", dnsNames: [] };
    members[0] = { ...members[0], name: "cp-0", dnsNames: ["cp-1"] };
    assertThrowsConfigError(() => load({ "secure-etcd:members": members }), {
      path: "secure-etcd:members[2].name",
      message:
        /"cp-1" duplicates members\[0\]\.dnsNames\[0\]; a member's names and addresses may not be another member's: cp-1's certificates would be valid for cp-0/,
    });
  });

  it("a member may carry its own name as a DNS name, and one member may use localhost", () => {
    assert.ok(load(second({ dnsNames: ["cp-2", "cp-2.etcd.internal"] })));
    assert.ok(
      settingsFromStackConfig(
        toPulumiConfig({
          ...good,
          "secure-etcd:members": [{ name: "solo", ip: "127.0.0.1", dnsNames: ["localhost"] }],
        }),
        "dev",
      ),
    );
  });
});

describe("anything that replicates onto itself", () => {
  it("backup.replicaRegion equal to the stack's aws:region is refused, naming both", () => {
    assertThrowsConfigError(() => load({ "secure-etcd:backup": { replicaRegion: "eu-west-1" } }), {
      path: "secure-etcd:backup.replicaRegion",
      message:
        /"eu-west-1" is the stack's own region \(aws:region is "eu-west-1"\): snapshots would replicate onto themselves .* name another region \(e\.g\. eu-central-1\) or leave replicaRegion out/,
    });
  });

  it("secretStore.replicaRegion equal to the stack's aws:region is refused", () => {
    assertThrowsConfigError(() => load({ "secure-etcd:secretStore": { replicaRegion: "eu-west-1" } }), {
      path: "secure-etcd:secretStore.replicaRegion",
      message: /is the stack's own region .* the secrets would replicate onto themselves/,
    });
  });

  it("both at once are both named; another region, or no aws:region, loads", () => {
    const problems = configProblems(() =>
      load({
        "secure-etcd:backup": { replicaRegion: "eu-west-1" },
        "secure-etcd:secretStore": { replicaRegion: "eu-west-1" },
      }),
    );
    assert.deepEqual(
      problems.map((p) => p.path),
      ["secure-etcd:backup.replicaRegion", "secure-etcd:secretStore.replicaRegion"],
    );
    assert.ok(load({ "secure-etcd:backup": { replicaRegion: "eu-central-1" } }));
    assert.ok(
      settingsFromStackConfig(
        toPulumiConfig({
          ...good,
          "aws:region": undefined,
          "secure-etcd:backup": { replicaRegion: "eu-west-1" },
        }),
        "dev",
      ),
    );
    assert.ok(
      load({ "secure-etcd:backup": { enabled: false, replicaRegion: "eu-west-1" } }),
      "no backup, no replica",
    );
  });

  it("the snapshot bucket as its own access-log target is refused", () => {
    assertThrowsConfigError(
      () =>
        load({ "secure-etcd:backup": { bucketName: "snaps-x", accessLogging: { targetBucket: "snaps-x" } } }),
      { path: "secure-etcd:backup.accessLogging.targetBucket", message: /snapshot bucket itself/ },
    );
  });

  it("a ConfigError is a pulumi.RunError: preview prints the message, not a stack trace", () => {
    let err: unknown;
    try {
      load(second({ dnsNames: ["cp-1"] }));
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof ConfigError);
    assert.ok(pulumi.RunError.isInstance(err));
  });
});

describe("the same checks on the component, with member Inputs resolving late (mocks)", () => {
  /** An Output that resolves only later, as another resource's attribute does. */
  const later = <T>(v: T): pulumi.Output<T> =>
    pulumi.output(new Promise<T>((resolve) => setTimeout(() => resolve(v), 5))) as pulumi.Output<T>;
  const base = (members: SecureEtcdArgs["members"], o: Partial<SecureEtcdArgs> = {}): SecureEtcdArgs => ({
    clusterName: "payments",
    environment: "dev",
    etcdVersion: "3.5.16",
    members,
    backup: { enabled: false },
    ...o,
  });
  beforeEach(async () => {
    await pulumi.runtime.setMocks(new RecordingMocks(), "secure-etcd", "dev", false);
  });
  afterEach(() => pulumi.runtime.setConfig("aws:region", ""));

  it("an Output ip that is another member's address in IPv4-mapped form rejects at members[1].ip", async () => {
    const etcd = new SecureEtcd(
      "payments",
      base([
        { name: "cp-1", ip: "10.0.1.10" },
        { name: "cp-2", ip: later("::ffff:10.0.1.10") },
        { name: "cp-3", ip: "10.0.3.10" },
      ]),
    );
    await assertOutputConfigError(etcd.settings, { path: "members[1].ip", message: /IPv4-mapped/ });
    await assertOutputConfigError(etcd.etcdManifests["cp-1"], { path: "members[1].ip" });
  });

  it("an Output ip in IPv6 upper case that duplicates another member's rejects", async () => {
    const etcd = new SecureEtcd(
      "payments",
      base([
        { name: "cp-1", ip: later("fd00::10") },
        { name: "cp-2", ip: later("FD00:0::0010") },
        { name: "cp-3", ip: "10.0.3.10" },
      ]),
    );
    await assertOutputConfigError(etcd.etcdEndpoints, {
      path: "members[1].ip",
      message: /duplicates members\[0\]\.ip \("fd00::10": the same address written another way\)/,
    });
  });

  it("Output dnsNames that claim another member's name reject at members[1].dnsNames[0]", async () => {
    const etcd = new SecureEtcd(
      "payments",
      base([
        { name: "cp-1", ip: "10.0.1.10" },
        { name: "cp-2", ip: "10.0.2.10", dnsNames: later(["cp-1"]) },
        { name: "cp-3", ip: "10.0.3.10" },
      ]),
    );
    await assertOutputConfigError(etcd.settings, {
      path: "members[1].dnsNames[0]",
      message: /"cp-1" duplicates members\[0\]\.name/,
    });
  });

  it("a plain DNS name that is an Output ip of another member, in inet_aton form, rejects once it resolves", async () => {
    const etcd = new SecureEtcd(
      "payments",
      base([
        { name: "cp-1", ip: later("10.0.1.10") },
        { name: "cp-2", ip: "10.0.2.10", dnsNames: [later("cp-2.x")] },
        { name: "cp-3", ip: "10.0.3.10", dnsNames: ["cp-3.x"] },
      ]),
    );
    assert.ok(await valueOf(etcd.settings), "distinct: resolves");
    assertThrowsConfigError(
      () =>
        new SecureEtcd(
          "bad",
          base([
            { name: "cp-1", ip: later("10.0.1.10") },
            { name: "cp-2", ip: "10.0.2.10", dnsNames: ["10.0.266"] },
            { name: "cp-3", ip: "10.0.3.10" },
          ]),
        ),
      { path: "members[1].dnsNames[0]", message: /read as the address 10\.0\.1\.10/ },
    );
  });

  it("with the default provider, a replica in its region is refused at construction", () => {
    pulumi.runtime.setConfig("aws:region", "eu-west-1");
    assertThrowsConfigError(
      () =>
        new SecureEtcd(
          "payments",
          base([{ name: "cp-1", ip: "10.0.1.10" }], { secretStore: { replicaRegion: "eu-west-1" } }),
        ),
      {
        path: "secretStore.replicaRegion",
        message: /the default aws provider's region is "eu-west-1"/,
      },
    );
  });

  it("with an explicit provider, a replica in its region rejects once the provider's region resolves", async () => {
    const provider = new aws.Provider("central", { region: "eu-central-1" });
    const etcd = new SecureEtcd(
      "payments",
      base([{ name: "cp-1", ip: "10.0.1.10" }], { secretStore: { replicaRegion: "eu-central-1" } }),
      { providers: [provider] },
    );
    await assertOutputConfigError(etcd.settings, {
      path: "secretStore.replicaRegion",
      message: /the aws provider's region is "eu-central-1"/,
    });
    const fine = new SecureEtcd(
      "other",
      base([{ name: "cp-1", ip: "10.0.1.10" }], { secretStore: { replicaRegion: "eu-west-1" } }),
      { providers: [provider] },
    );
    assert.ok(await valueOf(fine.settings));
  });

  it("a plain alias is still refused at construction, before any resource", () => {
    let err: unknown;
    {
      try {
        new SecureEtcd(
          "payments",
          base([
            { name: "cp-1", ip: "10.0.1.10" },
            { name: "cp-2", ip: "10.0.1.010" },
            { name: "cp-3", ip: "10.0.3.10" },
          ]),
        );
      } catch (e) {
        err = e;
      }
    }
    assertConfigProblem(err, { path: "members[1].ip", message: /leading zeros/ });
  });
});
