import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { renderApiserverEtcdFlags } from "../components/manifests/apiserver";
import { renderArtifacts } from "../harness/artifacts";
import { startCluster, type RunningCluster } from "../harness/cluster";
import { encryptionConfigFor, freshKey, stackKeys, storedPrefix } from "../harness/encryptionKeys";
import {
  apiserverEtcdConnection,
  startKubeApiservers,
  type KubeApiserverFleet,
} from "../harness/kubeApiserver";
import { layout } from "../harness/layout";
import { sleep } from "../harness/process";
import { availableStacks } from "../harness/stackFiles";
import { etcdReleaseFor, kubernetesBinaries } from "../harness/upstream";
import { configFileHash } from "../tools/encryptionConfigStatus/args";
import { encryptionConfigStatus } from "../tools/encryptionConfigStatus/run";
import { etcdctlOk } from "../tools/verifyEncryption/etcdctl";
import { tempDirs } from "./support/tempDirs";

/** Runs the shipped check in-process against the fleet's apiservers. */
async function configStatus(
  fleet: KubeApiserverFleet,
  expect: string,
): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
  const code = await encryptionConfigStatus(
    [
      `--apiservers=${fleet.servers.map((s) => s.url).join(",")}`,
      `--expect=${expect}`,
      `--kubeconfig=${fleet.pki.kubeconfig}`,
      `--kubectl=${fleet.kubectlBinary}`,
    ],
    io,
  );
  return { code, out: lines.join("\n") };
}

describe("kube-apiserver runs the package's rendered flags, for every shipped stack @integration", function () {
  this.timeout(600_000);
  const tempDir = tempDirs();

  for (const stack of availableStacks())
    it(`${stack}: the rendered --etcd-* and --encryption-provider-config flags are accepted and the apiserver serves`, async () => {
      const tmp = tempDir(`kube-apiserver-${stack}-`);
      const dir = path.join(tmp, "artifacts");
      const a = await renderArtifacts({ stack, outDir: dir, mapMembersToLoopback: true });
      const s = a.settings;
      const etcd = etcdReleaseFor(s.etcdVersion);
      assert.ok(etcd, `no etcd release runs ${s.etcdVersion} here`);
      let cluster: RunningCluster | undefined;
      let fleet: KubeApiserverFleet | undefined;
      try {
        cluster = await startCluster({
          dir,
          workDir: path.join(tmp, "work"),
          caKeyPem: a.caKeyPem,
          etcdBinary: etcd.release.etcd,
          etcdctlBinary: etcd.release.etcdctl,
        });
        fleet = await startKubeApiservers({
          dir,
          settings: s,
          workDir: path.join(tmp, "apiservers"),
          addresses: [s.members[0].ip],
          startNow: 0,
        });
        const [server] = fleet.servers;
        // What runs is exactly what the package renders: every rendered flag, node paths mapped, nothing dropped.
        assert.deepEqual(server.plan.renderedFlags, renderApiserverEtcdFlags(s));
        for (const f of server.plan.renderedFlags) {
          const [name, value] = f.split(/=(.*)/s);
          const ran = server.plan.args.filter((x) => x.startsWith(`${name}=`));
          assert.equal(ran.length, 1, `${name} runs once`);
          if (!value.startsWith("/")) assert.equal(ran[0], f, `${name} runs as rendered`);
          else
            assert.ok(
              server.plan.remaps.some((r) => r.includes(`${name} ${value} → `)),
              `${name}'s path change is a listed remap`,
            );
        }
        assert.equal(
          server.plan.args.includes("--encryption-provider-config-automatic-reload=true"),
          s.encryption.automaticReload,
        );
        const primary = s.encryption.keys.find((k) => k.state === "primary")!;
        if (primary.provider === "kms") {
          // No KMS v2 plugin is built here: the apiserver loads the rendered config and serves, but its
          // KMS health check fails, so it never becomes ready and cannot write.
          await server.start({ until: "serving" });
          const version = JSON.parse((await server.get("/version")).body).gitVersion;
          assert.equal(version, `v${kubernetesBinaries().version}`);
          let loaded: { code: number; out: string } = { code: -1, out: "" };
          for (let i = 0; i < 120 && loaded.code !== 0; i++, await sleep(500))
            loaded = await configStatus(fleet, server.encryptionConfig);
          assert.equal(loaded.code, 0, loaded.out);
          const readyz = await server.get("/readyz?verbose");
          assert.notEqual(readyz.status, 200);
          assert.match(readyz.body, /\[-\]kms-providers? failed/);
          return;
        }
        await server.start();
        assert.equal(
          JSON.parse((await server.get("/version")).body).gitVersion,
          `v${kubernetesBinaries().version}`,
        );
        const keys = stackKeys(dir, s);
        const ns = "flags-check";
        await server.kubectl.create([
          { namespace: ns },
          { resource: "secrets", namespace: ns, name: "s1", data: { value: "v1" } },
        ]);
        const conn = apiserverEtcdConnection(dir, cluster.etcdctlBinary, cluster.clientUrls());
        const raw = await etcdctlOk(conn, ["get", `/registry/secrets/${ns}/s1`, "--print-value-only"]);
        assert.ok(
          raw.stdout.startsWith(storedPrefix(keys.primary)),
          `stored under ${storedPrefix(keys.primary)}`,
        );
        const status = await configStatus(fleet, layout.encryptionConfig(dir));
        assert.equal(status.code, 0, status.out);
        assert.ok(
          status.out.includes(configFileHash(fs.readFileSync(layout.encryptionConfig(dir)))),
          status.out,
        );
        // The next rotation step's config: a fresh key staged.
        const staged = freshKey("next", keys.primary.provider);
        const next = encryptionConfigFor(
          [...keys.keys, staged],
          { ...keys.states, [staged.name]: "staged" },
          keys.resources,
          keys.identityFallback,
        );
        const nextFile = path.join(tmp, "next.yaml");
        fs.writeFileSync(nextFile, next);
        server.writeEncryptionConfig(next);
        if (!s.encryption.automaticReload) {
          // Without automatic reload a changed file is not loaded until a restart: the check names the lag.
          const lag = await configStatus(fleet, nextFile);
          assert.equal(lag.code, 1, lag.out);
          assert.match(
            lag.out,
            new RegExp(
              `^${server.url.replace(/\./g, "\\.")} +${configFileHash(fs.readFileSync(layout.encryptionConfig(dir)))} +LAGS$`,
              "m",
            ),
          );
          await server.restart();
        }
        // With it, the apiserver polls the file (every minute) and the check turns to 0 once it has.
        let after = await configStatus(fleet, nextFile);
        for (let i = 0; i < 180 && after.code !== 0; i++, await sleep(1000))
          after = await configStatus(fleet, nextFile);
        assert.equal(after.code, 0, after.out);
      } finally {
        await fleet?.stop();
        await cluster?.stop();
      }
    });
});
