import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** What `cloud-init schema` says about a user-data text (throws when cloud-init refuses it). */
export function cloudInitSchema(userData: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "user-data-"));
  try {
    fs.writeFileSync(path.join(dir, "user-data"), userData);
    return execFileSync("cloud-init", ["schema", "--config-file", path.join(dir, "user-data")], {
      encoding: "utf8",
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs cloud-init's own write_files module on `files`, every path moved under `root`. */
export function runCloudInitWriteFiles(root: string, files: { path: string }[]): void {
  const script = [
    "import sys, json",
    "from cloudinit.config.cc_write_files import write_files",
    "write_files('write_files', json.load(sys.stdin), 'root:root')",
  ].join("\n");
  const rebased = files.map((f) => ({ ...f, path: root + f.path }));
  execFileSync("/usr/bin/python3", ["-c", script], { input: JSON.stringify(rebased) });
}
