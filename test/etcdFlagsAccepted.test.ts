import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { ConfigError, settingsFromStackConfig, type SecureEtcdSettings } from "../components/config";
import { renderEtcdManifest } from "../components/manifests";
import { renderArtifacts, type RenderedArtifacts } from "../harness/artifacts";
import { planCluster } from "../harness/clusterPlan";
import { flagValue, parseFlags, withFlags } from "../harness/etcdFlags";
import { etcdctlTlsArgs, runEtcdctl, untilHealthy } from "../harness/etcdctl";
import { layout } from "../harness/layout";
import { freeLoopbackAddress, spawnManaged, type ManagedProcess } from "../harness/process";
import { stackNames } from "../harness/stackFiles";
import { served, tlsProbe } from "../harness/tlsProbe";
import { etcdReleases, type EtcdRelease } from "../harness/upstream";
import { readStackConfig } from "./support/stackFiles";
import { tempDirs } from "./support/tempDirs";

/*
 * Every flag the package renders is accepted by the real etcd of its version: each shipped stack's
 * manifest, rendered for each release this machine runs (Debian's 3.4.23 and the built 3.5, 3.6, 3.7),
 * starts that release's etcd with exactly the manifest's command — changed only where one host forces
 * it, every change listed — and the member serves mutual TLS, refuses a client without a cert, answers
 * every probe the manifest declares, and (3.6+) reports the feature gate it was given as enabled.
 */

interface Pod {
  spec: {
    containers: {
      command: string[];
      livenessProbe?: { httpGet: { path: string } };
      readinessProbe?: { httpGet: { path: string } };
      startupProbe?: { httpGet: { path: string } };
    }[];
  };
}

/** The stack's members moved onto free loopback addresses (so certs name the addresses etcd binds). */
async function onFreeAddresses(stack: string): Promise<{ config: Record<string, string>; remaps: string[] }> {
  const config = readStackConfig(stack);
  const members = JSON.parse(config["secure-etcd:members"]) as { name: string; ip: string }[];
  const taken: string[] = [];
  const remaps: string[] = [];
  for (const m of members) {
    const ip = await freeLoopbackAddress([2379, 2380, 2381], taken);
    taken.push(ip);
    remaps.push(`member ${m.name}: ${m.ip} → ${ip} (certs issued for ${ip})`);
    m.ip = ip;
  }
  return { config: { ...config, "secure-etcd:members": JSON.stringify(members) }, remaps };
}

/** The stack's settings at another etcd version, or the preview's refusal of that combination. */
function settingsAt(config: Record<string, string>, stack: string, version: string) {
  try {
    return settingsFromStackConfig({ ...config, "secure-etcd:etcdVersion": version }, stack);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
}

/** GET over plain HTTP (the metrics listener). */
async function httpGet(url: string): Promise<{ status: number; body: string }> {
  const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: r.status, body: await r.text() };
}

describe("every rendered etcd flag is accepted by the real etcd of its version @integration", function () {
  this.timeout(600_000);
  const tempDir = tempDirs();
  const releases: EtcdRelease[] = etcdReleases();

  it("covers every supported minor", () => {
    assert.deepEqual(
      releases.map((r) => r.minor),
      ["3.4", "3.5", "3.6", "3.7"],
    );
  });

  for (const stack of stackNames)
    it(`${stack}: its manifest at each release starts that etcd, serves mutual TLS and its probes`, async () => {
      const out = tempDir(`flags-${stack}-`);
      const { config, remaps: moved } = await onFreeAddresses(stack);
      const a = await renderArtifacts({
        stack,
        outDir: path.join(out, "artifacts"),
        configOverrides: config,
      });
      const member = a.settings.members[0];
      // The program's manifest is the pure renderer's: the other versions below come from the renderer.
      assert.equal(
        fs.readFileSync(layout.etcdManifest(a.outDir, member.name), "utf8"),
        renderEtcdManifest(a.settings, member),
      );
      const lines: string[] = [`${stack}: ${moved.join("; ")}`];
      for (const release of releases) {
        const s = settingsAt(config, stack, release.version);
        if (s instanceof ConfigError) {
          // Refused at preview, naming the key: e.g. prod's TLS 1.3 on an etcd without --tls-min-version.
          assert.ok(
            s.problems.some((p) => p.path === "secure-etcd:tls.minVersion") && release.minor === "3.4",
            `${stack} at ${release.version} refused: ${s.message}`,
          );
          lines.push(`  ${release.version}: refused at preview (${s.problems[0].path}), as it must be`);
          continue;
        }
        lines.push(
          `  ${release.version}: ${await startAndCheck(a, s, release, path.join(out, release.version))}`,
        );
      }
      console.log(`      ${lines.join("\n      ")}`);
    });
});

