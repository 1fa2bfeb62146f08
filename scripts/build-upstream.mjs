#!/usr/bin/env node
// Builds the upstream binaries of upstream/binaries.json (etcd 3.5/3.6/3.7 with etcdctl and etcdutl,
// kube-apiserver and kubectl, etcd's benchmark tool, …) from their wrapper modules, when missing.
//
// Why wrapper modules: etcd's and Kubernetes' own go.mod files carry local `replace` directives, so
// `go install pkg@version` refuses them; a module of ours that requires them (and, for Kubernetes,
// replaces every staging module by its published v0.x) builds them with the pinned go.sum.
//
// Cached outside the clone in <cache>/bin/<id>-<version>/ (cache: $SECURE_ETCD_CACHE, else
// $XDG_CACHE_HOME/secure-etcd, else ~/.cache/secure-etcd), so every clone on the machine shares them.
// A build is reused while its stamp matches the wrapper module's files and the row; with everything
// built this only reads stamps. A failed build exits 1 naming the module and the last lines of its log.
//
//   node scripts/build-upstream.mjs            build what is missing
//   node scripts/build-upstream.mjs --check    exit 1 (listing them) if anything is missing; build nothing
/* global setTimeout, setInterval, clearInterval */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// SECURE_ETCD_UPSTREAM_DIR: another table and its modules (the build script's own tests use it).
const upstreamDir = path.resolve(process.env.SECURE_ETCD_UPSTREAM_DIR ?? path.join(root, "upstream"));
const moduleLabel = (b) => path.relative(root, path.join(upstreamDir, b.module));
const table = JSON.parse(fs.readFileSync(path.join(upstreamDir, "binaries.json"), "utf8"));

export function cacheRoot() {
  if (process.env.SECURE_ETCD_CACHE) return path.resolve(process.env.SECURE_ETCD_CACHE);
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return path.join(base, "secure-etcd");
}

const binDir = (b) => path.join(cacheRoot(), "bin", `${b.id}-${b.version}`);

