/**
 * The registry gateway with real sockets: an https "registry" with its own CA (trusted by the
 * proxy through `upstreamCa`, as a user's cafile would be), clients that CONNECT through the
 * proxy and trust only safe-npm's local CA, and small hooks standing in for the registry rules.
 */
import { createHash, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import https from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseAllowlist } from "../../../src/network/allowlist.js";
import type { RegistryHook } from "../../../src/network/gateway-hook.js";
import {
  credentialForms,
  holdsCredential,
  type NetworkProxy,
  proxyReport,
  startProxy,
} from "../../../src/network/proxy.js";
import {
  connectThrough,
  echoServer,
  eventually,
  httpServer,
  readAll,
  requestThrough,
  sleep,
  type TestServer,
} from "./helpers.js";
import { gatewayRequest, httpsServer, makePki, type Pki, TunnelAgent } from "./tls-helpers.js";

const HOST_TOKEN = "Bearer host-held-token";
/** npm's `username` + `_password` (base64 of the password) as the Basic header it sends. */
const PASSWORD = "correct-horse-battery";
const BASIC = `Basic ${Buffer.from(`alice:${PASSWORD}`).toString("base64")}`;
/** One whose base64 holds `/` and `+`, which URLs and JSON may escape. */
const SLASHED = `Basic ${Buffer.from("alice:9f?v6?r?~9Bunm").toString("base64")}`;
const INSIDE_TOKEN = "Bearer token-the-sandbox-found";
const BIG = 24 * 1024 * 1024;

/**
 * What the test registries answer for the credential they got: a digest, never the value (the
 * gateway refuses an answer that holds the credential it added).
 */
const seen = (authorization: string | undefined): string | null =>
  authorization === undefined
    ? null
    : `sha256:${createHash("sha256").update(authorization).digest("hex").slice(0, 16)}`;

/** Reads only: GET/HEAD forwarded with the host's token, everything else refused. */
function readOnlyHook(hosts: string[], credentialHosts = hosts): RegistryHook {
  return {
    hosts: new Set(hosts),
    credentialHosts: new Set(credentialHosts),
    decide: ({ method, url }) => {
      if (url.pathname === "/throws") throw new Error("rule bug");
      if (url.pathname.startsWith("/upload")) return { action: "forward" };
      if (method !== "GET" && method !== "HEAD") {
        return { action: "refuse", reason: "installs only read from the registry" };
      }
      if (url.pathname.startsWith("/leak/basic"))
        return { action: "forward", authorization: BASIC };
      if (url.pathname.startsWith("/leak/slashed"))
        return { action: "forward", authorization: SLASHED };
      return url.pathname.startsWith("/public")
        ? { action: "forward" }
        : { action: "forward", authorization: HOST_TOKEN };
    },
  };
}

let pki: Pki;
let registry: TestServer;
let plain: TestServer;
let echo: TestServer;
let stateDir: string;
let proxy: NetworkProxy;
/** Lets the big-download test hold the upstream until the client saw the first bytes. */
let clientSawFirstChunk = false;
let uploadChunks = 0;

