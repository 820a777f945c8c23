/**
 * Cheap look-up of settings files, run on every start: only when something is found are the
 * schema and cosmiconfig loaded (see load.ts).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";

/** Data files a repository may use, in cosmiconfig's order within one directory. */
export const REPO_SEARCH_PLACES = [
  "package.json",
  ".sandboxrc",
  ".sandboxrc.json",
  ".sandboxrc.yaml",
  ".sandboxrc.yml",
] as const;

/** Code-bearing config files that would run outside the sandbox if loaded: never loaded. */
const CODE_CONFIG = /^(\.sandboxrc|sandbox\.config)\.(js|cjs|mjs|ts|cts|mts)$/;

export interface FoundSettings {
  /** The nearest repository settings file from the cwd up to the project root. */
  repo: string | null;
  /** The user's settings file (trusted). */
  user: string | null;
  /** Code config files that were seen and are ignored. */
  ignoredCode: string[];
}

export function findSettingsFiles(
  cwd: string,
  projectRoot: string,
  env: Readonly<Record<string, string | undefined>>,
  home: string,
  explicitUserConfig: string | undefined,
): FoundSettings {
  const ignoredCode: string[] = [];
  let repo: string | null = null;
  for (let dir = cwd; ; dir = dirname(dir)) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      // unreadable directory: nothing here
    }
    for (const name of names) if (CODE_CONFIG.test(name)) ignoredCode.push(join(dir, name));
    if (repo === null) {
      for (const place of REPO_SEARCH_PLACES) {
        if (!names.includes(place)) continue;
        if (place === "package.json" && !hasSandboxKey(join(dir, place))) continue;
        repo = join(dir, place);
        break;
      }
    }
    if (dir === projectRoot || dir === dirname(dir)) break;
  }
  return { repo, user: explicitUserConfig ?? userSettingsFile(env, home), ignoredCode };
}

/** `$XDG_CONFIG_HOME/safe-npm/config.json|yaml|yml` (default `~/.config`), if present. */
export function userSettingsFile(
  env: Readonly<Record<string, string | undefined>>,
  home: string,
): string | null {
  const base =
    env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME)
      ? env.XDG_CONFIG_HOME
      : join(home, ".config");
  for (const name of ["config.json", "config.yaml", "config.yml"]) {
    const path = join(base, "safe-npm", name);
    if (existsSync(path)) return path;
  }
  return null;
}

function hasSandboxKey(packageJson: string): boolean {
  try {
    const pkg = JSON.parse(readFileSync(packageJson, "utf8")) as unknown;
    return typeof pkg === "object" && pkg !== null && "sandbox" in pkg;
  } catch {
    return false;
  }
}
