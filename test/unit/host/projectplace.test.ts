import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PATH_LEVELS, projectPlace } from "../../../src/host/projectplace.js";

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
