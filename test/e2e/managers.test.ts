/**
 * The package-manager matrix: npm, yarn classic, yarn berry (node_modules linker and PnP), pnpm 10
 * and the latest pnpm, and bun, each × {install with the hostile probe, run a script, exec,
 * workspace, a store that survives `rm -rf node_modules`}, plus native addons and an nvm-style
 * node. The managers are this repository's devDependencies, put first on PATH under their usual
 * names. Nothing reaches a public registry: tarball and `file:` dependencies, registries pointed
 * at a closed port, and for the store a fixture registry on 127.0.0.1 (bench/registry.mjs).
 *
 * A cell that fails because of a bug outside the tests is run as `it.fails` with the bug in its
 * name (`KNOWN BUG: …`): it turns red once the bug is fixed, and the entry in `knownBugs` must
 * then go. A cell that cannot work here at all says why in its name.
 */
import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { CACHE_DIRS } from "../../src/sandbox/privatehome.js";
import { type FixtureRegistry, startSmallTree } from "./fixture-registry.js";
import { cliPath } from "./paths.js";
import { expectContained, plantTargets, type Report, readReports } from "./probe.js";
import { PNPM_LATEST_YAML, TOOL_BINS, versionOf } from "./tools.js";
import {
  installSelfInto,
  makeWorld,
  nameRegistryInHome,
  type RunResult,
  show,
  type World,
  type WorldOptions,
} from "./world.js";

const unavailable = inject("sandboxUnavailable");
const packed = inject("packedFixtures");

/** `file:vendor/<name>-1.0.0.tgz`: the fixture packages (fixtures/packages/*), packed. */
const tarball = (name: string): string => `file:vendor/${name}-1.0.0.tgz`;

type ToolName = "npm" | "yarn" | "pnpm" | "bun";
type Cell =
  | "store"
  | "projectWrites"
  | "buildDeps"
  | "execTool"
  | "toolByName"
  | "addon"
  | "workspace"
  | "warmStore";

interface Manager {
  /** The row's name. */
  name: string;
  tool: ToolName;
  /** What `<tool>` on PATH points to; null: the host's own npm. */
  bin: string | null;
  /** The package.json `packageManager` field (how safe-npm detects it); none for npm. */
  packageManager: string | null;
  lockfile: string;
  /** package.json fields that let these `file:vendor/` dependencies run their install scripts. */
  allowBuilds: (names: string[]) => Record<string, unknown>;
  /** The same as project files, for managers that read it there (pnpm 11+). */
  buildFiles?: (names: string[]) => Record<string, string>;
  /** Files that point the manager at the registry `url` (ends with a slash). */
  registryFiles: (url: string) => Record<string, string>;
  /** Configuration files written into the project (and the workspace). */
  files: Record<string, string>;
  /** The cache or store, relative to the private home: present after the first install. */
  store: string;
  /** Cache or store directories that must not appear in the project. */
  notInProject: string[];
  /** Files an install may add or change besides the lockfile (git status paths). */
  installWrites: RegExp;
  /**
   * Scripts find `safe-npm` in a global install on PATH instead of node_modules/.bin: berry
   * exposes only declared dependencies' bins to scripts, and safe-npm cannot be declared here
   * (its dependencies would come from a registry).
   */
  globalSafeNpm: boolean;
  /** Workspace files besides `workspaces: ["packages/*"]` in package.json. */
  workspaceFiles: Record<string, string>;
  /** How workspace package `a` depends on its sibling `b`. */
  workspaceDep: string;
  /**
   * Why the workspace install starts at the workspace root instead of the package directory
   * (a bug of the manager itself, the same without safe-npm).
   */
  workspaceInstallFromRoot?: string;
  /** Cells that fail because of a bug outside these tests: run as `it.fails`, named. */
  knownBugs: Partial<Record<Cell, string>>;
  /** Cells that cannot work in a hermetic test, and why: skipped, named. */
  cannot: Partial<Record<Cell, string>>;
}

const BERRY_RC = (linker: "node-modules" | "pnp"): string =>
  [
    `nodeLinker: ${linker}`,
    "enableTelemetry: false",
    'npmRegistryServer: "http://127.0.0.1:9/"',
    // The global cache (~/.yarn/berry/cache) stays the default: inside, that is the private home.
    "",
  ].join("\n");

