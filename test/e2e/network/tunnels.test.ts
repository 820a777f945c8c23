/**
 * What an install costs on the network path, counted (never timed): through the real CLI, npm
 * installs a generated tree from an https registry on https://localhost:<port>/, so it speaks
 * CONNECT through bridge and proxy as it does to the public registry, and the proxy has a name
 * to resolve (from /etc/hosts). The registry is a registry host, so the registry gateway
 * terminates each tunnel and forwards its requests over a pool of upstream connections. The
 * proxy's --verbose report and the registry's own counters must agree: every request forwarded,
 * a handful of connections from the sandbox for npm (the bridge and proxy keep a client's
 * tunnel open for as long as the client does), few upstream connections even for a manager that
 * opens a tunnel per request, and one name lookup for all of them.
 */
import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import http from "node:http";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { repoRoot } from "../paths.js";
import { makeWorld, nameRegistryInHome, type World } from "../world.js";

const unavailable = inject("sandboxUnavailable");

interface Fixture {
  dependencies: Record<string, string>;
}
interface Registry {
  url: string;
  stats(): { requests: number };
  close(): Promise<void>;
}
/** bench/registry.mjs: the benchmark's generated tree and its static registry (plain ESM). */
const bench = (await import(pathToFileURL(join(repoRoot, "bench", "registry.mjs")).href)) as {
  generateFixture(options?: { names?: number; topLevel?: number }): Fixture;
  startRegistry(fixture: Fixture): Promise<Registry>;
};

/** A CA and a localhost certificate it signed, made with openssl in `dir`. */
function certificates(dir: string): { ca: string; key: Buffer; cert: Buffer } {
  const ssl = (...args: string[]): void => {
    execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  };
  ssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=test CA",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
  );
  ssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=localhost",
    "-keyout",
    "key.pem",
    "-out",
    "leaf.csr",
  );
  writeFileSync(join(dir, "leaf.ext"), "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost\n");
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
  return {
    ca: join(dir, "ca.pem"),
    key: readFileSync(join(dir, "key.pem")),
    cert: readFileSync(join(dir, "cert.pem")),
  };
}

/**
 * https://localhost:<port>/ in front of the plain-http bench registry: packuments are rewritten
 * to point at itself. Counts the TLS connections it accepts (each one a tunnel through the proxy).
 */
