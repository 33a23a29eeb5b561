// A loopback TCP proxy in front of a server, for tests that must see or
// steer what goes over the wire: what the client sent, a reply held back
// and then delivered in one piece, a write caught half-way, connections cut
// or refused. Node APIs only, so it runs on Deno, Bun and Node.

import { Buffer } from "node:buffer";
import {
  createConnection,
  createServer,
  type Server,
  type Socket,
} from "node:net";

const HOST = "127.0.0.1";

/** Which way bytes go through a {@linkcode TcpProxy}. */
export type Direction = "toServer" | "toClient";

/** Called with each chunk as it reaches the proxy, before it is passed on or held. */
export type BytesListener = (chunk: Buffer, connection: number) => void;

interface Connection {
  readonly id: number;
  readonly client: Socket;
  readonly upstream: Socket;
}

interface Held {
  readonly connection: Connection;
  readonly chunk: Buffer;
}

/**
 * A proxy on a free loopback port to a server on `targetPort`, steered by
 * the test: listeners see the bytes of each direction, a direction can be
 * held and released, and connections can be cut or refused.
 */
export class TcpProxy implements AsyncDisposable {
  /** When each connection came after {@linkcode cut} (`performance.now()` ms). */
  readonly attempts: number[] = [];
  readonly #server: Server;
  readonly #connections = new Set<Connection>();
  readonly #listeners: Record<Direction, BytesListener[]> = {
    toServer: [],
    toClient: [],
  };
  // Bytes that reached the proxy each way, held ones included.
  readonly #arrived: Record<Direction, number> = { toServer: 0, toClient: 0 };
  // Each way, the count of arrived bytes up to which bytes pass; past it
  // they are held.
  readonly #holdAfter: Record<Direction, number | undefined> = {
    toServer: undefined,
    toClient: undefined,
  };
  readonly #held: Record<Direction, Held[]> = { toServer: [], toClient: [] };
  #cutting = false;
  #nextId = 0;
  // 0 until it first listens.
  #port = 0;

  private constructor(targetPort: number) {
    this.#server = createServer((client) => this.#accept(client, targetPort));
  }

  /** Starts a proxy to the server on `targetPort` of 127.0.0.1. */
  static async start(targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetPort);
    await proxy.listen();
    return proxy;
  }

  /** The loopback port it listens on. */
  get port(): number {
    return this.#port;
  }

  /** `redis://127.0.0.1:<port>` */
  url(): string {
    return `redis://${HOST}:${this.port}`;
  }

  /** Calls `listener` with every chunk that goes `direction` from now on. */
  onBytes(direction: Direction, listener: BytesListener): void {
    this.#listeners[direction].push(listener);
  }

  /**
   * Passes `after` more bytes going `direction` (over all connections), then
   * holds the rest until {@linkcode release}. A held client is paused, so
   * that its writes back up as they would against a server that stopped
   * reading; a held server is read on, so that {@linkcode held} shows what
   * it sent meanwhile.
   */
  hold(direction: Direction, after = 0): void {
    this.#holdAfter[direction] = this.#arrived[direction] + after;
  }

  /** What is held going `direction`, every connection's, as Latin-1 text. */
  held(direction: Direction): string {
    return Buffer.concat(this.#held[direction].map(({ chunk }) => chunk))
      .toString("latin1");
  }

  /** Whether any bytes are being held, either way. */
  get holding(): boolean {
    return this.#held.toServer.length > 0 || this.#held.toClient.length > 0;
  }

  /**
   * Stops holding: passes on what was held, in one write per connection and
   * direction (as TCP may deliver it), and everything after it.
   */
  release(): void {
    for (const direction of ["toServer", "toClient"] as const) {
      this.#holdAfter[direction] = undefined;
      const byConnection = new Map<Connection, Buffer[]>();
      for (const { connection, chunk } of this.#held[direction]) {
        byConnection.set(connection, [
          ...byConnection.get(connection) ?? [],
          chunk,
        ]);
      }
      this.#held[direction] = [];
      for (const [connection, chunks] of byConnection) {
        const { target } = ends(connection, direction);
        if (!target.destroyed) target.write(Buffer.concat(chunks));
      }
    }
    for (const { client } of this.#connections) client.resume();
  }

  /**
   * Cuts every connection, and from now on each new one as it comes (noting
   * when in {@linkcode attempts}), as a server that drops its clients does.
   */
  cut(): void {
    this.#cutting = true;
    for (const { client, upstream } of this.#connections) {
      client.destroy();
      upstream.destroy();
    }
  }

  /** Whether it accepts connections. */
  get listening(): boolean {
    return this.#server.listening;
  }

  /**
   * Stops listening, so that connecting is refused as on a dead server's
   * port; resolves once the connections it had are closed.
   */
  stop(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  /**
   * Listens on its port, after {@linkcode stop}; the first time on port 0,
   * which picks a free port with no window for another to take it.
   */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.#port, HOST, () => {
        this.#server.off("error", reject);
        const address = this.#server.address();
        if (typeof address === "object" && address !== null) {
          this.#port = address.port;
          resolve();
        } else reject(new Error("the proxy has no port"));
      });
    });
  }

  [Symbol.asyncDispose](): Promise<void> {
    for (const { client, upstream } of this.#connections) {
      client.destroy();
      upstream.destroy();
    }
    return this.listening ? this.stop() : Promise.resolve();
  }

  #accept(client: Socket, targetPort: number): void {
    if (this.#cutting) {
      this.attempts.push(performance.now());
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: HOST, port: targetPort });
    const connection: Connection = { id: this.#nextId++, client, upstream };
    this.#connections.add(connection);
    client.on(
      "data",
      (chunk: Buffer) => this.#pass(connection, "toServer", chunk),
    );
    upstream.on(
      "data",
      (chunk: Buffer) => this.#pass(connection, "toClient", chunk),
    );
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.#connections.delete(connection);
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
  }

  #pass(connection: Connection, direction: Direction, chunk: Buffer): void {
    for (const listener of this.#listeners[direction]) {
      listener(chunk, connection.id);
    }
    const start = this.#arrived[direction];
    this.#arrived[direction] += chunk.length;
    const limit = this.#holdAfter[direction];
    const held = this.#held[direction];
    const { source, target } = ends(connection, direction);
    // Once anything is held, what follows is held too, to keep the order.
    const passed = held.length > 0
      ? 0
      : limit === undefined
      ? chunk.length
      : Math.min(chunk.length, Math.max(0, limit - start));
    if (passed > 0) target.write(chunk.subarray(0, passed));
    if (passed < chunk.length) {
      held.push({ connection, chunk: chunk.subarray(passed) });
      if (direction === "toServer") source.pause();
    }
  }
}

/** Where bytes going `direction` come from, and where they go. */
function ends(
  { client, upstream }: Connection,
  direction: Direction,
): { source: Socket; target: Socket } {
  return direction === "toServer"
    ? { source: client, target: upstream }
    : { source: upstream, target: client };
}
