/**
 * The registry gateway through the real CLI: each package manager installs from an https
 * registry on localhost with its own CA (trusted on the host through the user's `cafile`), so
 * the manager inside must trust safe-npm's local CA to get anything; the dependency's
 * postinstall then tries to publish (PUT) and log in (POST) to that registry with a token of its
 * own. The control — the same probe with the registry reached through an opaque tunnel, as
 * before the gateway — proves the attack reaches the registry when nothing stops it.
 *
 * The rules are the registry rules of src/network/requestpolicy.ts (install mode: reads only).
 */
import { createHash } from "node:crypto";
import {
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import type http from "node:http";
import { join } from "node:path";
import { rootCertificates } from "node:tls";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { TestServer } from "../unit/network/helpers.js";
import { httpsServer, makePki, type Pki } from "../unit/network/tls-helpers.js";
import { nodePrefix, TOOL_BINS, versionOf } from "./tools.js";
import { FIXTURE_SCRIPTS, makeWorld, type RunResult, show, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");
const packed = inject("packedFixtures");

interface Manager {
  name: string;
  tool: string;
  /** What `<tool>` on PATH points to; null: the host's own npm. */
  bin: string | null;
  packageJson: Record<string, unknown>;
  files: (registry: string) => Record<string, string>;
}

const MANAGERS: Manager[] = [
  { name: "npm", tool: "npm", bin: null, packageJson: {}, files: () => ({}) },
  {
    name: "pnpm 10",
    tool: "pnpm",
    bin: TOOL_BINS.pnpm,
    packageJson: {
      packageManager: `pnpm@${versionOf("pnpm")}`,
      pnpm: { onlyBuiltDependencies: ["reg-probe"] },
    },
    files: () => ({}),
  },
  {
    name: "pnpm 12 (native)",
    tool: "pnpm",
    bin: TOOL_BINS.pnpmLatest,
    // No packageManager field: pnpm 12 would fetch that pnpm from the registry first.
    packageJson: {},
    files: () => ({ "pnpm-workspace.yaml": "allowBuilds:\n  reg-probe: true\n" }),
  },
  {
    name: "yarn 1",
    tool: "yarn",
    bin: TOOL_BINS.yarn1,
    packageJson: { packageManager: `yarn@${versionOf("yarn")}` },
    files: () => ({}),
  },
  {
    name: "yarn 4",
    tool: "yarn",
    bin: TOOL_BINS.yarn4,
    packageJson: {
      packageManager: `yarn@${versionOf("@yarnpkg/cli-dist")}`,
      dependenciesMeta: { "reg-probe": { built: true } },
    },
    files: (registry) => ({
      ".yarnrc.yml": [
        "nodeLinker: node-modules",
        "enableTelemetry: false",
        `npmRegistryServer: "${registry}"`,
        "",
      ].join("\n"),
    }),
  },
  {
    name: "bun",
    tool: "bun",
    bin: TOOL_BINS.bun,
    packageJson: { packageManager: `bun@${versionOf("bun")}`, trustedDependencies: ["reg-probe"] },
    files: () => ({}),
  },
];

interface Logged {
  method: string;
  url: string;
}

/** An https registry serving reg-probe; it answers 201 to anything that is not a read. */
async function httpsRegistry(pki: Pki, log: Logged[]): Promise<TestServer> {
  const tarball = readFileSync(join(packed, "reg-probe-1.0.0.tgz"));
  const integrity = `sha512-${createHash("sha512").update(tarball).digest("base64")}`;
  const shasum = createHash("sha1").update(tarball).digest("hex");
  let port = 0;
  const server = await httpsServer(pki, (req: http.IncomingMessage, res: http.ServerResponse) => {
    log.push({ method: req.method ?? "", url: req.url ?? "" });
    req.resume();
    const base = `https://localhost:${port}`;
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.statusCode = 201;
      res.end("{}");
    } else if (req.url === "/reg-probe") {
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          name: "reg-probe",
          "dist-tags": { latest: "1.0.0" },
          time: { created: "2020-01-01T00:00:00.000Z", "1.0.0": "2020-01-01T00:00:00.000Z" },
          versions: {
            "1.0.0": {
              name: "reg-probe",
              version: "1.0.0",
              scripts: { postinstall: "node reg-probe.cjs" },
              dist: { tarball: `${base}/reg-probe/-/reg-probe-1.0.0.tgz`, integrity, shasum },
            },
          },
        }),
      );
    } else if (req.url === "/reg-probe/-/reg-probe-1.0.0.tgz") {
      res.setHeader("content-type", "application/octet-stream");
      res.end(tarball);
    } else {
      res.statusCode = 404;
      res.end("{}");
    }
  });
  port = server.port;
  return server;
}

