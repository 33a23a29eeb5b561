// ACL users the tests connect as, made on the test file's own server.

import type { RawClient } from "./raw_client.ts";

/**
 * Makes (or resets) `name`, a user who may run every command on every key
 * but no script: the user for whom the cache falls back to plain commands.
 * Returns its password.
 */
export async function userWithoutScripts(
  raw: RawClient,
  name: string,
): Promise<string> {
  const password = "noscripts-Pa55";
  await raw.send(
    "ACL",
    "SETUSER",
    name,
    "on",
    `>${password}`,
    "~*",
    "+@all",
    "-@scripting",
  );
  return password;
}
