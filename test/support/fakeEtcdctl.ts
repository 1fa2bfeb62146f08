/**
 * A fake `etcdctl` for verify-encryption's hostile cases: a tiny etcd range server over a fixed store
 * (the txn form verify-encryption sends on stdin, and the older `get START END --limit=N` argv form),
 * plus the ways a real one can fail or lie — exit non-zero after printing a page, die mid-page, print
 * what is not JSON, write ANSI to stderr, drop keys from a page, print without end.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { EtcdctlConnection } from "../../tools/verifyEncryption/etcdctl";

export interface FakeKv {
  key: Buffer;
  value: Buffer;
}

export type FakeMode =
  | { kind: "store" }
  /** Prints the page, then exits 1 with nothing on stderr. */
  | { kind: "fail-after-page" }
  /** Prints the first half of the page, then SIGKILLs itself. */
  | { kind: "killed-mid-page" }
  /** Exits 0 having printed `text` (not JSON). */
  | { kind: "not-json"; text: string }
  /** Exits 1 with `stderr`. */
  | { kind: "stderr"; stderr: string }
  /** Every page says there is no more, whatever is left (a page truncated by a bug or a proxy). */
  | { kind: "drop-more" }
  /** From the second page on, claims `extra` more keys are left than there are. */
  | { kind: "count-drift"; extra: number }
  /** Writes without end. */
  | { kind: "endless" };

export interface FakeEtcdctl {
  connection: EtcdctlConnection;
  /** verify-encryption's connection flags for it. */
  flags: string[];
  /** How many times it was run. */
  calls(): number;
}

/** Writes the fake into `dir` (with dummy cert files) serving `store` in `mode`. */
export function fakeEtcdctl(dir: string, store: FakeKv[], mode: FakeMode = { kind: "store" }): FakeEtcdctl {
  const scenario = {
    mode,
    store: store.map((kv) => ({ key: kv.key.toString("base64"), value: kv.value.toString("base64") })),
  };
  fs.writeFileSync(path.join(dir, "scenario.json"), JSON.stringify(scenario));
  const bin = path.join(dir, "etcdctl");
  fs.writeFileSync(bin, `#!${process.execPath}\n${script}`, { mode: 0o755 });
  const [cacert, cert, key] = ["ca.crt", "c.crt", "c.key"].map((f) => path.join(dir, f));
  for (const f of [cacert, cert, key]) fs.writeFileSync(f, "not used by the fake");
  const connection = { etcdctl: bin, endpoints: ["https://127.0.0.1:2379"], cacert, cert, key };
  return {
    connection,
    flags: [
      `--endpoints=${connection.endpoints.join(",")}`,
      `--cacert=${cacert}`,
      `--cert=${cert}`,
      `--key=${key}`,
      `--etcdctl=${bin}`,
    ],
    calls: () => {
      const log = path.join(dir, "calls.log");
      return fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").filter(Boolean).length : 0;
    },
  };
}

const script = String.raw`
const fs = require("fs");
const path = require("path");
const sc = JSON.parse(fs.readFileSync(path.join(__dirname, "scenario.json"), "utf8"));
const argv = process.argv.slice(2);
let stdin = Buffer.alloc(0);
try { stdin = fs.readFileSync(0); } catch {}
fs.appendFileSync(path.join(__dirname, "calls.log"), "call\n");
const mode = sc.mode;
if (mode.kind === "endless") {
  const chunk = Buffer.alloc(1 << 20, 0x41);
  const more = () => { while (process.stdout.write(chunk)); process.stdout.once("drain", more); };
  more();
  return;
}
if (mode.kind === "stderr") { process.stderr.write(mode.stderr); process.exit(1); }
if (mode.kind === "not-json") { process.stdout.write(mode.text); process.exit(0); }

const unquote = (s) => Buffer.from(s.replace(/\\x/g, ""), "hex");
const txn = /get "((?:\\x[0-9a-f]{2})*)" "((?:\\x[0-9a-f]{2})*)" --limit=(\d+)/.exec(stdin.toString("latin1"));
let q;
if (txn) q = { start: unquote(txn[1]), end: unquote(txn[2]), limit: Number(txn[3]) };
else {
  const i = argv.indexOf("get");
  const limit = argv.find((a) => a.startsWith("--limit="));
  q = { start: Buffer.from(argv[i + 1]), end: Buffer.from(argv[i + 2]), limit: limit ? Number(limit.slice(8)) : 0 };
}
const keys = sc.store
  .map((kv) => ({ key: Buffer.from(kv.key, "base64"), value: kv.value }))
  .sort((a, b) => Buffer.compare(a.key, b.key));
const inRange = keys.filter((k) => Buffer.compare(k.key, q.start) >= 0 && Buffer.compare(k.key, q.end) < 0);
const taken = q.limit > 0 ? inRange.slice(0, q.limit) : inRange;
const firstPage = Buffer.compare(q.start, keys.length ? keys[0].key : q.start) <= 0;
let count = inRange.length;
let more = inRange.length > taken.length;
if (mode.kind === "drop-more") more = false;
if (mode.kind === "count-drift" && !firstPage) count += mode.extra;
const range = {
  header: { revision: 7 },
  kvs: taken.map((k) => ({ key: k.key.toString("base64"), create_revision: 2, mod_revision: 2, version: 1, value: k.value })),
  ...(more ? { more: true } : {}),
  count,
};
const header = { cluster_id: 1, member_id: 2, revision: 7, raft_term: 2 };
const out = JSON.stringify(
  txn ? { header, succeeded: true, responses: [{ Response: { response_range: range } }] } : { ...range, header },
);
if (mode.kind === "killed-mid-page") {
  fs.writeSync(1, out.slice(0, Math.floor(out.length / 2)));
  process.kill(process.pid, "SIGKILL");
}
fs.writeSync(1, out);
process.exit(mode.kind === "fail-after-page" ? 1 : 0);
`;

/** Characters that move a terminal's cursor or break a line, other than \n itself (which ends a line). */
export function terminalControlsIn(text: string): string[] {
  return [...text].filter((c) => {
    const n = c.codePointAt(0)!;
    return (n < 0x20 && n !== 0x0a) || (n >= 0x7f && n < 0xa0) || [0x2028, 0x2029, 0x202e].includes(n);
  });
}
