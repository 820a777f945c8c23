/**
 * Host side of the `registry` network mode: an HTTP proxy on a unix socket in a private temp
 * dir, which the sandbox reaches through a bind (and the bridge inside). It tunnels `CONNECT
 * host:port` (https) and forwards absolute-URI requests (`GET http://host:port/…`, plain-http
 * registries) to allowed hosts only, and answers everything else with an error — it must never
 * become an open proxy. Every socket has an 'error' handler: a client or upstream that vanishes
 * mid-stream costs one connection, never the safe-npm process.
 *
 * The registry gateway: with a `registryHook`, requests to the hosts it names are seen in clear —
 * plain-http ones as they come, https ones by terminating TLS here with a leaf certificate from
 * the user's local CA (ca.ts) — and each one is decided by the hook before it goes upstream
 * (refused with 403, or forwarded with the credential the hook adds). Upstream, the gateway
 * speaks TLS itself, verified against the system CAs and the user's own (`upstreamCa`), over a
 * keep-alive pool. Every other allowed host stays an opaque CONNECT tunnel.
 */
import {
  lstatSync,
  mkdtempSync,
  readdirSync,
  rmdirSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Duplex, Transform } from "node:stream";
import tls from "node:tls";
import { SafeNpmError } from "../errors.js";
import {
  type Allowlist,
  canonicalHost,
  dialHost,
  hostPort,
  isAllowed,
  projectOnlyEntry,
} from "./allowlist.js";
import type { LocalCa } from "./ca.js";
import type { ClientCertificate, RegistryHook } from "./gateway-hook.js";
import {
  guardedLookup,
  INTERNAL_REFUSED,
  internalGuardedLookup,
  isInternalAddress,
  isLoopbackAddress,
  LOOP_REFUSED,
  localAddresses,
  loopRefusal,
} from "./loopback.js";
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
  /** The registry rules: the hosts whose requests the proxy sees in clear and decides on. */
  registryHook?: RegistryHook | undefined;
  /**
   * Gateway hosts (`host:port`) that config names only by http:// URLs (allowlist.ts
   * plainHttpTargets): a TLS handshake in a tunnel to one is refused when there is no local CA
   * to terminate it, never tunnelled unseen.
   */
  plainHttpTargets?: ReadonlySet<string> | undefined;
  /**
   * The local CA's directory (`$XDG_STATE_HOME/safe-npm/ca`), opened (or created) at start when
   * `registryHook` names a host: https to those hosts is terminated with its leaf certificates.
   */
  caDir?: string | undefined;
  /**
   * Certificates (PEM text) trusted upstream besides this process's default trust: the user's
   * npm `cafile` and `NODE_EXTRA_CA_CERTS` (see gateway-setup.ts hostCertificates).
   */
  upstreamCa?: readonly string[] | undefined;
  /**
   * Certificates (PEM text) from the project's own `cafile`: trusted upstream only on a request
   * that carries none of the user's credentials (no Authorization added, no client certificate),
   * as npm would trust them. A cloned repository may name its registry's CA; it must not vouch
   * for a connection the user's token goes over.
   */
  projectCa?: readonly string[] | undefined;
  /**
   * The certificates the bundle the sandbox trusts (`caBundlePath`) carries after the local CA's,
   * for the hosts that stay tunnels. Default: `upstreamCa`.
   */
  bundleCa?: readonly string[] | undefined;
  /**
   * The certificates the bundle for NODE_EXTRA_CA_CERTS (`caNodeBundlePath`) carries after the
   * local CA's: `bundleCa` less node's shipped roots. Default: `bundleCa` (one file).
   */
  nodeBundleCa?: readonly string[] | undefined;
  /** This host's own addresses (default: every interface's when the proxy starts). */
  localAddresses?: net.BlockList | undefined;
  /** Name lookups for upstream dials, cached per host (default: a new cache per proxy). */
  resolver?: Resolver | undefined;
  /**
   * Whether port forwarding listens on the host's loopback at this port (for this run): such a
   * port relays into the sandbox, so the proxy never dials it on a loopback address — checked
   * at dial time, after name resolution — and answers 403 instead (see loopback.ts).
   */
  forwardedPort?: ((port: number) => boolean) | undefined;
  /** Connections from the sandbox at once; more are closed (default MAX_CLIENTS). */
  maxClients?: number | undefined;
  /** Bytes of answers held whole at once (default WHOLE_BODY_BUDGET); beyond, they stream. */
  wholeBodyBudget?: number | undefined;
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
  /** Gateway hosts: requests the registry rules refused with 403. */
  refusedRequests: number;
  /** The first few of those, `METHOD /path` (never a query or a header), with the rule's reason. */
  refusedSamples: { request: string; reason: string }[];
  /** Gateway hosts: TLS handshakes the client gave up on (it does not trust the local CA). */
  handshakeFailures: number;
  /** Dials refused because the address is loopback and the port is forwarded into the sandbox. */
  loopsRefused: number;
  /** TLS handshakes refused in tunnels to a registry config names by an http:// URL. */
  tlsRefused: number;
  /**
   * Dials refused because only the project's files name this registry and it is at an internal
   * address (loopback, private, link-local: loopback.ts's isInternalAddress).
   */
  internalRefused: number;
  /** The project file and key that named it (`project .npmrc registry`), for the report. */
  internalSource?: string | undefined;
  /**
   * Connections and requests let through that failed on the way to the host or before its
   * answer (the dial or lookup failed, the certificate was refused, the host did not answer or
   * reset the connection); never one the client itself gave up on. A tunnel answered before
   * dialling can only close its client, so this is where the cause reaches the user. One that
   * never reached the host is not counted in `connections`.
   */
  failed: number;
  /** Each distinct cause (`ECONNREFUSED`, `UNABLE_TO_VERIFY_LEAF_SIGNATURE`) and how often. */
  failures: { reason: string; count: number }[];
}

/** A host's row before anything happened on it. */
export function newHostStats(target: string): HostStats {
  return {
    target,
    connections: 0,
    refused: 0,
    bytesUp: 0,
    bytesDown: 0,
    refusedRequests: 0,
    refusedSamples: [],
    handshakeFailures: 0,
    loopsRefused: 0,
    tlsRefused: 0,
    internalRefused: 0,
    failed: 0,
    failures: [],
  };
}

export interface ProxyStats {
  /** One row per host:port that was allowed or refused, sorted by target. */
  hosts: HostStats[];
  /** Malformed requests (origin-form, bad CONNECT target, https:// absolute URIs): 400. */
  badRequests: number;
  /** Sockets in use right now (clients, tunnels, upstream requests); 0 when all is done. */
  openSockets: number;
  /** Idle keep-alive connections to upstreams, pooled for reuse (closed after 15 s). */
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
  /**
   * With the https gateway on: `<dir>/ca.pem`, the local CA's certificate followed by
   * `bundleCa`, for the sandbox to trust (bound read-only inside). Else null.
   */
  caBundlePath: string | null;
  /**
   * With the https gateway on: the bundle for NODE_EXTRA_CA_CERTS, `<dir>/ca-node.pem` (the local
   * CA's certificate followed by `nodeBundleCa`), or `caBundlePath` when that holds the same.
   */
  caNodeBundlePath: string | null;
  stats(): ProxyStats;
  /**
   * Readies upstream TLS trust (node's roots, the user's CAs, the project's: ~30–100 ms of one
   * core) when a gateway host may speak https, on any port, so that the first https request
   * does not wait for it. Meant for when the sandbox has started, to overlap the package
   * manager's own start-up. Idempotent.
   */
  warm(): void;
  /** Stops listening, destroys every live socket and removes `dir`. Idempotent. */
  close(): Promise<void>;
}

export const SOCKET_NAME = "proxy.sock";
/** sockaddr_un.sun_path is 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;

const MAX_SAMPLES = 5;
/** Upstream answers of at most this many bytes go down whole (see send()). */
const WHOLE_BODY_MAX = 256 * 1024;
/**
 * All answers being gathered whole, or written whole and not yet taken by their client, at most
 * this many bytes together; beyond it they stream (with backpressure) as larger ones do. A
 * script that asks for thousands and never reads must not make the host process hold them.
 */
