/**
 * Toolchains resolved on the host and bound read-only (issue 4, "Toolchains"): corepack shims
 * (a manager corepack has not prepared fails without any download from inside; one prepared
 * outside with `corepack install` runs inside from a read-only COREPACK_HOME), and node installed
 * the way fnm, volta and mise lay it out (nvm is a cell of managers.test.ts).
 *
 * Hermetic: corepack's registry is one started here on 127.0.0.1, serving the pnpm package of
 * this repository's node_modules (`npm pack`ed); the projects' registry is that one or a closed
 * port. Each node is a copy of the node running the tests.
 *
 * A case that fails because of a bug outside the tests is run as `it.fails` with the bug in its
 * name (`KNOWN BUG: …`): it turns red once the bug is fixed, and must then become an `it`.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { httpServer, type TestServer } from "../unit/network/helpers.js";
import { repoRoot } from "./paths.js";
import { expectContained, plantTargets, readReports } from "./probe.js";
import { versionOf } from "./tools.js";
import {
  makeWorld,
  nameRegistryInHome,
  type RunResult,
  SECRETS,
  show,
  type World,
} from "./world.js";

const unavailable = inject("sandboxUnavailable");
const packed = inject("packedFixtures");

/** The probe fixture (fixtures/packages/probe), a dependency whose install scripts attack. */
const PROBE = "file:vendor/probe-1.0.0.tgz";
const vendorProbe = { packed, files: ["probe-1.0.0.tgz"] };

const PNPM_VERSION = versionOf("pnpm");

/** The `corepack` that comes with the node running the tests (Node 25 no longer ships one). */
const corepackBin =
  (process.env.PATH ?? "")
    .split(delimiter)
    .map((dir) => join(dir, "corepack"))
    .find((file) => existsSync(file)) ?? null;

/** A secret that is neither in makeWorld's list nor in any toolchain's directory. */
const KEYRING_SECRET = "GNOME-KEYRING-SECRET";

/** Files of the host that no command inside may read. */
function secretFiles(world: World): string[] {
  return [
    join(world.home, ".ssh", "id_rsa"),
    join(world.home, ".aws", "credentials"),
    join(world.home, ".config", "gh", "hosts.yml"),
    join(world.home, ".local", "share", "keyrings", "login.keyring"),
    join(world.sibling, "secret.txt"),
    world.hostTmpFile,
  ];
}

function write(path: string, content: string, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content, { mode });
}

/** The host node's install prefix and whether it ships headers (`include/node/node.h`). */
const hostNode = (() => {
  const prefix = dirname(dirname(realpathSync(process.execPath)));
  return { prefix, headers: existsSync(join(prefix, "include", "node", "node.h")) };
})();

/**
 * A node install at `prefix` as a version manager unpacks the official tarball: `bin/node` (a
 * copy of the node running the tests) and `include/node` (the host node's headers, linked).
 */
function installNode(prefix: string): string {
  const node = join(prefix, "bin", "node");
  mkdirSync(dirname(node), { recursive: true });
  copyFileSync(process.execPath, node);
  execFileSync("chmod", ["755", node]);
  if (hostNode.headers) {
    mkdirSync(join(prefix, "include"), { recursive: true });
    symlinkSync(join(hostNode.prefix, "include", "node"), join(prefix, "include", "node"));
  }
  return node;
}

// ---------------------------------------------------------------------------------------------
// corepack

