import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { parse } from "yaml";
import { settingsFromStackConfig } from "../components";
import type { PolicyDocument } from "../components/backup/policies";
import { renderRestorePlan } from "../components/backup/restorePlan";
import { cisReport, kmsPluginFindings } from "../components/cis";
import { envelopeKeyCostOf, envelopeKeyMonthlyCost, prices } from "../components/cost";
import { keyTransitionProblems } from "../components/encryption/transitions";
import { renderKubeApiserverPatch } from "../components/manifests";
import { retainUntil } from "../components/kms/envelopeKeys";
import { refuseUncoveredKmsSockets } from "../components/kms/kmsV2";
import { encryptionContextFlag, envelopeEncryptionContext } from "../components/kms/naming";
import { kmsHealthPorts, kmsPluginPlans } from "../components/kms/plan";
import {
  kmsPluginCommand,
  kmsPluginCommandOf,
  renderKmsPluginManifest,
} from "../components/kms/pluginManifest";
import {
  envelopeKeyGrantPolicy,
  envelopeKeyPolicy,
  envelopeKeyPolicyProblems,
} from "../components/kms/policies";
import {
  envelopeKeyProblems,
  envelopeKeysOfSnapshot,
  snapshotKeyWords,
} from "../components/kms/snapshotKeys";
import {
  apiserverMountedDirsOf,
  kmsProvidersOf,
  kmsSocketProblems,
  renderedKmsPluginOf,
} from "../components/kms/socketCoverage";
import { KMS_ADMIN_ACTIONS } from "../components/secretStore/policies";
import * as pulumi from "@pulumi/pulumi";
import { parseNodeBundle } from "../components/secretStore/bundle";
import { assertThrowsConfigError, configProblems } from "./support/configErrors";
import { pythonVenv } from "../harness/upstream";
import { valueOf } from "./support/recordingMocks";
import { buildSecureEtcd, type Built } from "./support/secureEtcdUnderMocks";
import { readStackConfig, toPulumiConfig } from "./support/stackFiles";

const ACCOUNT = "123456789012";
const ARN = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const ARN2 = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/9999abcd-12ab-34cd-56ef-1234567890ab`;
const socket = "unix:///var/run/kmsplugin/socket.sock";

const prodEncryption = () =>
  (parse(readStackConfig("prod")["secure-etcd:encryption"]) ?? {}) as {
    keys: Record<string, unknown>[];
    [k: string]: unknown;
  };
/** The prod stack's settings with `secure-etcd:` overrides. */
const prod = (overrides: Record<string, unknown> = {}) =>
  settingsFromStackConfig({ ...readStackConfig("prod"), ...toPulumiConfig(overrides) }, "prod");
/** Prod with its encryption keys replaced (other encryption fields kept). */
const prodWithKeys = (keys: Record<string, unknown>[], extra: Record<string, unknown> = {}) =>
  prod({ "secure-etcd:encryption": { ...prodEncryption(), keys, ...extra } });

const kmsKey = (name: string, state: string, more: Record<string, unknown> = {}) => ({
  name,
  state,
  provider: "kms",
  endpoint: `unix:///var/run/kmsplugin/${name}.sock`,
  ...more,
});

