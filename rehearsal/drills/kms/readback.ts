/**
 * A snapshot taken while kms v2 was primary, put in (moto's) S3 with the metadata the snapshot job
 * writes — its sha256 and `encryption-keys: kms:<name>=<ARN> …` — then restored with the restore library
 * (`secure-etcd restore --from s3://… --apply`'s code), which checks the envelope key with DescribeKey
 * before it plans anything, into a fresh cluster; a real kube-apiserver with the snapshot's
 * EncryptionConfiguration reads every object back through the plugin. The original members run again.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { snapshotKeyWords } from "../../../components/kms/snapshotKeys";
import { startCluster, type RunningCluster } from "../../../harness/cluster";
import { startKubeApiservers } from "../../../harness/kubeApiserver";
import { restoreSnapshot } from "../../../tools/restore";
import type { DrillData } from "../apiserverData";
import { saveSnapshot } from "../apiserverRestore";
import { clip, expect } from "../types";
import type { KmsDrills } from "./context";

export interface KmsSnapshot {
  file: string;
  sha256: string;
  /** The EncryptionConfiguration in force (socket remapped). */
  config: string;
  words: string[];
  data: DrillData;
}

/** Saves the snapshot while the shipped configuration is in force (kms primary, secretbox retired). */
export async function takeKmsSnapshot(k: KmsDrills): Promise<KmsSnapshot> {
  expect(k.atRest, "no kms data to snapshot");
  const saved = await saveSnapshot(k.dir, k.cluster, path.join(k.workDir, "kms-snapshot.db"));
  const keys = k.settings.encryption.keys.filter((x) => x.state !== "archived");
  const arns = Object.fromEntries([...k.env.keys.values()].map((x) => [x.key.name, x.arn]));
  return {
    ...saved,
    config: fs.readFileSync(k.shippedConfigFile, "utf8"),
    words: snapshotKeyWords(keys, arns),
    data: k.atRest!,
  };
}

export async function restoreAndRead(k: KmsDrills, snap: KmsSnapshot): Promise<string> {
  const s3 = new S3Client({ ...k.env.moto.clientConfig(), region: k.env.region });
  const bucket = "drill-kms-snapshots";
  const key = `${k.settings.clusterName}/${k.settings.environment}/${path.basename(snap.file)}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: fs.readFileSync(snap.file),
      Metadata: { sha256: snap.sha256, "encryption-keys": snap.words.join(" ") },
    }),
  );
  const work = path.join(k.workDir, "kms-readback");
  const members = k.settings.members.map((m) => ({ name: m.name, ip: m.ip, dnsNames: [] as string[] }));
  let fresh: RunningCluster | undefined;
  let stopApiserver = async () => undefined as void;
  const logs: string[] = [];
  try {
    for (const m of k.cluster.members) await k.cluster.stopMember(m.name);
    const etcdutl = path.join(path.dirname(k.cluster.etcdctlBinary), "etcdutl");
    const restored = await restoreSnapshot({
      settings: { ...k.settings, members },
      from: `s3://${bucket}/${key}`,
      endpointUrl: k.env.moto.endpoint,
      env: { ...process.env, ...k.env.moto.env() },
      apply: { targetDir: path.join(work, "data") },
      etcdctl: k.cluster.etcdctlBinary,
      etcdutl: fs.existsSync(etcdutl) ? etcdutl : undefined,
      log: (l) => logs.push(l),
    });
    const checked = logs.filter((l) => /envelope key/.test(l));
    expect(
      checked.some((l) => / is Enabled$/.test(l)),
      `the restore did not check the envelope key: ${logs.join(" | ")}`,
    );
    const step = restored.plan.steps.findIndex((x) => /envelope keys are Enabled/.test(x.title));
    const start = restored.plan.steps.findIndex((x) => /Start the API servers/.test(x.title));
    expect(
      step >= 0 && step < start,
      "the plan's envelope key step does not come before the API servers start",
    );
    fresh = await startCluster({
      dir: k.dir,
      workDir: work,
      existingData: "reuse",
      caKeyPem: k.caKeyPem,
      caCertPem: k.caCertPem,
      etcdBinary: k.cluster.etcdBinary,
      etcdctlBinary: k.cluster.etcdctlBinary,
      log: (l) => k.log(`  ${l}`),
    });
    const fleet = await startKubeApiservers({
      dir: k.dir,
      settings: k.settings,
      workDir: path.join(work, "apiservers"),
      addresses: [members[0].ip],
      startNow: 0,
      log: (l) => k.log(`  ${l}`),
    });
    stopApiserver = () => fleet.stop();
    const [s] = fleet.servers;
    s.writeEncryptionConfig(snap.config);
    await s.start();
    const reads = await snap.data.readAll(s);
    expect(
      reads.read === snap.data.written.size,
      `read ${reads.read} of ${snap.data.written.size}: ${clip([...reads.errors.values()][0] ?? reads.wrong[0] ?? "", 200)}`,
    );
    return (
      `s3://${bucket}/${key} (encryption-keys: ${snap.words.join(" ")}); the restore library checked it (${checked.join("; ")}) ` +
      `and restored ${members.length} members with ${restored.plan.tool}; its plan checks the key ("${restored.plan.steps[step].commands[0]}") ` +
      `before it starts any API server; ${s.name} on the snapshot's EncryptionConfiguration read all ${reads.read} objects of ` +
      `${snap.data.namespace} back through the plugin with their values`
    );
  } finally {
    await stopApiserver();
    await fresh?.stop();
    for (const m of k.cluster.members.filter((x) => !x.running))
      await k.cluster.startMember(m.name, { waitHealthy: false });
    await k.cluster.waitHealthy();
  }
}
