/**
 * TLS fixtures for the gateway tests: a registry's own CA (not safe-npm's), an https server that
 * records requests, and a client agent that reaches a host through the proxy's CONNECT and then
 * speaks TLS to whatever answers, trusting only the CA it is given.
 */
import "../../../src/network/reflect-shim.js";
import { randomBytes } from "node:crypto";
import type http from "node:http";
import https from "node:https";
import type net from "node:net";
import { type Duplex, PassThrough } from "node:stream";
import tls from "node:tls";
import * as x509 from "@peculiar/x509";
import { connectThrough, type Recorded, type TestServer } from "./helpers.js";

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${b64.replace(/\n$/, "")}\n-----END ${label}-----\n`;
}

export interface Pki {
  /** The registry's CA certificate (PEM): what a user would name in `cafile`. */
  ca: string;
  /** Its server certificate for 127.0.0.1 and localhost, and the key. */
  cert: string;
  key: string;
}

/** A CA and a server certificate for 127.0.0.1/localhost signed by it. */
export async function makePki(): Promise<Pki> {
  const now = Date.now();
  const caKeys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(8).toString("hex").replace(/^./, "1"),
    name: "CN=Test Registry CA",
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 86400_000),
    keys: caKeys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(8).toString("hex").replace(/^./, "2"),
    subject: "CN=localhost",
    issuer: ca.subject,
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 86400_000),
    signingKey: caKeys.privateKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.SubjectAlternativeNameExtension([
        { type: "ip", value: "127.0.0.1" },
        { type: "dns", value: "localhost" },
      ]),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
    ],
  });
  return {
    ca: ca.toString("pem"),
    cert: cert.toString("pem"),
    key: pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", keys.privateKey)),
  };
}

/**
 * An https server on 127.0.0.1 with `pki`'s certificate. `handler` gets the raw request (it may
 * stream); the server records method, url and headers of each before calling it.
 */
export async function httpsServer(
  pki: Pki,
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<TestServer> {
  const requests: Recorded[] = [];
  const server = https.createServer({ key: pki.key, cert: pki.cert }, (req, res) => {
    requests.push({
      method: req.method ?? "",
      url: req.url ?? "",
      headers: req.headers,
      body: "",
    });
    handler(req, res);
  });
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  // Count TCP connections (not TLS sessions): what the proxy's pool is about.
  server.on("connection", (socket: net.Socket) => {
    accepted++;
    sockets.add(socket);
    socket.on("error", () => {});
    socket.once("close", () => sockets.delete(socket));
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    requests,
    accepted: () => accepted,
    open: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * An https agent whose connections are `CONNECT target` through the proxy's unix socket, then
 * TLS trusting `ca` only (safe-npm's local CA, as the sandbox would). Keep-alive, one socket.
 */
export class TunnelAgent extends https.Agent {
  tunnels = 0;
  constructor(
    private readonly socketPath: string,
    private readonly ca: string,
  ) {
    super({ keepAlive: true, maxSockets: 1 });
  }

  override createConnection(
    options: https.RequestOptions,
    callback?: (error: Error | null, stream: Duplex) => void,
  ): undefined {
    const target = `${options.host}:${options.port}`;
    connectThrough(this.socketPath, target).then(
      ({ status, socket }) => {
        if (status !== 200) {
          socket.destroy();
          callback?.(new Error(`CONNECT ${target}: ${status}`), socket);
          return;
        }
        this.tunnels++;
        const secure = tls.connect({ socket, ca: this.ca, host: String(options.host) });
        secure.once("secureConnect", () => callback?.(null, secure));
        secure.once("error", (error) => callback?.(error, secure));
      },
      (error: Error) => callback?.(error, new PassThrough()),
    );
    return undefined;
  }
}

export interface GatewayResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One https request to 127.0.0.1:`port` through `agent`. */
export function gatewayRequest(
  agent: https.Agent,
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<GatewayResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: options.method ?? "GET",
        headers: options.headers ?? {},
        agent,
      },
      (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => {
          body += chunk.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}
