import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { parse } from "yaml";
import { ConfigError, validateSettings, type SecureEtcdSettings } from "../components/config";
import { checkEtcdVersionStep, etcdStep } from "../components/config/etcdUpgrade";
import {
  checkedEtcdReleases,
  etcdCapabilities,
  hasCapability,
  parseEtcdVersion,
  snapshotFileTool,
  supportedEtcdVersions,
  unsupportedVersionReason,
  type EtcdCapability,
} from "../components/etcd/capabilities";
import { renderEtcdFlags, renderEtcdManifest, renderKubeadmPatches } from "../components/manifests";
import { etcdReleases } from "../harness/upstream";
import { RecordingMocks } from "./support/recordingMocks";
import { runProgram } from "./support/program";
import { readStackConfig } from "./support/stackFiles";

const v = (text: string) => parseEtcdVersion(text)!;
const has = (text: string, c: EtcdCapability) => hasCapability(v(text), c);

function settings(etcdVersion: string, overrides: Record<string, unknown> = {}): SecureEtcdSettings {
  return validateSettings(
    {
      clusterName: "payments",
      environment: "prod",
      etcdVersion,
      members: [
        { name: "cp-1", ip: "10.0.1.10" },
        { name: "cp-2", ip: "10.0.2.10" },
        { name: "cp-3", ip: "10.0.3.10" },
      ],
      ...overrides,
    },
    "",
    "test",
  );
}
const flagsAt = (version: string) => {
  const s = settings(version);
  return renderEtcdFlags(s, s.members[0]);
};
const probesAt = (version: string) => {
  const s = settings(version);
  const c = parse(renderEtcdManifest(s, s.members[0])).spec.containers[0];
  return {
    liveness: c.livenessProbe?.httpGet.path,
    readiness: c.readinessProbe?.httpGet.path,
    startup: c.startupProbe?.httpGet.path,
  };
};

describe("the etcd capability table (CHANGELOG-3.4…3.7, kubeadm local.go)", () => {
  it("backported rows hold from the first patch of each minor line, and on every later minor", () => {
    const rows: [EtcdCapability, string[], string[]][] = [
      ["tlsMinVersion", ["3.4.25", "3.5.8", "3.6.0", "3.7.4"], ["3.4.24", "3.5.7", "3.3.27"]],
      ["livezReadyz", ["3.4.29", "3.5.11", "3.6.0", "3.7.0"], ["3.4.23", "3.4.28", "3.5.10"]],
      ["restoreBumpRevision", ["3.4.27", "3.5.10", "3.6.0", "3.7.4"], ["3.4.23", "3.4.26", "3.5.9"]],
      ["experimentalWatchProgressNotifyInterval", ["3.4.16", "3.5.0", "3.6.17"], ["3.4.15", "3.7.0"]],
    ];
    for (const [c, yes, no] of rows) {
      for (const x of yes) assert.ok(has(x, c), `${c} at ${x}`);
      for (const x of no) assert.ok(!has(x, c), `no ${c} at ${x}`);
    }
  });

  it("3.6 brings feature gates and un-prefixed flags; 3.7 drops every --experimental-* form", () => {
    assert.ok(!has("3.5.36", "featureGates") && has("3.6.0", "featureGates"));
    assert.ok(has("3.6.17", "experimentalInitialCorruptCheck"), "deprecated, still accepted in 3.6");
    assert.ok(!has("3.7.0", "experimentalInitialCorruptCheck"));
    assert.ok(has("3.6.0", "watchProgressNotifyInterval") && !has("3.5.36", "watchProgressNotifyInterval"));
  });

  it("snapshot files: etcdctl on 3.4, etcdutl from 3.5; etcdctl lost status/restore in 3.6", () => {
    assert.equal(snapshotFileTool(v("3.4.23")), "etcdctl");
    assert.equal(snapshotFileTool(v("3.5.0")), "etcdutl");
    assert.ok(has("3.5.36", "etcdctlSnapshotStatusRestore") && !has("3.6.0", "etcdctlSnapshotStatusRestore"));
  });

  it("the v2 store check is the 3.5.32+ etcdutl's (it reads the WAL); gone in 3.6", () => {
    assert.ok(
      !has("3.5.31", "v2storeCheck") && has("3.5.32", "v2storeCheck") && !has("3.6.0", "v2storeCheck"),
    );
  });

  it("supports 3.4.x to 3.7.x; a newer minor is refused naming the newest checked release", () => {
    assert.equal(checkedEtcdReleases.at(-1), "3.7.4");
    for (const ok of ["3.4.0", "3.5.16", "3.6.17", "3.7.99"])
      assert.equal(unsupportedVersionReason(ok), undefined, ok);
    assert.match(
      unsupportedVersionReason("3.8.0")!,
      /newer than any etcd release.*newest checked is 3\.7\.4/,
    );
    assert.match(unsupportedVersionReason("3.3.27")!, /not supported; allowed: 3\.4\.0 up to 3\.7\.x/);
    assert.equal(supportedEtcdVersions.below, "3.8.0");
    assert.throws(
      () => settings("3.8.1"),
      (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.path === "etcdVersion"),
    );
  });
});

