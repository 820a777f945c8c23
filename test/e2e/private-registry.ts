/**
 * A private registry on 127.0.0.1 for the credential tests: every request must carry
 * `Authorization: Bearer <token>` (401 otherwise, as GitHub Packages answers), and every request
 * is logged (method, path, which authorization came). It serves `@private/registry-probe` (the
 * packed fixture) and accepts a package upload (`PUT /<name>`) with the token, keeping what was
 * published. Plain http, or https with a certificate of a CA made here (`https` option).
 * Two endpoints write the token back, as some servers do under a registry's path: `auth` and
 * `auth/<scope>` (Artifactory's, npmrc lines as text) and `echo-credential` (JSON).
 */
import { createHash, randomBytes, webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type net from "node:net";
import { join } from "node:path";

export interface LoggedRequest {
  method: string;
  path: string;
  /** "token": the registry's token; "other": some other authorization; "none". */
  auth: "token" | "other" | "none";
  /** The `npm-otp` header, when one came. */
  otp: string | null;
}

export interface PrivateRegistry {
  /** `http://127.0.0.1:<port>/` (or https). */
  url: string;
  port: number;
  token: string;
  log: LoggedRequest[];
  /** Package documents uploaded with the token, by name. */
  published: Map<string, Record<string, unknown>>;
  /** Requests other than GET/HEAD that reached the registry. */
  writes(): LoggedRequest[];
  close(): Promise<void>;
}

export interface PrivateRegistryOptions {
  /** The packed fixtures directory (global-setup's `packedFixtures`). */
  packed: string;
  /** Require this OTP on uploads (`npm-otp`), answering 401 + `www-authenticate: OTP` without. */
  otp?: string;
  /**
   * TLS: serve https with this key and certificate (PEM); with `clientCa`, only to a client
   * presenting a certificate that CA signed (npm's certfile / keyfile).
   */
  tls?: { key: string; cert: string; clientCa?: string };
  /**
   * GitLab's instance-level layout: the registry at `/api/v4/packages/npm/`, its tarballs under
   * a project's path (`/api/v4/projects/7/packages/npm/@scope/name/-/@scope/name-1.0.0.tgz`),
   * so the credential reaches them only by the same-host tarball rule. `"group"`: the group-level
   * registry, `/api/v4/groups/7/-/packages/npm/` (a `-` segment in the registry's own path).
   */
  gitlab?: boolean | "group";
}

const PROBE = "@private/registry-probe";

export async function startPrivateRegistry(
  options: PrivateRegistryOptions,
): Promise<PrivateRegistry> {
  const token = `REGISTRY-TOKEN-${randomBytes(12).toString("hex")}`;
  const tarball = readFileSync(join(options.packed, "private-registry-probe-1.0.0.tgz"));
  const integrity = `sha512-${createHash("sha512").update(tarball).digest("base64")}`;
  const log: LoggedRequest[] = [];
  const published = new Map<string, Record<string, unknown>>();
  let base = "";
  const registryPath =
    options.gitlab === "group"
      ? "/api/v4/groups/7/-/packages/npm/"
      : options.gitlab === true
        ? "/api/v4/packages/npm/"
        : "/";
  const tarballPath =
    options.gitlab !== undefined && options.gitlab !== false
      ? `/api/v4/projects/7/packages/npm/${PROBE}/-/${PROBE}-1.0.0.tgz`
      : `/${PROBE}/-/registry-probe-1.0.0.tgz`;

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "";
      const header = req.headers.authorization;
      const otp = req.headers["npm-otp"];
      log.push({
        method: req.method ?? "",
        path,
        auth: header === undefined ? "none" : header === `Bearer ${token}` ? "token" : "other",
        otp: typeof otp === "string" ? otp : null,
      });
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { "content-type": "application/json", ...headers });
        res.end(JSON.stringify(body));
      };
      if (header !== `Bearer ${token}`) {
        json(401, { error: "authentication required" }, { "www-authenticate": 'Bearer realm="x"' });
        return;
      }
      const name = path.startsWith(registryPath)
        ? decodeURIComponent(path.slice(registryPath.length).split("?")[0] ?? "")
        : "";
      if (req.method === "GET" && (name === "auth" || name.startsWith("auth/"))) {
        // Artifactory's `<repository>/auth[/<scope>]`: npmrc lines with the caller's credential.
        res.writeHead(200, { "content-type": "text/plain" });
        res.end(`//${req.headers.host}/:_authToken=${token}\n`);
      } else if (req.method === "GET" && name === "echo-credential") {
        // Some endpoint that writes the credential back as JSON.
        json(200, { token });
      } else if ((req.method === "GET" || req.method === "HEAD") && name === PROBE) {
        json(200, {
          name: PROBE,
          "dist-tags": { latest: "1.0.0" },
          // yarn 4 quarantines versions without (or with too recent) a date.
          time: { created: "2020-01-01T00:00:00.000Z", "1.0.0": "2020-01-01T00:00:00.000Z" },
          versions: {
            "1.0.0": {
              name: PROBE,
              version: "1.0.0",
              scripts: { postinstall: "node registry-probe.cjs" },
              dist: {
                tarball: `${new URL(base).origin}${tarballPath}`,
                integrity,
              },
            },
          },
        });
      } else if (req.method === "GET" && path === tarballPath) {
        res.writeHead(200, { "content-type": "application/octet-stream" });
        res.end(tarball);
      } else if (req.method === "PUT" && !name.includes("/-/") && name !== "") {
        if (options.otp !== undefined && otp !== options.otp) {
          json(401, { error: "OTP required" }, { "www-authenticate": "OTP" });
          return;
        }
        published.set(name, JSON.parse(Buffer.concat(chunks).toString("utf8")));
        json(201, { ok: true });
      } else {
        json(404, { error: "not found" });
      }
    });
  };
  const server: net.Server =
    options.tls === undefined
      ? http.createServer(handler)
      : https.createServer(
          {
            key: options.tls.key,
            cert: options.tls.cert,
            ...(options.tls.clientCa === undefined
              ? {}
              : { ca: options.tls.clientCa, requestCert: true, rejectUnauthorized: true }),
          },
          handler,
        );
  const sockets = new Set<net.Socket>();
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  // https by name: npm's and pnpm's proxy agents check a tunnelled IP against `localhost.`.
  base =
    options.tls === undefined
      ? `http://127.0.0.1:${port}${registryPath}`
      : `https://localhost:${port}${registryPath}`;
  return {
    url: base,
    port,
    token,
    log,
    published,
    writes: () => log.filter((r) => r.method !== "GET" && r.method !== "HEAD"),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface TestCa {
  /** The CA certificate (PEM): what a client trusts through `cafile`. */
  ca: string;
  /** The server's key and certificate for 127.0.0.1, signed by the CA. */
  key: string;
  cert: string;
  /** A client's key and certificate (clientAuth), signed by the CA. */
  clientKey: string;
  clientCert: string;
}

/** A throw-away CA and a leaf for 127.0.0.1 (ECDSA P-256), made fresh for one test file. */
export async function makeTestCa(): Promise<TestCa> {
  reflectMetadata();
  const x509 = await import("@peculiar/x509");
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 24 * 60 * 60_000);
  const caKeys = (await webcrypto.subtle.generateKey(alg, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=safe-npm test registry CA",
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const leafKeys = (await webcrypto.subtle.generateKey(alg, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: "02",
    subject: "CN=127.0.0.1",
    issuer: ca.subject,
    notBefore,
    notAfter,
    publicKey: leafKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(false),
      new x509.SubjectAlternativeNameExtension([
        { type: "ip", value: "127.0.0.1" },
        // npm checks a tunnelled 127.0.0.1 against `localhost.` (its agent's servername).
        { type: "dns", value: "localhost" },
      ]),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", leafKeys.privateKey);
  const clientKeys = (await webcrypto.subtle.generateKey(alg, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
  const client = await x509.X509CertificateGenerator.create({
    serialNumber: "03",
    subject: "CN=publisher",
    issuer: ca.subject,
    notBefore,
    notAfter,
    publicKey: clientKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(false),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const clientPkcs8 = await webcrypto.subtle.exportKey("pkcs8", clientKeys.privateKey);
  return {
    ca: ca.toString("pem"),
    cert: leaf.toString("pem"),
    key: x509.PemConverter.encode(pkcs8, "PRIVATE KEY"),
    clientCert: client.toString("pem"),
    clientKey: x509.PemConverter.encode(clientPkcs8, "PRIVATE KEY"),
  };
}

/** The few `Reflect` metadata functions tsyringe (under @peculiar/x509) needs at load time. */
function reflectMetadata(): void {
  type Key = string | symbol;
  const r = Reflect as unknown as Record<string, unknown>;
  if (typeof r.getMetadata === "function") return;
  const store = new WeakMap<object, Map<Key, unknown>>();
  const own = (key: Key, target: object): unknown => store.get(target)?.get(key);
  r.defineMetadata = (key: Key, value: unknown, target: object) => {
    const map = store.get(target) ?? new Map<Key, unknown>();
    store.set(target, map);
    map.set(key, value);
  };
  r.getOwnMetadata = own;
  r.getMetadata = (key: Key, target: object): unknown => {
    for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t) as object | null) {
      const value = own(key, t);
      if (value !== undefined) return value;
    }
    return undefined;
  };
}
