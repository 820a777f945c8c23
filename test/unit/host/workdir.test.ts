import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  aliasedDir,
  dirId,
  resolveLoosely,
  specialEntries,
  unsafeWorkingDir,
} from "../../../src/host/workdir.js";

const facts = {
  home: "/home/u",
  pathDirs: ["/home/u/.local/bin", "/usr/local/bin", "/usr/bin", "/home/u/bin", "/", "relative"],
  env: { TMPDIR: "/home/u/scratch-tmp", XDG_RUNTIME_DIR: "/run/user/1000" },
};

describe("where a scaffolder may make the working directory its project", () => {
  it.each([
    "/",
    "/home",
    "/home/u",
    "/tmp",
    "/tmp/x",
    "/tmp/tmux-0",
    "/var/tmp/x",
    "/dev/shm/x",
    "/run/user/1000",
    "/var/lib/x",
    "/etc/x",
    "/usr/local/src",
    "/opt/app",
    "/srv/www",
    "/proc/self",
    "/sys",
    "/dev",
    "/boot/x",
    "/root/x",
    "/home/u/.config",
    "/home/u/.config/autostart",
    "/home/u/.local/share/x",
    "/home/u/code/.hidden/app",
    "/home/u/bin",
    "/home/u/bin/sub",
    "/usr/local/bin",
    "/home/u/scratch-tmp/x",
  ])("refuses %s", (cwd) => {
    expect(unsafeWorkingDir(cwd, facts)).not.toBeNull();
  });

  it.each([
    "/home/u/code",
    "/home/u/code/my-app",
    "/home/u/projects/x",
    "/mnt/data/code",
    "/work/x",
  ])("accepts %s", (cwd) => {
    expect(unsafeWorkingDir(cwd, facts)).toBeNull();
  });

  it("honours the XDG variables, and a home inside a system directory or $TMPDIR", () => {
    const custom = { ...facts, env: { XDG_CONFIG_HOME: "/home/u/conf" } };
    expect(unsafeWorkingDir("/home/u/conf/git", custom)).toContain("XDG_CONFIG_HOME");
    expect(unsafeWorkingDir("/home/u/conf/git", facts)).toBeNull();
    const jenkins = { home: "/var/lib/jenkins", pathDirs: [], env: { TMPDIR: "/tmp" } };
    expect(unsafeWorkingDir("/var/lib/jenkins/ws", jenkins)).toBeNull();
    expect(unsafeWorkingDir("/var/lib/other", jenkins)).toContain("/var");
    const testHome = { home: "/tmp/t/home", pathDirs: [], env: { TMPDIR: "/tmp" } };
    expect(unsafeWorkingDir("/tmp/t/home/code/x", testHome)).toBeNull();
    expect(unsafeWorkingDir("/tmp/t/other", testHome)).not.toBeNull();
    expect(unsafeWorkingDir("/tmp/t", testHome)).toContain("home directory");
  });
});

describe("directories the host runs or reads, and aliases", () => {
  it("refuses a working directory holding a PATH or XDG directory, even one not made yet", () => {
    const withTools = { ...facts, pathDirs: ["/home/u/code/tools/bin", "/usr/bin"] };
    expect(unsafeWorkingDir("/home/u/code", withTools)).toContain("/home/u/code/tools/bin");
    expect(unsafeWorkingDir("/home/u/code/tools/bin", withTools)).not.toBeNull();
    expect(unsafeWorkingDir("/home/u/other", withTools)).toBeNull();
    const conf = { ...facts, env: { XDG_CONFIG_HOME: "/home/u/code/conf" } };
    expect(unsafeWorkingDir("/home/u/code", conf)).toContain("XDG_CONFIG_HOME");
  });

  it("resolves a path that does not exist yet through its nearest existing ancestor", () => {
    const dir = mkdtempSync(join(tmpdir(), "safe-npm-loose-"));
    try {
      mkdirSync(join(dir, "real"));
      symlinkSync(join(dir, "real"), join(dir, "link"));
      const real = realpathSync(join(dir, "real"));
      expect(resolveLoosely(join(dir, "link", "tools", "bin"))).toBe(join(real, "tools", "bin"));
      expect(resolveLoosely(join(dir, "link"))).toBe(real);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names the dot-directory in the working directory's own path", () => {
    expect(unsafeWorkingDir("/home/u/code/.hidden/app", facts)).toContain(
      "is in /home/u/code/.hidden,",
    );
  });

  it("refuses a working directory that reaches a guarded directory by identity", () => {
    const id = (ino: number) => ({ dev: 1, ino });
    const home = id(2);
    const guarded = [
      { path: "/home/u/.config", id: id(10) },
      { path: "/home/u/.local/bin", id: id(11) },
    ];
    // ~/code/cfgbind is a bind mount of ~/.config: same identity, another path.
    const bound = [
      { path: "/home/u/code/cfgbind/autostart", id: id(20) },
      { path: "/home/u/code/cfgbind", id: id(10) },
      { path: "/home/u/code", id: id(3) },
      { path: "/home/u", id: home },
      { path: "/", id: id(1) },
    ];
    expect(aliasedDir(bound, home, guarded)).toContain("/home/u/.config under another name");
    expect(aliasedDir(bound.slice(1), home, guarded)).toContain("cfgbind");
    expect(aliasedDir([{ path: "/mnt/h", id: home }], home, guarded)).toContain("home directory");
    // Inside the home, a home-identity entry among the guarded ones changes nothing.
    expect(aliasedDir(bound.slice(2), home, [...guarded, { path: "/", id: home }])).toBeNull();
    expect(aliasedDir(bound.slice(2), home, guarded)).toBeNull();
  });
});

describe("special entries at the top of the working directory", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("names sockets and FIFOs, not files, directories or links", async () => {
    dir = mkdtempSync(join(tmpdir(), "safe-npm-workdir-"));
    writeFileSync(join(dir, "file"), "");
    mkdirSync(join(dir, "sub"));
    execFileSync("mkfifo", [join(dir, "fifo")]);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(dir ?? "", "sock"), resolve));
    try {
      expect(specialEntries(dir).sort()).toEqual(["fifo", "sock"]);
    } finally {
      server.close();
    }
    rmSync(join(dir, "fifo"));
    rmSync(join(dir, "sock"), { force: true });
    expect(specialEntries(dir)).toEqual([]);
  });
});

describe("a directory's identity", () => {
  it("is undefined, not an error, for what cannot be looked at (another user's PATH entry)", () => {
    // ENOTDIR stands in for EACCES, which root never gets: statSync throws either way.
    expect(dirId("/etc/passwd/bin")).toBeUndefined();
    expect(dirId("/nonexistent-safe-npm-dir")).toBeUndefined();
    expect(dirId("/etc/passwd")).toBeUndefined();
    expect(dirId("/")).toMatchObject({ dev: expect.any(Number), ino: expect.any(Number) });
  });
});