/** Every file of the wrapper module (go.mod, go.sum, any Go source of ours) and the row itself. */
function sourceHash(b) {
  const h = createHash("sha256").update(JSON.stringify(b));
  const walk = (dir) => {
    for (const e of fs
      .readdirSync(dir, { withFileTypes: true })
      .sort((x, y) => x.name.localeCompare(y.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else h.update(path.relative(upstreamDir, p)).update("\0").update(fs.readFileSync(p)).update("\0");
    }
  };
  walk(path.join(upstreamDir, b.module));
  return h.digest("hex");
}

function isBuilt(b) {
  try {
    const stamp = JSON.parse(fs.readFileSync(path.join(binDir(b), ".stamp.json"), "utf8"));
    if (stamp.sourceHash !== sourceHash(b)) return false;
    return Object.keys(b.binaries).every((n) => fs.statSync(path.join(binDir(b), n)).mode & 0o100);
  } catch {
    return false;
  }
}

function ldflags(b) {
  const [major, minor] = b.version.split(".");
  const x = (b.versionPackages ?? []).flatMap((p) => [
    `-X ${p}.gitVersion=v${b.version}`,
    `-X ${p}.gitMajor=${major}`,
    `-X ${p}.gitMinor=${minor}`,
    `-X ${p}.gitTreeState=clean`,
  ]);
  return ["-s", "-w", ...x].join(" ");
}

/** go build one binary; resolves with the number of packages compiled, rejects with the log's tail. */
function goBuild(b, name, pkg, outDir, log, progress) {
  return new Promise((resolve, reject) => {
    const args = ["build", "-v", "-trimpath", "-ldflags", ldflags(b), "-o", path.join(outDir, name), pkg];
    const child = spawn("go", args, {
      cwd: path.join(upstreamDir, b.module),
      env: { ...process.env, CGO_ENABLED: "0", GOTOOLCHAIN: "local", GOFLAGS: "-mod=readonly" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out = fs.openSync(log, "a");
    fs.writeSync(out, `$ go ${args.join(" ")}\n`);
    let packages = 0;
    const onData = (chunk) => {
      fs.writeSync(out, chunk);
      packages += String(chunk)
        .split("\n")
        .filter((l) => /^[\w.-]+(\/|$)/.test(l)).length;
      progress(packages);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", (e) => reject(new Error(`cannot run go: ${e.message}`)));
    child.on("close", (code) => {
      fs.closeSync(out);
      if (code === 0) resolve(packages);
      else reject(new Error(`go build ${pkg} exited ${code}`));
    });
  });
}

/** Another setup (a second clone, a helper) may be building the same row: wait for it, or take over a dead lock. */
async function withLock(b, fn) {
  const lock = `${binDir(b)}.lock`;
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  for (let announced = false; ;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, "pid"), String(process.pid));
      break;
    } catch (e) {
      if (e.code !== "EEXIST") throw e;
      const pid = Number(fs.readFileSync(path.join(lock, "pid"), "utf8").trim() || 0);
      let alive;
      try {
        alive = pid > 0 && process.kill(pid, 0);
      } catch {
        alive = false;
      }
      if (!alive) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (!announced) console.log(`setup: waiting for pid ${pid}, which is building ${b.id} ${b.version}…`);
      announced = true;
      await new Promise((r) => setTimeout(r, 2000));
      if (isBuilt(b)) return;
    }
  }
  try {
    if (!isBuilt(b)) await fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

function tail(file, lines = 25) {
  try {
    return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

async function build(b) {
  const names = Object.keys(b.binaries);
  const final = binDir(b);
  const work = `${final}.tmp-${process.pid}`;
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  const log = path.join(work, "build.log");
  console.log(
    `setup: building ${b.id} ${b.version} (${names.join(", ")}) from ${moduleLabel(b)} — ` +
      `first time on this machine only, about ${b.estimateMinutes} min on 2 cores; log: ${log}`,
  );
  const started = Date.now();
  let compiled = 0;
  let current = names[0];
  const beat = setInterval(() => {
    const s = Math.round((Date.now() - started) / 1000);
    console.log(
      `setup:   … ${current}: ${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s of about ` +
        `${b.estimateMinutes}m, ${compiled} packages compiled`,
    );
  }, 30_000);
  try {
    for (const name of names) {
      current = name;
      const base = compiled;
      await goBuild(b, name, b.binaries[name].package, work, log, (n) => (compiled = base + n));
      const spec = b.binaries[name];
      const r = spawnSync(path.join(work, name), spec.versionArgs, { encoding: "utf8", timeout: 30_000 });
      const said = `${r.stdout ?? ""}${r.stderr ?? ""}`;
      if (!said.includes(b.reports))
        throw new Error(
          `${name} ${spec.versionArgs.join(" ")} does not report ${b.reports}: ${said.slice(0, 300)}`,
        );
    }
  } catch (e) {
    clearInterval(beat);
    console.error(`setup: building ${b.id} ${b.version} from ${moduleLabel(b)} failed: ${e.message}`);
    console.error(`setup: last lines of ${log}:\n${tail(log)}`);
    process.exit(1);
  }
  clearInterval(beat);
  fs.writeFileSync(
    path.join(work, ".stamp.json"),
    JSON.stringify({
      id: b.id,
      version: b.version,
      sourceHash: sourceHash(b),
      builtAt: new Date().toISOString(),
    }) + "\n",
  );
  fs.rmSync(final, { recursive: true, force: true });
  fs.renameSync(work, final);
  const s = Math.round((Date.now() - started) / 1000);
  console.log(
    `setup: built ${b.id} ${b.version} in ${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s → ${final}`,
  );
}

async function main() {
  const check = process.argv.includes("--check");
  const missing = table.builds.filter((b) => !isBuilt(b));
  if (missing.length === 0) return;
  if (check) {
    console.error(`build-upstream: not built: ${missing.map((b) => `${b.id} ${b.version}`).join(", ")}`);
    process.exit(1);
  }
  const go = spawnSync("go", ["version"], { encoding: "utf8" });
  if (go.status !== 0) {
    console.error(
      "setup: Go (1.26 or newer) is needed to build etcd and kube-apiserver; install it (apt-get install golang-go, or go.dev/dl)",
    );
    process.exit(1);
  }
  const total = missing.reduce((n, b) => n + b.estimateMinutes, 0);
  console.log(
    `setup: ${missing.length} upstream build(s) missing (${go.stdout.trim()}); about ${total} min in all, once per machine`,
  );
  for (const b of missing) await withLock(b, () => build(b));
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  main().catch((e) => {
    console.error(`build-upstream: ${e.message}`);
    process.exit(1);
  });
