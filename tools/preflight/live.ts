/**
 * What the preflight reads from a live cluster, over mutual TLS: each member's own version (`endpoint
 * status`, one endpoint at a time so an unreachable member is named), `member list`, and the cluster
 * version etcd negotiated (`GET /version` on the client port). Reads only.
 */
import * as fs from "node:fs";
import * as https from "node:https";
import { runEtcdctl, type EtcdctlConnection } from "../verifyEncryption/etcdctl";

export interface MemberStatus {
  endpoint: string;
  /** The server's own version, or undefined when the endpoint did not answer. */
  version?: string;
  /** Member id as hex (etcdctl prints it as a decimal uint64 in JSON). */
  memberId?: string;
  /** Why the endpoint did not answer. */
  error?: string;
}

export interface ListedMember {
  id: string;
  /** Empty for a member that was added but never started. */
  name: string;
  started: boolean;
  peerUrls: string[];
  clientUrls: string[];
  learner: boolean;
}

const oneLine = (s: string) => s.replace(/\s+/g, " ").trim().slice(-300);

/** `endpoint status -w json` of one endpoint. */
export async function memberStatus(c: EtcdctlConnection, endpoint: string): Promise<MemberStatus> {
  const r = await runEtcdctl({ ...c, endpoints: [endpoint] }, ["endpoint", "status", "-w", "json"], {
    commandTimeout: "5s",
    timeoutMs: 30_000,
  });
  if (r.code !== 0) return { endpoint, error: oneLine(r.stderr || r.stdout) || `etcdctl exited ${r.code}` };
  // Parsed as text: member ids are uint64 and JSON.parse would round them.
  const version = /"version":"([^"]+)"/.exec(r.stdout)?.[1];
  const id = /"member_id":(\d+)/.exec(r.stdout)?.[1];
  if (!version) return { endpoint, error: `no version in: ${oneLine(r.stdout)}` };
  return { endpoint, version, memberId: id ? BigInt(id).toString(16) : undefined };
}

/** `member list -w simple` (id, status, name, peer urls, client urls, is learner). */
export async function memberList(c: EtcdctlConnection): Promise<ListedMember[]> {
  const r = await runEtcdctl(c, ["member", "list", "-w", "simple"], {
    commandTimeout: "5s",
    timeoutMs: 30_000,
  });
  if (r.code !== 0) throw new Error(`etcdctl member list failed: ${oneLine(r.stderr || r.stdout)}`);
  return parseMemberList(r.stdout);
}

export function parseMemberList(stdout: string): ListedMember[] {
  return stdout
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [id, status, name, peers, clients, learner] = line.split(",").map((s) => s.trim());
      const urls = (v: string | undefined) => (v ?? "").split(/\s+/).filter(Boolean);
      return {
        id,
        name: name ?? "",
        started: status === "started",
        peerUrls: urls(peers),
        clientUrls: urls(clients),
        learner: learner === "true",
      };
    });
}

/** `{"etcdserver":"3.6.17","etcdcluster":"3.6.0",…}` from one member's client port. */
export function clusterVersion(
  endpoint: string,
  tls: { cacert: string; cert: string; key: string },
  timeoutMs = 10_000,
): Promise<{ server: string; cluster: string; storage?: string }> {
  const url = new URL("/version", endpoint);
  return new Promise((resolve, reject) => {
    const req = https.get(
      url,
      {
        ca: fs.readFileSync(tls.cacert),
        cert: fs.readFileSync(tls.cert),
        key: fs.readFileSync(tls.key),
        timeout: timeoutMs,
      },
      (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => {
          try {
            const v = JSON.parse(body) as { etcdserver?: string; etcdcluster?: string; storage?: string };
            if (res.statusCode !== 200 || !v.etcdserver || !v.etcdcluster)
              throw new Error(`HTTP ${res.statusCode}: ${body.slice(0, 200)}`);
            resolve({ server: v.etcdserver, cluster: v.etcdcluster, storage: v.storage });
          } catch (e) {
            reject(new Error(`GET ${url.href}: ${(e as Error).message}`));
          }
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`GET ${url.href}: no answer in ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}
