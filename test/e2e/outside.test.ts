/**
 * What safe-npm installs works outside the sandbox too: after `safe-npm install`, the project's
 * code runs inside (`safe-npm run check`) and bare on the host (the manager's own `run`, and
 * plain node as an editor's TypeScript server would load it). Yarn 4 Plug'n'Play is the case that
 * broke: .pnp.cjs names its cache zips by a path that, inside, led to ~/.yarn/berry in the
 * sandbox's fresh home. pnpm and bun copy into node_modules; they must not come to depend on
 * the private home either. Dependencies are tarballs; registries point at a closed port.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { TOOL_BINS, versionOf } from "./tools.js";
import { makeWorld, type RunResult, show, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");
const packed = inject("packedFixtures");

/** Where the dependency resolved, and whether it ran inside a sandbox. */
const CHECK_JS = `const fs = require("node:fs");
const path = require.resolve("greeter/package.json");
console.log("check:" + JSON.stringify({
  path,
  name: require("greeter/package.json").name,
  bin: fs.readFileSync(require.resolve("greeter/greeter.js"), "utf8").includes("#!"),
  inside: fs.existsSync("/run/safe-npm/sandbox.json"),
}));
`;

interface Check {
  path: string;
  name: string;
  bin: boolean;
  inside: boolean;
}

function parseCheck(r: RunResult): Check {
  const line = r.stdout.split("\n").find((l) => l.startsWith("check:"));
  if (line === undefined) throw new Error(`no check line:\n${show(r)}`);
  return JSON.parse(line.slice("check:".length)) as Check;
}

interface Case {
  name: string;
  tool: "yarn" | "pnpm" | "bun";
  bin: string;
  packageManager: string;
  files: Record<string, string>;
  /** Plain node's arguments before the script (PnP's loader). */
  nodeArgs: string[];
  /** The cache layout: $XDG_CACHE_HOME elsewhere, or the default ~/.cache inside the home. */
  cacheInHome: boolean;
  /** The installed project keeps working after its private home is removed (copies, not links). */
  standsAlone: boolean;
}

const BERRY_RC = [
  "nodeLinker: pnp",
  "enableTelemetry: false",
  'npmRegistryServer: "http://127.0.0.1:9/"',
  "",
].join("\n");

const berry = (cacheInHome: boolean): Case => ({
  name: `yarn 4 Plug'n'Play (${cacheInHome ? "default ~/.cache" : "XDG_CACHE_HOME outside the home"})`,
  tool: "yarn",
  bin: TOOL_BINS.yarn4,
  packageManager: `yarn@${versionOf("@yarnpkg/cli-dist")}`,
  files: { ".yarnrc.yml": BERRY_RC },
  nodeArgs: ["-r", "./.pnp.cjs"],
  cacheInHome,
  standsAlone: false,
});

const CASES: Case[] = [
  berry(false),
  berry(true),
  {
    name: "pnpm",
    tool: "pnpm",
    bin: TOOL_BINS.pnpm,
    packageManager: `pnpm@${versionOf("pnpm")}`,
    files: {},
    nodeArgs: [],
    cacheInHome: false,
    standsAlone: true,
  },
  {
    name: "bun",
    tool: "bun",
    bin: TOOL_BINS.bun,
    packageManager: `bun@${versionOf("bun")}`,
    files: {},
    nodeArgs: [],
    cacheInHome: false,
    standsAlone: true,
  },
];