/** Writes the member manifests for `s`'s version, starts member 0 alone, checks it; returns a summary. */
async function startAndCheck(
  a: RenderedArtifacts,
  s: SecureEtcdSettings,
  release: EtcdRelease,
  workDir: string,
): Promise<string> {
  for (const m of s.members)
    fs.writeFileSync(layout.etcdManifest(a.outDir, m.name), renderEtcdManifest(s, m), { mode: 0o600 });
  const plan = planCluster(a.outDir, workDir, { keyPem: a.caKeyPem, certPem: a.caCertPem })[0];
  const pod = parse(fs.readFileSync(layout.etcdManifest(a.outDir, plan.name), "utf8")) as Pod;
  const c = pod.spec.containers[0];
  assert.deepEqual(c.command.slice(1), plan.renderedArgs, "the plan starts from the manifest's command");
  // One member alone: --initial-cluster names only it (the others are not started).
  const alone = `${plan.name}=${flagValue(plan.args, "--initial-advertise-peer-urls")}`;
  const args = withFlags(plan.args, { "--initial-cluster": alone });
  const remaps = [...plan.remaps];
  if (flagValue(plan.args, "--initial-cluster") !== alone)
    remaps.push(`${plan.name}: --initial-cluster → ${alone} (this member is started alone)`);
  assertEveryChangeListed(plan.renderedArgs, args, remaps, plan.name);
  fs.mkdirSync(plan.dataDir, { recursive: true, mode: 0o700 });
  fs.mkdirSync(path.dirname(plan.logFile), { recursive: true, mode: 0o700 });
  let proc: ManagedProcess | undefined;
  try {
    proc = spawnManaged(plan.name, release.etcd, args, plan.logFile);
    await untilHealthy({
      name: plan.name,
      endpoint: plan.clientUrl,
      tlsArgs: etcdctlTlsArgs(a.outDir, "healthcheck-client"),
      proc,
      logFile: plan.logFile,
      timeoutMs: 60_000,
      etcdctlBinary: release.etcdctl,
    });
    return await checkServing(a, plan, c, release, s, remaps);
  } finally {
    await proc?.stop();
  }
}

/** Every flag whose value differs from the manifest's is named in the remaps; none added or dropped. */
function assertEveryChangeListed(
  rendered: string[],
  actual: string[],
  remaps: string[],
  member: string,
): void {
  const r = parseFlags(rendered);
  const x = parseFlags(actual);
  assert.deepEqual(
    x.map(([k]) => k),
    r.map(([k]) => k),
    "same flags in the same order",
  );
  for (const [i, [k, v]] of r.entries())
    if (x[i][1] !== v)
      assert.ok(
        remaps.some((m) => m.startsWith(`${member}: ${k}`)),
        `${k} changed but not listed: ${remaps.join("\n")}`,
      );
}

async function checkServing(
  a: RenderedArtifacts,
  plan: ReturnType<typeof planCluster>[number],
  c: Pod["spec"]["containers"][number],
  release: EtcdRelease,
  s: SecureEtcdSettings,
  remaps: string[],
): Promise<string> {
  const key = `/flags-test/${release.version}`;
  const tls = etcdctlTlsArgs(a.outDir, "apiserver-etcd-client");
  const put = await runEtcdctl(release.etcdctl, [`--endpoints=${plan.clientUrl}`, ...tls, "put", key, "ok"]);
  assert.equal(put.code, 0, put.output);
  const get = await runEtcdctl(release.etcdctl, [`--endpoints=${plan.clientUrl}`, ...tls, "get", key]);
  assert.match(get.stdout, /^ok$/m, get.output);
  const status = await runEtcdctl(release.etcdctl, [
    `--endpoints=${plan.clientUrl}`,
    ...tls,
    ...["endpoint", "status", "-w", "json"],
  ]);
  assert.match(
    status.stdout,
    new RegExp(`"version":"${release.version.replace(/\./g, "\\.")}"`),
    "the server's own version",
  );

  const u = new URL(plan.clientUrl);
  const endpoint = { host: u.hostname, port: Number(u.port) };
  const certless = await tlsProbe({ ...endpoint, caFile: layout.caCert(a.outDir), timeoutMs: 5_000 });
  assert.ok(!served(certless), `a TLS client without a cert was served: ${certless.statusLine}`);
  const withCert = await tlsProbe({
    ...endpoint,
    caFile: layout.caCert(a.outDir),
    certFile: layout.client(a.outDir, "healthcheck-client", "crt"),
    keyFile: layout.client(a.outDir, "healthcheck-client", "key"),
    path: "/version",
  });
  assert.equal(withCert.statusCode, 200, `mutual TLS /version: ${withCert.error ?? withCert.statusLine}`);
  const tls12 = await tlsProbe({
    ...endpoint,
    caFile: layout.caCert(a.outDir),
    certFile: layout.client(a.outDir, "healthcheck-client", "crt"),
    keyFile: layout.client(a.outDir, "healthcheck-client", "key"),
    maxVersion: "TLSv1.2",
  });
  if (s.tls.minVersion === "TLS1.3")
    assert.ok(!served(tls12), "TLS 1.2 served despite --tls-min-version=TLS1.3");
  else assert.equal(tls12.statusCode, 200, `TLS 1.2 with the rendered suites: ${tls12.error}`);

  const probes = [c.livenessProbe, c.readinessProbe, c.startupProbe].flatMap((p) =>
    p ? [p.httpGet.path] : [],
  );
  for (const p of new Set(probes)) {
    const r = await httpGet(`${plan.metricsUrl}${p}`);
    assert.equal(r.status, 200, `probe ${p} on ${plan.metricsUrl}: ${r.status} ${r.body.slice(0, 100)}`);
  }
  const gate = flagValue(plan.args, "--feature-gates");
  if (gate) {
    const metrics = await httpGet(`${plan.metricsUrl}/metrics`);
    for (const g of gate.split(",").map((x) => x.split("=")[0]))
      assert.match(
        metrics.body,
        new RegExp(`etcd_server_feature_enabled\\{name="${g}"[^}]*\\} 1`),
        `${g} enabled`,
      );
  }
  const versionFlags = plan.args.filter((f) =>
    /^--(feature-gates|experimental-|watch-progress|tls-min)/.test(f),
  );
  return (
    `started ${release.version} (${versionFlags.join(" ")}); mTLS put/get, certless refused, ` +
    `TLS 1.2 ${s.tls.minVersion === "TLS1.3" ? "refused" : "served"}, probes ${[...new Set(probes)].join(" ")} → 200` +
    `${gate ? `, ${gate} reported enabled` : ""}; remaps:\n          ${remaps.join("\n          ")}`
  );
}
