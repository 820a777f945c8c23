/**
 * The proxy and port forwarding on the host's loopback. A port forwarded into the sandbox must
 * never be dialled by the proxy on any loopback address (a literal, `localhost`, a name that
 * resolves there), or the proxy would carry a registry request — with the held credential — to
 * the sandbox's own server. The stand-in for the forwarded port is a real server on 127.0.0.1;
 * the control is the same request with that port not marked forwarded, which reaches it.
 */
import os from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  dedupeAllowlist,
  parseAllowlist,
  registriesFromConfig,
  settleProjectOnly,
} from "../../../src/network/allowlist.js";
import {
  guardedLookup,
  hostsLoopbackNames,
  isInternalAddress,
  isLoopbackAddress,
  LOOP_REFUSED,
  localAddresses,
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

  it("counts the names /etc/hosts gives loopback as loopback", () => {
    const names = hostsLoopbackNames(
      [
        "127.0.0.1\tlocalhost",
        "127.0.1.1 verdaccio.local  Registry.Corp. # a comment",
        "::1 ip6-localhost",
        "10.0.0.5 npm.corp.example",
        "# 127.0.0.1 commented.example",
        "",
      ].join("\n"),
    );
    expect([...names].sort()).toEqual([
      "ip6-localhost",
      "localhost",
      "registry.corp",
      "verdaccio.local",
    ]);
    const allow = parseAllowlist([
      "verdaccio.local:4873",
      "registry.corp.:4874",
      "npm.corp.example:4875",
    ]);
    expect([...loopbackPorts(allow, names)].sort()).toEqual([4873, 4874]);
    expect([...loopbackPorts(allow)]).toEqual([]);
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

describe("isInternalAddress", () => {
  it("knows loopback, private, shared, link-local and metadata addresses in every form", () => {
    for (const a of [
      "127.0.0.1",
      "0.0.0.0",
      "10.1.2.3",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.1",
      "100.64.0.1",
      "100.100.100.200",
      "169.254.169.254",
      "192.0.0.192",
      "168.63.129.16",
      "::ffff:168.63.129.16",
      "::1",
      "::",
      "fe80::1",
      "fd00:ec2::254",
      "fc00::1",
      "::ffff:169.254.169.254",
      "::ffff:a9fe:a9fe",
      "64:ff9b::10.0.0.1",
      // As resolvers answer: the embedded IPv4 address in hex.
      "64:ff9b::7f00:1",
      "64:ff9b:0:0:0:0:a9fe:a9fe",
      "::ffff:7f00:1",
      "::ffff:0:7f00:1",
      "::ffff:0:127.0.0.1",
      "::7f00:1",
      "::127.0.0.1",
      "64:ff9b:1::a00:1",
      // Documentation and benchmarking ranges, seen on real hosts' interfaces.
      "192.0.2.2",
      "198.18.0.1",
      "198.19.255.1",
      "198.51.100.7",
      "203.0.113.9",
      "2001:db8::7f00:1",
      "100::1",
      // 6to4 carrying an internal IPv4 address; Teredo.
      "2002:7f00:1::1",
      "2002:a9fe:a9fe::",
      "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    ])
      expect(isInternalAddress(a), a).toBe(true);
    for (const a of [
      "104.16.0.1",
      "172.32.0.1",
      "100.128.0.1",
      "2606:4700::1",
      "::ffff:808:808",
      "64:ff9b::808:808",
      "::ffff:8.8.8.8",
      "2002:808:808::1",
      "198.20.0.1",
      "localhost",
      "",
    ])
      expect(isInternalAddress(a), a).toBe(false);
  });

  it("counts this host's own addresses, public ones too, in any IPv6 form", () => {
    const local = localAddresses({
      eth0: [
        { address: "203.1.2.3", family: "IPv4" } as os.NetworkInterfaceInfo,
        { address: "2606:4700::42", family: "IPv6" } as os.NetworkInterfaceInfo,
        { address: "fe80::1%eth0", family: "IPv6" } as os.NetworkInterfaceInfo,
        // Entries that are not what their family says are left out, not thrown on.
        { address: "203.9.9.9", family: "IPv6" } as os.NetworkInterfaceInfo,
        { address: "203.9.9.8", family: "AF_PACKET" } as unknown as os.NetworkInterfaceInfo,
      ],
      // Node 18.0–18.3 gave the family as a number.
      eth1: [{ address: "8.8.4.4", family: 4 } as unknown as os.NetworkInterfaceInfo],
    });
    expect(isInternalAddress("8.8.4.4", local)).toBe(true);
    expect(isInternalAddress("203.9.9.9", local)).toBe(false);
    expect(isInternalAddress("203.9.9.8", local)).toBe(false);
    for (const a of ["203.1.2.3", "::ffff:203.1.2.3", "::ffff:cb01:203", "2606:4700::42"])
      expect(isInternalAddress(a, local), a).toBe(true);
    // Control: without the host's addresses, the same are external.
    for (const a of ["203.1.2.3", "2606:4700::42"]) expect(isInternalAddress(a), a).toBe(false);
    expect(isInternalAddress("203.1.2.4", local)).toBe(false);
  });

  it("reads the real interfaces by default (loopback among them)", () => {
    expect(isInternalAddress("127.0.0.1", localAddresses())).toBe(true);
    const first = Object.values(os.networkInterfaces())
      .flat()
      .find((i) => i !== undefined && !i.internal && i.family === "IPv4");
    if (first !== undefined) expect(isInternalAddress(first.address, localAddresses())).toBe(true);
  });
});

describe("a registry only the project's files name is never dialled at an internal address", () => {
  let server: TestServer;
  const proxies: NetworkProxy[] = [];
  // Stands in for IMDS / `kubectl proxy` / a local admin API on the host's loopback.
  beforeAll(async () => {
    server = await httpServer((req, res) => res.end(`metadata for ${req.url}`));
  });
  afterAll(async () => {
    for (const p of proxies) await p.close();
    await server?.close();
  });
  const start = async (config: {
    projectNpmrc?: string;
    userNpmrc?: string;
    allowHost?: string[];
  }): Promise<NetworkProxy> => {
    const allow = settleProjectOnly(
      dedupeAllowlist([
        ...registriesFromConfig({ projectNpmrc: config.projectNpmrc, userNpmrc: config.userNpmrc }),
        ...parseAllowlist(config.allowHost ?? [], "network.allow / --allow-host"),
      ]),
    );
    const proxy = await startProxy({
      allow,
      // `meta.example` stands for a public-looking name whose DNS answer is loopback.
      resolver: createResolver({ lookup: async () => [{ address: "127.0.0.1", family: 4 }] }),
    });
    proxies.push(proxy);
    return proxy;
  };
  const path = "/latest/meta-data/iam/security-credentials/role";

  it("project .npmrc: refused with 403 by literal, by a name resolving there, by CONNECT; the report names the file and the fixes", async () => {
    const proxy = await start({
      projectNpmrc: `registry=http://127.0.0.1:${server.port}/\n@evil:registry=http://meta.example:${server.port}/\n`,
    });
    const before = server.requests.length;
    const acceptedBefore = server.accepted();
    for (const host of ["127.0.0.1", "meta.example"]) {
      const res = await requestThrough(proxy.socketPath, `http://${host}:${server.port}${path}`);
      expect(res.status, host).toBe(403);
      expect(res.body).toContain("only the project's files name this registry");
    }
    for (const host of ["127.0.0.1", "meta.example"]) {
      const tunnel = await connectThrough(proxy.socketPath, `${host}:${server.port}`);
      tunnel.socket.destroy();
      expect(tunnel.status, host).toBe(403);
    }
    expect(server.requests.length).toBe(before);
    expect(server.accepted()).toBe(acceptedBefore);
    const report = proxyReport(proxy.stats()).join("\n");
    expect(report).toContain(
      `refused 2 connections to 127.0.0.1:${server.port}: only the project's files name this registry (project .npmrc registry)`,
    );
    expect(report).toContain(
      `refused 2 connections to meta.example:${server.port}: only the project's files name this registry (project .npmrc @evil:registry)`,
    );
    expect(report).toContain("name it in ~/.npmrc");
    expect(report).toContain("safe-npm trust");
    expect(report).toContain(`--allow-host 127.0.0.1:${server.port}`);
  });

  it("control: the same registry named in ~/.npmrc too, or allowed by the user, is reached", async () => {
    const projectNpmrc = `registry=http://127.0.0.1:${server.port}/\n`;
    for (const proxy of [
      await start({ projectNpmrc, userNpmrc: `registry=http://127.0.0.1:${server.port}/\n` }),
      await start({ projectNpmrc, allowHost: [`127.0.0.1:${server.port}`] }),
      await start({ userNpmrc: `@x:registry=http://127.0.0.1:${server.port}/\n` }),
    ]) {
      const res = await requestThrough(proxy.socketPath, `http://127.0.0.1:${server.port}${path}`);
      expect(res.status).toBe(200);
      expect(res.body).toBe(`metadata for ${path}`);
    }
  });
});
