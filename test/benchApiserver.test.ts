import { strict as assert } from "node:assert";
import { parse } from "yaml";
import {
  apiserverProviders,
  benchEncryptionConfig,
  prefixOf,
  providerFigures,
  type ApiserverResult,
  type BenchProvider,
  type ProviderRun,
} from "../bench/apiserver";
import type { BenchResults } from "../bench/run";
import { targetsOf } from "../bench/targets";
import { freshKey, type AnyDrillKey } from "../harness/encryptionKeys";

const run = (secretsPerSec: number, p99Ms: number): ProviderRun => ({
  secretsPerSec,
  p50Ms: p99Ms / 4,
  p99Ms,
  seconds: 1,
  apiserverCpuMicrosPerSecret: p99Ms * 10,
  load: { loadStart: 1, loadEnd: 1, busy: 0.5 },
  storedPrefix: "x",
});

/** Three runs per provider; identity at 1000/s and p99 40 ms (medians). */
function samples(secretbox: number): Record<BenchProvider, ProviderRun[]> {
  const three = (v: number, p99: number) => [run(v * 0.5, p99 * 3), run(v, p99), run(v * 1.1, p99)];
  return {
    identity: three(1000, 40),
    secretbox: three(secretbox, 50),
    aescbc: three(800, 60),
    aesgcm: three(950, 44),
    kms: three(700, 80),
  };
}

const withApiserver = (secretbox: number): BenchResults =>
  ({
    apiserver: {
      defaultProvider: "secretbox",
      providers: providerFigures(samples(secretbox)),
    } as ApiserverResult,
  }) as BenchResults;

const apiserverTarget = (r: BenchResults) => targetsOf(r).find((t) => t.name.startsWith("Secret writes"))!;

describe("bench: Secret writes through kube-apiserver per encryption provider", () => {
  it("divides each provider's median throughput and p99 by identity's", () => {
    const f = providerFigures(samples(920));
    assert.equal(f.identity.throughputRatio, 1);
    assert.equal(f.secretbox.secretsPerSec, 920);
    assert.equal(f.secretbox.throughputRatio, 0.92);
    assert.equal(f.secretbox.p99Ratio, 1.25);
    assert.equal(f.secretbox.apiserverCpuMicrosPerSecret, 500);
    assert.equal(f.secretbox.cpuRatio, 1.25);
    assert.equal(f.kms.throughputRatio, 0.7);
    assert.equal(f.kms.p99Ratio, 2);
    assert.deepEqual(Object.keys(f), [...apiserverProviders]);
  });

  it("meets the target when the default provider keeps ≥ 0.90 of identity's throughput, and only then", () => {
    const met = apiserverTarget(withApiserver(900));
    assert.equal(met.ratio, 0.9);
    assert.equal(met.met, true);
    const missed = apiserverTarget(withApiserver(899));
    assert.equal(missed.ratio, 0.899);
    assert.equal(missed.met, false);
    const none = apiserverTarget({} as BenchResults);
    assert.equal(none.ratio, null);
    assert.equal(none.met, undefined);
  });

  it("writes with the measured provider first, every other key after it as a reader", () => {
    const keys: AnyDrillKey[] = [
      freshKey("a", "secretbox"),
      freshKey("b", "aescbc"),
      { name: "k", provider: "kms", endpoint: "unix:///tmp/k.sock" },
    ];
    const firsts = (yaml: string) =>
      (parse(yaml) as { resources: { providers: Record<string, unknown>[] }[] }).resources[0].providers.map(
        (p) => Object.keys(p)[0],
      );
    assert.deepEqual(firsts(benchEncryptionConfig(keys, "identity", ["secrets"])), [
      "identity",
      "secretbox",
      "aescbc",
      "kms",
    ]);
    assert.deepEqual(firsts(benchEncryptionConfig(keys, keys[2], ["secrets"])), [
      "kms",
      "secretbox",
      "aescbc",
      "identity",
    ]);
    assert.deepEqual(firsts(benchEncryptionConfig(keys, keys[1], ["secrets"])), [
      "aescbc",
      "secretbox",
      "kms",
      "identity",
    ]);
  });

  it("tells encrypted values from unencrypted protobuf by their first bytes", () => {
    assert.equal(
      prefixOf(Buffer.from("k8s:enc:secretbox:v1:key-1:\u0001\u0002")),
      "k8s:enc:secretbox:v1:key-1:",
    );
    assert.equal(prefixOf(Buffer.from("k8s:enc:kms:v2:aws-kms:\n\u0003")), "k8s:enc:kms:v2:aws-kms:");
    assert.equal(prefixOf(Buffer.from("k8s\u0000\n\u000fv1")), "k8s\\x00 (protobuf, not encrypted)");
    assert.notEqual(prefixOf(Buffer.from('{"kind":"Secret"}')), "k8s\\x00 (protobuf, not encrypted)");
  });
});
