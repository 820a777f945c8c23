import { describe, expect, it } from "vitest";
import {
  commandClass,
  isPublish,
  packsFiles,
  watchesPorts,
} from "../../../src/commands/classes.js";
import { NO_TOOLCHAIN, resolvePolicy, TOOL_BIN } from "../../../src/sandbox/policy.js";
import { baseInput } from "../fixtures.js";

describe("commandClass", () => {
  it.each([
    ["npm", ["install"], "install"],
    ["npm", ["ci"], "install"],
    ["npm", ["--silent", "i", "left-pad"], "install"],
    ["npm", ["rebuild"], "install"],
    ["npm", ["exec", "tsc"], "install"],
    ["npm", ["run", "build"], "run"],
    ["npm", ["test"], "run"],
    ["npm", [], "run"],
    ["npx", ["cowsay"], "install"],
    ["yarn", [], "install"],
    ["yarn", ["--immutable"], "install"],
    ["yarn", ["add", "x"], "install"],
    ["yarn", ["dlx", "x"], "install"],
    ["yarn", ["build"], "run"],
    ["yarnpkg", ["install"], "install"],
    ["pnpm", ["i"], "install"],
    ["pnpm", ["dlx", "x"], "install"],
    ["pnpm", ["run", "dev"], "run"],
    ["pnpx", ["x"], "install"],
    ["bun", ["install"], "install"],
    ["bun", ["x", "y"], "install"],
    ["bun", ["run", "y"], "run"],
    ["bunx", ["y"], "install"],
    ["node", ["install"], "run"],
  ] as const)("%s %j → %s", (tool, args, cls) => {
    expect(commandClass(tool, args)).toBe(cls);
  });
});

describe("watchesPorts: whether a server the command starts is forwarded", () => {
  const watched = (tool: string, ...args: string[]): boolean =>
    watchesPorts(commandClass(tool, args), tool, args);

  it.each([
    ["npm", "install"],
    ["npm", "ci"],
    ["npm", "publish"],
    ["npm", "view", "x"],
    ["pnpm", "add", "x"],
    ["yarn"],
    ["yarn", "add", "x"],
    ["bun", "install"],
  ])("does not look during %s %s: it starts no server", (tool, ...args) => {
    expect(watched(tool, ...args)).toBe(false);
  });

  it.each([
    ["npm", "run", "dev"],
    ["npm", "test"],
    ["npm", "exec", "serve"],
    ["npx", "serve"],
    ["pnpm", "dlx", "serve"],
    ["bunx", "serve"],
    ["npm", "create", "vite"],
    ["npm", "install-test"],
    ["yarn", "dlx", "serve"],
  ])("looks during %s %s: it starts a program", (tool, ...args) => {
    expect(watched(tool, ...args)).toBe(true);
  });
});

describe("isPublish: the registry network, with the upload let through", () => {
  it.each([
    ["npm", ["publish"], true],
    ["npm", ["publish", "--otp", "123456"], true],
    ["npm", ["--silent", "publish"], true],
    ["pnpm", ["publish", "--no-git-checks"], true],
    ["bun", ["publish"], true],
    ["yarn", ["publish"], true],
    ["yarn", ["npm", "publish"], true],
    ["yarnpkg", ["npm", "publish", "--tolerate-republish"], true],
    ["yarn", ["npm", "info"], false],
    ["npm", ["run", "publish"], false],
    ["npm", ["unpublish", "x"], false],
    ["npx", ["publish"], false],
    ["node", ["publish"], false],
  ] as const)("%s %j → %s", (tool, args, publish) => {
    expect(isPublish(tool, args)).toBe(publish);
    if (publish) expect(commandClass(tool, args)).toBe("install");
  });
});

describe("toolchain", () => {
  it("points node-gyp at node's own headers and keeps corepack offline with its prepared managers", () => {
    const policy = resolvePolicy(
      baseInput({
        input: {
          toolchain: {
            nodeHeaders: "/opt/node",
            yarnClassic: false,
            nodeGyp: null,
            corepack: { home: "/home/alice/.cache/node/corepack", exists: true },
            npmGlobalConfig: null,
          },
        },
      }),
    );
    expect(policy.env.npm_config_nodedir).toBe("/opt/node");
    expect(policy.env.COREPACK_HOME).toBe("/home/alice/.cache/node/corepack");
    expect(policy.env.COREPACK_ENABLE_NETWORK).toBe("0");
    expect(policy.mounts).toContainEqual({
      kind: "ro-bind",
      src: "/home/alice/.cache/node/corepack",
      dest: "/home/alice/.cache/node/corepack",
    });
    const plain = resolvePolicy(baseInput({ input: { toolchain: NO_TOOLCHAIN } }));
    expect(plain.env.npm_config_nodedir).toBeUndefined();
    expect(plain.env.COREPACK_HOME).toBeUndefined();
  });
});

