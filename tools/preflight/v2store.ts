/**
 * etcd's v2 store check before the step into 3.6 (upgrade_3_6.md): `etcdutl check v2store` must find
 * only membership data in the v2 snapshot and the WAL, or 3.6 panics replaying them (etcd#21849). The
 * command wants a data dir etcd is not using, so a live member's `member/snap/*.snap` and `member/wal`
 * are copied into a private temp dir first (the bolt db, which can be GiBs, is not read by the check).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { hasCapability, parseEtcdVersion } from "../../components/etcd/capabilities";
import { run } from "../shared/process";

export interface V2storeResult {
  dataDir: string;
  passed: boolean;
  detail: string;
}

/** The version an etcdutl reports, or undefined. */
export async function etcdutlVersion(etcdutl: string): Promise<string | undefined> {
  try {
    const r = await run(etcdutl, ["version"], { timeoutMs: 15_000 });
    return /etcdutl version: (\d+\.\d+\.\d+)/.exec(r.stdout)?.[1];
  } catch {
    return undefined;
  }
}

/** Why this etcdutl cannot run the check the guide asks for, or undefined when it can. */
export async function v2storeToolProblem(etcdutl: string): Promise<string | undefined> {
  const version = await etcdutlVersion(etcdutl);
  if (!version) return `${etcdutl} is not an etcdutl that reports its version (pass --etcdutl PATH)`;
  const v = parseEtcdVersion(version)!;
  if (!hasCapability(v, "v2storeCheck"))
    return (
      `etcdutl ${version} cannot run the check the 3.6 upgrade guide asks for (it needs the 3.5.32+ etcdutl, ` +
      `which reads the WAL as well as the v2 snapshot); pass --etcdutl with the etcdutl of etcd 3.5.32 or later`
    );
  return undefined;
}

function copyMemberFiles(dataDir: string, into: string): void {
  const member = path.join(dataDir, "member");
  if (!fs.existsSync(path.join(member, "wal")))
    throw new Error(`${dataDir} has no member/wal: not an etcd data dir`);
  fs.mkdirSync(path.join(into, "member", "snap"), { recursive: true, mode: 0o700 });
  fs.cpSync(path.join(member, "wal"), path.join(into, "member", "wal"), { recursive: true });
  const snapDir = path.join(member, "snap");
  if (fs.existsSync(snapDir))
    for (const f of fs.readdirSync(snapDir).filter((n) => n.endsWith(".snap")))
      fs.copyFileSync(path.join(snapDir, f), path.join(into, "member", "snap", f));
}

/** Runs the check on a copy of one member's data dir. */
export async function checkV2store(etcdutl: string, dataDir: string): Promise<V2storeResult> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "secure-etcd-v2store-"));
  fs.chmodSync(tmp, 0o700);
  try {
    copyMemberFiles(dataDir, tmp);
    const r = await run(etcdutl, ["check", "v2store", `--data-dir=${tmp}`], { timeoutMs: 120_000 });
    const said = (r.stdout.trim() || r.stderr.trim()).split("\n").slice(-1)[0] ?? "";
    return {
      dataDir,
      passed: r.code === 0 && /No custom content found/.test(r.stdout),
      detail: `etcdutl check v2store on a copy of ${dataDir}: ${said || `exit ${r.code}`}`,
    };
  } catch (e) {
    return { dataDir, passed: false, detail: `${dataDir}: ${(e as Error).message}` };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
