/**
 * Writes through a real kube-apiserver's HTTPS API as its admin, the way a controller or kubectl would:
 * a kept-alive TLS agent with the fleet's admin client cert, a POST per new Secret timed from request to
 * its 201. Shared by the rehearsal's kms latency drill and the bench's provider comparison.
 */
import * as fs from "node:fs";
import * as https from "node:https";
import type { KubeApiserver } from "./kubeApiserver";
import type { KubePki } from "./kubePki";

/** A keep-alive agent with the admin client cert; `maxSockets` connections at most. */
export function adminAgent(pki: KubePki, maxSockets: number): https.Agent {
  return new https.Agent({
    keepAlive: true,
    maxSockets,
    ca: pki.ca.certPem,
    cert: fs.readFileSync(pki.admin.cert),
    key: fs.readFileSync(pki.admin.key),
  });
}

/** One request with a JSON body; resolves with the status, body and milliseconds to the last byte. */
export function requestJson(
  agent: https.Agent,
  s: Pick<KubeApiserver, "plan">,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 30_000,
): Promise<{ status: number; body: string; ms: number }> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = https.request(
      {
        agent,
        host: s.plan.ip,
        port: s.plan.port,
        method,
        path,
        headers: text
          ? { "content-type": "application/json", "content-length": Buffer.byteLength(text) }
          : {},
        timeout: timeoutMs,
      },
      (res) => {
        let answer = "";
        res.on("data", (d: Buffer) => (answer += d.toString()));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: answer,
            ms: Number(process.hrtime.bigint() - t0) / 1e6,
          }),
        );
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on("error", reject);
    req.end(text);
  });
}

/** Creates Secret `name` (type Opaque, one data field `value`); resolves with its latency in ms. */
export async function postSecret(
  agent: https.Agent,
  s: Pick<KubeApiserver, "plan">,
  ns: string,
  name: string,
  value: Buffer,
): Promise<number> {
  const r = await requestJson(agent, s, "POST", `/api/v1/namespaces/${ns}/secrets`, {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: ns },
    type: "Opaque",
    data: { value: value.toString("base64") },
  });
  if (r.status !== 201)
    throw new Error(`POST secret ${ns}/${name}: HTTP ${r.status}: ${r.body.slice(0, 200)}`);
  return r.ms;
}

/** Creates namespace `ns` (201, or 409 when it exists already). */
export async function createNamespace(
  agent: https.Agent,
  s: Pick<KubeApiserver, "plan">,
  ns: string,
): Promise<void> {
  const r = await requestJson(agent, s, "POST", "/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: ns },
  });
  if (r.status !== 201 && r.status !== 409)
    throw new Error(`create namespace ${ns}: HTTP ${r.status}: ${r.body.slice(0, 200)}`);
}