describe("KMS v2 settings: what a kms key may be, refused at preview naming the field", () => {
  it("the shipped prod stack is valid: one kms primary on the documented socket, 30-day deletion window, pinned image", () => {
    const s = prod();
    const k = s.encryption.keys.find((x) => x.provider === "kms")!;
    assert.equal(k.endpoint, socket);
    assert.equal(s.encryption.kms.keyDeletionWindowDays, 30);
    assert.match(
      s.encryption.kms.pluginImage,
      /^registry\.k8s\.io\/aws-encryption-provider\/aws-encryption-provider:v\d+\.\d+\.\d+$/,
    );
  });

  it("a kms key name that cannot be a pod name or alias (dots, capitals) is refused", () => {
    for (const name of ["aws.kms", "AwsKms"])
      assertThrowsConfigError(() => prodWithKeys([kmsKey(name, "primary")]), {
        path: "secure-etcd:encryption.keys[0].name",
        message: /static pod .*alias/,
      });
  });

  it("two kms keys on one socket are refused, naming the other key", () => {
    assertThrowsConfigError(
      () =>
        prodWithKeys([
          kmsKey("a", "primary", { endpoint: socket }),
          kmsKey("b", "staged", { endpoint: socket }),
        ]),
      { path: "secure-etcd:encryption.keys[1].endpoint", message: /also kms key "a"'s socket/ },
    );
  });

  it("health ports: a collision, a control-plane port and a non-port are refused; defaults are 8083 + position", () => {
    assertThrowsConfigError(
      () => prodWithKeys([kmsKey("a", "primary"), kmsKey("b", "staged", { healthPort: 8083 })]),
      { path: "secure-etcd:encryption.keys[1].healthPort", message: /also kms key "a"'s health port/ },
    );
    assertThrowsConfigError(() => prodWithKeys([kmsKey("a", "primary", { healthPort: 6443 })]), {
      path: "secure-etcd:encryption.keys[0].healthPort",
      message: /kube-apiserver port/,
    });
    assertThrowsConfigError(() => prodWithKeys([kmsKey("a", "primary", { healthPort: 80 })]), {
      path: "secure-etcd:encryption.keys[0].healthPort",
      message: /from 1024 to 65535/,
    });
    const ports = kmsHealthPorts(
      prodWithKeys([
        kmsKey("old", "archived", { archivedOn: "2026-01-01" }),
        kmsKey("a", "primary"),
        { name: "sb", state: "retired", provider: "secretbox" },
        kmsKey("b", "staged"),
      ]).encryption.keys,
    );
    // The archived key keeps position 0, so archiving it never moves another key's port.
    assert.deepEqual(
      [...ports],
      [
        ["old", 8083],
        ["a", 8084],
        ["b", 8085],
      ],
    );
  });

  it("a socket in a secrets directory, or in /, is refused", () => {
    assertThrowsConfigError(
      () => prodWithKeys([kmsKey("a", "primary", { endpoint: "unix:///etc/kubernetes/pki/kms.sock" })]),
      { path: "secure-etcd:encryption.keys[0].endpoint", message: /overlaps paths\.pkiDir/ },
    );
    assertThrowsConfigError(() => prodWithKeys([kmsKey("a", "primary", { endpoint: "unix:///kms.sock" })]), {
      path: "secure-etcd:encryption.keys[0].endpoint",
      message: /its own directory/,
    });
  });

  it("kms without the secret store (whose node roles the key grants) is refused; healthPort on a secretbox key too", () => {
    assertThrowsConfigError(() => prod({ "secure-etcd:secretStore": { enabled: false } }), {
      path: "secure-etcd:encryption.keys[0].provider",
      message: /kms needs secretStore\.enabled/,
    });
    assertThrowsConfigError(
      () =>
        prodWithKeys([
          kmsKey("a", "primary"),
          { name: "s", state: "retired", provider: "secretbox", healthPort: 9000 },
        ]),
      { path: "secure-etcd:encryption.keys[1]", message: /only apply to kms keys/ },
    );
  });

  it("an unpinned plugin image and a deletion window outside 7–30 days are refused", () => {
    const problems = configProblems(() =>
      prod({
        "secure-etcd:encryption": {
          ...prodEncryption(),
          kms: {
            pluginImage: "registry.k8s.io/aws-encryption-provider/aws-encryption-provider:latest",
            keyDeletionWindowDays: 5,
          },
        },
      }),
    );
    assert.ok(
      problems.some((p) => p.path === "secure-etcd:encryption.kms.pluginImage" && /pinned/.test(p.message)),
    );
    assert.ok(
      problems.some(
        (p) => p.path === "secure-etcd:encryption.kms.keyDeletionWindowDays" && /7 to 30/.test(p.message),
      ),
    );
  });
});

describe("KMS v2 rotation to a new AWS key: the same staged → primary → rewrite → retire checks", () => {
  const rec = (name: string, state: string, provider = "kms", archivedOn?: string) =>
    ({ name, state, provider, ...(archivedOn ? { archivedOn } : {}) }) as Parameters<
      typeof keyTransitionProblems
    >[0][number];

  it("a new kms key made primary without being staged is refused; staged first is fine", () => {
    const before = [rec("kms-a", "primary")];
    const problems = keyTransitionProblems(before, [rec("kms-b", "primary"), rec("kms-a", "retired")], 35);
    assert.deepEqual(
      problems.map((p) => p.key),
      ["kms-b"],
    );
    assert.deepEqual(
      keyTransitionProblems(before, [rec("kms-a", "primary"), rec("kms-b", "staged")], 35),
      [],
    );
  });

  it("a key that changes provider under the same name is refused (its stored prefix names the old provider)", () => {
    const problems = keyTransitionProblems(
      [rec("k1", "primary", "secretbox")],
      [rec("k1", "primary", "kms")],
      35,
    );
    assert.equal(problems.length, 1);
    assert.match(problems[0].message, /changes provider from secretbox to kms/);
  });

  it("during the move both keys get a plugin, on their own sockets and health ports", () => {
    const s = prodWithKeys([kmsKey("kms-a", "retired"), kmsKey("kms-b", "primary")]);
    const plans = kmsPluginPlans(s.encryption.keys);
    assert.deepEqual(
      plans.map((p) => [p.key, p.socketPath, p.healthPort]),
      [
        ["kms-a", "/var/run/kmsplugin/kms-a.sock", 8083],
        ["kms-b", "/var/run/kmsplugin/kms-b.sock", 8084],
      ],
    );
    // Archived: no plugin any more.
    const later = prodWithKeys([
      kmsKey("kms-a", "archived", { archivedOn: "2026-12-01" }),
      kmsKey("kms-b", "primary"),
    ]);
    assert.deepEqual(
      kmsPluginPlans(later.encryption.keys).map((p) => p.key),
      ["kms-b"],
    );
  });
});

describe("the aws-encryption-provider static pod", () => {
  const plan = kmsPluginPlans(prod().encryption.keys)[0];
  const input = {
    plan,
    keyArn: ARN,
    region: "eu-west-1",
    image: "registry.k8s.io/aws-encryption-provider/aws-encryption-provider:v1.36.0",
    encryptionContext: envelopeEncryptionContext("payments", "prod"),
  };

  it("runs the plugin with the key's ARN, the region, the EncryptionConfiguration's socket, loopback health, v2 and the context", () => {
    assert.deepEqual(kmsPluginCommand(input), [
      "/aws-encryption-provider",
      `--key=${ARN}`,
      "--region=eu-west-1",
      "--listen=/var/run/kmsplugin/socket.sock",
      "--health-port=127.0.0.1:8083",
      "--health-kms-version=v2",
      "--encryption-context=cluster=payments,environment=prod",
    ]);
    assert.equal(encryptionContextFlag({ b: "2", a: "1" }), "a=1,b=2");
  });

  it("is a hostNetwork, node-critical pod that mounts only the socket directory, probes on loopback", () => {
    const text = renderKmsPluginManifest(input);
    const pod = parse(text);
    assert.equal(pod.metadata.name, "kms-plugin-aws-kms-prod");
    assert.equal(pod.metadata.namespace, "kube-system");
    assert.equal(pod.spec.hostNetwork, true);
    assert.equal(pod.spec.priorityClassName, "system-node-critical");
    const c = pod.spec.containers[0];
    assert.equal(c.image, input.image);
    assert.deepEqual(kmsPluginCommandOf(text), kmsPluginCommand(input));
    assert.deepEqual(pod.spec.volumes, [
      { name: "kms-plugin-socket", hostPath: { path: "/var/run/kmsplugin", type: "DirectoryOrCreate" } },
    ]);
    assert.deepEqual(c.volumeMounts, [{ name: "kms-plugin-socket", mountPath: "/var/run/kmsplugin" }]);
    assert.deepEqual(c.livenessProbe.httpGet, {
      host: "127.0.0.1",
      path: "/livez",
      port: 8083,
      scheme: "HTTP",
    });
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext.capabilities.drop, ["ALL"]);
  });

  it("refuses anything but a key ARN (an alias could be re-pointed under stored data)", () => {
    assert.throws(
      () => renderKmsPluginManifest({ ...input, keyArn: "alias/secure-etcd/payments/prod/kms/aws-kms-prod" }),
      /not a KMS key ARN/,
    );
  });
});

describe("socket coverage: a kms provider no plugin serves is named", () => {
  const s = prod();
  const plan = kmsPluginPlans(s.encryption.keys)[0];
  const manifest = renderKmsPluginManifest({
    plan,
    keyArn: ARN,
    region: "eu-west-1",
    image: s.encryption.kms.pluginImage,
    encryptionContext: { cluster: "payments", environment: "prod" },
  });
  const providers = [{ name: "aws-kms-prod", endpoint: socket }];
  const patchDirs = apiserverMountedDirsOf(renderKubeApiserverPatch(s));

  it("the rendered prod stack is covered: the plugin listens, both pods mount /var/run/kmsplugin", () => {
    assert.ok(patchDirs.includes("/var/run/kmsplugin"));
    assert.deepEqual(
      kmsSocketProblems(providers, [renderedKmsPluginOf("aws-kms-prod", manifest)], patchDirs),
      [],
    );
    refuseUncoveredKmsSockets(s, "test"); // does not throw
  });

  it("no plugin, another key's plugin, or no kube-apiserver mount: each is a problem naming the key", () => {
    const [none] = kmsSocketProblems(providers, [], patchDirs);
    assert.equal(none.key, "aws-kms-prod");
    assert.match(
      none.message,
      /no rendered KMS plugin listens on unix:\/\/\/var\/run\/kmsplugin\/socket\.sock/,
    );
    const other = kmsSocketProblems(providers, [renderedKmsPluginOf("other", manifest)], patchDirs);
    assert.match(other[0].message, /kms key "other"'s/);
    const unmounted = kmsSocketProblems(providers, [renderedKmsPluginOf("aws-kms-prod", manifest)], []);
    assert.match(unmounted[0].message, /kube-apiserver does not mount \/var\/run\/kmsplugin/);
  });

  it("reads the kms providers of an EncryptionConfiguration, and a plugin's --listen as the plugin does", () => {
    const config = `apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources: [secrets]\n    providers:\n      - kms: {apiVersion: v2, name: k1, endpoint: "${socket}"}\n      - secretbox: {keys: [{name: s, secret: c2VjcmV0}]}\n`;
    assert.deepEqual(kmsProvidersOf(config), [{ name: "k1", endpoint: socket }]);
    const p = renderedKmsPluginOf("k1", manifest);
    assert.deepEqual(
      kmsSocketProblems([{ name: "k1", endpoint: "unix:///var/run/kmsplugin/other.sock" }], [p]).map(
        (x) => x.key,
      ),
      ["k1"],
    );
  });
});

describe("the envelope key's policy: who can do what", () => {
  const nodes = [`arn:aws:iam::${ACCOUNT}:role/cp-1`, `arn:aws:iam::${ACCOUNT}:role/cp-2`];
  const base = {
    partition: "aws",
    accountId: ACCOUNT,
    deployerArn: `arn:aws:iam::${ACCOUNT}:role/deployer`,
    nodeRoleArns: nodes,
    encryptionContext: { cluster: "payments", environment: "prod" },
    restoreReaderRoleArn: `arn:aws:iam::${ACCOUNT}:role/restore`,
  };
  const find = (d: PolicyDocument, sid: string) => d.Statement.find((s) => s.Sid === sid)!;

  it("the deployer and the account administer (no crypto); only the node roles Encrypt/Decrypt, with the context", () => {
    const d = envelopeKeyPolicy(base);
    const admin = find(d, "AdministerKey");
    assert.deepEqual(admin.Principal, { AWS: [`arn:aws:iam::${ACCOUNT}:root`, base.deployerArn] });
    assert.deepEqual(admin.Action, [...KMS_ADMIN_ACTIONS]);
    assert.ok(!(admin.Action as string[]).some((a) => /Encrypt|Decrypt|GenerateDataKey|CreateGrant/.test(a)));
    const use = find(d, "ControlPlaneNodesEncryptDecrypt");
    assert.deepEqual(use.Principal, { AWS: nodes });
    assert.deepEqual(use.Action, ["kms:Decrypt", "kms:Encrypt"]);
    assert.deepEqual(use.Condition, {
      StringEquals: {
        "kms:EncryptionContext:cluster": "payments",
        "kms:EncryptionContext:environment": "prod",
      },
    });
    assert.deepEqual(find(d, "RestoreReaderDescribesKey").Action, "kms:DescribeKey");
    // Exactly these four statements: nothing else can use the key.
    assert.deepEqual(
      d.Statement.map((s) => s.Sid),
      [
        "AdministerKey",
        "ControlPlaneNodesEncryptDecrypt",
        "RestoreReaderDescribesKey",
        "NoDeletionWhileSnapshotsMayNeedIt",
      ],
    );
    assert.deepEqual(envelopeKeyPolicyProblems(d), []);
  });

  it("deletion is denied to everyone while in use, and for an archived key until its last snapshot expires", () => {
    const inUse = find(envelopeKeyPolicy(base), "NoDeletionWhileSnapshotsMayNeedIt");
    assert.equal(inUse.Effect, "Deny");
    assert.equal(inUse.Principal, "*");
    assert.equal(inUse.Action, "kms:ScheduleKeyDeletion");
    assert.equal(inUse.Condition, undefined);
    const until = retainUntil("2026-12-01", 35 + 7);
    assert.equal(until, "2027-01-12");
    const archived = envelopeKeyPolicy({ ...base, nodeRoleArns: [], retainUntil: until });
    assert.deepEqual(find(archived, "NoDeletionWhileSnapshotsMayNeedIt").Condition, {
      DateLessThan: { "aws:CurrentTime": "2027-01-12T00:00:00Z" },
    });
    assert.equal(
      find(archived, "ControlPlaneNodesEncryptDecrypt"),
      undefined,
      "an archived key serves no node",
    );
  });

  it("the policy pack's reading catches a policy without the deletion guard, the context, or with root crypto", () => {
    const d = envelopeKeyPolicy(base);
    const without = (sid: string) => ({ ...d, Statement: d.Statement.filter((s) => s.Sid !== sid) });
    assert.match(
      envelopeKeyPolicyProblems(without("NoDeletionWhileSnapshotsMayNeedIt")).join(),
      /ScheduleKeyDeletion/,
    );
    const noContext = {
      ...d,
      Statement: d.Statement.map((s) =>
        s.Sid === "ControlPlaneNodesEncryptDecrypt" ? { ...s, Condition: undefined } : s,
      ),
    };
    assert.match(envelopeKeyPolicyProblems(noContext).join(), /without the cluster's encryption context/);
    const rootCrypto = {
      ...d,
      Statement: [
        ...d.Statement,
        {
          Sid: "X",
          Effect: "Allow" as const,
          Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
          Action: "kms:*",
          Resource: "*",
        },
      ],
    };
    assert.match(envelopeKeyPolicyProblems(rootCrypto).join(), /account root/);
  });

  it("the node grant: Encrypt/Decrypt on the keys in use, with the context, nothing else", () => {
    const g = envelopeKeyGrantPolicy({ keyArns: [ARN, ARN2], encryptionContext: base.encryptionContext });
    assert.equal(g.Statement.length, 1);
    assert.deepEqual(g.Statement[0].Action, ["kms:Decrypt", "kms:Encrypt"]);
    assert.deepEqual(g.Statement[0].Resource, [ARN, ARN2]);
    assert.ok(g.Statement[0].Condition?.StringEquals?.["kms:EncryptionContext:cluster"]);
    assert.throws(
      () => envelopeKeyGrantPolicy({ keyArns: ["*"], encryptionContext: base.encryptionContext }),
      /ARN/,
    );
  });
});

describe("restore knows the envelope key", () => {
  const words = snapshotKeyWords(
    [
      { name: "aws-kms-prod", provider: "kms" },
      { name: "prod-2026-09", provider: "secretbox" },
    ],
    { "aws-kms-prod": ARN },
  );

  it("a snapshot records the key's ARN beside its name, and the restore reads it back", () => {
    assert.deepEqual(words, [`kms:aws-kms-prod=${ARN}`, "secretbox:prod-2026-09"]);
    assert.deepEqual(envelopeKeysOfSnapshot(words), [
      { name: "aws-kms-prod", arn: ARN, region: "eu-west-1" },
    ]);
    assert.throws(() => snapshotKeyWords([{ name: "x", provider: "kms" }], {}), /no envelope key ARN/);
  });

  it("anything but Enabled (or a failed DescribeKey, or no ARN) is a problem naming the key", () => {
    const keys = envelopeKeysOfSnapshot(words);
    assert.deepEqual(envelopeKeyProblems(keys, [{ arn: ARN, keyState: "Enabled" }]), []);
    assert.match(
      envelopeKeyProblems(keys, [{ arn: ARN, keyState: "Disabled" }])[0],
      /aws-kms-prod .* is Disabled.*enable-key/,
    );
    assert.match(
      envelopeKeyProblems(keys, [{ arn: ARN, keyState: "PendingDeletion" }])[0],
      /cancel-key-deletion/,
    );
    assert.match(envelopeKeyProblems(keys, [{ arn: ARN, error: "AccessDenied" }])[0], /DescribeKey failed/);
    assert.match(
      envelopeKeyProblems(envelopeKeysOfSnapshot(["kms:old"]), [])[0],
      /does not record its AWS key ARN/,
    );
  });

  it("the restore plan checks the key with DescribeKey before any kube-apiserver starts", () => {
    const plan = renderRestorePlan({
      snapshotPath: "/var/lib/etcd-restore/s.db",
      members: [{ name: "cp-1", ip: "10.0.0.1" }],
      clusterToken: "t",
      etcdVersion: "3.5.21",
      dataDir: "/var/lib/etcd",
      encryptionKeys: words,
    });
    const check = plan.steps.findIndex((s) => /envelope keys are Enabled/.test(s.title));
    const start = plan.steps.findIndex((s) => /Start the API servers/.test(s.title));
    assert.ok(check >= 0 && check < start, plan.steps.map((s) => s.title).join("\n"));
    assert.deepEqual(plan.steps[check].commands, [
      `aws kms describe-key --region eu-west-1 --key-id ${ARN} --query KeyMetadata.KeyState --output text`,
    ]);
    assert.match(plan.steps[check].title, /aws-kms-prod/);
  });
});

describe("guardrails: CIS report row and cost of the envelope keys", () => {
  const config = `resources:\n  - resources: [secrets]\n    providers:\n      - kms: {apiVersion: v2, name: aws-kms-prod, endpoint: "${socket}"}\n`;
  const s = prod();
  const manifest = renderKmsPluginManifest({
    plan: kmsPluginPlans(s.encryption.keys)[0],
    keyArn: ARN,
    region: "eu-west-1",
    image: s.encryption.kms.pluginImage,
    encryptionContext: { cluster: "payments", environment: "prod" },
  });
  const apiserverMountedDirs = ["/var/run/kmsplugin"];

  it("the kms row passes naming the key's ARN; a missing plugin or a disabled key WARNs naming the key", () => {
    const ok = kmsPluginFindings({
      encryptionConfiguration: config,
      plugins: [{ key: "aws-kms-prod", manifest }],
      apiserverMountedDirs,
    });
    assert.equal(ok[0].status, "PASS");
    assert.match(ok[0].reason, new RegExp(ARN.replace(/\//g, "\\/")));
    const missing = kmsPluginFindings({ encryptionConfiguration: config, plugins: [], apiserverMountedDirs });
    assert.equal(missing[0].status, "WARN");
    assert.match(missing[0].reason, /aws-kms-prod.*no rendered KMS plugin/);
    const disabled = kmsPluginFindings({
      encryptionConfiguration: config,
      plugins: [{ key: "aws-kms-prod", manifest }],
      apiserverMountedDirs,
      keyStates: { "aws-kms-prod": { arn: ARN, keyState: "Disabled" } },
    });
    assert.equal(disabled[0].status, "WARN");
    assert.match(disabled[0].reason, /aws-kms-prod: its AWS key arn:aws:kms:.* is Disabled/);
    assert.deepEqual(
      kmsPluginFindings({ encryptionConfiguration: "resources: []", plugins: [], apiserverMountedDirs }),
      [],
    );
  });

  it("cisReport has the row only when a kms provider is configured, and 1.2.28 passes with kms first", () => {
    const input = {
      stack: "prod",
      etcdManifests: {},
      apiserverFlags: ["--encryption-provider-config=/etc/kubernetes/enc/encryption-config.yaml"],
      encryptionConfiguration: { text: config, installedAt: "/etc/kubernetes/enc/encryption-config.yaml" },
      files: { nodes: [], artifacts: [] },
      leafCertificates: [],
      environment: "prod",
      backupsEnabled: true,
      kms: { plugins: [{ key: "aws-kms-prod", manifest }], apiserverMountedDirs },
    };
    const r = cisReport(input);
    assert.equal(r.checks.find((c) => c.id === "1.2.28")?.status, "PASS");
    assert.equal(r.checks.find((c) => c.id === "G-5")?.status, "PASS");
    const plain = cisReport({
      ...input,
      encryptionConfiguration: {
        ...input.encryptionConfiguration,
        text: "resources:\n  - resources: [secrets]\n    providers:\n      - secretbox: {keys: []}\n",
      },
    });
    assert.equal(
      plain.checks.find((c) => c.id === "G-5"),
      undefined,
    );
  });

  it("cost: prod's one key and five plugins, each health-checking (Encrypt+Decrypt) every 30 s", () => {
    const c = envelopeKeyCostOf(prod())!;
    assert.equal(c.awsKeys, 1);
    assert.equal(c.pluginInstances, 5);
    assert.equal(c.requestsPerMonth, 5 * ((730 * 3600) / 30) * 2);
    assert.equal(c.keysFirstYearUsd, prices.kmsKeyPerMonth);
    assert.ok(Math.abs(c.requestsUsd - (c.requestsPerMonth / 10_000) * prices.kmsPer10kRequests) < 1e-9);
    // During a rotation both keys are served: twice the requests.
    const rotating = envelopeKeyMonthlyCost({ environment: "prod", members: 5, awsKeys: 2, servedKeys: 2 });
    assert.equal(rotating.requestsPerMonth, 2 * c.requestsPerMonth);
    assert.equal(envelopeKeyCostOf(settingsFromStackConfig(readStackConfig("dev"), "dev")), undefined);
  });
});

describe("the prod stack under mocks: envelope key, node grant, plugin in every bundle", () => {
  let b: Built;
  let keyArn: string;
  before(async () => {
    b = await buildSecureEtcd("prod");
    keyArn = await valueOf(b.etcd.envelopeKeys!.keyArns["aws-kms-prod"]);
  });
  const keyName = "payments-envelope-keys-aws-kms-prod";

  it("one symmetric key per kms key: rotation on, 30-day window, protect + retainOnDelete, alias, tags — not the secret store's key", async () => {
    const key = b.mocks.named(keyName).inputs;
    assert.equal(key.enableKeyRotation, true);
    assert.equal(key.deletionWindowInDays, 30);
    assert.equal(key.customerMasterKeySpec, "SYMMETRIC_DEFAULT");
    assert.deepEqual(key.tags, {
      "secure-etcd:cluster": "payments",
      "secure-etcd:environment": "prod",
      "secure-etcd:purpose": "kubernetes-envelope-encryption",
      "secure-etcd:encryption-key": "aws-kms-prod",
    });
    const reg = b.log.find((r) => r.name === keyName);
    assert.ok(reg?.protect && reg.retainOnDelete);
    assert.equal(
      b.mocks.named(`${keyName}-alias`).inputs.name,
      "alias/secure-etcd/payments/prod/kms/aws-kms-prod",
    );
    assert.notEqual(keyArn, await valueOf(b.etcd.secretStore!.kmsKeyArn));
    assert.equal(
      b.mocks.ofType("aws:kms/key:Key").filter((k) => k.name.startsWith("payments-envelope-keys-")).length,
      1,
    );
  });

  it("its policy names the five node roles for Encrypt/Decrypt with the context, and refuses deletion", async () => {
    const d = JSON.parse(String(b.mocks.named(keyName).inputs.policy)) as PolicyDocument;
    const roles = await valueOf(pulumi.all(b.etcd.secretStore!.nodeRoleArns));
    const use = d.Statement.find((x) => x.Sid === "ControlPlaneNodesEncryptDecrypt")!;
    assert.deepEqual(use.Principal, { AWS: b.members.map((m) => roles[m]) });
    assert.deepEqual(use.Condition, {
      StringEquals: {
        "kms:EncryptionContext:cluster": "payments",
        "kms:EncryptionContext:environment": "prod",
      },
    });
    assert.ok(d.Statement.some((x) => x.Sid === "NoDeletionWhileSnapshotsMayNeedIt" && x.Effect === "Deny"));
    assert.deepEqual(envelopeKeyPolicyProblems(d), []);
  });

  it("each node role gets the grant on this key (and nothing else), attached by name", async () => {
    const names = await valueOf(pulumi.all(b.etcd.secretStore!.nodeRoleNames));
    for (const m of b.members) {
      const rp = b.mocks.named(`payments-envelope-keys-${m}-grant`).inputs;
      assert.equal(rp.role, names[m]);
      const g = JSON.parse(String(rp.policy)) as PolicyDocument;
      assert.deepEqual(
        g.Statement.map((x) => [x.Action, x.Resource]),
        [[["kms:Decrypt", "kms:Encrypt"], keyArn]],
      );
    }
  });

  it("every member's bundle installs the plugin manifest (0600, before the EncryptionConfiguration) and a 0700 socket dir", async () => {
    const bundles = await valueOf(pulumi.all(b.etcd.nodeBundles));
    for (const m of b.members) {
      const bundle = parseNodeBundle(bundles[m]);
      const i = bundle.files.findIndex((f) => f.role === "kms-plugin-manifest-aws-kms-prod");
      const f = bundle.files[i];
      assert.equal(f.path, "/etc/kubernetes/manifests/kms-plugin-aws-kms-prod.yaml");
      assert.equal(f.mode, "0600");
      assert.ok(i < bundle.files.findIndex((x) => x.role === "encryption-config"));
      assert.deepEqual(kmsPluginCommandOf(f.content).slice(1, 4), [
        `--key=${keyArn}`,
        "--region=us-east-1",
        "--listen=/var/run/kmsplugin/socket.sock",
      ]);
      assert.ok(bundle.dirs.some((d) => d.path === "/var/run/kmsplugin" && d.mode === "0700"));
    }
  });

  it("user data stays free of the plugin and under 16 KB; the kube-apiserver patch mounts the socket dir", async () => {
    const userData = await valueOf(pulumi.all(b.etcd.nodeUserData!));
    for (const u of Object.values(userData)) {
      assert.ok(Buffer.byteLength(u) < 16 * 1024);
      assert.ok(!u.includes("aws-encryption-provider") && !u.includes(keyArn));
    }
    assert.ok(
      apiserverMountedDirsOf(await valueOf(b.etcd.kubeApiserverPatch)).includes("/var/run/kmsplugin"),
    );
  });

  it("the snapshot job records the envelope key's ARN; the outputs list the plugin (nothing secret)", async () => {
    const job = await valueOf(b.etcd.snapshotJob!.manifestsYaml);
    assert.match(job, new RegExp(`kms:aws-kms-prod=${keyArn.replace(/[/]/g, "\\/")} secretbox:prod-2026-09`));
    const plugins = await valueOf(b.etcd.kmsPlugins!);
    assert.deepEqual(
      plugins.map((p) => [p.key, p.endpoint, p.healthPort, p.keyArn]),
      [["aws-kms-prod", socket, 8083, keyArn]],
    );
    assert.equal(await pulumi.isSecret(b.etcd.kmsPlugins!), false);
  });
});

describe("parliament (the IAM linter) on the envelope key's policies @integration", () => {
  const parliament = (doc: PolicyDocument) => {
    const bin = pythonVenv().bin("parliament");
    return spawnSync(bin, ["--json", "--string", JSON.stringify(doc)], { encoding: "utf8" });
  };
  const ctx = { cluster: "payments", environment: "prod" };

  it("the node grant: no finding at all", () => {
    const r = parliament(envelopeKeyGrantPolicy({ keyArns: [ARN, ARN2], encryptionContext: ctx }));
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal(r.stdout.trim(), "");
  });

  it("the key policy: only 'Resource *', which in a key policy means this key (the only form KMS takes)", () => {
    const r = parliament(
      envelopeKeyPolicy({
        partition: "aws",
        accountId: ACCOUNT,
        deployerArn: `arn:aws:iam::${ACCOUNT}:role/deployer`,
        nodeRoleArns: [`arn:aws:iam::${ACCOUNT}:role/cp-1`],
        encryptionContext: ctx,
        restoreReaderRoleArn: `arn:aws:iam::${ACCOUNT}:role/restore`,
        retainUntil: "2027-01-12",
      }),
    );
    const findings = r.stdout
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { issue: string; severity: string });
    assert.ok(findings.length > 0, "parliament read the policy");
    assert.deepEqual([...new Set(findings.map((f) => f.issue))], ["RESOURCE_STAR"], r.stdout);
  });
});
