/**
 * The host-side proxy with real sockets on loopback: an allowed upstream, a forbidden one that
 * must never hear from us, and clients speaking CONNECT / absolute-URI over the unix socket.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseAllowlist } from "../../../src/network/allowlist.js";
import {
  type NetworkProxy,
  newHostStats,
  proxyReport,
  recordFailure,
  removeDirOnExit,
  SOCKET_NAME,
  startProxy,
} from "../../../src/network/proxy.js";
import { createResolver } from "../../../src/network/resolver.js";
import {
  connectThrough,
  echoServer,
  eventually,
  gone,
  httpServer,
  readAll,
  requestThrough,
  sinkServer,
  sleep,
  type TestServer,
} from "./helpers.js";

let allowedHttp: TestServer;
let echo: TestServer;
let forbidden: TestServer & { received: () => string };
let proxy: NetworkProxy;

beforeAll(async () => {
  allowedHttp = await httpServer((req, res) => {
    res.writeHead(201, [
      "Content-Type",
      "text/plain",
      "Set-Cookie",
      "a=1",
      "Set-Cookie",
      "b=2",
      "Connection",
      "close, X-Hop",
      "X-Hop",
      "must go",
    ]);
    res.end(`${req.method} ${req.url} ${req.body}`);
  });
  echo = await echoServer();
  forbidden = await sinkServer();
  proxy = await startProxy({
    allow: parseAllowlist([`127.0.0.1:${allowedHttp.port}`, `localhost:${echo.port}`]),
  });
});

afterAll(async () => {
  await proxy.close();
  await Promise.all([allowedHttp.close(), echo.close(), forbidden.close()]);
});

afterEach(async () => {
  // Every test leaves the proxy with nothing in flight.
  await eventually(() => proxy.stats().openSockets === 0, "no open proxy sockets");
  expect(forbidden.accepted()).toBe(0);
  expect(forbidden.received()).toBe("");
});

describe("the proxy's dir and socket", () => {
  it("is a private 0700 temp dir holding the socket", () => {
    expect(proxy.socketPath).toBe(join(proxy.dir, SOCKET_NAME));
    expect(proxy.dir.startsWith(tmpdir())).toBe(true);
    expect(statSync(proxy.dir).mode & 0o777).toBe(0o700);
    expect(statSync(proxy.socketPath).isSocket()).toBe(true);
  });
});

describe("CONNECT", () => {
  it("tunnels bytes both ways to an allowed host:port", async () => {
    const { status, head, socket } = await connectThrough(
      proxy.socketPath,
      `localhost:${echo.port}`,
    );
    expect(status).toBe(200);
    expect(head).toBe("HTTP/1.1 200 Connection Established");
    const echoed = new Promise<string>((resolve) => socket.once("data", (d) => resolve(String(d))));
    socket.resume();
    socket.write("ping through the tunnel");
    expect(await echoed).toBe("ping through the tunnel");
    socket.end();
    await readAll(socket);
    await eventually(() => echo.open() === 0, "echo connection closed");
    const row = proxy.stats().hosts.find((h) => h.target === `localhost:${echo.port}`);
    expect(row).toMatchObject({ connections: 1, refused: 0 });
    expect(row?.bytesUp).toBe("ping through the tunnel".length);
    expect(row?.bytesDown).toBe("ping through the tunnel".length);
  });

  it("answers 403 for a host:port not allowed, counts it, and never connects", async () => {
    const before = proxy.stats().hosts.find((h) => h.target === `127.0.0.1:${forbidden.port}`);
    for (const target of [`127.0.0.1:${forbidden.port}`, `localhost:${allowedHttp.port}`]) {
      const { status, socket } = await connectThrough(proxy.socketPath, target);
      expect(status).toBe(403);
      const body = await readAll(socket);
      expect(body).toContain(`${target} is not an allowed host`);
    }
    const stats = proxy.stats();
    const row = stats.hosts.find((h) => h.target === `127.0.0.1:${forbidden.port}`);
    expect(row?.refused).toBe((before?.refused ?? 0) + 1);
    expect(row?.connections).toBe(0);
    expect(proxyReport(stats)).toContain(
      `blocked 1 connection to 127.0.0.1:${forbidden.port} — allow with --allow-host 127.0.0.1:${forbidden.port}`,
    );
  });

  it("checks the canonical address, not the spelling", async () => {
    // 2130706433 is 127.0.0.1: allowed only on the allowed port.
    const ok = await connectThrough(proxy.socketPath, `2130706433:${allowedHttp.port}`);
    expect(ok.status).toBe(200);
    ok.socket.destroy();
    const refused = await connectThrough(proxy.socketPath, `0x7f.1:${forbidden.port}`);
    expect(refused.status).toBe(403);
    refused.socket.destroy();
  });

  it.each([
    "localhost",
    "localhost:",
    "localhost:99999",
    "user@127.0.0.1:80",
    "/etc/passwd",
    "[::1",
  ])("rejects the malformed target %j with 400", async (target) => {
    const { status, socket } = await connectThrough(proxy.socketPath, target);
    expect(status).toBe(400);
    socket.destroy();
  });
});

describe("absolute-URI requests", () => {
  it("forwards a GET and the response, minus hop-by-hop headers", async () => {
    const res = await requestThrough(
      proxy.socketPath,
      `http://127.0.0.1:${allowedHttp.port}/pkg?x=1`,
      {
        headers: {
          Host: "evil.example",
          "NetworkProxy-Authorization": "Basic c2VjcmV0",
          "NetworkProxy-Connection": "keep-alive",
          Connection: "X-Secret",
          "X-Secret": "hop only",
          "X-Kept": "yes",
        },
      },
    );
    expect(res.status).toBe(201);
    expect(res.body).toBe("GET /pkg?x=1 ");
    expect(res.headers["set-cookie"]).toEqual(["a=1", "b=2"]);
    expect(res.headers["x-hop"]).toBeUndefined();
    const seen = allowedHttp.requests.at(-1);
    // The Host is the URI's: a client cannot pick another site behind an allowed front.
    expect(seen?.headers.host).toBe(`127.0.0.1:${allowedHttp.port}`);
    expect(seen?.headers["proxy-authorization"]).toBeUndefined();
    expect(seen?.headers["proxy-connection"]).toBeUndefined();
    expect(seen?.headers["x-secret"]).toBeUndefined();
    expect(seen?.headers["x-kept"]).toBe("yes");
  });

  it("passes bodies of known length whole, small and large, and never a cut one as complete", async () => {
    const small = Buffer.alloc(3000, "s");
    const large = Buffer.alloc(600 * 1024, "L");
    const sized = await httpServer((req, res) => {
      if (req.url === "/cut") {
        // Promises 1000 bytes, sends 500, then the connection dies.
        res.writeHead(200, { "Content-Length": "1000" });
        res.write(Buffer.alloc(500, "c"));
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      const body = req.url === "/small" ? small : large;
      res.writeHead(200, { "Content-Length": String(body.length) });
      // In pieces: the proxy gathers a small one, streams a large one.
      res.write(body.subarray(0, 1000));
      setTimeout(() => res.end(body.subarray(1000)), 10);
    });
    const local = await startProxy({ allow: parseAllowlist([`127.0.0.1:${sized.port}`]) });
    try {
      for (const [path, body] of [
        ["/small", small],
        ["/large", large],
      ] as const) {
        const res = await requestThrough(local.socketPath, `http://127.0.0.1:${sized.port}${path}`);
        expect(res.status).toBe(200);
        expect(res.headers["content-length"]).toBe(String(body.length));
        expect(res.body).toBe(body.toString());
      }
      const cut = await new Promise<{ complete: boolean; bytes: number }>((resolve) => {
        const req = http.request(
          {
            socketPath: local.socketPath,
            path: `http://127.0.0.1:${sized.port}/cut`,
            agent: false,
          },
          (res) => {
            let bytes = 0;
            res.on("data", (chunk: Buffer) => {
              bytes += chunk.length;
            });
            res.on("error", () => {});
            res.on("close", () => resolve({ complete: res.complete, bytes }));
          },
        );
        req.on("error", () => resolve({ complete: false, bytes: -1 }));
        req.end();
      });
      expect(cut.complete).toBe(false);
      expect(cut.bytes).toBeLessThan(1000);
    } finally {
      await local.close();
      await sized.close();
    }
  });

  it("answers pipelined requests in order, one upstream at a time; too many close the connection", async () => {
    let inFlight = 0;
    let most = 0;
    let seen = 0;
    const slow = await httpServer((req, res) => {
      seen++;
      inFlight++;
      most = Math.max(most, inFlight);
      setTimeout(() => {
        inFlight--;
        res.end(`answer ${req.url}`);
      }, 5);
    });
    const local = await startProxy({ allow: parseAllowlist([`127.0.0.1:${slow.port}`]) });
    // Written at once, no half-close (node's server takes one as the client giving up); read
    // until every answer is in or the proxy closes the connection.
    const pipelined = (count: number): Promise<string> =>
      new Promise((resolve) => {
        const socket = net.connect(local.socketPath);
        let all = "";
        for (let i = 0; i < count; i++) {
          all += `GET http://127.0.0.1:${slow.port}/${i} HTTP/1.1\r\nHost: x\r\n\r\n`;
        }
        let text = "";
        socket.on("error", () => {});
        socket.on("data", (chunk: Buffer) => {
          text += chunk.toString();
          if ((text.match(/answer \/\d+/g)?.length ?? 0) === count) socket.destroy();
        });
        socket.once("close", () => resolve(text));
        socket.write(all);
      });
    try {
      // One in flight and two waiting: within the limit, answered in order.
      const text = await pipelined(3);
      const answers = [...text.matchAll(/answer \/(\d+)/g)].map((m) => Number(m[1]));
      expect(answers).toEqual([0, 1, 2]);
      expect(most).toBe(1);
      // One write of 200: the connection closes; what went up is bounded, not 200.
      seen = 0;
      const flood = await pipelined(200);
      expect(flood.match(/answer/g)?.length ?? 0).toBeLessThan(200);
      await eventually(() => inFlight === 0, "upstream done");
      expect(seen).toBeLessThanOrEqual(3);
      expect(most).toBe(1);
      expect(local.stats().badRequests).toBe(1);
      // Requests answered here (a refusal) wait their turn the same way: a client that never
      // reads them cannot have the proxy hold thousands.
      const refusals = await new Promise<string>((resolve) => {
        const socket = net.connect(local.socketPath);
        let text = "";
        socket.on("error", () => {});
        socket.on("data", (chunk: Buffer) => {
          text += chunk.toString();
        });
        socket.once("close", () => resolve(text));
        socket.write("GET http://10.1.1.1:9/ HTTP/1.1\r\nHost: x\r\n\r\n".repeat(2000));
      });
      expect(refusals.match(/HTTP\/1\.1 403/g)?.length ?? 0).toBeLessThanOrEqual(3);
      const forbidden = local.stats().hosts.find((h) => h.target === "10.1.1.1:9");
      expect(forbidden?.refused ?? 0).toBeLessThanOrEqual(3);
      expect(local.stats().badRequests).toBe(2);
    } finally {
      await local.close();
      await slow.close();
    }
  });

  it("lets at most 64 requests wait across all connections; more close their connection", async () => {
    const held: http.ServerResponse[] = [];
    let seen = 0;
    const stuck = await httpServer((_req, res) => {
      seen++;
      held.push(res);
    });
    const local = await startProxy({ allow: parseAllowlist([`127.0.0.1:${stuck.port}`]) });
    const sockets: net.Socket[] = [];
    try {
      // 40 connections, each with one request held upstream and two pipelined behind it: 80
      // would wait, 64 may.
      const request = `GET http://127.0.0.1:${stuck.port}/t HTTP/1.1\r\nHost: x\r\n\r\n`;
      let closed = 0;
      for (let i = 0; i < 40; i++) {
        const socket = net.connect(local.socketPath);
        socket.on("error", () => {});
        socket.once("close", () => closed++);
        socket.resume();
        sockets.push(socket);
        socket.write(request.repeat(3));
      }
      await eventually(() => closed >= 8, "the connections past the limit closed");
      expect(local.stats().badRequests).toBe(closed);
      // Answered: those still open get their waiting requests through, one at a time.
      await eventually(() => held.length === 40 - closed || seen === 40, "first requests up");
      const first = seen;
      for (const res of held.splice(0)) res.end("ok");
      await eventually(() => held.length > 0, "a waiting request went up");
      expect(first).toBeLessThanOrEqual(40);
      expect(seen).toBeLessThanOrEqual(40 + 64);
    } finally {
      for (const res of held) res.end("ok");
      for (const socket of sockets) socket.destroy();
      await local.close();
      await stuck.close();
    }
  });

  it("holds answers whole only up to its budget; beyond it they stream, complete", async () => {
    const body = Buffer.alloc(200 * 1024, "b");
    const sized = await httpServer((_req, res) => {
      res.writeHead(200, { "Content-Length": String(body.length) });
      res.end(body);
    });
    // Room for one 200 KiB answer: the second, asked for at the same time, streams.
    const local = await startProxy({
      allow: parseAllowlist([`127.0.0.1:${sized.port}`]),
      wholeBodyBudget: 300 * 1024,
    });
    try {
      const answers = await Promise.all(
        [1, 2, 3].map(() =>
          requestThrough(local.socketPath, `http://127.0.0.1:${sized.port}/t.tgz`),
        ),
      );
      for (const res of answers) {
        expect(res.status).toBe(200);
        expect(res.body).toBe(body.toString());
      }
      // The budget is given back: a later answer is gathered again, and arrives the same.
      const again = await requestThrough(local.socketPath, `http://127.0.0.1:${sized.port}/t.tgz`);
      expect(again.body.length).toBe(body.length);
    } finally {
      await local.close();
      await sized.close();
    }
  });

  it("closes connections beyond its limit, and takes new ones when others end", async () => {
    const local = await startProxy({ allow: parseAllowlist([]), maxClients: 2 });
    const open = (): Promise<net.Socket> =>
      new Promise((resolve, reject) => {
        const socket = net.connect(local.socketPath, () => resolve(socket));
        socket.once("error", reject);
      });
    const closedSoon = (socket: net.Socket): Promise<boolean> =>
      new Promise((resolve) => {
        socket.once("close", () => resolve(true));
        setTimeout(() => resolve(false), 500);
      });
    try {
      const [a, b] = [await open(), await open()];
      await eventually(() => local.stats().clients === 2, "two clients");
      const c = await open();
      expect(await closedSoon(c)).toBe(true);
      expect(local.stats().clients).toBe(2);
      a.destroy();
      await eventually(() => local.stats().openSockets === 1, "one left");
      const d = await open();
      expect(await closedSoon(d)).toBe(false);
      b.destroy();
      d.destroy();
    } finally {
      await local.close();
    }
  });

  it("forwards a POST body, fixed-length and chunked", async () => {
    const fixed = await requestThrough(proxy.socketPath, `http://127.0.0.1:${allowedHttp.port}/p`, {
      method: "POST",
      body: "hello body",
      headers: { "Content-Length": "10" },
    });
    expect(fixed.body).toBe("POST /p hello body");

    const chunked = await new Promise<string>((resolve, reject) => {
      const req = http.request(
        {
          socketPath: proxy.socketPath,
          path: `http://127.0.0.1:${allowedHttp.port}/c`,
          method: "PUT",
          agent: false,
        },
        (res) => {
          let body = "";
          res.on("data", (d: Buffer) => {
            body += d;
          });
          res.on("end", () => resolve(body));
        },
      );
      req.on("error", reject);
      req.write("part one, ");
      setTimeout(() => req.end("part two"), 50);
    });
    expect(chunked).toBe("PUT /c part one, part two");
    const row = proxy.stats().hosts.find((h) => h.target === `127.0.0.1:${allowedHttp.port}`);
    expect(row?.bytesUp).toBeGreaterThanOrEqual("hello body".length + "part one, part two".length);
    expect(row?.bytesDown).toBeGreaterThan(0);
  });

  it("answers 403 for a host not allowed, and the host hears nothing", async () => {
    const res = await requestThrough(proxy.socketPath, `http://127.0.0.1:${forbidden.port}/leak`, {
      method: "POST",
      body: "secret",
    });
    expect(res.status).toBe(403);
    expect(res.body).toContain("not an allowed host");
    const other = await requestThrough(proxy.socketPath, `http://localhost:${allowedHttp.port}/`);
    expect(other.status).toBe(403);
  });

  it.each([
    ["an origin-form request", "/just/a/path", 400],
    ["an https URI (needs CONNECT)", "https://127.0.0.1/", 400],
    ["a URI with credentials", "http://user:pw@127.0.0.1/", 400],
  ])("answers %s with %d", async (_what, path, status) => {
    const res = await requestThrough(proxy.socketPath, path);
    expect(res.status).toBe(status);
  });

  it("answers 502 when an allowed upstream is down", async () => {
    const down = await httpServer();
    const port = down.port;
    await down.close();
    const local = await startProxy({ allow: parseAllowlist([`127.0.0.1:${port}`]) });
    try {
      const res = await requestThrough(local.socketPath, `http://127.0.0.1:${port}/`);
      expect(res.status).toBe(502);
      expect(res.body).toContain("ECONNREFUSED");
      const tunnel = await connectThrough(local.socketPath, `127.0.0.1:${port}`);
      expect(tunnel.status).toBe(502);
      tunnel.socket.destroy();
    } finally {
      await local.close();
    }
  });
});

describe("load and failures", () => {
  it("counts at most 256 hosts apart; refusals to ever new hosts share one row", async () => {
    const local = await startProxy({ allow: parseAllowlist([`localhost:${echo.port}`]) });
    try {
      for (let i = 0; i < 300; i++) {
        const { status, socket } = await connectThrough(local.socketPath, `h${i}.example:443`);
        expect(status).toBe(403);
        socket.destroy();
      }
      const rows = local.stats().hosts;
      expect(rows.length).toBe(257);
      expect(rows.find((r) => r.target === "other hosts")?.refused).toBe(44);
      expect(proxyReport(local.stats()).join("\n")).toContain(
        "blocked 44 connections to other hosts (beyond the first 256, counted together)",
      );
    } finally {
      await local.close();
    }
  }, 60_000);

  it("completes 200 parallel tunnels and 200 parallel forwarded requests", async () => {
    const tunnels = Array.from({ length: 200 }, async (_, i) => {
      const { status, socket } = await connectThrough(proxy.socketPath, `localhost:${echo.port}`);
      expect(status).toBe(200);
      const message = `message ${i}`;
      const reply = new Promise<string>((resolve) => {
        let text = "";
        socket.on("data", (d: Buffer) => {
          text += d;
          if (text.length >= message.length) resolve(text);
        });
        socket.resume();
      });
      socket.write(message);
      expect(await reply).toBe(message);
      socket.end();
      await readAll(socket);
    });
    const requests = Array.from({ length: 200 }, async (_, i) => {
      const res = await requestThrough(
        proxy.socketPath,
        `http://127.0.0.1:${allowedHttp.port}/n/${i}`,
      );
      expect(res.body).toBe(`GET /n/${i} `);
    });
    await Promise.all([...tunnels, ...requests]);
    await eventually(() => echo.open() === 0, "echo connections closed");
  });

  it("a client leaving mid-stream (absolute-URI) closes its upstream request", async () => {
    let writes = 0;
    const dripping = await httpServer((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/octet-stream" });
      const timer = setInterval(() => {
        writes++;
        res.write("x".repeat(1024));
      }, 10);
      res.on("close", () => clearInterval(timer));
    });
    const local = await startProxy({ allow: parseAllowlist([`127.0.0.1:${dripping.port}`]) });
    try {
      await new Promise<void>((resolve, reject) => {
        const req = http.request(
          {
            socketPath: local.socketPath,
            path: `http://127.0.0.1:${dripping.port}/big`,
            agent: false,
          },
          (res) => {
            res.once("data", () => {
              req.destroy();
              resolve();
            });
          },
        );
        req.on("error", () => {});
        req.on("close", () => resolve());
        req.end();
        setTimeout(() => reject(new Error("no data")), 5_000);
      });
      await eventually(() => dripping.open() === 0, "upstream connection closed");
      await eventually(() => local.stats().openSockets === 0, "no open proxy sockets");
      const frozen = writes;
      await sleep(100);
      expect(writes).toBe(frozen);
    } finally {
      await local.close();
      await dripping.close();
    }
  });

  it("a client leaving mid-stream (tunnel) closes its upstream connection", async () => {
    const dripping = await sinkServer();
    const local = await startProxy({ allow: parseAllowlist([`127.0.0.1:${dripping.port}`]) });
    try {
      const { status, socket } = await connectThrough(
        local.socketPath,
        `127.0.0.1:${dripping.port}`,
      );
      expect(status).toBe(200);
      socket.write("half a request");
      await eventually(() => dripping.received() === "half a request", "upstream got bytes");
      socket.destroy();
      await eventually(() => dripping.open() === 0, "upstream connection closed");
      await eventually(() => local.stats().openSockets === 0, "no open proxy sockets");
    } finally {
      await local.close();
      await dripping.close();
    }
  });

  it("a slow upstream: the client giving up frees everything", async () => {
    const silent = await httpServer(() => {
      // never answers
    });
    const local = await startProxy({ allow: parseAllowlist([`127.0.0.1:${silent.port}`]) });
    try {
      const req = http.request({
        socketPath: local.socketPath,
        path: `http://127.0.0.1:${silent.port}/slow`,
        agent: false,
      });
      req.on("error", () => {});
      req.end();
      await eventually(() => silent.requests.length === 1, "upstream got the request");
      req.destroy();
      await eventually(() => silent.open() === 0, "upstream connection closed");
      await eventually(() => local.stats().openSockets === 0, "no open proxy sockets");
    } finally {
      await local.close();
      await silent.close();
    }
  });

  it("a stuck upstream times out: 504 for a request, a closed tunnel", async () => {
    const silent = await httpServer(() => {});
    const local = await startProxy({
      allow: parseAllowlist([`127.0.0.1:${silent.port}`]),
      idleTimeoutMs: 300,
    });
    try {
      const res = await requestThrough(local.socketPath, `http://127.0.0.1:${silent.port}/slow`);
      expect(res.status).toBe(504);
      const { status, socket } = await connectThrough(local.socketPath, `127.0.0.1:${silent.port}`);
      expect(status).toBe(200);
      await readAll(socket); // the proxy closes the idle tunnel
      await eventually(() => silent.open() === 0, "upstream connections closed");
      await eventually(() => local.stats().openSockets === 0, "no open proxy sockets");
    } finally {
      await local.close();
      await silent.close();
    }
  });

  it("a client that gives up after the host has its request: allowed traffic, no failure", async () => {
    // A script that sends its data and hangs up before the answer must not turn that into
    // "could not reach" (and out of --verbose's traffic lines).
    const silent = await httpServer(() => {});
    const local = await startProxy({ allow: parseAllowlist([`127.0.0.1:${silent.port}`]) });
    try {
      const key = `127.0.0.1:${silent.port}`;
      const { connect } = await import("node:net");
      const socket = connect({ path: local.socketPath });
      socket.on("error", () => {});
      socket.write(
        `POST http://${key}/-/npm/v1/security/advisories/bulk HTTP/1.1\r\nHost: ${key}\r\nContent-Length: 5\r\n\r\nhello`,
      );
      await eventually(() => silent.requests.length === 1, "the host has the request");
      socket.destroy();
      await eventually(() => local.stats().openSockets === 0, "no open proxy sockets");
      const row = local.stats().hosts.find((h) => h.target === key);
      expect(row).toMatchObject({ connections: 1, failed: 0, failures: [] });
      const report = proxyReport(local.stats(), true);
      expect(report.join("\n")).toMatch(new RegExp(`allowed 1 to ${key}: \\d+ B up, 0 B down`));
      expect(report.join("\n")).not.toContain("failed");
    } finally {
      await local.close();
      await silent.close();
    }
  });

  it("counts what a request carries in its URL and headers as traffic up, not only its body", async () => {
    const local = await startProxy({ allow: parseAllowlist([`127.0.0.1:${allowedHttp.port}`]) });
    try {
      const data = "d".repeat(4000);
      const res = await requestThrough(
        local.socketPath,
        `http://127.0.0.1:${allowedHttp.port}/x?q=${data}`,
        { headers: { "X-Data": data } },
      );
      expect(res.status).toBe(201);
      await eventually(() => local.stats().openSockets === 0, "no open proxy sockets");
      const row = local.stats().hosts.find((h) => h.target === `127.0.0.1:${allowedHttp.port}`);
      expect(row?.bytesUp).toBeGreaterThan(8000);
    } finally {
      await local.close();
    }
  });

  it("a client that stops sending its body is no failure of the host's", async () => {
    const silent = await httpServer(() => {});
    const local = await startProxy({
      allow: parseAllowlist([`127.0.0.1:${silent.port}`]),
      idleTimeoutMs: 300,
    });
    try {
      const key = `127.0.0.1:${silent.port}`;
      const { connect } = await import("node:net");
      const socket = connect({ path: local.socketPath });
      socket.on("error", () => {});
      socket.write(
        `POST http://${key}/x HTTP/1.1\r\nHost: ${key}\r\nContent-Length: 100\r\n\r\nabc`,
      );
      await readAll(socket);
      const row = local.stats().hosts.find((h) => h.target === key);
      expect(row).toMatchObject({ failed: 0, failures: [] });
    } finally {
      await local.close();
      await silent.close();
    }
  });

  it("a host that stops reading an upload is a failure of the host's, not the client's", async () => {
    const { createServer, connect } = await import("node:net");
    const held = new Set<import("node:net").Socket>();
    const stuck = createServer((socket) => {
      held.add(socket);
      socket.pause();
    });
    await new Promise<void>((resolve) => stuck.listen(0, "127.0.0.1", resolve));
    const port = (stuck.address() as import("node:net").AddressInfo).port;
    const local = await startProxy({
      allow: parseAllowlist([`127.0.0.1:${port}`]),
      idleTimeoutMs: 500,
    });
    try {
      const key = `127.0.0.1:${port}`;
      const socket = connect({ path: local.socketPath });
      socket.on("error", () => {});
      socket.write(
        `POST http://${key}/up HTTP/1.1\r\nHost: ${key}\r\nContent-Length: 200000000\r\n\r\n`,
      );
      socket.write(Buffer.alloc(32 * 1024 * 1024));
      // The answer's head (the client is still owed the rest of its body, so no end).
      const answer = await new Promise<string>((resolve) => {
        let text = "";
        socket.on("data", (chunk: Buffer) => {
          text += chunk.toString("latin1");
          if (text.includes("\r\n\r\n")) resolve(text);
        });
        socket.on("close", () => resolve(text));
      });
      socket.destroy();
      expect(answer).toMatch(/^HTTP\/1\.1 504/);
      const row = local.stats().hosts.find((h) => h.target === key);
      expect(row?.failed).toBe(1);
      expect(row?.failures).toEqual([{ reason: "no answer in 500 ms", count: 1 }]);
    } finally {
      await local.close();
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => stuck.close(() => resolve()));
    }
  });

  it("survives garbage on the socket", async () => {
    const { connect } = await import("node:net");
    const socket = connect({ path: proxy.socketPath });
    socket.on("error", () => {});
    socket.write("\x00\x01 not http at all\r\n\r\n");
    const reply = await readAll(socket);
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    const res = await requestThrough(proxy.socketPath, `http://127.0.0.1:${allowedHttp.port}/`);
    expect(res.status).toBe(201);
  });
});

describe("close()", () => {
  it("destroys live tunnels, stops listening and removes the dir; twice is fine", async () => {
    const local = await startProxy({ allow: parseAllowlist([`localhost:${echo.port}`]) });
    const { status, socket } = await connectThrough(local.socketPath, `localhost:${echo.port}`);
    expect(status).toBe(200);
    const closed = readAll(socket);
    await local.close();
    await closed;
    await local.close();
    expect(gone(local.dir)).toBe(true);
    expect(local.stats().openSockets).toBe(0);
    await eventually(() => echo.open() === 0, "echo connection closed");
  });

  it("creates its dir under socketDir, and refuses a socket path too long for unix sockets", async () => {
    const parent = await mkdtemp(join(tmpdir(), "safe-npm-test-"));
    try {
      const local = await startProxy({ allow: [], socketDir: parent });
      expect(local.dir.startsWith(`${parent}/safe-npm-net-`)).toBe(true);
      await local.close();
      const deep = join(parent, "d".repeat(120));
      await import("node:fs/promises").then((fs) => fs.mkdir(deep));
      await expect(startProxy({ allow: [], socketDir: deep })).rejects.toThrow(/too long/);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  it("removes the socket dirs of its own runs that ended without removing them, nothing else", async () => {
    const parent = await mkdtemp(join(tmpdir(), "safe-npm-test-"));
    try {
      const ended = spawnSync(process.execPath, ["-e", "0"]).pid;
      const live = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"]);
      const stale = join(parent, `safe-npm-net-${ended}-aaaaaa`);
      const kept = [
        join(parent, `safe-npm-net-${live.pid}-bbbbbb`),
        join(parent, "safe-npm-net-cccccc"),
        join(parent, "other-1-x"),
      ];
      for (const dir of [stale, ...kept]) {
        mkdirSync(dir);
        writeFileSync(join(dir, "proxy.sock"), "");
      }
      // A link named like a stale dir is not followed (nor removed: not a folder).
      const link = join(parent, `safe-npm-net-${ended}-link`);
      symlinkSync(kept[2] as string, link);
      const local = await startProxy({ allow: [], socketDir: parent });
      await local.close();
      live.kill();
      expect(existsSync(stale)).toBe(false);
      for (const dir of kept) expect(existsSync(join(dir, "proxy.sock"))).toBe(true);
      expect(lstatSync(link).isSymbolicLink()).toBe(true);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  it("removeDirOnExit removes the dir from a process 'exit' hook, and can be undone", async () => {
    const dir = await mkdtemp(join(tmpdir(), "safe-npm-test-"));
    const before = process.listeners("exit");
    const off = removeDirOnExit(dir);
    const added = process.listeners("exit").filter((l) => !before.includes(l));
    expect(added).toHaveLength(1);
    (added[0] as () => void)();
    expect(gone(dir)).toBe(true);
    off();
    expect(process.listeners("exit")).toEqual(before);
  });
});

describe("name lookups", () => {
  /** A proxy whose lookups are counted: `registry.test` is the loopback, nothing else exists. */
  async function countingProxy(ports: number[]): Promise<{ local: NetworkProxy; calls: string[] }> {
    const calls: string[] = [];
    const resolver = createResolver({
      lookup: async (hostname) => {
        calls.push(hostname);
        if (hostname !== "registry.test")
          throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
            code: "ENOTFOUND",
          });
        return [{ address: "127.0.0.1", family: 4 }];
      },
      failureTtlMs: 0,
    });
    const allow = parseAllowlist([
      ...ports.map((port) => `registry.test:${port}`),
      `gone.test:${allowedHttp.port}`,
    ]);
    return { local: await startProxy({ allow, resolver }), calls };
  }

  it("looks each host up once for a burst of tunnels and forwarded requests", async () => {
    const { local, calls } = await countingProxy([echo.port, allowedHttp.port]);
    try {
      const tunnels = Array.from({ length: 40 }, async () => {
        const { status, socket } = await connectThrough(
          local.socketPath,
          `registry.test:${echo.port}`,
        );
        socket.destroy();
        return status;
      });
      const requests = Array.from({ length: 40 }, (_, i) =>
        requestThrough(local.socketPath, `http://registry.test:${allowedHttp.port}/n${i}`),
      );
      expect(await Promise.all(tunnels)).toEqual(Array(40).fill(200));
      for (const res of await Promise.all(requests)) expect(res.status).toBe(201);
      // 80 upstream dials, one lookup: the control is the same count without the cache, 80.
      expect(calls).toEqual(["registry.test"]);
      const stats = local.stats();
      expect(stats.lookups).toBe(1);
      expect(stats.clients).toBe(80);
      expect(stats.hosts.map((h) => h.connections)).toEqual([40, 40]);
    } finally {
      await local.close();
    }
  });

  it("answers 502 with the lookup's error, and tries again for the next connection", async () => {
    const { local, calls } = await countingProxy([]);
    try {
      for (let i = 0; i < 2; i++) {
        const res = await requestThrough(local.socketPath, `http://gone.test:${allowedHttp.port}/`);
        expect(res.status).toBe(502);
        expect(res.body).toContain(`cannot reach gone.test:${allowedHttp.port}: ENOTFOUND`);
      }
      const { status, socket } = await connectThrough(
        local.socketPath,
        `gone.test:${allowedHttp.port}`,
      );
      expect(status).toBe(502);
      expect(await readAll(socket)).toContain("ENOTFOUND");
      expect(calls).toEqual(["gone.test", "gone.test", "gone.test"]);
      // Failed, not allowed: the report names each host and why.
      const rows = local.stats().hosts.filter((h) => h.target.startsWith("gone.test:"));
      expect(rows.map((h) => [h.connections, h.failed, h.failures])).toEqual([
        [0, 3, [{ reason: "ENOTFOUND", count: 3 }]],
      ]);
      expect(proxyReport(local.stats())).toContain(
        `3 connections to gone.test:${allowedHttp.port} failed: ENOTFOUND ×3`,
      );
      // Nothing went up to a host never reached.
      expect(rows[0]?.bytesUp).toBe(0);
    } finally {
      await local.close();
    }
  });
});

