/**
 * Loopback servers and hand-spoken proxy requests for the network tests: what an upstream saw,
 * and what a client behind the proxy gets back.
 */
import { existsSync } from "node:fs";
import http from "node:http";
import net from "node:net";

export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface TestServer {
  port: number;
  /** Requests received (HTTP servers). */
  requests: Recorded[];
  /** TCP connections ever accepted. */
  accepted: () => number;
  /** TCP connections open right now. */
  open: () => number;
  close: () => Promise<void>;
}

function track(
  server: net.Server,
): Pick<TestServer, "accepted" | "open"> & { sockets: Set<net.Socket> } {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  server.on("connection", (socket: net.Socket) => {
    accepted++;
    sockets.add(socket);
    socket.on("error", () => {});
    socket.once("close", () => sockets.delete(socket));
  });
  return { sockets, accepted: () => accepted, open: () => sockets.size };
}

async function listen(
  server: net.Server,
  requests: Recorded[],
  host = "127.0.0.1",
): Promise<TestServer> {
  const tracked = track(server);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    requests,
    accepted: tracked.accepted,
    open: tracked.open,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of tracked.sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An HTTP server that records each request (with its body) before `handler` answers it. */
export function httpServer(
  handler: (req: Recorded, res: http.ServerResponse) => void = (_req, res) => res.end("ok"),
  host = "127.0.0.1",
): Promise<TestServer> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const recorded: Recorded = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      requests.push(recorded);
      handler(recorded, res);
    });
  });
  return listen(server, requests, host);
}

/** A TCP server that echoes every byte back. */
export function echoServer(): Promise<TestServer> {
  const server = net.createServer((socket) => socket.pipe(socket));
  return listen(server, []);
}

/** A TCP server that records what it receives and answers nothing (the "exfil" target). */
export function sinkServer(): Promise<TestServer & { received: () => string }> {
  let received = "";
  const server = net.createServer((socket) => {
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString();
    });
  });
  return listen(server, []).then((s) => ({ ...s, received: () => received }));
}

export interface ConnectResult {
  status: number;
  /** The response head and, for refusals, the body. */
  head: string;
  socket: net.Socket;
}

/**
 * `CONNECT target` over the unix socket; resolves once the response head arrived, with the
 * socket paused (nothing after the head is lost): resume() it after listening for 'data'.
 */
export function connectThrough(socketPath: string, target: string): Promise<ConnectResult> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ path: socketPath });
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf("\r\n\r\n");
      if (end === -1) return;
      socket.off("data", onData);
      // Hold what follows the head until the caller listens ('data' resumes the flow).
      socket.pause();
      const head = buffered.subarray(0, end).toString();
      const rest = buffered.subarray(end + 4);
      const status = Number(head.split(" ")[1]);
      if (rest.length > 0) socket.unshift(rest);
      resolve({ status, head, socket });
    };
    socket.on("data", onData);
    socket.on("error", reject);
    socket.on("connect", () =>
      socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`),
    );
  });
}

/** Reads everything until the peer closes. */
export function readAll(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString();
    });
    socket.once("close", () => resolve(text));
    socket.resume();
  });
}

export interface ProxiedResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

/** An absolute-URI request sent to the proxy over its unix socket. */
export function requestThrough(
  socketPath: string,
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<ProxiedResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath,
        path: url,
        method: options.method ?? "GET",
        headers: options.headers ?? {},
        agent: false,
      },
      (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => {
          body += chunk.toString();
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body,
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

/** Polls `condition` until it holds (or fails the test after `ms`). */
export async function eventually(
  condition: () => boolean,
  what: string,
  ms = 5_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function gone(path: string): boolean {
  return !existsSync(path);
}
