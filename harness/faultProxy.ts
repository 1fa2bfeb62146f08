/**
 * A small HTTP proxy in front of moto that injects the failures a real AWS endpoint can show — down,
 * error answers, slow answers, truncated bodies, lost bytes — so fault cases keep testing the package's
 * code against a real emulator instead of a second, home-made S3 or Secrets Manager. It records every
 * request it forwarded (method, path, operation, status) for assertions; it never logs bodies.
 */
import * as http from "node:http";
import { listenOnLoopback, type LoopbackListener } from "./loopbackServer";
import { sleep } from "./process";

/** What a request looks like to a fault's `match`. */
export interface ProxiedRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  /** `X-Amz-Target` (JSON APIs: `secretsmanager.GetSecretValue`, `TrentService.Decrypt`), if any. */
  target?: string;
  headers: http.IncomingHttpHeaders;
}

export type FaultAction =
  /** Answer with this status and body instead of forwarding (an AWS error document, say). */
  | { kind: "respond"; status: number; body?: string; contentType?: string }
  /** Wait, then forward (a slow endpoint; the client may time out first). */
  | { kind: "delay"; ms: number }
  /** Forward, then send only the first `bytes` of the answer's body and cut the connection. */
  | { kind: "truncateResponse"; bytes: number }
  /** Forward the request body without its last `bytes` bytes (a store that loses data). */
  | { kind: "dropRequestBytes"; bytes: number }
  /** Close the connection without answering. */
  | { kind: "reset" };

export interface Fault {
  /** Which requests (default: every one). */
  match?: (r: ProxiedRequest) => boolean;
  /** How many matching requests it applies to (default: all, until removed). */
  times?: number;
  action: FaultAction;
}

export interface ProxyRecord {
  method: string;
  url: string;
  target?: string;
  status: number;
  /** The fault applied, if any. */
  fault?: FaultAction["kind"];
  /** The access key id the request was signed with (never the secret or the signature). */
  accessKeyId?: string;
}

export interface FaultProxy {
  /** `http://host:port`: use it as the AWS endpoint. */
  url: string;
  /** Active faults, checked in order; the first that matches applies. */
  faults: Fault[];
  /** Every request seen, oldest first. */
  records: ProxyRecord[];
  /** Stops listening and drops open connections: the endpoint is down (faults and records are kept). */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  /** Stops for good. */
  stop(): Promise<void>;
}

function takeFault(faults: Fault[], r: ProxiedRequest): FaultAction | undefined {
  const i = faults.findIndex((f) => (f.match ? f.match(r) : true));
  if (i < 0) return undefined;
  const f = faults[i];
  if (f.times !== undefined) {
    f.times -= 1;
    if (f.times <= 0) faults.splice(i, 1);
  }
  return f.action;
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** Starts a proxy on `host` (loopback) forwarding to `target` (e.g. moto's endpoint). */
export async function startFaultProxy(target: string, host = "127.0.0.1"): Promise<FaultProxy> {
  const upstream = new URL(target);
  const faults: Fault[] = [];
  const records: ProxyRecord[] = [];
  const server = http.createServer((req, res) => {
    void handle(req, res).catch(() => res.destroy());
  });
  async function handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const seen: ProxiedRequest = {
      method: req.method ?? "GET",
      url: req.url ?? "/",
      target: req.headers["x-amz-target"] as string | undefined,
      headers: req.headers,
    };
    const record: ProxyRecord = {
      method: seen.method,
      url: seen.url,
      target: seen.target,
      status: 0,
      accessKeyId: /Credential=([A-Z0-9]+)\//.exec(String(req.headers.authorization ?? ""))?.[1],
    };
    records.push(record);
    let body = await readBody(req);
    const action = takeFault(faults, seen);
    record.fault = action?.kind;
    if (action?.kind === "reset") {
      req.socket.destroy();
      return;
    }
    if (action?.kind === "respond") {
      record.status = action.status;
      res.writeHead(action.status, { "content-type": action.contentType ?? "application/xml" });
      res.end(action.body ?? "");
      return;
    }
    if (action?.kind === "delay") await sleep(action.ms);
    if (action?.kind === "dropRequestBytes") body = body.subarray(0, Math.max(0, body.length - action.bytes));
    // The Host header stays the one the client signed: SigV4 covers it, and moto checks signatures once
    // IAM enforcement is on (it routes an IP host by the request, not by its name).
    const headers = { ...req.headers, "content-length": String(body.length) };
    delete headers["transfer-encoding"];
    const out = http.request(
      { host: upstream.hostname, port: upstream.port, method: seen.method, path: seen.url, headers },
      (answer) => {
        record.status = answer.statusCode ?? 0;
        if (action?.kind === "truncateResponse") {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          let left = action.bytes;
          answer.on("data", (c: Buffer) => {
            if (left <= 0) return;
            res.write(c.subarray(0, left));
            left -= c.length;
            if (left <= 0) res.destroy();
          });
          answer.on("end", () => res.destroy());
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on("error", () => {
      record.status = 502;
      res.destroy();
    });
    out.end(body);
  }
  const listener: LoopbackListener = await listenOnLoopback(server, "the fault proxy", host);
  return {
    url: listener.url,
    faults,
    records,
    down: () => listener.stop(),
    up: () => listener.restart(),
    stop: () => listener.stop(),
  };
}
