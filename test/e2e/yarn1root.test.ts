/**
 * yarn 1 run as root keeps the user's config in /usr/local/share (`.npmrc`, `.yarnrc`: its
 * user-home-dir.js), not in `$HOME`. Inside, a root run is uid 0 too and /usr is shown read-only,
 * so a token `yarn config set //host/:_authToken …` wrote there was readable by every script.
 * Only as root: any other user's yarn reads its `$HOME`, a fresh tmpfs inside.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { TOOL_BINS } from "./tools.js";
import { makeWorld, show, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");
const ROOT_HOME = "/usr/local/share";
const NPMRC = join(ROOT_HOME, ".npmrc");
const YARNRC = join(ROOT_HOME, ".yarnrc");
const NPMRC_TOKEN = "npm_yarn1RootNpmrcToken0123456789";
const YARNRC_TOKEN = "npm_yarn1RootYarnrcToken0123456789";
const root = process.getuid?.() === 0;

describe.skipIf(unavailable !== "" || !root)("yarn 1's user config as root", () => {
  let w: World;
  let env: Record<string, string>;
  beforeAll(() => {
    // Never over a file of the machine's own: the test would lose it.
    for (const file of [NPMRC, YARNRC])
      if (existsSync(file)) throw new Error(`${file} exists: move it aside to run this test`);
    writeFileSync(
      NPMRC,
      `//yarn1-root.example.test/:_authToken=${NPMRC_TOKEN}\nregistry=http://127.0.0.1:9/\n`,
    );
    writeFileSync(YARNRC, `"//yarn1-root.example.test/:_authToken" ${YARNRC_TOKEN}\n`);
    w = makeWorld({
      projectInHome: true,
      packageJson: { scripts: { peek: "node peek.cjs" } },
    });
    writeFileSync(
      join(w.project, "peek.cjs"),
      `const fs = require("node:fs");
for (const f of ${JSON.stringify([NPMRC, YARNRC])}) {
  try { console.log(f + ":" + fs.readFileSync(f, "utf8")); } catch (e) { console.log(f + ":" + e.code); }
}\n`,
    );
    const bin = join(w.dir, "pm-bin");
    mkdirSync(bin, { recursive: true });
    symlinkSync(TOOL_BINS.yarn1, join(bin, "yarn"));
    env = { PATH: `${bin}:${w.env.PATH}` };
  });
  afterAll(() => {
    rmSync(NPMRC, { force: true });
    rmSync(YARNRC, { force: true });
    w?.dispose();
  });

  const yarnGet = (key: string): string =>
    execFileSync(TOOL_BINS.yarn1, ["config", "get", key], {
      cwd: w.project,
      env: { ...w.env, ...env },
      encoding: "utf8",
    });

  it("control: bare yarn 1 as root reads both files", () => {
    expect(yarnGet("//yarn1-root.example.test/:_authToken")).toContain(YARNRC_TOKEN);
    const npmrc = execFileSync(TOOL_BINS.yarn1, ["config", "list", "--verbose"], {
      cwd: w.project,
      env: { ...w.env, ...env },
      encoding: "utf8",
    });
    expect(npmrc).toContain(`Found configuration file "${NPMRC}"`);
  });

  it("inside, a script sees neither token; the .npmrc keeps its registry", async () => {
    const run = await w.run(["--quiet", "yarn", "run", "peek"], { env });
    expect(run.exitCode, show(run)).toBe(0);
    expect(run.stdout, show(run)).toContain(`${NPMRC}:registry=http://127.0.0.1:9/`);
    expect(run.stdout).toContain(`${YARNRC}:`);
    expect(run.stdout + run.stderr).not.toContain(NPMRC_TOKEN);
    expect(run.stdout + run.stderr).not.toContain(YARNRC_TOKEN);
  }, 120_000);

  it("inside, yarn 1 itself finds no token either", async () => {
    const run = await w.run(
      ["--quiet", "yarn", "config", "get", "//yarn1-root.example.test/:_authToken"],
      { env },
    );
    expect(run.exitCode, show(run)).toBe(0);
    expect(run.stdout, show(run)).toContain("undefined");
  }, 120_000);
});
