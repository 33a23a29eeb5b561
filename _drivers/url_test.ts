// Redis URLs: every form the README documents,
// redis[s]://[[user][:password]@]host[:port][/db], and bad URLs refused
// before anything connects, with errors that never repeat the password.

import { test } from "node:test";
import assert from "node:assert/strict";
import { describeEndpoint, parseRedisUrl, type RedisEndpoint } from "./url.ts";

type Parsed = Omit<RedisEndpoint, "url">;

const defaults: Parsed = {
  host: "",
  port: 6379,
  tls: false,
  username: undefined,
  password: undefined,
  database: 0,
};

test("every documented form is accepted, with 6379 and database 0 as defaults", () => {
  const cases: [string, Partial<Parsed>][] = [
    ["redis://localhost", { host: "localhost" }],
    ["redis://cache.internal:6380", { host: "cache.internal", port: 6380 }],
    ["redis://10.0.0.1/2", { host: "10.0.0.1", database: 2 }],
    ["redis://h:7000/15", { host: "h", port: 7000, database: 15 }],
    ["redis://h/", { host: "h" }],
    ["redis://h/0", { host: "h" }],
    ["redis://h:1", { host: "h", port: 1 }],
    ["redis://h:65535", { host: "h", port: 65_535 }],
    ["rediss://h", { host: "h", tls: true }],
    ["rediss://h:6390/3", { host: "h", port: 6390, tls: true, database: 3 }],
    ["redis://user@h", { host: "h", username: "user" }],
    ["redis://:secret@h", { host: "h", password: "secret" }],
    [
      "redis://user:secret@h:6380/4",
      {
        host: "h",
        port: 6380,
        username: "user",
        password: "secret",
        database: 4,
      },
    ],
    // An empty password is no password, as for the drivers.
    ["redis://user:@h", { host: "h", username: "user" }],
    ["redis://@h", { host: "h" }],
    // The scheme is case-insensitive, as URL schemes are.
    ["REDIS://h", { host: "h" }],
    ["Rediss://h", { host: "h", tls: true }],
  ];
  for (const [url, expected] of cases) {
    assert.deepEqual(
      parseRedisUrl(url),
      { ...defaults, ...expected, url },
      url,
    );
  }
});

test("user and password are percent-decoded, so the password redacted from errors is the one sent", () => {
  const cases: [string, string | undefined, string][] = [
    ["redis://us%40er:p%3Ass%2Fw%23rd@h", "us@er", "p:ss/w#rd"],
    ["redis://u%3Ax:p%25@h", "u:x", "p%"],
    // The URL parser encodes what may not appear raw; decoding undoes it.
    ["redis://u:p@ss@h", "u", "p@ss"],
    ["redis://u:p ss@h", "u", "p ss"],
    ["redis://u:pässwörd☃@h", "u", "pässwörd☃"],
    ["redis://:p%C3%A4@h", undefined, "pä"],
  ];
  for (const [url, username, password] of cases) {
    const endpoint = parseRedisUrl(url);
    assert.equal(endpoint.username, username, url);
    assert.equal(endpoint.password, password, url);
    assert.equal(endpoint.host, "h", url);
  }
});

test("IPv6 hosts are given without brackets, and shown with them", () => {
  const cases: [string, string, number][] = [
    ["redis://[::1]", "::1", 6379],
    ["redis://[::1]:6380/1", "::1", 6380],
    ["rediss://u:p@[2001:db8::7]:7000", "2001:db8::7", 7000],
    // The URL parser writes an IPv6 address in its shortest form.
    ["redis://[0:0:0:0:0:0:0:1]", "::1", 6379],
  ];
  for (const [url, host, port] of cases) {
    const endpoint = parseRedisUrl(url);
    assert.equal(endpoint.host, host, url);
    assert.equal(endpoint.port, port, url);
    assert.equal(describeEndpoint(endpoint), `[${host}]:${port}`);
  }
});

test("describeEndpoint shows host and port, never the user or password", () => {
  const endpoint = parseRedisUrl("redis://admin:hunter2@db.example:6380/3");
  assert.equal(describeEndpoint(endpoint), "db.example:6380");
  assert.equal(describeEndpoint(parseRedisUrl("redis://h")), "h:6379");
});

test("bad URLs fail with a TypeError or RangeError that names the expected form and never echoes the URL", () => {
  const password = "hunter2-secret";
  const cases: [
    url: string,
    error: TypeErrorConstructor | RangeErrorConstructor,
    message: RegExp,
  ][] = [
    // Deno's own URL parser quotes the whole input in its message.
    [`redis://u:${password}#x@h`, TypeError, /^invalid Redis URL/],
    [`redis://u:${password}@h:65536`, TypeError, /^invalid Redis URL/],
    [`redis://u:${password}@h:port`, TypeError, /^invalid Redis URL/],
    [`redis://u:${password}@`, TypeError, /^invalid Redis URL/],
    [`redis://u:${password}@[fe80::1%25eth0]`, TypeError, /^invalid Redis URL/],
    [`u:${password}@h:6379`, TypeError, /^unsupported Redis URL scheme "u:"/],
    [
      `http://u:${password}@h`,
      TypeError,
      /^unsupported Redis URL scheme "http:"/,
    ],
    [
      `redis+sentinel://u:${password}@h`,
      TypeError,
      /scheme "redis\+sentinel:"/,
    ],
    [`redis:${password}`, TypeError, /^Redis URL has no host/],
    ["redis://", TypeError, /^Redis URL has no host/],
    [`redis://u:${password}%zz@h`, TypeError, /not valid percent-encoding/],
    [`redis://u%E0%A4:${password}@h`, TypeError, /not valid percent-encoding/],
    [`redis://u:${password}@h/db1`, RangeError, /must be a database number/],
    [`redis://u:${password}@h/-1`, RangeError, /must be a database number/],
    [`redis://u:${password}@h/1/2`, RangeError, /must be a database number/],
    [`redis://u:${password}@h/123456`, RangeError, /must be a database number/],
    [`redis://u:${password}@h/1.5`, RangeError, /must be a database number/],
  ];
  for (const [url, errorClass, message] of cases) {
    assert.throws(
      () => parseRedisUrl(url),
      (error: Error) => {
        assert.ok(error instanceof errorClass, `${url}: ${error}`);
        assert.match(error.message, message, url);
        assert.ok(
          error.message.endsWith(
            "expected redis[s]://[[user][:password]@]host[:port][/db]",
          ),
          error.message,
        );
        assert.ok(!error.message.includes(password), error.message);
        assert.ok(!String(error.stack).includes(password), "stack");
        assert.equal(error.cause, undefined, "no cause that holds the URL");
        return true;
      },
      url,
    );
  }
});

test("a URL that is not a string is a TypeError", () => {
  for (const url of [undefined, null, 6379, new URL("redis://h")]) {
    assert.throws(
      () => parseRedisUrl(url as unknown as string),
      { name: "TypeError", message: "url must be a string" },
    );
  }
});
