/**
 * Upload bodies the registry rules read before they go upstream (`inspectBody`): the proxy
 * gathers the whole body, sends nothing meanwhile, and forwards exactly those bytes — with their
 * own Content-Length and the credential `decideBody` gives — only when it accepts them. A refused
 * body (403) or one past the limit (413) never reaches the registry. Plain http and the TLS
 * gateway both. The control is the same hijacking document on a path the rules forward without
 * reading: it does reach the registry, so the refusals are the check's doing.
 */

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseAllowlist } from "../../../src/network/allowlist.js";
import type { RegistryHook } from "../../../src/network/gateway-hook.js";
import { type NetworkProxy, proxyReport, startProxy } from "../../../src/network/proxy.js";
import { eventually, requestThrough } from "./helpers.js";
import { gatewayRequest, makePki, type Pki, TunnelAgent } from "./tls-helpers.js";

const BODY_TOKEN = "Bearer held-for-the-body";
const DECIDE_TOKEN = "Bearer held-at-decide";
const CLIENT_TOKEN = "Bearer the-client-own";
const MAX = 64 * 1024;

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A registry (http or https) that records every request with its body, byte for byte. */
async function recorder(
  pki?: Pki,
): Promise<{ port: number; seen: Seen[]; started: () => number; close: () => void }> {
  const seen: Seen[] = [];
  // Requests whose head arrived, body or not: a streamed upload shows here before its end.
  let started = 0;
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    started++;
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      seen.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks),
      });
      res.end("stored");
    });
  };
  const server =
    pki === undefined
      ? http.createServer(handler)
      : https.createServer({ key: pki.key, cert: pki.cert }, handler);
  const sockets = new Set<net.Socket>();
  server.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    seen,
    started: () => started,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

/**
 * Uploads are read first, but on /nocheck (the control); `decideBody` refuses a document that
 * names maintainers, throws on "explode", and forwards anything else with its own credential.
 */
function uploadHook(hosts: string[], withBodyCheck = true): RegistryHook {
  return {
    hosts: new Set(hosts),
    credentialHosts: new Set(hosts),
    decide: ({ method, url }) => {
      if (method !== "PUT" || url.pathname.startsWith("/nocheck")) {
        return { action: "forward", authorization: DECIDE_TOKEN };
      }
      return { action: "forward", authorization: DECIDE_TOKEN, inspectBody: { maxBytes: MAX } };
    },
    ...(withBodyCheck
      ? {
          decideBody: (_request, body: Buffer) => {
            const text = body.toString("latin1");
            if (text.includes("explode")) throw new Error("rule bug");
            if (text.includes('"maintainers"')) {
              return { action: "refuse", reason: "an upload that changes its maintainers" };
            }
            return { action: "forward", authorization: BODY_TOKEN };
          },
        }
      : {}),
  };
}

const HIJACK = JSON.stringify({ name: "victim", maintainers: [{ name: "attacker" }] });
/** Not UTF-8, with CRLFs and NULs: what arrives must be these bytes, not a re-encoding. */
const GENUINE = Buffer.concat([
  Buffer.from('{"name":"victim","versions":{}}\r\n0\r\n\r\n'),
  Buffer.from([0, 0xff, 0xfe, 0x80, 10, 13]),
  Buffer.alloc(20_000, 0x61),
]);

let pki: Pki;
let plain: Awaited<ReturnType<typeof recorder>>;
let secure: Awaited<ReturnType<typeof recorder>>;
let unchecked: Awaited<ReturnType<typeof recorder>>;
let stateDir: string;
let proxy: NetworkProxy;
let noBodyCheck: NetworkProxy;

beforeAll(async () => {
  pki = await makePki();
  plain = await recorder();
  secure = await recorder(pki);
  unchecked = await recorder();
  stateDir = mkdtempSync(join(tmpdir(), "safe-npm-body-state-"));
  const hosts = [`127.0.0.1:${plain.port}`, `127.0.0.1:${secure.port}`];
  proxy = await startProxy({
    allow: parseAllowlist(hosts),
    registryHook: uploadHook(hosts),
    caDir: join(stateDir, "ca"),
    upstreamCa: [pki.ca],
  });
  noBodyCheck = await startProxy({
    allow: parseAllowlist([`127.0.0.1:${unchecked.port}`]),
    registryHook: uploadHook([`127.0.0.1:${unchecked.port}`], false),
  });
});