describe("proxyReport", () => {
  it("lists refusals, and allowed traffic when verbose", () => {
    const stats = {
      hosts: [
        { ...newHostStats("evil.example:443"), refused: 3 },
        { ...newHostStats("registry.npmjs.org:443"), connections: 2, bytesUp: 10, bytesDown: 4096 },
      ],
      badRequests: 1,
      openSockets: 0,
      idleUpstreams: 0,
      lookups: 1,
      clients: 5,
    };
    expect(proxyReport(stats)).toEqual([
      "blocked 3 connections to evil.example:443 — allow with --allow-host evil.example:443",
    ]);
    expect(proxyReport(stats, true)).toEqual([
      "blocked 3 connections to evil.example:443 — allow with --allow-host evil.example:443",
      "allowed 2 to registry.npmjs.org:443: 10 B up, 4.0 KiB down",
      "refused 1 malformed proxy requests",
      "5 connections from the sandbox, 1 name lookup",
    ]);
  });
});

describe("recordFailure", () => {
  it("keeps each cause with its count, a bounded number of them, and a refused certificate always", () => {
    const row = { ...newHostStats("r:443"), connections: 20 };
    recordFailure(row, "ECONNREFUSED", false);
    recordFailure(row, "ECONNREFUSED", false);
    for (let i = 0; i < 12; i++) recordFailure(row, `HPE_${i}`, true);
    recordFailure(row, "UNABLE_TO_VERIFY_LEAF_SIGNATURE", true);
    expect(row.failed).toBe(15);
    // Only the two that never reached the host left the allowed count.
    expect(row.connections).toBe(18);
    expect(row.failures[0]).toEqual({ reason: "ECONNREFUSED", count: 2 });
    expect(row.failures.length).toBe(9);
    expect(row.failures.at(-1)).toEqual({ reason: "UNABLE_TO_VERIFY_LEAF_SIGNATURE", count: 1 });
  });
});

