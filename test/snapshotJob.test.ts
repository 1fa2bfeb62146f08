import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import type * as k8sTypes from "@pulumi/kubernetes";
import type * as JobModule from "../components/backup/snapshotJob";
import type * as DefaultsModule from "../components/backup/defaults";
import * as backupConfig from "../components/config/backup";
import {
  assertPinnedImage,
  DEFAULT_NODE_IMAGE,
  renderBackupClientSecret,
  renderBackupClientSecretMetadata,
  renderSnapshotCronJob,
  renderSnapshotJobManifests,
  renderSnapshotScriptConfigMap,
  renderSnapshotServiceAccount,
  RESERVED_ENV,
  type Container,
  type CronJobManifest,
  type PodSpec,
  type SnapshotJobImages,
  type SnapshotJobRenderOptions,
} from "../components/backup/job";
import {
  assertConfigProblem,
  assertOutputConfigError,
  assertThrowsConfigError,
} from "./support/configErrors";
import { isSecretValue, spyOnRegistrations, type Registration } from "./support/registrationSpy";

// ---------------------------------------------------------------------------------------------------
// Mocks: record inputs, and whether each property reached the engine as a secret (the serialized
// request carries Pulumi's secret signature; the deserialized mock inputs do not).
// ---------------------------------------------------------------------------------------------------

interface Recorded {
  type: string;
  name: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  inputs: any;
  provider?: string;
  /** Top-level property names that were sent as secrets. */
  secretProps: string[];
  dependencies: string[];
}

const resources: Recorded[] = [];
const registrations: Registration[] = [];
const registered = (name: string) => [...registrations].reverse().find((r) => r.name === name);

const mocks: pulumi.runtime.Mocks = {
  newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
    resources.push({
      type: args.type,
      name: args.name,
      inputs: args.inputs,
      provider: args.provider,
      secretProps: registered(args.name)?.secretProps ?? [],
      dependencies: registered(args.name)?.dependencies ?? [],
    });
    return { id: `${args.name}-id`, state: { ...args.inputs } };
  },
  call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
    return args.inputs;
  },
};

function one(type: string, name?: string): Recorded {
  const found = resources.filter((r) => r.type === type && (name === undefined || r.name === name));
  assert.equal(found.length, 1, `expected one ${type}${name ? ` named ${name}` : ""}, got ${found.length}`);
  return found[0];
}

function valueOf<T>(o: pulumi.Input<T>): Promise<T> {
  return new Promise<T>((resolve) => pulumi.output(o).apply((v) => resolve(v as T)));
}

