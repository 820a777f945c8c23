/**
 * A package manager run bare on the host executes what the project's config tells it to:
 * `.npmrc`'s `script-shell`, a `.pnpmfile.cjs`, `bunfig.toml`'s `preload`, `.yarnrc.yml`'s
 * `yarnPath` (yarn 2+). A postinstall that plants these must not reach the next bare run on the host:
 * inside, the files are read-only (or cannot be created). The control plants the same with the
 * host's own shell and shows each one running.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { TOOL_BINS } from "./tools.js";
import { makeWorld, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");

const MARKERS = ["npm", "pnpm", "pnpm-workspace", "bun", "yarn"] as const;

/** The postinstall: each plant on its own, so that one refused write does not stop the others. */
function plantScript(marks: string): string {
  const touch = (name: string): string =>
    `require("fs").writeFileSync(${JSON.stringify(join(marks, name))}, "ran")`;
  return [
    `printf '#!/bin/sh\\ntouch ${join(marks, "npm")}\\nexec /bin/sh "$@"\\n' > evil.sh; chmod +x evil.sh`,
    'echo "script-shell=$PWD/evil.sh" >> .npmrc',
    `echo '${touch("pnpm")}' > .pnpmfile.cjs`,
    `echo '${touch("pnpm-workspace")}' > ws-hooks.cjs`,
    "echo 'pnpmfile: ws-hooks.cjs' > pnpm-workspace.yaml",
    `echo '${touch("bun")}' > preload.js`,
    `echo 'preload = ["./preload.js"]' > bunfig.toml`,
    `mkdir -p .yarn/releases && echo '${touch("yarn")}' > .yarn/releases/evil.cjs`,
    "echo 'yarnPath: .yarn/releases/evil.cjs' >> .yarnrc.yml",
    "true",
  ].join("\n");
}

/** The next ordinary steps on the host: bare npm, pnpm, bun and yarn in the project. */
function bareRuns(world: World): void {
  const run = (cmd: string, args: string[]): void => {
    spawnSync(cmd, args, { cwd: world.project, env: world.env, stdio: "ignore" });
  };
  run("npm", ["run", "hello"]);
  // --ignore-scripts: the project's own postinstall (the plant) must not run again here.
  run(process.execPath, [TOOL_BINS.pnpm, "install", "--offline", "--ignore-scripts"]);
  // The default pnpmfile, which a pnpmfile named in pnpm-workspace.yaml would replace.
  run(process.execPath, [
    TOOL_BINS.pnpm,
    "install",
    "--offline",
    "--ignore-scripts",
    "--config.pnpmfile=.pnpmfile.cjs",
  ]);
  run(TOOL_BINS.bun, ["main.js"]);
  run(process.execPath, [TOOL_BINS.yarn4, "--version"]);
}

function makeProject(): { world: World; marks: string } {
  const world = makeWorld({
    projectInHome: true,
    packageJson: { scripts: { postinstall: "sh plant.sh", hello: "echo hello" } },
  });
  const marks = join(world.dir, "marks");
  spawnSync("mkdir", ["-p", marks]);
  writeFileSync(join(world.project, "plant.sh"), plantScript(marks));
  writeFileSync(join(world.project, "main.js"), "");
  return { world, marks };
}

