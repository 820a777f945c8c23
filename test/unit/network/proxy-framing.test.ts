/**
 * Request smuggling through the upstream keep-alive pool. A sandboxed client sends a GET with a
 * chunked body whose chunk is the start of another request (`PUT /victim-pkg …`, unterminated).
 * Forwarded unframed onto a pooled connection, the registry would read that PUT with the next
 * request's headers, and so with the credential the proxy adds to it. The upstreams here log
 * every byte they receive: the smuggled request line must never reach them, over plain http or
 * through the TLS gateway. The control sends the same bytes as a legitimate PUT body and sees
 * them arrive (as a body, framed), so the log would show the attack if it got through.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllowlist } from "../../../src/network/allowlist.js";
import type { RegistryHook } from "../../../src/network/gateway-hook.js";
import { bodyFraming, type NetworkProxy, startProxy } from "../../../src/network/proxy.js";
import { connectThrough, requestThrough } from "./helpers.js";
import { makePki, type Pki } from "./tls-helpers.js";

const TOKEN = "Bearer host-held-token";
const INNER = (host: string): string => `PUT /victim-pkg HTTP/1.1\r\nHost: ${host}\r\nX-Ignore: `;

interface RawUpstream {
  port: number;
  /** Every byte received, all connections, in order. */
  raw: () => string;
  /** Request lines the upstream's http parser saw. */
  requests: { method: string; url: string; auth: string | undefined; body: string }[];
  close: () => Promise<void>;
}

function logged(server: http.Server, event: "connection" | "secureConnection"): RawUpstream {
  let raw = "";
  const requests: RawUpstream["requests"] = [];
  const sockets = new Set<Duplex>();
  server.on(event, (socket: Duplex) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.once("close", () => sockets.delete(socket));
    socket.on("data", (chunk: Buffer) => {
      raw += chunk.toString("latin1");
    });
  });
  server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    let body = "";
    req.on("data", (chunk: Buffer) => {
      body += chunk.toString("latin1");
    });
    req.on("end", () => {
      requests.push({
        method: req.method ?? "",
        url: req.url ?? "",
        auth: req.headers.authorization,
        body,
      });
      res.end("ok");
    });
  });
  return {
    port: 0,
    raw: () => raw,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

async function listen(upstream: RawUpstream, server: net.Server): Promise<RawUpstream> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  upstream.port = (server.address() as net.AddressInfo).port;
  return upstream;
}

/** Writes `raw` on `socket` and resolves with the first response's status line and headers. */
function exchange(socket: Duplex, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const onData = (chunk: Buffer): void => {
      text += chunk.toString("latin1");
      if (!text.includes("\r\n\r\n")) return;
      socket.off("data", onData);
      resolve(text.slice(0, text.indexOf("\r\n\r\n")));
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.once("close", () => resolve(text));
    socket.write(raw);
  });
}

function chunked(method: string, path: string, host: string, body: string): string {
  return (
    `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n` +
    `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`
  );
}

const hook = (hosts: string[]): RegistryHook => ({
  hosts: new Set(hosts),
  credentialHosts: new Set(hosts),
  decide: () => ({ action: "forward", authorization: TOKEN }),
});

let pki: Pki;
let plain: RawUpstream;
let secure: RawUpstream;
let stateDir: string;
let proxy: NetworkProxy;

beforeAll(async () => {
  pki = await makePki();
  const plainServer = http.createServer();
  plain = await listen(logged(plainServer, "connection"), plainServer);
  const tlsServer = https.createServer({ key: pki.key, cert: pki.cert });
  secure = await listen(logged(tlsServer, "secureConnection"), tlsServer);
  stateDir = mkdtempSync(join(tmpdir(), "safe-npm-framing-"));
  const hosts = [`127.0.0.1:${plain.port}`, `127.0.0.1:${secure.port}`];
  proxy = await startProxy({
    allow: parseAllowlist(hosts),
    registryHook: hook(hosts),
    caDir: join(stateDir, "ca"),
    upstreamCa: [pki.ca],
  });
});

afterAll(async () => {
  await proxy?.close();
  await Promise.all([plain?.close(), secure?.close()]);
  rmSync(stateDir, { recursive: true, force: true });
});

