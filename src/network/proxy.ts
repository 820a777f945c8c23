/**
 * Host side of the `registry` network mode: an HTTP proxy on a unix socket in a private temp
 * dir, which the sandbox reaches through a bind (and the bridge inside). It tunnels `CONNECT
 * host:port` (https) and forwards absolute-URI requests (`GET http://host:port/…`, plain-http
 * registries) to allowed hosts only, and answers everything else with an error — it must never
 * become an open proxy. Every socket has an 'error' handler: a client or upstream that vanishes
 * mid-stream costs one connection, never the safe-npm process.
 */
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { SafeNpmError } from "../errors.js";
import { type Allowlist, canonicalHost, dialHost, hostPort, isAllowed } from "./allowlist.js";
import type { RegistryHook } from "./gateway-hook.js";
import { createResolver, type Resolver } from "./resolver.js";

export interface ProxyOptions {
  allow: Allowlist;
  /** Where the private temp dir is created (default: os.tmpdir()). */
  socketDir?: string | undefined;
  /** Give up on an upstream that does not accept the connection in time (default 30 s). */
  connectTimeoutMs?: number | undefined;
  /**
   * Close a tunnel or request with no traffic in either direction for this long (default
   * 5 min, npm's own fetch timeout): a stuck upstream must not hold sockets forever.
   */
  idleTimeoutMs?: number | undefined;
  /** Remove the dir synchronously on process exit if close() never ran (default true). */
  removeOnExit?: boolean | undefined;
  /** Asked about every request to a registry host seen in clear (gateway-hook.ts). */
  registryHook?: RegistryHook | undefined;
  /** Name lookups for upstream dials, cached per host (default: a new cache per proxy). */
  resolver?: Resolver | undefined;
}

export interface HostStats {
  /** `host:port` (canonical host; IPv6 in brackets). */
  target: string;
  /** Connections (tunnels and forwarded requests) let through. */
  connections: number;
  /** Connections refused with 403. */
  refused: number;
  /** Bytes sent to the upstream (request bodies, tunnelled client bytes). */
  bytesUp: number;
  /** Bytes received from the upstream. */
  bytesDown: number;
  /** Requests to a registry refused by its request rules (403): `METHOD /path (reason)`. */
  refusedRequests?: string[] | undefined;
}

export interface ProxyStats {
  /** One row per host:port that was allowed or refused, sorted by target. */
  hosts: HostStats[];
  /** Malformed requests (origin-form, bad CONNECT target, https:// absolute URIs): 400. */
  badRequests: number;
  /** Sockets in use right now (clients, tunnels, upstream requests); 0 when all is done. */
  openSockets: number;
  /** Idle keep-alive connections to plain-http upstreams, pooled for reuse (closed after 15 s). */
  idleUpstreams: number;
  /** Name lookups made for upstream dials (one per host and answer lifetime, see resolver.ts). */
  lookups: number;
  /** Connections from the sandbox (a client's keep-alive connection carries many requests). */
  clients: number;
}

export interface NetworkProxy {
  /** The unix socket, `<dir>/proxy.sock`. */
  socketPath: string;
  /** Private 0700 temp dir holding the socket; removed by close(). */
  dir: string;
  stats(): ProxyStats;
  /** Stops listening, destroys every live socket and removes `dir`. Idempotent. */
  close(): Promise<void>;
}