describe("proxyReport of connections that failed", () => {
  it("names every distinct cause with its count, and traffic that reached the host", () => {
    const row = {
      ...newHostStats("registry.example:443"),
      connections: 1,
      bytesUp: 700,
      failed: 9,
      failures: [
        { reason: "UNABLE_TO_VERIFY_LEAF_SIGNATURE", count: 1 },
        { reason: "ECONNRESET", count: 6 },
      ],
    };
    const stats = {
      hosts: [row],
      badRequests: 0,
      openSockets: 0,
      idleUpstreams: 0,
      lookups: 0,
      clients: 0,
    };
    expect(proxyReport(stats)).toEqual([
      "9 connections to registry.example:443 failed: UNABLE_TO_VERIFY_LEAF_SIGNATURE, ECONNRESET ×6; and 2 more",
    ]);
    // Bytes went up although nothing is counted allowed: the traffic line still shows them.
    expect(proxyReport({ ...stats, hosts: [{ ...row, connections: 0 }] }, true)).toContain(
      "allowed 0 to registry.example:443: 700 B up, 0 B down",
    );
  });
});

describe("proxyReport of the registry gateway", () => {
  it("names method and path of refused requests, the rule's reason, and failed handshakes", () => {
    const row = {
      ...newHostStats("registry.npmjs.org:443"),
      connections: 5,
      refusedRequests: 7,
      refusedSamples: [
        { request: "PUT /evil", reason: "installs only read from the registry" },
        { request: "POST /-/v1/login", reason: "installs only read from the registry" },
      ],
      handshakeFailures: 2,
    };
    expect(
      proxyReport({
        hosts: [row],
        badRequests: 0,
        openSockets: 0,
        idleUpstreams: 0,
        lookups: 0,
        clients: 0,
      }),
    ).toEqual([
      "refused 7 requests to the registry registry.npmjs.org:443: PUT /evil (installs only read from the registry); POST /-/v1/login (installs only read from the registry); and 5 more",
      "2 TLS connection(s) to registry.npmjs.org:443 failed: the client did not accept safe-npm's local CA",
    ]);
  });
});