afterAll(async () => {
  await proxy?.close();
  await noBodyCheck?.close();
  plain?.close();
  secure?.close();
  unchecked?.close();
  rmSync(stateDir, { recursive: true, force: true });
});

afterEach(async () => {
  await eventually(() => proxy.stats().openSockets === 0, "no open proxy sockets", 10_000);
});

const row = (port: number) => proxy.stats().hosts.find((h) => h.target === `127.0.0.1:${port}`);
const localCa = (): string => readFileSync(join(stateDir, "ca", "local-ca.pem"), "utf8");

/** One raw request over the proxy's socket, written in `parts`; resolves once the proxy closes. */
function raw(socketPath: string, parts: (string | Buffer)[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ path: socketPath });
    let text = "";
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("latin1");
    });
    socket.on("error", reject);
    socket.once("close", () => resolve(text));
    socket.once("connect", () => {
      // No half-close: node's http server takes one as the client giving up on the request.
      for (const part of parts) socket.write(part);
    });
  });
}

function expectGenuineUpstream(seen: Seen | undefined, path: string): void {
  expect(seen?.method).toBe("PUT");
  expect(seen?.url).toBe(path);
  expect(seen?.body.equals(GENUINE)).toBe(true);
  expect(seen?.headers["content-length"]).toBe(String(GENUINE.length));
  expect(seen?.headers["transfer-encoding"]).toBeUndefined();
  // The credential decideBody gives, never the client's own nor the one given before the body.
  expect(seen?.headers.authorization).toBe(BODY_TOKEN);
}