beforeAll(async () => {
  pki = await makePki();
  registry = await httpsServer(pki, (req, res) => {
    if (req.url === "/big") {
      res.writeHead(200, { "content-length": String(BIG) });
      res.write(Buffer.alloc(1024 * 1024, 97));
      // Streaming, not buffering: the rest is sent only once the client has the first MiB.
      const wait = setInterval(() => {
        if (!clientSawFirstChunk) return;
        clearInterval(wait);
        res.end(Buffer.alloc(BIG - 1024 * 1024, 98));
      }, 10);
      res.on("close", () => clearInterval(wait));
      return;
    }
    if (req.url === "/endless") {
      res.writeHead(200);
      const pump = setInterval(() => res.write(Buffer.alloc(64 * 1024)), 5);
      res.on("close", () => clearInterval(pump));
      return;
    }
    if (req.url?.startsWith("/upload")) {
      let bytes = 0;
      req.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
        uploadChunks++;
      });
      req.on("end", () => res.end(`received ${bytes}`));
      return;
    }
    // Server endpoints under a registry's path that write the credential back.
    const got = req.headers.authorization ?? "";
    if (req.url === "/leak/text") {
      // Artifactory's `<repository>/auth`: npmrc lines, as text.
      res.setHeader("content-type", "text/plain");
      res.end("always-auth = true\n");
      return;
    }
    if (req.url === "/leak/text-error") {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found\n");
      return;
    }
    if (req.url === "/leak/json") {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ token: got.replace(/^Bearer /, "") }));
      return;
    }
    if (req.url === "/leak/chunked" || req.url === "/leak/split") {
      // No length, so streamed: the token in the first piece, or split across two late ones.
      res.writeHead(200, { "content-type": "application/json" });
      const secret = got.replace(/^Bearer /, "");
      if (req.url === "/leak/chunked") {
        res.end(JSON.stringify({ token: secret }));
        return;
      }
      res.write(`{"pad":"${"x".repeat(100_000)}`);
      setTimeout(() => res.write(secret.slice(0, 5)), 50);
      setTimeout(() => res.end(`${secret.slice(5)}"}`), 100);
      return;
    }
    if (req.url === "/leak/gzip" || req.url === "/leak/te") {
      // Coded although the request asked for none.
      const body = gzipSync(JSON.stringify({ token: got }));
      res.writeHead(
        200,
        req.url === "/leak/gzip"
          ? { "content-encoding": "gzip", "content-length": String(body.length) }
          : { "transfer-encoding": "gzip, chunked" },
      );
      res.end(body);
      return;
    }
    if (req.url === "/leak/emptyce") {
      // An empty Content-Encoding, streamed: as good as none, so searched.
      res.writeHead(200, { "content-type": "application/json", "content-encoding": "" });
      res.end(JSON.stringify({ token: got }));
      return;
    }
    if (req.url === "/leak/reason") {
      res.writeHead(200, got, { "content-type": "application/json" });
      res.end("{}");
      return;
    }
    if (req.url === "/leak/header" || req.url === "/leak/slashed-header") {
      const echo = req.url === "/leak/header" ? got : encodeURIComponent(got);
      res.writeHead(200, { "content-type": "application/json", "x-debug-auth": echo });
      res.end("{}");
      return;
    }
    if (req.url === "/leak/cookie") {
      res.writeHead(200, {
        "content-type": "application/json",
        "set-cookie": "session=registry-session-id",
      });
      res.end(JSON.stringify({ cookie: req.headers.cookie ?? null }));
      return;
    }
    if (req.url === "/leak/stream-ok") {
      res.writeHead(200, { "content-type": "application/json" });
      // Pieces ending in what could start the token ("host-"), but never it.
      for (let i = 0; i < 50; i++) res.write(`{"n":${i},"s":"host-`);
      res.end("end");
      return;
    }
    if (req.url === "/leak/basic") {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ _password: Buffer.from(PASSWORD).toString("base64") }));
      return;
    }
    req.resume();
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ path: req.url, auth: seen(req.headers.authorization) }));
  });
  plain = await httpServer((req, res) =>
    res.end(JSON.stringify({ auth: seen(req.headers.authorization), method: req.method })),
  );
  echo = await echoServer();
  stateDir = mkdtempSync(join(tmpdir(), "safe-npm-gw-state-"));
  proxy = await startProxy({
    allow: parseAllowlist([
      `127.0.0.1:${registry.port}`,
      `127.0.0.1:${plain.port}`,
      `127.0.0.1:${echo.port}`,
    ]),
    registryHook: readOnlyHook([`127.0.0.1:${registry.port}`, `127.0.0.1:${plain.port}`]),
    caDir: join(stateDir, "ca"),
    upstreamCa: [pki.ca],
  });
});

afterAll(async () => {
  await proxy?.close();
  await Promise.all([registry?.close(), plain?.close(), echo?.close()]);
  rmSync(stateDir, { recursive: true, force: true });
});

afterEach(async () => {
  await eventually(() => proxy.stats().openSockets === 0, "no open proxy sockets", 10_000);
});

const localCa = (): string => readFileSync(join(stateDir, "ca", "local-ca.pem"), "utf8");
const row = (port: number) => proxy.stats().hosts.find((h) => h.target === `127.0.0.1:${port}`);