const WHOLE_BODY_BUDGET = 8 * 1024 * 1024;
/**
 * Requests a client may send ahead on one connection (HTTP/1.1 pipelining) while one of its
 * requests is in flight: they wait, in order, and each is handled only when the one before is
 * answered. One more closes the connection. No package manager pipelines. Each waiting request
 * is held parsed (up to node's 16 KiB of headers, several times that in memory), so this and
 * MAX_WAITING stay small: thousands pipelined in one write had the host hold gigabytes.
 */
const MAX_PIPELINED = 2;
/** Longest close() waits for the sockets it destroyed to be gone. */
const CLOSE_WAIT_MS = 2000;

/** Requests waiting behind another, all connections together; one more closes its connection. */
const MAX_WAITING = 64;
/**
 * Connections from the sandbox at once (tunnels and requests): managers use tens (pnpm 12
 * opened 116 in all for a cold install of 150 packages, fewer at once). Beyond it new ones are
 * closed (net.Server maxConnections): each holds up to ~200 KB on the host while its answer
 * waits for a client that does not read (the request's parsed headers, buffers), so a
 * script's thousands would hold hundreds of MB.
 */
const MAX_CLIENTS = 512;
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
  const hook = options.registryHook ?? null;
  const plainOnly = options.plainHttpTargets ?? new Set<string>();
  const upstreamCa = options.upstreamCa ?? [];
  const bundleCa = options.bundleCa ?? upstreamCa;
  const nodeBundleCa = options.nodeBundleCa ?? bundleCa;
  const forwardedPort = options.forwardedPort ?? null;
  /** A dial to an IP literal skips `lookup`: checked here. True: refuse, it loops into the sandbox. */
  const loopsBack = (target: { host: string; port: number }): boolean =>
    forwardedPort?.(target.port) === true && isLoopbackAddress(dialHost(target.host));
  /**
   * The project file naming `target` when only the project's files name it: such a registry is
   * never dialled at an internal address (the user's own naming of it lifts this, see allowlist.ts).
   */
  /** This host's own addresses: as internal as loopback for a project-only registry. */
  const local = options.localAddresses ?? localAddresses();
  const projectOnly = (target: { host: string; port: number }): string | undefined =>
    projectOnlyEntry(allow, target.host, target.port)?.source;
  /** A dial to an IP literal skips `lookup`: checked here. True: refuse, it is internal. */
  const internalLiteral = (target: { host: string; port: number }): boolean =>
    projectOnly(target) !== undefined && isInternalAddress(dialHost(target.host), local);
  /**
   * The lookup for a dial to `target`: loopback answers refused when the port is forwarded;
   * internal answers refused when only the project names the host.
   */
  const lookupFor = (target: { host: string; port: number }): net.LookupFunction => {
    let lookup =
      forwardedPort === null
        ? resolver.lookup
        : guardedLookup(resolver.lookup, target.port, forwardedPort);
    if (projectOnly(target) !== undefined) {
      lookup = internalGuardedLookup(lookup, target.port, local);
    }
    return lookup;
  };
  const refuseInternal = (row: HostStats, target: { host: string; port: number }): string => {
    row.internalRefused++;
    row.internalSource = projectOnly(target);
    return internalReason(row.target, row.internalSource);
  };

  // mkdtemp creates the directory 0700: no other user can reach the socket inside.
  // Sync: on a busy machine each trip through libuv's thread pool costs milliseconds of start-up.
  // The pid in the name lets a later run remove what a run killed with SIGKILL left.
  const socketBase = options.socketDir ?? tmpdir();
  removeStaleSocketDirs(socketBase);
  const dir = mkdtempSync(join(socketBase, `${SOCKET_DIR_PREFIX}${process.pid}-`));
  const socketPath = join(dir, SOCKET_NAME);
  const unregister = options.removeOnExit === false ? () => {} : removeDirOnExit(dir);
  const cleanup = async (): Promise<void> => {
    // What it holds is flat (the socket, the CA bundles): the recursive walk only if not.
    try {
      for (const name of readdirSync(dir)) unlinkSync(join(dir, name));
      rmdirSync(dir);
    } catch {
      rmSync(dir, { recursive: true, force: true });
    }
    unregister();
  };
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
    await cleanup();
    throw new SafeNpmError("SPAWN_FAILED", `proxy socket path too long: ${socketPath}`, {
      hint: "set TMPDIR to a shorter directory",
    });
  }

  // The https gateway: the CA is opened before the sandbox starts, since its certificate must be
  // bound inside. Its module (and @peculiar/x509) loads only here.
  let ca: LocalCa | null = null;
  let caBundlePath: string | null = null;
  let caNodeBundlePath: string | null = null;
  if (hook !== null && hook.hosts.size > 0 && options.caDir !== undefined) {
    try {
      const { openLocalCa } = await import("./ca.js");
      ca = await openLocalCa(options.caDir);
      const pems = (list: readonly string[]): string =>
        `${[ca?.certificate ?? "", ...list].map((pem) => pem.trim()).join("\n")}\n`;
      caBundlePath = join(dir, "ca.pem");
      writeFileSync(caBundlePath, pems(bundleCa), { mode: 0o644, flag: "wx" });
      caNodeBundlePath = caBundlePath;
      if (nodeBundleCa.length !== bundleCa.length) {
        caNodeBundlePath = join(dir, "ca-node.pem");
        writeFileSync(caNodeBundlePath, pems(nodeBundleCa), { mode: 0o644, flag: "wx" });
      }
      // Leaves for the hook's hosts are made (or read from the cache) while the sandbox starts.
      const localCa = ca;
      for (const key of hook.hosts) {
        const target = parseAuthority(key);
        if (target !== null && target.port !== 80) localCa.contextFor(target.host).catch(() => {});
      }
    } catch (error) {
      await cleanup();
      throw error;
    }
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
      // A row per host, up to a bound: code inside naming ever new hosts (each refused) must
      // not make the host process hold one for each. The rest share one.
      if (hosts.size >= MAX_HOST_ROWS && target !== OTHER_HOSTS) return hostStats(OTHER_HOSTS);
      row = newHostStats(target);
      hosts.set(target, row);
    }
    return row;
  };
  const failed = recordFailure;
  /** Upstream sockets in use, to add their live byte counts to stats(). */
  const liveUpstreams = new Map<net.Socket, HostStats>();
  let badRequests = 0;

  // One pool of upstream connections per scheme, keyed by host inside: a client's keep-alive
  // connection to the proxy should not cost a new upstream connection per request.
  const agent = new http.Agent({ keepAlive: true, timeout: 15_000, scheduling: "lifo" });
  const tlsAgent = new https.Agent({
    keepAlive: true,
    timeout: 15_000,
    scheduling: "lifo",
  });
  // Upstream trust: node's default roots (NODE_EXTRA_CA_CERTS included), which every context
  // made without `ca` shares once parsed, plus the user's own (`upstreamCa`) added to a context
  // of ours. `ca: [...tls.rootCertificates, ...]` would parse all ~150 roots again, ~100 ms on a
  // loaded 2-core machine; adding a few to the shared store costs a copy by reference. Given
  // with each request, not as the agent's `secureContext`: the agent's options are merged over a
  // request's, which would drop a client certificate's context. That needs a context of its own
  // (tls.connect ignores `cert`/`key` when a `secureContext` is given): one per certificate,
  // made on first use. `addCACert` is what node's own `ca` option calls
  // (lib/internal/tls/secure-context.js); where it is missing, `ca` does the same slowly.
  const withCas = (
    options: tls.SecureContextOptions,
    cas: readonly string[] = upstreamCa,
  ): tls.SecureContext => {
    if (cas.length === 0) return tls.createSecureContext(options);
    const context = tls.createSecureContext(options);
    const native = (context as { context?: { addCACert?: (pem: string) => void } }).context;
    if (typeof native?.addCACert !== "function") {
      return tls.createSecureContext({ ...options, ca: [...tls.rootCertificates, ...cas] });
    }
    for (const pem of cas) native.addCACert(pem);
    return context;
  };
  let rootsContext: tls.SecureContext | undefined;
  const roots = (): tls.SecureContext => {
    rootsContext ??= withCas({});
    return rootsContext;
  };
  // The project's cafile widens trust on connections of their own (the https agent's pool key
  // does not include the secureContext), never on one that carries the user's credential.
  const projectCa = options.projectCa ?? [];
  const projectAgent =
    projectCa.length > 0
      ? new https.Agent({ keepAlive: true, timeout: 15_000, scheduling: "lifo" })
      : null;
  let projectContext: tls.SecureContext | undefined;
  const projectRoots = (): tls.SecureContext => {
    projectContext ??= withCas({}, [...upstreamCa, ...projectCa]);
    return projectContext;
  };
  const clientContexts = new Map<string, tls.SecureContext>();
  const contextFor = (client: ClientCertificate): tls.SecureContext => {
    const key = `${client.cert}\0${client.key}`;
    let context = clientContexts.get(key);
    if (context === undefined) {
      context = withCas({ cert: client.cert, key: client.key });
      clientContexts.set(key, context);
    }
    return context;
  };

  /** A request the registry rules refused (403) or found too large (413): counted per host. */
  const countRefused = (row: HostStats, method: string, url: URL, reason: string): void => {
    row.refusedRequests++;
    if (row.refusedSamples.length < MAX_SAMPLES) {
      row.refusedSamples.push({ request: `${method} ${truncate(url.pathname, 80)}`, reason });
    }
  };

  /** Bytes of uploads being read whole for the rules (inspectThenSend), all requests together. */
  let inspecting = 0;
  /** Bytes of answers gathered whole and not yet taken by their clients (WHOLE_BODY_BUDGET). */
  let gathered = 0;
  const wholeBodyBudget = options.wholeBodyBudget ?? WHOLE_BODY_BUDGET;
  /** Requests waiting behind another on their connection, all connections together. */
  let waitingAll = 0;
  /** Per client connection: whether a request is in flight, and those waiting behind it. */
  const lines = new WeakMap<object, { busy: boolean; waiting: (() => void)[] }>();
  /**
   * Every request of a client connection, forwarded or answered here (a refusal, a 400), is
   * handled one at a time, in order: the next starts when the answer before it is sent. Node's
   * server parses every pipelined request it has read at once, and each answer a client does not
   * read stays in memory; so at most MAX_PIPELINED wait, and one more closes the connection.
   */
  const inLine = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    handle: () => void,
  ): void => {
    req.on("error", () => {});
    res.on("error", () => {});
    const socket = req.socket;
    // The parser goes on through what it had read after the connection was closed: none of it
    // is handled.
    if (socket.destroyed) return;
    let line = lines.get(socket);
    if (line === undefined) {
      const created: { busy: boolean; waiting: (() => void)[] } = { busy: false, waiting: [] };
      socket.once("close", () => {
        waitingAll -= created.waiting.length;
        created.waiting = [];
      });
      lines.set(socket, created);
      line = created;
    }
    const queue = line;
    const start = (): void => {
      queue.busy = true;
      // 'close' comes once the answer is sent, or when it cannot be (the client went away).
      res.once("close", () => {
        queue.busy = false;
        if (socket.destroyed) return;
        const next = queue.waiting.shift();
        if (next === undefined) return;
        waitingAll--;
        next();
      });
      handle();
    };
    if (!queue.busy) start();
    else if (queue.waiting.length < MAX_PIPELINED && waitingAll < MAX_WAITING) {
      queue.waiting.push(start);
      waitingAll++;
    } else {
      badRequests++;
      // Its waiting requests are given back by the socket's 'close'.
      socket.destroy();
    }
  };

  /**
   * Sends one request upstream and streams the answer back: both bodies flow through — but for
   * an upload the hook wants to read first (`inspectBody`), and a small answer of known length,
   * sent down whole within WHOLE_BODY_BUDGET (see send()). For gateway
   * hosts the hook decides first (403, or forward with its credential). Errors cost this
   * request only.
   */
  const forward = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    target: { host: string; port: number; key: string },
  ): void => {
    const row = hostStats(target.key);
    const framing = bodyFraming(req.method ?? "GET", req.rawHeaders);
    if (typeof framing === "string") {
      badRequests++;
      // The body is neither read nor forwarded, so the connection cannot carry another request.
      res.shouldKeepAlive = false;
      respond(res, 400, `safe-npm: ${framing}`);
      req.resume();
      return;
    }
    if (loopsBack(target)) {
      row.loopsRefused++;
      res.shouldKeepAlive = false;
      respond(res, 403, loopReason(target.key));
      req.resume();
      return;
    }
    if (internalLiteral(target)) {
      res.shouldKeepAlive = false;
      respond(res, 403, refuseInternal(row, target));
      req.resume();
      return;
    }
    let headers = forwardHeaders(req.rawHeaders, url.host);
    let held: string | null = null;
    if (hook?.hosts.has(target.key)) {
      const method = req.method ?? "GET";
      let decision: ReturnType<RegistryHook["decide"]>;
      try {
        decision = hook.decide({ method, url });
      } catch (error) {
        decision = { action: "refuse", reason: `the registry rules failed: ${String(error)}` };
      }
      if (decision.action === "refuse") {
        countRefused(row, method, url, decision.reason);
        // The body is not wanted: drop it and close, rather than read an upload to the end.
        res.shouldKeepAlive = false;
        respond(res, 403, `safe-npm: ${method} ${url.pathname} refused: ${decision.reason}`);
        req.resume();
        return;
      }
      // The rules judged this method and path: a header some servers read as another one does
      // not go up (a GET with `X-HTTP-Method-Override: PUT` would be a write there, one with
      // `X-Original-URL: /-/user/token` another endpoint).
      headers = withoutReinterpreting(headers);
      // A cookie can be a session as good as the credential (a registry's login session): to a
      // host safe-npm holds a credential for, none goes up from inside.
      if (hook.credentialHosts.has(target.key))
        headers = dropHeader(dropHeader(headers, "authorization"), "cookie");
      if (decision.inspectBody !== undefined) {
        inspectThenSend(req, res, url, target, row, headers, framing, hook, {
          maxBytes: decision.inspectBody.maxBytes,
        });
        return;
      }
      headers = withAuthorization(headers, decision.authorization);
      held = decision.authorization ?? null;
      // An answer to it is searched for the credential (holdsCredential), which needs it
      // uncompressed (tarballs are gzip files of their own and stay as they are) and whole, not
      // in ranges whose pieces would each be searched apart.
      if (held !== null)
        headers = [
          ...["accept-encoding", "range", "if-range"].reduce(dropHeader, headers),
          "Accept-Encoding",
          "identity",
        ];
    }
    // The client's Transfer-Encoding is hop-by-hop and dropped: a body without a length is
    // re-framed as chunked explicitly, never left to node's per-method default (none for GET).
    if (framing.chunked) headers.push("Transfer-Encoding", "chunked");
    send(req, res, url, target, row, headers, framing, null, held);
  };

  /**
   * An upload the rules read whole before it goes upstream: the body is gathered (nothing is
   * sent meanwhile), refused with 413 past `maxBytes`, then `decideBody` forwards exactly these
   * bytes — with their own Content-Length and the credential it gives — or refuses with 403.
   * A client that goes away meanwhile costs this request only.
   */
  const inspectThenSend = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    target: { host: string; port: number; key: string },
    row: HostStats,
    headers: string[],
    framing: { contentLength: number | null; chunked: boolean },
    rules: RegistryHook,
    limit: { maxBytes: number },
  ): void => {
    const method = req.method ?? "GET";
    const tooLarge = (): void => {
      const reason = `an upload larger than ${limit.maxBytes} bytes`;
      countRefused(row, method, url, reason);
      // The rest of the body is not read: the connection cannot carry another request.
      res.shouldKeepAlive = false;
      respond(res, 413, `safe-npm: ${method} ${url.pathname} refused: ${reason}`);
      req.resume();
    };
    if (framing.contentLength !== null && framing.contentLength > limit.maxBytes) {
      tooLarge();
      return;
    }
    let chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    // Counted until the answer is sent or the client is gone: the body read whole is held while
    // it goes up, too.
    let released = false;
    res.once("close", () => {
      released = true;
      inspecting -= size;
      size = 0;
    });
    const stop = (): void => {
      done = true;
      chunks = [];
      req.off("data", onData);
    };
    const onData = (chunk: Buffer): void => {
      if (released) return;
      size += chunk.length;
      inspecting += chunk.length;
      // All uploads being read share one such limit: a script sending many at once (each
      // under it) must not make the host hold them all.
      if (size > limit.maxBytes || inspecting > limit.maxBytes) {
        stop();
        tooLarge();
      } else if (framing.contentLength !== null && size > framing.contentLength) {
        // Never a byte beyond the framed length (node's parser should not let one through).
        stop();
        res.destroy();
      } else chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("close", () => {
      if (!done && !req.complete) {
        stop();
        res.destroy();
      }
    });
    req.once("end", () => {
      if (done) return;
      const body = Buffer.concat(chunks, size);
      stop();
      if (res.destroyed) return;
      let decision: ReturnType<RegistryHook["decide"]>;
      try {
        decision =
          rules.decideBody?.({ method, url }, body) ??
          ({ action: "refuse", reason: "the registry rules cannot check this body" } as const);
      } catch (error) {
        decision = { action: "refuse", reason: `the registry rules failed: ${String(error)}` };
      }
      if (decision.action === "refuse") {
        countRefused(row, method, url, decision.reason);
        respond(res, 403, `safe-npm: ${method} ${url.pathname} refused: ${decision.reason}`);
        return;
      }
      // The body read whole goes up with its own length; any client framing is dropped.
      const framed = ["content-length", "transfer-encoding", "expect"].reduce(dropHeader, headers);
      const sent = withAuthorization(
        decision.authorization === undefined
          ? framed
          : [...dropHeader(framed, "accept-encoding"), "Accept-Encoding", "identity"],
        decision.authorization,
      );
      sent.push("Content-Length", String(body.length));
      send(
        req,
        res,
        url,
        target,
        row,
        sent,
        framing,
        body,
        decision.authorization ?? null,
        decision.settle,
      );
    });
  };

  /**
   * The upstream half of forward(): `body` null streams the client's body through, else these
   * bytes (already read whole) are the body.
   */
  const send = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    target: { host: string; port: number; key: string },
    row: HostStats,
    headers: string[],
    framing: { contentLength: number | null; chunked: boolean },
    body: Buffer | null,
    held: string | null,
    settle?: (status: number | null) => void,
  ): void => {
    row.connections++;
    // The rules hear how the registry answered an upload (or that nothing answered), once.
    let settled = settle === undefined;
    const tell = (status: number | null): void => {
      if (settled) return;
      settled = true;
      try {
        settle?.(status);
      } catch {
        // the rules' bookkeeping must not cost the response
      }
    };
    const https_ = url.protocol === "https:";
    // npm's mTLS: the certificate is presented here, on the gateway's own connection (the
    // agent pools connections per certificate, so none is reused without it or with another).
    const client = https_ && hook?.hosts.has(target.key) ? hook.clientCertificate?.(url) : null;
    const projectTrust = https_ && projectAgent !== null && held === null && !client;
    // What goes up besides the body: the request line and the headers (a request can carry
    // ~16 kB there), counted with the body for --verbose.
    const path = `${url.pathname}${url.search}`;
    let headBytes = Buffer.byteLength(`${req.method ?? "GET"} ${path} HTTP/1.1\r\n\r\n`);
    for (let i = 0; i + 1 < headers.length; i += 2) {
      headBytes += Buffer.byteLength(`${headers[i]}: ${headers[i + 1]}\r\n`);
    }
    const upReq = (https_ ? https : http).request({
      host: dialHost(target.host),
      port: target.port,
      method: req.method,
      path,
      headers,
      setHost: false,
      agent: projectTrust ? (projectAgent ?? tlsAgent) : https_ ? tlsAgent : agent,
      lookup: lookupFor(target),
      timeout: idleTimeout,
      ...(https_ && net.isIP(target.host) === 0 ? { servername: target.host } : {}),
      // cert and key also key the agent's pool (https.Agent getName), the context presents them.
      ...(client
        ? { cert: client.cert, key: client.key, secureContext: contextFor(client) }
        : projectTrust
          ? { secureContext: projectRoots() }
          : https_ && upstreamCa.length > 0
            ? { secureContext: roots() }
            : {}),
    });
    // Whether the upstream connection was made (a pooled one was), and whether the client went
    // away first: a request it gave up on is its choice, no failure of the host's.
    let reached = false;
    let clientGone = false;
    const drop = (): void => {
      clientGone = true;
      upReq.destroy();
    };
    upReq.on("socket", (socket: net.Socket) => {
      track(socket);
      // A pooled connection made before the port was forwarded: not reused once it is.
      const address = socket.remoteAddress;
      if (
        forwardedPort !== null &&
        address !== undefined &&
        isLoopbackAddress(address) &&
        forwardedPort(socket.remotePort ?? 0)
      ) {
        upReq.destroy(loopRefusal(address, socket.remotePort ?? 0));
        return;
      }
      if (socket.connecting) socket.once("connect", () => (reached = true));
      else reached = true;
    });
    let bodyBytes = body?.length ?? 0;
    if (body === null) {
      req.on("data", (chunk: Buffer) => {
        bodyBytes += chunk.length;
        // Never a byte beyond the framed length: it would be read upstream as the next request.
        if (framing.contentLength !== null && bodyBytes > framing.contentLength) {
          drop();
          res.destroy();
        }
      });
    }
    // A body cut short leaves the upstream connection mid-request: it must not be reused.
    req.once("close", () => {
      if (!req.complete) drop();
    });
    let timedOut = false;
    upReq.on("timeout", () => {
      timedOut = true;
      // A body the client stopped sending: the host was waiting for it, no failure of its.
      // Unless the host stopped reading it (what is written waits for it to drain).
      if (body === null && !req.complete && !upReq.writableNeedDrain) drop();
      else upReq.destroy();
    });
    upReq.on("error", (error: NodeJS.ErrnoException) => {
      tell(null);
      if (error.code === LOOP_REFUSED) {
        row.loopsRefused++;
        row.connections--;
        respond(res, 403, loopReason(target.key));
      } else if (error.code === INTERNAL_REFUSED) {
        row.connections--;
        respond(res, 403, refuseInternal(row, target));
      } else if (clientGone) res.destroy();
      else if (res.headersSent) res.destroy();
      else if (timedOut) {
        failed(row, `no answer in ${seconds(idleTimeout)}`, reached);
        respond(res, 504, `${target.key} did not answer in time`);
      } else if (
        https_ &&
        held !== null &&
        projectCa.length > 0 &&
        /CERT|SIGNATURE|ISSUER/.test(error.code ?? "")
      ) {
        // Perhaps only the project's cafile vouches for this host: said in the end-of-run report.
        const reason = `${target.key}'s certificate is not trusted by your own CAs (${error.code}), and the project's cafile is not trusted for requests that carry your credential: add that CA to your ~/.npmrc cafile or NODE_EXTRA_CA_CERTS`;
        countRefused(row, req.method ?? "GET", url, reason);
        respond(res, 502, `safe-npm: ${reason}`);
      } else {
        failed(row, error.code ?? error.message, reached);
        respond(res, 502, `cannot reach ${target.key}: ${error.code ?? error.message}`);
      }
    });
    upReq.on("response", (upRes: http.IncomingMessage) => {
      upRes.on("error", () => res.destroy());
      upRes.on("data", (chunk: Buffer) => {
        row.bytesDown += chunk.length;
      });
      upRes.on("close", () => {
        if (!upRes.complete) {
          res.destroy();
          upReq.destroy();
        }
      });
      // An answer before the whole body went up (an early 401, 413): the connection is closed
      // rather than pooled with part of a request still owed to it.
      upRes.once("end", () => {
        if (!req.complete) upReq.destroy();
      });
      const status = upRes.statusCode ?? 502;
      tell(status);
      // node's client takes any three digits, its server writes only 100–999 (writeHead throws,
      // in a listener, where it would end the safe-npm process before its after-run check).
      if (status < 100 || status > 999) {
        failed(row, `an answer with status ${status}`, true);
        upReq.destroy();
        respond(res, 502, `${target.key} answered with status ${status}`);
        return;
      }
      // An answer to a request that carried the user's credential must not hand it inside: a
      // server endpoint under the registry's path that echoes it (Artifactory's
      // `<repository>/auth`, npmrc lines as text/plain) is refused, not passed on.
      const method = req.method ?? "GET";
      const leak =
        held === null
          ? null
          : holdsCredential(Buffer.from(upRes.rawHeaders.join("\n"), "latin1"), held)
            ? "an answer whose headers hold the credential safe-npm added"
            : (codedAnswer(upRes.headers) ??
              (method === "GET" ? answerRefusal(status, upRes.headers) : null));
      if (leak !== null) {
        countRefused(row, method, url, leak);
        upReq.destroy();
        respond(res, 502, `safe-npm: ${method} ${url.pathname} refused: ${leak}`);
        return;
      }
      // Nor does a cookie set in answer to a request with the credential come down, nor its
      // reason phrase (a server's own words, where it could write the credential back).
      // A reason phrase with a control character would make writeHead throw: the standard one.
      const reason =
        held === null && REASON_PHRASE.test(upRes.statusMessage ?? "") ? upRes.statusMessage : "";
      const head = (): boolean => {
        const headers = forwardHeaders(upRes.rawHeaders, null);
        try {
          res.writeHead(
            status,
            reason || (http.STATUS_CODES[status] ?? ""),
            held === null ? headers : dropHeader(headers, "set-cookie"),
          );
        } catch (error) {
          // Whatever else node's server refuses to write: this answer fails, not the process.
          failed(row, `an answer node cannot pass on (${(error as Error).message})`, true);
          upReq.destroy();
          res.destroy();
          return false;
        }
        return true;
      };
      // A small body of known length (a tarball, most packuments) goes down whole: res.end(body)
      // corks the socket, so the headers, the body and the end leave in one write (one wake-up
      // of the bridge, one batch of TLS records) where piping makes each a write of its own.
      const length = Number(upRes.headers["content-length"]);
      if (
        req.method !== "HEAD" &&
        Number.isSafeInteger(length) &&
        length <= WHOLE_BODY_MAX &&
        gathered + length <= wholeBodyBudget &&
        !res.destroyed
      ) {
        // Held until the client has taken it (or is gone), not only until it is written.
        gathered += length;
        res.once("close", () => {
          gathered -= length;
        });
        const chunks: Buffer[] = [];
        let size = 0;
        upRes.on("data", (chunk: Buffer) => {
          size += chunk.length;
          chunks.push(chunk);
        });
        upRes.once("end", () => {
          if (res.destroyed) return;
          const whole = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
          if (held !== null && holdsCredential(whole, held)) {
            const reason = "an answer that holds the credential safe-npm added";
            countRefused(row, method, url, reason);
            respond(res, 502, `safe-npm: ${method} ${url.pathname} refused: ${reason}`);
            return;
          }
          if (head()) res.end(whole);
        });
        return;
      }
      const forms = held === null || req.method === "HEAD" ? [] : credentialForms(held);
      // Every credentialed answer left is searched (a coded one was refused above, whatever its
      // Content-Encoding says short of none).
      if (forms.length === 0) {
        if (head()) upRes.pipe(res);
        return;
      }
      // Streamed, so searched as it goes: what could be the start of the credential is held
      // back until the next piece shows it is not. Found, the answer is refused if nothing of
      // it went down yet, else cut off there. The head goes down with the first piece.
      const scan = credentialScan(forms, () => {
        const reason = "an answer that holds the credential safe-npm added";
        countRefused(row, method, url, reason);
        upReq.destroy();
        if (res.headersSent) res.destroy();
        else respond(res, 502, `safe-npm: ${method} ${url.pathname} refused: ${reason}`);
      });
      scan.on("data", (chunk: Buffer) => {
        if (!res.headersSent && !head()) return;
        if (!res.write(chunk)) {
          scan.pause();
          res.once("drain", () => scan.resume());
        }
      });
      scan.once("end", () => {
        if (res.destroyed || res.writableEnded) return;
        if (!res.headersSent && !head()) return;
        res.end();
      });
      upRes.pipe(scan);
    });
    // A client that goes away mid-request or mid-response takes its upstream request with it.
    res.once("close", () => {
      tell(null);
      // Nothing went up to a host never reached (refused, not found, a forwarded port).
      if (reached) row.bytesUp += headBytes + bodyBytes;
      if (!res.writableFinished) drop();
    });
    if (body === null) req.pipe(upReq);
    else upReq.end(body);
  };

  const server = http.createServer({ requireHostHeader: false });
  server.maxConnections = options.maxClients ?? MAX_CLIENTS;
  let clients = 0;
  server.on("connection", (socket: net.Socket) => {
    clients++;
    track(socket);
  });
  server.on("clientError", (_error, socket: Duplex) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    socket.destroy();
  });

  // The gateway's side of terminated TLS: an http server that never listens; each decrypted
  // client connection is handed to it ('connection'), so it parses requests with keep-alive.
  const gatewayTargets = new WeakMap<
    object,
    { host: string; port: number; key: string; scheme: "https:" | "http:" }
  >();
  const gateway = http.createServer({ requireHostHeader: false });
  gateway.timeout = idleTimeout;
  gateway.keepAliveTimeout = 60_000;
  gateway.on("clientError", (_error, socket: Duplex) => socket.destroy());
  gateway.on("request", (req: http.IncomingMessage, res: http.ServerResponse) =>
    inLine(req, res, () => gatewayRequest(req, res)),
  );
  const gatewayRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const target = gatewayTargets.get(req.socket);
    const raw = req.url ?? "";
    // Origin-form only: the host is the CONNECT target's, whatever Host or URI the client names.
    if (target === undefined || !raw.startsWith("/")) {
      badRequests++;
      respond(res, 400, "send origin-form requests (GET /path) inside the tunnel");
      return;
    }
    const url = new URL(`${target.scheme}//${hostPort(target.host, target.port)}${raw}`);
    forward(req, res, url, target);
  };
  gateway.on("upgrade", (_req: http.IncomingMessage, socket: Duplex) => {
    badRequests++;
    respondRaw(socket, 501, "protocol upgrades are not proxied");
  });

  /** Hands a tunnel's client, speaking plain http, to the gateway's parser (`bytes` read first). */
  const toGateway = (
    client: Duplex,
    target: { host: string; port: number; key: string },
    bytes: Buffer,
  ): void => {
    gatewayTargets.set(client, { ...target, scheme: "http:" });
    client.unshift(bytes);
    gateway.emit("connection", client);
    client.resume();
  };

  /**
   * A CONNECT to a gateway host: answered 200, then the first byte tells what the client speaks
   * in the tunnel. A TLS handshake (0x16) is terminated with a leaf from the local CA; anything
   * else is plain http (yarn 4 CONNECTs to an http:// registry, then speaks http in the tunnel)
   * and is parsed as it is. Either way every request is decided by the hook.
   */
  const terminate = (
    client: Duplex,
    target: { host: string; port: number; key: string },
    localCa: LocalCa,
    head: Buffer,
  ): void => {
    const row = hostStats(target.key);
    localCa.contextFor(target.host).then(
      (secureContext) => {
        if (client.destroyed) return;
        client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        // A client that never speaks (or goes quiet) must not hold the socket forever.
        if (client instanceof net.Socket) client.setTimeout(idleTimeout, () => client.destroy());
        firstBytes(client, head, (bytes) => {
          if (bytes[0] !== 0x16) {
            toGateway(client, target, bytes);
            return;
          }
          // Put back: the TLS socket reads what is buffered first.
          client.unshift(bytes);
          const secure = new tls.TLSSocket(client as net.Socket, {
            isServer: true,
            secureContext,
            ALPNProtocols: ["http/1.1"],
          });
          track(secure);
          let handshaken = false;
          secure.once("secure", () => {
            handshaken = true;
          });
          secure.once("close", () => {
            if (!handshaken) row.handshakeFailures++;
            client.destroy();
          });
          client.once("close", () => secure.destroy());
          gatewayTargets.set(secure, { ...target, scheme: "https:" });
          gateway.emit("connection", secure);
        });
      },
      (error: unknown) => respondRaw(client, 502, `safe-npm cannot issue a certificate: ${error}`),
    );
  };

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
    if (ca !== null && hook?.hosts.has(key)) {
      terminate(client, { ...target, key }, ca, head);
      return;
    }
    const row = hostStats(key);
    if (loopsBack(target)) {
      row.loopsRefused++;
      respondRaw(client, 403, loopReason(key));
      return;
    }
    if (internalLiteral(target)) {
      respondRaw(client, 403, refuseInternal(row, target));
      return;
    }
    if (hook?.hosts.has(key) !== true) {
      openTunnel(client, { ...target, key }, row, head, false);
      return;
    }
    // A gateway host without the local CA (no https registry this run, the CA cannot be kept
    // safe, a command that cannot trust it): answered first, then what the client speaks
    // decides, before anything is dialled. Plain http (yarn 4 speaks it to an http:// registry,
    // any script can) goes to the rules; TLS to a registry config names by an http:// URL is
    // refused; other TLS stays an opaque tunnel.
    client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    // A client that never speaks (or goes quiet) must not hold the socket forever.
    if (client instanceof net.Socket) client.setTimeout(idleTimeout, () => client.destroy());
    firstBytes(client, head, (bytes) => {
      if (bytes[0] !== 0x16) {
        toGateway(client, { ...target, key }, bytes);
        return;
      }
      if (plainOnly.has(key)) {
        row.tlsRefused++;
        client.destroy();
        return;
      }
      if (client instanceof net.Socket) client.setTimeout(0);
      openTunnel(client, { ...target, key }, row, bytes, true);
    });
  });

  /**
   * An opaque tunnel to `target`: `first` goes upstream before the client's further bytes.
   * `answered`: the client has had its 200 already, so a failed dial can only close it.
   */
  const openTunnel = (
    client: Duplex,
    target: { host: string; port: number; key: string },
    row: HostStats,
    first: Buffer,
    answered: boolean,
  ): void => {
    const { key } = target;
    const fail = (status: number, reason: string): void => {
      if (answered) client.destroy();
      else respondRaw(client, status, reason);
    };
    row.connections++;
    const upstream = net.connect({
      host: dialHost(target.host),
      port: target.port,
      lookup: lookupFor(target),
    });
    track(upstream);
    liveUpstreams.set(upstream, row);
    let established = false;
    upstream.setTimeout(connectTimeout);
    upstream.on("timeout", () => {
      if (!established) {
        failed(row, `no answer in ${seconds(connectTimeout)}`, false);
        fail(504, `${key} did not answer in time`);
      } else client.destroy();
      upstream.destroy();
    });
    upstream.on("error", (error: NodeJS.ErrnoException) => {
      if (!established && error.code === LOOP_REFUSED) {
        row.loopsRefused++;
        row.connections--;
        fail(403, loopReason(key));
      } else if (!established && error.code === INTERNAL_REFUSED) {
        row.connections--;
        fail(403, refuseInternal(row, target));
      } else if (!established) {
        resolver.forget(target.host);
        failed(row, error.code ?? error.message, false);
        fail(502, `cannot reach ${key}: ${error.code ?? error.message}`);
      } else client.destroy();
    });
    upstream.once("close", (hadError) => {
      liveUpstreams.delete(upstream);
      row.bytesUp += upstream.bytesWritten;
      row.bytesDown += upstream.bytesRead;
      // Before the tunnel, respondRaw() is still flushing the error answer and closes the client.
      // Closed cleanly, its end has reached the client through pipe(), which lets what is still
      // queued for a slow client arrive: destroying the client cut a download's tail off.
      if (established && !hadError) client.end();
      else if (established || answered) client.destroy();
    });
    client.once("close", (hadError: boolean) => {
      if (established && !hadError) upstream.end();
      else upstream.destroy();
    });
    upstream.once("connect", () => {
      established = true;
      upstream.setTimeout(idleTimeout);
      upstream.setNoDelay(true);
      if (!answered) client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (first.length > 0) upstream.write(first);
      // pipe() ends the other side when one side ends, so half-closes pass through.
      client.pipe(upstream);
      upstream.pipe(client);
    });
  };

  server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) =>
    inLine(req, res, () => proxyRequest(req, res)),
  );
  const proxyRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
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
    forward(req, res, url, { host, port, key });
  };

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
    await cleanup();
    throw new SafeNpmError("SPAWN_FAILED", `cannot start the network proxy on ${socketPath}`, {
      cause: error,
    });
  }
  server.on("error", () => {});

  const idleCount = (): number => {
    let idle = 0;
    for (const pool of [agent, tlsAgent, ...(projectAgent === null ? [] : [projectAgent])]) {
      for (const list of Object.values(pool.freeSockets)) idle += list?.length ?? 0;
    }
    return idle;
  };

  let closing: Promise<void> | null = null;
  let warmed = false;
  return {
    socketPath,
    dir,
    caBundlePath,
    caNodeBundlePath,
    warm: () => {
      if (ca === null || warmed) return;
      warmed = true;
      // Only where some gateway host may speak TLS (not every registry is plain http).
      if (![...(hook?.hosts ?? [])].some((key) => !plainOnly.has(key))) return;
      setImmediate(() => {
        if (closing !== null) return;
        // The first context parses node's root store; the project's (when it has a cafile)
        // adds its CAs to a context of its own, used by requests that carry no credential.
        roots();
        if (projectAgent !== null) projectRoots();
      });
    },
    stats: () => {
      const rows = new Map<string, HostStats>();
      for (const [target, row] of hosts) {
        rows.set(target, {
          ...row,
          refusedSamples: [...row.refusedSamples],
          failures: row.failures.map((f) => ({ ...f })),
        });
      }
      for (const [socket, row] of liveUpstreams) {
        const copy = rows.get(row.target);
        if (copy === undefined) continue;
        copy.bytesUp += socket.bytesWritten;
        copy.bytesDown += socket.bytesRead;
      }
      const idle = idleCount();
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
        // Each destroyed socket is gone once its 'close' has come: wait for those too.
        const gone = [...sockets].map(
          (socket) => new Promise<void>((resolve) => socket.once("close", () => resolve())),
        );
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
        agent.destroy();
        tlsAgent.destroy();
        projectAgent?.destroy();
        // Bounded: a socket that never says 'close' must not keep safe-npm from ending.
        let bound: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.all([closed, ...gone]),
          new Promise<void>((resolve) => {
            bound = setTimeout(resolve, CLOSE_WAIT_MS);
          }),
        ]);
        clearTimeout(bound);
        await cleanup();
      })();
      return closing;
    },
  };
}

