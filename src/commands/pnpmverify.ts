/**
 * pnpm installs before `pnpm run` when dependencies look out of date if `verifyDepsBeforeRun` is
 * `install`: the default from pnpm 11 on, and what a project may set for pnpm 10. A bare
 * `pnpm run` on the host then installs there, from what the sandboxed run left in
 * `node_modules` — a run can always make it look out of date (remove a store folder) — and that
 * install links bins again and runs approved build scripts outside the sandbox. safe-npm cannot
 * keep node_modules trustworthy for it, so after a pnpm install it says so, until the setting
 * pnpm reads is off (or `warn`, `error`, `prompt`, which install nothing unasked).
 * https://pnpm.io/settings#verifydepsbeforerun
 *
 * The files are the project's, so hostile: a value is taken as off only where a YAML parser and
 * a plain top-level line agree on it (a key inside a flow collection or a merge is no setting for
 * pnpm); anything unclear counts as `install`.
 */
import { join } from "node:path";
import { pnpmConfigHome } from "../host/host.js";
import { parseNpmrc } from "../sandbox/npmrc.js";
import { readRegularFile } from "../sandbox/safepath.js";

const MAX_CONFIG_BYTES = 1 << 20;
/** Values that install nothing on their own. */
const SAFE_VALUES = new Set(["false", "warn", "error", "prompt"]);

/**
 * The `verifyDepsBeforeRun` a pnpm-workspace.yaml or config.yaml text sets at its top level, as a
 * string (`false` for the boolean); "unclear" when the file cannot be read as one plain YAML
 * document whose top-level line says the same; null when it sets none.
 */
export async function verifyDepsSetting(yaml: string): Promise<string | null> {
  // Without the name, or an escape that could spell it, no YAML sets it: the parser (cosmiconfig's,
  // a chunk of its own) is not loaded for the common pnpm-workspace.yaml.
  if (!yaml.includes("verifyDepsBeforeRun") && !yaml.includes("\\")) return null;
  const { defaultLoadersSync } = await import("cosmiconfig");
  const lines = yaml.split(/\r?\n/).filter((l) => /^verifyDepsBeforeRun\s*:/.test(l));
  let doc: unknown;
  try {
    doc = defaultLoadersSync[".yaml"]("pnpm-workspace.yaml", yaml);
  } catch {
    return lines.length > 0 || /verifyDepsBeforeRun/.test(yaml) ? "unclear" : null;
  }
  const has = doc !== null && typeof doc === "object" && Object.hasOwn(doc, "verifyDepsBeforeRun");
  if (!has) return lines.length > 0 ? "unclear" : null;
  if (lines.length !== 1) return "unclear";
  const value = (doc as Record<string, unknown>).verifyDepsBeforeRun;
  if (value === false) return "false";
  return typeof value === "string" && value !== "false" ? value : "unclear";
}

function readOrEmpty(path: string, noFollow: boolean): string {
  try {
    return readRegularFile(path, noFollow, MAX_CONFIG_BYTES);
  } catch {
    return "";
  }
}

/** The `verify-deps-before-run` an npmrc text sets (pnpm 10 reads its settings there). */
function npmrcSetting(text: string): string | null {
  let value: string | null = null;
  for (const entry of parseNpmrc(text)) {
    if (entry.section === null && /^verify-deps-before-run$/i.test(entry.key)) {
      value = typeof entry.value === "string" ? entry.value.trim() : "unclear";
    }
  }
  return value;
}

/**
 * The line to print after a pnpm install-class run, or null when the setting the pnpm of
 * `major` (null: unknown, taken as current) reads installs nothing: in pnpm's order, its
 * variables, the project's pnpm-workspace.yaml (and .npmrc for pnpm 10; both never through a
 * link), then the user's config.yaml (pnpm 11+) or rc and ~/.npmrc (pnpm 10).
 */
export async function verifyDepsNotice(
  root: string,
  env: Readonly<Record<string, string | undefined>>,
  home: string,
  major: number | null,
  userNpmrc: string | null = null,
): Promise<string | null> {
  const legacy = major !== null && major <= 10;
  const configHome = pnpmConfigHome(env, home, legacy);
  // Each source is read only if this pnpm reads it; the first that sets a value decides.
  const sources: (() => string | null | undefined | Promise<string | null>)[] = [
    () => env.pnpm_config_verify_deps_before_run,
    () => (legacy ? env.npm_config_verify_deps_before_run : null),
    () => verifyDepsSetting(readOrEmpty(join(root, "pnpm-workspace.yaml"), true)),
    () => (legacy ? npmrcSetting(readOrEmpty(join(root, ".npmrc"), true)) : null),
    () =>
      legacy
        ? npmrcSetting(readOrEmpty(join(configHome, "rc"), false))
        : verifyDepsSetting(readOrEmpty(join(configHome, "config.yaml"), false)),
    () => (legacy && userNpmrc !== null ? npmrcSetting(userNpmrc) : null),
  ];
  let value = legacy ? "false" : "install";
  for (const source of sources) {
    const found = await source();
    if (found !== null && found !== undefined && found !== "") {
      value = found;
      break;
    }
  }
  if (SAFE_VALUES.has(value.toLowerCase())) return null;
  return `pnpm${legacy ? " (as configured here)" : " 11 and later"} installs before \`pnpm run\` when node_modules looks out of date (verifyDepsBeforeRun): a bare \`pnpm run\` on the host would install there, from what this run left in node_modules, and run approved build scripts outside the sandbox. Add \`verifyDepsBeforeRun: false\` to pnpm-workspace.yaml, or run scripts with \`safe-npm run\`.`;
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