/** Serves the pnpm package to corepack: packument (with `time`), version document, tarball. */
function pnpmRegistry(tarball: Buffer, port: () => number): Promise<TestServer> {
  const integrity = `sha512-${createHash("sha512").update(tarball).digest("base64")}`;
  const shasum = createHash("sha1").update(tarball).digest("hex");
  const file = `pnpm-${PNPM_VERSION}.tgz`;
  const manifest = (): Record<string, unknown> => ({
    name: "pnpm",
    version: PNPM_VERSION,
    bin: { pnpm: "bin/pnpm.cjs", pnpx: "bin/pnpx.cjs" },
    dist: { tarball: `http://127.0.0.1:${port()}/pnpm/-/${file}`, integrity, shasum },
  });
  return httpServer((req, res) => {
    const json = (body: unknown): void => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(body));
    };
    if (req.url === "/pnpm") {
      json({
        name: "pnpm",
        "dist-tags": { latest: PNPM_VERSION },
        time: { created: "2020-01-01T00:00:00.000Z", [PNPM_VERSION]: "2020-01-01T00:00:00.000Z" },
        versions: { [PNPM_VERSION]: manifest() },
      });
    } else if (req.url === `/pnpm/${PNPM_VERSION}` || req.url === "/pnpm/latest") {
      json(manifest());
    } else if (req.url === `/pnpm/-/${file}`) {
      res.end(tarball);
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
}

interface CorepackWorld {
  world: World;
  /** `corepack enable --install-directory` made the pnpm shim here (first on PATH). */
  shims: string;
  corepackHome: string;
  /** Environment for safe-npm (and for corepack outside). */
  env: Record<string, string>;
  /** A user settings file passing COREPACK_NPM_REGISTRY into the sandbox (for `--config`). */
  passRegistry: string;
}

/**
 * A project whose `packageManager` is this repository's pnpm, reached through a corepack shim,
 * with COREPACK_HOME at its default place in the home (`~/.cache/node/corepack`), made or not.
 */
function corepackWorld(
  registry: TestServer,
  options: { createHome: boolean; probe: boolean },
): CorepackWorld {
  const world = makeWorld({
    projectInHome: true,
    packageJson: {
      packageManager: `pnpm@${PNPM_VERSION}`,
      ...(options.probe
        ? {
            dependencies: { probe: PROBE },
            // pnpm 10 runs no dependency scripts unless allowed (a file: dep by its full spec).
            pnpm: { onlyBuiltDependencies: [`probe@${PROBE}`] },
          }
        : {}),
    },
    ...(options.probe ? { vendor: vendorProbe } : {}),
  });
  write(join(world.home, ".local", "share", "keyrings", "login.keyring"), KEYRING_SECRET);
  if (options.probe) plantTargets(world);
  const shims = join(world.dir, "corepack-shims");
  mkdirSync(shims);
  const corepackHome = join(world.home, ".cache", "node", "corepack");
  if (options.createHome) mkdirSync(corepackHome, { recursive: true });
  const env = {
    PATH: `${shims}${delimiter}${world.env.PATH}`,
    COREPACK_HOME: corepackHome,
    COREPACK_NPM_REGISTRY: `http://127.0.0.1:${registry.port}`,
  };
  execFileSync(corepackBin as string, ["enable", "--install-directory", shims, "pnpm"], {
    env: { ...world.env, ...env },
  });
  const passRegistry = join(world.dir, "pass-corepack-registry.json");
  writeFileSync(passRegistry, JSON.stringify({ env: ["COREPACK_NPM_REGISTRY"] }));
  return { world, shims, corepackHome, env, passRegistry };
}

/** The registry requests made while `fn` ran (nothing else talks to the registry meanwhile). */
async function requestsDuring<T>(
  registry: TestServer,
  fn: () => Promise<T>,
): Promise<{ result: T; urls: string[] }> {
  const before = registry.requests.length;
  const result = await fn();
  return { result, urls: registry.requests.slice(before).map((r) => r.url) };
}

describe.skipIf(unavailable !== "" || corepackBin === null)("corepack shims", () => {
  let packDir: string;
  let registry: TestServer;

  beforeAll(async () => {
    packDir = mkdtempSync(join(tmpdir(), "safe-npm-pnpm-pack-"));
    execFileSync(
      "npm",
      [
        "pack",
        "--ignore-scripts",
        "--silent",
        "--pack-destination",
        packDir,
        join(repoRoot, "node_modules", "pnpm"),
      ],
      {
        cwd: packDir,
        env: {
          ...process.env,
          npm_config_registry: "http://127.0.0.1:9/",
          npm_config_update_notifier: "false",
        },
        stdio: ["ignore", "ignore", "inherit"],
      },
    );
    const tarball = readFileSync(join(packDir, `pnpm-${PNPM_VERSION}.tgz`));
    registry = await pnpmRegistry(tarball, () => registry.port);
  });
  afterAll(async () => {
    await registry?.close();
    if (packDir) rmSync(packDir, { recursive: true, force: true });
  });

  describe("a package manager corepack has not prepared (COREPACK_HOME exists, without pnpm)", () => {
    let cw: CorepackWorld;
    // With COREPACK_NPM_REGISTRY passed in and the registry allowed, an attempt would be seen.
    let visible: { result: RunResult; urls: string[] };
    // The user's plain environment: corepack's default registry (the proxy would refuse it).
    let plain: { result: RunResult; urls: string[] };

    beforeAll(async () => {
      cw = corepackWorld(registry, { createHome: true, probe: false });
      writeFileSync(
        join(cw.world.project, ".npmrc"),
        `registry=http://127.0.0.1:${registry.port}/\naudit=false\nfund=false\nupdate-notifier=false\n`,
      );
      nameRegistryInHome(cw.world, `http://127.0.0.1:${registry.port}/`);
      // exec skips safe-npm's own check: what stops the download is corepack's, inside.
      visible = await requestsDuring(registry, () =>
        cw.world.run(
          ["--config", cw.passRegistry, "--network", "registry", "exec", "--", "pnpm", "--version"],
          {
            env: cw.env,
          },
        ),
      );
      plain = await requestsDuring(registry, () =>
        cw.world.run(["install"], {
          env: { PATH: cw.env.PATH as string, COREPACK_HOME: cw.corepackHome },
        }),
      );
    });
    afterAll(() => cw?.world.dispose());

    it("inside, corepack cannot download: a shim run by exec fails with its network-disabled error, and nothing is fetched", () => {
      const r = visible.result;
      expect(r.exitCode, show(r)).not.toBe(0);
      expect(r.stderr, show(r)).toContain("Network access disabled by the environment");
      expect(visible.urls).toEqual([]);
      expect(r.stderr).not.toMatch(/blocked \d+ connection/);
      expect(readdirSync(cw.corepackHome)).toEqual([]);
      expect(existsSync(join(cw.world.project, "node_modules"))).toBe(false);
    });

    it("`safe-npm install` stops before the sandbox starts, and no connection is attempted", () => {
      const r = plain.result;
      expect(r.exitCode, show(r)).toBe(125);
      expect(plain.urls).toEqual([]);
      expect(r.stderr, show(r)).not.toMatch(/blocked \d+ connection/);
      expect(readdirSync(cw.corepackHome)).toEqual([]);
    });

    it("the error names the manager and says to prepare it outside", () => {
      for (const r of [plain.result]) {
        expect(r.stderr, show(r)).toContain(`pnpm@${PNPM_VERSION}`);
        expect(r.stderr, show(r)).toContain("corepack install");
        expect(r.stderr, show(r)).not.toMatch(/^\s+at /m);
      }
    });
  });

  describe("a package manager corepack has not prepared, COREPACK_HOME not made yet (a fresh `corepack enable`)", () => {
    let cw: CorepackWorld;
    let visible: { result: RunResult; urls: string[] };

    beforeAll(async () => {
      cw = corepackWorld(registry, { createHome: false, probe: false });
      writeFileSync(
        join(cw.world.project, ".npmrc"),
        `registry=http://127.0.0.1:${registry.port}/\naudit=false\nfund=false\nupdate-notifier=false\n`,
      );
      nameRegistryInHome(cw.world, `http://127.0.0.1:${registry.port}/`);
      visible = await requestsDuring(registry, () =>
        cw.world.run(["--config", cw.passRegistry, "install"], { env: cw.env }),
      );
    });
    afterAll(() => cw?.world.dispose());

    it("`safe-npm install` fails without downloading from inside", () => {
      const r = visible.result;
      expect(r.exitCode, show(r)).toBe(125);
      expect(visible.urls, show(r)).toEqual([]);
      expect(r.stderr, show(r)).toContain(`✗ pnpm@${PNPM_VERSION} is not in corepack's cache`);
    });
  });

  describe("a package manager prepared outside with `corepack install`", () => {
    let cw: CorepackWorld;
    let prepare: string[];
    let install: { result: RunResult; urls: string[] };

    beforeAll(async () => {
      cw = corepackWorld(registry, { createHome: false, probe: true });
      // Outside, as the user would: corepack fetches pnpm from the test registry (no signature
      // on a package packed here, hence COREPACK_INTEGRITY_KEYS=0).
      // Asynchronously: the registry answers from this process.
      const prepared = await requestsDuring(registry, () =>
        execa(corepackBin as string, ["install"], {
          cwd: cw.world.project,
          env: { ...cw.world.env, ...cw.env, COREPACK_INTEGRITY_KEYS: "0" },
          extendEnv: false,
          reject: false,
          stdin: "ignore",
        }),
      );
      expect(prepared.result.exitCode, String(prepared.result.stderr)).toBe(0);
      prepare = prepared.urls;
      install = await requestsDuring(registry, () =>
        cw.world.run(["install"], {
          env: { PATH: cw.env.PATH as string, COREPACK_HOME: cw.corepackHome },
        }),
      );
    });
    afterAll(() => cw?.world.dispose());

    it("`safe-npm install` runs the prepared pnpm inside, downloads nothing, and contains the dependency's scripts", () => {
      const r = install.result;
      // The control: corepack outside got pnpm from the test registry, so the registry would
      // have seen a download from inside too.
      expect(prepare).toContain(`/pnpm/-/pnpm-${PNPM_VERSION}.tgz`);
      expect(existsSync(join(cw.corepackHome, "v1", "pnpm", PNPM_VERSION, ".corepack"))).toBe(true);
      expect(r.exitCode, show(r)).toBe(0);
      expect(install.urls).toEqual([]);
      expect(r.stderr).not.toMatch(/blocked \d+ connection/);
      expect(existsSync(join(cw.world.project, "pnpm-lock.yaml"))).toBe(true);
      expect(existsSync(join(cw.world.project, "node_modules", "probe", "package.json"))).toBe(
        true,
      );
      const reports = readReports(cw.world);
      expect(reports.map((rep) => rep.phase)).toEqual(["preinstall", "postinstall"]);
      for (const report of reports) expectContained(report, cw.world);
    });

    it("COREPACK_HOME is visible read-only inside, corepack's network is off, and the rest of the home is not visible", async () => {
      const secrets = secretFiles(cw.world);
      const r = await cw.world.run(
        [
          "--quiet",
          "exec",
          "--",
          "sh",
          "-c",
          [
            'echo "pnpm=$(pnpm --version)"',
            'echo "home=$COREPACK_HOME"',
            'echo "network=$COREPACK_ENABLE_NETWORK"',
            'echo "prepared=$(ls "$COREPACK_HOME/v1/pnpm")"',
            'touch "$COREPACK_HOME/v1/planted" 2>/dev/null && echo corepack=rw || echo corepack=ro',
            'for f in "$@"; do cat "$f" >/dev/null 2>&1 && echo "read $f"; done',
            "echo done",
          ].join("\n"),
          "sh",
          ...secrets,
        ],
        { env: { PATH: cw.env.PATH as string, COREPACK_HOME: cw.corepackHome } },
      );
      expect(r.exitCode, show(r)).toBe(0);
      expect(r.stdout.trim().split("\n")).toEqual([
        `pnpm=${PNPM_VERSION}`,
        `home=${cw.corepackHome}`,
        "network=0",
        `prepared=${PNPM_VERSION}`,
        "corepack=ro",
        "done",
      ]);
      expect(existsSync(join(cw.corepackHome, "v1", "planted"))).toBe(false);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// node from fnm, volta and mise

interface NodeLayout {
  name: string;
  /** Lays node out in the world the tool's way. */
  setup(world: World): {
    /** Put first on PATH. */
    pathDir: string;
    /** The node binary that must run (process.execPath inside). */
    node: string;
    /** Directories that must be visible and read-only inside. */
    readOnly: string[];
    /** npm_config_nodedir inside (node-gyp's headers), when it is asserted. */
    nodedir?: string | null;
    /** Host paths that must not be visible inside, besides the planted secrets. */
    hidden: string[];
    /** Further environment for safe-npm. */
    env: Record<string, string>;
  };
}

const LAYOUTS: NodeLayout[] = [
  {
    name: "fnm (a multishell symlink under $XDG_RUNTIME_DIR)",
    setup(world) {
      const fnmDir = join(world.home, ".local", "share", "fnm");
      const installation = join(fnmDir, "node-versions", "v20.0.0", "installation");
      const node = installNode(installation);
      const runtimeDir = join(world.dir, "run");
      const multishell = join(runtimeDir, "fnm_multishells", "123_456");
      mkdirSync(dirname(multishell), { recursive: true });
      symlinkSync(installation, multishell);
      return {
        pathDir: join(multishell, "bin"),
        node,
        readOnly: [installation],
        nodedir: hostNode.headers ? installation : null,
        hidden: [join(multishell, "bin", "node"), runtimeDir],
        env: {
          XDG_RUNTIME_DIR: runtimeDir,
          FNM_DIR: fnmDir,
          FNM_MULTISHELL_PATH: multishell,
        },
      };
    },
  },
  {
    name: "volta (a shim script in ~/.volta/bin)",
    setup(world) {
      const volta = join(world.home, ".volta");
      const image = join(volta, "tools", "image", "node", "20.0.0");
      const node = installNode(image);
      write(join(volta, "bin", "node"), `#!/bin/sh\nexec ${JSON.stringify(node)} "$@"\n`, 0o755);
      return {
        pathDir: join(volta, "bin"),
        node,
        readOnly: [join(volta, "bin"), image],
        hidden: [],
        env: { VOLTA_HOME: volta },
      };
    },
  },
  {
    name: "mise (installs/node/<version>)",
    setup(world) {
      const prefix = join(world.home, ".local", "share", "mise", "installs", "node", "20.0.0");
      const node = installNode(prefix);
      return {
        pathDir: join(prefix, "bin"),
        node,
        readOnly: [prefix],
        nodedir: hostNode.headers ? prefix : null,
        hidden: [],
        env: {},
      };
    },
  },
];

/** node -e: what this node sees inside. argv: read-only dirs, then "--", then unreadable paths. */
const INSPECT = `
const fs = require("node:fs");
const args = process.argv.slice(1);
const split = args.indexOf("--");
const attempt = (fn) => { try { fn(); return "ok"; } catch (e) { return e.code || String(e); } };
console.log(JSON.stringify({
  execPath: process.execPath,
  readOnly: Object.fromEntries(args.slice(0, split).map((d) => [d, {
    list: attempt(() => fs.readdirSync(d)),
    write: attempt(() => fs.writeFileSync(d + "/planted", "x")),
  }])),
  unreadable: Object.fromEntries(args.slice(split + 1).map((f) => [f, attempt(() => fs.readFileSync(f))])),
  project: attempt(() => fs.writeFileSync("toolchain-wrote.txt", "from " + process.execPath)),
  xdgRuntimeDir: process.env.XDG_RUNTIME_DIR ?? null,
  nodedir: process.env.npm_config_nodedir ?? null,
}));
`;

interface Inspection {
  execPath: string;
  readOnly: Record<string, { list: string; write: string }>;
  unreadable: Record<string, string>;
  project: string;
  xdgRuntimeDir: string | null;
  nodedir: string | null;
}

for (const layout of LAYOUTS) {
  describe.skipIf(unavailable !== "")(`node from ${layout.name}`, () => {
    let world: World;
    let laid: ReturnType<NodeLayout["setup"]>;
    let env: Record<string, string>;
    let install: RunResult;

    beforeAll(async () => {
      world = makeWorld({
        projectInHome: true,
        packageJson: { dependencies: { probe: PROBE } },
        vendor: vendorProbe,
      });
      write(join(world.home, ".local", "share", "keyrings", "login.keyring"), KEYRING_SECRET);
      plantTargets(world);
      laid = layout.setup(world);
      env = { ...laid.env, PATH: `${laid.pathDir}${delimiter}${world.env.PATH}` };
      install = await world.run(["install"], { env });
    });
    afterAll(() => world?.dispose());

    it("`safe-npm exec -- node -p process.execPath` runs that node", async () => {
      const r = await world.run(["--quiet", "exec", "--", "node", "-p", "process.execPath"], {
        env,
      });
      expect(r.exitCode, show(r)).toBe(0);
      expect(r.stdout.trim()).toBe(laid.node);
    });

    it("its install is read-only inside, the project writable, and nothing else of the home or host is visible", async () => {
      const unreadable = [...secretFiles(world), ...laid.hidden];
      const r = await world.run(
        ["--quiet", "exec", "--", "node", "-e", INSPECT, ...laid.readOnly, "--", ...unreadable],
        { env },
      );
      expect(r.exitCode, show(r)).toBe(0);
      const seen = JSON.parse(r.stdout) as Inspection;
      expect(seen.execPath).toBe(laid.node);
      for (const dir of laid.readOnly) {
        expect(seen.readOnly[dir], dir).toEqual({ list: "ok", write: "EROFS" });
        expect(existsSync(join(dir, "planted")), dir).toBe(false);
      }
      for (const file of unreadable) expect(seen.unreadable[file], file).toBe("ENOENT");
      expect(seen.project).toBe("ok");
      expect(readFileSync(join(world.project, "toolchain-wrote.txt"), "utf8")).toBe(
        `from ${laid.node}`,
      );
      expect(seen.xdgRuntimeDir).toBeNull();
      if (laid.nodedir !== undefined) expect(seen.nodedir).toBe(laid.nodedir);
      // The secrets are still where they were on the host: unreadable inside, not gone.
      expect(readFileSync(join(world.home, ".ssh", "id_rsa"), "utf8")).toBe(SECRETS.sshKey);
    });

    it("`safe-npm install` runs npm with that node; the dependency's install scripts are contained", () => {
      expect(install.exitCode, show(install)).toBe(0);
      expect(existsSync(join(world.project, "node_modules", "probe", "package.json"))).toBe(true);
      const reports = readReports(world);
      expect(reports.map((rep) => rep.phase)).toEqual(["preinstall", "postinstall"]);
      for (const report of reports) expectContained(report, world);
    });
  });
}