export const SOCKET_NAME = "proxy.sock";
/** sockaddr_un.sun_path is 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;

/** Request headers that concern this hop only (RFC 9110 §7.6.1), plus every `Proxy-*`. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

export async function startProxy(options: ProxyOptions): Promise<NetworkProxy> {
  const allow = options.allow;
  const connectTimeout = options.connectTimeoutMs ?? 30_000;
  const idleTimeout = options.idleTimeoutMs ?? 300_000;
  const resolver = options.resolver ?? createResolver();

  // mkdtemp creates the directory 0700: no other user can reach the socket inside.
  const dir = await mkdtemp(join(options.socketDir ?? tmpdir(), "safe-npm-net-"));
  const socketPath = join(dir, SOCKET_NAME);
  const unregister = options.removeOnExit === false ? () => {} : removeDirOnExit(dir);
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
    await rm(dir, { recursive: true, force: true });
    unregister();
    throw new SafeNpmError("SPAWN_FAILED", `proxy socket path too long: ${socketPath}`, {
      hint: "set TMPDIR to a shorter directory",
    });
  }

  const sockets = new Set<Duplex>();
  const track = (socket: Duplex): void => {
    // Pooled upstream sockets come back here once per request: add listeners only once.
    if (sockets.has(socket)) return;
    sockets.add(socket);
    socket.on("error", () => {});
    socket.once("close", () => sockets.delete(socket));
  };
  const hosts = new Map<string, HostStats>();
  const hostStats = (target: string): HostStats => {
    let row = hosts.get(target);
    if (row === undefined) {
      row = { target, connections: 0, refused: 0, bytesUp: 0, bytesDown: 0 };
      hosts.set(target, row);
    }
    return row;
  };
  /** Upstream sockets in use, to add their live byte counts to stats(). */
  const liveUpstreams = new Map<net.Socket, HostStats>();
  let badRequests = 0;

  // One pool of upstream connections for forwarded plain-http requests: a client's keep-alive
  // connection to the proxy should not cost a new upstream connection per request.
  const agent = new http.Agent({ keepAlive: true, timeout: 15_000, scheduling: "lifo" });

  const server = http.createServer({ requireHostHeader: false });
  let clients = 0;
  server.on("connection", (socket: net.Socket) => {
    clients++;
    track(socket);
  });
  server.on("clientError", (_error, socket: Duplex) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    socket.destroy();
  });

  server.on("connect", (req: http.IncomingMessage, client: Duplex, head: Buffer) => {
    // The http server drops its own 'error' handler when it hands the socket over.
    client.on("error", () => client.destroy());
    const target = parseAuthority(req.url ?? "");
    if (target === null) {
      badRequests++;
      respondRaw(client, 400, "CONNECT needs a host:port target");
      return;
    }
    const key = hostPort(target.host, target.port);
    if (!isAllowed(allow, target.host, target.port)) {
      hostStats(key).refused++;
      respondRaw(client, 403, refusalReason(key));
      return;
    }
    const row = hostStats(key);
    row.connections++;
    const upstream = net.connect({
      host: dialHost(target.host),
      port: target.port,
      lookup: resolver.lookup,
    });
    track(upstream);
    liveUpstreams.set(upstream, row);
    let established = false;
    upstream.setTimeout(connectTimeout);
    upstream.on("timeout", () => {
      if (!established) respondRaw(client, 504, `${key} did not answer in time`);
      else client.destroy();
      upstream.destroy();
    });
    upstream.on("error", (error: NodeJS.ErrnoException) => {
      if (!established) {
        resolver.forget(target.host);
        respondRaw(client, 502, `cannot reach ${key}: ${error.code ?? error.message}`);
      } else client.destroy();
    });
    upstream.once("close", () => {
      liveUpstreams.delete(upstream);
      row.bytesUp += upstream.bytesWritten;
      row.bytesDown += upstream.bytesRead;
      // Before the tunnel, respondRaw() is still flushing the error answer and closes the client.
      if (established) client.destroy();
    });
    client.once("close", () => upstream.destroy());
    upstream.once("connect", () => {
      established = true;
      upstream.setTimeout(idleTimeout);
      upstream.setNoDelay(true);
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      // pipe() ends the other side when one side ends, so half-closes pass through.
      client.pipe(upstream);
      upstream.pipe(client);
    });
  });

  server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    req.on("error", () => {});
    res.on("error", () => {});
    const raw = req.url ?? "";
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
      badRequests++;
      respond(res, 400, "this is a proxy: send CONNECT host:port or an absolute http:// URI");
      return;
    }
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      badRequests++;
      respond(res, 400, "bad request URI");
      return;
    }
    if (url.protocol !== "http:") {
      badRequests++;
      respond(res, 400, `use CONNECT for ${url.protocol}// URLs`);
      return;
    }
    const host = canonicalHost(url.hostname);
    const port = url.port === "" ? 80 : Number(url.port);
    if (host === null || url.username !== "" || url.password !== "") {
      badRequests++;
      respond(res, 400, "bad host in request URI");
      return;
    }
    const key = hostPort(host, port);
    if (!isAllowed(allow, host, port)) {
      hostStats(key).refused++;
      respond(res, 403, refusalReason(key));
      return;
    }
    let headers = forwardHeaders(req.rawHeaders, url.host);
    const hook = options.registryHook;
    if (hook?.hosts.has(key)) {
      const method = req.method ?? "GET";
      const decision = hook.decide({ method, url });
      if (decision.action === "refuse") {
        const row = hostStats(key);
        row.refusedRequests ??= [];
        row.refusedRequests.push(
          `${method} ${url.pathname} (${decision.reason.replace(/^safe-npm: (refused )?/, "")})`,
        );
        req.resume();
        respond(res, 403, decision.reason);
        return;
      }
      headers = withAuthorization(headers, hook.credentialHosts.has(key), decision.authorization);
    }
    const row = hostStats(key);
    row.connections++;

    const upReq = http.request({
      host: dialHost(host),
      port,
      method: req.method,
      path: `${url.pathname}${url.search}`,
      headers,
      setHost: false,
      agent,
      lookup: resolver.lookup,
      timeout: idleTimeout,
    });
    upReq.on("socket", (socket: net.Socket) => track(socket));
    let bodyBytes = 0;
    req.on("data", (chunk: Buffer) => {
      bodyBytes += chunk.length;
    });
    let timedOut = false;
    upReq.on("timeout", () => {
      timedOut = true;
      upReq.destroy();
    });
    upReq.on("error", (error: NodeJS.ErrnoException) => {
      if (res.headersSent) res.destroy();
      else if (timedOut) respond(res, 504, `${key} did not answer in time`);
      else respond(res, 502, `cannot reach ${key}: ${error.code ?? error.message}`);
    });
    upReq.on("response", (upRes: http.IncomingMessage) => {
      upRes.on("error", () => res.destroy());
      upRes.on("data", (chunk: Buffer) => {
        row.bytesDown += chunk.length;
      });
      upRes.on("close", () => {
        if (!upRes.complete) res.destroy();
      });
      const status = upRes.statusCode ?? 502;
      res.writeHead(
        status,
        upRes.statusMessage || (http.STATUS_CODES[status] ?? ""),
        forwardHeaders(upRes.rawHeaders, null),
      );
      upRes.pipe(res);
    });
    // A client that goes away mid-request or mid-response takes its upstream request with it.
    res.once("close", () => {
      row.bytesUp += bodyBytes;
      if (!res.writableFinished) upReq.destroy();
    });
    req.pipe(upReq);
  });

  // Upgrade requests (WebSocket over plain http) are not something a registry needs.
  server.on("upgrade", (_req: http.IncomingMessage, socket: Duplex) => {
    socket.on("error", () => {});
    badRequests++;
    respondRaw(socket, 501, "protocol upgrades are not proxied");
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(socketPath, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    unregister();
    throw new SafeNpmError("SPAWN_FAILED", `cannot start the network proxy on ${socketPath}`, {
      cause: error,
    });
  }
  server.on("error", () => {});

  let closing: Promise<void> | null = null;
  return {
    socketPath,
    dir,
    stats: () => {
      const rows = new Map<string, HostStats>();
      for (const [target, row] of hosts) rows.set(target, { ...row });
      for (const [socket, row] of liveUpstreams) {
        const copy = rows.get(row.target);
        if (copy === undefined) continue;
        copy.bytesUp += socket.bytesWritten;
        copy.bytesDown += socket.bytesRead;
      }
      let idle = 0;
      for (const list of Object.values(agent.freeSockets)) idle += list?.length ?? 0;
      return {
        hosts: [...rows.values()].sort((a, b) => a.target.localeCompare(b.target)),
        badRequests,
        openSockets: sockets.size - idle,
        idleUpstreams: idle,
        lookups: resolver.stats().lookups,
        clients,
      };
    },
    close: () => {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
        agent.destroy();
        await closed;
        await rm(dir, { recursive: true, force: true });
        unregister();
      })();
      return closing;
    },
  };
}

