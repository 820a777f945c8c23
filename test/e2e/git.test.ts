/**
 * What the host runs later from the project: git runs code from a repository's config and hooks,
 * and a bare `npm run` of a `safe-npm exec -- …` script runs whatever `node_modules/.bin/safe-npm`
 * is. Sandboxed code must not be able to plant or change either: the project's own .git and its
 * hooks directory are read-only inside; any other repository (a `.git`, or a directory shaped
 * like one) and the script prefix's bins are fingerprinted before the run and moved aside after
 * it when new or changed — exactly, with no clock, so what the user made just before is left alone.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { cliPath } from "./paths.js";
import {
  installSelfInto,
  makeWorld,
  type RunResult,
  safeNpmExec,
  type World,
  waitFor,
} from "./world.js";

const unavailable = inject("sandboxUnavailable");
const packed = inject("packedFixtures");

/** safe-npm's report that it moved `path` aside after a run. */
const movedAside = (path: string): string =>
  `safe-npm: moved ${path} to ${path}.quarantined-by-safe-npm`;

/** `safe-npm --quiet exec -- sh -c <script>` in the world's project. */
const execSh = (world: World, script: string): Promise<RunResult> =>
  world.run(["--quiet", "exec", "--", "sh", "-c", script]);

/** An fsmonitor/hook command that touches `marker` (the `#` drops the arguments git adds). */
const touch = (marker: string): string => `touch ${marker} #`;