describe("the https gateway", () => {
  it("writes a bundle for the sandbox: the local CA's certificate, then the user's CAs", () => {
    const bundle = proxy.caBundlePath;
    expect(bundle).toBe(join(proxy.dir, "ca.pem"));
    const text = readFileSync(bundle ?? "", "utf8");
    expect(text).not.toContain("PRIVATE KEY");
    expect(text).toContain(pki.ca.trim());
    const first = new X509Certificate(text);
    expect(localCa()).toContain(first.toString().trim());
    expect(statSync(bundle ?? "").mode & 0o777).toBe(0o644);
    // Without a list of its own, NODE_EXTRA_CA_CERTS names the same file.
    expect(proxy.caNodeBundlePath).toBe(bundle);
  });

  it("writes a second bundle for NODE_EXTRA_CA_CERTS when it holds fewer certificates", async () => {
    const other = await makePki();
    const split = await startProxy({
      allow: parseAllowlist([`127.0.0.1:${registry.port}`]),
      registryHook: readOnlyHook([`127.0.0.1:${registry.port}`]),
      caDir: join(stateDir, "ca"),
      bundleCa: [other.ca, pki.ca],
      nodeBundleCa: [pki.ca],
    });
    try {
      const full = readFileSync(split.caBundlePath ?? "", "utf8");
      expect(split.caNodeBundlePath).toBe(join(split.dir, "ca-node.pem"));
      const forNode = readFileSync(split.caNodeBundlePath ?? "", "utf8");
      const ours = new X509Certificate(full).toString().trim();
      expect(full.startsWith(ours)).toBe(true);
      expect(forNode.startsWith(ours)).toBe(true);
      expect(full).toContain(other.ca.trim());
      expect(forNode).not.toContain(other.ca.trim());
      expect(forNode).toContain(pki.ca.trim());
      expect(statSync(split.caNodeBundlePath ?? "").mode & 0o777).toBe(0o644);
    } finally {
      await split.close();
    }
  });

  it("answers with a certificate from the local CA, and forwards a GET with the host's token", async () => {
    const ours = localCa().slice(localCa().indexOf("-----BEGIN CERTIFICATE"));
    const agent = new TunnelAgent(proxy.socketPath, ours);
    const res = await gatewayRequest(agent, registry.port, "/@acme%2fpkg", {
      headers: { Authorization: INSIDE_TOKEN },
    });
    agent.destroy();
    expect(res.status).toBe(200);
    // The client's own token never reaches the registry; the host's does.
    expect(JSON.parse(res.body)).toEqual({ path: "/@acme%2fpkg", auth: seen(HOST_TOKEN) });
    expect(JSON.stringify(registry.requests)).not.toContain("token-the-sandbox-found");
  });

  it("names every form a credential may be written back in, base64 at any offset included", () => {
    const forms = credentialForms(HOST_TOKEN);
    expect(forms[0]).toBe("host-held-token");
    for (const secret of ["host-held-token", PASSWORD]) {
      const of = secret === PASSWORD ? credentialForms(BASIC) : forms;
      for (const before of ["", "a", "ab", "abc", '{"_authToken":"'])
        for (const after of ["", "x", "xy", '"}']) {
          const text = Buffer.from(`${before}${secret}${after}`).toString("base64");
          expect(
            of.some((form) => text.includes(form)),
            `${before}|${after}`,
          ).toBe(true);
        }
    }
    // With base64's `/` and `+` escaped as JSON and URLs escape them, in any mix (PHP's
    // json_encode writes `\/`; Python's quote `%2B` but `/`).
    const slashed = `Basic ${Buffer.from("alice:9f?v6?r?~9Bunm").toString("base64")}`;
    const value = slashed.slice(6);
    expect(value).toMatch(/\/.*\+/);
    for (const echo of [
      value.replaceAll("/", "\\/"),
      value.replaceAll("/", "%2F").replaceAll("+", "%2B"),
      value.replaceAll("+", "%2b"),
      value.replaceAll("/", "\\/").replaceAll("+", "\\u002b"),
    ])
      expect(holdsCredential(Buffer.from(`{"echo":"${echo}"}`), slashed), echo).toBe(true);
    expect(holdsCredential(Buffer.from('{"echo":"a\\/b%2Bc"}'), slashed)).toBe(false);
    expect(credentialForms(BASIC)).toContain(BASIC.slice(6));
    expect(credentialForms(BASIC)).toContain(PASSWORD);
    // Too short to look for without refusing innocent answers.
    expect(credentialForms("Bearer abc")).toEqual([]);
    expect(credentialForms(`Basic ${Buffer.from("a:short").toString("base64")}`)).not.toContain(
      "short",
    );
  });

  it("strips a client's authorization to a credential host even when the rule adds none", async () => {
    const agent = new TunnelAgent(proxy.socketPath, localCa());
    const res = await gatewayRequest(agent, registry.port, "/public/x", {
      headers: { Authorization: INSIDE_TOKEN },
    });
    agent.destroy();
    expect(JSON.parse(res.body)).toEqual({ path: "/public/x", auth: null });
  });

  it("refuses what the rule refuses with 403, never upstream, and reports method and path only", async () => {
    const before = registry.requests.length;
    const agent = new TunnelAgent(proxy.socketPath, localCa());
    const put = await gatewayRequest(agent, registry.port, "/evil-pkg?token=q", {
      method: "PUT",
      headers: { Authorization: INSIDE_TOKEN, "X-Secret": "do-not-report" },
      body: JSON.stringify({ stolen: "data" }),
    });
    const post = await gatewayRequest(agent, registry.port, "/-/npm/v1/security/x", {
      method: "POST",
      body: "x",
    });
    agent.destroy();
    expect(put.status).toBe(403);
    expect(put.body).toContain("PUT /evil-pkg refused: installs only read from the registry");
    expect(post.status).toBe(403);
    expect(registry.requests.length).toBe(before);
    const stats = proxy.stats();
    const line = proxyReport(stats).find((l) => l.startsWith("refused"));
    expect(line).toBe(
      `refused 2 requests to the registry 127.0.0.1:${registry.port}: PUT /evil-pkg (installs only read from the registry); POST /-/npm/v1/security/x (installs only read from the registry)`,
    );
    expect(JSON.stringify(stats)).not.toContain("do-not-report");
    expect(JSON.stringify(stats)).not.toContain("token=q");
  });

  it("refuses an answer to a credentialed request that is text or holds the credential", async () => {
    const agent = new TunnelAgent(proxy.socketPath, localCa());
    const before = row(registry.port)?.refusedRequests ?? 0;
    const answers = [];
    for (const path of ["/leak/text", "/leak/json", "/leak/basic", "/leak/text-error"])
      answers.push(await gatewayRequest(agent, registry.port, path));
    agent.destroy();
    const [text, json, basic, error] = answers;
    expect(text?.status).toBe(502);
    expect(text?.body).toContain("a text/plain answer to a request that carried your credential");
    expect(json?.status).toBe(502);
    expect(json?.body).toContain("an answer that holds the credential safe-npm added");
    expect(json?.body).not.toContain("host-held-token");
    expect(basic?.status).toBe(502);
    expect(basic?.body).not.toContain(Buffer.from(PASSWORD).toString("base64"));
    // An error page goes on as it is: no package manager reads the credential from one.
    expect(error?.status).toBe(404);
    expect((row(registry.port)?.refusedRequests ?? 0) - before).toBe(3);
  });

  it("searches a streamed answer to a credentialed request, across its pieces", async () => {
    const agent = new TunnelAgent(proxy.socketPath, localCa());
    const chunked = await gatewayRequest(agent, registry.port, "/leak/chunked", {
      headers: { "Accept-Encoding": "gzip, br" },
    });
    // Asked for uncompressed, so that it can be searched.
    expect(registry.requests.at(-1)?.headers["accept-encoding"]).toBe("identity");
    expect(chunked.status).toBe(502);
    expect(chunked.body).not.toContain("host-held-token");
    // Split across two pieces, after 100 kB went down: cut off before any of it.
    const split = await new Promise<{ status: number; body: string; complete: boolean }>(
      (resolve) => {
        const req = https.request(
          { host: "127.0.0.1", port: registry.port, path: "/leak/split", agent },
          (res) => {
            let body = "";
            res.on("data", (chunk: Buffer) => {
              body += chunk.toString();
            });
            res.on("error", () => {});
            res.on("close", () =>
              resolve({ status: res.statusCode ?? 0, body, complete: res.complete }),
            );
          },
        );
        req.on("error", () => resolve({ status: 0, body: "", complete: false }));
        req.end();
      },
    );
    expect(split.status).toBe(200);
    expect(split.complete).toBe(false);
    expect(split.body.length).toBeGreaterThan(50_000);
    expect(split.body).not.toContain("host-");
    // What only looks like the start of it goes down whole.
    const ok = await gatewayRequest(agent, registry.port, "/leak/stream-ok");
    agent.destroy();
    expect(ok.status).toBe(200);
    expect(ok.body).toBe(
      `${Array.from({ length: 50 }, (_, i) => `{"n":${i},"s":"host-`).join("")}end`,
    );
  });

  it("takes no cookie up to a credential host, and brings none down from an answer with the credential", async () => {
    const agent = new TunnelAgent(proxy.socketPath, localCa());
    const header = await gatewayRequest(agent, registry.port, "/leak/header");
    // Written back URL-escaped (`%2F`, `%2B`) in a header.
    const escapedHeader = await gatewayRequest(agent, registry.port, "/leak/slashed-header");
    const cookie = await gatewayRequest(agent, registry.port, "/leak/cookie", {
      headers: { Cookie: "session=one-the-script-found" },
    });
    agent.destroy();
    // A header that writes the credential back: refused like a body that does.
    expect(header.status).toBe(502);
    expect(escapedHeader.status).toBe(502);
    const agent2 = new TunnelAgent(proxy.socketPath, localCa());
    const gzip = await gatewayRequest(agent2, registry.port, "/leak/gzip", {
      headers: { "Accept-Encoding": "gzip", Range: "bytes=0-9" },
    });
    // Asked for whole and uncompressed.
    expect(registry.requests.at(-1)?.headers.range).toBeUndefined();
    const te = await gatewayRequest(agent2, registry.port, "/leak/te");
    agent2.destroy();
    expect(gzip.status).toBe(502);
    expect(gzip.body).toContain("coded as gzip");
    expect(te.status).toBe(502);
    expect(te.body).toContain("transfer coding gzip, chunked");
    const agent3 = new TunnelAgent(proxy.socketPath, localCa());
    const empty = await gatewayRequest(agent3, registry.port, "/leak/emptyce");
    expect(empty.status).toBe(502);
    expect(empty.body).not.toContain("host-held-token");
    // The reason phrase is the server's own words: not passed on for a credentialed answer.
    const reason = await new Promise<string>((resolve, reject) => {
      https
        .get(
          { host: "127.0.0.1", port: registry.port, path: "/leak/reason", agent: agent3 },
          (r) => {
            r.resume();
            r.on("end", () => resolve(r.statusMessage ?? ""));
          },
        )
        .on("error", reject);
    });
    agent3.destroy();
    expect(reason).toBe("OK");
    expect(JSON.stringify(header.headers)).not.toContain("host-held-token");
    expect(cookie.status).toBe(200);
    expect(JSON.parse(cookie.body)).toEqual({ cookie: null });
    expect(cookie.headers["set-cookie"]).toBeUndefined();
  });

  it("refuses when the rule itself fails, and keeps going", async () => {
    const agent = new TunnelAgent(proxy.socketPath, localCa());
    const res = await gatewayRequest(agent, registry.port, "/throws");
    const after = await gatewayRequest(agent, registry.port, "/fine");
    agent.destroy();
    expect(res.status).toBe(403);
    expect(res.body).toContain("rule bug");
    expect(after.status).toBe(200);
  });

  it("keeps connections alive: many requests, one tunnel, one upstream connection", async () => {
    const upstreamBefore = registry.accepted();
    const agent = new TunnelAgent(proxy.socketPath, localCa());
    for (let i = 0; i < 8; i++) {
      const res = await gatewayRequest(agent, registry.port, `/pkg-${i}`);
      expect(res.status).toBe(200);
    }
    expect(agent.tunnels).toBe(1);
    // A second client connection reuses the pooled upstream connection too.
    const second = new TunnelAgent(proxy.socketPath, localCa());
    await gatewayRequest(second, registry.port, "/again");
    agent.destroy();
    second.destroy();
    expect(registry.accepted() - upstreamBefore).toBeLessThanOrEqual(1);
  });

  it("streams a large download instead of buffering it", async () => {
    clientSawFirstChunk = false;
    const agent = new TunnelAgent(proxy.socketPath, localCa());
    const received = await new Promise<number>((resolve, reject) => {
      https
        .get({ host: "127.0.0.1", port: registry.port, path: "/big", agent }, (res) => {
          let bytes = 0;
          res.on("data", (chunk: Buffer) => {
            bytes += chunk.length;
            clientSawFirstChunk = true;
          });
          res.on("end", () => resolve(bytes));
          res.on("error", reject);
        })
        .on("error", reject);
    });
    agent.destroy();
    expect(received).toBe(BIG);
  });

  it("streams an upload the rule allows", async () => {
    uploadChunks = 0;
    const agent = new TunnelAgent(proxy.socketPath, localCa());
    const result = await new Promise<string>((resolve, reject) => {
      const req = https.request(
        { host: "127.0.0.1", port: registry.port, path: "/upload", method: "PUT", agent },
        (res) => {
          let body = "";
          res.on("data", (d: Buffer) => {
            body += d;
          });
          res.on("end", () => resolve(body));
        },
      );
      req.on("error", reject);
      req.write(Buffer.alloc(256 * 1024, 1));
      // The registry has the first part before the client sends the rest.
      eventually(() => uploadChunks > 0, "first upload chunk upstream", 20_000).then(
        () => req.end(Buffer.alloc(256 * 1024, 2)),
        reject,
      );
    });
    agent.destroy();
    expect(result).toBe(`received ${512 * 1024}`);
  });

  it("a client that aborts mid-download takes the upstream request with it", async () => {
    const openBefore = registry.open();
    const agent = new TunnelAgent(proxy.socketPath, localCa());
    await new Promise<void>((resolve, reject) => {
      const req = https.get(
        { host: "127.0.0.1", port: registry.port, path: "/endless", agent },
        (res) => {
          res.once("data", () => {
            req.destroy();
            resolve();
          });
        },
      );
      req.on("error", () => {});
      setTimeout(() => reject(new Error("no data")), 60_000).unref();
    });
    agent.destroy();
    await eventually(() => proxy.stats().openSockets === 0, "proxy sockets closed", 20_000);
    // The endless response stopped: its upstream socket is gone, not idle in the pool.
    await eventually(() => registry.open() <= openBefore, "upstream closed", 20_000);
  });

  it("keeps other allowed hosts as opaque tunnels (no TLS from the proxy)", async () => {
    const { status, socket } = await connectThrough(proxy.socketPath, `127.0.0.1:${echo.port}`);
    expect(status).toBe(200);
    const echoed = new Promise<string>((resolve) => socket.once("data", (d) => resolve(String(d))));
    socket.resume();
    socket.write("raw bytes, not a ClientHello");
    expect(await echoed).toBe("raw bytes, not a ClientHello");
    socket.destroy();
  });

  it("counts a client that does not trust the local CA", async () => {
    const before = row(registry.port)?.handshakeFailures ?? 0;
    const agent = new TunnelAgent(proxy.socketPath, pki.ca);
    await expect(gatewayRequest(agent, registry.port, "/x")).rejects.toThrow();
    agent.destroy();
    await eventually(
      () => (row(registry.port)?.handshakeFailures ?? 0) === before + 1,
      "handshake failure counted",
    );
    expect(proxyReport(proxy.stats()).join("\n")).toContain("did not accept safe-npm's local CA");
  });
});

describe("plain-http registries", () => {
  it("forward a GET with the host's token in place of the client's", async () => {
    const res = await requestThrough(proxy.socketPath, `http://127.0.0.1:${plain.port}/pkg`, {
      headers: { Authorization: INSIDE_TOKEN },
    });
    expect(JSON.parse(res.body)).toEqual({ auth: seen(HOST_TOKEN), method: "GET" });
  });

  it("refuse a POST with 403 before it goes upstream", async () => {
    const before = plain.requests.length;
    const res = await requestThrough(proxy.socketPath, `http://127.0.0.1:${plain.port}/-/user`, {
      method: "POST",
      body: "{}",
    });
    expect(res.status).toBe(403);
    expect(plain.requests.length).toBe(before);
    expect(row(plain.port)?.refusedSamples[0]?.request).toBe("POST /-/user");
  });
});

/** Raw bytes over the proxy's socket; resolves with everything received until `done` says so. */
/** A loopback port that was free a moment ago: nothing listens there. */
function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function rawExchange(socketPath: string, bytes: string, done: (text: string) => boolean) {
  return new Promise<string>((resolve, reject) => {
    const socket = net.connect({ path: socketPath });
    let text = "";
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      if (done(text)) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(text));
    socket.on("connect", () => socket.write(bytes));
  });
}

