// A throw-away CA and a localhost leaf it signed, made with openssl, and an https front for the
// bench registry (bench/registry.mjs) on 127.0.0.1: the gateway benchmark, bench/tunnels.mjs and the tunnels e2e test. A CA and
// a leaf rather than one self-signed certificate: rustls (pnpm 12) refuses a self-signed leaf as
// its own CA. Plain ESM, Node built-ins only.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { join } from "node:path";

/**
 * Writes ca.pem, key.pem and cert.pem (and the CA's key, the request) in `dir`; returns the CA's
 * path and the three PEM texts. `name` is the CA's common name.
 */
export function makeCertificates(dir, name) {
  const ssl = (...a) => execFileSync("openssl", a, { cwd: dir, stdio: "ignore" });
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  ssl(
    "req",
    "-x509",
    ...key,
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
  );
  ssl("req", "-new", ...key, "-subj", "/CN=localhost", "-keyout", "key.pem", "-out", "leaf.csr");
  writeFileSync(
    join(dir, "leaf.ext"),
    "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n",
  );
  ssl(
    "x509",
    "-req",
    "-in",
    "leaf.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    "leaf.ext",
    "-out",
    "cert.pem",
  );
  const read = (file) => readFileSync(join(dir, file), "utf8");
  return {
    caPath: join(dir, "ca.pem"),
    ca: read("ca.pem"),
    key: read("key.pem"),
    cert: read("cert.pem"),
  };
}

/**
 * A front on localhost:<port>/ for the plain-http registry at `innerUrl` (bench/registry.mjs):
 * https with `tls` ({ key, cert }), plain http when `tls` is null. Packuments are rewritten to
 * point at the front. Counts the connections it accepts (over https each one a tunnel through
 * the proxy) and the requests.
 */
export async function startFront(innerUrl, tls, { keepAliveTimeout }) {
  const inner = new URL(innerUrl);
  let connections = 0;
  let requests = 0;
  let url = "";
  const handler = (req, res) => {
    requests++;
    const up = http.request(
      {
        host: inner.hostname,
        port: inner.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (upRes) => {
        const chunks = [];
        upRes.on("data", (chunk) => chunks.push(chunk));
        upRes.on("end", () => {
          let body = Buffer.concat(chunks);
          if (String(upRes.headers["content-type"]).includes("json"))
            body = Buffer.from(body.toString().replaceAll(innerUrl, url));
          res.writeHead(upRes.statusCode ?? 502, {
            ...upRes.headers,
            "content-length": body.length,
          });
          res.end(body);
        });
      },
    );
    up.on("error", () => res.destroy());
    req.pipe(up);
  };
  const server =
    tls === null
      ? http.createServer({ keepAliveTimeout }, handler)
      : https.createServer({ key: tls.key, cert: tls.cert, keepAliveTimeout }, handler);
  server.on(tls === null ? "connection" : "secureConnection", () => connections++);
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `${tls === null ? "http" : "https"}://localhost:${server.address().port}/`;
  return {
    url,
    connections: () => connections,
    requests: () => requests,
    close: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}
