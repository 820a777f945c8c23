/**
 * The proxy asking the registry hook about plain-http requests (absolute-URI form): a refused
 * request never reaches the registry and is reported; a forwarded one carries the held
 * credential instead of the client's own. The control is the same request to an allowed host
 * the hook does not name, which reaches the upstream with the client's header untouched.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllowlist } from "../../../src/network/allowlist.js";
import { type NetworkProxy, proxyReport, startProxy } from "../../../src/network/proxy.js";
import { registryHook } from "../../../src/network/requestpolicy.js";
import { httpServer, requestThrough, type TestServer } from "./helpers.js";

let registry: TestServer;
let other: TestServer;
let proxy: NetworkProxy;

beforeAll(async () => {
  registry = await httpServer((req, res) => res.end(`${req.method} ${req.url}`));
  other = await httpServer((req, res) => res.end(`${req.method} ${req.url}`));
  const target = `127.0.0.1:${registry.port}`;
  proxy = await startProxy({
    allow: parseAllowlist([target, `127.0.0.1:${other.port}`]),
    registryHook: registryHook({
      mode: "install",
      registryHosts: [target],
      credentialHosts: [target],
      authorization: (url) => (url.pathname.startsWith("/@private") ? "Bearer HELD" : null),
    }),
  });
});

afterAll(async () => {
  await proxy?.close();
  await registry?.close();
  await other?.close();
});

describe("the proxy and the registry hook (plain http)", () => {
  it("forwards a read with the held credential, dropping the client's own", async () => {
    const res = await requestThrough(
      proxy.socketPath,
      `http://127.0.0.1:${registry.port}/@private%2fpkg`,
      { headers: { authorization: "Bearer CLIENT-OWN" } },
    );
    expect(res.status).toBe(200);
    const seen = registry.requests.at(-1);
    expect(seen?.url).toBe("/@private%2fpkg");
    expect(seen?.headers.authorization).toBe("Bearer HELD");
  });

  it("strips the client's own credential where none is held for the URL", async () => {
    await requestThrough(proxy.socketPath, `http://127.0.0.1:${registry.port}/lodash`, {
      headers: { authorization: "Bearer CLIENT-OWN" },
    });
    expect(registry.requests.at(-1)?.url).toBe("/lodash");
    expect(registry.requests.at(-1)?.headers.authorization).toBeUndefined();
  });

  it("refuses a publish with 403 and the reason; the registry never hears of it", async () => {
    const before = registry.requests.length;
    const res = await requestThrough(proxy.socketPath, `http://127.0.0.1:${registry.port}/worm`, {
      method: "PUT",
      headers: { authorization: "Bearer CLIENT-OWN", "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(403);
    expect(res.body).toContain("safe-npm: refused publishing a package");
    expect(registry.requests.length).toBe(before);
    const report = proxyReport(proxy.stats()).join("\n");
    expect(report).toMatch(/refused 1 request to the registry 127\.0\.0\.1:\d+: PUT \/worm/);
    expect(report).not.toContain("blocked");
  });

  it("drops headers that would make a read another method or path on the server", async () => {
    const overrides = {
      "x-http-method-override": "PUT",
      "x-http-method": "DELETE",
      "x-method-override": "PUT",
      "x-original-url": "/-/npm/v1/tokens",
      "x-rewrite-url": "/-/npm/v1/tokens",
      "x-original-uri": "/-/npm/v1/tokens",
      "x-envoy-original-path": "/-/npm/v1/tokens",
      "x-forwarded-uri": "/-/npm/v1/tokens",
      "x-forwarded-path": "/-/npm/v1/tokens",
      "x-forwarded-prefix": "/-/npm/v1/tokens",
      "x-forwarded-host": "attacker.example",
      "x-forwarded-server": "attacker.example",
      forwarded: "host=attacker.example",
      "x-original-host": "attacker.example",
      "x-http-host-override": "attacker.example",
      x_original_url: "/-/npm/v1/tokens",
    };
    await requestThrough(proxy.socketPath, `http://127.0.0.1:${registry.port}/@private%2fpkg`, {
      headers: overrides,
    });
    const seen = registry.requests.at(-1);
    expect(seen?.method).toBe("GET");
    for (const name of Object.keys(overrides)) expect(seen?.headers[name], name).toBeUndefined();
    expect(seen?.headers.authorization).toBe("Bearer HELD");
    // Control: to a host the hook does not name they go as sent.
    await requestThrough(proxy.socketPath, `http://127.0.0.1:${other.port}/x`, {
      headers: overrides,
    });
    expect(other.requests.at(-1)?.headers["x-http-method-override"]).toBe("PUT");
  });

  it("control: a host the hook does not name gets the request as the client sent it", async () => {
    const res = await requestThrough(proxy.socketPath, `http://127.0.0.1:${other.port}/worm`, {
      method: "PUT",
      headers: { authorization: "Bearer CLIENT-OWN" },
      body: "{}",
    });
    expect(res.status).toBe(200);
    expect(other.requests.at(-1)?.method).toBe("PUT");
    expect(other.requests.at(-1)?.headers.authorization).toBe("Bearer CLIENT-OWN");
  });
});
