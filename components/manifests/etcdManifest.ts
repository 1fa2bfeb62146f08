import { stringify } from "yaml";
import type { EtcdMemberSpec, SecureEtcdSettings } from "../config/schema";
import { capabilitiesOf, type EtcdCapabilities } from "../etcd/capabilities";
import { nodePaths } from "./paths";
import { clientUrl, initialCluster, initialClusterToken, metricsPort, peerUrl } from "./urls";

/** Flags whose values CIS 2.1–2.7 check; exported so tests and the policy pack share one list. */
export const requiredTlsFlags = [
  "--cert-file",
  "--key-file",
  "--client-cert-auth",
  "--trusted-ca-file",
  "--peer-cert-file",
  "--peer-key-file",
  "--peer-client-cert-auth",
  "--peer-trusted-ca-file",
] as const;

/** Never rendered: self-signed auto TLS defeats the dedicated CA (CIS 2.3, 2.6). */
export const forbiddenFlags = ["--auto-tls", "--peer-auto-tls"] as const;

export type EtcdManifestSettings = Pick<
  SecureEtcdSettings,
  "clusterName" | "environment" | "members" | "etcdVersion" | "etcdImage" | "paths" | "tls"
>;

/** The etcd command line for one member, kubeadm's flags plus TLS hardening the target version accepts. */
export function renderEtcdFlags(s: EtcdManifestSettings, member: EtcdMemberSpec): string[] {
  const p = nodePaths(s);
  const caps = capabilitiesOf(s.etcdVersion);
  const flags = [
    `--name=${member.name}`,
    `--data-dir=${p.dataDir}`,
    `--advertise-client-urls=${clientUrl(member)}`,
    `--listen-client-urls=${[...new Set(["https://127.0.0.1:2379", clientUrl(member)])].join(",")}`,
    `--listen-peer-urls=${peerUrl(member)}`,
    `--initial-advertise-peer-urls=${peerUrl(member)}`,
    `--initial-cluster=${initialCluster(s.members)}`,
    `--initial-cluster-token=${initialClusterToken(s.clusterName, s.environment)}`,
    `--initial-cluster-state=new`,
    `--listen-metrics-urls=http://127.0.0.1:${metricsPort}`,
    `--snapshot-count=10000`,
    ...kubeadmVersionFlags(caps),
    // client TLS (CIS 2.1, 2.2, 2.7)
    `--cert-file=${p.certs.server.cert}`,
    `--key-file=${p.certs.server.key}`,
    `--client-cert-auth=true`,
    `--trusted-ca-file=${p.caCert}`,
    // peer TLS (CIS 2.4, 2.5)
    `--peer-cert-file=${p.certs.peer.cert}`,
    `--peer-key-file=${p.certs.peer.key}`,
    `--peer-client-cert-auth=true`,
    `--peer-trusted-ca-file=${p.caCert}`,
  ];
  flags.push(...hardeningFlags(s));
  return flags;
}

/**
 * kubeadm's version-dependent flags (phases/etcd/local.go), in the form the release accepts: the data
 * corruption check before serving (added for the 3.5 corruption bugs) and 5 s watch progress
 * notifications (kube-apiserver's watch cache and consistent reads rely on them). 3.6 deprecated the
 * `--experimental-*` forms for a feature gate and an unprefixed flag; 3.7 removed them, so kubeadm 1.34+
 * switches at 3.6 and 1.36+ renders only the new forms.
 */
export function kubeadmVersionFlags(caps: EtcdCapabilities): string[] {
  const out: string[] = [];
  if (caps.featureGates) out.push("--feature-gates=InitialCorruptCheck=true");
  else if (caps.experimentalInitialCorruptCheck) out.push("--experimental-initial-corrupt-check=true");
  if (caps.watchProgressNotifyInterval) out.push("--watch-progress-notify-interval=5s");
  else if (caps.experimentalWatchProgressNotifyInterval)
    out.push("--experimental-watch-progress-notify-interval=5s");
  return out;
}

