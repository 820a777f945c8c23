import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SafeNpmError } from "../../../src/errors.js";
import {
  ownCache,
  pathPlace,
  projectPlace,
  requireOwnCache,
  toolPlace,
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

describe("pathPlace: where a sandboxed run may have written a PATH entry's tools", () => {
  it("finds a node_modules, a project's directory, and either reached through a link", () => {
    const { home, project } = tree();
    expect(pathPlace(join(project, "node_modules", ".bin"), home, {})).toMatch(
      /inside a node_modules/,
    );
    expect(pathPlace(join(project, "tools", "bin"), home, {})).toMatch(
      /below .*p4, which holds a package.json/,
    );
    expect(pathPlace(project, home, {})).toMatch(/p4 holds a package.json/);
    symlinkSync(join(project, "node_modules", ".bin"), join(dir, "tools", "link"));
    expect(pathPlace(join(dir, "tools", "link"), home, {})).toMatch(/node_modules/);
    // A directory not made yet is judged by its nearest existing ancestor.
    expect(pathPlace(join(project, "later", "bin"), home, {})).toMatch(/package.json/);
  });

  it("walks all the way up: devbox's and flox's bins, five and four levels down", () => {
    const { home, project } = tree();
    const devbox = join(project, ".devbox", "nix", "profile", "default", "bin");
    const flox = join(project, ".flox", "run", "x86_64-linux.app.dev", "bin");
    mkdirSync(devbox, { recursive: true });
    mkdirSync(flox, { recursive: true });
    expect(pathPlace(devbox, home, {})).toMatch(/below .*p4, which holds a package.json/);
    expect(pathPlace(flox, home, {})).toMatch(/below .*p4, which holds a package.json/);
    expect(pathPlace(join(project, "a", "b", "c", "bin"), home, {})).toMatch(/package.json/);
    // The same from a project inside the home.
    const inHome = join(home, "code", "app");
    mkdirSync(join(inHome, ".devbox", "nix", "profile", "default", "bin"), { recursive: true });
    writeFileSync(join(inHome, "package.json"), "{}");
    expect(
      pathPlace(join(inHome, ".devbox", "nix", "profile", "default", "bin"), home, {}),
    ).toMatch(/app, which holds a package.json/);
  });

  it("judges an entry as written too: a link in a project may be re-pointed at any time", () => {
    const { home, project } = tree();
    // p4/tools-link -> a directory outside any project: its real path is clean, its path is not.
    symlinkSync(join(dir, "tools"), join(project, "tools-link"));
    expect(pathPlace(join(dir, "tools", "bin"), home, {})).toBeNull();
    expect(pathPlace(join(project, "tools-link", "bin"), home, {})).toMatch(
      /tools-link.*below .*p4, which holds a package.json/,
    );
    // A link elsewhere leading deep into a project: judged by where it leads.
    symlinkSync(join(project, "a", "b", "c", "bin"), join(dir, "deep-link"));
    expect(pathPlace(join(dir, "deep-link"), home, {})).toMatch(/p4, which holds a package.json/);
  });

  it("leaves ordinary tool directories alone, and never looks at the home or above", () => {
    const { home } = tree();
    expect(pathPlace(join(dir, "tools", "bin"), home, {})).toBeNull();
    expect(pathPlace(join(home, ".local", "bin"), home, {})).toBeNull();
    expect(projectPlace(home, home)).toBeNull();
    expect(pathPlace("/usr/bin", home, {})).toBeNull();
    // The home spelled through a link: its stray package.json is still the home's.
    symlinkSync(home, join(dir, "home-link"));
    expect(pathPlace(join(dir, "home-link", ".local", "bin"), home, {})).toBeNull();
  });

  it("exempts nvm's checkout for its versions/ only, by $NVM_DIR or ~/.nvm", () => {
    const { home, project } = tree();
    const nvmBin = join(home, ".nvm", "versions", "node", "v22", "bin");
    expect(pathPlace(nvmBin, home, {})).toBeNull();
    // Anything else below nvm's checkout is judged as usual.
    mkdirSync(join(home, ".nvm", "tools", "bin"), { recursive: true });
    expect(pathPlace(join(home, ".nvm", "tools", "bin"), home, {})).toMatch(/\.nvm, which holds/);
    // Named elsewhere by NVM_DIR, ~/.nvm is no longer nvm's.
    const other = join(dir, "nvm");
    mkdirSync(join(other, "versions", "node", "v22", "bin"), { recursive: true });
    writeFileSync(join(other, "package.json"), "{}");
    expect(
      pathPlace(join(other, "versions", "node", "v22", "bin"), home, { NVM_DIR: other }),
    ).toBeNull();
    expect(pathPlace(nvmBin, home, { NVM_DIR: other })).toMatch(/\.nvm, which holds/);
    // A project's own versions/ dir is no nvm: NVM_DIR must name that very directory.
    mkdirSync(join(project, "versions", "node", "v22", "bin"), { recursive: true });
    expect(pathPlace(join(project, "versions", "node", "v22", "bin"), home, {})).toMatch(/p4/);
    // An NVM_DIR inside a project exempts only itself: the project above still counts.
    const nested = join(project, "nvm");
    mkdirSync(join(nested, "versions", "node", "v22", "bin"), { recursive: true });
    writeFileSync(join(nested, "package.json"), "{}");
    expect(
      pathPlace(join(nested, "versions", "node", "v22", "bin"), home, { NVM_DIR: nested }),
    ).toMatch(/below .*p4, which holds a package.json/);
  });
});

describe("toolPlace: whether a tool's real file may be a sandbox's to rewrite", () => {
  /** Makes `file` (and its folders), with a package.json in each of `holders`. */
  const make = (file: string, holders: string[] = []): string => {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, "");
    for (const h of holders) writeFileSync(join(h, "package.json"), "{}");
    return file;
  };

  it("finds a tool in a project, whatever links a clean PATH entry goes through", () => {
    const { home, project } = tree();
    expect(toolPlace(make(join(project, "bin", "npm")), home, {})).toMatch(
      /bin\/npm is below .*p4, which holds a package.json/,
    );
    // A package installed in the project's node_modules: the project still counts.
    const npm = join(project, "node_modules", "npm");
    expect(toolPlace(make(join(npm, "bin", "npm-cli.js"), [npm]), home, {})).toMatch(/p4/);
    // The same layout as a global install, inside a project: the project still counts.
    const lib = join(project, "lib", "node_modules", "npm");
    expect(toolPlace(make(join(lib, "bin", "npm-cli.js"), [lib]), home, {})).toMatch(/p4/);
    // A node_modules with no package.json above (a scaffolder's working directory).
    const loose = join(dir, "x", "node_modules", "npm");
    expect(toolPlace(make(join(loose, "bin", "npm-cli.js"), [loose]), home, {})).toMatch(
      /inside .*x\/node_modules, a node_modules directory/,
    );
  });

  it("lets the usual global installs through: system, nvm, volta, pnpm, yarn 1, bun", () => {
    const { home } = tree();
    expect(toolPlace("/usr/bin/bwrap", home, {})).toBeNull();
    const prefix = join(dir, "usr", "lib", "node_modules", "npm");
    expect(toolPlace(make(join(prefix, "bin", "npm-cli.js"), [prefix]), home, {})).toBeNull();
    const scoped = join(dir, "usr", "lib", "node_modules", "@scope", "tool");
    expect(toolPlace(make(join(scoped, "bin", "t.js"), [scoped]), home, {})).toBeNull();
    const nvm = join(home, ".nvm", "versions", "node", "v22");
    const nvmNpm = join(nvm, "lib", "node_modules", "npm");
    expect(toolPlace(make(join(nvmNpm, "bin", "npm-cli.js"), [nvmNpm]), home, {})).toBeNull();
    expect(toolPlace(make(join(nvm, "bin", "node")), home, {})).toBeNull();
    const volta = join(
      home,
      ".volta",
      "tools",
      "image",
      "node",
      "22",
      "lib",
      "node_modules",
      "npm",
    );
    expect(toolPlace(make(join(volta, "bin", "npm-cli.js"), [volta]), home, {})).toBeNull();
    for (const global of [
      join(home, ".local", "share", "pnpm", "global", "5"),
      join(home, ".config", "yarn", "global"),
      join(home, ".bun", "install", "global"),
    ]) {
      const pkg = join(global, "node_modules", "yarn");
      make(join(pkg, "bin", "yarn.js"), [pkg]);
      writeFileSync(join(global, "package.json"), "{}");
      expect(toolPlace(join(pkg, "bin", "yarn.js"), home, {})).toBeNull();
    }
    // Anything else below nvm's checkout is judged as usual.
    expect(toolPlace(make(join(home, ".nvm", "tools", "node")), home, {})).toMatch(/\.nvm/);
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