describe.skipIf(unavailable !== "")("what a bare package manager on the host runs", () => {
  const worlds: World[] = [];
  afterAll(() => {
    for (const world of worlds) world.dispose();
  });

  it("(control) planted with the host's shell, each plant runs in the next bare run", () => {
    const { world, marks } = makeProject();
    worlds.push(world);
    spawnSync("sh", ["plant.sh"], { cwd: world.project, env: world.env });
    bareRuns(world);
    for (const name of MARKERS) expect(existsSync(join(marks, name)), name).toBe(true);
  });

  it("planted by a postinstall under safe-npm, nothing runs in the next bare run", async () => {
    const { world, marks } = makeProject();
    worlds.push(world);
    const npmrc = readFileSync(join(world.project, ".npmrc"), "utf8");
    const r = await world.run(["install", "--no-audit", "--no-fund"]);
    expect(r.exitCode, r.stderr).toBe(0);
    // The postinstall did run inside: what it may write (the project) it wrote.
    expect(existsSync(join(world.project, "evil.sh"))).toBe(true);
    expect(existsSync(join(world.project, "preload.js"))).toBe(true);
    // What a package manager on the host obeys is unchanged, or still missing.
    expect(readFileSync(join(world.project, ".npmrc"), "utf8")).toBe(npmrc);
    for (const name of [".pnpmfile.cjs", "bunfig.toml", ".yarnrc.yml", ".yarn"]) {
      expect(existsSync(join(world.project, name)), name).toBe(false);
    }
    // A new pnpm-workspace.yaml is moved aside after the run (a stand-in would make the project
    // look like a pnpm workspace), and said so.
    const workspace = join(world.project, "pnpm-workspace.yaml");
    expect(existsSync(workspace)).toBe(false);
    expect(existsSync(`${workspace}.quarantined-by-safe-npm`)).toBe(true);
    expect(r.stderr).toContain(`moved ${workspace} to ${workspace}.quarantined-by-safe-npm`);
    bareRuns(world);
    for (const name of MARKERS) expect(existsSync(join(marks, name)), name).toBe(false);
  });
});

/**
 * Beyond the root's config: a `node_modules/.bin/sh` is first on a bare `npm run`'s PATH (npm
 * runs every script through the `sh` found there), and a sub-project's `.npmrc` is obeyed by
 * npm run in that sub-project.
 */
describe.skipIf(unavailable !== "")(
  "what a bare npm run finds in node_modules/.bin and sub-projects",
  () => {
    const worlds: World[] = [];
    afterAll(() => {
      for (const world of worlds) world.dispose();
    });
    const make = (): { world: World; marks: string } => {
      const world = makeWorld({
        projectInHome: true,
        packageJson: { scripts: { postinstall: "sh plant.sh", hello: "echo hello" } },
      });
      worlds.push(world);
      const marks = join(world.dir, "marks");
      mkdirSync(marks);
      mkdirSync(join(world.project, "docs"));
      writeFileSync(
        join(world.project, "docs", "package.json"),
        '{"name":"docs","private":true,"scripts":{"hello":"echo hello"}}\n',
      );
      const shell = (mark: string): string =>
        `printf '#!/bin/sh\\ntouch ${join(marks, mark)}\\nexec /bin/sh "$@"\\n'`;
      writeFileSync(
        join(world.project, "plant.sh"),
        [
          "mkdir -p node_modules/.bin",
          `${shell("bin-sh")} > node_modules/.bin/sh; chmod +x node_modules/.bin/sh`,
          `${shell("docs-npmrc")} > docs/evil.sh; chmod +x docs/evil.sh`,
          'echo "script-shell=$PWD/docs/evil.sh" > docs/.npmrc',
          "true",
        ].join("\n"),
      );
      return { world, marks };
    };
    const bareRuns = (world: World): void => {
      for (const cwd of [world.project, join(world.project, "docs")]) {
        spawnSync("npm", ["run", "hello"], { cwd, env: world.env, stdio: "ignore" });
      }
    };

    it("(control) planted with the host's shell, both run in the next bare npm run", () => {
      const { world, marks } = make();
      spawnSync("sh", ["plant.sh"], { cwd: world.project, env: world.env });
      bareRuns(world);
      expect(existsSync(join(marks, "bin-sh"))).toBe(true);
      expect(existsSync(join(marks, "docs-npmrc"))).toBe(true);
    });

    it("planted by a postinstall under safe-npm, both are moved aside and nothing runs", async () => {
      const { world, marks } = make();
      const r = await world.run(["install", "--no-audit", "--no-fund"]);
      expect(r.exitCode, r.stderr).toBe(0);
      for (const planted of [
        join(world.project, "node_modules", ".bin", "sh"),
        join(world.project, "docs", ".npmrc"),
      ]) {
        expect(r.stderr).toContain(`moved ${planted} to ${planted}.quarantined-by-safe-npm`);
        expect(existsSync(planted)).toBe(false);
      }
      bareRuns(world);
      expect(existsSync(join(marks, "bin-sh"))).toBe(false);
      expect(existsSync(join(marks, "docs-npmrc"))).toBe(false);
    });
  },
);
