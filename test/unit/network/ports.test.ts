import net from "node:net";
import { describe, expect, it, vi } from "vitest";
import { ENTER_NETNS_PERL, forwarderLaunch } from "../../../src/network/forward.js";
import {
  ephemeralRange,
  FIRST_AUTOMATIC_PORT,
  type Forwarding,
  parseListeners,
  reachablePorts,
  type Targets,
  watchPorts,
} from "../../../src/network/ports.js";

const HEADER =
  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
const v4 = (local: string, state = "0A"): string =>
  `   0: ${local} 00000000:0000 ${state} 00000000:00000000 00:00000000 00000000  1000        0 2870004 1 0000000000000000 100 0 0 10 0\n`;
const v6 = (local: string, state = "0A"): string =>
  `   0: ${local} 00000000000000000000000000000000:0000 ${state} 00000000:00000000 00:00000000 00000000  1000        0 2870005 1 0000000000000000 100 0 0 10 0\n`;

describe("parseListeners", () => {
  it.each([
    // little-endian words, as x86_64 and arm64 print them
    [v4("0100007F:1435"), 4, { port: 5173, address: "127.0.0.1", scope: "loopback" }],
    [v4("0101007F:0BB8"), 4, { port: 3000, address: "127.0.1.1", scope: "loopback" }],
    [v4("00000000:1F90"), 4, { port: 8080, address: "0.0.0.0", scope: "any" }],
    [v4("0100000A:1F90"), 4, { port: 8080, address: "10.0.0.1", scope: "other" }],
    [v4("0101A8C0:0016"), 4, { port: 22, address: "192.168.1.1", scope: "other" }],
    [
      v6("00000000000000000000000001000000:1435"),
      6,
      { port: 5173, address: "::1", scope: "loopback" },
    ],
    [v6("00000000000000000000000000000000:1435"), 6, { port: 5173, address: "::", scope: "any" }],
    [
      v6("0000000000000000FFFF00000100007F:0BB8"),
      6,
      { port: 3000, address: "::ffff:127.0.0.1", scope: "loopback" },
    ],
    [
      v6("0000000000000000FFFF00000100000A:0BB8"),
      6,
      { port: 3000, address: "::ffff:10.0.0.1", scope: "other" },
    ],
    [
      v6("B80D0120000000000000000001000000:0050"),
      6,
      { port: 80, address: "2001:db8:0:0:0:0:0:1", scope: "other" },
    ],
  ] as const)("%s", (line, family, listener) => {
    expect(parseListeners(HEADER + line, family, true)).toEqual([{ ...listener, family }]);
  });

  it("reads big-endian words as they are", () => {
    expect(parseListeners(HEADER + v4("7F000001:1435"), 4, false)).toEqual([
      { port: 5173, family: 4, address: "127.0.0.1", scope: "loopback" },
    ]);
    expect(parseListeners(HEADER + v6("00000000000000000000000000000001:1435"), 6, false)).toEqual([
      { port: 5173, family: 6, address: "::1", scope: "loopback" },
    ]);
  });

  it("keeps only LISTEN sockets and skips what it cannot read", () => {
    const text =
      HEADER +
      v4("0100007F:1435", "01") + // ESTABLISHED
      v4("0100007F:1436", "06") + // TIME_WAIT
      v4("0100007F:0BB8") +
      "   1: garbage\n" +
      v4("0100007F:12") +
      v4("100007F:0BB9");
    expect(parseListeners(text, 4, true).map((l) => l.port)).toEqual([3000]);
    // An IPv4-sized address in tcp6 (or the reverse) is not a socket of that family.
    expect(parseListeners(text, 6, true)).toEqual([]);
    expect(parseListeners("", 4, true)).toEqual([]);
  });
});

describe("reachablePorts", () => {
  it("forwards loopback and wildcard listeners, IPv4 first, never other addresses", () => {
    const listeners = [
      ...parseListeners(HEADER + v4("0100007F:1435") + v4("0100000A:1F90"), 4, true),
      ...parseListeners(
        HEADER +
          v6("00000000000000000000000001000000:1435") +
          v6("00000000000000000000000000000000:0BB8") +
          v6("0000000000000000FFFF00000100007F:0BB9"),
        6,
        true,
      ),
      ...parseListeners(HEADER + v4("00000000:0FA0"), 4, true),
    ];
    expect(Object.fromEntries(reachablePorts(listeners))).toEqual({
      5173: ["127.0.0.1", "::1"],
      3000: ["::1"],
      3001: ["127.0.0.1"],
      4000: ["127.0.0.1"],
    });
  });
});