/**
 * How the host trusts the registry's CA: the user's ~/.npmrc `cafile` (which replaces node's
 * list for npm, and which bun reads too), the project's .npmrc `cafile` (read before the
 * user's), or `NODE_EXTRA_CA_CERTS` (added to node's list).
 */
type Trust = "cafile" | "project cafile" | "NODE_EXTRA_CA_CERTS" | "none";

/** A world whose registry is the https fixture, trusted on the host as `trust` says. */
function registryWorld(manager: Manager, pki: Pki, port: number, trust: Trust = "cafile"): World {
  // A name, as registries have: clients behind a proxy check an IP registry's certificate
  // against "localhost" (they connect TLS over the tunnel without the host name).
  const registry = `https://localhost:${port}/`;
  const world = makeWorld({
    projectInHome: true,
    packageJson: { dependencies: { "reg-probe": "1.0.0" }, ...manager.packageJson },
  });
  // With one of the roots node ships, as a system bundle named as cafile has them all.
  const caFile = join(world.dir, "registry-ca.pem");
  writeFileSync(caFile, `${pki.ca.trim()}\n${rootCertificates[0]}\n`);
  writeFileSync(
    join(world.home, ".npmrc"),
    `${trust === "cafile" ? `cafile=${caFile}\n` : ""}registry=${registry}\n`,
  );
  if (trust === "NODE_EXTRA_CA_CERTS") world.env.NODE_EXTRA_CA_CERTS = caFile;
  writeFileSync(
    join(world.project, ".npmrc"),
    `${trust === "project cafile" ? `cafile=${caFile}\n` : ""}registry=${registry}\naudit=false\nfund=false\nupdate-notifier=false\n`,
  );
  for (const [rel, text] of Object.entries(manager.files(registry))) {
    writeFileSync(join(world.project, rel), text);
  }
  writeFileSync(join(world.project, "registry-targets.json"), JSON.stringify({ port, ca: pki.ca }));
  return world;
}

function toolPath(world: World, manager: Manager): string {
  const dir = join(world.dir, "pm-bin");
  mkdirSync(dir, { recursive: true });
  if (manager.bin !== null) symlinkSync(manager.bin, join(dir, manager.tool));
  return `${dir}:${world.env.PATH}`;
}

function probeReport(world: World): Record<string, string> {
  const file = join(world.project, ".probe", "registry.json");
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Record<string, string>) : {};
}