async function settle(): Promise<void> {
  const rt = pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> };
  let last = -1;
  for (let i = 0; i < 50 && last !== resources.length; i++) {
    last = resources.length;
    if (rt.waitForRPCs) await rt.waitForRPCs();
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** `v`, asserted present: rendered objects use @pulumi/kubernetes' types, where most fields are optional. */
function present<T>(v: T | undefined, what: string): T {
  assert.ok(v !== undefined, `${what} is missing`);
  return v;
}

const pem = (label: string, body: string) => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
const TLS = {
  certPem: pem("CERTIFICATE", "YmFja3VwLWNsaWVudA=="),
  keyPem: pem("PRIVATE KEY", "c2VjcmV0LWtleQ=="),
  caPem: pem("CERTIFICATE", "ZXRjZC1jYQ=="),
};
const RUNNER = {
  "snapshot.js": '"use strict";\nrequire("./aws.js").run(process.env.CLUSTER);\n',
  "aws.js": '"use strict";\nmodule.exports = { run: () => undefined };\n',
};
const ROLE = "arn:aws:iam::123456789012:role/payments-etcd-snapshot";
const KMS = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const ENDPOINTS = ["https://10.0.1.10:2379", "https://10.0.2.10:2379", "https://10.0.3.10:2379"];

describe("backup: snapshot job", function () {
  let job: typeof JobModule;
  let defaults: typeof DefaultsModule;

  before(async function () {
    await pulumi.runtime.setMocks(mocks, "secure-etcd", "unit", false);
    spyOnRegistrations(registrations);
    /* eslint-disable @typescript-eslint/no-require-imports */
    job = require("../components/backup/snapshotJob") as typeof JobModule;
    defaults = require("../components/backup/defaults") as typeof DefaultsModule;
    /* eslint-enable @typescript-eslint/no-require-imports */
  });

  const opts = (over: Partial<SnapshotJobRenderOptions> = {}): SnapshotJobRenderOptions => ({
    clusterName: "payments",
    environment: "prod",
    schedule: backupConfig.resolveSnapshotSchedule("prod"),
    etcdEndpoints: ENDPOINTS,
    etcdVersion: "3.5.16",
    bucketName: "payments-prod-etcd-snapshots",
    prefix: "payments/prod/",
    kmsKeyArn: KMS,
    awsRegion: "eu-west-1",
    roleArn: ROLE,
    tls: TLS,
    runner: RUNNER,
    ...over,
  });

  const jobSpecOf = (c: CronJobManifest) => present(c.spec.jobTemplate.spec, "job spec");
  const podOf = (c: CronJobManifest): PodSpec => present(jobSpecOf(c).template.spec, "pod spec");
  const initContainersOf = (c: CronJobManifest) => present(podOf(c).initContainers, "initContainers");
  const volumesOf = (c: CronJobManifest) => present(podOf(c).volumes, "volumes");
  const mountsOf = (k: Container) => present(k.volumeMounts, `${k.name} volumeMounts`);
  const allContainers = (c: CronJobManifest): Container[] => [...initContainersOf(c), ...podOf(c).containers];
  const snapshotContainer = (c: CronJobManifest) => {
    const found = podOf(c).containers.find((x) => x.name === "snapshot");
    assert.ok(found);
    return found;
  };
  const envOf = (c: CronJobManifest) =>
    Object.fromEntries((snapshotContainer(c).env ?? []).map((e) => [e.name, e.value]));

  describe("renderers (pure)", function () {
    it("renders Secret, ConfigMap, ServiceAccount and CronJob in kube-system", function () {
      const m = renderSnapshotJobManifests(opts());
      assert.deepEqual(
        m.objects.map((o) => o.kind),
        ["Secret", "ConfigMap", "ServiceAccount", "CronJob"],
      );
      for (const o of m.objects) {
        assert.equal(o.metadata.namespace, "kube-system");
        assert.equal(o.metadata.labels["app.kubernetes.io/part-of"], "secure-etcd");
        assert.equal(o.metadata.labels["secure-etcd/cluster"], "payments");
      }
      assert.equal(m.cronJob.apiVersion, "batch/v1");
    });

    it("Secret: Opaque, holds the backup client cert, key and the etcd CA", function () {
      const { secret } = renderSnapshotJobManifests(opts());
      assert.equal(secret.type, "Opaque");
      assert.equal(secret.metadata.name, "etcd-snapshot-client-tls");
      assert.deepEqual(secret.stringData, {
        "ca.crt": TLS.caPem,
        "client.crt": TLS.certPem,
        "client.key": TLS.keyPem,
      });
      const notAKey = "c2VjcmV0LWtleQ==";
      const problem = assertThrowsConfigError(
        () => renderSnapshotJobManifests(opts({ tls: { ...TLS, keyPem: notAKey } })),
        { path: "tls.keyPem", message: /PEM private key/ },
      );
      assert.ok(!problem.message.includes(notAKey), "a key is never shown in an error");
    });

    it("ConfigMap carries the runner files verbatim; the CronJob runs snapshot.js with node", function () {
      const m = renderSnapshotJobManifests(opts());
      assert.deepEqual(m.configMap.data, RUNNER);
      const c = snapshotContainer(m.cronJob);
      assert.deepEqual(c.command, ["node", "/scripts/snapshot.js"]);
      const vol = volumesOf(m.cronJob).find((v) => v.configMap);
      assert.equal(vol?.configMap?.name, m.configMap.metadata.name);
      assert.ok(mountsOf(c).some((x) => x.name === vol?.name && x.mountPath === "/scripts" && x.readOnly));
    });

    it("ServiceAccount: IRSA annotation when a role is given, never an API token", function () {
      const withRole = renderSnapshotJobManifests(opts()).serviceAccount;
      assert.deepEqual(withRole.metadata.annotations, { "eks.amazonaws.com/role-arn": ROLE });
      assert.equal(withRole.automountServiceAccountToken, false);
      const without = renderSnapshotJobManifests(opts({ roleArn: undefined })).serviceAccount;
      assert.equal(without.metadata.annotations, undefined);
      const m = renderSnapshotJobManifests(opts());
      assert.equal(podOf(m.cronJob).serviceAccountName, m.serviceAccount.metadata.name);
      assert.equal(podOf(m.cronJob).automountServiceAccountToken, false);
    });

    it("CronJob: schedule/history per environment, Forbid, deadlines, backoff, restartPolicy Never", function () {
      for (const env of ["dev", "staging", "prod"] as const) {
        const d = defaults.snapshotDefaults[env].schedule;
        const c = renderSnapshotJobManifests(
          opts({ environment: env, schedule: backupConfig.resolveSnapshotSchedule(env) }),
        ).cronJob;
        assert.equal(c.spec.schedule, d.schedule, env);
        assert.equal(c.spec.timeZone, "Etc/UTC");
        assert.equal(c.spec.successfulJobsHistoryLimit, d.successfulJobsHistoryLimit, env);
        assert.equal(c.spec.failedJobsHistoryLimit, d.failedJobsHistoryLimit, env);
        assert.equal(c.spec.concurrencyPolicy, "Forbid");
        assert.equal(c.spec.startingDeadlineSeconds, d.startingDeadlineSeconds);
        assert.equal(jobSpecOf(c).activeDeadlineSeconds, d.activeDeadlineSeconds);
        assert.equal(jobSpecOf(c).backoffLimit, d.backoffLimit);
        assert.equal(podOf(c).restartPolicy, "Never");
      }
      const prod = renderSnapshotJobManifests(opts()).cronJob;
      assert.equal(prod.spec.schedule, "*/15 * * * *");
      assert.equal(prod.spec.failedJobsHistoryLimit, 5);
    });

    it("CronJob: runs on control-plane nodes, tolerates their NoSchedule taint, host network", function () {
      const pod = podOf(renderSnapshotJobManifests(opts()).cronJob);
      assert.deepEqual(pod.nodeSelector, { "node-role.kubernetes.io/control-plane": "" });
      assert.deepEqual(pod.tolerations, [
        { key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" },
      ]);
      assert.equal(pod.hostNetwork, true);
      assert.equal(pod.dnsPolicy, "ClusterFirstWithHostNet");
    });

    it("CronJob: non-root, read-only root fs, no privilege escalation, drop ALL, RuntimeDefault seccomp", function () {
      const c = renderSnapshotJobManifests(opts()).cronJob;
      const pod = present(podOf(c).securityContext, "pod securityContext");
      assert.equal(pod.runAsNonRoot, true);
      assert.deepEqual(pod.seccompProfile, { type: "RuntimeDefault" });
      assert.ok(present(pod.runAsUser, "runAsUser") > 0);
      for (const k of allContainers(c)) {
        const sc = present(k.securityContext, `${k.name} securityContext`);
        assert.equal(sc.runAsNonRoot, true, k.name);
        assert.equal(sc.readOnlyRootFilesystem, true, k.name);
        assert.equal(sc.allowPrivilegeEscalation, false, k.name);
        assert.equal(sc.privileged, false, k.name);
        assert.deepEqual(sc.capabilities, { drop: ["ALL"] }, k.name);
        assert.deepEqual(sc.seccompProfile, { type: "RuntimeDefault" }, k.name);
      }
    });

    it("CronJob: snapshot goes to a size-limited emptyDir (configurable), TLS files from the Secret", function () {
      const m = renderSnapshotJobManifests(opts());
      const volumes = volumesOf(m.cronJob);
      const scratch = volumes.find((v) => v.name === "scratch");
      assert.deepEqual(scratch?.emptyDir, { sizeLimit: "16Gi" });
      const env = envOf(m.cronJob);
      const mounts = mountsOf(snapshotContainer(m.cronJob));
      const scratchMount = mounts.find((x) => x.name === "scratch");
      assert.equal(env.WORK_DIR, scratchMount?.mountPath);
      assert.equal(env.TMPDIR, "/tmp");
      assert.ok(
        mounts.some((x) => x.mountPath === "/tmp"),
        "writable /tmp",
      );
      const custom = renderSnapshotJobManifests(opts({ scratchSizeLimit: "40Gi" }));
      assert.deepEqual(volumesOf(custom.cronJob).find((v) => v.name === "scratch")?.emptyDir, {
        sizeLimit: "40Gi",
      });
      // The script's TLS env points at files the Secret provides, mounted read-only with mode 0440.
      const tlsVol = volumes.find((v) => v.secret);
      assert.equal(tlsVol?.secret?.secretName, m.secret.metadata.name);
      assert.equal(tlsVol?.secret?.defaultMode, 0o440);
      const tlsMount = mounts.find((x) => x.name === tlsVol?.name);
      assert.equal(tlsMount?.readOnly, true);
      for (const [var_, key] of [
        ["ETCD_CACERT", "ca.crt"],
        ["ETCD_CERT", "client.crt"],
        ["ETCD_KEY", "client.key"],
      ]) {
        assert.equal(env[var_], `${tlsMount?.mountPath}/${key}`);
        assert.ok(key in m.secret.stringData);
      }
    });

    it("CronJob: every container has resource requests and limits", function () {
      const c = renderSnapshotJobManifests(opts()).cronJob;
      for (const k of allContainers(c)) {
        assert.ok(k.resources?.requests?.cpu && k.resources.requests.memory, `${k.name} requests`);
        assert.ok(k.resources?.limits?.cpu && k.resources.limits.memory, `${k.name} limits`);
      }
      const custom = renderSnapshotJobManifests(
        opts({
          resources: { requests: { cpu: "200m", memory: "512Mi" }, limits: { cpu: "2", memory: "2Gi" } },
        }),
      ).cronJob;
      assert.equal(snapshotContainer(custom).resources?.limits?.memory, "2Gi");
    });

    it("CronJob: pinned, configurable images; etcdctl/etcdutl copied from the etcd image", function () {
      const c = renderSnapshotJobManifests(opts()).cronJob;
      assert.deepEqual(
        initContainersOf(c).map((i) => [i.name, i.image, i.command]),
        [
          [
            "copy-etcdctl",
            "registry.k8s.io/etcd:3.5.16-0",
            ["/bin/cp", "/usr/local/bin/etcdctl", "/opt/etcd-bin/etcdctl"],
          ],
          [
            "copy-etcdutl",
            "registry.k8s.io/etcd:3.5.16-0",
            ["/bin/cp", "/usr/local/bin/etcdutl", "/opt/etcd-bin/etcdutl"],
          ],
        ],
      );
      assert.equal(snapshotContainer(c).image, DEFAULT_NODE_IMAGE);
      assert.equal(assertPinnedImage("images.node", DEFAULT_NODE_IMAGE), undefined);
      assert.match(envOf(c).PATH ?? "", /^\/opt\/etcd-bin:/);
      // etcd 3.4 has no etcdutl.
      const old = renderSnapshotJobManifests(opts({ etcdVersion: "3.4.23" })).cronJob;
      assert.deepEqual(
        initContainersOf(old).map((i) => i.name),
        ["copy-etcdctl"],
      );
      const digest = `registry.example.com/etcd-tools@sha256:${"a".repeat(64)}`;
      const custom = renderSnapshotJobManifests(
        opts({ images: { etcd: "registry.example.com/etcd:3.5.16-0", node: digest } }),
      ).cronJob;
      assert.equal(initContainersOf(custom)[0].image, "registry.example.com/etcd:3.5.16-0");
      assert.equal(snapshotContainer(custom).image, digest);
      assertThrowsConfigError(() => renderSnapshotJobManifests(opts({ images: { node: "node:latest" } })), {
        path: "images.node",
        message: /"node:latest" is not pinned/,
      });
      // The image the job needed before is refused by name, not silently ignored.
      assertThrowsConfigError(
        () =>
          renderSnapshotJobManifests(
            opts({
              images: { awsCli: "public.ecr.aws/aws-cli/aws-cli:2.27.49" } as Partial<SnapshotJobImages>,
            }),
          ),
        { path: "images.awsCli", message: /no longer used: the job runs `node \/scripts\/snapshot\.js`/ },
      );
      assertThrowsConfigError(
        () => renderSnapshotJobManifests(opts({ images: { etcd: "registry.k8s.io/etcd" } })),
        { path: "images.etcd", message: /"registry\.k8s\.io\/etcd" is not pinned/ },
      );
    });

    it("CronJob: env for the script (endpoints in member order, bucket, prefix, key, version, region)", function () {
      const env = envOf(renderSnapshotJobManifests(opts()).cronJob);
      assert.equal(env.ETCD_ENDPOINTS, ENDPOINTS.join(","));
      assert.equal(env.CLUSTER, "payments");
      assert.equal(env.ENVIRONMENT, "prod");
      assert.equal(env.S3_BUCKET, "payments-prod-etcd-snapshots");
      assert.equal(env.S3_PREFIX, "payments/prod/");
      assert.equal(env.KMS_KEY_ID, KMS);
      assert.equal(env.ETCD_VERSION, "3.5.16");
      assert.equal(env.AWS_REGION, "eu-west-1");
      // Which tool reads a snapshot comes from the capability table: etcdutl from 3.5, etcdctl for 3.4.
      assert.equal(env.ETCD_STATUS_TOOL, "etcdutl");
      assert.equal(
        envOf(renderSnapshotJobManifests(opts({ etcdVersion: "3.4.23" })).cronJob).ETCD_STATUS_TOOL,
        "etcdctl",
      );
      assert.equal(
        podOf(renderSnapshotJobManifests(opts({ etcdVersion: "v3.4.23" })).cronJob).containers[0].env?.find(
          (e) => e.name === "ETCD_VERSION",
        )?.value,
        "3.4.23",
      );
    });

    it("IRSA: projected sts.amazonaws.com token by default, nothing extra in webhook mode", function () {
      const c = renderSnapshotJobManifests(opts()).cronJob;
      const env = envOf(c);
      assert.equal(env.AWS_ROLE_ARN, ROLE);
      assert.equal(
        env.AWS_WEB_IDENTITY_TOKEN_FILE,
        "/var/run/secrets/eks.amazonaws.com/serviceaccount/token",
      );
      const tokenVol = volumesOf(c).find((v) => v.name === "aws-iam-token");
      assert.deepEqual(tokenVol?.projected?.sources, [
        { serviceAccountToken: { audience: "sts.amazonaws.com", expirationSeconds: 86400, path: "token" } },
      ]);
      const hooked = renderSnapshotJobManifests(opts({ irsaToken: "webhook" })).cronJob;
      assert.equal(envOf(hooked).AWS_ROLE_ARN, undefined);
      assert.equal(
        volumesOf(hooked).find((v) => v.name === "aws-iam-token"),
        undefined,
      );
      const none = renderSnapshotJobManifests(opts({ roleArn: undefined })).cronJob;
      assert.equal(envOf(none).AWS_ROLE_ARN, undefined);
    });

    it("refuses plain-http endpoints, an empty member list, a non-ARN key and shadowing extraEnv", function () {
      assertThrowsConfigError(
        () => renderSnapshotJobManifests(opts({ etcdEndpoints: ["http://10.0.1.10:2379"] })),
        { path: "etcdEndpoints[0]", message: /https/ },
      );
      assertThrowsConfigError(() => renderSnapshotJobManifests(opts({ etcdEndpoints: [] })), {
        path: "etcdEndpoints",
      });
      assertThrowsConfigError(() => renderSnapshotJobManifests(opts({ kmsKeyArn: "alias/foo" })), {
        path: "kmsKeyArn",
      });
      assertThrowsConfigError(
        () => renderSnapshotJobManifests(opts({ extraEnv: { S3_BUCKET: "elsewhere" } })),
        { path: "extraEnv.S3_BUCKET" },
      );
      const extra = envOf(
        renderSnapshotJobManifests(opts({ extraEnv: { AWS_ENDPOINT_URL: "https://s3.local" } })).cronJob,
      );
      assert.equal(extra.AWS_ENDPOINT_URL, "https://s3.local");
    });

    // Every refused option: [option overrides, the path named, what the message must say].
    const refusals: [Partial<SnapshotJobRenderOptions>, string, RegExp][] = [
      [{ name: "Etcd_Snapshot" }, "name", /"Etcd_Snapshot" is not a DNS label .* at most 40/],
      [{ name: "a".repeat(41) }, "name", /at most 40 characters/],
      [{ namespace: "Kube-System" }, "namespace", /"Kube-System" is not a DNS label/],
      [{ clusterName: "" }, "clusterName", /"" is not a label value/],
      [{ environment: "prod/eu" }, "environment", /"prod\/eu" is not a label value/],
      [{ tls: { ...TLS, certPem: "nope" } }, "tls.certPem", /is not a PEM certificate/],
      [{ tls: { ...TLS, keyPem: TLS.certPem } }, "tls.keyPem", /is not a PEM private key/],
      [{ tls: { ...TLS, caPem: "" } }, "tls.caPem", /is not a PEM certificate/],
      [{ runner: { "snapshot.js": "  " } }, "runner.snapshot.js", /is empty; expected a runner file's text/],
      [{ runner: { "aws.js": "x" } }, "runner", /has no snapshot\.js/],
      [
        { roleArn: "arn:aws:iam::123:role/x" },
        "roleArn",
        /"arn:aws:iam::123:role\/x" is not a valid IAM role ARN/,
      ],
      [{ irsaToken: "sidecar" as "webhook" }, "irsaToken", /"sidecar" .*allowed: projected, webhook/],
      [{ etcdVersion: "3.5" }, "etcdVersion", /"3\.5" is not an etcd version like 3\.5\.16/],
      [{ etcdEndpoints: [] }, "etcdEndpoints", /at least one member client URL/],
      [
        { etcdEndpoints: [ENDPOINTS[0], "http://10.0.2.10:2379"] },
        "etcdEndpoints[1]",
        /"http:\/\/10\.0\.2\.10:2379" .*plain http is refused/,
      ],
      [
        { etcdEndpoints: ["https://10.0.1.10:2379/v3"] },
        "etcdEndpoints[0]",
        /is not an https:\/\/ member client URL/,
      ],
      [{ bucketName: "" }, "bucketName", /"" is empty; expected the snapshot bucket name/],
      [{ prefix: "payments/prod" }, "prefix", /"payments\/prod" must end with "\/"/],
      [{ prefix: "" }, "prefix", /is empty/],
      [{ kmsKeyArn: "alias/foo" }, "kmsKeyArn", /"alias\/foo" is not a KMS key ARN/],
      [{ awsRegion: " " }, "awsRegion", /is empty; expected the bucket's AWS region/],
      [{ images: { etcd: "registry.k8s.io/etcd:latest" } }, "images.etcd", /:latest" is not pinned/],
      [{ images: { node: "node 26" } }, "images.node", /"node 26" is not an image reference/],
      [
        { extraEnv: { S3_BUCKET: "elsewhere" } },
        "extraEnv.S3_BUCKET",
        /would shadow a variable the job sets itself/,
      ],
      [{ extraEnv: { "1BAD": "x" } }, "extraEnv.1BAD", /"1BAD" is not a variable name/],
      [
        { schedule: { ...backupConfig.resolveSnapshotSchedule("prod"), startingDeadlineSeconds: 1 } },
        "schedule.startingDeadlineSeconds",
        /./,
      ],
    ];

    it("every refused option throws a ConfigError naming it, showing the value and what is allowed", function () {
      for (const [over, path, message] of refusals) {
        assertThrowsConfigError(() => renderSnapshotJobManifests(opts(over)), {
          path,
          message,
          source: /^invalid snapshot job options /,
        });
      }
    });

    it("renderSnapshotJobManifests reports every bad option at once", function () {
      let err: unknown;
      try {
        renderSnapshotJobManifests(opts({ bucketName: "", kmsKeyArn: "alias/foo", etcdEndpoints: [] }));
      } catch (e) {
        err = e;
      }
      for (const path of ["bucketName", "kmsKeyArn", "etcdEndpoints"]) assertConfigProblem(err, { path });
    });

    it("each renderer refuses what it uses, with the caller's source", function () {
      const source = 'SnapshotJob "x" args';
      const cases: [() => unknown, string][] = [
        [() => renderBackupClientSecretMetadata({ ...opts(), clusterName: "" }, source), "clusterName"],
        [() => renderBackupClientSecret({ ...opts(), tls: { ...TLS, caPem: "x" } }, source), "tls.caPem"],
        [() => renderSnapshotScriptConfigMap({ ...opts(), runner: {} }, source), "runner"],
        [() => renderSnapshotServiceAccount({ ...opts(), roleArn: "role" }, source), "roleArn"],
        [() => renderSnapshotCronJob({ ...opts(), etcdVersion: "latest" }, source), "etcdVersion"],
        [() => assertPinnedImage("images.etcd", "etcd", source), "images.etcd"],
      ];
      for (const [fn, path] of cases)
        assertThrowsConfigError(fn, { path, source: /^invalid SnapshotJob "x" args / });
    });

    it("rendered objects are @pulumi/kubernetes input types as they are (compile-time: no casts)", function () {
      const m = renderSnapshotJobManifests(opts());
      // If a renderer's type drifted from @pulumi/kubernetes', these assignments would not compile.
      const secret: k8sTypes.types.input.core.v1.Secret = m.secret;
      const configMap: k8sTypes.types.input.core.v1.ConfigMap = m.configMap;
      const serviceAccount: k8sTypes.types.input.core.v1.ServiceAccount = m.serviceAccount;
      const cronJob: k8sTypes.types.input.batch.v1.CronJob = m.cronJob;
      const cronJobArgs: k8sTypes.batch.v1.CronJobArgs = {
        metadata: m.cronJob.metadata,
        spec: m.cronJob.spec,
      };
      assert.deepEqual(
        [secret.kind, configMap.kind, serviceAccount.kind, cronJob.kind],
        ["Secret", "ConfigMap", "ServiceAccount", "CronJob"],
      );
      assert.equal(cronJobArgs.spec, m.cronJob.spec);
    });

    it("RESERVED_ENV is exactly the set of variables the job sets itself", function () {
      // opts() has a role and the default projected token: every built-in variable is rendered.
      const builtIn = Object.keys(envOf(renderSnapshotJobManifests(opts()).cronJob));
      assert.deepEqual([...builtIn].sort(), [...RESERVED_ENV].sort());
    });

    it("schedule resolution: per-environment defaults, overrides, unknown environments must be explicit", function () {
      assert.equal(backupConfig.resolveSnapshotSchedule("dev").schedule, "0 */6 * * *");
      assert.equal(backupConfig.resolveSnapshotSchedule("staging").schedule, "0 * * * *");
      const o = backupConfig.resolveSnapshotSchedule("prod", {
        schedule: "*/5 * * * *",
        failedJobsHistoryLimit: 10,
      });
      assert.equal(o.schedule, "*/5 * * * *");
      assert.equal(o.failedJobsHistoryLimit, 10);
      assert.equal(o.successfulJobsHistoryLimit, 3);
      assert.throws(() => backupConfig.resolveSnapshotSchedule("qa"), /schedule\.schedule/);
      assert.throws(
        () => backupConfig.resolveSnapshotSchedule("prod", { schedule: "every 5 minutes" }),
        /schedule\.schedule/,
      );
      const full = {
        schedule: "@hourly",
        successfulJobsHistoryLimit: 1,
        failedJobsHistoryLimit: 1,
        startingDeadlineSeconds: 60,
        activeDeadlineSeconds: 600,
        backoffLimit: 0,
      };
      assert.equal(backupConfig.resolveSnapshotSchedule("qa", full).schedule, "@hourly");
    });

    it("YAML round-trips; the workload YAML holds no key material", function () {
      const m = renderSnapshotJobManifests(opts());
      const docs = YAML.parseAllDocuments(m.yaml).map((d) => d.toJS());
      assert.deepEqual(docs, m.objects);
      assert.deepEqual(YAML.parse(m.secretYaml), m.secret);
      const work = YAML.parseAllDocuments(m.workloadYaml).map((d) => d.toJS());
      assert.deepEqual(work, [m.configMap, m.serviceAccount, m.cronJob]);
      assert.ok(!m.workloadYaml.includes("PRIVATE KEY"));
      assert.ok(m.secretYaml.includes("PRIVATE KEY"));
    });
  });

  describe("SnapshotJob component (mocks)", function () {
    const args = (over: Partial<JobModule.SnapshotJobArgs> = {}): JobModule.SnapshotJobArgs => ({
      clusterName: "payments",
      environment: "prod",
      etcdEndpoints: ENDPOINTS,
      etcdVersion: "3.5.16",
      bucketName: "payments-prod-etcd-snapshots",
      prefix: "payments/prod/",
      kmsKeyArn: KMS,
      awsRegion: "eu-west-1",
      roleArn: ROLE,
      tls: TLS,
      runner: RUNNER,
      ...over,
    });

    it("renders only (no Kubernetes objects) without a provider; the Secret YAML is a secret", async function () {
      resources.length = 0;
      const j = new job.SnapshotJob("render-only", args());
      const [secretYaml, manifestsYaml] = await Promise.all([
        valueOf(j.secretYaml),
        valueOf(j.manifestsYaml),
      ]);
      await settle();
      assert.equal(await pulumi.isSecret(j.secretYaml), true, "secretYaml must be a pulumi secret");
      assert.equal(await pulumi.isSecret(j.manifestsYaml), false, "workload YAML stays readable");
      assert.ok(secretYaml.includes("client.key"));
      assert.ok(!manifestsYaml.includes("PRIVATE KEY"));
      const kinds = YAML.parseAllDocuments(manifestsYaml).map((d) => (d.toJS() as { kind: string }).kind);
      assert.deepEqual(kinds, ["ConfigMap", "ServiceAccount", "CronJob"]);
      assert.deepEqual(
        resources.filter((r) => r.type.startsWith("kubernetes:")).map((r) => r.type),
        [],
      );
      assert.ok(resources.some((r) => r.type === "secure-etcd:index:SnapshotJob"));
      const m = await valueOf(j.manifests);
      assert.equal(m.cronJob.spec.schedule, "*/15 * * * *");
      assert.equal(j.namespace, "kube-system");
      assert.equal(j.cronJobName, "etcd-snapshot");
    });

    it("creates Secret (stringData as a secret), ConfigMap, ServiceAccount and CronJob with the provider", async function () {
      resources.length = 0;
      const k8s = await import("@pulumi/kubernetes");
      const provider = new k8s.Provider("test-k8s", { kubeconfig: "{}" });
      const j = new job.SnapshotJob("applied", args({ provider, schedule: { schedule: "*/10 * * * *" } }));
      const manifests = await valueOf(j.manifests);
      await valueOf(j.secretYaml);
      await settle();

      const secret = one("kubernetes:core/v1:Secret");
      assert.equal(secret.inputs.type, "Opaque");
      assert.equal(secret.inputs.metadata.namespace, "kube-system");
      assert.equal(secret.inputs.metadata.name, "etcd-snapshot-client-tls");
      // Mock inputs keep Pulumi's secret wrapper: stringData is one, the metadata is not.
      assert.ok(isSecretValue(secret.inputs.stringData), "stringData must reach the engine as a secret");
      assert.deepEqual(secret.inputs.stringData.value, {
        "ca.crt": TLS.caPem,
        "client.crt": TLS.certPem,
        "client.key": TLS.keyPem,
      });
      assert.ok(secret.secretProps.includes("stringData"));
      assert.ok(!secret.secretProps.includes("metadata"), "metadata stays readable in diffs");
      assert.match(secret.provider ?? "", /test-k8s/);

      const cm = one("kubernetes:core/v1:ConfigMap");
      assert.deepEqual(cm.inputs.data, RUNNER);
      const sa = one("kubernetes:core/v1:ServiceAccount");
      assert.deepEqual(sa.inputs.metadata.annotations, { "eks.amazonaws.com/role-arn": ROLE });
      assert.equal(sa.inputs.automountServiceAccountToken, false);

      const cron = one("kubernetes:batch/v1:CronJob");
      assert.equal(cron.inputs.spec.schedule, "*/10 * * * *");
      assert.deepEqual(cron.inputs.spec, JSON.parse(JSON.stringify(manifests.cronJob.spec)));
      assert.equal(cron.inputs.spec.concurrencyPolicy, "Forbid");
      assert.match(cron.provider ?? "", /test-k8s/);
      for (const dep of ["applied-client-tls", "applied-script", "applied-service-account"]) {
        assert.ok(
          cron.dependencies.some((u) => u.endsWith(`::${dep}`)),
          `CronJob depends on ${dep}`,
        );
      }
    });

    it("rejects an unknown environment without a full schedule before creating anything", function () {
      assertThrowsConfigError(() => new job.SnapshotJob("unknown-env", args({ environment: "qa" })), {
        path: "schedule.schedule",
        source: /^invalid SnapshotJob "unknown-env" args /,
      });
      assert.ok(!resources.some((r) => r.name === "unknown-env"));
    });

    it("refuses bad plain args before anything is registered, naming the arg", async function () {
      resources.length = 0;
      for (const [over, path] of [
        [{ images: { etcd: "registry.k8s.io/etcd" } }, "images.etcd"],
        [{ extraEnv: { PATH: "/bin" } }, "extraEnv.PATH"],
        [{ name: "Bad_Name" }, "name"],
        [{ namespace: "-" }, "namespace"],
        [{ irsaToken: "none" as "webhook" }, "irsaToken"],
      ] as const) {
        assertThrowsConfigError(() => new job.SnapshotJob("bad-plain", args(over)), {
          path,
          source: /^invalid SnapshotJob "bad-plain" args /,
        });
      }
      await settle();
      assert.ok(!resources.some((r) => r.name === "bad-plain"), "nothing registered");
    });

    it("refuses bad Output args when they resolve, with a ConfigError naming the arg", async function () {
      const j = new job.SnapshotJob(
        "bad-output",
        args({
          etcdEndpoints: pulumi.output([ENDPOINTS[0], "http://10.0.2.10:2379"]),
          tls: { ...TLS, keyPem: pulumi.secret("not a key") },
        }),
      );
      const expected = { source: /^invalid SnapshotJob "bad-output" args / };
      await assertOutputConfigError(j.manifests, {
        ...expected,
        path: "etcdEndpoints[1]",
        message: /plain http is refused/,
      });
      const problem = await assertOutputConfigError(j.secretYaml, { ...expected, path: "tls.keyPem" });
      assert.ok(!problem.message.includes("not a key"), "the secret is not shown");
    });
  });
});