describe("ephemeralRange", () => {
  it("reads the kernel's range, with its default when unreadable", () => {
    expect(ephemeralRange(() => "32768\t60999\n")).toEqual([32768, 60999]);
    expect(ephemeralRange(() => "1024 65535")).toEqual([1024, 65535]);
    expect(ephemeralRange(() => "garbage")).toEqual([32768, 60999]);
    expect(
      ephemeralRange(() => {
        throw new Error("ENOENT");
      }),
    ).toEqual([32768, 60999]);
  });
});

describe("forwarderLaunch", () => {
  it("runs perl, which execs nsenter from the given path with the node source", () => {
    const launch = forwarderLaunch({
      pid: 4242,
      netns: 4026532253,
      enterUser: true,
      nsenter: "/usr/bin/nsenter",
      node: "/usr/bin/node",
      source: "/* forwarder */",
    });
    expect(launch).toEqual({
      file: "/usr/bin/perl",
      args: [
        "-e",
        ENTER_NETNS_PERL,
        "4242",
        "4026532253",
        "1",
        "/usr/bin/nsenter",
        "/usr/bin/node",
        "-e",
        "/* forwarder */",
      ],
    });
    const asRoot = forwarderLaunch({
      pid: 1,
      netns: 2,
      enterUser: false,
      nsenter: "/bin/nsenter",
      node: "/opt/node/bin/node",
      source: "x",
    });
    expect(asRoot.args.slice(2, 6)).toEqual(["1", "2", "0", "/bin/nsenter"]);
  });

  it("enters the namespace it was told about, through descriptors, with the owner's user namespace", () => {
    // Checked against the inode seen at start-up and the host's own namespace (a reused pid).
    expect(ENTER_NETNS_PERL).toContain('$got != $ino || $got == (stat "/proc/self/ns/net")[1]');
    // NS_GET_USERNS, and credentials kept (no setuid/setgid inside).
    expect(ENTER_NETNS_PERL).toContain("ioctl($net, 0xb701, 0)");
    expect(ENTER_NETNS_PERL).toContain('"--preserve-credentials"');
    expect(ENTER_NETNS_PERL).toContain('exec { $nsenter } "nsenter", @ns, "--", @cmd');
  });
});

