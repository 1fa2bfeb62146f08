#!/usr/bin/env node
// `npm test`: every test file, in mocha processes running at once ("lanes").
//
// Why lanes: most of the suite's time is spent waiting on child processes (etcd elections, kube-apiserver
// start-ups, the AWS CLI, TLS handshakes that must time out), so lanes side by side on 2 cores roughly
// divide the wall time. Why not mocha --parallel: the files that start the rendered cluster bind the fixed
// 127.0.0.11–13 the rehearsal maps members to, so within one network they run one after another. They
// form two lanes: one on the machine's loopback, the other in a network namespace of its own (unshare),
// with its own loopback; where no namespace can be made, both groups share one lane. Every other etcd a
// test starts picks a free address in 127.0.0.100–249 (harness/process.ts), each lane on the machine's
// loopback from its own half (SECURE_ETCD_TEST_LANE), so the lanes never race for one.
//
// The "rest" lane streams as it runs; the loopback-cluster lanes are printed when they end; the last
// lines are the combined mocha summary (what .ci/run reads). Extra arguments go to every mocha.
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const testDir = path.join(root, "test");

/**
 * The files that start the rendered cluster on 127.0.0.11–13 (through startCluster or the rehearsal), in
 * two groups: the second runs in a network namespace of its own when the machine allows one (its own
 * loopback, so both groups bind 127.0.0.11–13 at once), else after the first in the same lane.
 */
const loopbackClusterFiles = [
  ["rehearsalLive", "cluster", "kubeApiserver", "verifyEncryption", "snapshotScript"],
  ["kmsRehearsal", "rehearsalMatrix"],
];

function testFiles() {
  return fs
    .readdirSync(testDir)
    .filter((f) => f.endsWith(".test.ts"))
    .sort()
    .map((f) => path.join("test", f));
}

/**
 * How to run a command in a network namespace with only its loopback up (`unshare`: root, or an
 * unprivileged user namespace), or why not. Checked by running it once.
 */
function isolatedNetwork() {
  const wrap = (root) => [
    "unshare",
    ...(root ? ["--net"] : ["--map-root-user", "--net"]),
    "--",
    "sh",
    "-c",
    'ip link set lo up && exec "$@"',
    "sh",
  ];
  const root = process.getuid?.() === 0;
  const probe = spawnSync(wrap(root)[0], [...wrap(root).slice(1), "true"], { stdio: "ignore" });
  if (probe.status === 0) return { wrap: wrap(root) };
  return {
    reason: `unshare --net with ip link is not available here (exit ${probe.status ?? probe.error?.message})`,
  };
}

function lanes() {
  const files = testFiles();
  const groups = loopbackClusterFiles.map((g) => new Set(g));
  const named = new Set(loopbackClusterFiles.flat());
  const stem = (f) => path.basename(f, ".test.ts");
  for (const n of named)
    if (!files.some((f) => stem(f) === n))
      throw new Error(`scripts/test.mjs names test/${n}.test.ts, which does not exist`);
  // A file that starts the rendered cluster outside the lane would race the lane for 127.0.0.11–13.
  for (const f of files)
    if (
      !named.has(stem(f)) &&
      /\bstartCluster\(|renderOnly: false|"rehearse"/.test(fs.readFileSync(path.join(root, f), "utf8"))
    )
      throw new Error(`${f} starts the rendered cluster: add it to loopbackClusterFiles in scripts/test.mjs`);
  const [first, second] = groups.map((g) => files.filter((f) => g.has(stem(f))));
  const net = isolatedNetwork();
  const rest = { name: "rest", files: files.filter((f) => !named.has(stem(f))), stream: true };
  if (!net.wrap) {
    console.log(`scripts/test.mjs: one loopback-cluster lane: ${net.reason}`);
    return [rest, { name: "loopback-cluster", files: [...first, ...second], stream: false }];
  }
  return [
    rest,
    { name: "loopback-cluster", files: first, stream: false },
    { name: "loopback-cluster-netns", files: second, stream: false, wrap: net.wrap, laneEnv: "netns" },
  ];
}

function runLane(lane, index, extra) {
  const mocha = path.join(root, "node_modules", ".bin", "mocha");
  const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), `test-lane-${lane.name}-`)), "out.log");
  const out = fs.openSync(log, "w");
  const started = Date.now();
  const argv = [...(lane.wrap ?? []), mocha, ...extra, ...lane.files];
  const child = spawn(argv[0], argv.slice(1), {
    cwd: root,
    // In its own network namespace a lane has every loopback address to itself (the whole range).
    env: { ...process.env, SECURE_ETCD_TEST_LANE: lane.laneEnv ?? String(index) },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group, so an interrupt stops the lane and everything it started
  });
  for (const s of [child.stdout, child.stderr])
    s.on("data", (chunk) => {
      fs.writeSync(out, chunk);
      if (lane.stream) process.stdout.write(chunk);
    });
  const done = new Promise((resolve) =>
    child.on("close", (code, signal) => {
      fs.closeSync(out);
      resolve({ lane, code: code ?? 1, signal, log, seconds: (Date.now() - started) / 1000 });
    }),
  );
  return { child, done };
}

/** mocha's own summary lines of one lane: passing, pending, failing (0 when absent). */
function summary(text) {
  const count = (word) => {
    const all = [...text.matchAll(new RegExp(`^ *(\\d+) ${word}\\b`, "gm"))];
    return all.length ? Number(all.at(-1)[1]) : 0;
  };
  return { passing: count("passing"), pending: count("pending"), failing: count("failing") };
}

async function main() {
  const extra = process.argv.slice(2);
  const running = lanes().map((l, i) => runLane(l, i, extra));
  const stop = () => {
    for (const r of running)
      try {
        process.kill(-r.child.pid, "SIGTERM");
      } catch {
        // already gone
      }
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  const results = await Promise.all(running.map((r) => r.done));
  const total = { passing: 0, pending: 0, failing: 0 };
  const lines = [];
  for (const r of results) {
    const text = fs.readFileSync(r.log, "utf8");
    if (!r.lane.stream)
      process.stdout.write(`\n===== lane ${r.lane.name} (${r.lane.files.length} files) =====\n${text}`);
    const s = summary(text);
    for (const k of Object.keys(total)) total[k] += s[k];
    const broken = r.code !== 0 && s.failing === 0; // mocha died without a summary of failures
    if (broken) total.failing += 1;
    lines.push(
      `  lane ${r.lane.name}: ${r.lane.files.length} files, ${s.passing} passing, ${s.failing} failing, ${s.pending} pending, ${r.seconds.toFixed(0)} s` +
        (broken ? ` — mocha exited ${r.signal ?? r.code} without a summary (log: ${r.log})` : ""),
    );
    if (!broken) fs.rmSync(path.dirname(r.log), { recursive: true, force: true });
  }
  const wall = Math.max(...results.map((r) => r.seconds));
  process.stdout.write(`\n${lines.join("\n")}\n\n`);
  process.stdout.write(`  ${total.passing} passing (${Math.round(wall)}s)\n`);
  if (total.pending) process.stdout.write(`  ${total.pending} pending\n`);
  if (total.failing) process.stdout.write(`  ${total.failing} failing\n`);
  process.exit(results.every((r) => r.code === 0) ? 0 : 1);
}

main().catch((e) => {
  console.error(`scripts/test.mjs: ${e.message}`);
  process.exit(1);
});