describe("plain http inside a CONNECT tunnel to a gateway host (yarn 4 does this)", () => {
  const target = () => `127.0.0.1:${plain.port}`;
  const connect = () => `CONNECT ${target()} HTTP/1.1\r\nHost: ${target()}\r\n\r\n`;

  it("is parsed and decided like any request: a GET gets the host's token", async () => {
    const { status, socket } = await connectThrough(proxy.socketPath, target());
    expect(status).toBe(200);
    const answer = readAll(socket);
    socket.write(
      `GET /pkg HTTP/1.1\r\nHost: evil.example\r\nAuthorization: ${INSIDE_TOKEN}\r\nConnection: close\r\n\r\n`,
    );
    const text = await answer;
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(text).toContain(JSON.stringify({ auth: seen(HOST_TOKEN), method: "GET" }));
  });

  it("a POST sent right behind the CONNECT (no wait for the 200) is refused", async () => {
    const before = plain.requests.length;
    const text = await rawExchange(
      proxy.socketPath,
      `${connect()}POST /-/user/org.couchdb.user:x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}`,
      (t) => t.includes("refused"),
    );
    expect(text).toContain("HTTP/1.1 200 Connection Established");
    expect(text).toContain("HTTP/1.1 403");
    expect(plain.requests.length).toBe(before);
  });
});