const SOCKET_DIR_PREFIX = "safe-npm-net-";

/**
 * Removes the socket folders of safe-npm runs that ended without removing their own (killed with
 * SIGKILL): this user's own folders only (another user's are theirs to remove), real folders
 * (never through a link), named for a process that no longer exists. A pid reused since keeps
 * its folder until that process is gone too.
 */
export function removeStaleSocketDirs(base: string): void {
  const uid = process.getuid?.();
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(/^safe-npm-net-(\d+)-/.exec(name)?.[1] ?? "0");
    if (pid <= 0 || pid === process.pid || alive(pid)) continue;
    const path = join(base, name);
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (st === undefined || !st.isDirectory() || st.uid !== uid) continue;
    try {
      rmSync(path, { recursive: true, force: true });
    } catch {
      // another run removing it too, or not ours to remove after all
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, as another user's process.
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/**
 * Removes `dir` synchronously when the process exits — also after an uncaught exception — in
 * case close() never ran. A signal that kills safe-npm outright (no handler) or SIGKILL skips
 * 'exit'; the socket left behind is then dead (nothing listens), so it opens nothing, and the
 * next registry-mode run removes its folder (removeStaleSocketDirs). Returns a function that unregisters the hook.
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
    if (row.refused > 0) {
      const n = row.refused === 1 ? "1 connection" : `${row.refused} connections`;
      lines.push(
        row.target === OTHER_HOSTS
          ? `blocked ${n} to other hosts (beyond the first ${MAX_HOST_ROWS}, counted together)`
          : `blocked ${n} to ${row.target} — allow with --allow-host ${row.target}`,
      );
    }
    if (row.refusedRequests > 0) {
      const n = row.refusedRequests === 1 ? "1 request" : `${row.refusedRequests} requests`;
      const shown = [
        ...new Set(
          row.refusedSamples.map(
            (s) => `${s.request} (${s.reason.replace(/^safe-npm: (refused )?/, "")})`,
          ),
        ),
      ];
      const more =
        row.refusedRequests > row.refusedSamples.length
          ? `; and ${row.refusedRequests - row.refusedSamples.length} more`
          : "";
      lines.push(`refused ${n} to the registry ${row.target}: ${shown.join("; ")}${more}`);
    }
    if (row.loopsRefused > 0) {
      const n = row.loopsRefused === 1 ? "1 connection" : `${row.loopsRefused} connections`;
      lines.push(
        `refused ${n} to ${row.target}: that port is forwarded into the sandbox, so the host's proxy would reach the sandbox's own server`,
      );
    }
    if (row.tlsRefused > 0) {
      const n = row.tlsRefused === 1 ? "1 TLS connection" : `${row.tlsRefused} TLS connections`;
      lines.push(
        `refused ${n} to ${row.target}: your config names that registry by an http:// URL (if it speaks https, name it https://)`,
      );
    }
    if (row.internalRefused > 0) {
      const n = row.internalRefused === 1 ? "1 connection" : `${row.internalRefused} connections`;
      lines.push(`refused ${n} to ${row.target}: ${internalWhy(row.target, row.internalSource)}`);
    }
    if (row.failed > 0) {
      const n = row.failed === 1 ? "1 connection" : `${row.failed} connections`;
      const causes = row.failures.map((f) =>
        f.count === 1 ? f.reason : `${f.reason} ×${f.count}`,
      );
      const listed = row.failures.reduce((sum, f) => sum + f.count, 0);
      const more = row.failed > listed ? `; and ${row.failed - listed} more` : "";
      lines.push(`${n} to ${row.target} failed: ${causes.join(", ")}${more}`);
    }
    if (row.handshakeFailures > 0) {
      lines.push(
        `${row.handshakeFailures} TLS connection(s) to ${row.target} failed: the client did not accept safe-npm's local CA`,
      );
    }
  }
  if (verbose) {
    for (const row of stats.hosts) {
      if (row.connections === 0 && row.bytesUp === 0 && row.bytesDown === 0) continue;
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

/**
 * A connection or request let through that failed; one that never `reached` the host is no
 * allowed traffic. Each distinct cause is kept with its count, up to MAX_FAILURE_CAUSES, and a
 * refused certificate always (other causes must not crowd it out).
 */
export function recordFailure(row: HostStats, reason: string, reached: boolean): void {
  if (!reached) row.connections--;
  row.failed++;
  const seen = row.failures.find((f) => f.reason === reason);
  if (seen !== undefined) seen.count++;
  else if (row.failures.length < MAX_FAILURE_CAUSES || CERTIFICATE_CAUSE.test(reason))
    row.failures.push({ reason, count: 1 });
}

/** Distinct failure causes kept per host (each is an error code or a timeout). */
const MAX_FAILURE_CAUSES = 8;
/** OpenSSL's verification codes (UNABLE_TO_VERIFY_LEAF_SIGNATURE, CERT_HAS_EXPIRED, …). */
const CERTIFICATE_CAUSE = /CERT|SIGNATURE|ISSUER|SELF_SIGNED/;

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function loopReason(target: string): string {
  return `safe-npm: ${target} is refused: that port on the host's loopback is forwarded into the sandbox`;
}

/**
 * Why a registry only the project names is not dialled, and the fixes: name it where the user's
 * own choices live. The project's .sandboxrc counts only once trusted (settings/merge.ts).
 */
function internalWhy(target: string, source: string | undefined): string {
  return `only the project's files name this registry (${source ?? "project config"}) and it is an internal address (loopback, private network or link-local, where cloud metadata lives) — if you meant it, name it in ~/.npmrc or in network.allow of your safe-npm settings (a project .sandboxrc's network.allow needs \`safe-npm trust\`), or pass --allow-host ${target}`;
}

function internalReason(target: string, source: string | undefined): string {
  return `safe-npm: ${target} is refused: ${internalWhy(target, source)}`;
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

/** Methods whose requests carry no body (RFC 9110 §9.3): one sent with them is refused. */
const BODYLESS = new Set(["GET", "HEAD", "DELETE", "OPTIONS", "TRACE", "CONNECT"]);

/**
 * How a request's body is framed, from its raw headers — or why it is refused. The upstream
 * pool makes framing a security matter: bytes beyond what the upstream reads as this request's
 * body are read as the next request, which would carry the next request's credential. So a body
 * on a bodyless method (node's client would write it unframed), conflicting or malformed
 * lengths, and any transfer coding but `chunked` are refused (RFC 9112 §6.3).
 */
export function bodyFraming(
  method: string,
  raw: readonly string[],
): { contentLength: number | null; chunked: boolean } | string {
  const lengths: string[] = [];
  const codings: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]?.toLowerCase();
    const value = raw[i + 1] ?? "";
    if (name === "content-length") lengths.push(...value.split(",").map((v) => v.trim()));
    else if (name === "transfer-encoding") codings.push(...value.split(",").map((v) => v.trim()));
  }
  if (lengths.length > 0 && codings.length > 0) {
    return "a request with both Content-Length and Transfer-Encoding is refused";
  }
  let contentLength: number | null = null;
  if (lengths.length > 0) {
    const first = lengths[0] ?? "";
    if (!/^\d{1,15}$/.test(first) || lengths.some((v) => v !== first)) {
      return "invalid Content-Length";
    }
    contentLength = Number(first);
  }
  const chunked = codings.length > 0;
  if (chunked && (codings.length !== 1 || codings[0]?.toLowerCase() !== "chunked")) {
    return "only Transfer-Encoding: chunked is accepted";
  }
  if (BODYLESS.has(method.toUpperCase()) && (chunked || (contentLength ?? 0) > 0)) {
    return `a ${method.toUpperCase()} request with a body is refused`;
  }
  return { contentLength, chunked };
}

/** `raw` with the client's `authorization` replaced by the hook's, when it gives one. */
function withAuthorization(raw: readonly string[], authorization: string | undefined): string[] {
  if (authorization === undefined) return [...raw];
  return [...dropHeader(raw, "authorization"), "Authorization", authorization];
}

/** `raw` (name, value, name, value…) without every header called `name` (lower case). */
/**
 * Headers that ask a server (or the reverse proxy in front of a registry) to take the request for
 * another method (Rails, Express, ASP.NET) or another path or host (IIS's URL rewrite, Symfony,
 * Spring's and Traefik's forwarded headers, Envoy): the rules judged this method and path only.
 */
const REINTERPRETING = [
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
  "x-original-url",
  "x-rewrite-url",
  "x-original-uri",
  "x-envoy-original-path",
  "x-forwarded-uri",
  "x-forwarded-path",
  "x-forwarded-prefix",
  "x-forwarded-host",
  "x-forwarded-server",
  "x-forwarded-port",
  "x-forwarded-proto",
  "x-forwarded-scheme",
  "x-original-host",
  "x-host",
  "x-http-host-override",
  "forwarded",
];
const REINTERPRETING_SET: ReadonlySet<string> = new Set(REINTERPRETING);

/** `raw` without REINTERPRETING headers, also spelled with `_` (CGI and PHP read `X_Original_URL` as `X-Original-URL`). */
function withoutReinterpreting(raw: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (REINTERPRETING_SET.has((raw[i] ?? "").toLowerCase().replaceAll("_", "-"))) continue;
    out.push(raw[i] ?? "", raw[i + 1] ?? "");
  }
  return out;
}

