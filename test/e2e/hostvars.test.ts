/**
 * Variables can name config files in the project that host tools obey later: git's global
 * config (`core.fsmonitor` runs on the next `git status`), npm's global config (`script-shell`),
 * yarn's rc file under another name (`yarnPath`). Planted inside, none may reach the host: an
 * existing file is read-only inside, a missing one cannot be created or is moved aside after the
 * run. The control plants the same with the host's shell and shows each one running.
 */
import { spawnSync } from "node:child_process";
import { existsSync, linkSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { TOOL_BINS } from "./tools.js";
import { makeWorld, show, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");

const MARKS = ["git", "npm", "yarn", "yarn-package"];

describe.skipIf(unavailable !== "")("config files named by variables", () => {
  const worlds: World[] = [];
  afterAll(() => {
    for (const world of worlds) world.dispose();
  });

  const make = (): { world: World; marks: string; vars: Record<string, string> } => {
    const world = makeWorld({
      projectInHome: true,
      packageJson: { scripts: { hello: "echo hello" } },
    });
    worlds.push(world);
    const marks = join(world.dir, "marks");
    mkdirSync(marks);
    const p = world.project;
    writeFileSync(join(p, "gitcfg"), "");
    // A workspace package: yarn run there looks its rc file up there first.
    mkdirSync(join(p, "packages", "a"), { recursive: true });
    writeFileSync(join(p, "packages", "a", "package.json"), '{"name":"a","private":true}\n');
    const vars = {
      GIT_CONFIG_GLOBAL: join(p, "gitcfg"),
      NPM_CONFIG_GLOBALCONFIG: join(p, ".npmrc-global"),
      YARN_RC_FILENAME: ".yarnrc-ci.yml",
    };
    const hook = (name: string): string =>
      `printf '#!/bin/sh\\ntouch ${join(marks, name)}\\nexec /bin/sh "$@"\\n' > ${name}.sh; chmod +x ${name}.sh`;
    const touch = (mark: string): string =>
      `require("fs").writeFileSync(${JSON.stringify(join(marks, mark))}, "ran")`;
    writeFileSync(
      join(p, "plant.sh"),
      [
        hook("git"),
        `printf '[core]\\n\\tfsmonitor = %s\\n' "$PWD/git.sh" >> gitcfg`,
        hook("npm"),
        'echo "script-shell=$PWD/npm.sh" >> .npmrc-global',
        `echo '${touch("yarn")}' > evil.cjs`,
        "echo 'yarnPath: evil.cjs' > .yarnrc-ci.yml",
        `echo '${touch("yarn-package")}' > packages/a/evil.cjs`,
        "echo 'yarnPath: evil.cjs' > packages/a/.yarnrc-ci.yml",
        "true",
      ].join("\n"),
    );
    return { world, marks, vars };
  };

  const hostSteps = (world: World, vars: Record<string, string>): void => {
    const opts = { cwd: world.project, env: { ...world.env, ...vars }, stdio: "ignore" as const };
    spawnSync("git", ["status"], opts);
    spawnSync("npm", ["run", "hello"], opts);
    spawnSync(process.execPath, [TOOL_BINS.yarn4, "--version"], opts);
    spawnSync(process.execPath, [TOOL_BINS.yarn4, "--version"], {
      ...opts,
      cwd: join(world.project, "packages", "a"),
    });
  };

  it("(control) planted with the host's shell, host git, npm and yarn run them", () => {
    const { world, marks, vars } = make();
    spawnSync("sh", ["plant.sh"], { cwd: world.project, env: world.env });
    hostSteps(world, vars);
    for (const name of MARKS) expect(existsSync(join(marks, name)), name).toBe(true);
  });

  it("planted under safe-npm, nothing runs on the host", async () => {
    const { world, marks, vars } = make();
    const r = await world.run(["exec", "--", "sh", "plant.sh"], { env: vars });
    expect(r.exitCode, show(r)).toBe(0);
    expect(readFileSync(join(world.project, "gitcfg"), "utf8")).toBe("");
    expect(existsSync(join(world.project, ".yarnrc-ci.yml"))).toBe(false);
    const global = join(world.project, ".npmrc-global");
    expect(existsSync(global)).toBe(false);
    expect(r.stderr).toContain(`moved ${global} to ${global}.quarantined-by-safe-npm`);
    const nested = join(world.project, "packages", "a", ".yarnrc-ci.yml");
    expect(existsSync(nested)).toBe(false);
    expect(r.stderr).toContain(`moved ${nested} to ${nested}.quarantined-by-safe-npm`);
    hostSteps(world, vars);
    for (const name of MARKS) expect(existsSync(join(marks, name)), name).toBe(false);
  });

  it("npm's global config kept in the project shows no credential inside and stays as it was", async () => {
    const world = makeWorld({ projectInHome: true });
    worlds.push(world);
    const global = join(world.project, ".npmrc-global");
    const text = "registry=http://127.0.0.1:9/\n//127.0.0.1:9/:_authToken=GLOBAL-SECRET\n";
    writeFileSync(global, text);
    const vars = { NPM_CONFIG_GLOBALCONFIG: global };
    const r = await world.run(
      [
        "exec",
        "--",
        "sh",
        "-c",
        `cat ${global}; echo 'script-shell=/x' >> ${global} || echo READ-ONLY`,
      ],
      { env: vars },
    );
    expect(r.exitCode, show(r)).toBe(0);
    expect(r.stdout).toContain("registry=http://127.0.0.1:9/");
    expect(r.stdout).not.toContain("GLOBAL-SECRET");
    expect(r.stdout).toContain("READ-ONLY");
    // (control) the file on the host still holds it, unchanged.
    expect(readFileSync(global, "utf8")).toBe(text);
    // Another name for it in the project would show it: refused before anything runs.
    linkSync(global, join(world.project, "other-name"));
    const linked = await world.run(["exec", "--", "true"], { env: vars });
    expect(linked.exitCode, show(linked)).toBe(125);
    expect(linked.stderr).toContain("has 2 names (hard links)");
  });

  it("refuses a relative NPM_CONFIG_USERCONFIG before anything runs", async () => {
    const world = makeWorld({ projectInHome: true });
    worlds.push(world);
    const r = await world.run(["exec", "--", "true"], {
      env: { NPM_CONFIG_USERCONFIG: ".npmrc-ci" },
    });
    expect(r.exitCode, show(r)).toBe(125);
    expect(r.stderr).toContain("NPM_CONFIG_USERCONFIG=.npmrc-ci is a relative path");
  });
});
