/**
 * A minimal TLS (or plain TCP) client for the drills: connects, sends `GET <path>` over HTTP/1.1 and
 * reports exactly how far it got — handshake error (local or the server's alert), certificate
 * verification result, the HTTP status line, the negotiated protocol and cipher.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as tls from "node:tls";

export interface ProbeOptions {
  host: string;
  port: number;
  /** Plain TCP (an http:// client) instead of TLS. */
  plaintext?: boolean;
  /** CA file the client trusts; omitted = verification result is recorded but not enforced. */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** SNI and the name checked against the server cert (default: the host, checked as an IP SAN). */
  servername?: string;
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  /** OpenSSL cipher string for TLS <= 1.2. */
  ciphers?: string;
  path?: string;
  timeoutMs?: number;
}

export interface ProbeOutcome {
  /** The TLS handshake completed on the client's side (or the TCP connection, for plaintext). */
  connected: boolean;
  /** The server cert verified against caFile and matched the name. */
  authorized: boolean;
  authorizationError?: string;
  /** First line of the HTTP response, if any arrived. */
  statusLine?: string;
  statusCode?: number;
  body?: string;
  /** Error code and message, if the connection failed. */
  error?: string;
  /** The failure was an alert the server sent (vs. a local refusal). */
  serverAlert: boolean;
  protocol?: string;
  cipher?: string;
  /** The server cert's subjectaltname, as Node prints it. */
  serverSan?: string;
}

/** "served" = an HTTP response arrived: the server accepted this client. */
export const served = (o: ProbeOutcome) => o.statusCode !== undefined;

export function describeProbe(o: ProbeOutcome): string {
  if (served(o))
    return `served ${o.statusLine}${o.protocol ? ` over ${o.protocol}${o.cipher ? ` ${o.cipher}` : ""}` : ""}`;
  const parts = [o.error ?? (o.connected ? "connection closed without a response" : "no connection")];
  if (o.connected && o.protocol)
    parts.push(`(handshake completed as ${o.protocol} before the server hung up)`);
  return parts.join(" ");
}

export function tlsProbe(o: ProbeOptions): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const out: ProbeOutcome = { connected: false, authorized: false, serverAlert: false };
    let data = "";
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const firstLine = data.split("\r\n")[0];
      const m = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(firstLine);
      if (m) {
        out.statusLine = firstLine;
        out.statusCode = Number(m[1]);
        out.body = data.slice(data.indexOf("\r\n\r\n") + 4).slice(0, 500);
      }
      socket.destroy();
      resolve(out);
    };
    const request = `GET ${o.path ?? "/version"} HTTP/1.1\r\nHost: ${o.servername ?? o.host}:${o.port}\r\nConnection: close\r\n\r\n`;
    let socket: net.Socket;
    if (o.plaintext) {
      socket = net.connect({ host: o.host, port: o.port }, () => {
        out.connected = true;
        socket.write(request);
      });
    } else {
      const s = tls.connect({
        host: o.host,
        port: o.port,
        servername: o.servername,
        ca: o.caFile ? fs.readFileSync(o.caFile) : undefined,
        cert: o.certFile ? fs.readFileSync(o.certFile) : undefined,
        key: o.keyFile ? fs.readFileSync(o.keyFile) : undefined,
        minVersion: o.minVersion,
        maxVersion: o.maxVersion,
        ciphers: o.ciphers,
        // Verify ourselves so a failed check is reported, not just thrown; enforced below.
        rejectUnauthorized: false,
      });
      socket = s;
      s.once("secureConnect", () => {
        out.connected = true;
        out.protocol = s.getProtocol() ?? undefined;
        out.cipher = s.getCipher()?.standardName;
        const peer = s.getPeerCertificate();
        out.serverSan = peer?.subjectaltname;
        let identityError: Error | undefined;
        if (s.authorized && peer && Object.keys(peer).length > 0)
          identityError = tls.checkServerIdentity(o.servername ?? o.host, peer);
        out.authorized = s.authorized && !identityError;
        out.authorizationError = identityError
          ? `${(identityError as NodeJS.ErrnoException).code ?? "ERR_TLS_CERT_ALTNAME_INVALID"}: ${identityError.message}`
          : s.authorizationError
            ? String(s.authorizationError)
            : undefined;
        if (o.caFile && !out.authorized) {
          out.error = `client refused the server: ${out.authorizationError}`;
          finish();
          return;
        }
        s.write(request);
      });
    }
    socket.on("data", (d: Buffer) => {
      data += d.toString("latin1");
      // Done once headers and the announced body are in (some servers keep the connection open).
      const end = data.indexOf("\r\n\r\n");
      if (end < 0) return;
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(data.slice(0, end));
      if (!length || data.length - end - 4 >= Number(length[1])) finish();
    });
    socket.on("error", (e: NodeJS.ErrnoException) => {
      // OpenSSL messages are long; keep the reason ("sslv3 alert bad certificate").
      const reason = /SSL routines:[^:]*:([^:]+):/.exec(e.message)?.[1];
      out.error = `${e.code ?? "ERROR"}: ${reason ?? e.message.split("\n")[0]}`;
      out.serverAlert = /alert/i.test(e.message) || /ALERT/.test(e.code ?? "");
      finish();
    });
    socket.on("end", finish);
    socket.on("close", finish);
    const timer = setTimeout(() => {
      out.error = out.error ?? `timed out after ${o.timeoutMs ?? 5000} ms`;
      finish();
    }, o.timeoutMs ?? 5000);
  });
}