function dropHeader(raw: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]?.toLowerCase() === name) continue;
    out.push(raw[i] ?? "", raw[i + 1] ?? "");
  }
  return out;
}

/**
 * Why a registry's answer to a request that carried the user's credential must not go inside,
 * or null. Package documents are JSON and tarballs binary; a successful answer as text or HTML
 * is some other endpoint of the server (Artifactory's `GET <repository>/auth[/<scope>]` answers
 * npmrc lines holding the credential:
 * https://jfrog.com/help/r/jfrog-artifactory-documentation/npm-registry).
 */
export function answerRefusal(status: number, headers: http.IncomingHttpHeaders): string | null {
  if (status < 200 || status >= 300) return null;
  const type = (headers["content-type"] ?? "").toLowerCase();
  if (/^\s*text\//.test(type) || type.includes("html"))
    return `a ${type.split(";")[0]?.trim()} answer to a request that carried your credential (a package document is JSON, a tarball binary)`;
  return null;
}

/**
 * Why an answer to a credentialed request cannot be searched for the credential, or null: it is
 * compressed although the request asked for none, or carries a transfer coding besides chunked
 * (dropped as hop-by-hop, its bytes would reach the client still coded).
 */
export function codedAnswer(headers: http.IncomingHttpHeaders): string | null {
  const content = String(headers["content-encoding"] ?? "")
    .trim()
    .toLowerCase();
  if (content !== "" && content !== "identity")
    return `an answer coded as ${content} to a request that carried your credential and asked for none (it cannot be searched for the credential)`;
  const transfer = String(headers["transfer-encoding"] ?? "")
    .trim()
    .toLowerCase();
  if (transfer !== "" && transfer !== "chunked")
    return `an answer with the transfer coding ${transfer} to a request that carried your credential`;
  return null;
}

/**
 * Whether an answer read whole holds the credential added to its request,
 * in any of the forms a server writes it back: the token, `_auth`'s base64, the password and
 * npmrc's base64 `_password`.
 */
export function holdsCredential(body: Buffer, authorization: string): boolean {
  const forms = credentialForms(authorization);
  const plain = unescapeBase64(body);
  return forms.some((form) => body.includes(form) || (plain !== body && plain.includes(form)));
}

/**
 * Passes a stream on, holding back the last bytes that could begin one of `forms`; calls `found`
 * (and passes nothing more) when one appears, even across pieces.
 */
function credentialScan(forms: readonly string[], found: () => void): Transform {
  const needles = forms.map((form) => Buffer.from(form));
  // Held back: as many bytes as the longest form takes with every character escaped.
  const keep = Math.max(...needles.map((n) => n.length)) * ESCAPED_WIDTH - 1;
  let tail = Buffer.alloc(0);
  let stopped = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (stopped) return done();
      const all = tail.length === 0 ? chunk : Buffer.concat([tail, chunk]);
      const plain = unescapeBase64(all);
      if (
        needles.some((needle) => all.includes(needle) || (plain !== all && plain.includes(needle)))
      ) {
        stopped = true;
        found();
        return done();
      }
      const cut = Math.max(0, all.length - keep);
      tail = Buffer.from(all.subarray(cut));
      done(null, all.subarray(0, cut));
    },
    flush(done) {
      done(null, stopped ? undefined : tail);
    },
  });
}

