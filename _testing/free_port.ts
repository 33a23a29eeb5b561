// A free loopback port, for servers the tests start (redis-server, HTTP).

import { createServer } from "node:net";

/** The loopback address every fixture listens on. */
export const HOST = "127.0.0.1";

/** A port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address !== null
          ? resolve(address.port)
          : reject(new Error("no port"))
      );
    });
  });
}
