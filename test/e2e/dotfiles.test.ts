/**
 * A dotfiles repository with a package.json is a project, and its files are linked into the
 * home: `~/.gitconfig -> …/gitconfig`, GNU stow's `~/.config/git -> ../…/git`. Code run there
 * must not append a `core.fsmonitor` that the next host `git status` runs. The control appends
 * the same with the host's shell and shows git running it.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { PNPM_LATEST_YAML, TOOL_BINS } from "./tools.js";
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

  /** stow links file by file into a folder that exists: `~/.config/git/config -> …`. */
  const makePerFile = (): { world: World; marks: string } => {
    const world = makeWorld({ projectInHome: true, packageJson: { scripts: { hi: "echo hi" } } });
    worlds.push(world);
    const marks = join(world.dir, "marks");
    mkdirSync(marks);
    const p = world.project;
    for (const dir of ["git", "pnpm"]) {
      mkdirSync(join(p, dir));
      mkdirSync(join(world.home, ".config", dir), { recursive: true });
    }
    writeFileSync(join(p, "git", "config"), "");
    writeFileSync(join(p, "pnpm", "config.yaml"), "");
    for (const file of ["git/config", "pnpm/config.yaml"])
      symlinkSync(
        relative(join(world.home, ".config", file, ".."), join(p, file)),
        join(world.home, ".config", file),
      );
    writeFileSync(join(p, "pnpm-workspace.yaml"), PNPM_LATEST_YAML);
    writeFileSync(
      join(p, "plant.sh"),
      [
        `printf '#!/bin/sh\\ntouch ${join(marks, "git")}\\n' > git.sh; chmod +x git.sh`,
        `printf '[core]\\n\\tfsmonitor = %s\\n' "$PWD/git.sh" >> git/config`,
        `printf '#!/bin/sh\\ntouch ${join(marks, "pnpm")}\\nexec /bin/sh "$@"\\n' > pnpm.sh; chmod +x pnpm.sh`,
        `printf 'scriptShell: %s\\n' "$PWD/pnpm.sh" >> pnpm/config.yaml`,
        "true",
      ].join("\n"),
    );
    return { world, marks };
  };

  /** What the user runs next on the host: git status and a bare pnpm 12 script. */
  const hostTools = (world: World): void => {
    gitStatusWith(world, join(world.home, ".config", "git", "config"));
    spawnSync(TOOL_BINS.pnpmLatest, ["run", "hi"], {
      cwd: world.project,
      env: world.env,
      stdio: "ignore",
    });
  };

  it("(control) files linked one by one: appended with the host's shell, git and pnpm run them", () => {
    const { world, marks } = makePerFile();
    spawnSync("sh", ["plant.sh"], { cwd: world.project, env: world.env });
    hostTools(world);
    expect(existsSync(join(marks, "git"))).toBe(true);
    expect(existsSync(join(marks, "pnpm"))).toBe(true);
  });

  it("files linked one by one stay read-only under safe-npm, and host git and pnpm run nothing", async () => {
    const { world, marks } = makePerFile();
    const r = await world.run(["exec", "--", "sh", "plant.sh"]);
    expect(r.exitCode, show(r)).toBe(0);
    expect(readFileSync(join(world.project, "git", "config"), "utf8")).toBe("");
    expect(readFileSync(join(world.project, "pnpm", "config.yaml"), "utf8")).toBe("");
    hostTools(world);
    expect(existsSync(join(marks, "git"))).toBe(false);
    expect(existsSync(join(marks, "pnpm"))).toBe(false);
  }, 120_000);

  it("yarn 1's ~/.yarnrc and ~/.bashrc linked into it stay read-only (control: bare yarn 1 obeys a yarn-path)", async () => {
    const world = makeWorld({ projectInHome: true });
    worlds.push(world);
    const p = world.project;
    const marks = join(world.dir, "marks");
    mkdirSync(marks);
    writeFileSync(join(p, "yarnrc"), "# the user's yarnrc\n");
    writeFileSync(join(p, "bashrc"), "# the user's bashrc\n");
    // makeWorld wrote a ~/.bashrc of its own: the dotfiles one replaces it.
    spawnSync("rm", ["-f", join(world.home, ".bashrc")]);
    symlinkSync(join(p, "yarnrc"), join(world.home, ".yarnrc"));
    symlinkSync(join(p, "bashrc"), join(world.home, ".bashrc"));
    const plant = [
      `echo 'require("fs").writeFileSync("${join(marks, "yarn")}", "")' > evil-yarn.js`,
      `printf 'yarn-path "%s"\\n' "$PWD/evil-yarn.js" >> yarnrc && echo wrote-yarnrc || echo refused-yarnrc`,
      `echo 'touch ${join(marks, "bash")}' >> bashrc && echo wrote-bashrc || echo refused-bashrc`,
    ].join("; ");
    const bareYarn = (): void => {
      spawnSync(process.execPath, [TOOL_BINS.yarn1, "--version"], {
        cwd: world.dir,
        env: world.env,
        stdio: "ignore",
      });
    };
    // (control) written by the host's shell, a bare yarn 1 anywhere runs the planted release.
    spawnSync("sh", ["-c", plant], { cwd: p });
    bareYarn();
    expect(existsSync(join(marks, "yarn"))).toBe(true);
    spawnSync("rm", ["-f", join(marks, "yarn")]);
    writeFileSync(join(p, "yarnrc"), "# the user's yarnrc\n");
    writeFileSync(join(p, "bashrc"), "# the user's bashrc\n");
    const r = await world.run(["--quiet", "exec", "--", "sh", "-c", plant]);
    expect(r.stdout, show(r)).toContain("refused-yarnrc");
    expect(r.stdout).toContain("refused-bashrc");
    expect(readFileSync(join(p, "bashrc"), "utf8")).toBe("# the user's bashrc\n");
    bareYarn();
    expect(existsSync(join(marks, "yarn"))).toBe(false);
  }, 120_000);

  it("zsh's files in $ZDOTDIR, ssh's included configs and systemd's user units linked into it stay read-only", async () => {
    const world = makeWorld({ projectInHome: true });
    worlds.push(world);
    const p = world.project;
    const own = "# the user's own\n";
    // ZDOTDIR names a folder of the dotfiles project; ~/.ssh/config.d and ~/.config/systemd are
    // links into it (ssh's `Include config.d/*` runs a ProxyCommand there; systemd starts units).
    for (const dir of ["zsh", "ssh.d", "systemd/user"])
      mkdirSync(join(p, dir), { recursive: true });
    const files = ["zsh/.zshrc", "ssh.d/work", "systemd/user/agent.service"];
    for (const f of files) writeFileSync(join(p, f), own);
    world.env.ZDOTDIR = join(p, "zsh");
    mkdirSync(join(world.home, ".ssh"), { recursive: true });
    symlinkSync(join(p, "ssh.d"), join(world.home, ".ssh", "config.d"));
    const config = world.env.XDG_CONFIG_HOME ?? join(world.home, ".config");
    mkdirSync(config, { recursive: true });
    symlinkSync(join(p, "systemd"), join(config, "systemd"));
    const plant = files
      .map((f) => `(echo 'evil' >> ${f} && echo wrote-${f}) || echo refused-${f}`)
      .join("; ");
    const r = await world.run(["--quiet", "exec", "--", "sh", "-c", plant]);
    expect(r.exitCode, show(r)).toBe(0);
    for (const f of files) {
      expect(r.stdout, show(r)).toContain(`refused-${f}`);
      expect(readFileSync(join(p, f), "utf8")).toBe(own);
    }
    // (control) without the links and ZDOTDIR, the same files are the project's to write.
    delete world.env.ZDOTDIR;
    rmSync(join(world.home, ".ssh", "config.d"));
    rmSync(join(config, "systemd"));
    const free = await world.run(["--quiet", "exec", "--", "sh", "-c", plant]);
    for (const f of files) expect(free.stdout, show(free)).toContain(`wrote-${f}`);
  }, 120_000);
});
