/**
 * Git runs code from a repository's config and hooks: a `.git` planted in the project by
 * sandboxed code would run it outside the sandbox the next time git is used there (a shell prompt
 * is enough). The project's own .git is read-only inside; any other .git created or changed
 * during a run is moved aside afterwards.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { makeWorld, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");

describe.skipIf(unavailable !== "")("a .git planted by sandboxed code", () => {
  let world: World;
  let marker: string;
  /** Plants `<dir>/.git` with an fsmonitor that touches the marker when git runs there. */
  const PLANT = (dir: string): string =>
    `git init -q ${dir} && git -C ${dir} config core.fsmonitor "touch ${marker}"`;
  const gitStatusIn = (dir: string): void => {
    spawnSync("git", ["-C", join(world.project, dir), "status"], { stdio: "ignore" });
  };

  beforeAll(() => {
    world = makeWorld({ projectInHome: true });
    marker = join(world.dir, "fsmonitor-ran");
    // A nested repository that exists before the run (a vendored clone).
    mkdirSync(join(world.project, "vendor", "lib"), { recursive: true });
    execFileSync("git", ["init", "-q", join(world.project, "vendor", "lib")]);
    writeFileSync(
      join(world.project, ".git", "info", "exclude"),
      "sub/\nvendor/\n*.quarantined-by-safe-npm*\n",
    );
  });
  afterAll(() => world?.dispose());

  it("(control) such a .git does run its fsmonitor when git is used there", () => {
    execFileSync("sh", ["-c", PLANT(join(world.dir, "control"))], { cwd: world.dir });
    spawnSync("git", ["-C", join(world.dir, "control"), "status"], { stdio: "ignore" });
    expect(existsSync(marker)).toBe(true);
    execFileSync("rm", ["-f", marker]);
  });

  it("is moved aside after the run and reported, so git on the host never runs it", async () => {
    const r = await world.run(["--quiet", "exec", "--", "sh", "-c", PLANT("sub")]);
    expect(r.exitCode).toBe(0);
    const planted = join(world.project, "sub", ".git");
    expect(r.stderr).toContain(`safe-npm: moved ${planted} to ${planted}.quarantined-by-safe-npm`);
    expect(existsSync(planted)).toBe(false);
    expect(existsSync(`${planted}.quarantined-by-safe-npm`)).toBe(true);
    gitStatusIn("sub");
    expect(existsSync(marker)).toBe(false);
  });

  it("catches hooks and config added to an existing nested repository", async () => {
    const r = await world.run([
      "--quiet",
      "exec",
      "--",
      "sh",
      "-c",
      `printf '#!/bin/sh\\ntouch ${marker}\\n' > vendor/lib/.git/hooks/post-checkout && chmod +x vendor/lib/.git/hooks/post-checkout`,
    ]);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain(`safe-npm: moved ${join(world.project, "vendor", "lib", ".git")}`);
    expect(existsSync(join(world.project, "vendor", "lib", ".git"))).toBe(false);
  });

  it("leaves everything alone when no .git was touched, and the project's own .git is read-only", async () => {
    const r = await world.run([
      "--quiet",
      "exec",
      "--",
      "sh",
      "-c",
      "echo hi > notes.txt; touch .git/x 2>/dev/null || echo ro",
    ]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe("ro");
    expect(r.stderr).not.toContain("moved");
    expect(existsSync(join(world.project, ".git", "HEAD"))).toBe(true);
  });
});
