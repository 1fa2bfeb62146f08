import * as fs from "node:fs";
import * as path from "node:path";

/** This package's version, from its package.json (found upward from this file, in the repo or installed). */
export function packageVersion(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, "package.json");
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "secure-etcd" && pkg.version) return pkg.version;
    }
    if (path.dirname(dir) === dir) throw new Error(`no package.json of secure-etcd above ${__dirname}`);
  }
}