for (const c of CASES) {
  describe.skipIf(unavailable !== "")(`${c.name}: installed inside, runs outside too`, () => {
    let world: World;
    let env: Record<string, string | undefined>;
    let install: RunResult;

    /** Outside any sandbox, as the user (or an editor) would run it. */
    const bare = async (argv: string[]): Promise<RunResult> => {
      const r = await execa(argv[0] as string, argv.slice(1), {
        cwd: world.project,
        env: { ...world.env, ...env },
        extendEnv: false,
        reject: false,
        stdin: "ignore",
      });
      return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
    };
    const homesDir = (): string =>
      c.cacheInHome
        ? join(world.home, ".cache", "safe-npm", "homes")
        : join(world.cache, "safe-npm", "homes");

    beforeAll(async () => {
      world = makeWorld({
        projectInHome: true,
        packageJson: {
          packageManager: c.packageManager,
          dependencies: { greeter: "file:vendor/greeter-1.0.0.tgz" },
          scripts: { check: "node check.js" },
        },
        vendor: { packed, files: ["greeter-1.0.0.tgz"] },
      });
      for (const [rel, text] of Object.entries({ ...c.files, "check.js": CHECK_JS })) {
        writeFileSync(join(world.project, rel), text);
      }
      execFileSync("git", ["add", "-A"], { cwd: world.project });
      const bin = join(world.dir, "pm-bin");
      mkdirSync(bin);
      symlinkSync(c.bin, join(bin, c.tool));
      env = {
        PATH: `${bin}:${world.env.PATH}`,
        ...(c.cacheInHome ? { XDG_CACHE_HOME: undefined } : {}),
      };
      install = await world.run(["--quiet", "install"], { env });
    }, 180_000);
    afterAll(() => world?.dispose());

    it("installs with safe-npm, into a private home under the cache directory", () => {
      expect(install.exitCode, show(install)).toBe(0);
      expect(readdirSync(homesDir())).toHaveLength(2); // the home and its record
    });

    it("runs inside: `safe-npm run check` resolves the dependency", async () => {
      const r = await world.run(["--quiet", "run", "check"], { env });
      expect(r.exitCode, show(r)).toBe(0);
      expect(parseCheck(r)).toMatchObject({ name: "greeter", bin: true, inside: true });
    });

    it(`runs bare on the host: \`${c.tool} run check\` and plain node resolve the same dependency`, async () => {
      const inside = parseCheck(await world.run(["--quiet", "run", "check"], { env }));
      for (const argv of [
        [c.tool, "run", "check"],
        [process.execPath, ...c.nodeArgs, "check.js"],
      ]) {
        const r = await bare(argv);
        expect(r.exitCode, `${argv.join(" ")}: ${show(r)}`).toBe(0);
        const outside = parseCheck(r);
        expect(outside).toMatchObject({ name: "greeter", bin: true, inside: false });
        expect(outside.path).toBe(inside.path);
      }
    });

    it.runIf(c.tool === "yarn")(
      ".pnp.cjs names the cache in the private home, not ~/.yarn/berry (the sandbox's fresh home)",
      () => {
        const pnp = readFileSync(join(world.project, ".pnp.cjs"), "utf8");
        const home = readdirSync(homesDir()).find((n) => !n.endsWith(".json")) as string;
        const cache = relative(world.project, join(homesDir(), home, ".yarn", "berry", "cache"));
        expect(pnp).toContain(`"${cache}/greeter-`);
        expect(pnp).not.toContain(relative(world.project, join(world.home, ".yarn")));
      },
    );

    it(
      c.standsAlone
        ? "keeps running bare after its private home is pruned: node_modules holds copies, not links into it"
        : "depends on the private home at that path (the control: pruned, the bare run fails as before the fix)",
      async () => {
        const prune = await world.run(["homes", "prune", "--older-than", "0h"], { env });
        expect(prune.exitCode, show(prune)).toBe(0);
        expect(prune.stdout).toContain(`(${world.project}: idle`);
        const r = await bare([process.execPath, ...c.nodeArgs, "check.js"]);
        if (c.standsAlone) {
          expect(r.exitCode, show(r)).toBe(0);
          expect(parseCheck(r)).toMatchObject({ name: "greeter", inside: false });
        } else {
          expect(r.exitCode).not.toBe(0);
          expect(r.stderr).toContain("Required package missing from disk");
        }
      },
    );
  });
}
