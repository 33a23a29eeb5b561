// Redis URLs are checked here once, so every driver gets the same rules and
// a bad URL fails before anything connects. Errors never repeat the URL: it
// may hold a password.

/** Where and how to connect, read from a `redis://` or `rediss://` URL. */
export interface RedisEndpoint {
  /** The URL as given, for drivers that parse it themselves. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly username?: string;
  readonly password?: string;
  readonly database: number;
}

const USAGE = "expected redis[s]://[[user][:password]@]host[:port][/db]";

/** Parses and checks a Redis URL; throws `TypeError`/`RangeError` without echoing it. */
export function parseRedisUrl(url: string): RedisEndpoint {
  if (typeof url !== "string") throw new TypeError("url must be a string");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // The URL parser's message quotes the input, password included.
    throw new TypeError(`invalid Redis URL: ${USAGE}`);
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new TypeError(
      `unsupported Redis URL scheme "${parsed.protocol}": ${USAGE}`,
    );
  }
  if (parsed.hostname === "") {
    throw new TypeError(`Redis URL has no host: ${USAGE}`);
  }
  const database = parseDatabase(parsed.pathname);
  return {
    url,
    host: parsed.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: parsed.port === "" ? 6379 : Number(parsed.port),
    tls: parsed.protocol === "rediss:",
    username: decodeCredential(parsed.username),
    password: decodeCredential(parsed.password),
    database,
  };
}

function decodeCredential(part: string): string | undefined {
  if (part === "") return undefined;
  try {
    return decodeURIComponent(part);
  } catch {
    throw new TypeError(
      `the Redis URL's credentials are not valid percent-encoding: ${USAGE}`,
    );
  }
}

function parseDatabase(pathname: string): number {
  const path = pathname.replace(/^\//, "");
  if (path === "") return 0;
  if (!/^\d{1,5}$/.test(path)) {
    throw new RangeError(
      `the Redis URL's path must be a database number: ${USAGE}`,
    );
  }
  return Number(path);
}

/** The endpoint as text that is safe to show: no user name or password. */
export function describeEndpoint(endpoint: RedisEndpoint): string {
  const host = endpoint.host.includes(":")
    ? `[${endpoint.host}]`
    : endpoint.host;
  return `${host}:${endpoint.port}`;
}