describe("the etcd manifest per release", () => {
  it("3.4: the experimental forms, no --tls-min-version, /health probes", () => {
    const f = flagsAt("3.4.23");
    assert.ok(f.includes("--experimental-initial-corrupt-check=true"));
    assert.ok(f.includes("--experimental-watch-progress-notify-interval=5s"));
    assert.ok(!f.some((x) => x.startsWith("--tls-min-version") || x.startsWith("--feature-gates")));
    assert.deepEqual(probesAt("3.4.23"), { liveness: "/health", readiness: undefined, startup: "/health" });
  });

  it("3.5 before 3.5.11: kubeadm's /health query; from 3.5.11: /livez and /readyz", () => {
    assert.deepEqual(probesAt("3.5.10"), {
      liveness: "/health?exclude=NOSPACE&serializable=true",
      readiness: undefined,
      startup: "/health?serializable=false",
    });
    assert.deepEqual(probesAt("3.5.11"), { liveness: "/livez", readiness: "/readyz", startup: "/readyz" });
    assert.ok(flagsAt("3.5.36").includes("--experimental-initial-corrupt-check=true"));
  });

  for (const version of ["3.6.0", "3.6.17", "3.7.4"])
    it(`${version}: the feature gate and the un-prefixed flag, no --experimental-* at all`, () => {
      const f = flagsAt(version);
      assert.ok(f.includes("--feature-gates=InitialCorruptCheck=true"));
      assert.ok(f.includes("--watch-progress-notify-interval=5s"));
      assert.deepEqual(
        f.filter((x) => x.startsWith("--experimental-")),
        [],
      );
      assert.ok(f.includes("--tls-min-version=TLS1.2"));
      assert.deepEqual(probesAt(version), { liveness: "/livez", readiness: "/readyz", startup: "/readyz" });
    });

  it("the kubeadm patch adds only the TLS hardening kubeadm does not render itself", () => {
    const ops = parse(renderKubeadmPatches(settings("3.7.4"))["etcd+json.yaml"]) as { value: string }[];
    assert.deepEqual(
      ops.map((o) => o.value.split("=")[0]),
      ["--tls-min-version", "--cipher-suites"],
    );
  });
});

describe("etcd version steps (etcd's upgrade guides)", () => {
  const refused = (from: string, to: string) => {
    const s = etcdStep(from, to);
    assert.equal(s.problems.length, 1, `${from} → ${to}: ${JSON.stringify(s)}`);
    return s.problems[0];
  };

  it("a patch step, a minor step from the floor, 3.4 → 3.5: allowed", () => {
    for (const [a, b] of [
      ["3.6.11", "3.6.17"],
      ["3.5.32", "3.6.0"],
      ["3.5.36", "3.6.17"],
      ["3.6.11", "3.7.4"],
      ["3.4.23", "3.5.36"],
    ])
      assert.deepEqual(etcdStep(a, b).problems, [], `${a} → ${b}`);
    const minor = etcdStep("3.5.36", "3.6.17");
    assert.ok(minor.minorStep);
    assert.match(minor.warnings[0], /secure-etcd preflight.*3\.5\.32\+.*v2 store check/);
    assert.doesNotMatch(etcdStep("3.6.17", "3.7.4").warnings[0], /v2 store/);
  });

  it("a downgrade across minors is refused; a patch downgrade is allowed with a warning", () => {
    assert.match(refused("3.6.17", "3.5.36"), /downgrade from 3\.6\.17.*keep 3\.6\.17.*etcdctl downgrade/);
    assert.match(refused("3.7.4", "3.5.36"), /downgrade/);
    const patch = etcdStep("3.6.17", "3.6.11");
    assert.deepEqual(patch.problems, []);
    assert.match(patch.warnings[0], /patch downgrade/);
  });

  it("a skipped minor is refused, naming the safe next step", () => {
    assert.match(
      refused("3.5.36", "3.7.4"),
      /skips a minor release from 3\.5\.36.*safe next step is 3\.6\.17/,
    );
    assert.match(refused("3.4.23", "3.7.4"), /skips 2 minor releases.*safe next step is 3\.5\.36/);
  });

  it("a minor step from below the guide's floor is refused, naming the patch to reach first", () => {
    assert.match(
      refused("3.5.31", "3.6.17"),
      /below 3\.5\.32.*first move etcdVersion to 3\.5\.36 \(3\.5\.32 or later\)/,
    );
    assert.match(refused("3.5.26", "3.6.0"), /below 3\.5\.32/, "3.5.26 was the floor until etcd#21849");
    assert.match(refused("3.6.10", "3.7.4"), /below 3\.6\.11.*3\.6\.17/);
  });

  it("the preview check throws a ConfigError naming etcdVersion", () => {
    assert.throws(
      () => checkEtcdVersionStep("3.5.21", "3.6.17", "test"),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.problems.length === 1 &&
        e.problems[0].path === "etcdVersion" &&
        /against the etcd version last deployed/.test(e.message),
    );
    assert.throws(
      () => checkEtcdVersionStep("latest", "3.6.17", "test"),
      (e: unknown) => e instanceof ConfigError && e.problems[0].path === "previousEtcdVersion",
    );
  });
});

