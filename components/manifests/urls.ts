import type { EtcdMemberSpec } from "../config/schema";

export const clientPort = 2379;
export const peerPort = 2380;
export const metricsPort = 2381;

/** IPv6 literals go in brackets inside URLs. */
export function hostForUrl(ip: string): string {
  return ip.includes(":") ? `[${ip}]` : ip;
}

export const clientUrl = (m: Pick<EtcdMemberSpec, "ip">) => `https://${hostForUrl(m.ip)}:${clientPort}`;
export const peerUrl = (m: Pick<EtcdMemberSpec, "ip">) => `https://${hostForUrl(m.ip)}:${peerPort}`;

/** `--initial-cluster` value: every member's name and peer URL. */
export function initialCluster(members: readonly EtcdMemberSpec[]): string {
  return members.map((m) => `${m.name}=${peerUrl(m)}`).join(",");
}

/** Unique per cluster and environment so members of two clusters can never join each other by mistake. */
export function initialClusterToken(clusterName: string, environment: string): string {
  return `${clusterName}-${environment}-etcd`;
}
