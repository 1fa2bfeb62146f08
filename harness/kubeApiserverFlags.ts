/**
 * One kube-apiserver's command line on this host: the flags the package renders (read from the rendered
 * kube-apiserver patch, the file users apply) with their node paths mapped to local files, plus what a
 * bare test apiserver needs that kubeadm would otherwise provide. Every change and every added flag is
 * a listed remap, with the reason, like harness/clusterPlan.ts does for etcd.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { nodePaths } from "../components/manifests/paths";
import type { SecureEtcdSettings } from "../components/config/schema";
import { isLoopbackIp } from "../tools/shared/loopback";
import { parseFlags, formatFlags, type Flag } from "./etcdFlags";
import { serviceClusterIpRange, servingCert, type KubePki } from "./kubePki";
import { layout } from "./layout";

/** The flags the package renders for kube-apiserver, in order, from DIR/manifests/kube-apiserver-patch.yaml. */
export function renderedApiserverFlags(dir: string): string[] {
  const file = layout.apiserverPatch(dir);
  const ops = parse(fs.readFileSync(file, "utf8")) as { op?: string; path?: string; value?: unknown }[];
  const flags = ops
    .filter((o) => o.op === "add" && o.path === "/spec/containers/0/command/-")
    .map((o) => String(o.value));
  if (flags.length === 0) throw new Error(`${file} adds no kube-apiserver flag`);
  return flags;
}

export interface KubeApiserverPlanInput {
  /** apiserver-1, … */
  name: string;
  /** Artifacts directory (the rendered patch, certs and EncryptionConfiguration). */
  dir: string;
  settings: Pick<SecureEtcdSettings, "paths">;
  /**
   * A node root the node bootstrap installed (harness/nodeInstall.ts): node paths are read there, as the
   * apiserver on that node reads them. Without one, from the artifacts directory.
   */
  nodeRoot?: string;
  ip: string;
  port: number;
  /** This apiserver's own files: its copy of the EncryptionConfiguration, its log. */
  workDir: string;
  pki: KubePki;
}

export interface KubeApiserverPlan {
  name: string;
  url: string;
  ip: string;
  port: number;
  renderedFlags: string[];
  args: string[];
  /** The file its --encryption-provider-config names (its own copy: a rolling change reaches one at a time). */
  encryptionConfig: string;
  logFile: string;
  /** This apiserver's changes (`apiserver-1: …`), and the bare flags every apiserver gets (`every kube-apiserver: …`). */
  remaps: string[];
}