describe("inspected upload bodies (plain http)", () => {
  it("forwards an accepted body byte for byte, with its length and the body check's credential", async () => {
    const url = `http://127.0.0.1:${plain.port}/victim`;
    const answer = await raw(proxy.socketPath, [
      `PUT ${url} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${CLIENT_TOKEN}\r\n` +
        `Content-Length: ${GENUINE.length}\r\nConnection: close\r\n\r\n`,
      GENUINE,
    ]);
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toContain("stored");
    expectGenuineUpstream(plain.seen.at(-1), "/victim");
    expect(row(plain.port)?.bytesUp).toBeGreaterThanOrEqual(GENUINE.length);
  });

  it("a chunked client body goes up as the same bytes with a Content-Length", async () => {
    const before = plain.seen.length;
    const url = `http://127.0.0.1:${plain.port}/victim`;
    const chunk = (b: Buffer): Buffer =>
      Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from("\r\n")]);
    const answer = await raw(proxy.socketPath, [
      `PUT ${url} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n` +
        `Authorization: ${CLIENT_TOKEN}\r\nConnection: close\r\n\r\n`,
      chunk(GENUINE.subarray(0, 7)),
      chunk(GENUINE.subarray(7, 9000)),
      chunk(GENUINE.subarray(9000)),
      "0\r\n\r\n",
    ]);
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(plain.seen.length).toBe(before + 1);
    expectGenuineUpstream(plain.seen.at(-1), "/victim");
  });

  it("refuses a hijacking document with 403; the registry never hears of it", async () => {
    const before = plain.seen.length;
    const started = plain.started();
    const res = await requestThrough(proxy.socketPath, `http://127.0.0.1:${plain.port}/victim`, {
      method: "PUT",
      headers: { authorization: CLIENT_TOKEN, "content-type": "application/json" },
      body: HIJACK,
    });
    expect(res.status).toBe(403);
    expect(res.body).toContain("an upload that changes its maintainers");
    expect(plain.seen.length).toBe(before);
    expect(plain.started()).toBe(started);
    expect(row(plain.port)?.refusedSamples).toContainEqual({
      request: "PUT /victim",
      reason: "an upload that changes its maintainers",
    });
    expect(proxyReport(proxy.stats()).join("\n")).toMatch(
      /refused \d+ requests? to the registry 127\.0\.0\.1:\d+: .*PUT \/victim/,
    );
  });

  it("control: the same document on a path forwarded without the body check reaches the registry", async () => {
    const res = await requestThrough(proxy.socketPath, `http://127.0.0.1:${plain.port}/nocheck`, {
      method: "PUT",
      body: HIJACK,
    });
    expect(res.status).toBe(200);
    expect(plain.seen.at(-1)?.body.toString()).toBe(HIJACK);
  });

  it("answers 413 past maxBytes, by Content-Length or by what a chunked body turns out to be", async () => {
    const before = plain.seen.length;
    const started = plain.started();
    const refused = row(plain.port)?.refusedRequests ?? 0;
    const url = `http://127.0.0.1:${plain.port}/victim`;
    const big = Buffer.alloc(MAX + 1, 0x62);
    const byLength = await requestThrough(proxy.socketPath, url, {
      method: "PUT",
      headers: { "content-length": String(big.length) },
      body: big.toString(),
    });
    expect(byLength.status).toBe(413);
    const byChunks = await raw(proxy.socketPath, [
      `PUT ${url} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n`,
      `${(MAX / 2).toString(16)}\r\n${"c".repeat(MAX / 2)}\r\n`,
      `${(MAX / 2 + 1).toString(16)}\r\n${"c".repeat(MAX / 2 + 1)}\r\n`,
      "0\r\n\r\n",
    ]);
    expect(byChunks).toMatch(/^HTTP\/1\.1 413 /);
    expect(byChunks).toContain(`an upload larger than ${MAX} bytes`);
    expect(plain.seen.length).toBe(before);
    expect(plain.started()).toBe(started);
    expect(row(plain.port)?.refusedRequests).toBe(refused + 2);
  });

  it("refuses with 403 when the body check throws, or the rules have none", async () => {
    const before = plain.seen.length;
    const res = await requestThrough(proxy.socketPath, `http://127.0.0.1:${plain.port}/victim`, {
      method: "PUT",
      body: "explode",
    });
    expect(res.status).toBe(403);
    expect(res.body).toContain("the registry rules failed");
    expect(plain.seen.length).toBe(before);

    const missing = await requestThrough(
      noBodyCheck.socketPath,
      `http://127.0.0.1:${unchecked.port}/victim`,
      { method: "PUT", body: GENUINE },
    );
    expect(missing.status).toBe(403);
    expect(missing.body).toContain("cannot check this body");
    expect(unchecked.seen).toEqual([]);
  });

  it("uploads read at the same time share one limit: the one that passes it gets 413", async () => {
    const before = plain.seen.length;
    const url = `http://127.0.0.1:${plain.port}/victim`;
    const head = `PUT ${url} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${MAX}\r\n\r\n`;
    // Two uploads each within maxBytes, on two connections; the first is held (its last byte
    // not sent) while the second sends all of its.
    const first = net.connect({ path: proxy.socketPath });
    first.on("error", () => {});
    let firstAnswer = "";
    first.on("data", (chunk: Buffer) => {
      firstAnswer += chunk.toString("latin1");
    });
    await new Promise<void>((resolve) => first.once("connect", () => resolve()));
    first.write(head);
    first.write(Buffer.alloc(MAX - 1, 0x61));
    await eventually(() => proxy.stats().openSockets > 0, "the first upload is being read");
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = await requestThrough(proxy.socketPath, url, {
      method: "PUT",
      headers: { "content-length": String(MAX) },
      body: Buffer.alloc(MAX, 0x61),
    });
    expect(second.status).toBe(413);
    // The first goes on and is forwarded; the limit is given back once it is answered.
    first.write(Buffer.from("a"));
    await eventually(() => firstAnswer.includes("stored"), "the first upload is answered");
    first.destroy();
    expect(plain.seen.length).toBe(before + 1);
    await eventually(() => proxy.stats().openSockets === 0, "no open sockets");
    const third = await requestThrough(proxy.socketPath, url, {
      method: "PUT",
      headers: { "content-length": String(MAX) },
      body: Buffer.alloc(MAX, 0x61),
    });
    expect(third.status).toBe(200);
  });

  it("a client gone mid-body costs that request only: the next upload works", async () => {
    const before = plain.seen.length;
    const started = plain.started();
    const socket = net.connect({ path: proxy.socketPath });
    socket.on("error", () => {});
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write(
      `PUT http://127.0.0.1:${plain.port}/victim HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
        `Content-Length: ${GENUINE.length}\r\n\r\n`,
    );
    socket.write(GENUINE.subarray(0, 1000));
    await eventually(() => proxy.stats().openSockets > 0, "the proxy holds the request");
    socket.destroy();
    await eventually(() => proxy.stats().openSockets === 0, "the request is dropped");
    expect(plain.seen.length).toBe(before);
    expect(plain.started()).toBe(started);
    const res = await requestThrough(proxy.socketPath, `http://127.0.0.1:${plain.port}/victim`, {
      method: "PUT",
      headers: { "content-length": String(GENUINE.length) },
      body: GENUINE,
    });
    expect(res.status).toBe(200);
    expect(plain.seen.length).toBe(before + 1);
  });
});

