import {
  copyFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { repoRoot } from "../paths.js";
import { TOOL_BINS } from "../tools.js";
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

interface Front {
  url: string;
  connections(): number;
  requests(): number;
  close(): void;
}
/** bench/tlsfixture.mjs: a throw-away CA and localhost leaf, and an https front (plain ESM). */
const tlsFixture = (await import(
  pathToFileURL(join(repoRoot, "bench", "tlsfixture.mjs")).href
)) as {
  makeCertificates(
    dir: string,
    name: string,
  ): { caPath: string; ca: string; key: string; cert: string };
  startFront(
    innerUrl: string,
    tls: { key: string; cert: string } | null,
    options: { keepAliveTimeout: number },
  ): Promise<Front>;
};

describe.skipIf(unavailable !== "")("registry mode: connections and lookups per install", () => {
  let dir: string;
  let registry: Registry;
  let front: Front;
  let fixture: Fixture;
  let ca: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "safe-npm-tunnels-"));
    const tls = tlsFixture.makeCertificates(dir, "test CA");
    ca = tls.caPath;
    fixture = bench.generateFixture({ names: 40, topLevel: 10 });
    registry = await bench.startRegistry(fixture);
    // Counts the TLS connections it accepts: each one a tunnel through the proxy.
    front = await tlsFixture.startFront(registry.url, tls, { keepAliveTimeout: 60_000 });
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
    symlinkSync(TOOL_BINS.pnpm, join(bin, "pnpm"));
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