/**
 * TLS hardening beyond kubeadm, version-gated. Go refuses cipher-suite settings when only TLS 1.3 is
 * allowed (its suites are fixed), so with TLS1.3 we set the minimum version alone. On etcd without
 * --tls-min-version, ECDHE+AEAD-only suites still rule out TLS 1.0/1.1, which have no AEAD suites.
 */
export function hardeningFlags(s: Pick<SecureEtcdSettings, "etcdVersion" | "tls">): string[] {
  const caps = capabilitiesOf(s.etcdVersion);
  const out: string[] = [];
  if (caps.tlsMinVersion) out.push(`--tls-min-version=${s.tls.minVersion}`);
  if (caps.cipherSuites && s.tls.minVersion !== "TLS1.3")
    out.push(`--cipher-suites=${s.tls.cipherSuites.join(",")}`);
  return out;
}

/** A complete etcd static pod manifest for one member (what kubeadm writes to /etc/kubernetes/manifests/etcd.yaml). */
export function renderEtcdManifest(s: EtcdManifestSettings, member: EtcdMemberSpec): string {
  const p = nodePaths(s);
  const probes = etcdProbes(capabilitiesOf(s.etcdVersion));
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: "etcd",
      namespace: "kube-system",
      labels: { component: "etcd", tier: "control-plane" },
      annotations: { "kubeadm.kubernetes.io/etcd.advertise-client-urls": clientUrl(member) },
    },
    spec: {
      hostNetwork: true,
      priority: 2000001000,
      priorityClassName: "system-node-critical",
      securityContext: { seccompProfile: { type: "RuntimeDefault" } },
      containers: [
        {
          name: "etcd",
          image: s.etcdImage,
          imagePullPolicy: "IfNotPresent",
          command: ["etcd", ...renderEtcdFlags(s, member)],
          resources: { requests: { cpu: "100m", memory: "100Mi" } },
          ...probes,
          volumeMounts: [
            { mountPath: p.dataDir, name: "etcd-data" },
            { mountPath: p.etcdPkiDir, name: "etcd-certs", readOnly: true },
          ],
        },
      ],
      volumes: [
        // The data dir must be 0700 (CIS file check); node bootstrap creates it so, etcd keeps it so.
        { hostPath: { path: p.dataDir, type: "DirectoryOrCreate" }, name: "etcd-data" },
        { hostPath: { path: p.etcdPkiDir, type: "Directory" }, name: "etcd-certs" },
      ],
    },
  };
  return stringify(pod, { lineWidth: 0 });
}

interface HttpProbe {
  failureThreshold: number;
  httpGet: { host: string; path: string; port: number; scheme: "HTTP" };
  initialDelaySeconds: number;
  periodSeconds: number;
  timeoutSeconds: number;
}

/**
 * The probes kubeadm gives etcd, on the metrics listener, for what the release serves: `/livez` and
 * `/readyz` where it has them (kubeadm#3039: liveness must not fail on a lost quorum or NOSPACE, which
 * `/health` does), `/health` with kubeadm's 3.5 query before that, plain `/health` on older releases.
 * Timings are kubeadm's (staticpod.LivenessProbe, ReadinessProbe, StartupProbe with its 4 min budget).
 */
export function etcdProbes(caps: EtcdCapabilities): {
  livenessProbe: HttpProbe;
  readinessProbe?: HttpProbe;
  startupProbe: HttpProbe;
} {
  const probe = (
    path: string,
    initialDelaySeconds: number,
    failureThreshold: number,
    periodSeconds: number,
  ) => ({
    failureThreshold,
    httpGet: { host: "127.0.0.1", path, port: metricsPort, scheme: "HTTP" as const },
    initialDelaySeconds,
    periodSeconds,
    timeoutSeconds: 15,
  });
  if (caps.livezReadyz)
    return {
      livenessProbe: probe("/livez", 10, 8, 10),
      readinessProbe: probe("/readyz", 0, 3, 1),
      startupProbe: probe("/readyz", 10, 24, 10),
    };
  const query = caps.healthProbeQuery;
  return {
    livenessProbe: probe(query ? "/health?exclude=NOSPACE&serializable=true" : "/health", 10, 8, 10),
    startupProbe: probe(query ? "/health?serializable=false" : "/health", 10, 24, 10),
  };
}
