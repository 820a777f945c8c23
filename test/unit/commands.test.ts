import { describe, expect, it } from "vitest";
import { commandClass } from "../../src/commands.js";
import { NO_TOOLCHAIN, resolvePolicy } from "../../src/policy.js";
import { baseInput } from "./fixtures.js";

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

describe("toolchain", () => {
  it("points node-gyp at node's own headers and keeps corepack offline with its prepared managers", () => {
    const policy = resolvePolicy(
      baseInput({
        input: {
          toolchain: { nodeHeaders: "/opt/node", corepackHome: "/home/alice/.cache/node/corepack" },
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
