/**
 * The bench's own clients: the maintained `etcd3` client (to fill a DB for the snapshot section), and new
 * TLS connections per second (full handshakes with the client cert, no session resumption). Throughput
 * under load is measured with etcd's own benchmark tool (bench/mtls.ts).
 */
import * as fs from "node:fs";
import * as tls from "node:tls";
import { Etcd3 } from "etcd3";
import type { BenchEtcd } from "./etcdServers";
import { msSince, now } from "./stats";

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