describe.skipIf(unavailable !== "")("registry gateway", () => {
  let pki: Pki;
  let registry: TestServer;
  const log: Logged[] = [];

  beforeAll(async () => {
    pki = await makePki();
    registry = await httpsRegistry(pki, log);
  });
  afterAll(async () => {
    await registry?.close();
  });

  describe("control: the registry is a way out when nothing looks inside the tunnel", () => {
    let world: World;
    afterAll(() => world?.dispose());

    it("the probe's PUT and POST reach the registry through an opaque tunnel", async () => {
      world = registryWorld(MANAGERS[0] as Manager, pki, registry.port);
      // Installed without running scripts, then the probe run by hand in registry mode: `exec`
      // is not an install, so the gateway is off and the registry is a plain CONNECT tunnel.
      const install = await world.run(["install", "--ignore-scripts"]);
      expect(install.exitCode, show(install)).toBe(0);
      const before = log.length;
      const run = await world.run([
        "--network",
        "registry",
        "exec",
        "--",
        "node",
        "node_modules/reg-probe/reg-probe.cjs",
      ]);
      expect(run.exitCode, show(run)).toBe(0);
      const report = probeReport(world);
      expect(report.proxy).toMatch(/^http:\/\/127\.0\.0\.1:/);
      expect(report).toMatchObject({ publish: "status 201", login: "status 201" });
      const seen = log.slice(before).map((l) => `${l.method} ${l.url}`);
      expect(seen).toContain("PUT /reg-probe");
      expect(seen).toContain("POST /-/v1/login");
    });
  });

  describe("XDG_STATE_HOME inside the project: the local CA is kept elsewhere", () => {
    let world: World;
    afterAll(() => world?.dispose());

    it("the install goes through the gateway; a preinstall finds no CA key in the project", async () => {
      const manager = MANAGERS[0] as Manager;
      world = registryWorld(manager, pki, registry.port);
      const state = join(world.project, ".state");
      world.env.XDG_STATE_HOME = state;
      mkdirSync(state, { recursive: true });
      // Control: what lies under the state dir is readable from inside (the canary comes back).
      writeFileSync(join(state, "canary.txt"), "CANARY");
      writeFileSync(
        join(world.project, "hunt.cjs"),
        `const fs = require("fs"), path = require("path");
const found = { canary: null, keys: [], files: [] };
const walk = (dir) => { for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
  const p = path.join(dir, e.name);
  if (e.isDirectory()) walk(p);
  else { found.files.push(path.relative(".state", p)); const t = fs.readFileSync(p, "utf8");
    if (t.includes("PRIVATE KEY")) found.keys.push(p); if (e.name === "canary.txt") found.canary = t; }
} };
walk(".state");
fs.mkdirSync(".probe", { recursive: true });
fs.writeFileSync(".probe/ca-hunt.json", JSON.stringify(found));
`,
      );
      writeFileSync(
        join(world.project, "package.json"),
        JSON.stringify({
          name: "app",
          version: "1.0.0",
          private: true,
          dependencies: { "reg-probe": "1.0.0" },
          allowScripts: FIXTURE_SCRIPTS,
          scripts: { preinstall: "node hunt.cjs" },
        }),
      );
      const before = log.length;
      const install = await world.run(["npm", "install"]);
      expect(install.exitCode, show(install)).toBe(0);
      const hunt = JSON.parse(readFileSync(join(world.project, ".probe", "ca-hunt.json"), "utf8"));
      expect(hunt.canary, show(install)).toBe("CANARY");
      expect(hunt.keys).toEqual([]);
      expect(hunt.files).toEqual(["canary.txt"]);
      expect(install.stderr).toContain(
        `safe-npm: the local CA is kept in ${join(world.home, ".local", "state", "safe-npm", "ca")}, not in ${join(state, "safe-npm", "ca")}`,
      );
      expect(
        existsSync(join(world.home, ".local", "state", "safe-npm", "ca", "local-ca.pem")),
      ).toBe(true);
      // Still the gateway: the registry rules saw the dependency's publish and refused it.
      expect(probeReport(world)).toMatchObject({ read: "status 200", publish: "status 403" });
      expect(log.slice(before).every((l) => l.method === "GET" || l.method === "HEAD")).toBe(true);
    });
  });

  describe("npm installs through the gateway when only npm's global config names and trusts the registry", () => {
    // `registry` and `cafile` in <node prefix>/etc/npmrc, as company images and nvm users set
    // them: bare npm reaches and trusts the registry by them, so registry mode must too.
    let world: World;
    afterAll(() => world?.dispose());

    it("allows the global npmrc's registry, trusts it by its cafile, and npm inside trusts the local CA", async () => {
      const npm = MANAGERS.find((m) => m.name === "npm") as Manager;
      world = registryWorld(npm, pki, registry.port, "none");
      // Only the global config names the registry.
      writeFileSync(join(world.home, ".npmrc"), "update-notifier=false\n");
      writeFileSync(join(world.project, ".npmrc"), "audit=false\nfund=false\n");
      // A node of its own prefix first on PATH, as a tarball install in /opt or ~/.local is.
      const prefix = nodePrefix(
        world.dir,
        `registry=https://localhost:${registry.port}/\ncafile=${join(world.dir, "registry-ca.pem")}\n`,
      );
      const PATH = `${join(prefix, "bin")}:${world.env.PATH}`;
      // Control: bare npm under that node reaches and trusts the registry by the global config.
      const bare = await execa("npm", ["view", "reg-probe", "version"], {
        cwd: world.project,
        env: { ...world.env, PATH },
        extendEnv: false,
        reject: false,
        stdin: "ignore",
      });
      expect(String(bare.stdout).trim(), String(bare.stderr)).toBe("1.0.0");
      const before = log.length;
      const install = await world.run(["npm", "install"], { env: { PATH } });
      expect(install.exitCode, show(install)).toBe(0);
      expect(install.stderr).not.toMatch(/failed|not trusted|UNABLE_TO_VERIFY|SELF_SIGNED/);
      expect(log.slice(before).map((l) => l.url)).toContain("/reg-probe/-/reg-probe-1.0.0.tgz");
      // Still the gateway: the dependency's publish was seen in clear and refused.
      expect(probeReport(world)).toMatchObject({ read: "status 200", publish: "status 403" });

      // The same file as a hard link of a project's file: a sandboxed run there could rewrite
      // it. Not taken as the user's, and said.
      const global = join(prefix, "etc", "npmrc");
      const shared = join(world.project, "company.npmrc");
      writeFileSync(shared, readFileSync(global, "utf8"));
      rmSync(global);
      linkSync(shared, global);
      const dry = await world.run(["--dry-run", "npm", "install"], { env: { PATH } });
      expect(dry.stderr).toContain(
        `safe-npm: npm's global config ${global} is not taken as yours (it has other names (hard links))`,
      );
      expect(dry.stdout).not.toContain(`localhost:${registry.port}`);
    });
  });

  describe("npm installs through the gateway when NODE_EXTRA_CA_CERTS trusts the registry and a cafile names another CA", () => {
    // node read NODE_EXTRA_CA_CERTS at start-up itself, and the cafile's CA is added upstream:
    // a context given any CA starts from node's shipped roots alone, without that file's.
    let world: World;
    afterAll(() => world?.dispose());

    it("trusts the registry by NODE_EXTRA_CA_CERTS all the same", async () => {
      const npm = MANAGERS.find((m) => m.name === "npm") as Manager;
      world = registryWorld(npm, pki, registry.port, "NODE_EXTRA_CA_CERTS");
      const other = await makePki();
      const otherCa = join(world.dir, "other-ca.pem");
      writeFileSync(otherCa, other.ca);
      writeFileSync(
        join(world.home, ".npmrc"),
        `${readFileSync(join(world.home, ".npmrc"), "utf8")}cafile=${otherCa}\n`,
      );
      const before = log.length;
      const install = await world.run(["npm", "install"], {
        env: { PATH: toolPath(world, npm) },
      });
      expect(install.exitCode, show(install)).toBe(0);
      expect(install.stderr).not.toMatch(/not trusted|UNABLE_TO_VERIFY|SELF_SIGNED/);
      expect(log.slice(before).map((l) => l.url)).toContain("/reg-probe/-/reg-probe-1.0.0.tgz");
    });
  });

  describe("npm installs through the gateway when the safe-npm command moved NODE_EXTRA_CA_CERTS aside", () => {
    // Node then started without the registry's CA (nodeca.ts): the proxy adds it upstream.
    let world: World;
    afterAll(() => world?.dispose());

    it("trusts the registry by the user's NODE_EXTRA_CA_CERTS all the same", async () => {
      const npm = MANAGERS.find((m) => m.name === "npm") as Manager;
      world = registryWorld(npm, pki, registry.port, "NODE_EXTRA_CA_CERTS");
      const before = log.length;
      const install = await world.run(["npm", "install"], {
        env: { PATH: toolPath(world, npm) },
        asInstalled: true,
      });
      expect(install.exitCode, show(install)).toBe(0);
      expect(install.stderr).not.toMatch(/not trusted|UNABLE_TO_VERIFY|SELF_SIGNED/);
      expect(log.slice(before).map((l) => l.url)).toContain("/reg-probe/-/reg-probe-1.0.0.tgz");
      expect(probeReport(world)).toMatchObject({ read: "status 200", publish: "status 403" });
    });
  });

  const cases = MANAGERS.flatMap((manager) =>
    (["cafile", "project cafile", "NODE_EXTRA_CA_CERTS"] as const).map((trust) => ({
      manager,
      trust,
    })),
  );
  for (const { manager, trust } of cases) {
    describe(`${manager.name} installs through the gateway (host trusts the registry by ${trust})`, () => {
      let world: World;
      let install: RunResult;
      let seen: Logged[];

      beforeAll(async () => {
        world = registryWorld(manager, pki, registry.port, trust);
        const before = log.length;
        install = await world.run([manager.tool, "install"], {
          env: { PATH: toolPath(world, manager) },
        });
        seen = log.slice(before);
      });
      afterAll(() => world?.dispose());

      it("installs from the https registry, trusting safe-npm's local CA inside", () => {
        expect(install.exitCode, show(install)).toBe(0);
        expect(install.stderr).not.toContain("did not accept safe-npm's local CA");
        expect(
          existsSync(join(world.project, "node_modules", "reg-probe", "package.json")),
          show(install),
        ).toBe(true);
        expect(seen.map((l) => l.url)).toContain("/reg-probe/-/reg-probe-1.0.0.tgz");
        // The CA's key stayed on the host, in the user's state dir.
        const caDir = join(world.home, ".local", "state", "safe-npm", "ca");
        expect(existsSync(join(caDir, "local-ca.pem"))).toBe(true);
      });

      it("refuses the dependency's publish and login: 403 inside, nothing but reads upstream", () => {
        const report = probeReport(world);
        expect(report, show(install)).toMatchObject({
          read: "status 200",
          publish: "status 403",
          login: "status 403",
        });
        expect(seen.filter((l) => l.method !== "GET" && l.method !== "HEAD")).toEqual([]);
        expect(install.stderr).toMatch(
          new RegExp(
            `safe-npm: refused 2 requests to the registry localhost:${registry.port}: PUT /reg-probe \\(.*\\); POST /-/v1/login \\(`,
          ),
        );
        expect(install.stderr).not.toContain("PROBE-OWN-TOKEN");
      });

      it("gives node inside the local CA and the user's own, not again the roots node ships", () => {
        // The cafile and NODE_EXTRA_CA_CERTS hold the registry's CA and a shipped root. npm's
        // cafile replaces node's list, so the cafile inside keeps both; NODE_EXTRA_CA_CERTS, read
        // by every node process, only what node lacks.
        const report = probeReport(world);
        expect(report.extraCaShippedRoots, show(install)).toBe(0);
        if (trust === "NODE_EXTRA_CA_CERTS") {
          // npm's global config on this machine may name a cafile of its own: then that too.
          expect(report.extraCa).toMatch(/^\/run\/safe-npm\/ca(-node)?\.pem$/);
        } else {
          expect(report.extraCa).toBe("/run/safe-npm/ca-node.pem");
          expect(report.extraCaCertificates).toBe(2);
        }
      });
    });
  }
});
