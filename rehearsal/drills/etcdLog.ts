/** What etcd wrote to its log about connections it refused (drills quote it as evidence). */
import * as fs from "node:fs";

/** Lines etcd appended to a log since `offset` that explain a refused connection. */
export function rejectionLines(logFile: string | undefined, offset: number): string[] {
  if (!logFile || !fs.existsSync(logFile)) return [];
  const fd = fs.openSync(logFile, "r");
  try {
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(Math.max(0, size - offset));
    fs.readSync(fd, buf, 0, buf.length, offset);
    return buf
      .toString()
      .split("\n")
      .filter((l) => /rejected connection|security handshake|TLS handshake error/.test(l))
      .map((l) => l.replace(/^\S+ \S+ [A-Z] \| /, "").replace(/^WARNING: \S+ \S+ /, ""));
  } finally {
    fs.closeSync(fd);
  }
}

export const logSize = (f?: string) => (f && fs.existsSync(f) ? fs.statSync(f).size : 0);