describe("a gateway host without the local CA (no https registry this run)", () => {
  let bare: NetworkProxy;
  let tlsBehindHttp: TestServer;
  /** A port nothing listens on: an https registry that is down. */
  let closedPort: number;
  const target = () => `127.0.0.1:${plain.port}`;
  const connect = () => `CONNECT ${target()} HTTP/1.1\r\nHost: ${target()}\r\n\r\n`;
  beforeAll(async () => {
    tlsBehindHttp = await httpsServer(pki, (req, res) => {
      req.resume();
      res.end("reached");
    });
    closedPort = await unusedPort();
    bare = await startProxy({
      allow: parseAllowlist([
        `127.0.0.1:${registry.port}`,
        `127.0.0.1:${plain.port}`,
        `127.0.0.1:${tlsBehindHttp.port}`,
        `127.0.0.1:${closedPort}`,
      ]),
      registryHook: readOnlyHook([
        `127.0.0.1:${registry.port}`,
        `127.0.0.1:${plain.port}`,
        `127.0.0.1:${tlsBehindHttp.port}`,
        `127.0.0.1:${closedPort}`,
      ]),
      plainHttpTargets: new Set([`127.0.0.1:${plain.port}`, `127.0.0.1:${tlsBehindHttp.port}`]),
    });
  });
  afterAll(async () => {
    await bare?.close();
    await tlsBehindHttp?.close();
  });
  afterEach(async () => {
    await eventually(() => bare.stats().openSockets === 0, "no open proxy sockets", 10_000);
  });

  it("has no CA to hand inside", () => {
    expect(bare.caBundlePath).toBeNull();
  });

  it("decides plain http inside a CONNECT tunnel: a GET gets the host's token", async () => {
    const { status, socket } = await connectThrough(bare.socketPath, target());
    expect(status).toBe(200);
    const answer = readAll(socket);
    socket.write(
      `GET /pkg HTTP/1.1\r\nHost: evil.example\r\nAuthorization: ${INSIDE_TOKEN}\r\nConnection: close\r\n\r\n`,
    );
    const text = await answer;
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(text).toContain(JSON.stringify({ auth: seen(HOST_TOKEN), method: "GET" }));
  });

  it("refuses a POST inside the tunnel, also one sent right behind the CONNECT", async () => {
    const before = plain.requests.length;
    const text = await rawExchange(
      bare.socketPath,
      `${connect()}POST /-/user/org.couchdb.user:x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}`,
      (t) => t.includes("refused"),
    );
    expect(text).toContain("HTTP/1.1 200 Connection Established");
    expect(text).toContain("HTTP/1.1 403");
    const { status, socket } = await connectThrough(bare.socketPath, target());
    expect(status).toBe(200);
    const answer = readAll(socket);
    socket.write(
      "PUT /worm HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    );
    expect(await answer).toMatch(/^HTTP\/1\.1 403/);
    expect(plain.requests.length).toBe(before);
    const row = bare.stats().hosts.find((h) => h.target === target());
    expect(row?.refusedRequests).toBe(2);
    expect(row?.refusedSamples.map((r) => r.request)).toEqual([
      "POST /-/user/org.couchdb.user:x",
      "PUT /worm",
    ]);
  });

  it("parses a request that comes in pieces, in order, every time", async () => {
    // A refusal closes the connection; a body still on its way would make that a reset, so
    // each request's last piece carries its body.
    for (let i = 0; i < 20; i++) {
      const { status, socket } = await connectThrough(bare.socketPath, target());
      expect(status).toBe(200);
      const answer = readAll(socket);
      socket.write(`PUT /worm-${i} HTTP/1.1\r\n`);
      await sleep(i % 3);
      socket.write("Host: x\r\nContent-Length: 2\r\n");
      await sleep(i % 2);
      socket.write("Connection: close\r\n\r\n{}");
      expect(await answer).toMatch(/^HTTP\/1\.1 403/);
    }
    const row = bare.stats().hosts.find((h) => h.target === target());
    expect(row?.refusedSamples.map((r) => r.request)).toContain("PUT /worm-0");
  });

  it("refuses TLS to a registry named by an http:// URL: it would be a tunnel no rule sees into", async () => {
    // The server speaks https although config says http (a project's `registry=http://host:443/`).
    const before = tlsBehindHttp.requests.length;
    const agent = new TunnelAgent(bare.socketPath, pki.ca);
    await expect(
      gatewayRequest(agent, tlsBehindHttp.port, "/worm", { method: "PUT", body: "{}" }),
    ).rejects.toThrow();
    agent.destroy();
    expect(tlsBehindHttp.requests.length).toBe(before);
    // Refused before anything is dialled: the server saw no connection at all.
    expect(tlsBehindHttp.accepted()).toBe(0);
    const row = bare.stats().hosts.find((h) => h.target === `127.0.0.1:${tlsBehindHttp.port}`);
    expect(row?.tlsRefused).toBe(1);
    expect(row?.connections).toBe(0);
    expect(proxyReport(bare.stats()).join("\n")).toContain(
      `refused 1 TLS connection to 127.0.0.1:${tlsBehindHttp.port}: your config names that registry by an http:// URL`,
    );
  });

  it("dials nothing for a tunnel whose client has not spoken, or speaks plain http", async () => {
    const accepted = plain.accepted();
    const { status, socket } = await connectThrough(bare.socketPath, target());
    expect(status).toBe(200);
    await sleep(100);
    expect(plain.accepted()).toBe(accepted);
    const answer = readAll(socket);
    socket.write("GET /pkg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(await answer).toMatch(/^HTTP\/1\.1 200/);
    // One connection: the gateway's own, for the request.
    expect(plain.accepted()).toBeLessThanOrEqual(accepted + 1);
  });

  it("names a registry it could not reach in the report, not as allowed traffic", async () => {
    // The client has had its 200 before the dial, so a refused dial can only close it: the
    // reason reaches the user through the end-of-run report.
    const agent = new TunnelAgent(bare.socketPath, pki.ca);
    await expect(gatewayRequest(agent, closedPort, "/pkg")).rejects.toThrow();
    agent.destroy();
    const key = `127.0.0.1:${closedPort}`;
    const row = bare.stats().hosts.find((h) => h.target === key);
    expect(row).toMatchObject({
      connections: 0,
      failed: 1,
      failures: [{ reason: "ECONNREFUSED", count: 1 }],
    });
    const report = proxyReport(bare.stats(), true);
    expect(report).toContain(`1 connection to ${key} failed: ECONNREFUSED`);
    expect(report.join("\n")).not.toContain(`allowed 1 to ${key}`);
  });

  it("closes a tunnel whose client ends before it says anything", async () => {
    // The proxy's sockets allow half-open; without this the tunnel lived to the idle timer.
    const { status, socket } = await connectThrough(bare.socketPath, target());
    expect(status).toBe(200);
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.end();
    await closed;
    await eventually(() => bare.stats().openSockets === 0, "no open proxy sockets", 10_000);
  });

  it("keeps TLS an opaque tunnel: the client's own handshake and headers reach the registry", async () => {
    const agent = new TunnelAgent(bare.socketPath, pki.ca);
    const res = await gatewayRequest(agent, registry.port, "/tls", {
      headers: { Authorization: INSIDE_TOKEN },
    });
    agent.destroy();
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ path: "/tls", auth: seen(INSIDE_TOKEN) });
  });
});

