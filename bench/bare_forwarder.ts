/**
 * @module
 * The bare Deno forwarder: the floor for any Deno proxy, and the yardstick the gateway's overhead is measured
 * against. Per request it does only what every proxy must: read the body, `fetch` the same path upstream, and
 * relay status, content type and body stream. No routing framework, auth, validation, signing or accounting.
 *
 * Run as its own process: `deno run -A bench/bare_forwarder.ts --upstream http://127.0.0.1:PORT [--port N]
 * [--client native]`. Prints `listening {port}` on stdout once serving. `--client native` sends with the gateway's
 * native HTTP/1.1 client (server/upstream_client) instead of `fetch`: `bench/raw_compare.ts` compares the two.
 */
import { createHttpClient } from "../server/upstream_client/mod.ts";

function arg(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

if (import.meta.main) {
  const upstream = arg("--upstream");
  if (!upstream) {
    console.error("usage: bare_forwarder.ts --upstream URL [--port N] [--client native]");
    Deno.exit(2);
  }
  const send = arg("--client") === "native" ? createHttpClient().fetch : fetch;
  Deno.serve({
    hostname: "127.0.0.1",
    port: Number(arg("--port") ?? 0),
    onListen: ({ port }) => console.log(`listening ${port}`),
  }, async (req) => {
    const url = req.url;
    const path = url.slice(url.indexOf("/", url.indexOf("//") + 2));
    const body = await req.arrayBuffer();
    const res = await send(upstream + path, {
      method: req.method,
      headers: { "content-type": req.headers.get("content-type") ?? "application/json" },
      body,
    });
    return new Response(res.body, {
      status: res.status,
      headers: { "content-type": res.headers.get("content-type") ?? "application/octet-stream" },
    });
  });
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
}