/** A raw connection to the proxy (absolute-URI requests for plain http). */
function proxyConnection(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ path: proxy.socketPath }, () => resolve(socket));
    socket.once("error", reject);
  });
}

/** A raw TLS connection through the gateway to the https upstream, trusting the local CA. */
async function gatewayConnection(): Promise<tls.TLSSocket> {
  const { status, socket } = await connectThrough(proxy.socketPath, `127.0.0.1:${secure.port}`);
  expect(status).toBe(200);
  const ca = readFileSync(proxy.caBundlePath ?? "", "utf8");
  return new Promise((resolve, reject) => {
    const t = tls.connect({ socket, ca, host: "127.0.0.1" }, () => resolve(t));
    t.once("error", reject);
  });
}

describe("request smuggling through the upstream pool", () => {
  it("plain http: a GET with a chunked body is refused; the smuggled PUT never reaches the registry", async () => {
    const target = `127.0.0.1:${plain.port}`;
    const first = await proxyConnection();
    const head = await exchange(
      first,
      chunked("GET", `http://${target}/innocent`, target, INNER(target)),
    );
    first.destroy();
    // The follow-up request, on a new client connection, reuses whatever the pool holds.
    const second = await proxyConnection();
    const next = await exchange(
      second,
      `GET http://${target}/next-legit HTTP/1.1\r\nHost: ${target}\r\n\r\n`,
    );
    second.destroy();
    expect(plain.raw()).not.toContain("/victim-pkg");
    expect(plain.requests.map((r) => `${r.method} ${r.url}`)).toEqual(["GET /next-legit"]);
    expect(plain.requests[0]?.auth).toBe(TOKEN);
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect(next).toMatch(/^HTTP\/1\.1 200 /);
  });

  it("plain http: a GET with Content-Length > 0 is refused too", async () => {
    const target = `127.0.0.1:${plain.port}`;
    const before = plain.requests.length;
    const body = INNER(target);
    const socket = await proxyConnection();
    const head = await exchange(
      socket,
      `GET http://${target}/innocent HTTP/1.1\r\nHost: ${target}\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    socket.destroy();
    expect(plain.raw()).not.toContain("/victim-pkg");
    expect(plain.requests.length).toBe(before);
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
  });

  it("the TLS gateway: the same attack is refused; the next request is the only one upstream", async () => {
    const target = `127.0.0.1:${secure.port}`;
    const first = await gatewayConnection();
    const head = await exchange(first, chunked("GET", "/innocent", target, INNER(target)));
    first.destroy();
    const second = await gatewayConnection();
    const next = await exchange(second, `GET /next-legit HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
    second.destroy();
    expect(secure.raw()).not.toContain("/victim-pkg");
    expect(secure.requests.map((r) => `${r.method} ${r.url}`)).toEqual(["GET /next-legit"]);
    expect(secure.requests[0]?.auth).toBe(TOKEN);
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect(next).toMatch(/^HTTP\/1\.1 200 /);
  });

  it("control: the same bytes as a PUT body arrive as that body, chunked, and the pool stays sound", async () => {
    const target = `127.0.0.1:${secure.port}`;
    const before = secure.requests.length;
    const socket = await gatewayConnection();
    const head = await exchange(socket, chunked("PUT", "/upload", target, INNER(target)));
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    const next = await exchange(socket, `GET /after HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
    socket.destroy();
    expect(next).toMatch(/^HTTP\/1\.1 200 /);
    // The logger sees body bytes: an unframed smuggled line would have shown up in it.
    expect(secure.raw()).toContain("PUT /victim-pkg HTTP/1.1");
    expect(secure.raw()).toMatch(
      /PUT \/upload HTTP\/1\.1\r\n[\s\S]*Transfer-Encoding: chunked\r\n/i,
    );
    expect(secure.requests.slice(before).map((r) => `${r.method} ${r.url} ${r.body}`)).toEqual([
      `PUT /upload ${INNER(target)}`,
      "GET /after ",
    ]);
  });

  it("a body cut short closes the upstream connection instead of pooling it", async () => {
    const target = `127.0.0.1:${plain.port}`;
    const before = plain.requests.length;
    const socket = await proxyConnection();
    socket.write(
      `PUT http://${target}/short HTTP/1.1\r\nHost: ${target}\r\nContent-Length: 100\r\n\r\n` +
        "X".repeat(10),
    );
    // The first bytes reach the upstream before the client vanishes.
    const deadline = Date.now() + 10_000;
    while (!plain.raw().includes("XXXXXXXXXX") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    socket.destroy();
    const again = await proxyConnection();
    const next = await exchange(
      again,
      `GET http://${target}/after-short HTTP/1.1\r\nHost: ${target}\r\n\r\n`,
    );
    again.destroy();
    expect(next).toMatch(/^HTTP\/1\.1 200 /);
    // Had the half-sent connection been pooled, the GET would have been read as PUT body bytes.
    expect(plain.requests.slice(before).map((r) => `${r.method} ${r.url}`)).toEqual([
      "GET /after-short",
    ]);
  });
});

describe("answers node's server could not write", () => {
  it("a status under 100 or a control character in the reason phrase fails that answer, not the process", async () => {
    // Raw answers node's client takes and node's server would throw on (ERR_HTTP_INVALID_STATUS_CODE,
    // ERR_INVALID_CHAR), in a listener, ending the process before the after-run check.
    const answers: Record<string, string> = {
      "/status": "HTTP/1.1 099 Hi\r\nContent-Length: 2\r\n\r\n{}",
      "/reason": "HTTP/1.1 200 O\x01K\r\nContent-Length: 2\r\n\r\n{}",
      "/fine": "HTTP/1.1 200 Fine\r\nContent-Length: 2\r\n\r\n{}",
    };
    const upstream = net.createServer((socket) => {
      socket.on("error", () => {});
      socket.once("data", (d: Buffer) => {
        const path = /^GET (\S+)/.exec(d.toString("latin1"))?.[1] ?? "";
        socket.end(answers[path] ?? "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
      });
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
    const port = (upstream.address() as net.AddressInfo).port;
    const proxy = await startProxy({ allow: parseAllowlist([`127.0.0.1:${port}`]) });
    try {
      const base = `http://127.0.0.1:${port}`;
      const status = await requestThrough(proxy.socketPath, `${base}/status`);
      expect(status.status).toBe(502);
      expect(status.body).toContain("answered with status 99");
      const reason = await requestThrough(proxy.socketPath, `${base}/reason`);
      expect(reason.status).toBe(200);
      expect(reason.body).toBe("{}");
      // Still serving.
      expect((await requestThrough(proxy.socketPath, `${base}/fine`)).status).toBe(200);
    } finally {
      await proxy.close();
      upstream.close();
    }
  });
});

describe("bodyFraming", () => {
  const h = (...pairs: string[]): string[] => pairs;
  it("accepts bodyless GETs and framed bodies", () => {
    expect(bodyFraming("GET", h("Host", "x"))).toEqual({ contentLength: null, chunked: false });
    expect(bodyFraming("GET", h("Content-Length", "0"))).toEqual({
      contentLength: 0,
      chunked: false,
    });
    expect(bodyFraming("PUT", h("Content-Length", "12"))).toEqual({
      contentLength: 12,
      chunked: false,
    });
    expect(bodyFraming("PUT", h("Transfer-Encoding", "chunked"))).toEqual({
      contentLength: null,
      chunked: true,
    });
  });
  it("refuses bodies on bodyless methods", () => {
    for (const method of ["GET", "head", "DELETE", "OPTIONS"]) {
      expect(bodyFraming(method, h("Transfer-Encoding", "chunked"))).toMatch(/with a body/);
      expect(bodyFraming(method, h("Content-Length", "5"))).toMatch(/with a body/);
    }
  });
  it("refuses conflicting or malformed framing", () => {
    expect(bodyFraming("PUT", h("Content-Length", "3", "Transfer-Encoding", "chunked"))).toMatch(
      /both/,
    );
    expect(bodyFraming("PUT", h("Content-Length", "3", "Content-Length", "4"))).toMatch(/invalid/);
    expect(bodyFraming("PUT", h("Content-Length", "-1"))).toMatch(/invalid/);
    expect(bodyFraming("PUT", h("Content-Length", "0x10"))).toMatch(/invalid/);
    expect(bodyFraming("PUT", h("Transfer-Encoding", "gzip, chunked"))).toMatch(/chunked/);
  });
});
