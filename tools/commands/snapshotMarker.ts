/**
 * `secure-etcd snapshot-marker`: points `<prefix>latest.json` at a verified snapshot — the documented way
 * out when the snapshot job stops with exit 3 because a restore lowered the store's revision.
 *
 *   secure-etcd snapshot-marker <settings> --from s3://BUCKET/PREFIX/KEY [--endpoint-url URL]
 *
 * The snapshot is verified first exactly as `secure-etcd restore` verifies it (the settings give the etcd
 * version whose tool reads it). Exit status: 0 marker written; 1 refused or failed; 2 bad argument or
 * settings; 3 larger than the default cap; 4 no disk space for the verification.
 */
import { RESTORE_EXIT, RestoreNoSpace, RestoreRefused, RestoreTooLarge } from "../restore";
import { pointMarkerAt } from "../restore/marker";
import { parseS3Url } from "../restore/source";
import { parseFlags, reportFailure, UsageError, type CommandIo } from "../shared/commandLine";
import {
  loadSettings,
  settingsSourceFrom,
  stackSettingsFlags,
  stackSettingsUsage,
} from "../shared/stackSettings";

export const snapshotMarkerUsage =
  "usage: secure-etcd snapshot-marker <settings> --from s3://BUCKET/PREFIX/KEY [--endpoint-url URL]\n" +
  stackSettingsUsage +
  "\n  exit: 0 marker written, 1 refused/failed, 2 bad argument or settings, 3 snapshot too large, 4 no disk space";

const flags = {
  ...stackSettingsFlags,
  from: { type: "string" },
  "endpoint-url": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export async function snapshotMarkerCommand(
  argv: readonly string[],
  io: CommandIo = { out: console.log, err: console.error },
): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.out(snapshotMarkerUsage);
    return 0;
  }
  let from: string;
  let endpointUrl: string | undefined;
  let settings: ReturnType<typeof loadSettings>;
  try {
    const v = parseFlags(argv, flags);
    if (!v.from) throw new UsageError("--from", "is required: the snapshot the marker should name");
    if (!parseS3Url(v.from))
      throw new UsageError("--from", `${JSON.stringify(v.from)} is not an s3://BUCKET/KEY URL`);
    if (v["endpoint-url"] && !/^https?:\/\/[^\s/]+/.test(v["endpoint-url"]))
      throw new UsageError("--endpoint-url", `${JSON.stringify(v["endpoint-url"])} is not an http(s) URL`);
    from = v.from;
    endpointUrl = v["endpoint-url"];
    settings = loadSettings(settingsSourceFrom(v, io.cwd ?? process.cwd()));
  } catch (e) {
    return reportFailure("snapshot-marker", e, io, snapshotMarkerUsage);
  }
  try {
    const r = await pointMarkerAt({ settings, from, endpointUrl, env: io.env, log: io.out });
    io.out(
      `snapshot-marker: ${r.marker} -> ${r.key} (revision ${r.revision}); the snapshot job's marker moves forward from here`,
    );
    return RESTORE_EXIT.ok;
  } catch (e) {
    if (e instanceof RestoreRefused) {
      io.err(`snapshot-marker: REFUSED: ${e.message}`);
      return RESTORE_EXIT.refused;
    }
    if (e instanceof RestoreTooLarge) {
      io.err(`snapshot-marker: TOO LARGE: ${e.message}`);
      return RESTORE_EXIT.tooLarge;
    }
    if (e instanceof RestoreNoSpace) {
      io.err(`snapshot-marker: NO SPACE: ${e.message}`);
      return RESTORE_EXIT.noSpace;
    }
    return reportFailure("snapshot-marker", e, io);
  }
}
