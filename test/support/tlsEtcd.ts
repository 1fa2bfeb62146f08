/**
 * One-member etcd clusters over mutual TLS with openssl-made certs on free 127.0.0.x addresses: fast, and
 * free of the fixed addresses the rehearsal cluster uses. The snapshot job's and the restore tool's
 * integration tests run them with a built etcd release (harness/upstream.ts).
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { EtcdRelease } from "../../harness/upstream";
import { cleanEnv, sleep, spawnManaged, tailFile, type ManagedProcess } from "../../harness/process";
import { run } from "../../tools/shared/process";

export interface Pki {
  ca: string;
  serverCrt: string;
  serverKey: string;
  clientCrt: string;
  clientKey: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const r = await run("openssl", args, { cwd, timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.output}`);
}

/** A throwaway etcd CA, a server cert for `ips` (server+client auth) and a backup client cert. */
export async function makePki(dir: string, ips: string[], member: string): Promise<Pki> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(
    ["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=test-etcd-ca", "-days", "1"]
      .concat(["-addext", "basicConstraints=critical,CA:TRUE"])
      .concat(["-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"]),
    dir,
  );
  const leaf = async (name: string, cn: string, ext: string, serial: string) => {
    fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
    await openssl(
      ["req", "-new", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`],
      dir,
    );
    await openssl(
      [
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-set_serial",
        serial,
      ].concat(["-days", "1", "-out", `${name}.crt`, "-extfile", `${name}.ext`]),
      dir,
    );
  };
  const sans = [...ips, "127.0.0.1"].map((ip) => `IP:${ip}`).join(",");
  await leaf(
    "server",
    member,
    `subjectAltName=${sans},DNS:localhost\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n`,
    "2",
  );
  await leaf(
    "client",
    "etcd-backup",
    "keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
    "3",
  );
  const p = (f: string) => path.join(dir, f);
  return {
    ca: p("ca.crt"),
    serverCrt: p("server.crt"),
    serverKey: p("server.key"),
    clientCrt: p("client.crt"),
    clientKey: p("client.key"),
  };
}

export interface TlsEtcd {
  ip: string;
  clientUrl: string;
  proc: ManagedProcess;
}

/** etcdctl against `endpoint` with the backup client cert. */
export function etcdctl(release: EtcdRelease, pki: Pki, endpoint: string, args: string[], input?: Buffer) {
  return run(
    release.etcdctl,
    [
      `--endpoints=${endpoint}`,
      `--cacert=${pki.ca}`,
      `--cert=${pki.clientCrt}`,
      `--key=${pki.clientKey}`,
      "--dial-timeout=2s",
      ...args,
    ],
    { env: cleanEnv({ ETCDCTL_API: "3" }), timeoutMs: 30_000, input },
  );
}

/** One member over mutual TLS (client and peer), from `dataDir` (new or restored); resolves once healthy. */
export async function startTlsEtcd(
  release: EtcdRelease,
  pki: Pki,
  o: { ip: string; member: string; dataDir: string; logFile: string; token?: string },
): Promise<TlsEtcd> {
  const clientUrl = `https://${o.ip}:2379`;
  const peer = `https://${o.ip}:2380`;
  const proc = spawnManaged(
    o.member,
    release.etcd,
    [
      `--name=${o.member}`,
      `--data-dir=${o.dataDir}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=${o.member}=${peer}`,
      `--initial-cluster-token=${o.token ?? "rehearsal-local-etcd"}`,
      `--listen-metrics-urls=http://${o.ip}:2381`,
      `--cert-file=${pki.serverCrt}`,
      `--key-file=${pki.serverKey}`,
      `--client-cert-auth=true`,
      `--trusted-ca-file=${pki.ca}`,
      `--peer-cert-file=${pki.serverCrt}`,
      `--peer-key-file=${pki.serverKey}`,
      `--peer-client-cert-auth=true`,
      `--peer-trusted-ca-file=${pki.ca}`,
    ],
    o.logFile,
  );
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await etcdctl(release, pki, clientUrl, ["endpoint", "health"]);
    if (r.code === 0) return { ip: o.ip, clientUrl, proc };
    if (proc.exitStatus !== undefined || Date.now() > deadline) {
      await proc.stop();
      throw new Error(`etcd on ${clientUrl} did not become healthy: ${r.output}\n${tailFile(o.logFile, 20)}`);
    }
    await sleep(200);
  }
}

/** 1 MiB of deterministic incompressible bytes. */
export function incompressibleMiB(seed: string): Buffer {
  const out = Buffer.alloc(1 << 20);
  let block = createHash("sha256").update(seed).digest();
  for (let off = 0; off < out.length; off += 32) {
    block.copy(out, off);
    block = createHash("sha256").update(block).digest();
  }
  return out;
}