describe.skipIf(unavailable !== "")("a .git planted by sandboxed code", () => {
  let world: World;
  let marker: string;
  /** Plants `<dir>/.git` with an fsmonitor that touches the marker when git runs there. */
  const PLANT = (dir: string): string =>
    `git init -q ${dir} && git -C ${dir} config core.fsmonitor "${touch(marker)}"`;
  /** git status in `<project>/<dir>` on the host runs no planted fsmonitor. */
  const gitStatusRunsNothingIn = (dir: string): void => {
    spawnSync("git", ["-C", join(world.project, dir), "status"], { stdio: "ignore" });
    expect(existsSync(marker)).toBe(false);
  };

  beforeAll(() => {
    world = makeWorld({ projectInHome: true });
    marker = join(world.dir, "fsmonitor-ran");
    writeFileSync(
      join(world.project, ".git", "info", "exclude"),
      "sub/\nvendor/\nkilled/\nplant*\nhidden*\n*.quarantined-by-safe-npm*\n",
    );
  });
  afterAll(() => world?.dispose());

  it("(control) such a .git does run its fsmonitor when git is used there", () => {
    execFileSync("sh", ["-c", PLANT(join(world.dir, "control"))], { cwd: world.dir });
    spawnSync("git", ["-C", join(world.dir, "control"), "status"], { stdio: "ignore" });
    expect(existsSync(marker)).toBe(true);
    rmSync(marker);
  });

  it("leaves alone a nested repository the user created just before the run", async () => {
    // A vendored clone made a moment before: no clock can tell it from one made by the run.
    execFileSync("git", ["init", "-q", join(world.project, "vendor", "lib")]);
    const r = await world.run(["--quiet", "exec", "--", "true"]);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).not.toContain("moved");
    expect(existsSync(join(world.project, "vendor", "lib", ".git", "HEAD"))).toBe(true);
  });

  it("is moved aside after the run and reported, so git on the host never runs it", async () => {
    const r = await execSh(world, PLANT("sub"));
    expect(r.exitCode).toBe(0);
    const planted = join(world.project, "sub", ".git");
    expect(r.stderr).toContain(movedAside(planted));
    expect(existsSync(planted)).toBe(false);
    expect(existsSync(`${planted}.quarantined-by-safe-npm`)).toBe(true);
    gitStatusRunsNothingIn("sub");
  });

  it("a run killed with SIGKILL before its check is checked by the next run in the project", async () => {
    const ready = join(world.project, "killed", "planted");
    const [node = process.execPath, ...args] = safeNpmExec(
      "sh",
      "-c",
      `${PLANT("killed")} && touch ${ready}; sleep 600`,
    );
    const killed = spawn(node, args, { cwd: world.project, env: world.env, stdio: "ignore" });
    await waitFor(() => existsSync(ready), "the plant");
    const gone = new Promise((resolve) => killed.on("exit", resolve));
    killed.kill("SIGKILL");
    await gone;
    // (control) nothing checked it: the planted repository is still in place, and so are the
    // empty read-only stand-ins bwrap made for the root's missing config files.
    const planted = join(world.project, "killed", ".git");
    expect(existsSync(planted)).toBe(true);
    const standIn = join(world.project, ".yarnrc.yml");
    expect(readFileSync(standIn, "utf8")).toBe("");
    const r = await world.run(["--quiet", "exec", "--", "true"]);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain("was killed before its after-run check");
    expect(r.stderr).toContain(movedAside(planted));
    gitStatusRunsNothingIn("killed");
    // The check ran with the killed run's own walk: the project's .git, read-only in that run,
    // is not taken for new; and its stand-ins are gone, not left in the project for good.
    expect(r.stderr).not.toContain(movedAside(join(world.project, ".git")));
    expect(existsSync(join(world.project, ".git", "HEAD"))).toBe(true);
    expect(existsSync(standIn)).toBe(false);
    expect(existsSync(join(world.project, ".yarn"))).toBe(false);
  });

  it("a killed run's planted root config is moved aside before the next run reads or binds it", async () => {
    // A missing pnpm-workspace.yaml gets no stand-in (an empty one would make the project look
    // like pnpm's) and is checked after the run, which a SIGKILL skips. The next run must check
    // before its own guards bind the file as it is, or bwrap finds it gone.
    const ready = join(world.project, "killed", "ready2");
    const [node = process.execPath, ...args] = safeNpmExec(
      "sh",
      "-c",
      `printf 'pnpmfile: evil.cjs\\n' > pnpm-workspace.yaml && touch ${ready}; sleep 600`,
    );
    const killed = spawn(node, args, { cwd: world.project, env: world.env, stdio: "ignore" });
    await waitFor(() => existsSync(ready), "the plant");
    const gone = new Promise((resolve) => killed.on("exit", resolve));
    killed.kill("SIGKILL");
    await gone;
    const config = join(world.project, "pnpm-workspace.yaml");
    expect(readFileSync(config, "utf8")).toContain("pnpmfile");
    const r = await world.run(["--quiet", "exec", "--", "true"]);
    expect(r.stderr).toContain("was killed before its after-run check");
    expect(r.stderr).toContain(movedAside(config));
    expect(r.stderr).not.toContain("Can't find source path");
    expect(r.exitCode).toBe(0);
    expect(existsSync(config)).toBe(false);
    rmSync(`${config}.quarantined-by-safe-npm`);
  });

  it("a killed run from the workspace root is checked by the next run from a package below it", async () => {
    // The package gets a lockfile of its own from the killed run: a run started there has the
    // package for its project, and must still check what the run above planted in it.
    const pkg = join(world.project, "killed", "pkg");
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, "package.json"), '{"name":"pkg","private":true}\n');
    const ready = join(world.project, "killed", "ready3");
    const [node = process.execPath, ...args] = safeNpmExec(
      "sh",
      "-c",
      `cd killed/pkg && echo '{}' > package-lock.json && printf 'registry=http://evil.example/\\n' > .npmrc && touch ${ready}; sleep 600`,
    );
    const killed = spawn(node, args, { cwd: world.project, env: world.env, stdio: "ignore" });
    await waitFor(() => existsSync(ready), "the plant");
    const gone = new Promise((resolve) => killed.on("exit", resolve));
    killed.kill("SIGKILL");
    await gone;
    const planted = join(pkg, ".npmrc");
    expect(readFileSync(planted, "utf8")).toContain("evil.example");
    const r = await execa(process.execPath, [cliPath, "--verbose", "exec", "--", "true"], {
      cwd: pkg,
      env: world.env,
      reject: false,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain(`an earlier run in ${world.project} was killed`);
    expect(r.stderr).toContain(movedAside(planted));
    // The planted registry never made it into this run's allowlist.
    expect(r.stderr).not.toContain("evil.example");
    expect(existsSync(planted)).toBe(false);
  });

  it("catches hooks and config added to an existing nested repository", async () => {
    const r = await execSh(
      world,
      `printf '#!/bin/sh\\ntouch ${marker}\\n' > vendor/lib/.git/hooks/post-checkout && chmod +x vendor/lib/.git/hooks/post-checkout`,
    );
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain(`safe-npm: moved ${join(world.project, "vendor", "lib", ".git")}`);
    expect(existsSync(join(world.project, "vendor", "lib", ".git"))).toBe(false);
  });

  // A nested repository whose `.git` is the user's link to a git dir kept in the project: code
  // inside makes that folder a link to a copy it writes outside the project (its private home's
  // cache, writable inside), with an fsmonitor. The `.git` link itself is left as it was.
  const swap = (gitdirs: string, copy: string, target: string): string =>
    `cp -r ${gitdirs}/lnk ${copy} && git config -f ${copy}/config core.fsmonitor "${touch(marker)}" && mv ${gitdirs}/lnk ${gitdirs}/old && ln -s ${target} ${gitdirs}/lnk`;
  const linkedRepo = (): string => {
    const gitdirs = join(world.project, "plantdirs");
    rmSync(gitdirs, { recursive: true, force: true });
    rmSync(join(world.project, "plantlnk"), { recursive: true, force: true });
    mkdirSync(gitdirs);
    execFileSync("git", [
      "init",
      "-q",
      `--separate-git-dir=${join(gitdirs, "lnk")}`,
      join(world.project, "plantlnk"),
    ]);
    rmSync(join(world.project, "plantlnk", ".git"));
    symlinkSync(join(gitdirs, "lnk"), join(world.project, "plantlnk", ".git"));
    return gitdirs;
  };

  it("(control) a nested repository's git dir swapped for a link to one with an fsmonitor runs it on git status", () => {
    const gitdirs = linkedRepo();
    const evil = join(world.dir, "swap-evil.git");
    execFileSync("sh", ["-c", swap(gitdirs, evil, evil)]);
    spawnSync("git", ["-C", join(world.project, "plantlnk"), "status"], { stdio: "ignore" });
    expect(existsSync(marker)).toBe(true);
    rmSync(marker);
  });

  it("a nested repository's git dir swapped inside for a link to one written outside: its .git is moved aside", async () => {
    const gitdirs = linkedRepo();
    expect((await world.run(["--quiet", "exec", "--", "true"])).exitCode).toBe(0);
    const homes = join(world.cache, "safe-npm", "homes");
    const [home = ""] = readdirSync(homes).map((name) => join(homes, name));
    const r = await execSh(
      world,
      swap(gitdirs, join(world.home, ".npm", "evil.git"), join(home, ".npm", "evil.git")),
    );
    expect(r.stderr).toContain(movedAside(join(world.project, "plantlnk", ".git")));
    gitStatusRunsNothingIn("plantlnk");
  });

  it("(control) a directory shaped like a git dir, with core.worktree, runs its fsmonitor on git status", () => {
    const dir = join(world.dir, "control-bare");
    execFileSync("sh", ["-c", PLANT_BARE(dir, marker)], { cwd: world.dir });
    spawnSync("git", ["-C", dir, "status"], { stdio: "ignore" });
    expect(existsSync(marker)).toBe(true);
    rmSync(marker);
  });

  it("moves aside the HEAD of a directory made into a git dir without any .git entry", async () => {
    // The folder stays (a package's own files may be in it); its HEAD is what git looks for.
    const r = await execSh(
      world,
      [
        "mkdir plant && echo mine > plant/notes.txt",
        "git init -q plant.wt && cp -a plant.wt/.git/. plant/ && rm -rf plant.wt",
        "git -C plant config core.worktree ..",
        `git -C plant config core.fsmonitor "${touch(marker)}"`,
      ].join(" && "),
    );
    expect(r.exitCode).toBe(0);
    const planted = join(world.project, "plant");
    expect(r.stderr).toContain(movedAside(join(planted, "HEAD")));
    expect(readFileSync(join(planted, "notes.txt"), "utf8")).toBe("mine\n");
    gitStatusRunsNothingIn("plant");
  });

  it("(control) a repository under a directory that cannot be listed still runs its fsmonitor", () => {
    const dir = join(world.dir, "control-hidden");
    execFileSync("sh", [
      "-c",
      `mkdir -p ${dir}/app && ${PLANT(`${dir}/app`)} && chmod 0311 ${dir}`,
    ]);
    try {
      spawnSync("git", ["-C", join(dir, "app"), "status"], { stdio: "ignore" });
      expect(existsSync(marker)).toBe(true);
      rmSync(marker);
    } finally {
      chmodSync(dir, 0o755);
    }
  });

  it("moves aside what hides a planted repository behind a directory that cannot be listed", async () => {
    const r = await execSh(
      world,
      `mkdir -p hidden/app && ${PLANT("hidden/app")} && chmod 0311 hidden`,
    );
    const hidden = join(world.project, "hidden");
    try {
      expect(r.exitCode, r.stderr).toBe(0);
      // Unprivileged, the directory itself is moved; root lists it anyway and finds the .git.
      const moved = process.getuid?.() === 0 ? join(hidden, "app", ".git") : hidden;
      expect(r.stderr).toContain(movedAside(moved));
      gitStatusRunsNothingIn("hidden/app");
    } finally {
      for (const dir of [hidden, `${hidden}.quarantined-by-safe-npm`]) {
        if (existsSync(dir)) chmodSync(dir, 0o755);
      }
    }
  });

  it("leaves everything alone when no .git was touched, and the project's own .git is read-only", async () => {
    const r = await execSh(world, "echo hi > notes.txt; touch .git/x 2>/dev/null || echo ro");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe("ro");
    expect(r.stderr).not.toContain("moved");
    expect(existsSync(join(world.project, ".git", "HEAD"))).toBe(true);
  });
});

