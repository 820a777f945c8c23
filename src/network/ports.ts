/**
 * Which TCP servers listen inside the sandbox, read from the host: the kernel's socket tables of
 * the sandbox's network namespace (/proc/<pid>/net/tcp and tcp6 of any process in it, readable
 * by its owner as root and unprivileged), polled while the command runs. Small on purpose — two
 * files every POLL_MS, read asynchronously — so it stays in the main bundle; the forwarding itself
 * (network/forward.ts) is loaded only once there is something to forward.
 */
import { existsSync, readFile, readFileSync } from "node:fs";
import { endianness } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SafeNpmError } from "../errors.js";
import { PACKAGE_ROOT } from "../version.js";

/** A listening socket inside, from one line of /proc/net/tcp or tcp6. */
export interface Listener {
  port: number;
  family: 4 | 6;
  /** The local address as text (`127.0.0.1`, `::1`, `::ffff:127.0.0.1`, `0.0.0.0`, `::`). */
  address: string;
  /** `loopback` and `any` are reachable through the sandbox's loopback; `other` is not. */
  scope: "loopback" | "any" | "other";
}

/** How often the tables are read while the command runs. */
export const POLL_MS = 250;

/** Ports below this are forwarded only when named (`--port`, `ports`): as root they would take the host's privileged ports. */
export const FIRST_AUTOMATIC_PORT = 1024;

/**
 * The kernel's range for ports picked by `listen(0)` (a test's throw-away server, the registry
 * bridge): not forwarded automatically — dev servers use fixed ports below it, and a test suite
 * would otherwise print a line per server. Read lazily, the first time something listens.
 */
export function ephemeralRange(
  read: () => string = () => readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "latin1"),
): [number, number] {
  try {
    const [low, high] = read().trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) return [low as number, high as number];
  } catch {
    // no /proc/sys here
  }
  return [32768, 60999];
}

/** At most this many ports are forwarded automatically: a run cannot fill the host's loopback. */
export const MAX_AUTOMATIC_PORTS = 64;

const LISTEN = "0A";

/**
 * Parses /proc/net/tcp (family 4) or /proc/net/tcp6 (family 6): `sl local rem st …` with the
 * local address as hex 32-bit words in the kernel's byte order (little-endian on x86 and arm64),
 * then `:PORT` in hex. Only sockets in LISTEN state; malformed lines are skipped.
 */
export function parseListeners(
  text: string,
  family: 4 | 6,
  littleEndian = endianness() === "LE",
): Listener[] {
  const out: Listener[] = [];
  for (const line of text.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    const local = fields[1];
    if (fields[3] !== LISTEN || local === undefined) continue;
    const match = /^([0-9A-Fa-f]+):([0-9A-Fa-f]{4})$/.exec(local);
    if (match === null) continue;
    const hex = match[1] as string;
    if (hex.length !== (family === 4 ? 8 : 32)) continue;
    const bytes: number[] = [];
    for (let w = 0; w < hex.length; w += 8) {
      const word = hex.slice(w, w + 8).match(/../g) ?? [];
      const ordered = littleEndian ? [...word].reverse() : word;
      for (const b of ordered) bytes.push(Number.parseInt(b, 16));
    }
    const port = Number.parseInt(match[2] as string, 16);
    out.push({ port, family, ...describeAddress(bytes) });
  }
  return out;
}

function describeAddress(bytes: readonly number[]): Pick<Listener, "address" | "scope"> {
  if (bytes.length === 4) {
    const address = bytes.join(".");
    if (bytes[0] === 127) return { address, scope: "loopback" };
    return { address, scope: bytes.every((b) => b === 0) ? "any" : "other" };
  }
  const head = bytes.slice(0, 10);
  const mapped = head.every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (mapped) {
    const v4 = describeAddress(bytes.slice(12));
    return { address: `::ffff:${v4.address}`, scope: v4.scope };
  }
  const zero = bytes.slice(0, 15).every((b) => b === 0);
  if (zero && bytes[15] === 0) return { address: "::", scope: "any" };
  if (zero && bytes[15] === 1) return { address: "::1", scope: "loopback" };
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2)
    groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return { address: groups.join(":"), scope: "other" };
}