/**
 * The strings an `Authorization` value's secret may be written back as (holdsCredential): the
 * token (for Basic the base64 pair, the password), and each in base64 wherever it falls in a
 * longer base64 text (base64Cores). None shorter than 8 characters: a short password would
 * match innocent answers.
 */
export function credentialForms(authorization: string): readonly string[] {
  // Asked for each credentialed answer (its headers, then its body): the same few credentials.
  const known = FORMS.get(authorization);
  if (known !== undefined) return known;
  const forms = formsOf(authorization);
  if (FORMS.size >= MAX_FORMS) FORMS.clear();
  FORMS.set(authorization, forms);
  return forms;
}

const FORMS = new Map<string, readonly string[]>();
/** A run holds a few credentials; the bound is only against growth without end. */
const MAX_FORMS = 64;

function formsOf(authorization: string): string[] {
  const [scheme = "", value = ""] = authorization.trim().split(/\s+/, 2);
  if (value.length < 8) return [];
  const secrets = [value];
  if (scheme.toLowerCase() === "basic") {
    const decoded = Buffer.from(value, "base64").toString("utf8");
    const password = decoded.slice(decoded.indexOf(":") + 1);
    if (password.length >= 8) secrets.push(password);
  }
  const forms = new Set(secrets);
  for (const secret of secrets) for (const core of base64Cores(secret)) forms.add(core);
  return [...forms];
}