describe("upstream verification", () => {
  it("refuses a registry whose certificate the host does not trust (502), sending nothing", async () => {
    const state = mkdtempSync(join(tmpdir(), "safe-npm-gw-state-"));
    const strict = await startProxy({
      allow: parseAllowlist([`127.0.0.1:${registry.port}`]),
      registryHook: readOnlyHook([`127.0.0.1:${registry.port}`]),
      caDir: join(state, "ca"),
    });
    try {
      const before = registry.requests.length;
      const ca = readFileSync(join(state, "ca", "local-ca.pem"), "utf8");
      const agent = new TunnelAgent(strict.socketPath, ca);
      const res = await gatewayRequest(agent, registry.port, "/pkg");
      agent.destroy();
      expect(res.status).toBe(502);
      expect(res.body).toMatch(/UNABLE_TO_VERIFY|SELF_SIGNED|unable to verify/i);
      expect(registry.requests.length).toBe(before);
    } finally {
      await strict.close();
      rmSync(state, { recursive: true, force: true });
    }
  });
});

describe("a project's cafile (projectCa)", () => {
  it("vouches for a request without the user's credential, never for one that carries it", async () => {
    const state = mkdtempSync(join(tmpdir(), "safe-npm-gw-state-"));
    // The registry's CA comes from the project only: the user trusts nothing but the system.
    const proxyWith = await startProxy({
      allow: parseAllowlist([`127.0.0.1:${registry.port}`]),
      registryHook: readOnlyHook([`127.0.0.1:${registry.port}`]),
      caDir: join(state, "ca"),
      projectCa: [pki.ca],
    });
    try {
      const ca = readFileSync(join(state, "ca", "local-ca.pem"), "utf8");
      const agent = new TunnelAgent(proxyWith.socketPath, ca);
      // No credential added (the rule forwards /public as it is): the project's CA is enough.
      const open = await gatewayRequest(agent, registry.port, "/public/pkg");
      expect(open.status).toBe(200);
      expect(JSON.parse(open.body)).toEqual({ path: "/public/pkg", auth: null });
      // The host's token would be added: the connection must be one the user's own CAs trust.
      const before = registry.requests.length;
      const held = await gatewayRequest(agent, registry.port, "/private/pkg");
      agent.destroy();
      expect(held.status).toBe(502);
      expect(held.body).toContain(
        "the project's cafile is not trusted for requests that carry your credential",
      );
      expect(registry.requests.slice(before)).toEqual([]);
      const report = proxyReport(proxyWith.stats(), false).join("\n");
      expect(report).toContain("add that CA to your ~/.npmrc cafile or NODE_EXTRA_CA_CERTS");
    } finally {
      await proxyWith.close();
      rmSync(state, { recursive: true, force: true });
    }
  });
});

