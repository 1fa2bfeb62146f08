/**
 * Load generation with the maintained `etcd3` client: many requests in flight for a fixed time, every
 * request's latency recorded. One client (one HTTP/2 connection) per server, as kube-apiserver uses.
 * Also: new TLS connections per second (full handshakes with the client cert, no session resumption).
 */
import * as fs from "node:fs";
import * as tls from "node:tls";
import { Etcd3 } from "etcd3";
import type { BenchEtcd } from "./etcdServers";
import { msSince, now, percentile } from "./stats";

export interface LoadResult {
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  ops: number;
  errors: number;
}

export function clientFor(e: BenchEtcd): Etcd3 {
  const hosts = e.clientUrl;
  if (!e.tls) return new Etcd3({ hosts, dialTimeout: 5000 });
  return new Etcd3({
    hosts,
    dialTimeout: 5000,
    credentials: {
      rootCertificate: fs.readFileSync(e.tls.ca),
      certChain: fs.readFileSync(e.tls.cert),
      privateKey: fs.readFileSync(e.tls.key),
    },
  });
}

/** Runs `op` with `concurrency` requests in flight for `seconds`; latencies in ms. */
export async function saturate(
  concurrency: number,
  seconds: number,
  op: (i: number) => Promise<unknown>,
): Promise<LoadResult> {
  const lat: number[] = [];
  let errors = 0;
  let next = 0;
  const t0 = now();
  const endAt = Date.now() + seconds * 1000;
  const worker = async () => {
    while (Date.now() < endAt) {
      const i = next++;
      const t = now();
      try {
        await op(i);
        lat.push(msSince(t));
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = msSince(t0) / 1000;
  return {
    opsPerSec: lat.length / elapsed,
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    ops: lat.length,
    errors,
  };
}

/** A Kubernetes-sized value (~1 KiB: a small object's protobuf), deterministic. */
export const valueOf = (i: number) => `v${i}-`.padEnd(1024, "k8s-object-bytes-");

export async function putLoad(c: Etcd3, concurrency: number, seconds: number, keys = 10_000) {
  return saturate(concurrency, seconds, (i) =>
    c
      .put(`/bench/k${i % keys}`)
      .value(valueOf(i))
      .exec(),
  );
}

export async function rangeLoad(c: Etcd3, concurrency: number, seconds: number, keys = 10_000) {
  return saturate(concurrency, seconds, (i) => c.get(`/bench/k${(i * 7919) % keys}`).exec());
}

/** Writes `keys` keys so range requests find data. */
export async function prefill(c: Etcd3, keys = 10_000): Promise<void> {
  let i = 0;
  const worker = async () => {
    while (i < keys) {
      const k = i++;
      await c.put(`/bench/k${k}`).value(valueOf(k)).exec();
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
}

/** Full TLS handshakes (client cert, ALPN h2) per second against `e`, `parallel` at a time. */
export async function handshakes(e: BenchEtcd, seconds: number, parallel = 4): Promise<number> {
  if (!e.tls) throw new Error("handshakes need a TLS server");
  const url = new URL(e.clientUrl);
  const opts: tls.ConnectionOptions = {
    host: url.hostname,
    port: Number(url.port),
    ca: fs.readFileSync(e.tls.ca),
    cert: fs.readFileSync(e.tls.cert),
    key: fs.readFileSync(e.tls.key),
    ALPNProtocols: ["h2"],
    servername: undefined,
  };
  let done = 0;
  const endAt = Date.now() + seconds * 1000;
  const t0 = now();
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const s = tls.connect(opts, () => {
        s.destroy();
        resolve();
      });
      s.once("error", reject);
    });
  const worker = async () => {
    while (Date.now() < endAt) {
      await one();
      done++;
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return done / (msSince(t0) / 1000);
}