const MANAGERS: Manager[] = [
  {
    name: "npm",
    tool: "npm",
    bin: null,
    packageManager: null,
    lockfile: "package-lock.json",
    allowBuilds: () => ({}),
    registryFiles: (url) => ({ ".npmrc": `registry=${url}\n` }),
    files: {},
    store: ".npm/_cacache",
    notInProject: [],
    installWrites: /^$/,
    globalSafeNpm: false,
    workspaceFiles: {},
    workspaceDep: "*",
    knownBugs: {},
    cannot: {},
  },
  {
    name: "yarn classic",
    tool: "yarn",
    bin: TOOL_BINS.yarn1,
    packageManager: `yarn@${versionOf("yarn")}`,
    lockfile: "yarn.lock",
    allowBuilds: () => ({}),
    // yarn 1 takes the registry from .npmrc too; the project's wins over the user's.
    registryFiles: (url) => ({ ".yarnrc": `registry "${url}"\n`, ".npmrc": `registry=${url}\n` }),
    files: {},
    store: ".cache/yarn",
    notInProject: [],
    installWrites: /^$/,
    globalSafeNpm: false,
    workspaceFiles: {},
    workspaceDep: "1.0.0",
    workspaceInstallFromRoot:
      "yarn 1 resolves a workspace package's file: tarball against the directory it starts in, and fails from the package directory without safe-npm too",
    knownBugs: {},
    cannot: {},
  },
  ...(["node-modules", "pnp"] as const).map(
    (linker): Manager => ({
      name: `yarn berry (${linker === "pnp" ? "PnP" : "node_modules linker"})`,
      tool: "yarn",
      bin: TOOL_BINS.yarn4,
      packageManager: `yarn@${versionOf("@yarnpkg/cli-dist")}`,
      lockfile: "yarn.lock",
      // Yarn 4 runs no dependency scripts by default (enableScripts: false): allow these.
      allowBuilds: (names) => ({
        dependenciesMeta: Object.fromEntries(names.map((n) => [n, { built: true }])),
      }),
      registryFiles: (url) => ({
        ".yarnrc.yml": BERRY_RC(linker).replace(
          'npmRegistryServer: "http://127.0.0.1:9/"',
          `npmRegistryServer: "${url.replace(/\/$/, "")}"\nunsafeHttpWhitelist: ["127.0.0.1"]`,
        ),
      }),
      files: { ".yarnrc.yml": BERRY_RC(linker) },
      store: ".yarn/berry/cache",
      notInProject: [".yarn/cache"],
      // Berry also rewrites package.json (its own key order) on the first install.
      installWrites:
        linker === "pnp"
          ? /^(package\.json|\.pnp\.cjs|\.pnp\.loader\.mjs|\.yarn\/.*)$/
          : /^(package\.json|\.yarn\/.*)$/,
      globalSafeNpm: true,
      workspaceFiles: {},
      workspaceDep: "workspace:*",
      knownBugs: {},
      cannot: {
        addon:
          "berry runs node-gyp only when the project declares it as a dependency, which would come from a registry (none here)",
      },
    }),
  ),
  {
    name: "pnpm 10",
    tool: "pnpm",
    bin: TOOL_BINS.pnpm,
    packageManager: `pnpm@${versionOf("pnpm")}`,
    lockfile: "pnpm-lock.yaml",
    // pnpm 10 runs no dependency scripts unless allowed; a `file:` dependency is allowed by its
    // full spec (a bare name matches registry versions only).
    allowBuilds: (names) => ({
      pnpm: { onlyBuiltDependencies: names.map((n) => `${n}@${tarball(n)}`) },
    }),
    registryFiles: (url) => ({ ".npmrc": `registry=${url}\n` }),
    files: {},
    store: ".local/share/pnpm/store",
    notInProject: [".pnpm-store", "node_modules/.pnpm-store", "node_modules/.safe-npm-pnpm-store"],
    installWrites: /^$/,
    globalSafeNpm: false,
    workspaceFiles: { "pnpm-workspace.yaml": "packages:\n  - packages/*\n" },
    workspaceDep: "workspace:*",
    knownBugs: {},
    cannot: {},
  },
  {
    // The latest pnpm (a native binary since 12): it reads settings from pnpm-workspace.yaml and
    // pnpm_config_* variables only, no longer package.json's "pnpm" field or npm_config_*.
    name: `pnpm ${versionOf("pnpm-latest").split(".")[0]} (latest)`,
    tool: "pnpm",
    bin: TOOL_BINS.pnpmLatest,
    packageManager: `pnpm@${versionOf("pnpm-latest")}`,
    lockfile: "pnpm-lock.yaml",
    allowBuilds: () => ({}),
    // An ignored build script is an error here, not a warning.
    buildFiles: (names) => ({
      "pnpm-workspace.yaml": `${PNPM_LATEST_YAML}allowBuilds:\n${names.map((n) => `  "${n}@${tarball(n)}": true\n`).join("")}`,
    }),
    registryFiles: (url) => ({
      ".npmrc": `registry=${url}\n`,
      "pnpm-workspace.yaml": PNPM_LATEST_YAML,
    }),
    files: { "pnpm-workspace.yaml": PNPM_LATEST_YAML },
    store: ".local/share/pnpm/store",
    notInProject: [".pnpm-store", "node_modules/.pnpm-store", "node_modules/.safe-npm-pnpm-store"],
    installWrites: /^$/,
    globalSafeNpm: false,
    workspaceFiles: { "pnpm-workspace.yaml": `${PNPM_LATEST_YAML}packages:\n  - packages/*\n` },
    workspaceDep: "workspace:*",
    knownBugs: {},
    cannot: {},
  },
  {
    name: "bun",
    tool: "bun",
    bin: TOOL_BINS.bun,
    packageManager: `bun@${versionOf("bun")}`,
    lockfile: "bun.lock",
    allowBuilds: (names) => ({ trustedDependencies: names }),
    registryFiles: (url) => ({ ".npmrc": `registry=${url}\n` }),
    files: {},
    store: ".bun/install/cache",
    notInProject: ["node_modules/.safe-npm-bun-cache"],
    installWrites: /^$/,
    globalSafeNpm: false,
    workspaceFiles: {},
    workspaceDep: "workspace:*",
    knownBugs: {},
    cannot: {},
  },
];

