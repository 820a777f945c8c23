import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { specialEntries, unsafeWorkingDir } from "../../../src/host/workdir.js";

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
