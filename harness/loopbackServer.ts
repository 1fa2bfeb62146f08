import type * as http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { isLoopbackIp } from "../tools/shared/loopback";

/** An HTTP server of the harness on a loopback address, that tests can take down and bring back. */
export interface LoopbackListener {
  url: string;
  port: number;
  /** Stops listening and drops open connections: the endpoint is "down" (its state is kept). */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
}

/**
 * Starts `server` on `host` (loopback only: these endpoints answer anyone who connects) and a free port
 * unless one is given. The one place the fault proxy and the local Secrets Manager endpoint listen.
 */
export async function listenOnLoopback(
  server: http.Server,
  what: string,
  host = "127.0.0.1",
  port = 0,
): Promise<LoopbackListener> {
  if (!isLoopbackIp(host) && host !== "localhost")
    throw new Error(`${what} listens on loopback only (got host ${host})`);
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  const listen = (p: number) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port: p }, () => {
        server.off("error", reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const bound = await listen(port);
  let listening = true;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${bound}`,
    port: bound,
    async stop() {
      if (!listening) return;
      listening = false;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
    async restart() {
      if (listening) return;
      await listen(bound);
      listening = true;
    },
  };
}
