/**
 * @module
 * A certificate authority made for one test run, with leaf certificates signed by it, using the `openssl` command
 * (Debian's `openssl`, which `ca-certificates` depends on; `.ci/run` installs it when missing). Keys are EC P-256;
 * nothing is written outside a temporary directory that is removed before returning.
 */

export interface TestPki {
  /** The CA certificate (PEM): trust it with `caCerts`. */
  ca: string;
  /** A leaf for `127.0.0.1` and `localhost`. */
  local: { cert: string; key: string };
  /** A leaf for `other.invalid` only: served on 127.0.0.1 it must fail hostname verification. */
  otherHost: { cert: string; key: string };
}

/** `openssl req` arguments for a new unencrypted EC P-256 key. */
const NEW_EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

async function openssl(cwd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
}

async function leaf(dir: string, name: string, san: string): Promise<{ cert: string; key: string }> {
  await openssl(dir, [
    "req",
    ...NEW_EC_KEY,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    `/CN=${name}`,
  ]);
  await Deno.writeTextFile(
    `${dir}/${name}.ext`,
    `subjectAltName=${san}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n` +
      "extendedKeyUsage=serverAuth\n",
  );
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-out",
    `${name}.pem`,
    "-extfile",
    `${name}.ext`,
  ]);
  return { cert: await Deno.readTextFile(`${dir}/${name}.pem`), key: await Deno.readTextFile(`${dir}/${name}.key`) };
}

/** Makes a fresh CA and its leaves. */
export async function makeTestPki(): Promise<TestPki> {
  const dir = await Deno.makeTempDir({ prefix: "converse-test-pki-" });
  try {
    await openssl(dir, [
      "req",
      "-x509",
      ...NEW_EC_KEY,
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "2",
      "-subj",
      "/CN=Converse Gateway test CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    return {
      ca: await Deno.readTextFile(`${dir}/ca.pem`),
      local: await leaf(dir, "local", "DNS:localhost,IP:127.0.0.1"),
      otherHost: await leaf(dir, "other", "DNS:other.invalid"),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
