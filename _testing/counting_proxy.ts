// What a client sends through a TcpProxy, command by command: the round
// trips it takes (how often it speaks again after the server answered) and
// each command's name and key, for tests that assert how many trips and
// which commands a call costs.

import { Buffer } from "node:buffer";
import { TcpProxy } from "./proxy.ts";

/** One command a client sent through a {@linkcode TcpProxy}. */
export interface ProxiedCommand {
  /** The command's name, upper-cased: `"GET"`, `"MGET"` … */
  readonly name: string;
  /** Its first argument (the key, for most commands) as text, or `""`. */
  readonly key: string;
  /** How many arguments followed the name. */
  readonly arguments: number;
  /** The round trip it went in, counted as {@linkcode CommandWatch.turns} counts them. */
  readonly turn: number;
  /** When its last byte reached the proxy, in `performance.now()` ms. */
  readonly at: number;
}

/** What the clients of a proxy sent, and how much the server answered. */
export interface CommandWatch {
  /**
   * Client "turns" since the last reset: batches of bytes the client sent
   * after the server last answered, that is, round trips.
   */
  turns(): number;
  /** Every command the clients sent since the last reset, in order of arrival. */
  commands(): readonly ProxiedCommand[];
  /** Bytes the server sent back since the last reset. */
  answeredBytes(): number;
  reset(): void;
}

/** Starts watching the commands that go through `proxy`, from now on. */
export function watchCommands(proxy: TcpProxy): CommandWatch {
  let turns = 0;
  let serverSpokeLast = true;
  let commands: ProxiedCommand[] = [];
  let answered = 0;
  // Each connection is its own stream of commands.
  const readers = new Map<number, RequestReader>();
  proxy.onBytes("toServer", (chunk, connection) => {
    if (serverSpokeLast) turns++;
    serverSpokeLast = false;
    let reader = readers.get(connection);
    if (reader === undefined) {
      reader = new RequestReader((name, key, count) =>
        commands.push({
          name,
          key,
          arguments: count,
          turn: turns,
          at: performance.now(),
        })
      );
      readers.set(connection, reader);
    }
    reader.read(chunk);
  });
  proxy.onBytes("toClient", (chunk) => {
    serverSpokeLast = true;
    answered += chunk.length;
  });
  return {
    turns: () => turns,
    commands: () => commands,
    answeredBytes: () => answered,
    reset() {
      turns = 0;
      serverSpokeLast = true;
      commands = [];
      answered = 0;
    },
  };
}

/** A proxy in front of a server that counts the client's round trips and commands. */
export interface CountingProxy extends CommandWatch, AsyncDisposable {
  readonly port: number;
}

/**
 * Starts a loopback proxy to `targetPort` that counts round trips: the
 * number of times the client speaks again after the server has answered.
 */
export async function startCountingProxy(
  targetPort: number,
): Promise<CountingProxy> {
  const proxy = await TcpProxy.start(targetPort);
  return {
    port: proxy.port,
    ...watchCommands(proxy),
    [Symbol.asyncDispose]: () => proxy[Symbol.asyncDispose](),
  };
}

// Longest first or second argument kept as text; longer ones are cut.
const CAPTURED_ARGUMENT = 4_096;
const LF = 10;

/**
 * Reads the commands in a client's byte stream as they arrive, in whatever
 * pieces TCP cuts them: RESP arrays of bulk strings, or inline commands.
 * Only the name and first argument are kept, so a 100 MB value costs no copy.
 */
class RequestReader {
  readonly #onCommand: (name: string, key: string, count: number) => void;
  // The header line being read ("*3", "$5"), or an inline command.
  #line: number[] = [];
  // Elements of the current array still to come; 0 between commands.
  #elementsLeft = 0;
  #elements = 0;
  // Bytes of the current bulk string still to come, its CRLF included;
  // -1 while its "$" header is read.
  #bulkLeft = -1;
  #captured: Buffer[] = [];
  #capturedLength = 0;
  #name = "";
  #key = "";
  #unreadable = false;

  constructor(onCommand: (name: string, key: string, count: number) => void) {
    this.#onCommand = onCommand;
  }

  read(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length && !this.#unreadable) {
      if (this.#bulkLeft > 0) {
        const taken = Math.min(this.#bulkLeft, chunk.length - offset);
        const index = this.#elements - this.#elementsLeft;
        if (index < 2 && this.#capturedLength < CAPTURED_ARGUMENT) {
          this.#captured.push(chunk.subarray(offset, offset + taken));
          this.#capturedLength += taken;
        }
        offset += taken;
        this.#bulkLeft -= taken;
        if (this.#bulkLeft === 0) this.#endElement(index);
        continue;
      }
      const byte = chunk[offset++];
      if (byte !== LF) {
        this.#line.push(byte);
        continue;
      }
      const line = Buffer.from(this.#line).toString("latin1").replace(
        /\r$/,
        "",
      );
      this.#line = [];
      this.#readLine(line);
    }
  }

  #readLine(line: string): void {
    if (this.#elementsLeft === 0) {
      if (line.startsWith("*")) {
        this.#elements = this.#elementsLeft = Number(line.slice(1));
        this.#name = this.#key = "";
      } else if (line.trim() !== "") {
        const [name, key = "", ...rest] = line.trim().split(/\s+/);
        this.#onCommand(name.toUpperCase(), key, rest.length + (key ? 1 : 0));
      }
      return;
    }
    if (!line.startsWith("$")) {
      // Not RESP as clients send it: say so once, rather than miscount.
      this.#unreadable = true;
      this.#onCommand("(unreadable)", line, 0);
      return;
    }
    this.#bulkLeft = Number(line.slice(1)) + 2;
    this.#captured = [];
    this.#capturedLength = 0;
  }

  #endElement(index: number): void {
    this.#bulkLeft = -1;
    if (index < 2) {
      const bytes = Buffer.concat(this.#captured);
      const text = bytes.subarray(0, Math.max(0, bytes.length - 2)).toString(
        "utf8",
      );
      if (index === 0) this.#name = text.toUpperCase();
      else this.#key = text;
    }
    if (--this.#elementsLeft === 0) {
      this.#onCommand(this.#name, this.#key, this.#elements - 1);
    }
  }
}
