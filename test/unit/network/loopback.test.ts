/**
 * The proxy and port forwarding on the host's loopback. A port forwarded into the sandbox must
 * never be dialled by the proxy on any loopback address (a literal, `localhost`, a name that
 * resolves there), or the proxy would carry a registry request — with the held credential — to
 * the sandbox's own server. The stand-in for the forwarded port is a real server on 127.0.0.1;
 * the control is the same request with that port not marked forwarded, which reaches it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllowlist } from "../../../src/network/allowlist.js";
import {
  guardedLookup,
  isLoopbackAddress,
  LOOP_REFUSED,
  loopbackPorts,
} from "../../../src/network/loopback.js";
import { type NetworkProxy, proxyReport, startProxy } from "../../../src/network/proxy.js";
import { createResolver } from "../../../src/network/resolver.js";
import { connectThrough, httpServer, requestThrough, type TestServer } from "./helpers.js";

describe("isLoopbackAddress", () => {
  it("knows every form of this machine's loopback", () => {
    for (const a of [
      "127.0.0.1",
      "127.1.2.3",
      "0.0.0.0",
      "::1",
      "::",
      "::ffff:127.0.0.1",
      "::ffff:7f00:1",
      "0:0:0:0:0:0:0:1",
    ])
      expect(isLoopbackAddress(a), a).toBe(true);
    for (const a of ["10.0.0.1", "::ffff:10.0.0.1", "fe80::1", "192.168.1.1", "localhost", ""])
      expect(isLoopbackAddress(a), a).toBe(false);
  });
});

describe("loopbackPorts", () => {
  it("names the ports of loopback literals and localhost names, 443 and 80 when none is given", () => {
    const allow = parseAllowlist([
      "localhost:3999",
      "127.0.0.2:4000",
      "[::1]:4001",
      "dev.localhost:4002",
      "[::ffff:127.0.0.1]:4003",
      "localhost",
      "registry.npmjs.org",
      "10.0.0.1:4004",
    ]);
    expect([...loopbackPorts(allow)].sort((a, b) => a - b)).toEqual([
      80, 443, 3999, 4000, 4001, 4002, 4003,
    ]);
  });
});

describe("guardedLookup", () => {
  const fixed =
    (answers: { address: string; family: number }[]) =>
    (_host: string, options: { all?: boolean }, cb: (...args: unknown[]) => void) =>
      options.all ? cb(null, answers) : cb(null, answers[0]?.address, answers[0]?.family);
  const ask = (
    answers: { address: string; family: number }[],
    all: boolean,
    forwarded: boolean,
  ): Promise<{ error: NodeJS.ErrnoException | null; address: unknown }> =>
    new Promise((resolve) =>
      guardedLookup(fixed(answers) as never, 3999, () => forwarded)(
        "x",
        { all },
        (error, address) => resolve({ error, address }),
      ),
    );
  it("refuses a loopback answer for a forwarded port, keeps others", async () => {
    const lo = [{ address: "127.0.0.1", family: 4 }];
    expect((await ask(lo, false, true)).error?.code).toBe(LOOP_REFUSED);
    expect((await ask(lo, true, true)).error?.code).toBe(LOOP_REFUSED);
    expect((await ask(lo, false, false)).address).toBe("127.0.0.1");
    const mixed = [
      { address: "::1", family: 6 },
      { address: "192.0.2.7", family: 4 },
    ];
    expect(await ask(mixed, true, true)).toEqual({
      error: null,
      address: [{ address: "192.0.2.7", family: 4 }],
    });
  });
});

describe("the proxy never dials a forwarded port on loopback", () => {
  let inside: TestServer;
  let proxy: NetworkProxy;
  const forwarded = new Set<number>();

  beforeAll(async () => {
    // Stands in for the forwarder's listener: reaching it is reaching the sandbox.
    inside = await httpServer((req, res) => res.end(`inside got ${req.url}`));
    proxy = await startProxy({
      allow: parseAllowlist([
        `localhost:${inside.port}`,
        `127.0.0.1:${inside.port}`,
        `127.0.0.2:${inside.port}`,
      ]),
      // Answers `localhost` with loopback, as /etc/hosts does.
      resolver: createResolver({ lookup: async () => [{ address: "127.0.0.1", family: 4 }] }),
      forwardedPort: (port) => forwarded.has(port),
    });
  });
  afterAll(async () => {
    await proxy?.close();
    await inside?.close();
  });

  it("control: a port not forwarded is reached", async () => {
    forwarded.clear();
    const res = await requestThrough(proxy.socketPath, `http://localhost:${inside.port}/@x/y`);
    expect(res.body).toBe("inside got /@x/y");
  });

  it("refuses with 403 by name, by literal, by CONNECT; nothing reaches the server; the report says why", async () => {
    forwarded.add(inside.port);
    const before = inside.requests.length;
    const acceptedBefore = inside.accepted();
    for (const host of ["localhost", "127.0.0.1", "127.0.0.2"]) {
      const res = await requestThrough(proxy.socketPath, `http://${host}:${inside.port}/@x/y`, {
        headers: { authorization: "Bearer would-be-held" },
      });
      expect(res.status, host).toBe(403);
      expect(res.body).toContain("forwarded into the sandbox");
    }
    for (const host of ["localhost", "127.0.0.1"]) {
      const tunnel = await connectThrough(proxy.socketPath, `${host}:${inside.port}`);
      tunnel.socket.destroy();
      expect(tunnel.status, host).toBe(403);
    }
    expect(inside.requests.length).toBe(before);
    expect(inside.accepted()).toBe(acceptedBefore);
    const report = proxyReport(proxy.stats()).join("\n");
    expect(report).toMatch(
      new RegExp(
        `refused 2 connections to localhost:${inside.port}: that port is forwarded into the sandbox`,
      ),
    );
    expect(report).toMatch(new RegExp(`refused 2 connections to 127\\.0\\.0\\.1:${inside.port}`));
  });
});