export function planKubeApiserver(o: KubeApiserverPlanInput): KubeApiserverPlan {
  const rendered = renderedApiserverFlags(o.dir);
  const remaps: string[] = [];
  const note = (s: string) => remaps.push(`${o.name}: ${s}`);
  const own = path.join(o.workDir, o.name);
  fs.mkdirSync(own, { recursive: true, mode: 0o700 });
  const encryptionConfig = path.join(own, "encryption-config.yaml");
  const fileFor = nodeFileResolver(o);
  const mapped = parseFlags(rendered).map(([k, v]): Flag => {
    if (k === "--etcd-servers") {
      const hosts = (v ?? "").split(",").map((u) => new URL(u).hostname);
      if (!hosts.every(isLoopbackIp))
        throw new Error(`--etcd-servers=${v}: render with members mapped onto loopback addresses first`);
      return [k, v];
    }
    if (k === "--encryption-provider-config") {
      const source = fileFor(k, v ?? "");
      fs.copyFileSync(source, encryptionConfig);
      fs.chmodSync(encryptionConfig, 0o600);
      note(`${k} ${v} → ${encryptionConfig} (a copy of ${source} per apiserver: each node has its own file)`);
      return [k, encryptionConfig];
    }
    if (v?.startsWith("/")) {
      const file = fileFor(k, v);
      note(`${k} ${v} → ${file}`);
      return [k, file];
    }
    return [k, v];
  });
  const serving = servingCert(o.pki, o.name, o.ip);
  const bare: [Flag, string][] = [
    [["--bind-address", o.ip], "this apiserver's loopback address (one host)"],
    [["--advertise-address", o.ip], "the same address (the netns has no other interface to pick)"],
    [["--secure-port", String(o.port)], "kubeadm's port"],
    [
      ["--endpoint-reconciler-type", "none"],
      "the kubernetes Service's Endpoints may not hold a loopback address, so the reconciler would refuse to start",
    ],
    [
      ["--tls-cert-file", serving.cert],
      "a serving cert for this address from the rehearsal's cluster CA (kubeadm's apiserver.crt)",
    ],
    [["--tls-private-key-file", serving.key], "its key"],
    [
      ["--client-ca-file", o.pki.caFile],
      "the rehearsal's cluster CA, which signed the admin client (kubeadm's ca.crt)",
    ],
    [["--authorization-mode", "RBAC"], "RBAC; the admin client is in system:masters"],
    [["--service-account-issuer", "https://kubernetes.default.svc.cluster.local"], "kubeadm's issuer"],
    [
      ["--service-account-key-file", o.pki.serviceAccount.publicKey],
      "the cluster's service-account key (kubeadm's sa.pub)",
    ],
    [
      ["--service-account-signing-key-file", o.pki.serviceAccount.privateKey],
      "its private half (kubeadm's sa.key)",
    ],
    [["--service-cluster-ip-range", serviceClusterIpRange], "kubeadm's default service network"],
    [
      ["--disable-admission-plugins", "ServiceAccount"],
      "no controller manager creates service accounts here (envtest does the same)",
    ],
    [
      ["--feature-gates", "APIServerIdentity=false,UnknownVersionInteroperabilityProxy=false"],
      "an apiserver's identity is a hash of the host name, the same for every apiserver on one host, so they would " +
        "share one identity lease (the peer proxy needs identities)",
    ],
  ];
  // Flags that differ per apiserver are listed per apiserver; the others once, for every apiserver.
  for (const [[k, v], why] of bare)
    if (perApiserver.has(k)) note(`+ ${k}=${v} (bare test apiserver: ${why})`);
    else remaps.push(`every kube-apiserver: + ${k}=${v} (bare test apiserver: ${why})`);
  return {
    name: o.name,
    url: `https://${o.ip}:${o.port}`,
    ip: o.ip,
    port: o.port,
    renderedFlags: rendered,
    args: formatFlags([...mapped, ...bare.map(([f]) => f)]),
    encryptionConfig,
    logFile: path.join(o.workDir, "logs", `${o.name}.log`),
    remaps,
  };
}

const perApiserver = new Set([
  "--bind-address",
  "--advertise-address",
  "--tls-cert-file",
  "--tls-private-key-file",
]);

/** Maps a node path a rendered flag names to the local file that stands for it; unknown paths throw. */
function nodeFileResolver(o: KubeApiserverPlanInput): (flag: string, nodePath: string) => string {
  const p = nodePaths(o.settings);
  const artifacts = new Map([
    [p.caCert, layout.caCert(o.dir)],
    [p.certs["apiserver-etcd-client"].cert, layout.client(o.dir, "apiserver-etcd-client", "crt")],
    [p.certs["apiserver-etcd-client"].key, layout.client(o.dir, "apiserver-etcd-client", "key")],
    [p.encryptionConfig, layout.encryptionConfig(o.dir)],
  ]);
  return (flag, nodePath) => {
    const file = o.nodeRoot ? path.join(o.nodeRoot, nodePath) : artifacts.get(nodePath);
    if (file === undefined)
      throw new Error(`${flag}=${nodePath} names a node path the rehearsal does not know how to map`);
    if (!fs.existsSync(file))
      throw new Error(
        `${flag}=${nodePath}: ${file} does not exist${o.nodeRoot ? " (not installed on the node)" : ""}`,
      );
    return file;
  };
}