/** The build script's report: where `node build.js` ran. */
const BUILD_JS = `const fs = require("node:fs");
const marker = "/run/safe-npm/sandbox.json";
let dep = null;
try { dep = require.resolve("greeter/package.json"); } catch {}
console.log("build:" + JSON.stringify({
  event: process.env.npm_lifecycle_event ?? null,
  host: require("node:os").hostname(),
  marker: fs.existsSync(marker) ? JSON.parse(fs.readFileSync(marker, "utf8")) : null,
  path: process.env.PATH,
  cwd: process.cwd(),
  secret: process.env.NPM_TOKEN ?? null,
  dep,
}));
`;

interface BuildReport {
  event: string | null;
  host: string;
  marker: { projectRoot: string } | null;
  path: string;
  cwd: string;
  secret: string | null;
  dep: string | null;
}

/** Run from a workspace package: where it runs, and whether the whole workspace is writable. */
const WHERE_JS = `const fs = require("node:fs");
const path = require("node:path");
const root = __dirname;
const attempt = (file) => { try { fs.writeFileSync(file, "x"); return true; } catch { return false; } };
console.log("where:" + JSON.stringify({
  cwd: process.cwd(),
  host: require("node:os").hostname(),
  event: process.env.npm_lifecycle_event ?? null,
  root: attempt(path.join(root, "written-from-a.txt")),
  sibling: attempt(path.join(root, "packages", "b", "written-from-a.txt")),
  git: attempt(path.join(root, ".git", "written-from-a.txt")),
}));
`;

function parseLine<T>(stdout: string, prefix: string): T {
  const line = stdout.split("\n").find((l) => l.startsWith(prefix));
  if (line === undefined) throw new Error(`no "${prefix}" line in:\n${stdout}`);
  return JSON.parse(line.slice(prefix.length)) as T;
}

function writeFiles(root: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
}

function commitAll(project: string): void {
  const git = (...args: string[]): void => {
    execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", ...args], {
      cwd: project,
      stdio: "ignore",
    });
  };
  git("add", "-A");
  git("commit", "-q", "--allow-empty", "-m", "fixture");
}

/**
 * A world whose project is `manager`'s (its packageManager field first in package.json), with
 * `files` written and everything committed.
 */
function managerWorld(
  manager: Manager,
  options: WorldOptions,
  files: Record<string, string>,
): World {
  const world = makeWorld({
    ...options,
    packageJson: {
      ...(manager.packageManager ? { packageManager: manager.packageManager } : {}),
      ...options.packageJson,
    },
  });
  writeFiles(world.project, files);
  commitAll(world.project);
  return world;
}

