/**
 * Cheap look-up of settings files, run on every start: only when something is found are the
 * schema and cosmiconfig loaded (see load.ts).
 */
import { existsSync, lstatSync, readdirSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { SafeNpmError } from "../errors.js";
import { PLANTED_HINT, readRegularFile } from "../sandbox/safepath.js";

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
  /** package.json files that are links: their `sandbox` key is not read. */
  ignoredLinks: string[];
}

export function findSettingsFiles(
  cwd: string,
  projectRoot: string,
  env: Readonly<Record<string, string | undefined>>,
  home: string,
  explicitUserConfig: string | undefined,
): FoundSettings {
  const ignoredCode: string[] = [];
  const ignoredLinks: string[] = [];
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
        const path = join(dir, place);
        // Code inside may have planted the file: a link would borrow another file's content
        // (and its trust, or print a key in an error), a FIFO would hang the read.
        const kind = fileKind(path);
        if (place === "package.json") {
          if (kind === "link") {
            ignoredLinks.push(path);
            continue;
          }
          if (kind !== "file" || !hasSandboxKey(path)) continue;
        } else if (kind !== "file") {
          throw unsafeSettingsFile(path, kind);
        }
        repo = path;
        break;
      }
    }
    if (dir === projectRoot || dir === dirname(dir)) break;
  }
  return {
    repo,
    user: explicitUserConfig ?? userSettingsFile(env, home),
    ignoredCode,
    ignoredLinks,
  };
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

function fileKind(path: string): "file" | "link" | "other" | "missing" {
  try {
    const st = lstatSync(path);
    return st.isSymbolicLink() ? "link" : st.isFile() ? "file" : "other";
  } catch {
    return "missing";
  }
}

function unsafeSettingsFile(path: string, kind: "link" | "other" | "missing"): SafeNpmError {
  return kind === "link"
    ? new SafeNpmError(
        "UNSAFE_PATH",
        `settings file ${path} is a symbolic link; settings are read only from regular files (a link could borrow another project's trusted settings)`,
        { hint: PLANTED_HINT },
      )
    : new SafeNpmError("UNSAFE_PATH", `settings file ${path} is not a regular file`, {
        hint: `remove ${path}, or replace it with a regular file`,
      });
}

function hasSandboxKey(packageJson: string): boolean {
  try {
    const pkg = JSON.parse(readRegularFile(packageJson, true)) as unknown;
    return typeof pkg === "object" && pkg !== null && "sandbox" in pkg;
  } catch {
    return false;
  }
}
