/**
 * `secure-etcd preflight`: checks a live cluster before moving it to the stack's etcdVersion.
 *
 *   secure-etcd preflight <settings> [--endpoints URLS] [--cacert F --cert F --key F]
 *     [--etcdctl PATH] [--etcdutl PATH] [--v2store-data-dir DIR ...]
 *
 * Exit 0: every check passed. 1: a check failed (each named, with the fix). 2: bad arguments or settings
 * (the flag or config key is named). 3: nothing failed, but a check the step needs could not run here
 * (the v2 store check needs the member's data dir): run it where it can.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { nodePaths } from "../../components/manifests/paths";
import { formatPreflight, runPreflight } from "../preflight";
import { parseFlags, reportFailure, UsageError, type CommandIo } from "../shared/commandLine";
import {
  loadSettings,
  settingsSourceFrom,
  stackSettingsFlags,
  stackSettingsUsage,
} from "../shared/stackSettings";

export const preflightUsage = [
  "usage: secure-etcd preflight <settings> [--endpoints URL,...] [--cacert FILE --cert FILE --key FILE]",
  "         [--etcdctl PATH] [--etcdutl PATH] [--v2store-data-dir DIR ...]",
  "Checks a live etcd cluster before it moves to the settings' etcdVersion: every member answers and can",
  "step there (no downgrade, no skipped minor, at or above the patch etcd's upgrade guide requires:",
  "3.5.32 before 3.6, 3.6.11 before 3.7); member list holds exactly the declared members (names an",
  'undeclared or never-started "zombie" member and the command that removes it); before 3.6, the v2',
  "store holds membership only (etcdutl check v2store on a copy of each --v2store-data-dir).",
  "  --endpoints          default: every declared member's https://IP:2379",
  "  --cacert/--cert/--key  default: the etcd CA and healthcheck-client pair under paths.pkiDir",
  "  --etcdutl           the etcdutl of the release the cluster runs now (default: etcdutl on PATH)",
  "Exit 0: every check passed; 1: a check failed; 2: bad arguments or settings;",
  "3: nothing failed but a check could not run here (named): run it on the member's node.",
  stackSettingsUsage,
].join("\n");

const preflightFlags = {
  ...stackSettingsFlags,
  endpoints: { type: "string" },
  cacert: { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
  etcdctl: { type: "string", default: "etcdctl" },
  etcdutl: { type: "string", default: "etcdutl" },
  "v2store-data-dir": { type: "string", multiple: true },
  help: { type: "boolean", short: "h" },
} as const;

function endpointList(v: string): string[] {
  const list = v.split(",").map((s) => s.trim());
  for (const e of list)
    if (!/^https:\/\/[^\s/]+$/.test(e))
      throw new UsageError("--endpoints", `${JSON.stringify(e)} is not an https://HOST:PORT client URL`);
  return list;
}

function readable(flag: string, file: string, cwd: string): string {
  const f = path.resolve(cwd, file);
  try {
    fs.accessSync(f, fs.constants.R_OK);
  } catch {
    throw new UsageError(flag, `${f} is not a readable file`);
  }
  return f;
}

/** Returns the exit code (see the header). */
export async function preflightCommand(
  argv: readonly string[],
  io: CommandIo = { out: console.log, err: console.error },
): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.out(preflightUsage);
    return 0;
  }
  const cwd = io.cwd ?? process.cwd();
  let options: Parameters<typeof runPreflight>[0];
  try {
    const v = parseFlags(argv, preflightFlags);
    const settings = loadSettings(settingsSourceFrom(v, cwd));
    const p = nodePaths(settings);
    const dirs = (v["v2store-data-dir"] ?? []).map((d) => {
      const abs = path.resolve(cwd, d);
      if (!fs.existsSync(path.join(abs, "member")))
        throw new UsageError("--v2store-data-dir", `${abs} is not an etcd data dir (no member/ inside)`);
      return abs;
    });
    options = {
      settings,
      endpoints: v.endpoints === undefined ? undefined : endpointList(v.endpoints),
      tls: {
        cacert: readable("--cacert", v.cacert ?? p.caCert, cwd),
        cert: readable("--cert", v.cert ?? p.certs["healthcheck-client"].cert, cwd),
        key: readable("--key", v.key ?? p.certs["healthcheck-client"].key, cwd),
      },
      etcdctl: v.etcdctl,
      etcdutl: v.etcdutl,
      v2storeDataDirs: dirs,
    };
  } catch (e) {
    return reportFailure("preflight", e, io, preflightUsage);
  }
  try {
    const r = await runPreflight(options);
    for (const line of formatPreflight(r)) io.out(line);
    return r.exitCode;
  } catch (e) {
    return reportFailure("preflight", e, io);
  }
}
