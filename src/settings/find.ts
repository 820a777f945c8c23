/**
 * Cheap look-up of settings files, run on every start: only when something is found are the
 * schema and cosmiconfig loaded (see load.ts).
 */
import { existsSync, lstatSync, readdirSync } from "node:fs";
import { dirname, isAbsolute, join, relative } from "node:path";
import { SafeNpmError } from "../errors.js";
import { isInside } from "../host/project.js";
import { projectPlace } from "../host/projectplace.js";
import { resolveLoosely } from "../host/workdir.js";
import { PLANTED_HINT, readRegularFile } from "../sandbox/safepath.js";

/** Data files a repository may use, in cosmiconfig's order within one directory. */
export const REPO_SEARCH_PLACES = [
  "package.json",
  ".sandboxrc",
  ".sandboxrc.json",
  ".sandboxrc.yaml",
  ".sandboxrc.yml",
] as const;

/**
 * The largest repository settings file (or package.json holding a `sandbox` key) safe-npm reads:
 * the after-run check fingerprints the same bytes (sandbox/integrity.ts), so nothing larger can
 * carry settings past it. A larger one stops the run.
 */
export const MAX_SETTINGS_BYTES = 1 << 20;

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
    } catch (error) {
      // A folder of the project that cannot be listed would hide its settings file (code inside
      // can `chmod 0311` one): the user's narrowing settings would silently not apply.
      if ((error as NodeJS.ErrnoException).code === "EACCES" && isInside(dir, projectRoot)) {
        throw new SafeNpmError(
          "UNSAFE_PATH",
          `${dir} cannot be listed, so its settings cannot be read`,
          {
            hint: `give it back its permissions (\`chmod u+rwx '${dir}'\`) and look at what is in it: code that ran in the project may have taken them away`,
          },
        );
      }
      // outside the project (a parent of the cwd above the root): nothing here
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
  if (repo === null) settingsAbove(projectRoot, home);
  return {
    repo,
    user: explicitUserConfig ?? userSettingsFile(env, home, projectRoot),
    ignoredCode,
    ignoredLinks,
  };
}

/**
 * A project inside another (a lockfile of its own in a workspace package or a sub-folder) does
 * not get the enclosing project's settings: their `protect` paths are relative to that project.
 * A run can make one (write `packages/a/package-lock.json`), and the next run from there would
 * silently drop what the enclosing settings narrowed (the after-run check moves such a lockfile
 * aside where settings apply; this covers what it cannot see). So settings in a folder above the
 * root, at or below a folder with a package.json (a project a run from here could have had),
 * stop a run that has none of its own.
 */
function settingsAbove(projectRoot: string, home: string): void {
  let nearest: { dir: string; place: string } | null = null;
  for (let dir = dirname(projectRoot); dir !== dirname(dir); dir = dirname(dir)) {
    if (dir === home || isInside(home, dir)) return;
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    nearest ??= settingsIn(dir, names);
    if (nearest !== null && names.includes("package.json")) {
      const rel = relative(dir, projectRoot);
      throw new SafeNpmError(
        "BAD_SETTINGS",
        `${join(nearest.dir, nearest.place)} holds safe-npm settings for the project at ${dir}, but this run's project is ${projectRoot} (the nearest folder with a package.json and a lockfile or workspaces, else with a package.json), where they do not apply`,
        {
          hint: `if ${rel} is a project of its own, give it settings of its own (a .sandboxrc.json there; \`{}\` keeps the defaults); if it belongs to ${dir}, remove what makes it a project (a lockfile, a \`workspaces\` key or a package.json in ${rel} that code in a sandboxed run may have made) and run again`,
        },
      );
    }
  }
}

/** The settings source a folder holds, as the lookup would take it, or null. */
function settingsIn(dir: string, names: readonly string[]): { dir: string; place: string } | null {
  const place = REPO_SEARCH_PLACES.find(
    (p) =>
      names.includes(p) &&
      (p !== "package.json" || (fileKind(join(dir, p)) === "file" && hasSandboxKey(join(dir, p)))),
  );
  return place === undefined ? null : { dir, place };
}

/**
 * `$XDG_CONFIG_HOME/safe-npm/config.json|yaml|yml` (default `~/.config`), if present. It is
 * trusted as the user's own, so it must lie where no sandbox writes: with `XDG_CONFIG_HOME` in a
 * project (`$PWD/.config` in CI), or in this run's `projectRoot`, a run could have planted one
 * that widens the next (`"network": "full"`, a read-write bind of the home). Such a file stops
 * every run rather than being skipped: the user meant that file, and a run without their
 * settings is not the run they asked for.
 */
export function userSettingsFile(
  env: Readonly<Record<string, string | undefined>>,
  home: string,
  projectRoot: string | null = null,
): string | null {
  const base =
    env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME)
      ? env.XDG_CONFIG_HOME
      : join(home, ".config");
  for (const name of ["config.json", "config.yaml", "config.yml"]) {
    const path = join(base, "safe-npm", name);
    if (!existsSync(path) && fileKind(path) !== "link") continue;
    const why = projectPlace(dirname(path), home) ?? inRoot(dirname(path), projectRoot, home);
    if (why !== null) throw plantableUserSettings(path, why, base === env.XDG_CONFIG_HOME);
    if (existsSync(path)) return path;
  }
  return null;
}

/** `dir` (by real path) lies in the run's root; a root holding the home is no project (doctor). */
function inRoot(dir: string, root: string | null, home: string): string | null {
  if (root === null || root === home || isInside(home, root)) return null;
  const real = resolveLoosely(dir);
  return real === root || isInside(real, root) ? `it is in the project ${root}` : null;
}

function plantableUserSettings(path: string, why: string, fromXdg: boolean): SafeNpmError {
  return new SafeNpmError(
    "UNSAFE_CONFIG_DIR",
    `your settings file ${path} lies where a sandboxed run may write (${why}): a run could have planted it to widen the sandbox, so it is not read`,
    {
      hint: fromXdg
        ? `set XDG_CONFIG_HOME to a directory outside any project (e.g. \`export XDG_CONFIG_HOME=$HOME/.config\`, or \`$RUNNER_TEMP/config\` in CI) and keep your settings there; check ${path} and remove it. Settings for this repository belong in .sandboxrc (\`safe-npm trust\`)`
        : `move your settings out of the project and check ${path}; pass a file elsewhere with --config, or put repository settings in .sandboxrc (\`safe-npm trust\`)`,
    },
  );
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
  // Too large (or not a regular file) stops the run: its key must not go unseen either way.
  const text = readRegularFile(packageJson, true, MAX_SETTINGS_BYTES);
  try {
    // As the after-run check reads it (sandbox/integrity.ts): a byte-order mark does not hide it.
    const pkg = JSON.parse(text.replace(/^\uFEFF/, "")) as unknown;
    return typeof pkg === "object" && pkg !== null && "sandbox" in pkg;
  } catch {
    return false;
  }
}