describe("package-manager specifics", () => {
  it("keeps yarn 1's cache and pnpm's store in the sandbox home", () => {
    const yarn = resolvePolicy(
      baseInput({ input: { toolchain: { ...NO_TOOLCHAIN, yarnClassic: true } } }),
    );
    expect(yarn.env.YARN_CACHE_FOLDER).toBe("/home/alice/.cache/yarn");
    const pnpm = resolvePolicy(
      baseInput({
        input: {
          tools: [
            {
              bin: "/usr/local/bin/pnpm",
              real: "/usr/local/lib/pnpm/bin/pnpm.cjs",
              prefix: "/usr/local/lib/pnpm",
            },
          ],
          command: ["pnpm", "install"],
        },
      }),
    );
    expect(pnpm.env.npm_config_store_dir).toBe("/home/alice/.local/share/pnpm/store");
    expect(resolvePolicy(baseInput()).env.npm_config_store_dir).toBeUndefined();
  });

  it("shows each tool under its PATH name, first on PATH, even when its directory is hidden", () => {
    const policy = resolvePolicy(
      baseInput({
        input: {
          tools: [
            {
              bin: "/home/alice/.local/bin/pnpm",
              real: "/opt/pnpm/bin/pnpm.cjs",
              prefix: "/opt/pnpm",
            },
          ],
        },
      }),
    );
    expect(policy.mounts).toContainEqual({
      kind: "symlink",
      target: "/opt/pnpm/bin/pnpm.cjs",
      dest: `${TOOL_BIN}/pnpm`,
    });
    expect(policy.mounts).toContainEqual(
      expect.objectContaining({ kind: "symlink", dest: `${TOOL_BIN}/node` }),
    );
    expect(policy.env.PATH?.split(":")[0]).toBe(TOOL_BIN);
    expect(policy.env.PATH).not.toContain("/home/alice/.local/bin");
  });

  it("passes yarn's NODE_OPTIONS (Plug'n'Play) only from a script", () => {
    const env = { NODE_OPTIONS: "--require /home/alice/code/app/.pnp.cjs" };
    expect(resolvePolicy(baseInput({ host: { env } })).env.NODE_OPTIONS).toBeUndefined();
    expect(
      resolvePolicy(baseInput({ host: { env: { ...env, npm_lifecycle_event: "build" } } })).env
        .NODE_OPTIONS,
    ).toBe("--require /home/alice/code/app/.pnp.cjs");
  });
});

describe("node-gyp", () => {
  it("offers npm's bundled node-gyp by name to every package manager", () => {
    const gyp = "/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js";
    const policy = resolvePolicy(
      baseInput({ input: { toolchain: { ...NO_TOOLCHAIN, nodeGyp: gyp } } }),
    );
    expect(policy.mounts).toContainEqual({
      kind: "symlink",
      target: gyp,
      dest: `${TOOL_BIN}/node-gyp`,
    });
    expect(resolvePolicy(baseInput()).mounts.some((m) => m.dest === `${TOOL_BIN}/node-gyp`)).toBe(
      false,
    );
  });
});

describe("corepack", () => {
  it("disables downloads even before corepack's home exists, and binds the home only when it does", () => {
    const home = "/home/alice/.cache/node/corepack";
    const fresh = resolvePolicy(
      baseInput({ input: { toolchain: { ...NO_TOOLCHAIN, corepack: { home, exists: false } } } }),
    );
    expect(fresh.env.COREPACK_ENABLE_NETWORK).toBe("0");
    expect(fresh.env.COREPACK_HOME).toBe(home);
    expect(fresh.mounts.some((m) => m.kind === "ro-bind" && m.dest === home)).toBe(false);
  });
});

describe("packsFiles: a pack or publish takes every file of the folder", () => {
  it.each<[string, string[], boolean]>([
    ["npm", ["pack", "--dry-run"], true],
    ["pnpm", ["publish"], true],
    ["yarn", ["pack"], true],
    ["yarn", ["npm", "publish"], true],
    ["bun", ["pm", "pack"], true],
    ["bun", ["publish"], true],
    ["npm", ["install"], false],
    ["bun", ["pm", "ls"], false],
    ["node", ["pack"], false],
  ])("%s %j: %s", (tool, args, packs) => {
    expect(packsFiles(tool, args)).toBe(packs);
  });
});
