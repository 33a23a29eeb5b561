// A real HTTP server on loopback serving fixed pages, for the web tests.

import { freePort, HOST } from "./free_port.ts";

/** A real HTTP server on loopback that counts the requests for each path. */
export interface PageServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** How many requests reached `path`. */
  hits(path: string): number;
}

/** A page: status, body, and a delay before answering in ms. */
export interface Page {
  status?: number;
  body: string;
  delay?: number;
}

/** Starts an HTTP server on a free loopback port serving `pages` by path. */
export async function startPageServer(
  pages: Record<string, Page>,
): Promise<PageServer> {
  const { createServer: createHttpServer } = await import("node:http");
  const hits = new Map<string, number>();
  const server = createHttpServer((request, response) => {
    const path = request.url ?? "/";
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const page = pages[path] ?? { status: 404, body: "no such page" };
    setTimeout(() => {
      response.writeHead(page.status ?? 200, {
        "content-type": "text/plain; charset=utf-8",
      });
      response.end(page.body);
    }, page.delay ?? 0);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, HOST, resolve));
  return {
    origin: `http://${HOST}:${port}`,
    hits: (path) => hits.get(path) ?? 0,
    [Symbol.asyncDispose]: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
