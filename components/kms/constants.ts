/*
 * Facts about the KMS v2 plugin the package renders on every control-plane node: AWS's
 * aws-encryption-provider (sigs.k8s.io/aws-encryption-provider). Checked against its source at commit
 * 6d4f71e (2026-06-16; cmd/server/main.go, pkg/plugin/plugin_v2.go, pkg/cloud/cloud.go, README.md,
 * cloudbuild.yaml, Dockerfile) and kubernetes/k8s.io's registry.k8s.io/images/
 * k8s-staging-aws-encryption-provider/promoter-manifest.yaml. docs/kms-v2.md says what each one means.
 */

/**
 * The image: the project's promoter manifest publishes gcr.io/k8s-staging-aws-encryption-provider into
 * registry.k8s.io/aws-encryption-provider/; its tags follow the Kubernetes minor it builds against
 * (v1.33.0 …; 1.36.0 is the dependency update of 2026-05-01). Pinned to an exact tag here; pin a digest
 * (or your own mirror) with `encryption.kms.pluginImage`. Its entrypoint is /go-runner, so the command
 * names the binary.
 */
export const defaultKmsPluginImage =
  "registry.k8s.io/aws-encryption-provider/aws-encryption-provider:v1.36.0";
export const kmsPluginBinary = "/aws-encryption-provider";

/**
 * The plugin's health server: its default `:8080` collides with other control-plane listeners under
 * hostNetwork; its README moves it to 8083. Each plugin instance (one per kms key) needs its own.
 */
export const defaultKmsHealthPortBase = 8083;

/** Control-plane ports a plugin's health server must not take (hostNetwork). */
export const reservedControlPlanePorts: Readonly<Record<number, string>> = Object.freeze({
  2379: "etcd client",
  2380: "etcd peer",
  2381: "etcd metrics",
  6443: "kube-apiserver",
  10250: "kubelet",
  10256: "kube-proxy health",
  10257: "kube-controller-manager",
  10259: "kube-scheduler",
});

/**
 * The AWS KMS calls the plugin makes (V2Plugin.Encrypt/Decrypt and its Encrypt+Decrypt health check);
 * it never calls DescribeKey or GenerateDataKey. The node roles get exactly these.
 */
export const kmsPluginActions: readonly string[] = Object.freeze(["kms:Decrypt", "kms:Encrypt"]);

/** The envelope key's deletion window unless `encryption.kms.keyDeletionWindowDays` says otherwise. */
export const defaultEnvelopeKeyDeletionWindowDays = 30;
