/**
 * yarn 2+ runs `yarn <script>` with the bins of the workspace's dependencies first on PATH,
 * taken from yarn.lock, not from node_modules/.bin: a dependency declaring a bin named
 * `safe-npm` or like a host command takes over a bare `yarn build` on the host. A lockfile entry
 * cannot be moved aside, so an install that adds one stops with exit 125 and says so, once.
 * yarn takes the packages (bins included) from `.yarn/install-state.gz` instead while the
 * lockfile checksum recorded there matches: one declaring such a bin is moved aside.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { cliPath } from "./paths.js";
import { TOOL_BINS, versionOf } from "./tools.js";
import { makeWorld, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");
const packed = inject("packedFixtures");

/**
 * A yarn 4 project (node-modules linker) depending on the packed fixture `tarball`, and a PATH
 * with `yarn` (this repository's yarn 4) and a global safe-npm first.
 */
function yarnWorld(
  packageJson: Record<string, unknown>,
  tarball: string,
  yarnrc: string,
): { world: World; path: string } {
  const world = makeWorld({
    projectInHome: true,
    packageJson,
    vendor: { packed, files: [tarball] },
  });
  writeFileSync(
    join(world.project, ".yarnrc.yml"),
    `nodeLinker: node-modules\n${yarnrc}enableTelemetry: false\nnpmRegistryServer: "http://127.0.0.1:9/"\n`,
  );
  const bin = join(world.dir, "pm-bin");
  mkdirSync(bin);
  symlinkSync(TOOL_BINS.yarn4, join(bin, "yarn"));
  writeFileSync(
    join(bin, "safe-npm"),
    `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(cliPath)} "$@"\n`,
    { mode: 0o755 },
  );
  return { world, path: `${bin}:${world.env.PATH}` };
}

describe.skipIf(unavailable !== "")("bins yarn.lock declares (yarn 4, node_modules linker)", () => {
  const packageJson = {
    packageManager: `yarn@${versionOf("@yarnpkg/cli-dist")}`,
    dependencies: { shadower: "file:vendor/shadower-1.0.0.tgz" },
    scripts: { build: "safe-npm exec -- node -e 1" },
  };
  let world: World;
  /** PATH with `yarn` (this repository's yarn 4) and a global safe-npm first. */
  let path: string;
  const env = (): { env: { PATH: string } } => ({ env: { PATH: path } });
  const lock = (): string => join(world.project, "yarn.lock");

  beforeAll(() => {
    ({ world, path } = yarnWorld(packageJson, "shadower-1.0.0.tgz", ""));
  });
  afterAll(() => world?.dispose());

  it("stops `safe-npm install` (exit 125) naming yarn.lock and each bin; (control) a bare `yarn build` runs it", async () => {
    const install = await world.run(["--quiet", "install"], env());
    expect(install.exitCode, install.stderr).toBe(125);
    for (const name of ["safe-npm", "git"]) {
      expect(install.stderr).toContain(`safe-npm: ${lock()} was changed inside the sandbox:`);
      expect(install.stderr).toMatch(
        new RegExp(
          `"shadower@file:vendor/shadower-1\\.0\\.0\\.tgz[^"]*" in yarn\\.lock declares a bin named \`${name}\``,
        ),
      );
    }
    expect(install.stderr).toContain("remove that dependency");
    // The install state declares the same bins: nothing more to report.
    expect(install.stderr).not.toContain("install-state");
    // Control: yarn.lock declares them, and yarn 4 runs the dependency's bin for the prefix.
    expect(readFileSync(lock(), "utf8")).toMatch(
      /\n {2}bin:\n(?: {4}.*\n)*? {4}safe-npm: shadower\.js\n/,
    );
    const bare = await execa("yarn", ["build"], {
      cwd: world.project,
      env: { ...world.env, PATH: path },
      extendEnv: false,
      reject: false,
      stdin: "ignore",
    });
    expect(bare.exitCode, bare.stderr).toBe(0);
    expect(readFileSync(join(world.project, ".shadower-ran"), "utf8")).toBe(
      "args=exec -- node -e 1\n",
    );
  });

  it("reports it once: the next run knows it", async () => {
    const again = await world.run(["--quiet", "install"], env());
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stderr).not.toContain("yarn.lock");
  });
});

describe.skipIf(unavailable !== "")("yarn 4's install state (node_modules linker)", () => {
  const packageJson = {
    packageManager: `yarn@${versionOf("@yarnpkg/cli-dist")}`,
    dependencies: { greeter: "file:vendor/greeter-1.0.0.tgz" },
    scripts: { build: "safe-npm exec -- node -e 1" },
  };
  let world: World;
  let path: string;
  const env = (): { env: { PATH: string } } => ({ env: { PATH: path } });
  const state = (): string => join(world.project, ".yarn", "install-state.gz");
  /** `yarn build` run bare on the host, as a user would after the install. */
  const bareBuild = () =>
    execa("yarn", ["build"], {
      cwd: world.project,
      env: { ...world.env, PATH: path },
      extendEnv: false,
      reject: false,
      stdin: "ignore",
    });
  /** Run inside: gives greeter a bin named `safe-npm` in the install state, as yarn writes it. */
  const plant = [
    'const fs = require("node:fs"), v8 = require("node:v8"), zlib = require("node:zlib");',
    'const file = ".yarn/install-state.gz";',
    "const state = v8.deserialize(zlib.gunzipSync(fs.readFileSync(file)));",
    "for (const pkg of state.storedPackages.values())",
    '  if (pkg.name === "greeter") pkg.bin.set("safe-npm", "greeter.js");',
    "fs.writeFileSync(file, zlib.gzipSync(v8.serialize(state)));",
  ].join("\n");

  beforeAll(() => {
    ({ world, path } = yarnWorld(packageJson, "greeter-1.0.0.tgz", "enableGlobalCache: false\n"));
  });
  afterAll(() => world?.dispose());

  it("reports nothing for an install whose state declares only what yarn.lock does", async () => {
    const install = await world.run(["--quiet", "install"], env());
    expect(install.exitCode, install.stderr).toBe(0);
    expect(existsSync(state())).toBe(true);
    expect(install.stderr).not.toContain("install-state");
  });

  it("moves aside a state given a bin `safe-npm` inside; bare `yarn build` and the next install then work", async () => {
    const run = await world.run(["--quiet", "exec", "--", "node", "-e", plant], env());
    expect(run.exitCode, run.stderr).toBe(0);
    const aside = `${state()}.quarantined-by-safe-npm`;
    expect(run.stderr).toContain(`safe-npm: moved ${state()} to ${aside}:`);
    expect(run.stderr).toContain("it declares a bin named `safe-npm` that yarn.lock does not");
    expect(existsSync(state())).toBe(false);
    // yarn makes the state again from yarn.lock, and the script prefix is the host's safe-npm.
    const bare = await bareBuild();
    expect(bare.exitCode, bare.stderr).toBe(0);
    expect(bare.stdout).not.toContain("greeter:");
    expect(existsSync(state())).toBe(true);
    const install = await world.run(["--quiet", "install"], env());
    expect(install.exitCode, install.stderr).toBe(0);
    expect(install.stderr).not.toContain("install-state");

    // Control: the state moved aside, put back, makes a bare `yarn build` run greeter's bin for
    // the script's `safe-npm`, on the host.
    copyFileSync(aside, state());
    const hijacked = await bareBuild();
    expect(hijacked.stdout).toMatch(/greeter: host=\S+ event=build/);
  });
});