/** A git dir without a .git entry: git's discovery takes `dir` itself as the repository. */
function PLANT_BARE(dir: string, marker: string): string {
  return [
    `git init -q ${dir}.wt`,
    `mv ${dir}.wt/.git ${dir}`,
    `rmdir ${dir}.wt`,
    `git -C ${dir} config core.worktree ..`,
    `git -C ${dir} config core.fsmonitor "${touch(marker)}"`,
  ].join(" && ");
}

describe.skipIf(unavailable !== "")("the hooks directory core.hooksPath names (husky)", () => {
  let world: World;
  let marker: string;
  const git = (...args: string[]): void => {
    execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", ...args], {
      cwd: world.project,
      stdio: "ignore",
    });
  };
  const hook = (): string => join(world.project, ".husky", "pre-commit");

  beforeAll(() => {
    world = makeWorld({ projectInHome: true });
    marker = join(world.dir, "hook-ran");
    mkdirSync(join(world.project, ".husky"));
    writeFileSync(hook(), "#!/bin/sh\necho user-hook >/dev/null\n");
    chmodSync(hook(), 0o755);
    git("config", "core.hooksPath", ".husky");
    git("add", ".husky");
    git("commit", "-qm", "husky");
  });
  afterAll(() => world?.dispose());

  it("cannot be changed inside, so the next git commit on the host runs the user's hook only", async () => {
    const r = await execSh(
      world,
      `echo 'touch ${marker}' >> .husky/pre-commit 2>/dev/null || echo refused; echo x > .husky/post-commit 2>/dev/null || echo refused`,
    );
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe("refused\nrefused");
    git("commit", "-q", "--allow-empty", "-m", "after");
    expect(existsSync(marker)).toBe(false);
  });

  it("a hooks directory that does not exist yet is checked: one created inside is moved aside", async () => {
    git("config", "core.hooksPath", ".githooks");
    try {
      const r = await execSh(
        world,
        `mkdir .githooks && printf '#!/bin/sh\\ntouch ${marker}\\n' > .githooks/pre-commit && chmod +x .githooks/pre-commit`,
      );
      expect(r.exitCode).toBe(0);
      const planted = join(world.project, ".githooks");
      expect(r.stderr).toContain(movedAside(planted));
      git("commit", "-q", "--allow-empty", "-m", "after");
      expect(existsSync(marker)).toBe(false);
    } finally {
      git("config", "core.hooksPath", ".husky");
    }
  });

  it("a hook linked from .git/hooks to a tracked script (no hooksPath): the script is read-only inside", async () => {
    git("config", "--unset", "core.hooksPath");
    const script = join(world.project, "scripts", "pre-commit");
    const linked = join(world.project, ".git", "hooks", "pre-commit");
    mkdirSync(dirname(script), { recursive: true });
    writeFileSync(script, "#!/bin/sh\necho user-hook >/dev/null\n");
    chmodSync(script, 0o755);
    symlinkSync("../../scripts/pre-commit", linked);
    try {
      const r = await execSh(
        world,
        `echo 'touch ${marker}' >> scripts/pre-commit 2>/dev/null || echo refused`,
      );
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe("refused");
      git("commit", "-q", "--allow-empty", "-m", "linked");
      expect(existsSync(marker)).toBe(false);
      // (control) the same append on the host runs on the next commit.
      appendFileSync(script, `touch ${marker}\n`);
      git("commit", "-q", "--allow-empty", "-m", "linked control");
      expect(existsSync(marker)).toBe(true);
      rmSync(marker);
    } finally {
      rmSync(linked);
      rmSync(dirname(script), { recursive: true, force: true });
      git("config", "core.hooksPath", ".husky");
    }
  });

  it("a link on the way from .git/hooks to the script, pointed elsewhere inside, is moved aside", async () => {
    git("config", "--unset", "core.hooksPath");
    const scripts = join(world.project, "scripts");
    const linked = join(world.project, ".git", "hooks", "pre-commit");
    mkdirSync(join(world.project, "tools"), { recursive: true });
    mkdirSync(scripts, { recursive: true });
    writeFileSync(
      join(world.project, "tools", "hook.sh"),
      "#!/bin/sh\necho user-hook >/dev/null\n",
    );
    chmodSync(join(world.project, "tools", "hook.sh"), 0o755);
    symlinkSync("../tools/hook.sh", join(scripts, "pre-commit"));
    symlinkSync("../../scripts/pre-commit", linked);
    const swap = `printf '#!/bin/sh\\ntouch ${marker}\\n' > evil.sh && chmod +x evil.sh && rm scripts/pre-commit && ln -s ../evil.sh scripts/pre-commit`;
    try {
      const r = await execSh(world, swap);
      expect(r.exitCode).toBe(0);
      expect(r.stderr).toContain(movedAside(join(scripts, "pre-commit")));
      git("commit", "-q", "--allow-empty", "-m", "chain");
      expect(existsSync(marker)).toBe(false);
      // (control) the same swap on the host runs on the next commit.
      rmSync(`${join(scripts, "pre-commit")}.quarantined-by-safe-npm`);
      symlinkSync("../tools/hook.sh", join(scripts, "pre-commit"));
      execFileSync("sh", ["-c", swap], { cwd: world.project });
      git("commit", "-q", "--allow-empty", "-m", "chain control");
      expect(existsSync(marker)).toBe(true);
      rmSync(marker);
    } finally {
      rmSync(linked);
      for (const dir of [scripts, join(world.project, "tools"), join(world.project, "evil.sh")])
        rmSync(dir, { recursive: true, force: true });
      git("config", "core.hooksPath", ".husky");
    }
  });

  it("(control) without safe-npm, an appended line runs on the next git commit", () => {
    appendFileSync(hook(), `touch ${marker}\n`);
    git("commit", "-q", "--allow-empty", "-m", "control");
    expect(existsSync(marker)).toBe(true);
  });
});