/** Where the forwarder connects inside for a port: the loopback address of each family that listens, IPv4 first. */
export type Targets = ("127.0.0.1" | "::1")[];

/**
 * The ports reachable through the sandbox's loopback, each with the addresses to connect to.
 * A socket bound to another address (there is none inside, but the tables may say so) is not.
 */
export function reachablePorts(listeners: readonly Listener[]): Map<number, Targets> {
  const out = new Map<number, Targets>();
  for (const l of listeners) {
    if (l.scope === "other") continue;
    // An IPv4-mapped address listens on IPv4; `::` accepts both unless IPV6_V6ONLY.
    const target = l.family === 4 || l.address.startsWith("::ffff:") ? "127.0.0.1" : "::1";
    const targets = out.get(l.port) ?? [];
    if (!targets.includes(target)) targets.push(target);
    targets.sort((a, b) => (a === b ? 0 : a === "127.0.0.1" ? -1 : 1));
    out.set(l.port, targets);
  }
  return out;
}

/**
 * The listening sockets of the network namespace `pid` is in; empty once it is gone. Read off
 * the event loop: the kernel walks its whole TCP hash table for each read,
 * not just the namespace's sockets: ~10 ms of system time per look on a many-GB host, which,
 * read synchronously four times a second, stalled the registry proxy serving the same run.
 */
export async function readListeners(pid: number): Promise<Listener[]> {
  const read = (file: string): Promise<string> =>
    // node:fs's callback form: fs/promises (with readline) would load at every start.
    new Promise<string>((resolve) =>
      readFile(`/proc/${pid}/net/${file}`, "latin1", (error, text) => resolve(error ? "" : text)),
    );
  const [tcp, tcp6] = await Promise.all([read("tcp"), read("tcp6")]);
  return [...parseListeners(tcp, 4), ...parseListeners(tcp6, 6)];
}

/** What a run's forwarding needs to know (from the settings and the host). */
export interface PortOptions {
  /** Forwarded from the start, whether or not anything listens yet. */
  fixed: readonly number[];
  /** Never forwarded: the registry bridge's own listener. */
  exclude: readonly number[];
  /**
   * Never forwarded, with a line saying why: ports the allowlist names on the host's loopback
   * (a registry there). Forwarded, the host's proxy would reach the sandbox's server on them.
   */
  registryPorts?: ReadonlySet<number> | (() => Promise<ReadonlySet<number>>) | undefined;
  /**
   * Filled with each port as it is about to be forwarded (and emptied of it if that fails):
   * the proxy reads it to never dial those ports on loopback.
   */
  forwarded?: Set<number> | undefined;
  report: (line: string) => void;
  /** Starts the forwarding side (network/forward.ts, a lazy chunk) in the sandbox's namespace. */
  start: (pid: number) => Promise<Forwarding>;
}

/** The forwarding side, once started. */
export interface Forwarding {
  /** Listens on the host's loopback at `port` and relays into the sandbox; false when it cannot. */
  add: (port: number, targets: Targets) => Promise<boolean>;
  close: () => Promise<void>;
}

/**
 * Watches the sandbox for new listening ports and has each forwarded once. `ready(pid)` is
 * called when the sandbox is set up, with a process in it; `close()` stops everything.
 */
