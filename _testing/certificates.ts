// Throwaway TLS certificates made with openssl, for tests of TLS connections.

import { runChild } from "./child.ts";

/** PEM files of a throwaway CA, a server certificate and a client certificate. */
export interface Certificates {
  dir: string;
  /** The CA certificate's PEM text, and its file for redis-server. */
  ca: string;
  caFile: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/**
 * Makes a CA and server and client certificates for 127.0.0.1 with openssl,
 * in a temporary folder, valid for a day.
 */
export async function makeCertificates(): Promise<Certificates> {
  const { mkdtemp, readFile, writeFile } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = await mkdtemp(join(tmpdir(), "redis-basic-tls-"));
  const path = (name: string) => join(dir, name);
  const openssl = async (...args: string[]) => {
    const { code, output } = await runChild("openssl", args, 30_000);
    if (code !== 0) throw new Error(`openssl ${args[0]} failed: ${output}`);
  };
  await writeFile(path("san.ext"), "subjectAltName=IP:127.0.0.1\n");
  await openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=redis-basic test CA",
    "-keyout",
    path("ca.key"),
    "-out",
    path("ca.crt"),
  );
  for (const name of ["server", "client"]) {
    await openssl(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      `/CN=127.0.0.1`,
      "-keyout",
      path(`${name}.key`),
      "-out",
      path(`${name}.csr`),
    );
    await openssl(
      "x509",
      "-req",
      "-days",
      "1",
      "-in",
      path(`${name}.csr`),
      "-CA",
      path("ca.crt"),
      "-CAkey",
      path("ca.key"),
      "-CAcreateserial",
      "-extfile",
      path("san.ext"),
      "-out",
      path(`${name}.crt`),
    );
  }
  const read = (name: string) => readFile(path(name), "utf8");
  return {
    dir,
    ca: await read("ca.crt"),
    caFile: path("ca.crt"),
    serverCert: path("server.crt"),
    serverKey: path("server.key"),
    clientCert: await read("client.crt"),
    clientKey: await read("client.key"),
  };
}