/**
 * Removes `dir` synchronously when the process exits — also after an uncaught exception — in
 * case close() never ran. A signal that kills safe-npm outright (no handler) or SIGKILL skips
 * 'exit'; the socket left behind is then dead (nothing listens), so it opens nothing.
 * Returns a function that unregisters the hook.
 */
export function removeDirOnExit(dir: string): () => void {
  const handler = (): void => {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort at exit
    }
  };
  process.on("exit", handler);
  return () => {
    process.off("exit", handler);
  };
}

/**
 * The end-of-run report: one line per refused host (`blocked 3 connections to evil.example:443
 * — allow with --allow-host evil.example:443`); with `verbose`, one line per allowed host with
 * its traffic too. Without the `safe-npm:` prefix.
 */
export function proxyReport(stats: ProxyStats, verbose = false): string[] {
  const lines: string[] = [];
  for (const row of stats.hosts) {
    const requests = row.refusedRequests ?? [];
    if (requests.length > 0) {
      const shown = [...new Set(requests)];
      const more = shown.length > 5 ? `; and ${shown.length - 5} more` : "";
      lines.push(
        `refused ${requests.length === 1 ? "1 request" : `${requests.length} requests`} to the registry ${row.target}: ${shown.slice(0, 5).join("; ")}${more}`,
      );
    }
    if (row.refused > 0) {
      const n = row.refused === 1 ? "1 connection" : `${row.refused} connections`;
      lines.push(`blocked ${n} to ${row.target} — allow with --allow-host ${row.target}`);
    }
  }
  if (verbose) {
    for (const row of stats.hosts) {
      if (row.connections === 0) continue;
      lines.push(
        `allowed ${row.connections} to ${row.target}: ${formatBytes(row.bytesUp)} up, ${formatBytes(row.bytesDown)} down`,
      );
    }
    if (stats.badRequests > 0) lines.push(`refused ${stats.badRequests} malformed proxy requests`);
    if (stats.clients > 0)
      lines.push(
        `${plural(stats.clients, "connection")} from the sandbox, ${plural(stats.lookups, "name lookup")}`,
      );
  }
  return lines;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function refusalReason(target: string): string {
  return `safe-npm: ${target} is not an allowed host (allow it with --allow-host ${target})`;
}

/** `host:port` / `[v6]:port` of a CONNECT request; the port is required. */
function parseAuthority(authority: string): { host: string; port: number } | null {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(authority);
  if (match === null) return null;
  const host = canonicalHost(match[1] ?? "");
  const port = Number(match[2]);
  if (host === null || port < 1 || port > 65535) return null;
  return { host, port };
}

/**
 * Drops hop-by-hop headers, the ones the `Connection` header names, and every `Proxy-*`
 * (credentials meant for this proxy must not travel on). `host` (requests): the Host sent
 * upstream is always the request URI's authority, as RFC 9112 §3.2.2 requires of a proxy —
 * a client-chosen Host would let it reach other sites behind an allowed CDN front.
 */
function forwardHeaders(raw: readonly string[], host: string | null): string[] {
  const named = new Set<string>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]?.toLowerCase() !== "connection") continue;
    for (const token of (raw[i + 1] ?? "").split(",")) named.add(token.trim().toLowerCase());
  }
  const out: string[] = host === null ? [] : ["Host", host];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] ?? "";
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named.has(lower) || lower.startsWith("proxy-")) continue;
    if (host !== null && lower === "host") continue;
    out.push(name, raw[i + 1] ?? "");
  }
  return out;
}

/**
 * Raw headers with the client's own `authorization` dropped (to a host safe-npm holds a
 * credential for: a token the sandbox got some other way must not reach it) and the held
 * credential set.
 */
function withAuthorization(
  raw: string[],
  strip: boolean,
  authorization: string | undefined,
): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if ((strip || authorization !== undefined) && raw[i]?.toLowerCase() === "authorization")
      continue;
    out.push(raw[i] ?? "", raw[i + 1] ?? "");
  }
  if (authorization !== undefined) out.push("Authorization", authorization);
  return out;
}

function respond(res: http.ServerResponse, status: number, reason: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${reason}\n`;
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

/** A response on a socket the http server no longer manages (CONNECT, upgrade); then close. */
function respondRaw(socket: Duplex, status: number, reason: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = `${reason}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ""}\r\n` +
      "Content-Type: text/plain; charset=utf-8\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      "Connection: close\r\n\r\n" +
      body,
  );
  // end() flushes then half-closes; do not wait forever on a client that never closes.
  if (socket instanceof net.Socket) socket.setTimeout(5_000, () => socket.destroy());
}
