/**
 * Links and special files planted in the project by sandboxed code must have no effect on the
 * host-side steps of the next run: bwrap's binds of `protect` entries and of the package
 * managers' config, settings discovery and loading, and trust. Each attack is planted by a
 * `safe-npm exec` run (as a postinstall would), the next ordinary run shows it had no effect,
 * and a control shows what the plant does where nothing checks it. A settings file planted
 * inside is moved aside after the run that made it; the same plant is then put in place on the
 * host, as a cloned repository would carry it, for the next run's own refusal.
 */
import { spawnSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { makeWorld, SECRETS, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");

describe.skipIf(unavailable !== "")("links planted in the project", () => {
  let world: World;
  let state: string;
  const sh = (script: string): ReturnType<World["run"]> =>
    world.run(["--quiet", "exec", "--", "sh", "-c", script]);
  /** Removes a plant from the host side, for the next test. */
  const clean = (...names: string[]): void => {
    spawnSync("rm", ["-rf", ...names.map((n) => join(world.project, n))]);
  };
  /**
   * The settings file `name` a plant run made was moved aside after it (and that copy is
   * removed); `place` then puts it where it was from the host, as a cloned repository would.
   */
  const movedAsideThenPlaced = (
    run: Awaited<ReturnType<World["run"]>>,
    name: string,
    place: (path: string) => void,
  ): void => {
    const path = join(world.project, name);
    expect(run.stderr).toContain(`moved ${path} to ${path}.quarantined-by-safe-npm`);
    expect(lstatSync(path, { throwIfNoEntry: false })).toBeUndefined();
    clean(`${name}.quarantined-by-safe-npm`);
    place(path);
  };

  beforeAll(() => {
    world = makeWorld({ projectInHome: true });
    state = join(world.dir, "state");
    world.env.XDG_STATE_HOME = state;
    writeFileSync(join(world.project, ".git", "info", "exclude"), ".sandboxrc*\nkeys\nprobe-out\n");
  });
  afterAll(() => world?.dispose());

  it("a protect entry naming a link to ~/.ssh is refused, and the key is not read", async () => {
    // The plant: a link relative to the project (it resolves both on the host and inside), a
    // mount point for it in the private home, and a narrowing settings file (no trust needed).
    const planted = await sh(
      'mkdir -p ~/.ssh && ln -s ../../.ssh keys && echo \'{"protect":[".git","keys"]}\' > .sandboxrc.json',
    );
    expect(planted.exitCode).toBe(0);
    expect(lstatSync(join(world.project, "keys")).isSymbolicLink()).toBe(true);
    movedAsideThenPlaced(planted, ".sandboxrc.json", (p) =>
      writeFileSync(p, '{"protect":[".git","keys"]}\n'),
    );

    const next = await world.run(["--quiet", "exec", "--", "cat", "keys/id_rsa"]);
    expect(next.exitCode).toBe(125);
    expect(next.stderr).toContain(`protect entry "keys"`);
    expect(next.stderr).toContain(join(world.project, "keys"));
    expect(next.stderr).toContain("symbolic link");
    expect(next.stderr).toContain("hint:");
    expect(`${next.stdout}${next.stderr}`).not.toContain(SECRETS.sshKey);

    // A link in a parent directory counts as well: bwrap follows it just the same.
    clean(".sandboxrc.json");
    expect((await sh("mkdir -p sub && ln -s ../../../.ssh sub/h")).exitCode).toBe(0);
    writeFileSync(join(world.project, ".sandboxrc.json"), '{"protect":[".git","sub/h/id_rsa"]}');
    const parent = await world.run(["--quiet", "exec", "--", "true"]);
    expect(parent.exitCode).toBe(125);
    expect(parent.stderr).toContain(`its parent ${join(world.project, "sub", "h")}`);
    clean("sub");
  });

  it("(control) bwrap binds the link's target: the same bind shows the key", () => {
    const privateHome = join(world.dir, "control-home");
    mkdirSync(join(privateHome, ".ssh"), { recursive: true });
    const bwrap = (extra: string[]): ReturnType<typeof spawnSync> =>
      spawnSync(
        "bwrap",
        [
          "--ro-bind",
          "/",
          "/",
          "--bind",
          privateHome,
          world.home,
          "--bind",
          world.project,
          world.project,
          ...extra,
          "--",
          "cat",
          join(world.project, "keys", "id_rsa"),
        ],
        { encoding: "utf8" },
      );
    expect(bwrap([]).stdout).not.toContain(SECRETS.sshKey);
    const keys = join(world.project, "keys");
    expect(bwrap(["--ro-bind", keys, keys]).stdout).toContain(SECRETS.sshKey);
    clean("keys", ".sandboxrc.json");
  });

  it("a .npmrc cannot be replaced by a link inside; one planted anyway is refused by the next install", async () => {
    const before = readFileSync(join(world.project, ".npmrc"), "utf8");
    const planted = await sh(
      `ln -sf ${world.home}/.ssh/id_rsa .npmrc && echo replaced; rm -f .npmrc && echo removed; true`,
    );
    expect(planted.exitCode).toBe(0);
    expect(planted.stdout).not.toMatch(/replaced|removed/);
    expect(readFileSync(join(world.project, ".npmrc"), "utf8")).toBe(before);

    // Left by something else (an older safe-npm, a bare package manager run): still refused.
    spawnSync("ln", ["-sf", "../../.ssh/id_rsa", join(world.project, ".npmrc")]);
    const next = await world.run(["install"]);
    expect(next.exitCode).toBe(125);
    expect(next.stderr).toContain(`${join(world.project, ".npmrc")} goes through a symbolic link`);
    expect(`${next.stdout}${next.stderr}`).not.toContain(SECRETS.sshKey);
    expect(existsSync(join(world.project, "node_modules"))).toBe(false);
    clean(".npmrc");
    writeFileSync(join(world.project, ".npmrc"), before);
    expect(world.gitStatus()).toBe("");
    expect(readFileSync(join(world.home, ".ssh", "id_rsa"), "utf8")).toBe(SECRETS.sshKey);
  });

  it("a .sandboxrc.json linking to another project's trusted settings does not borrow their trust", async () => {
    const other = join(world.home, "code", "other");
    mkdirSync(other, { recursive: true });
    writeFileSync(join(other, "package.json"), '{"name":"other","version":"1.0.0"}\n');
    writeFileSync(join(other, ".sandboxrc.json"), '{"dotfiles":[".ssh/id_rsa"]}\n');
    expect((await world.run(["trust"], { cwd: other })).exitCode).toBe(0);
    // (control) in the project it was given to, the trusted file does show the key.
    const there = await world.run(["--quiet", "exec", "--", "cat", `${world.home}/.ssh/id_rsa`], {
      cwd: other,
    });
    expect(there.stdout).toContain(SECRETS.sshKey);

    const planted = await sh(`ln -s ${join(other, ".sandboxrc.json")} .sandboxrc.json`);
    expect(planted.exitCode).toBe(0);
    movedAsideThenPlaced(planted, ".sandboxrc.json", (p) =>
      symlinkSync(join(other, ".sandboxrc.json"), p),
    );
    const next = await world.run(["--quiet", "exec", "--", "cat", `${world.home}/.ssh/id_rsa`]);
    expect(next.exitCode).toBe(125);
    expect(next.stderr).toContain(`settings file ${join(world.project, ".sandboxrc.json")}`);
    expect(next.stderr).toContain("symbolic link");
    expect(next.stdout).not.toContain(SECRETS.sshKey);
    // Nor can it be trusted by mistake.
    expect((await world.run(["trust"])).exitCode).toBe(125);
    clean(".sandboxrc.json");
  });

  it("a settings file linking to a key never prints the key", async () => {
    for (const name of [".sandboxrc.json", ".sandboxrc"]) {
      const planted = await sh(`ln -s ${world.home}/.ssh/id_rsa ${name}`);
      expect(planted.exitCode).toBe(0);
      movedAsideThenPlaced(planted, name, (p) =>
        symlinkSync(join(world.home, ".ssh", "id_rsa"), p),
      );
      const next = await world.run(["--quiet", "exec", "--", "true"]);
      expect(next.exitCode).toBe(125);
      expect(next.stderr).toContain(join(world.project, name));
      expect(next.stderr).not.toMatch(/SSH-KEY-SECRET|BEGIN OPENSSH/);
      clean(name);
    }
    // The user's own settings may be a link and are read: an error there names the type only.
    for (const config of [join(world.home, ".ssh", "id_rsa"), join(world.dir, "key.yaml")]) {
      writeFileSync(join(world.dir, "key.yaml"), `${SECRETS.sshKey}\n`);
      const r = await world.run(["--quiet", "--config", config, "exec", "--", "true"]);
      expect(r.exitCode).toBe(125);
      expect(r.stderr).toContain(config);
      expect(r.stderr).not.toMatch(/SSH-KEY-SECRET|BEGIN OPENSSH/);
    }
  });

  it("a FIFO named .sandboxrc.json is refused at once instead of hanging safe-npm", async () => {
    const planted = await sh("mkfifo .sandboxrc.json");
    expect(planted.exitCode).toBe(0);
    movedAsideThenPlaced(planted, ".sandboxrc.json", (p) => spawnSync("mkfifo", [p]));
    expect(lstatSync(join(world.project, ".sandboxrc.json")).isFIFO()).toBe(true);
    // Nothing ever writes to the FIFO: a blocking read would never return (the test would time out).
    const next = await world.run(["--quiet", "exec", "--", "true"]);
    expect(next.exitCode).toBe(125);
    expect(next.stderr).toContain(
      `${join(world.project, ".sandboxrc.json")} is not a regular file`,
    );
    clean(".sandboxrc.json");
    // A FIFO in place of a package manager's config is refused the same way.
    await sh("true");
    spawnSync("mkfifo", [join(world.project, "bunfig.toml")]);
    const fifo = await world.run(["--quiet", "exec", "--", "true"]);
    expect(fifo.exitCode).toBe(125);
    expect(fifo.stderr).toContain(`${join(world.project, "bunfig.toml")} is not a regular file`);
    clean("bunfig.toml");
    expect((await world.run(["--quiet", "exec", "--", "true"])).exitCode).toBe(0);
  });
});
