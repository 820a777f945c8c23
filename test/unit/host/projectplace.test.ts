import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SafeNpmError } from "../../../src/errors.js";
import {
  ownCache,
  PATH_LEVELS,
  projectPlace,
  requireOwnCache,
} from "../../../src/host/projectplace.js";
import { trustStorePath } from "../../../src/settings/trust.js";

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function tree(): { home: string; project: string } {
  dir = mkdtempSync(join(tmpdir(), "projectplace-"));
  const home = join(dir, "home");
  const project = join(dir, "p4");
  for (const d of [
    join(home, ".local", "bin"),
    join(home, ".nvm", "versions", "node", "v22", "bin"),
    join(project, "node_modules", ".bin"),
    join(project, "tools", "bin"),
    join(project, "a", "b", "c", "bin"),
    join(dir, "tools", "bin"),
  ]) {
    mkdirSync(d, { recursive: true });
  }
  writeFileSync(join(project, "package.json"), "{}");
  // nvm's checkout holds a package.json; a stray one in the home makes no project.
  writeFileSync(join(home, ".nvm", "package.json"), "{}");
  writeFileSync(join(home, "package.json"), "{}");
  return { home, project };
}

describe("projectPlace: where a sandboxed run may have written", () => {
  it("finds a node_modules, a project's directory, and either reached through a link", () => {
    const { home, project } = tree();
    expect(projectPlace(join(project, "node_modules", ".bin"), home, PATH_LEVELS)).toMatch(
      /inside a node_modules/,
    );
    expect(projectPlace(join(project, "tools", "bin"), home, PATH_LEVELS)).toMatch(
      /below .*p4, which holds a package.json/,
    );
    expect(projectPlace(project, home, PATH_LEVELS)).toMatch(/p4 holds a package.json/);
    symlinkSync(join(project, "node_modules", ".bin"), join(dir, "tools", "link"));
    expect(projectPlace(join(dir, "tools", "link"), home, PATH_LEVELS)).toMatch(/node_modules/);
    // A directory not made yet is judged by its nearest existing ancestor.
    expect(projectPlace(join(project, "later", "bin"), home)).toMatch(/package.json/);
  });

  it("leaves ordinary tool directories alone, and never looks at the home or above", () => {
    const { home, project } = tree();
    expect(projectPlace(join(dir, "tools", "bin"), home, PATH_LEVELS)).toBeNull();
    expect(projectPlace(join(home, ".local", "bin"), home, PATH_LEVELS)).toBeNull();
    expect(
      projectPlace(join(home, ".nvm", "versions", "node", "v22", "bin"), home, PATH_LEVELS),
    ).toBeNull();
    expect(projectPlace(home, home)).toBeNull();
    expect(projectPlace("/usr/bin", home, PATH_LEVELS)).toBeNull();
    // PATH's walk is bounded; the unbounded walk (safe-npm's cache) finds the project.
    expect(projectPlace(join(project, "a", "b", "c", "bin"), home, PATH_LEVELS)).toBeNull();
    expect(projectPlace(join(project, "a", "b", "c", "bin"), home)).toMatch(/package.json/);
  });
});

describe("safe-npm's own cache and trust store never lie in a project", () => {
  it("falls back to ~/.cache when XDG_CACHE_HOME is in a project, and stops when both are", () => {
    const { home, project } = tree();
    const inProject = join(project, ".cache");
    expect(ownCache(join(dir, "cache"), home)).toEqual({
      home: join(dir, "cache"),
      notice: null,
      problem: null,
    });
    const moved = ownCache(inProject, home);
    expect(moved.home).toBe(join(home, ".cache"));
    expect(moved.notice).toContain("set XDG_CACHE_HOME outside any project");
    expect(requireOwnCache(moved, project)).toBe(join(home, ".cache"));
    // ~/.cache reached through a link into a project: no safe place left.
    mkdirSync(join(project, "cache2"));
    symlinkSync(join(project, "cache2"), join(home, ".cache"));
    const stuck = ownCache(inProject, home);
    expect(stuck.problem).toContain("lies where a sandboxed run may write");
    expect(() => requireOwnCache(stuck, project)).toThrow(/cache directory/);
    try {
      requireOwnCache(stuck, project);
    } catch (error) {
      expect(error).toBeInstanceOf(SafeNpmError);
      expect((error as SafeNpmError).code).toBe("UNSAFE_CACHE_DIR");
      expect((error as SafeNpmError).hint).toContain("XDG_CACHE_HOME");
    }
    // A working directory made the project (no package.json): judged against this run's root.
    const workdir = join(dir, "tools");
    expect(() => requireOwnCache(ownCache(join(workdir, ".cache"), home), workdir)).toThrow(
      /lies in the project/,
    );
  });

  it("keeps the trust store out of a project the same way", () => {
    const { home, project } = tree();
    expect(trustStorePath({ XDG_STATE_HOME: join(dir, "state") }, home)).toBe(
      join(dir, "state", "safe-npm", "trust.json"),
    );
    expect(trustStorePath({ XDG_STATE_HOME: join(project, ".state") }, home)).toBe(
      join(home, ".local", "state", "safe-npm", "trust.json"),
    );
    mkdirSync(join(project, "state2"));
    symlinkSync(join(project, "state2"), join(home, ".local", "state"));
    expect(() => trustStorePath({ XDG_STATE_HOME: join(project, ".state") }, home)).toThrow(
      /trust store/,
    );
    // This run's project (a working directory, no package.json) counts too.
    expect(() =>
      trustStorePath({ XDG_STATE_HOME: join(dir, "tools", "state") }, home, join(dir, "tools")),
    ).toThrow(/trust store/);
  });
});