async function tlsFront(
  inner: Registry,
  tls: { key: Buffer; cert: Buffer },
): Promise<{ url: string; connections: () => number; requests: () => number; close(): void }> {
  const innerUrl = new URL(inner.url);
  let connections = 0;
  let requests = 0;
  let url = "";
  const server = https.createServer({ ...tls, keepAliveTimeout: 60_000 }, (req, res) => {
    requests++;
    const up = http.request(
      {
        host: innerUrl.hostname,
        port: innerUrl.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (upRes) => {
        const chunks: Buffer[] = [];
        upRes.on("data", (chunk: Buffer) => chunks.push(chunk));
        upRes.on("end", () => {
          let body = Buffer.concat(chunks);
          if (String(upRes.headers["content-type"]).includes("json"))
            body = Buffer.from(body.toString().replaceAll(inner.url, url));
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
  });
  server.on("secureConnection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  url = `https://localhost:${typeof address === "object" && address !== null ? address.port : 0}/`;
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

describe.skipIf(unavailable !== "")("registry mode: connections and lookups per install", () => {
  let dir: string;
  let registry: Registry;
  let front: Awaited<ReturnType<typeof tlsFront>>;
  let fixture: Fixture;
  let ca: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "safe-npm-tunnels-"));
    const tls = certificates(dir);
    ca = tls.ca;
    fixture = bench.generateFixture({ names: 40, topLevel: 10 });
    registry = await bench.startRegistry(fixture);
    front = await tlsFront(registry, tls);
  });
  afterAll(async () => {
    front?.close();
    await registry?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const worlds: World[] = [];
  afterAll(() => {
    for (const world of worlds) world.dispose();
  });

  /** `safe-npm --verbose <tool> install`; the proxy's counts from its report. */
  async function install(
    tool: string[],
    npmrc: string,
    env: Record<string, string> = {},
  ): Promise<{ world: World; tunnels: number; clients: number; lookups: number }> {
    const world = makeWorld({
      projectInHome: true,
      packageJson: { dependencies: fixture.dependencies },
    });
    worlds.push(world);
    copyFileSync(ca, join(world.project, "ca.pem"));
    writeFileSync(
      join(world.project, ".npmrc"),
      `registry=${front.url}\ncafile=${join(world.project, "ca.pem")}\n${npmrc}` +
        "audit=false\nfund=false\nupdate-notifier=false\n",
    );
    nameRegistryInHome(world, front.url);
    const r = await world.run(["--verbose", ...tool], { env });
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    const port = new URL(front.url).port;
    const allowed = new RegExp(`allowed (\\d+) to localhost:${port}:`).exec(r.stderr);
    const inside = /(\d+) connections? from the sandbox, (\d+) name lookups?/.exec(r.stderr);
    expect(allowed, r.stderr).not.toBeNull();
    expect(inside, r.stderr).not.toBeNull();
    return {
      world,
      tunnels: Number(allowed?.[1]),
      clients: Number(inside?.[1]),
      lookups: Number(inside?.[2]),
    };
  }

  it("npm keeps its tunnels: every request over at most maxsockets tunnels, one name lookup", async () => {
    const before = { requests: front.requests(), connections: front.connections() };
    const {
      world,
      tunnels: forwarded,
      clients,
      lookups,
    } = await install(["install"], "maxsockets=4\n");
    // A tarball per installed package and a packument per name: dozens of requests…
    const lock = JSON.parse(readFileSync(join(world.project, "package-lock.json"), "utf8")) as {
      packages: Record<string, unknown>;
    };
    const installed = Object.keys(lock.packages).filter((k) => k.startsWith("node_modules/"));
    expect(installed.length).toBeGreaterThanOrEqual(20);
    const requests = front.requests() - before.requests;
    expect(requests).toBeGreaterThan(installed.length);
    // …each forwarded by the gateway, over the few tunnels npm keeps open (one per request if
    // anything on the path closed them) and as few upstream connections.
    expect(forwarded).toBe(requests);
    expect(clients).toBeGreaterThanOrEqual(1);
    expect(clients).toBeLessThanOrEqual(4);
    expect(front.connections() - before.connections).toBeLessThanOrEqual(4);
    // Every upstream connection dialled `localhost`: one lookup for all of them.
    expect(lookups).toBe(1);
  }, 240_000);

  it("pnpm 10 opens a tunnel per request; the gateway's upstream pool does not; still one lookup", async () => {
    // pnpm 10's proxy agent (https-proxy-agent without keepAlive, maxsockets not read) closes
    // each tunnel after one response: the same count the test above would see if the bridge or
    // the proxy closed tunnels. Upstream, the gateway reuses its connections: at most pnpm's
    // network concurrency (16) of them, where an opaque tunnel would cost one per request.
    const bin = mkdtempSync(join(dir, "pm-bin-"));
    symlinkSync(join(repoRoot, "node_modules", "pnpm", "bin", "pnpm.cjs"), join(bin, "pnpm"));
    const before = { requests: front.requests(), connections: front.connections() };
    const path = `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`;
    const {
      tunnels: forwarded,
      clients,
      lookups,
    } = await install(["pnpm", "install"], "", { PATH: path });
    const requests = front.requests() - before.requests;
    expect(requests).toBeGreaterThan(20);
    expect(forwarded).toBe(requests);
    expect(clients).toBe(requests);
    const upstream = front.connections() - before.connections;
    expect(upstream).toBeLessThanOrEqual(16);
    expect(upstream).toBeLessThan(requests);
    expect(lookups).toBe(1);
  }, 240_000);
});