/**
 * PATH with a directory first that holds `<tool>`, a symlink to this repository's
 * devDependency (never a system-wide install), and for berry a `safe-npm` standing in for a
 * global install of it.
 */
function toolPath(world: World, manager: Manager): string {
  const dir = join(world.dir, "pm-bin");
  mkdirSync(dir, { recursive: true });
  if (manager.bin !== null) symlinkSync(manager.bin, join(dir, manager.tool));
  if (manager.globalSafeNpm) {
    writeFileSync(
      join(dir, "safe-npm"),
      `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(cliPath)} "$@"\n`,
      { mode: 0o755 },
    );
  }
  return `${dir}:${world.env.PATH}`;
}

/** The one private home safe-npm made under $XDG_CACHE_HOME/safe-npm/homes (beside its record). */
function privateHome(world: World): string {
  const homes = join(world.cache, "safe-npm", "homes");
  const entries = (existsSync(homes) ? readdirSync(homes) : []).filter((n) => !n.endsWith(".json"));
  expect(entries).toHaveLength(1);
  return join(homes, entries[0] as string);
}

/** Runs a command outside any sandbox, as the user would. */
async function bare(world: World, path: string, argv: string[], cwd: string): Promise<RunResult> {
  const r = await execa(argv[0] as string, argv.slice(1), {
    cwd,
    env: { ...world.env, PATH: path },
    extendEnv: false,
    reject: false,
    stdin: "ignore",
  });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** `it`, `it.fails` for a known bug, or `it.skip` where the cell cannot work here; and its name. */
type TestFn = (name: string, fn: () => Promise<void> | void, timeout?: number) => void;

function cell(manager: Manager, which: Cell, name: string): [TestFn, string] {
  const cannot = manager.cannot[which];
  if (cannot !== undefined) return [it.skip, `${name} — CANNOT WORK HERE: ${cannot}`];
  const bug = manager.knownBugs[which];
  if (bug !== undefined) return [it.fails, `${name} — KNOWN BUG: ${bug}`];
  return [it, name];
}

/** Each manager's probe verdicts, compared at the end: they must be npm's. */
const verdicts = new Map<string, unknown>();

function verdictsOf(reports: Report[]): unknown {
  return reports.map((r) => ({
    phase: r.phase,
    reads: Object.fromEntries(Object.entries(r.reads).map(([k, v]) => [k, v.ok])),
    writes: Object.fromEntries(Object.entries(r.writes).map(([k, v]) => [k, v.ok])),
    leaked: r.env.leaked,
    seesVictim: r.proc.seesVictim,
    killVictim: r.proc.killVictim.ok,
    capEff: r.privileges.capEff,
    mount: r.privileges.mount.ok,
    mknod: r.privileges.mknod.ok,
    unshare: r.privileges.unshare.ok,
  }));
}

for (const manager of MANAGERS) {
  describe.skipIf(unavailable !== "")(`${manager.name}: install, run, exec`, () => {
    let world: World;
    let path: string;
    let first: RunResult;
    let reports: Report[];
    const env = (): { env: { PATH: string } } => ({ env: { PATH: path } });

    beforeAll(async () => {
      world = managerWorld(
        manager,
        {
          projectInHome: true,
          packageJson: {
            dependencies: { probe: tarball("probe"), greeter: tarball("greeter") },
            scripts: {
              greet: "greeter",
              build: "safe-npm exec -- node build.js",
              "pm-version": `${manager.tool} --version`,
            },
            ...manager.allowBuilds(["probe"]),
          },
          vendor: { packed, files: ["probe-1.0.0.tgz", "greeter-1.0.0.tgz"] },
        },
        {
          ...manager.files,
          ...manager.buildFiles?.(["probe"]),
          "build.js": BUILD_JS,
        },
      );
      plantTargets(world);
      path = toolPath(world, manager);
      first = await world.run(["install"], env());
      reports = readReports(world);
      verdicts.set(manager.name, verdictsOf(reports));
    });
    afterAll(() => world?.dispose());

    it("is detected and installs: lockfile written, probe installed", async () => {
      expect(first.stderr, show(first)).not.toContain("✗");
      expect(first.exitCode, show(first)).toBe(0);
      expect(existsSync(join(world.project, manager.lockfile))).toBe(true);
      const dry = await world.run(["--dry-run", "install"], env());
      expect(dry.stdout).toContain(
        manager.packageManager === null
          ? "manager:   npm (decided by: lockfile)"
          : `manager:   ${manager.tool} (decided by: packageManager field)`,
      );
      // The manager's real path runs inside (the PATH symlink's directory is not visible there).
      const command = dry.stdout.split("\n").find((l) => l.startsWith("  command:"));
      if (manager.bin !== null) expect(command).toContain(` ${realpathSync(manager.bin)} install`);
    });

    it("runs the probe's preinstall and postinstall inside the sandbox, contained", () => {
      expect(reports.map((r) => r.phase)).toEqual(["preinstall", "postinstall"]);
      for (const report of reports) expectContained(report, world);
    });

    const [itWrites, writesName] = cell(
      manager,
      "projectWrites",
      "writes nothing into the project but the lockfile and the manager's own state",
    );
    itWrites(writesName, () => {
      const changes = world
        .gitStatus()
        .split("\n")
        .map((l) => l.replace(/^\s*\S+\s+/, ""))
        .filter((f) => f !== "" && f !== manager.lockfile && !manager.installWrites.test(f));
      expect(changes).toEqual([]);
    });

    const [itStore, storeName] = cell(
      manager,
      "store",
      `keeps its cache/store in the private home (~/${manager.store}), so a second install is warm`,
    );
    itStore(storeName, async () => {
      expect(existsSync(join(world.home, manager.store))).toBe(false);
      for (const rel of manager.notInProject) {
        expect(existsSync(join(world.project, rel)), rel).toBe(false);
      }
      const store = join(privateHome(world), manager.store);
      expect(existsSync(store), `${store} after the first install`).toBe(true);
      expect(readdirSync(store).length).toBeGreaterThan(0);
      const second = await world.run(["install"], env());
      expect(second.exitCode, show(second)).toBe(0);
      expect(readdirSync(store).length).toBeGreaterThan(0);
    });

    it("runs a script inside: `safe-npm run greet` calls a dependency's bin", async () => {
      const r = await world.run(["--quiet", "run", "greet"], env());
      expect(r.exitCode, show(r)).toBe(0);
      expect(r.stdout).toContain("greeter: host=safe-npm event=greet");
    });

    const [itByName, byNameName] = cell(
      manager,
      "toolByName",
      `lets a script call ${manager.tool} by name inside (\`safe-npm run pm-version\`)`,
    );
    itByName(byNameName, async () => {
      const r = await world.run(["--quiet", "run", "pm-version"], env());
      expect(r.exitCode, show(r)).toBe(0);
      const expected =
        manager.bin === null
          ? (await bare(world, path, ["npm", "--version"], world.project)).stdout.trim()
          : (manager.packageManager?.split("@")[1] ?? "");
      expect(r.stdout).toContain(expected);
    });

    const [itExecTool, execToolName] = cell(
      manager,
      "execTool",
      `brings ${manager.tool} into \`safe-npm exec\` (\`safe-npm exec -- ${manager.tool} --version\`)`,
    );
    itExecTool(execToolName, async () => {
      const r = await world.run(["--quiet", "exec", "--", manager.tool, "--version"], env());
      expect(r.exitCode, show(r)).toBe(0);
    });

    it(`sandboxes \`safe-npm exec -- node build.js\` as a script prefix, run by the bare ${manager.tool}${manager.globalSafeNpm ? " (safe-npm from a global install: berry shows scripts only declared dependencies' bins)" : " (safe-npm from node_modules/.bin)"}`, async () => {
      if (!manager.globalSafeNpm) installSelfInto(world.project);
      const r = await bare(world, path, [manager.tool, "run", "build"], world.project);
      expect(r.stderr, show(r)).not.toContain("✗");
      expect(r.exitCode, show(r)).toBe(0);
      const build = parseLine<BuildReport>(r.stdout, "build:");
      expect(build.host).toBe("safe-npm");
      expect(build.marker?.projectRoot).toBe(world.project);
      expect(build.event).toBe("build");
      expect(build.cwd).toBe(world.project);
      expect(build.secret).toBeNull();
      if (!manager.globalSafeNpm) {
        expect(build.path).toContain(join(world.project, "node_modules", ".bin"));
      }
    });

    const [itBuildDeps, buildDepsName] = cell(
      manager,
      "buildDeps",
      "lets the prefixed `node build.js` require the project's dependencies",
    );
    itBuildDeps(buildDepsName, async () => {
      const r = await bare(world, path, [manager.tool, "run", "build"], world.project);
      expect(r.exitCode, show(r)).toBe(0);
      expect(parseLine<BuildReport>(r.stdout, "build:").dep).toMatch(/greeter[/\\]package\.json$/);
    });

    it.runIf(!manager.globalSafeNpm)(
      "runs a prefixed script once, without nesting, under `safe-npm run build`",
      async () => {
        const r = await world.run(["--quiet", "run", "build"], env());
        expect(r.stderr, show(r)).not.toContain("✗");
        expect(r.exitCode, show(r)).toBe(0);
        const build = parseLine<BuildReport>(r.stdout, "build:");
        expect(build.host).toBe("safe-npm");
        expect(build.event).toBe("build");
        expect(build.marker?.projectRoot).toBe(world.project);
      },
    );
  });

  describe.skipIf(unavailable !== "")(`${manager.name}: workspaces`, () => {
    let world: World;
    let path: string;
    let pkgA: string;
    let install: RunResult;
    let dryBefore: RunResult;
    const env = (): { env: { PATH: string } } => ({ env: { PATH: path } });

    beforeAll(async () => {
      world = managerWorld(
        manager,
        {
          projectInHome: false,
          packageJson: { workspaces: ["packages/*"] },
          vendor: { packed, files: ["greeter-1.0.0.tgz"] },
        },
        {
          ...manager.files,
          ...manager.workspaceFiles,
          "where.js": WHERE_JS,
          "packages/a/package.json": JSON.stringify({
            name: "a",
            version: "1.0.0",
            private: true,
            dependencies: {
              b: manager.workspaceDep,
              greeter: "file:../../vendor/greeter-1.0.0.tgz",
            },
            scripts: { where: "node ../../where.js", hello: "greeter" },
          }),
          "packages/b/package.json": JSON.stringify({ name: "b", version: "1.0.0", private: true }),
        },
      );
      pkgA = join(world.project, "packages", "a");
      path = toolPath(world, manager);
      dryBefore = await world.run(["--dry-run", "install"], { cwd: pkgA, ...env() });
      install = await world.run(["install"], {
        cwd: manager.workspaceInstallFromRoot ? world.project : pkgA,
        ...env(),
      });
    });
    afterAll(() => world?.dispose());

    it(`installs and finds the workspace root from a package directory, before and after the install${manager.workspaceInstallFromRoot ? ` (installed from the root: ${manager.workspaceInstallFromRoot})` : ""}`, async () => {
      expect(dryBefore.stdout).toContain(
        `project:   ${world.project} (root because of: workspaces)`,
      );
      expect(install.exitCode, show(install)).toBe(0);
      expect(existsSync(join(world.project, manager.lockfile))).toBe(true);
      const dry = await world.run(["--dry-run", "run", "where"], { cwd: pkgA, ...env() });
      expect(dry.exitCode, show(dry)).toBe(0);
      expect(dry.stdout).toContain(`project:   ${world.project} (root because of: lockfile)`);
      expect(dry.stdout).toContain(`cwd:       ${pkgA}`);
    });

    it("runs the package's scripts in the package directory, with the whole workspace writable (not .git)", async () => {
      const r = await world.run(["--quiet", "run", "where"], { cwd: pkgA, ...env() });
      expect(r.exitCode, show(r)).toBe(0);
      expect(parseLine<Record<string, unknown>>(r.stdout, "where:")).toEqual({
        cwd: pkgA,
        host: "safe-npm",
        event: "where",
        root: true,
        sibling: true,
        git: false,
      });
      const hello = await world.run(["--quiet", "run", "hello"], { cwd: pkgA, ...env() });
      expect(hello.exitCode, show(hello)).toBe(0);
      expect(hello.stdout).toContain(`greeter: host=safe-npm event=hello cwd=${pkgA}`);
    });
  });
}

/**
 * The store or cache in the private home outlives `rm -rf node_modules`: the next install takes
 * every package from it and asks the registry for no tarball. A tree of a few packages from a
 * fixture registry on 127.0.0.1, in registry mode (the install default); the registry counts the
 * tarballs it serves. Control: with the private home's caches removed, the same install fetches
 * the tarballs again — so a count that stays put means the store was used, not that none was
 * counted.
 */
function warmStoreCases(manager: Manager): void {
  describe.skipIf(unavailable !== "")(`${manager.name}: a warm store`, () => {
    let world: World;
    let registry: FixtureRegistry;
    let path: string;
    let direct: string[];
    const env = (): { env: { PATH: string } } => ({ env: { PATH: path } });

    beforeAll(async () => {
      // 20 names, 3 direct dependencies; no install scripts (pnpm 11+ stops at unapproved ones).
      const tree = await startSmallTree();
      registry = tree.registry;
      direct = Object.keys(tree.dependencies);
      world = managerWorld(
        manager,
        { projectInHome: true, packageJson: { dependencies: tree.dependencies } },
        manager.registryFiles(registry.url),
      );
      nameRegistryInHome(world, registry.url);
      path = toolPath(world, manager);
    });
    afterAll(async () => {
      world?.dispose();
      await registry?.close();
    });

    const [itWarm, warmName] = cell(
      manager,
      "warmStore",
      "after `rm -rf node_modules`, installs again without fetching a tarball (control: without the private home's caches it fetches them)",
    );
    itWarm(
      warmName,
      async () => {
        const nodeModules = join(world.project, "node_modules");
        const install = async (): Promise<number> => {
          const before = registry.stats().tarballs;
          const r = await world.run(["--quiet", "install"], env());
          expect(r.exitCode, show(r)).toBe(0);
          // Nothing a plain install asks of its registry is refused (pnpm 12 reads every
          // version's attestations) — else every install would report refused requests.
          expect(r.stderr, show(r)).not.toContain("refused");
          // PnP keeps no node_modules: .pnp.cjs maps the packages into the cache.
          const installed = manager.name.includes("PnP")
            ? [join(world.project, ".pnp.cjs")]
            : direct.map((name) => join(nodeModules, name, "package.json"));
          for (const file of installed) expect(existsSync(file), file).toBe(true);
          return registry.stats().tarballs - before;
        };
        const first = await install();
        expect(first).toBeGreaterThan(0);
        for (const rel of manager.notInProject) {
          expect(existsSync(join(world.project, rel)), rel).toBe(false);
        }
        rmSync(nodeModules, { recursive: true, force: true });
        expect(await install()).toBe(0);
        // Control: the same, with the private home's caches gone, fetches every tarball again.
        rmSync(nodeModules, { recursive: true, force: true });
        const home = privateHome(world);
        for (const rel of CACHE_DIRS) rmSync(join(home, rel), { recursive: true, force: true });
        expect(await install()).toBe(first);
      },
      300_000,
    );

    if (manager.tool === "pnpm") {
      it("records the store at the host's default path, which bare pnpm on the host accepts", async () => {
        const modules = readFileSync(join(world.project, "node_modules", ".modules.yaml"), "utf8");
        // YAML for pnpm 10, JSON (which YAML reads too) for pnpm 12.
        const storeDir = /^\s*"?storeDir"?:\s*['"]?([^'",\n]+)/m.exec(modules)?.[1];
        expect(storeDir).toMatch(
          new RegExp(
            `^${join(world.home, manager.store).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/v\\d+$`,
          ),
        );
        // Bare pnpm takes the same node_modules without ERR_PNPM_UNEXPECTED_STORE (its store in
        // the real home is empty: it fetches, from the registry that is still up).
        const r = await bare(world, path, ["pnpm", "install", "--frozen-lockfile"], world.project);
        expect(r.exitCode, show(r)).toBe(0);
        expect(`${r.stdout}${r.stderr}`).not.toContain("UNEXPECTED_STORE");
      });
    }
  });
}

for (const manager of MANAGERS) warmStoreCases(manager);

describe.skipIf(unavailable !== "")("the probe's verdicts", () => {
  it("are npm's under every manager", () => {
    const npm = verdicts.get("npm");
    expect(npm).toBeDefined();
    for (const manager of MANAGERS) expect(verdicts.get(manager.name), manager.name).toEqual(npm);
  });
});

/** `node -e` that requires the addon and prints what it returns. */
const REQUIRE_ADDON = ["-e", 'console.log("addon: " + require("addon").hello())'];

/** The directory above node's bin/ (its install prefix), and whether it ships headers. */
function nodePrefix(node: string): { prefix: string; headers: boolean } {
  const prefix = dirname(dirname(realpathSync(node)));
  return { prefix, headers: existsSync(join(prefix, "include", "node", "node.h")) };
}

/**
 * A native addon (fixtures/packages/addon: binding.gyp, Node-API) built by node-gyp during
 * `safe-npm install`: with no network but the closed registry port, against the headers that
 * node's install prefix ships (npm_config_nodedir), then required outside and inside.
 */
function addonCases(manager: Manager, options: { name: string; node?: "nvm" }): void {
  const hostNode = nodePrefix(process.execPath);
  describe.skipIf(unavailable !== "")(options.name, () => {
    let world: World;
    let path: string;
    let install: RunResult;
    let node: string;
    const env = (): { env: { PATH: string } } => ({ env: { PATH: path } });

    beforeAll(async () => {
      world = managerWorld(
        manager,
        {
          projectInHome: true,
          packageJson: {
            dependencies: { addon: tarball("addon"), probe: tarball("probe") },
            ...manager.allowBuilds(["addon", "probe"]),
          },
          vendor: { packed, files: ["addon-1.0.0.tgz", "probe-1.0.0.tgz"] },
        },
        { ...manager.files, ...manager.buildFiles?.(["addon", "probe"]) },
      );
      plantTargets(world);
      path = toolPath(world, manager);
      node = process.execPath;
      if (options.node === "nvm") {
        // nvm's layout: ~/.nvm/versions/node/vX/{bin/node,include/node}, first on PATH.
        const prefix = join(world.home, ".nvm", "versions", "node", "v20.0.0");
        node = join(prefix, "bin", "node");
        mkdirSync(dirname(node), { recursive: true });
        copyFileSync(process.execPath, node);
        execFileSync("chmod", ["755", node]);
        // nvm's checkout holds its own package.json: its versions/ are still no project's.
        writeFileSync(join(world.home, ".nvm", "package.json"), '{ "name": "nvm" }\n');
        if (hostNode.headers) {
          mkdirSync(join(prefix, "include"), { recursive: true });
          // A copy, as nvm has: a link would point outside the nvm prefix the sandbox brings in.
          cpSync(join(hostNode.prefix, "include", "node"), join(prefix, "include", "node"), {
            recursive: true,
            dereference: true,
          });
        }
        path = `${dirname(node)}:${path}`;
      }
      install = await world.run(["install"], env());
    });
    afterAll(() => world?.dispose());

    if (options.node === "nvm") {
      it("runs the nvm node inside, with its prefix read-only and node-gyp pointed at its headers", async () => {
        const r = await world.run(
          [
            "--quiet",
            "exec",
            "--",
            "sh",
            "-c",
            'n="$(readlink -f "$(command -v node)")"; echo "node=$n"; node -p "\\"execPath=\\" + process.execPath"; echo "nodedir=$npm_config_nodedir"; touch "$(dirname "$n")/x" 2>/dev/null && echo prefix=rw || echo prefix=ro',
          ],
          env(),
        );
        expect(r.exitCode, show(r)).toBe(0);
        const prefix = dirname(dirname(node));
        expect(r.stdout.split("\n")).toEqual([
          `node=${node}`,
          `execPath=${node}`,
          `nodedir=${hostNode.headers ? prefix : ""}`,
          "prefix=ro",
        ]);
        // Its install scripts ran with it, contained like everywhere else.
        const reports = readReports(world);
        expect(reports.map((rep) => rep.phase)).toEqual(["preinstall", "postinstall"]);
        for (const report of reports) expectContained(report, world);
      });
    }

    const [itAddon, addonName] = cell(
      manager,
      "addon",
      `builds during \`safe-npm install\` without network, against node's own headers, and loads outside and inside${hostNode.headers ? "" : " (this node ships no include/node: node-gyp would download headers)"}`,
    );
    (hostNode.headers ? itAddon : (it.skip as TestFn))(addonName, async () => {
      expect(install.exitCode, show(install)).toBe(0);
      const built = join(world.project, "node_modules", "addon", "build", "Release", "addon.node");
      expect(existsSync(built), built).toBe(true);
      // No headers were fetched into the private home: node-gyp used npm_config_nodedir.
      expect(existsSync(join(privateHome(world), ".cache", "node-gyp"))).toBe(false);
      const outside = await bare(world, path, [node, ...REQUIRE_ADDON], world.project);
      expect(outside.stdout, show(outside)).toContain("addon: native hello");
      const inside = await world.run(["--quiet", "exec", "--", "node", ...REQUIRE_ADDON], env());
      expect(inside.stdout, show(inside)).toContain("addon: native hello");
    });
  });
}

for (const manager of MANAGERS) addonCases(manager, { name: `${manager.name}: a native addon` });
addonCases(MANAGERS[0] as Manager, {
  name: "npm with an nvm-style node first on PATH",
  node: "nvm",
});
