/**
 * A full disk, for real: a command run in its own mount namespace with a small tmpfs over one directory,
 * so every write past `bytes` fails with ENOSPC. Needs CAP_SYS_ADMIN (root in this repo's CI); where it
 * is missing, the tests that use it skip with that reason in their title.
 */
import { spawnSync } from "node:child_process";

let checked: string | undefined | null = null;

/** Why a private tmpfs cannot be mounted here, or undefined when it can. */
export function tinyDiskUnavailable(): string | undefined {
  if (checked !== null) return checked;
  const r = spawnSync(
    "unshare",
    ["--mount", "--propagation", "private", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
    {
      encoding: "utf8",
      timeout: 10_000,
    },
  );
  checked =
    r.status === 0
      ? undefined
      : `cannot mount a private tmpfs (unshare --mount: ${(r.stderr || r.error?.message || "").trim() || `exit ${r.status}`})`;
  return checked;
}

/** `cmd args…` with `dir` replaced, inside its own mount namespace, by a tmpfs of `bytes`. */
export function onTinyDisk(
  dir: string,
  bytes: number,
  cmd: string,
  args: string[],
): { cmd: string; args: string[] } {
  return {
    cmd: "unshare",
    args: [
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      'mount -t tmpfs -o "size=$1,mode=0700" tmpfs "$2" && shift 2 && exec "$@"',
      "sh",
      String(bytes),
      dir,
      cmd,
      ...args,
    ],
  };
}