describe.skipIf(unavailable !== "")("the script prefix run by a bare npm run", () => {
  const packageJson = {
    dependencies: { impostor: "file:vendor/impostor-1.0.0.tgz" },
    scripts: { build: "safe-npm exec -- node -e \"console.log(require('os').hostname())\"" },
  };
  const vendor = { packed, files: ["impostor-1.0.0.tgz"] };
  let world: World;
  /** A directory holding the real safe-npm, as a global install puts it on PATH. */
  let globalBin: string;
  const npmRunBuild = (w: World) =>
    execa("npm", ["run", "--silent", "build"], {
      cwd: w.project,
      env: { ...w.env, PATH: `${globalBin}:${w.env.PATH}` },
      extendEnv: false,
      reject: false,
    });
  const ran = (w: World): string => join(w.project, ".impostor-ran");

  beforeAll(() => {
    world = makeWorld({ projectInHome: true, packageJson, vendor });
    globalBin = join(world.dir, "global-bin");
    mkdirSync(globalBin);
    symlinkSync(cliPath, join(globalBin, "safe-npm"));
  });
  afterAll(() => world?.dispose());

  it("(control) without safe-npm, a dependency's bin named safe-npm runs on the host", async () => {
    const control = makeWorld({ projectInHome: false, packageJson, vendor });
    try {
      const install = await execa("npm", ["install", "--no-audit", "--no-fund"], {
        cwd: control.project,
        env: control.env,
        extendEnv: false,
        reject: false,
      });
      expect(install.exitCode, install.stderr).toBe(0);
      await npmRunBuild(control);
      expect(readFileSync(ran(control), "utf8")).toMatch(/^host=(?!safe-npm).* args=exec -- node/);
    } finally {
      control.dispose();
    }
  });

  it("is moved aside after safe-npm install: npm run build then runs the real safe-npm, sandboxed", async () => {
    const install = await world.run(["--quiet", "install"]);
    expect(install.exitCode, install.stderr).toBe(0);
    const bin = join(world.project, "node_modules", ".bin", "safe-npm");
    expect(install.stderr).toContain(movedAside(bin));
    const r = await npmRunBuild(world);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe("safe-npm");
    expect(existsSync(ran(world))).toBe(false);
  });

  it("a project-local safe-npm changed inside is moved aside (control: the change runs without the check)", async () => {
    installSelfInto(world.project);
    const tamper = `require("fs").appendFileSync(".impostor-ran", "tampered\\n");`;
    const r = await execSh(world, `echo '${tamper}' >> node_modules/safe-npm/dist/cli.cjs`);
    expect(r.exitCode).toBe(0);
    const self = join(world.project, "node_modules", "safe-npm");
    expect(r.stderr).toContain(movedAside(self));
    const after = await npmRunBuild(world);
    expect(after.exitCode, after.stderr).toBe(0);
    expect(existsSync(ran(world))).toBe(false);
    // Control: the same change made on the host, with nothing to move it aside, runs.
    rmSync(join(world.project, "node_modules", ".bin", "safe-npm"));
    installSelfInto(world.project);
    appendFileSync(join(self, "dist", "cli.cjs"), `${tamper}\n`);
    await npmRunBuild(world);
    expect(readFileSync(ran(world), "utf8")).toBe("tampered\n");
  });
});