describe("watchPorts", () => {
  /** A fake forwarding that records what it was asked to forward. */
  function fake(): {
    added: [number, Targets][];
    start: (pid: number) => Promise<Forwarding>;
    starts: number[];
    closed: boolean;
  } {
    const state = {
      added: [] as [number, Targets][],
      starts: [] as number[],
      closed: false,
      start: async (pid: number): Promise<Forwarding> => {
        state.starts.push(pid);
        return {
          add: async (port, targets) => {
            state.added.push([port, targets]);
            return true;
          },
          close: async () => {
            state.closed = true;
          },
        };
      },
    };
    return state;
  }

  it("forwards fixed ports at start-up, skipping excluded ones, and starts nothing otherwise", async () => {
    const f = fake();
    // pid 0 has no /proc entry: nothing listens
    const w = watchPorts({
      fixed: [5173, 40001],
      exclude: [40001],
      report: () => {},
      start: f.start,
    });
    w.ready(0);
    await vi.waitFor(() => expect(f.added).toEqual([[5173, ["127.0.0.1", "::1"]]]));
    await w.close();
    expect(f.starts).toEqual([0]);
    expect(f.closed).toBe(true);

    const idle = fake();
    const w2 = watchPorts({ fixed: [], exclude: [], report: () => {}, start: idle.start });
    w2.ready(0);
    await w2.close();
    expect(idle.starts).toEqual([]);
  });

  it("notices a new listening socket in the namespace it polls and forwards it once", async () => {
    const f = fake();
    // This process's own namespace stands in for the sandbox's.
    // One server at a port a dev server would use, one where listen(0) puts a test's server.
    const listenOn = (port: number): Promise<net.Server | null> =>
      new Promise((resolve) => {
        const server = net.createServer();
        server.once("error", () => resolve(null));
        server.listen(port, "127.0.0.1", () => resolve(server));
      });
    let server: net.Server | null = null;
    while (server === null) server = await listenOn(20_000 + Math.floor(Math.random() * 12_000));
    const port = (server.address() as net.AddressInfo).port;
    const throwaway = (await listenOn(0)) as net.Server;
    const ephemeral = (throwaway.address() as net.AddressInfo).port;
    const w = watchPorts({ fixed: [], exclude: [], report: () => {}, start: f.start });
    w.ready(process.pid);
    try {
      await vi.waitFor(() => expect(f.added).toContainEqual([port, ["127.0.0.1"]]), {
        timeout: 30_000,
      });
      await w.close();
      expect(f.added.filter(([p]) => p === port)).toHaveLength(1);
      // Seen in the same poll, and left alone.
      expect(f.added.map(([p]) => p)).not.toContain(ephemeral);
      const [low, high] = ephemeralRange();
      expect(f.added.every(([p]) => p < low || p > high)).toBe(true);
      expect(f.added.every(([p]) => p >= FIRST_AUTOMATIC_PORT)).toBe(true);
      expect(new Set(f.starts)).toEqual(new Set([process.pid]));
    } finally {
      server.close();
      throwaway.close();
    }
  });

  it("never forwards a port the allowed hosts name on loopback, says so, and tells the proxy what it forwards", async () => {
    const f = fake();
    const lines: string[] = [];
    const forwarded = new Set<number>();
    const w = watchPorts({
      fixed: [3999, 5173],
      exclude: [],
      registryPorts: new Set([3999]),
      forwarded,
      report: (l) => lines.push(l),
      start: f.start,
    });
    w.ready(0);
    await vi.waitFor(() => expect(f.added).toEqual([[5173, ["127.0.0.1", "::1"]]]));
    await w.close();
    expect(forwarded).toEqual(new Set([5173]));
    expect(lines).toEqual([
      "port 3999 is not forwarded: the allowed hosts name a registry on the host's localhost:3999, which the sandbox must not stand in for",
    ]);
  });

  it("asks for the registry ports only when a port is to be forwarded; none goes when that fails", async () => {
    const f = fake();
    const lines: string[] = [];
    let asked = 0;
    const w = watchPorts({
      fixed: [3999, 5173],
      exclude: [],
      registryPorts: async () => {
        asked++;
        return new Set([3999]);
      },
      report: (l) => lines.push(l),
      start: f.start,
    });
    expect(asked).toBe(0);
    w.ready(0);
    await vi.waitFor(() => expect(f.added).toEqual([[5173, ["127.0.0.1", "::1"]]]));
    await w.close();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("port 3999 is not forwarded");

    const g = fake();
    const failed: string[] = [];
    const v = watchPorts({
      fixed: [4200],
      exclude: [],
      registryPorts: async () => {
        throw new Error("~/.npmrc could not be read");
      },
      report: (l) => failed.push(l),
      start: g.start,
    });
    v.ready(0);
    await vi.waitFor(() =>
      expect(failed).toEqual(["port 4200 is not forwarded: ~/.npmrc could not be read"]),
    );
    await v.close();
    expect(g.added).toEqual([]);
  });

  it("forgets a port whose forwarding failed (the host's own server holds it)", async () => {
    const forwarded = new Set<number>();
    let added = false;
    const w = watchPorts({
      fixed: [4100],
      exclude: [],
      forwarded,
      report: () => {},
      start: async () => ({
        add: async () => {
          added = true;
          return false;
        },
        close: async () => {},
      }),
    });
    w.ready(0);
    await vi.waitFor(() => expect(added).toBe(true));
    await w.close();
    expect(forwarded.size).toBe(0);
  });

  it("reports a forwarding that cannot start, once", async () => {
    const lines: string[] = [];
    const w = watchPorts({
      fixed: [3000, 3001],
      exclude: [],
      report: (l) => lines.push(l),
      start: () => Promise.reject(new Error("nsenter is missing")),
    });
    w.ready(0);
    await vi.waitFor(() => expect(lines.length).toBeGreaterThan(0));
    await w.close();
    expect(lines).toEqual(["port forwarding unavailable: nsenter is missing"]);
  });
});