describe("close()", () => {
  it("leaves no socket: live tunnels, in-flight requests, pooled upstreams", async () => {
    const state = mkdtempSync(join(tmpdir(), "safe-npm-gw-state-"));
    const p = await startProxy({
      allow: parseAllowlist([`127.0.0.1:${registry.port}`, `127.0.0.1:${echo.port}`]),
      registryHook: readOnlyHook([`127.0.0.1:${registry.port}`]),
      caDir: join(state, "ca"),
      upstreamCa: [pki.ca],
    });
    const ca = readFileSync(join(state, "ca", "local-ca.pem"), "utf8");
    const agent = new TunnelAgent(p.socketPath, ca);
    await gatewayRequest(agent, registry.port, "/pooled");
    const streaming = new Promise<void>((resolve) => {
      https
        .get({ host: "127.0.0.1", port: registry.port, path: "/endless", agent }, (res) => {
          res.once("data", () => resolve());
          res.on("error", () => {});
        })
        .on("error", () => {});
    });
    await streaming;
    const tunnel = await connectThrough(p.socketPath, `127.0.0.1:${echo.port}`);
    const closedTunnel = readAll(tunnel.socket);
    expect(p.stats().openSockets).toBeGreaterThan(0);
    await p.close();
    expect(p.stats().openSockets).toBe(0);
    expect(p.stats().idleUpstreams).toBe(0);
    await closedTunnel;
    agent.destroy();
    rmSync(state, { recursive: true, force: true });
  });
});
