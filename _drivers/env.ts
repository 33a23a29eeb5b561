// Reads environment variables on Deno, Bun and Node alike.

/**
 * The value of `name`, or `undefined` when it is unset. On Deno it is read
 * only when env access to it was granted, so the cache never triggers a
 * permission prompt or error just to look for an optional setting.
 */
export function readEnv(name: string): string | undefined {
  const deno = (globalThis as { Deno?: DenoEnvironment }).Deno;
  if (deno !== undefined) {
    const { state } = deno.permissions.querySync({
      name: "env",
      variable: name,
    });
    return state === "granted" ? deno.env.get(name) : undefined;
  }
  const process =
    (globalThis as { process?: { env: Record<string, string | undefined> } })
      .process;
  return process?.env[name];
}

interface DenoEnvironment {
  permissions: {
    querySync(descriptor: { name: "env"; variable: string }): { state: string };
  };
  env: { get(name: string): string | undefined };
}
