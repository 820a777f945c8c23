/**
 * A dotfiles repository with a package.json is a project, and its files are linked into the
 * home: `~/.gitconfig -> …/gitconfig`, GNU stow's `~/.config/git -> ../…/git`. Code run there
 * must not append a `core.fsmonitor` that the next host `git status` runs. The control appends
 * the same with the host's shell and shows git running it.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { makeWorld, show, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");

describe.skipIf(unavailable !== "")("the user's config linked into the project", () => {
  const worlds: World[] = [];
  afterAll(() => {
    for (const world of worlds) world.dispose();
  });

  const make = (): { world: World; marks: string } => {
    const world = makeWorld({ projectInHome: true });
    worlds.push(world);
    const marks = join(world.dir, "marks");
    mkdirSync(marks);
    const p = world.project;
    writeFileSync(join(p, "gitconfig"), "[user]\n\tname = me\n");
    symlinkSync(join(p, "gitconfig"), join(world.home, ".gitconfig"));
    mkdirSync(join(p, "git"));
    writeFileSync(join(p, "git", "config"), "");
    mkdirSync(join(world.home, ".config"), { recursive: true });
    symlinkSync(
      relative(join(world.home, ".config"), join(p, "git")),
      join(world.home, ".config", "git"),
    );
    const hook = (name: string): string =>
      `printf '#!/bin/sh\\ntouch ${join(marks, name)}\\n' > ${name}.sh; chmod +x ${name}.sh`;
    writeFileSync(
      join(p, "plant.sh"),
      [
        hook("global"),
        `printf '[core]\\n\\tfsmonitor = %s\\n' "$PWD/global.sh" >> gitconfig`,
        hook("xdg"),
        `printf '[core]\\n\\tfsmonitor = %s\\n' "$PWD/xdg.sh" >> git/config`,
        "true",
      ].join("\n"),
    );
    return { world, marks };
  };

  /** Each config on its own: git takes the last fsmonitor, so one file at a time. */
  const gitStatusWith = (world: World, file: string): void => {
    spawnSync("git", ["status"], {
      cwd: world.project,
      env: { ...world.env, GIT_CONFIG_GLOBAL: file },
      stdio: "ignore",
    });
  };

  it("(control) appended with the host's shell, host git runs each fsmonitor", () => {
    const { world, marks } = make();
    spawnSync("sh", ["plant.sh"], { cwd: world.project, env: world.env });
    gitStatusWith(world, join(world.home, ".gitconfig"));
    gitStatusWith(world, join(world.home, ".config", "git", "config"));
    expect(existsSync(join(marks, "global"))).toBe(true);
    expect(existsSync(join(marks, "xdg"))).toBe(true);
  });

  it("under safe-npm both stay read-only and host git runs nothing", async () => {
    const { world, marks } = make();
    const r = await world.run(["exec", "--", "sh", "plant.sh"]);
    expect(r.exitCode, show(r)).toBe(0);
    expect(readFileSync(join(world.project, "gitconfig"), "utf8")).toBe("[user]\n\tname = me\n");
    expect(readFileSync(join(world.project, "git", "config"), "utf8")).toBe("");
    gitStatusWith(world, join(world.home, ".gitconfig"));
    gitStatusWith(world, join(world.home, ".config", "git", "config"));
    expect(existsSync(join(marks, "global"))).toBe(false);
    expect(existsSync(join(marks, "xdg"))).toBe(false);
  });
});
