/** Which tools come into the sandbox, and what they need besides their install prefixes. */
import { existsSync, realpathSync } from "node:fs";
import { basename, isAbsolute, join } from "node:path";
import { SafeNpmError } from "../errors.js";
import type { RequestKind, ToolchainInput } from "../sandbox/policy.js";
import { readRegularFile } from "../sandbox/safepath.js";
import { corepackNotPrepared } from "./corepack.js";
import {
  type HostInfo,
  nodeBehindScript,
  type ResolvedTool,
  readNpmGlobalConfig,
  resolveTool,
} from "./host.js";
import type { DetectedPackageManager } from "./project.js";

/**
 * The package manager must be found on the host for a "pm" request; for exec and shell the
 * project's package manager comes along when it is installed, so scripts can call it.
 */
export function resolveTools(
  kind: RequestKind,
  command: readonly string[],
  detected: DetectedPackageManager | null,
  host: HostInfo,
): ResolvedTool[] {
  if (kind === "pm") {
    const name = command[0] ?? "npm";
    const tool = resolveTool(name, host);
    if (tool === null) {
      throw new SafeNpmError("NO_PACKAGE_MANAGER", `${name} was not found on PATH`, {
        hint:
          detected === null
            ? `install ${name}, or make sure its directory is on PATH`
            : `this project uses ${name} (decided by: ${detected.source}); install it (e.g. \`corepack enable\` or \`npm install -g ${name}\`) or make sure it is on PATH`,
      });
    }
    // npm comes along for its bundled node-gyp (native addons under any manager).
    const npm = name === "npm" ? null : resolveTool("npm", host);
    return npm === null ? [tool] : [tool, npm];
  }
  // exec and shell: npm, and the project's own manager when it is another one.
  const names = ["npm", ...(detected !== null && detected.name !== "npm" ? [detected.name] : [])];
  return names.flatMap((name) => resolveTool(name, host) ?? []);
}

/** The tools with the node binary behind a `node` script on PATH (nodeBehindScript), last. */
export function withNodeBehindScript(
  node: ResolvedTool,
  tools: readonly ResolvedTool[],
): ResolvedTool[] {
  const behind = nodeBehindScript(node, process.execPath);
  return behind === null ? [...tools] : [...tools, behind];
}

/**
 * What the toolchain needs besides its install prefixes: node's headers for node-gyp (so native
 * addons build without downloading them), and corepack's prepared package managers (corepack
 * must not download inside: prepare them outside, `corepack install`).
 */
export function toolchainInput(
  node: ResolvedTool,
  tools: readonly ResolvedTool[],
  host: HostInfo,
): ToolchainInput {
  // node's own, or the binary's behind a wrapper script (withNodeBehindScript).
  const headers =
    [node, ...tools.filter((t) => basename(t.bin) === "node")]
      .map((t) => t.prefix)
      .find((prefix) => existsSync(join(prefix, "include", "node", "node.h"))) ?? null;
  const usesCorepack = tools.some((t) => basename(t.prefix) === "corepack");
  const corepackHome =
    host.env.COREPACK_HOME && isAbsolute(host.env.COREPACK_HOME)
      ? host.env.COREPACK_HOME
      : join(host.cacheHome, "node", "corepack");
  const yarnClassic = tools.some((t) => {
    try {
      // A tool may come from a project's node_modules: never through a link, never a FIFO.
      const text = readRegularFile(join(t.prefix, "package.json"), true, 1 << 20);
      const pkg = JSON.parse(text) as { name?: string; version?: string };
      return pkg.name === "yarn" && pkg.version?.startsWith("1.") === true;
    } catch {
      return false;
    }
  });
  const npm = tools.find((t) => basename(t.bin) === "npm");
  const nodeGyp =
    npm === undefined ? null : join(npm.prefix, "node_modules", "node-gyp", "bin", "node-gyp.js");
  return {
    nodeHeaders: headers,
    yarnClassic,
    nodeGyp: nodeGyp !== null && existsSync(nodeGyp) ? nodeGyp : null,
    corepack: usesCorepack
      ? existsSync(corepackHome)
        ? { home: realpathSync(corepackHome), exists: true }
        : { home: corepackHome, exists: false }
      : null,
    // npm inside runs on the binary behind a `node` wrapper script (yarn's run): its prefix.
    npmGlobalConfig: readNpmGlobalConfig(nodeBehindScript(node, process.execPath) ?? node, npm),
  };
}

/** node itself, which every tool inside runs on. */
export function requireNode(host: HostInfo): ResolvedTool {
  const node = resolveTool("node", host);
  if (node === null) {
    throw new SafeNpmError("NO_NODE", "node was not found on PATH", {
      hint: "install Node.js 20.19 or newer (or activate it with nvm/fnm/volta) so that `node` is on PATH",
    });
  }
  return node;
}

/**
 * A package manager run through corepack's shim must already be prepared: corepack cannot
 * download it inside (no network to its CDN), so name the missing one before starting bwrap.
 */
export function requirePrepared(
  kind: RequestKind,
  tools: readonly ResolvedTool[],
  toolchain: ToolchainInput,
  root: string,
): void {
  const manager = tools[0];
  if (kind !== "pm" || toolchain.corepack === null || manager === undefined) return;
  if (basename(manager.prefix) !== "corepack") return;
  const name = basename(manager.bin)
    .replace(/^yarnpkg$/, "yarn")
    .replace(/^pnpx$/, "pnpm");
  const notPrepared = corepackNotPrepared(name, toolchain.corepack.home, root);
  if (notPrepared !== null) throw notPrepared;
}