describe("inspected upload bodies (TLS gateway)", () => {
  it("forwards an accepted body byte for byte with the body check's credential", async () => {
    const agent = new TunnelAgent(proxy.socketPath, localCa());
    const res = await gatewayRequest(agent, secure.port, "/@acme%2fvictim", {
      method: "PUT",
      headers: { Authorization: CLIENT_TOKEN, "Transfer-Encoding": "chunked" },
      body: GENUINE,
    });
    agent.destroy();
    expect(res.status).toBe(200);
    expectGenuineUpstream(secure.seen.at(-1), "/@acme%2fvictim");
  });

  it("refuses a hijacking document (403) and an oversized one (413); neither goes up", async () => {
    const before = secure.seen.length;
    const started = secure.started();
    const agent = new TunnelAgent(proxy.socketPath, localCa());
    const hijack = await gatewayRequest(agent, secure.port, "/victim", {
      method: "PUT",
      headers: { Authorization: CLIENT_TOKEN },
      body: HIJACK,
    });
    expect(hijack.status).toBe(403);
    const big = await gatewayRequest(agent, secure.port, "/victim", {
      method: "PUT",
      body: "d".repeat(MAX + 1),
    });
    agent.destroy();
    expect(big.status).toBe(413);
    expect(secure.seen.length).toBe(before);
    expect(secure.started()).toBe(started);
    expect(row(secure.port)?.refusedRequests).toBe(2);
  });
});

describe("the registry's answer to an upload reaches the rules (settle)", () => {
  it("tells the status of each forwarded upload, and null when the registry is unreachable", async () => {
    // A registry that asks for a one-time password first (npm's 2FA flow).
    let puts = 0;
    const otp = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        puts++;
        res.writeHead(req.headers["npm-otp"] === "123456" ? 201 : 401, {
          "www-authenticate": "OTP",
        });
        res.end();
      });
    });
    await new Promise<void>((resolve) => otp.listen(0, "127.0.0.1", resolve));
    const port = (otp.address() as net.AddressInfo).port;
    // A port nothing listens on: closed at once, so the dial fails.
    const dead = net.createServer();
    await new Promise<void>((resolve) => dead.listen(0, "127.0.0.1", resolve));
    const deadPort = (dead.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const told: (number | null)[] = [];
    const hosts = [`127.0.0.1:${port}`, `127.0.0.1:${deadPort}`];
    const gateway = await startProxy({
      allow: parseAllowlist(hosts),
      registryHook: {
        hosts: new Set(hosts),
        credentialHosts: new Set(hosts),
        decide: () => ({ action: "forward", inspectBody: { maxBytes: MAX } }),
        decideBody: () => ({ action: "forward", settle: (status) => told.push(status) }),
      },
    });
    try {
      const first = await requestThrough(gateway.socketPath, `http://127.0.0.1:${port}/pkg`, {
        method: "PUT",
        body: "{}",
      });
      const retry = await requestThrough(gateway.socketPath, `http://127.0.0.1:${port}/pkg`, {
        method: "PUT",
        headers: { "npm-otp": "123456" },
        body: "{}",
      });
      const lost = await requestThrough(gateway.socketPath, `http://127.0.0.1:${deadPort}/pkg`, {
        method: "PUT",
        body: "{}",
      });
      expect([first.status, retry.status, lost.status]).toEqual([401, 201, 502]);
      expect(puts).toBe(2);
      await eventually(() => told.length === 3, "three answers told", 10_000);
      expect(told).toEqual([401, 201, null]);
    } finally {
      await gateway.close();
      otp.close();
    }
  });
});
