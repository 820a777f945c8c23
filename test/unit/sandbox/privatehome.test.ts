import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readNpmGlobalConfig } from "../../../src/host/host.js";
import { NO_TOOLCHAIN, type Policy } from "../../../src/sandbox/policy.js";
import { CACHE_DIRS, preparePrivateHome } from "../../../src/sandbox/privatehome.js";
import { basePolicy, HOME, NVM_PREFIX, PROJECT } from "../fixtures.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "safe-npm-unit-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("preparePrivateHome", () => {
  it("creates every cache directory as a real directory", () => {
    const home = join(dir, "homes", "app-1");
    preparePrivateHome(home);
    for (const rel of CACHE_DIRS) expect(statSync(join(home, rel)).isDirectory(), rel).toBe(true);
    preparePrivateHome(home);
  });

  it.each([".npm", ".local", ".local/share/pnpm/store"])(
    "refuses a link planted at %s instead of binding its target",
    (rel) => {
      const home = join(dir, "home");
      const target = join(dir, "real-home-secrets");
      mkdirSync(target);
      mkdirSync(join(home, rel, ".."), { recursive: true });
      symlinkSync(target, join(home, rel));
      expect(() => preparePrivateHome(home)).toThrow(
        expect.objectContaining({ code: "BAD_PRIVATE_HOME" }),
      );
    },
  );

  it("makes the extra mount points real directories, and refuses a link on their way", () => {
    const home = join(dir, "homes", "app-1");
    const rel = ".cache/safe-npm/homes/app-1/.yarn/berry";
    preparePrivateHome(home, [rel]);
    expect(statSync(join(home, rel)).isDirectory()).toBe(true);
    rmSync(join(home, ".cache", "safe-npm"), { recursive: true });
    symlinkSync(dir, join(home, ".cache", "safe-npm"));
    expect(() => preparePrivateHome(home, [rel])).toThrow(
      expect.objectContaining({ code: "BAD_PRIVATE_HOME" }),
    );
  });

  it("refuses a file where a cache directory belongs", () => {
    const home = join(dir, "home");
    mkdirSync(home);
    writeFileSync(join(home, ".cache"), "");
    expect(() => preparePrivateHome(home)).toThrow(/\.cache in the sandbox's private home/);
  });
});

describe("readNpmGlobalConfig", () => {
  const tool = (real: string, prefix: string) => ({ bin: real, real, prefix });

  it("reads <node prefix>/etc/npmrc", () => {
    mkdirSync(join(dir, "etc"));
    writeFileSync(join(dir, "etc", "npmrc"), "script-shell=/x\n");
    expect(readNpmGlobalConfig(tool(join(dir, "bin", "node"), dir), undefined)).toEqual({
      path: join(dir, "etc", "npmrc"),
      text: "script-shell=/x\n",
    });
  });

  it("follows npm's builtin globalconfig and prefix", () => {
    const npm = join(dir, "npm");
    mkdirSync(npm);
    writeFileSync(join(dir, "g"), "a=1\n");
    writeFileSync(join(npm, "npmrc"), `globalconfig=${join(dir, "g")}\n`);
    const node = tool(join(dir, "bin", "node"), dir);
    expect(readNpmGlobalConfig(node, tool(join(npm, "cli.js"), npm))?.path).toBe(join(dir, "g"));
    mkdirSync(join(dir, "p", "etc"), { recursive: true });
    writeFileSync(join(dir, "p", "etc", "npmrc"), "b=2\n");
    writeFileSync(join(npm, "npmrc"), `prefix=${join(dir, "p")}\n`);
    expect(readNpmGlobalConfig(node, tool(join(npm, "cli.js"), npm))?.text).toBe("b=2\n");
  });

  it("is null when missing or not a regular file", () => {
    expect(readNpmGlobalConfig(tool(join(dir, "bin", "node"), dir), undefined)).toBeNull();
    mkdirSync(join(dir, "etc", "npmrc"), { recursive: true });
    expect(readNpmGlobalConfig(tool(join(dir, "bin", "node"), dir), undefined)).toBeNull();
  });
});

describe("resolvePolicy: npm's global config and corepack", () => {
  const withGlobal = (path: string, text: string): Policy =>
    basePolicy({
      input: { toolchain: { ...NO_TOOLCHAIN, npmGlobalConfig: { path, text } } },
    });
  const data = (policy: Policy, dest: string) =>
    policy.mounts.find((m) => m.kind === "data" && m.dest === dest);

  it("mounts a sanitized copy over a global npmrc with something to remove", () => {
    const path = `${NVM_PREFIX}/etc/npmrc`;
    const policy = withGlobal(path, "registry=https://r.example/\nscript-shell=/x\n_authToken=T\n");
    expect(data(policy, path)).toMatchObject({ data: "registry=https://r.example/\n" });
    // After the toolchain prefix it covers.
    const at = policy.mounts.findIndex((m) => m.dest === path);
    expect(at).toBeGreaterThan(policy.mounts.findIndex((m) => m.dest === NVM_PREFIX));
  });

  it("leaves a clean global npmrc alone, and never mounts over the project", () => {
    expect(
      data(
        withGlobal(`${NVM_PREFIX}/etc/npmrc`, "registry=https://r/\n"),
        `${NVM_PREFIX}/etc/npmrc`,
      ),
    ).toBeUndefined();
    expect(
      data(withGlobal(`${PROJECT}/etc/npmrc`, "script-shell=/x\n"), `${PROJECT}/etc/npmrc`),
    ).toBeUndefined();
    expect(
      data(withGlobal("/opt/hidden/etc/npmrc", "script-shell=/x\n"), "/opt/hidden/etc/npmrc"),
    ).toBeUndefined();
  });

  it("gives corepack an empty home when it has none on the host", () => {
    const home = `${HOME}/.cache/node/corepack`;
    const policy = basePolicy({
      input: { toolchain: { ...NO_TOOLCHAIN, corepack: { home, exists: false } } },
    });
    expect(policy.mounts).toContainEqual({ kind: "tmpfs", dest: home });
    expect(policy.env.COREPACK_HOME).toBe(home);
  });
});
