import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/**
 * Makes temp dirs for the tests of the enclosing `describe` and removes them after each test, passed
 * or failed. Call it at describe level: `const tempDir = tempDirs();` then `tempDir("prefix-")`.
 */
export function tempDirs(): (prefix: string) => string {
  const made: string[] = [];
  afterEach(() => {
    for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
  return (prefix) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
}
