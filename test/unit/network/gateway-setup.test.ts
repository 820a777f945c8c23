/**
 * Where the local CA lives: never where code in the sandbox can read its key. The project is
 * bound inside read-write, so a state directory in it (`XDG_STATE_HOME=$PWD/.state`, a HOME in
 * a checkout) would hand the CA's key to every install script. Real directories: a project
 * with a package.json, one without (the working directory made the project), and a home
 * outside both.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localCaPlace, mayBeInProjectDir } from "../../../src/network/gateway-setup.js";

let root: string;
let home: string;
let project: string;
let bare: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "safe-npm-ca-place-"));
  home = join(root, "home");
  project = join(root, "work", "app");
  bare = join(root, "scratch");
  mkdirSync(home, { recursive: true });
  mkdirSync(project, { recursive: true });
  mkdirSync(bare, { recursive: true });
  writeFileSync(join(project, "package.json"), "{}");
  symlinkSync(join(project, ".state"), join(home, "state-link"));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("mayBeInProjectDir", () => {
  it("judges a directory not made yet by what exists above it", () => {
    expect(mayBeInProjectDir(join(project, ".state", "safe-npm", "ca"), bare)).toBe(true);
    expect(mayBeInProjectDir(join(home, ".local", "state", "safe-npm", "ca"), project)).toBe(false);
  });
  it("counts the project root even without a package.json, and follows links", () => {
    expect(mayBeInProjectDir(join(bare, ".state", "ca"), bare)).toBe(true);
    mkdirSync(join(project, ".state"), { recursive: true });
    expect(mayBeInProjectDir(join(home, "state-link", "safe-npm", "ca"), bare)).toBe(true);
  });
});

describe("localCaPlace", () => {
  it("keeps the usual place outside any project", () => {
    const state = join(root, "xdg-state");
    expect(localCaPlace({ home, env: { XDG_STATE_HOME: state } }, project)).toEqual({
      dir: join(state, "safe-npm", "ca"),
      notice: null,
    });
    expect(localCaPlace({ home, env: {} }, project).dir).toBe(
      join(home, ".local", "state", "safe-npm", "ca"),
    );
  });

  it("moves the CA to ~/.local/state when XDG_STATE_HOME lies in the project, and says so", () => {
    const place = localCaPlace({ home, env: { XDG_STATE_HOME: join(project, ".state") } }, project);
    expect(place.dir).toBe(join(home, ".local", "state", "safe-npm", "ca"));
    expect(place.notice).toContain(`not in ${join(project, ".state", "safe-npm", "ca")}`);
    // The working directory as the project (no package.json): the same.
    const inBare = localCaPlace({ home, env: { XDG_STATE_HOME: join(bare, "s") } }, bare);
    expect(inBare.dir).toBe(join(home, ".local", "state", "safe-npm", "ca"));
  });

  it("has no place, and says the gateway is off, when HOME lies in a project too", () => {
    const insideHome = join(project, "home");
    mkdirSync(insideHome, { recursive: true });
    const place = localCaPlace(
      { home: insideHome, env: { XDG_STATE_HOME: join(project, ".s") } },
      project,
    );
    expect(place.dir).toBeNull();
    expect(place.notice).toMatch(/lies in a project.*opaque tunnel.*set XDG_STATE_HOME outside/);
    expect(localCaPlace({ home: insideHome, env: {} }, bare).dir).toBeNull();
  });
});
