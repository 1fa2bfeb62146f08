/**
 * The prod stack's own history, on three real kube-apiservers: secretbox (`prod-2026-09`) was primary,
 * then the kms key was staged, promoted — which is the EncryptionConfiguration prod ships — every object
 * rewritten, `verify-encryption --retiring prod-2026-09` gating the last step, the secretbox key archived.
 * Writers run through every rolling restart; every apiserver reads every object after every step. On the
 * shipped configuration, Secrets are read raw from etcd: `k8s:enc:kms:v2:<name>:` (quoted), and back.
 */
import { storedPrefix, type KeyStates } from "../../../harness/encryptionKeys";
import { DrillData } from "../apiserverData";
import { drillResources, hashOf, runConfigStatus, runVerifyEncryption } from "../encryptionAtRest";
import { rewrite, rollingStep } from "../rotation";
import { retiringGate, type Sequence } from "../rotationSteps";
import type { ScanReport } from "../../../tools/verifyEncryption/scan";
import { clip, expect } from "../types";
import type { KmsDrills } from "./context";

export async function runHistory(k: KmsDrills, seq: Sequence): Promise<void> {
  const { rot, kmsKey, formerKey } = k;
  const start: KeyStates = { [formerKey.name]: "primary" };
  const staged: KeyStates = { [formerKey.name]: "primary", [kmsKey.name]: "staged" };
  const shipped: KeyStates = { [kmsKey.name]: "primary", [formerKey.name]: "retired" };
  const archived: KeyStates = { [kmsKey.name]: "primary", [formerKey.name]: "archived" };
  await rollingStep(rot, seq, `secretbox → kms 1 stage ${kmsKey.name}`, start, staged);
  await rollingStep(rot, seq, `secretbox → kms 2 promote ${kmsKey.name}`, staged, shipped);
  await seq.step(
    "kms: the promoted configuration is the one prod ships (the rendered file, socket remapped): encryption-config-status --expect it exits 0 on all 3",
    async () => {
      const status = await runConfigStatus(rot.ctx.fleet, rot.servers, k.shippedConfigFile);
      expect(status.code === 0, `exit ${status.code}: ${clip(status.output, 400)}`);
      return `exit 0: every apiserver loaded ${hashOf(status.output)}, the hash of the rendered prod EncryptionConfiguration (${kmsKey.name} kms v2 first, ${formerKey.name} retired)`;
    },
  );
  await seq.step(
    `kms: Secrets are stored as ${storedPrefix(kmsKey)} in etcd (read raw) and read back through every apiserver`,
    () => storedUnderKms(k),
  );
  await seq.step(`kms: before the rewrite, verify-encryption --retiring ${formerKey.name} exits 1`, () =>
    retiringGate(rot, formerKey, 1),
  );
  await seq.step(
    "kms: secretbox → kms 3 rewrite: kubectl get … -A -o json | kubectl replace -f - while the others keep writing",
    () => rewrite(rot, kmsKey),
  );
  await seq.step(
    `kms: secretbox → kms 4 verify-encryption --retiring ${formerKey.name} exits 0 (gates step 5)`,
    () => retiringGate(rot, formerKey, 0),
  );
  await rollingStep(rot, seq, `secretbox → kms 5 archive ${formerKey.name}`, shipped, archived);
}

/** A fresh namespace of Secrets and ConfigMaps through apiserver-1: raw prefix, readback, verify agrees. */
async function storedUnderKms(k: KmsDrills): Promise<string> {
  const { rot, kmsKey } = k;
  const [first] = rot.servers;
  const data = new DrillData(`drill-kms-at-rest-${Date.now().toString(36)}`, drillResources(rot.ctx.stack));
  rot.ctx.data.push(data);
  k.atRest = data;
  await data.createNamespace(first);
  for (let i = 0; i < 5; i++) await data.write(first, "kms");
  const want = storedPrefix(kmsKey);
  const stored = await data.storedPrefixes(rot.ctx.etcd);
  const read = [...new Set(stored.values())];
  expect(
    read.length === 1 && read[0] === want,
    `stored prefixes read: ${read.join(", ")}; expected only ${want}`,
  );
  const reads = await Promise.all(rot.servers.map((s) => data.readAll(s)));
  const short = reads.find((r) => r.read !== data.written.size);
  expect(!short, `${short?.server} read ${short?.read} of ${data.written.size}`);
  const scan = await runVerifyEncryption(rot.ctx, ["--json", `--resources=${data.resources.join(",")}`]);
  const report = JSON.parse(scan.output) as ScanReport;
  expect(
    scan.code === 0 && report.plaintext.length === 0,
    `verify-encryption exit ${scan.code}: ${clip(scan.output, 300)}`,
  );
  const underKms = report.counts.filter((c) => c.provider === "kms" && c.keyName === kmsKey.name);
  expect(
    underKms.every((c) => c.version === "v2") &&
      underKms.reduce((n, c) => n + c.count, 0) >= data.written.size,
    `verify-encryption counts ${JSON.stringify(underKms)}`,
  );
  return (
    `${data.written.size} objects (${data.resources.join(", ")}) via kubectl through ${first.name}; etcdctl get of each: ` +
    `every value starts "${read[0]}" (the prefix read, quoted; never a value); all ${data.written.size} read back with their ` +
    `values through ${reads.map((r) => r.server).join(", ")}; verify-encryption exit 0: ` +
    report.counts
      .map((c) => `${c.resource} ${c.provider} ${c.version ?? ""} ${c.keyName}: ${c.count}`)
      .join(", ") +
    ", plaintext 0"
  );
}
