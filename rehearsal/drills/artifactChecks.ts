import * as fs from "node:fs";
import * as path from "node:path";
import { etcdFailureLines } from "../../components/cis";
import { clientRoles } from "../../components/secureEtcd";
import type { RenderedArtifacts } from "../../harness/artifacts";
import { layout } from "../../harness/layout";
import { lastLine, run } from "../../tools/shared/process";
import { runDrill, type DrillResult } from "./types";

/**
 * Checks on the rendered files themselves, run for every stack (also render-only): the chain verifies
 * with openssl for the purpose each cert serves, keys and dirs have safe modes, and every member's
 * manifest passes the etcd CIS checks the way kube-bench reads them.
 */
export async function runArtifactChecks(a: RenderedArtifacts): Promise<DrillResult[]> {
  const dir = a.outDir;
  const results: DrillResult[] = [];
  results.push(
    await runDrill("certs verify against the etcd CA (openssl, per purpose)", async () => {
      const openssl = (file: string, purpose: "sslserver" | "sslclient") =>
        run("openssl", ["verify", "-CAfile", layout.caCert(dir), "-purpose", purpose, file]);
      const checks: string[] = [];
      const verify = async (file: string, purpose: "sslserver" | "sslclient") => {
        const r = await openssl(file, purpose);
        if (r.code !== 0) throw new Error(`${path.relative(dir, file)} (${purpose}): ${lastLine(r.output)}`);
        checks.push(`${path.relative(dir, file)}:${purpose}`);
      };
      for (const m of a.settings.members)
        for (const kind of ["server", "peer"] as const) {
          await verify(layout.member(dir, m.name, kind, "crt"), "sslserver");
          await verify(layout.member(dir, m.name, kind, "crt"), "sslclient");
        }
      for (const role of clientRoles) await verify(layout.client(dir, role, "crt"), "sslclient");
      // and a client cert must NOT pass as a server cert
      if ((await openssl(layout.client(dir, "backup-client", "crt"), "sslserver")).code === 0)
        throw new Error("backup-client.crt verified as a TLS server cert; it must be client-only");
      return `${checks.length} verifications OK; client certs refused as server certs`;
    }),
  );
  results.push(
    await runDrill("key files 0600, directories 0700", async () => {
      const bad: string[] = [];
      const walk = (d: string) => {
        if ((fs.statSync(d).mode & 0o777) !== 0o700)
          bad.push(`${d} is ${(fs.statSync(d).mode & 0o777).toString(8)}`);
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
          const p = path.join(d, e.name);
          if (e.isDirectory()) walk(p);
          else if (/\.key$|encryption-config\.yaml$/.test(e.name) && (fs.statSync(p).mode & 0o777) !== 0o600)
            bad.push(`${p} is ${(fs.statSync(p).mode & 0o777).toString(8)}`);
        }
      };
      walk(path.join(dir, "pki"));
      if ((fs.statSync(layout.encryptionConfig(dir)).mode & 0o777) !== 0o600)
        bad.push("encryption-config.yaml");
      if (bad.length) throw new Error(bad.join("; "));
      return "all keys and the encryption config are 0600 in 0700 dirs";
    }),
  );
  results.push(
    await runDrill("manifests pass etcd CIS 2.1–2.7 (kube-bench's reading)", async () => {
      const notes: string[] = [];
      for (const m of a.settings.members) {
        const failures = etcdFailureLines(fs.readFileSync(layout.etcdManifest(dir, m.name), "utf8"));
        if (failures.length) throw new Error(`${m.name}: ${failures.join("; ")}`);
        notes.push(m.name);
      }
      return `${notes.join(", ")}: 2.1–2.7 pass`;
    }),
  );
  return results;
}