describe("the program refuses an unsupported etcd step at preview, reading its own last deployment", () => {
  const self = (stack: string) => `organization/secure-etcd/${stack}`;
  const refusal = (deployed: Record<string, unknown>, stack = "staging") =>
    assert.rejects(
      runProgram(stack, new RecordingMocks({ stackOutputs: { [self(stack)]: deployed } })),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.deepEqual(
          e.problems.map((p) => p.path),
          ["etcdVersion"],
        );
        return true;
      },
    );

  it("exports the etcd version it renders (what the next preview reads)", async () => {
    const { outputs } = await runProgram("staging");
    const version = await outputs.etcdVersion;
    assert.equal(version, readStackConfig("staging")["secure-etcd:etcdVersion"]);
  });

  it("staging (3.6.17): from 3.5.36 it deploys; from below 3.5.32, from 3.7, it is refused", async () => {
    await runProgram(
      "staging",
      new RecordingMocks({ stackOutputs: { [self("staging")]: { etcdVersion: "3.5.36" } } }),
    );
    await refusal({ etcdVersion: "3.5.21" });
    await refusal({ etcdVersion: "3.7.4" });
  });

  it("a deployment from before the etcdVersion output is read from its promotion record", async () => {
    await refusal({
      promotion: { packageVersion: "0.1.0", fingerprint: "x", settings: { etcdVersion: "3.5.21" } },
    });
  });

  it("dev (3.7.4) from 3.5.36 skips 3.6: refused", async () => {
    await refusal({ etcdVersion: "3.5.36" }, "dev");
  });
});

describe("the capability table agrees with the real binaries @integration", () => {
  const help = (bin: string, args: string[]) => {
    const r = spawnSync(bin, args, { encoding: "utf8", timeout: 30_000 });
    return `${r.stdout}${r.stderr}`;
  };
  for (const r of etcdReleases())
    it(`etcd ${r.version} (${r.source}): flags, etcdctl/etcdutl subcommands`, () => {
      const caps = etcdCapabilities(v(r.version));
      const etcdHelp = help(r.etcd, ["--help"]);
      const flag = (name: string) => new RegExp(`^\\s+${name}\\b`, "m").test(etcdHelp);
      assert.equal(flag("--tls-min-version"), caps.tlsMinVersion, "--tls-min-version");
      assert.equal(flag("--cipher-suites"), caps.cipherSuites, "--cipher-suites");
      assert.equal(flag("--feature-gates"), caps.featureGates, "--feature-gates");
      assert.equal(flag("--experimental-initial-corrupt-check"), caps.experimentalInitialCorruptCheck);
      assert.equal(
        flag("--experimental-watch-progress-notify-interval"),
        caps.experimentalWatchProgressNotifyInterval,
      );
      assert.equal(flag("--watch-progress-notify-interval"), caps.watchProgressNotifyInterval);
      assert.equal(!!r.etcdutl, caps.etcdutl, "etcdutl shipped");
      assert.equal(
        /^\s+restore\b/m.test(help(r.etcdctl, ["snapshot", "--help"])),
        caps.etcdctlSnapshotStatusRestore,
      );
      const restoreTool = caps.etcdutl ? r.etcdutl! : r.etcdctl;
      assert.equal(
        /--bump-revision/.test(help(restoreTool, ["snapshot", "restore", "--help"])),
        caps.restoreBumpRevision,
      );
      if (r.etcdutl)
        assert.equal(
          /v2store/.test(help(r.etcdutl, ["check", "--help"])),
          caps.v2storeCheck,
          "etcdutl check v2store",
        );
    });

  it("checkedEtcdReleases are the releases this machine runs", () => {
    assert.deepEqual(
      etcdReleases().map((r) => r.version),
      [...checkedEtcdReleases],
    );
  });
});