describe.skipIf(unavailable !== "")(
  "a .bin/safe-npm into pnpm's store without a local safe-npm",
  () => {
    const packageJson = { scripts: { build: "safe-npm exec -- node -e 1" } };
    const dir = "node_modules/.pnpm/safe-npm@1/node_modules/safe-npm";
    const PLANT_BIN = [
      `mkdir -p ${dir} node_modules/.bin`,
      `printf '#!/bin/sh\\necho PWNED\\n' > ${dir}/x`,
      `chmod +x ${dir}/x`,
      "ln -s ../.pnpm/safe-npm@1/node_modules/safe-npm/x node_modules/.bin/safe-npm",
    ].join(" && ");
    const npmRunBuild = (w: World) =>
      execa("npm", ["run", "--silent", "build"], {
        cwd: w.project,
        env: w.env,
        extendEnv: false,
        reject: false,
      });
    const worlds: World[] = [];
    afterAll(() => {
      for (const w of worlds) w.dispose();
    });

    it("(control) without safe-npm, a bare npm run build runs it", async () => {
      const control = makeWorld({ projectInHome: false, packageJson });
      worlds.push(control);
      execFileSync("sh", ["-c", PLANT_BIN], { cwd: control.project });
      expect((await npmRunBuild(control)).stdout).toContain("PWNED");
    });

    it("planted inside, it is moved aside and a bare npm run build does not run it", async () => {
      const world = makeWorld({ projectInHome: true, packageJson });
      worlds.push(world);
      const r = await execSh(world, PLANT_BIN);
      expect(r.exitCode, r.stderr).toBe(0);
      const bin = join(world.project, "node_modules", ".bin", "safe-npm");
      expect(r.stderr).toContain(movedAside(bin));
      expect((await npmRunBuild(world)).stdout).not.toContain("PWNED");
    });
  },
);
