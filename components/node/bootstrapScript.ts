import * as fs from "node:fs";
import * as path from "node:path";

/** The package's root: the nearest directory above this module with a package.json (source or installed). */
function packageRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`secure-etcd: no package.json above ${__dirname}`);
  }
}

/**
 * Path of the node bootstrap in the package (`tools/bootstrap/secure-etcd-bootstrap.sh`): the very file
 * `nodeUserData` installs on every node and the tests run.
 */
export const bootstrapScriptPath = path.join(packageRoot(), "tools", "bootstrap", "secure-etcd-bootstrap.sh");

export function readBootstrapScript(): string {
  return fs.readFileSync(bootstrapScriptPath, "utf8");
}
