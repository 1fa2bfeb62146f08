import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { repoRoot } from "../harness/stackFiles";
import { etcdReleaseFor, etcdReleases, kubernetesBinaries, upstreamBinary } from "../harness/upstream";

const say = (bin: string, args: string[]) => {
  const r = spawnSync(bin, args, { encoding: "utf8", timeout: 30_000 });
  return `${r.stdout}${r.stderr}`;
};

describe("upstream binaries built by setup @integration", () => {
  it("every etcd release reports the version the matrix lists, etcdctl and etcdutl too", () => {
    const releases = etcdReleases();
    assert.deepEqual(
      releases.map((r) => r.minor),
      ["3.4", "3.5", "3.6", "3.7"],
    );
    for (const r of releases) {
      assert.match(
        say(r.etcd, ["--version"]),
        new RegExp(`etcd Version: ${r.version.replace(/\./g, "\\.")}\\b`),
      );
      assert.match(
        say(r.etcdctl, ["version"]),
        new RegExp(`etcdctl version: ${r.version.replace(/\./g, "\\.")}\\b`),
      );
      if (r.etcdutl)
        assert.match(
          say(r.etcdutl, ["version"]),
          new RegExp(`etcdutl version: ${r.version.replace(/\./g, "\\.")}\\b`),
        );
    }
  });

  it("maps a stack's etcdVersion to the built patch of its minor, listing the remap", () => {
    const six = etcdReleaseFor("3.6.8")!;
    assert.equal(six.release.minor, "3.6");
    assert.match(six.remap!, /^etcd 3\.6\.8 → 3\.6\.\d+ \(the built release of 3\.6\)$/);
    const exact = etcdReleaseFor(six.release.version)!;
    assert.equal(exact.remap, undefined);
    assert.equal(etcdReleaseFor("3.9.0"), undefined);
  });

  it("kube-apiserver and kubectl report v1.37.2 (the ldflags are set)", () => {
    const k = kubernetesBinaries();
    assert.match(say(k.kubeApiserver, ["--version"]), /^Kubernetes v1\.37\.2$/m);
    assert.match(say(k.kubectl, ["version", "--client"]), /Client Version: v1\.37\.2/);
  });

  it("etcd's benchmark tool is built", () => {
    assert.match(
      say(upstreamBinary("etcd-benchmark", "benchmark"), ["--help"]),
      /Available Commands:[\s\S]*\n\s+put\s/,
    );
  });

  it("every wrapper module pins its go.sum and names the Go it needs", () => {
    const table = JSON.parse(fs.readFileSync(path.join(repoRoot, "upstream", "binaries.json"), "utf8")) as {
      builds: { module: string }[];
    };
    for (const b of table.builds) {
      const dir = path.join(repoRoot, "upstream", b.module);
      assert.ok(fs.statSync(path.join(dir, "go.sum")).size > 0, `${b.module}/go.sum`);
      assert.match(fs.readFileSync(path.join(dir, "go.mod"), "utf8"), /^go 1\.26\.0$/m, `${b.module}/go.mod`);
    }
  });
});
