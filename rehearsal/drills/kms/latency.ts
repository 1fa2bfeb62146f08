/**
 * What kms v2 costs a Secret write, measured on one real kube-apiserver in one run: the same apiserver
 * restarted with kms v2 primary and with a fresh secretbox key primary, in alternating rounds, each write
 * a POST of a new Secret over one kept-alive TLS connection (the admin client, as kubectl would), timed
 * from request to the 201. kms v2 wraps a local data key once per seed, so a write should not call the
 * plugin at all; the figure says what it does cost. Writes and the secretbox key are removed afterwards.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import {
  encryptionConfigFor,
  freshKey,
  storedPrefix,
  type AnyDrillKey,
  type KeyStates,
} from "../../../harness/encryptionKeys";
import { adminAgent, postSecret as postSecretOf } from "../../../harness/apiserverWrites";
import type { KubeApiserver } from "../../../harness/kubeApiserver";
import { DrillData } from "../apiserverData";
import { runVerifyEncryption } from "../encryptionAtRest";
import { clip, expect } from "../types";
import type { KmsDrills } from "./context";

/** Writes per configuration (≥ 1,000), split over `ROUNDS` alternating rounds. */
export const WRITES_PER_CONFIG = 1000;
/** --quick: writes per configuration (the closing figure uses WRITES_PER_CONFIG). */
export const QUICK_WRITES_PER_CONFIG = 200;
const ROUNDS = 2;
const WARMUP = 20;

export interface LatencyResult {
  writesPerConfig: number;
  kmsMedianMs: number;
  secretboxMedianMs: number;
  kmsP90Ms: number;
  secretboxP90Ms: number;
  extraMedianMs: number;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

const postSecret = (agent: https.Agent, s: KubeApiserver, ns: string, name: string) =>
  postSecretOf(agent, s, ns, name, randomBytes(48));

/** One DELETE of every Secret of a namespace (deletecollection): kubectl would delete them one by one. */
function deleteAllSecrets(agent: https.Agent, s: KubeApiserver, ns: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        agent,
        host: s.plan.ip,
        port: s.plan.port,
        method: "DELETE",
        path: `/api/v1/namespaces/${ns}/secrets`,
        timeout: 300_000,
      },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () =>
          res.statusCode === 200
            ? resolve()
            : reject(new Error(`deletecollection: HTTP ${res.statusCode}: ${clip(text, 200)}`)),
        );
      },
    );
    req.on("timeout", () => req.destroy(new Error("deletecollection timed out")));
    req.on("error", reject);
    req.end();
  });
}

export async function measureLatency(
  k: KmsDrills,
  writesPerConfig = WRITES_PER_CONFIG,
): Promise<{ detail: string; result: LatencyResult }> {
  const { rot } = k;
  const [first] = rot.servers;
  const pki = rot.ctx.fleet.pki;
  const current = fs.readFileSync(first.encryptionConfig, "utf8");
  const box = freshKey("latency-secretbox", "secretbox");
  // Each configuration reads what the other wrote: the other key is listed as retired in it.
  const keys: AnyDrillKey[] = [box, ...rot.keys];
  const kmsStates: KeyStates = { [k.primary.name]: "primary", [box.name]: "retired" };
  const boxStates: KeyStates = { [box.name]: "primary", [k.primary.name]: "retired" };
  const configs = {
    kms: encryptionConfigFor(keys, kmsStates, rot.ctx.stack.resources),
    secretbox: encryptionConfigFor(keys, boxStates, rot.ctx.stack.resources),
  };
  // apiserver-1 alone: the other two would only compete for the same two cores.
  for (const s of rot.servers.slice(1)) await s.stop();
  const data = new DrillData(`drill-kms-latency-${Date.now().toString(36)}`, ["secrets"]);
  await data.createNamespace(first);
  const samples: Record<"kms" | "secretbox", number[]> = { kms: [], secretbox: [] };
  const agent = adminAgent(pki, 1);
  const names: Record<"kms" | "secretbox", string[]> = { kms: [], secretbox: [] };
  try {
    for (let round = 0; round < ROUNDS; round++)
      for (const which of ["kms", "secretbox"] as const) {
        first.writeEncryptionConfig(configs[which]);
        await first.restart();
        for (let i = 0; i < WARMUP; i++)
          await postSecret(agent, first, data.namespace, `warm-${which}-${round}-${i}`);
        for (let i = 0; i < writesPerConfig / ROUNDS; i++) {
          const name = `lat-${which}-${round}-${String(i).padStart(4, "0")}`;
          samples[which].push(await postSecret(agent, first, data.namespace, name));
          names[which].push(name);
        }
      }
  } catch (e) {
    agent.destroy();
    throw e;
  }
  // Each configuration did what it says: one of its Secrets read raw from etcd.
  const stored = await data.storedPrefixes(rot.ctx.etcd);
  const prefixOf = (n: string) => stored.get(`secrets/${data.namespace}/${n}`);
  expect(prefixOf(names.kms[0]) === storedPrefix(k.primary), `kms round stored ${prefixOf(names.kms[0])}`);
  expect(
    prefixOf(names.secretbox[0]) === storedPrefix(box),
    `secretbox round stored ${prefixOf(names.secretbox[0])}`,
  );
  // The measurement leaves nothing behind: its Secrets go (while the secretbox key can still read
  // them), verify-encryption confirms none is left under that key, then the cluster's configuration.
  await deleteAllSecrets(agent, first, data.namespace);
  agent.destroy();
  const gone = await runVerifyEncryption(rot.ctx, ["--resources=secrets", `--retiring=${box.name}`]);
  expect(
    gone.code === 0,
    `after the cleanup, verify-encryption --retiring ${box.name}: ${clip(gone.output, 200)}`,
  );
  first.writeEncryptionConfig(current);
  await first.restart();
  const r: LatencyResult = {
    writesPerConfig: samples.kms.length,
    kmsMedianMs: quantile(samples.kms, 0.5),
    secretboxMedianMs: quantile(samples.secretbox, 0.5),
    kmsP90Ms: quantile(samples.kms, 0.9),
    secretboxP90Ms: quantile(samples.secretbox, 0.9),
    extraMedianMs: quantile(samples.kms, 0.5) - quantile(samples.secretbox, 0.5),
  };
  const f = (n: number) => n.toFixed(2);
  return {
    result: r,
    detail:
      `${first.name} alone, ${r.writesPerConfig} Secret writes per configuration (${ROUNDS} alternating rounds, ${WARMUP} warm-up writes each, one kept-alive TLS connection): ` +
      `kms v2 (${k.primary.name}) median ${f(r.kmsMedianMs)} ms, p90 ${f(r.kmsP90Ms)} ms; secretbox median ${f(r.secretboxMedianMs)} ms, ` +
      `p90 ${f(r.secretboxP90Ms)} ms; extra median latency of kms v2: ${f(r.extraMedianMs)} ms; stored as ${storedPrefix(k.primary)} and ` +
      `${storedPrefix(box)} respectively (read raw); all deleted, ${first.name} back on the cluster's configuration`,
  };
}
