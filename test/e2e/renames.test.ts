/**
 * A read-only mount below the project root moves with its parent: code inside could rename the
 * parent away and recreate the guarded path with its own content, which host yarn or git then
 * runs. Every directory between the root and a guarded path is a mount point inside, which
 * cannot be renamed. The controls do the same with the host's shell and show the plant running.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { TOOL_BINS } from "./tools.js";
import { makeWorld, show, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");

describe.skipIf(unavailable !== "")("renaming a guarded path's parent inside", () => {
  const worlds: World[] = [];
  afterAll(() => {
    for (const world of worlds) world.dispose();
  });

  /** yarn 4 from `.yarn/releases` (yarnPath), git hooks from `tools/hooks` (core.hooksPath). */
  const make = (): { world: World; marks: string } => {
    const world = makeWorld({ projectInHome: true, packageJson: { scripts: {} } });
    worlds.push(world);
    const dir = join(world.dir, "marks");
    mkdirSync(dir);
    const p = world.project;
    mkdirSync(join(p, ".yarn", "releases"), { recursive: true });
    copyFileSync(TOOL_BINS.yarn4, join(p, ".yarn", "releases", "yarn-4.cjs"));
    writeFileSync(join(p, ".yarnrc.yml"), "yarnPath: .yarn/releases/yarn-4.cjs\n");
    mkdirSync(join(p, "tools", "hooks"), { recursive: true });
    writeFileSync(join(p, "tools", "hooks", "README"), "hooks\n");
    spawnSync("git", ["config", "core.hooksPath", "tools/hooks"], { cwd: p });
    const touch = `require("fs").writeFileSync(${JSON.stringify(join(dir, "yarn"))}, "ran")`;
    // Each swap on its own: one refused rename must not stop the other.
    const swap = [
      `mv .yarn .yarn-old && mkdir -p .yarn/releases && echo '${touch}' > .yarn/releases/yarn-4.cjs`,
      `mv tools tools-old && mkdir -p tools/hooks && printf '#!/bin/sh\\ntouch ${join(dir, "git")}\\n' > tools/hooks/pre-commit && chmod +x tools/hooks/pre-commit`,
      "true",
    ].join("\n");
    writeFileSync(join(p, "swap.sh"), swap);
    return { world, marks: dir };
  };

  /** The next ordinary steps on the host: bare yarn, and a commit (runs pre-commit). */
  const hostSteps = (world: World): void => {
    const opts = { cwd: world.project, env: world.env, stdio: "ignore" as const };
    spawnSync(process.execPath, [TOOL_BINS.yarn4, "--version"], opts);
    spawnSync(
      "git",
      [
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.invalid",
        "commit",
        "-qm",
        "x",
        "--allow-empty",
      ],
      opts,
    );
  };

  it("(control) swapped with the host's shell, host yarn and git run the plants", () => {
    const { world, marks } = make();
    spawnSync("sh", ["swap.sh"], { cwd: world.project, env: world.env });
    hostSteps(world);
    expect(existsSync(join(marks, "yarn"))).toBe(true);
    expect(existsSync(join(marks, "git"))).toBe(true);
  });

  it("under safe-npm the renames fail, the guarded files stay, and nothing runs", async () => {
    const { world, marks } = make();
    const release = readFileSync(join(world.project, ".yarn", "releases", "yarn-4.cjs"));
    const r = await world.run(["exec", "--", "sh", "swap.sh"]);
    expect(r.exitCode, show(r)).toBe(0);
    expect(r.stderr).toContain("mv: cannot move '.yarn' to '.yarn-old': Device or resource busy");
    expect(r.stderr).toContain("mv: cannot move 'tools' to 'tools-old': Device or resource busy");
    expect(existsSync(join(world.project, ".yarn-old"))).toBe(false);
    expect(existsSync(join(world.project, "tools-old"))).toBe(false);
    // Buffer.equals: a deep toEqual over 3 MB of bytes takes half a minute.
    expect(
      readFileSync(join(world.project, ".yarn", "releases", "yarn-4.cjs")).equals(release),
    ).toBe(true);
    expect(existsSync(join(world.project, "tools", "hooks", "pre-commit"))).toBe(false);
    hostSteps(world);
    expect(existsSync(join(marks, "yarn"))).toBe(false);
    expect(existsSync(join(marks, "git"))).toBe(false);
  });

  it("writes beside the guarded paths still work, and pinned directories made for the run go", async () => {
    const world = makeWorld({ projectInHome: true, packageJson: { scripts: {} } });
    worlds.push(world);
    // (Not the install state: one that is no state yarn writes is moved aside after the run.)
    const r = await world.run(["exec", "--", "sh", "-c", "touch .yarn/build-state.yml"]);
    expect(r.exitCode, show(r)).toBe(0);
    expect(existsSync(join(world.project, ".yarn", "build-state.yml"))).toBe(true);
    // .yarn was missing there: made (pinned) for the run, kept only for what was written into it.
    const fresh = makeWorld({ projectInHome: true, packageJson: { scripts: {} } });
    worlds.push(fresh);
    const none = await fresh.run(["exec", "--", "sh", "-c", "mv .yarn .yarn-old"]);
    expect(none.stderr).toContain("Device or resource busy");
    expect(existsSync(join(fresh.project, ".yarn"))).toBe(false);
    expect(existsSync(join(fresh.project, ".yarn-old"))).toBe(false);
  });

  it("npm's user config in a sub-folder: renaming the folder neither shows the token nor replaces the file", async () => {
    const world = makeWorld({ projectInHome: true, packageJson: { scripts: {} } });
    worlds.push(world);
    const config = join(world.project, "ci", "npmrc");
    mkdirSync(join(world.project, "ci"));
    const text = "//registry.npmjs.org/:_authToken=CI-SUBFOLDER-TOKEN\nfund=false\n";
    writeFileSync(config, text);
    const script = [
      "mkdir -p .probe",
      "mv ci ci-old && cat ci-old/npmrc > .probe/seen.txt",
      "mkdir -p ci && echo registry=http://127.0.0.1:8001/ > ci/npmrc",
      "true",
    ].join("\n");
    writeFileSync(join(world.project, "swap.sh"), script);
    const r = await world.run(["exec", "--", "sh", "swap.sh"], {
      env: { NPM_CONFIG_USERCONFIG: config },
    });
    expect(r.exitCode, show(r)).toBe(0);
    expect(r.stderr).toContain("mv: cannot move 'ci' to 'ci-old': Device or resource busy");
    const seen = join(world.project, ".probe", "seen.txt");
    expect(existsSync(seen) ? readFileSync(seen, "utf8") : "").not.toContain("CI-SUBFOLDER-TOKEN");
    expect(readFileSync(config, "utf8")).toBe(text);
  });
});