/**
 * `text` with the escapes JSON and URLs write for base64's `/` and `+` undone (`\/`, `\u002f`,
 * `%2F`, `\u002b`, `%2B`, either case), in any mix (PHP's json_encode writes `\/`, Python's
 * quote `%2B` but `/`): searched besides the text as it is. The same bytes when it has none.
 */
export function unescapeBase64(text: Buffer): Buffer {
  if (!text.includes(0x5c) && !text.includes(0x25)) return text;
  return Buffer.from(
    text
      .toString("latin1")
      .replace(/\\\/|\\u002[fF]|%2[fF]/g, "/")
      .replace(/\\u002[bB]|%2[bB]/g, "+"),
    "latin1",
  );
}

/** The most bytes one character of a credential form takes escaped (`\u002f`). */
const ESCAPED_WIDTH = 6;

/** Hosts counted apart in a run's statistics; the rest are counted together (OTHER_HOSTS). */
const MAX_HOST_ROWS = 256;
const OTHER_HOSTS = "other hosts";

/** RFC 9112's reason-phrase: tab, space, visible ASCII and obs-text. */
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * The part of `secret`'s base64 that any base64 text holding it shows, at each of the three
 * offsets it may start at: the characters that mix in a neighbouring byte are left out.
 */
function base64Cores(secret: string): string[] {
  const cores: string[] = [];
  for (const offset of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(offset), Buffer.from(secret, "utf8")]).toString(
      "base64",
    );
    // A leading byte's bits reach 2 characters (offset 1) or 3 (offset 2); the end's last group
    // may mix in what follows: its last 4 characters are left out.
    const core = encoded.slice([0, 2, 3][offset], encoded.length - 4);
    if (core.length >= 8) cores.push(core);
  }
  return cores;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
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

/**
 * What a tunnel's client has sent so far once it has sent anything: `head` (the bytes that came
 * with the CONNECT) and all that is buffered, taken off the socket. Its first byte tells the
 * protocol: 0x16 opens a TLS handshake.
 */
function firstBytes(client: Duplex, head: Buffer, then: (bytes: Buffer) => void): void {
  const take = (): Buffer => {
    const more = client.read() as Buffer | null;
    return more === null ? head : Buffer.concat([head, more]);
  };
  if (head.length > 0) {
    then(take());
    return;
  }
  // The proxy's sockets allow half-open: a client that ends before a byte would otherwise
  // hold its tunnel until the idle timer.
  const onEnd = (): void => {
    client.off("readable", onReadable);
    client.destroy();
  };
  const onReadable = (): void => {
    const bytes = take();
    if (bytes.length === 0) return;
    client.off("readable", onReadable);
    client.off("end", onEnd);
    then(bytes);
  };
  client.on("readable", onReadable);
  client.once("end", onEnd);
  onReadable();
}