export function watchPorts(options: PortOptions): {
  ready: (pid: number) => void;
  close: () => Promise<void>;
} {
  let timer: NodeJS.Timeout | null = null;
  let forwarding: Promise<Forwarding | null> | null = null;
  let closed = false;
  /** Ports handled (forwarded, refused or reported): each is looked at once. */
  const seen = new Set<number>(options.exclude);
  let automatic = 0;
  let ephemeral: [number, number] | null = null;
  let chain: Promise<void> = Promise.resolve();

  const forwarder = (pid: number): Promise<Forwarding | null> => {
    forwarding ??= options.start(pid).catch((error: unknown) => {
      options.report(`port forwarding unavailable: ${(error as Error).message}`);
      return null;
    });
    return forwarding;
  };
  const forward = (pid: number, port: number, targets: Targets): void => {
    seen.add(port);
    // One at a time, in order: each line printed once its listener is up.
    chain = chain.then(async () => {
      const guard = options.registryPorts;
      let registry: ReadonlySet<number> | undefined;
      try {
        registry = typeof guard === "function" ? await guard() : guard;
      } catch (error) {
        // Not known which ports are registries': none is forwarded.
        options.report(`port ${port} is not forwarded: ${(error as Error).message}`);
        return;
      }
      if (registry?.has(port)) {
        options.report(
          `port ${port} is not forwarded: the allowed hosts name a registry on the host's localhost:${port}, which the sandbox must not stand in for`,
        );
        return;
      }
      // Before the listener exists: the proxy must know of it from its first connection on.
      options.forwarded?.add(port);
      const f = await forwarder(pid);
      const added = f !== null && !closed && (await f.add(port, targets));
      if (!added) options.forwarded?.delete(port);
    });
  };
  let polling = false;
  const poll = async (pid: number): Promise<void> => {
    if (closed || polling) return;
    polling = true;
    let listeners: Listener[];
    try {
      listeners = await readListeners(pid);
    } finally {
      polling = false;
    }
    if (closed) return;
    for (const [port, targets] of reachablePorts(listeners)) {
      if (seen.has(port)) continue;
      ephemeral ??= ephemeralRange();
      if (port < FIRST_AUTOMATIC_PORT || (port >= ephemeral[0] && port <= ephemeral[1])) {
        seen.add(port);
        continue;
      }
      if (automatic >= MAX_AUTOMATIC_PORTS) {
        seen.add(port);
        if (automatic++ === MAX_AUTOMATIC_PORTS)
          options.report(
            `more than ${MAX_AUTOMATIC_PORTS} ports listen in the sandbox; not forwarding more (name one with --port)`,
          );
        continue;
      }
      automatic++;
      forward(pid, port, targets);
    }
  };
  return {
    ready: (pid) => {
      if (closed) return;
      for (const port of options.fixed)
        if (!seen.has(port)) forward(pid, port, ["127.0.0.1", "::1"]);
      // The first look after one interval, not now: a short command (`exec -- true`) ends
      // before it and pays nothing for the socket tables; a server takes longer than that to
      // start listening anyway.
      timer = setInterval(() => void poll(pid), POLL_MS);
      // The command's end, not this timer, ends the run.
      timer.unref();
    },
    close: async () => {
      closed = true;
      if (timer !== null) clearInterval(timer);
      await chain;
      const f = forwarding === null ? null : await forwarding;
      await f?.close();
    },
  };
}

/**
 * The forwarder's source (dist/network/forwarder.cjs), read now — before the sandbox starts —
 * and passed to node as `-e`: a project-local safe-npm is writable from inside.
 */
export function forwarderSource(): string {
  // Compiled by tsc this module is dist/network/ports.js; bundled it is part of dist/cli.cjs.
  // Beside this module (tsc's dist/network/), else in the package's dist/network/ (the bundle,
  // whose chunks move with the import graph).
  for (const path of [
    fileURLToPath(new URL("./forwarder.cjs", import.meta.url)),
    join(PACKAGE_ROOT, "dist", "network", "forwarder.cjs"),
  ]) {
    if (existsSync(path)) return readFileSync(path, "utf8");
  }
  throw new SafeNpmError(
    "SPAWN_FAILED",
    "the port forwarder (dist/network/forwarder.cjs) is missing",
    {
      hint: "reinstall safe-npm, or run `npm run build` in a checkout; --no-ports runs without it",
    },
  );
}
