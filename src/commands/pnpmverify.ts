/**
 * pnpm 11 and later install before every `pnpm run` whose dependencies look out of date
 * (`verifyDepsBeforeRun`, default `install`). A bare `pnpm run` on the host then installs there,
 * from what the sandboxed run left in `node_modules` — a run can always make it look out of date
 * (remove a store folder) — and that install links bins again and runs approved build scripts
 * outside the sandbox. safe-npm cannot keep node_modules trustworthy for it, so after a pnpm
 * install it says so, until the user's config turns the setting off (or to `warn`, `error` or
 * `prompt`, which install nothing unasked). https://pnpm.io/settings#verifydepsbeforerun
 */
import { join } from "node:path";
import { readRegularFile } from "../sandbox/safepath.js";

const MAX_CONFIG_BYTES = 1 << 20;
/** Values that install nothing on their own. */
const SAFE_VALUES = new Set(["false", "warn", "error", "prompt"]);

/** The `verifyDepsBeforeRun` a pnpm-workspace.yaml or config.yaml text sets at its top level. */
export function verifyDepsSetting(yaml: string): string | null {
  let value: string | null = null;
  for (const line of yaml.split(/\r?\n/)) {
    const match = /^verifyDepsBeforeRun\s*:\s*(.*?)\s*(?:#.*)?$/.exec(line);
    if (match !== null) value = (match[1] ?? "").replace(/^(["'])(.*)\1$/, "$2");
  }
  return value;
}

function readOrEmpty(path: string, noFollow: boolean): string {
  try {
    return readRegularFile(path, noFollow, MAX_CONFIG_BYTES);
  } catch {
    return "";
  }
}

/**
 * The line to print after a pnpm install-class run, or null when pnpm is 10 or older
 * (`major`, null when unknown) or the setting installs nothing: pnpm's variable, the project's
 * pnpm-workspace.yaml (never through a link: it is the project's) or the user's global
 * `config.yaml`.
 */
export function verifyDepsNotice(
  root: string,
  env: Readonly<Record<string, string | undefined>>,
  home: string,
  major: number | null,
): string | null {
  if (major !== null && major < 11) return null;
  const configHome = env.XDG_CONFIG_HOME?.startsWith("/")
    ? env.XDG_CONFIG_HOME
    : join(home, ".config");
  const settings = [
    env.pnpm_config_verify_deps_before_run ?? null,
    verifyDepsSetting(readOrEmpty(join(root, "pnpm-workspace.yaml"), true)),
    verifyDepsSetting(readOrEmpty(join(configHome, "pnpm", "config.yaml"), false)),
  ];
  // The first that is set wins: the variable, then the project's, then the user's.
  const value = settings.find((v) => v !== null && v !== "") ?? "install";
  if (SAFE_VALUES.has(value.toLowerCase())) return null;
  return "pnpm 11 and later install before `pnpm run` when node_modules looks out of date (verifyDepsBeforeRun): a bare `pnpm run` on the host would install there, from what this run left in node_modules, and run approved build scripts outside the sandbox. Add `verifyDepsBeforeRun: false` to pnpm-workspace.yaml, or run scripts with `safe-npm run`.";
}

/** pnpm's major version from the package.json of its install prefix; null when unknown. */
export function pnpmMajor(prefix: string): number | null {
  try {
    const pkg = JSON.parse(readRegularFile(join(prefix, "package.json"), true, MAX_CONFIG_BYTES));
    const version = (pkg as { name?: unknown; version?: unknown }).version;
    const name = (pkg as { name?: unknown }).name;
    if (typeof version !== "string" || typeof name !== "string" || !/pnpm/.test(name)) return null;
    const major = Number(/^(\d+)\./.exec(version)?.[1]);
    return Number.isInteger(major) ? major : null;
  } catch {
    return null;
  }
}
