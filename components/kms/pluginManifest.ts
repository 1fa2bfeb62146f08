import { parse, stringify } from "yaml";
import { kmsPluginBinary } from "./constants";
import { encryptionContextFlag, kmsPluginPodName } from "./naming";
import type { KmsPluginPlan } from "./plan";

export interface KmsPluginManifestInput {
  plan: KmsPluginPlan;
  /** The envelope key's ARN (never an alias: an alias can be re-pointed under stored data). */
  keyArn: string;
  region: string;
  image: string;
  encryptionContext: Record<string, string>;
}

/**
 * The plugin's command line, as aws-encryption-provider takes it (cmd/server/main.go): the key, the
 * region, the socket, its health server on loopback only (hostNetwork: `:8083` would expose /metrics on
 * every node address), health checks through the v2 API, and the encryption context.
 */
export function kmsPluginCommand(i: KmsPluginManifestInput): string[] {
  return [
    kmsPluginBinary,
    `--key=${i.keyArn}`,
    `--region=${i.region}`,
    `--listen=${i.plan.socketPath}`,
    `--health-port=127.0.0.1:${i.plan.healthPort}`,
    "--health-kms-version=v2",
    `--encryption-context=${encryptionContextFlag(i.encryptionContext)}`,
  ];
}

const socketVolume = "kms-plugin-socket";

/**
 * One kms key's plugin as a static pod: one pod per key (not one container per key in a shared pod), so
 * adding a staged key never restarts the primary's plugin. hostNetwork reaches the node's instance
 * profile through IMDS (no credentials on disk) before any CNI exists. Pure.
 */
export function renderKmsPluginManifest(i: KmsPluginManifestInput): string {
  if (!/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/.+$/.test(i.keyArn))
    throw new Error(`kms plugin ${i.plan.key}: ${JSON.stringify(i.keyArn)} is not a KMS key ARN`);
  const probe = (p: string) => ({
    httpGet: { host: "127.0.0.1", path: p, port: i.plan.healthPort, scheme: "HTTP" },
    // The plugin's own health check is an Encrypt+Decrypt with a 5 s timeout, cached for 30 s.
    timeoutSeconds: 10,
    periodSeconds: 10,
    failureThreshold: 6,
  });
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: kmsPluginPodName(i.plan.key),
      namespace: "kube-system",
      labels: {
        component: "kms-plugin",
        tier: "control-plane",
        "secure-etcd/kms-key": i.plan.key,
      },
      annotations: { "secure-etcd/kms-key-arn": i.keyArn, "secure-etcd/kms-endpoint": i.plan.endpoint },
    },
    spec: {
      hostNetwork: true,
      priority: 2000001000,
      priorityClassName: "system-node-critical",
      securityContext: { seccompProfile: { type: "RuntimeDefault" } },
      containers: [
        {
          name: "aws-encryption-provider",
          image: i.image,
          imagePullPolicy: "IfNotPresent",
          command: kmsPluginCommand(i),
          // /livez fails only when KMS is unreachable (a disabled key or denied call is the operator's to
          // fix, and restarting would not help); /healthz is the deep check kube-apiserver's status mirrors.
          livenessProbe: { ...probe("/livez"), initialDelaySeconds: 10 },
          readinessProbe: probe("/healthz"),
          resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "128Mi" } },
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ["ALL"] },
          },
          volumeMounts: [{ name: socketVolume, mountPath: i.plan.socketDir }],
        },
      ],
      volumes: [{ name: socketVolume, hostPath: { path: i.plan.socketDir, type: "DirectoryOrCreate" } }],
    },
  };
  return stringify(pod, { lineWidth: 0 });
}

/** The plugin's flags read back from a rendered manifest (the drills run exactly these). */
export function kmsPluginCommandOf(manifest: string): string[] {
  const pod = parse(manifest) as { spec?: { containers?: { command?: unknown[] }[] } };
  const command = pod?.spec?.containers?.[0]?.command;
  if (!Array.isArray(command) || command.length === 0) throw new Error("kms plugin manifest has no command");
  return command.map(String);
}
