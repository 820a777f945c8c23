/**
 * Which commands install (and so get the registry network by default) — one data table per
 * package manager. Everything else (run, test, exec, shell, …) is a "run" command.
 */
import type { PackageManagerName } from "../host/project.js";

export type CommandClass = "install" | "run";

const YARN = ["", "install", "add", "up", "upgrade", "upgrade-interactive", "remove", "dlx"];

export const INSTALL_COMMANDS: Readonly<
  Record<PackageManagerName | "npx" | "pnpx" | "bunx" | "yarnpkg", readonly string[]>
> = {
  npm: [
    "install",
    "i",
    "in",
    "ins",
    "inst",
    "insta",
    "instal",
    "isnt",
    "isnta",
    "isntal",
    "isntall",
    "ci",
    "clean-install",
    "ic",
    "install-clean",
    "isntall-clean",
    "add",
    "update",
    "up",
    "upgrade",
    "udpate",
    "remove",
    "rm",
    "r",
    "un",
    "uninstall",
    "unlink",
    "rebuild",
    "rb",
    "dedupe",
    "ddp",
    "exec",
    "x",
    "install-test",
    "it",
    "install-ci-test",
    "cit",
    // Registry queries: with the shims, a plain `npm view x` in a project comes here.
    "view",
    "info",
    "show",
    "v",
    "search",
    "outdated",
    "audit",
  ],
  npx: ["*"],
  pnpx: ["*"],
  bunx: ["*"],
  yarn: YARN,
  pnpm: [
    "install",
    "i",
    "add",
    "update",
    "up",
    "upgrade",
    "remove",
    "rm",
    "uninstall",
    "un",
    "rebuild",
    "rb",
    "dlx",
    "fetch",
    "import",
    "dedupe",
  ],
  bun: ["install", "i", "add", "a", "update", "remove", "rm", "x"],
  yarnpkg: YARN,
};

/**
 * Scaffolders fetch their initializer from the registry: `npm init vite`, `pnpm create vite`,
 * `yarn create vite`, `bun create vite` (a bare `npm init` writes package.json and needs none).
 */
const CREATE: Readonly<Record<string, readonly string[]>> = {
  npm: ["init", "create", "innit"],
  pnpm: ["create"],
  yarn: ["create"],
  yarnpkg: ["create"],
  bun: ["create", "c"],
};

/** The first word that is not a flag, e.g. `install` in `npm --silent install x`. */
function subcommand(args: readonly string[]): string {
  return args.find((a) => !a.startsWith("-")) ?? "";
}

/** Install-class words that start a package's program, which may serve on a port. */
const LAUNCHES = new Set([
  "exec",
  "x",
  "dlx",
  "create",
  "init",
  "innit",
  "install-test",
  "it",
  "install-ci-test",
  "cit",
]);

/**
 * Whether a server started by the command is looked for (network/ports.ts). Installs, publish
 * and registry queries serve nothing, and each look reads the kernel's whole TCP table
 * (/proc/<pid>/net/tcp walks every socket of the machine, ~10 ms of kernel time): they are not
 * watched. Run-class commands are, and so is whatever starts a package's program (npx, exec,
 * dlx, create, install-test).
 */
export function watchesPorts(cls: CommandClass, tool: string, args: readonly string[]): boolean {
  if (cls === "run") return true;
  if (tool === "npx" || tool === "pnpx" || tool === "bunx") return true;
  return LAUNCHES.has(subcommand(args));
}

/**
 * `publish` (npm, pnpm, bun, yarn 1) and `yarn npm publish` (yarn 2+): the registry network like
 * an install, with the upload of the package added to the registry's request rules
 * (network/requestpolicy.ts) and the credential added to it on the host.
 */
export function isPublish(tool: string, args: readonly string[]): boolean {
  const words = args.filter((a) => !a.startsWith("-"));
  switch (tool) {
    case "npm":
    case "pnpm":
    case "bun":
      return words[0] === "publish";
    case "yarn":
    case "yarnpkg":
      return words[0] === "publish" || (words[0] === "npm" && words[1] === "publish");
    default:
      return false;
  }
}

/**
 * A command that packs the project's folder into a tarball — `pack` and publish (npm, pnpm,
 * yarn; bun's `pm pack`): it takes every file there, so the empty read-only stand-ins for
 * missing host-run files (hostfiles.ts) would be packed too.
 */
export function packsFiles(tool: string, args: readonly string[]): boolean {
  if (isPublish(tool, args)) return true;
  const words = args.filter((a) => !a.startsWith("-"));
  if (tool === "bun") return words[0] === "pm" && words[1] === "pack";
  return ["npm", "pnpm", "yarn", "yarnpkg"].includes(tool) && words[0] === "pack";
}

export function commandClass(tool: string, args: readonly string[]): CommandClass {
  if (isPublish(tool, args)) return "install";
  const table = INSTALL_COMMANDS[tool as keyof typeof INSTALL_COMMANDS];
  if (table === undefined) return "run";
  if (table.includes("*")) return "install";
  const word = subcommand(args);
  if (CREATE[tool]?.includes(word) && subcommand(args.slice(args.indexOf(word) + 1)) !== "") {
    return "install";
  }
  return table.includes(subcommand(args)) ? "install" : "run";
}
