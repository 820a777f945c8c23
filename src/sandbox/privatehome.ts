/**
 * The private home keeps caches, not configuration. Inside, `$HOME` is a fresh tmpfs on every
 * run; only the cache directories below come from the per-project directory on the host
 * (`$XDG_CACHE_HOME/safe-npm/homes/<name>-<hash>`), bound read-write. So nothing written to
 * `~/.npmrc`, `~/.yarnrc(.yml)`, `~/.bunfig.toml`, `~/.config/…` (pnpm's rc and config.yaml,
 * git, fish), `~/.gitconfig`, the shells' rc files, `~/node_modules`, or a directory between the
 * home and the project survives into the next run.
 */
import { lstatSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { SafeNpmError } from "../errors.js";

/** The host-written record beside a private home: which project it serves, when it was used. */
export interface HomeRecord {
  /** The project root the home was made for (its real path). */
  project: string;
  /** When safe-npm last ran a sandbox with this home (ISO 8601, the host's clock). */
  lastUse: string;
}

/**
 * `<home>.json`, beside the home in the homes directory: no sandbox has ever seen that directory
 * (only a home's cache directories, or with older versions the home itself, were bound inside),
 * so neither the mapping to the project nor the last use can be set by code inside. The home's
 * own timestamps can: its cache directories are writable inside.
 */
export function homeRecordPath(privateHome: string): string {
  return join(dirname(privateHome), `${basename(privateHome)}.json`);
}

/**
 * Writes the record through a fresh temporary file and a rename, so nothing already at the path
 * (a link, a FIFO) is followed or opened. A failure only loses the record: `safe-npm homes` then
 * shows the home's project as unknown, and the run goes on.
 */
export function writeHomeRecord(privateHome: string, record: HomeRecord, now: Date): void {
  const path = homeRecordPath(privateHome);
  const tmp = `${path}.${process.pid}.${now.getTime()}.tmp`;
  try {
    writeFileSync(tmp, `${JSON.stringify(record)}\n`, { flag: "wx", mode: 0o600 });
    renameSync(tmp, path);
  } catch {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // nothing was written
    }
  }
}

/**
 * Relative to the home: what persists. Each holds downloaded packages or metadata that the
 * package manager checks or that only this project's own installs use; none is read as
 * configuration. `.cache` holds yarn 1's cache (YARN_CACHE_FOLDER), node-gyp's headers, pnpm's
 * metadata cache; `.yarn/berry` is yarn 4's global folder (its cache and telemetry state).
 */
export const CACHE_DIRS = [
  ".npm",
  ".cache",
  ".yarn/berry",
  ".local/share/pnpm/store",
  ".bun/install/cache",
] as const;

/**
 * Makes each cache directory in the private home a real directory before bwrap binds it. bwrap
 * follows links in a bind's source on the host, and older versions of safe-npm let sandboxed code
 * write anywhere in the private home: a link planted there would bind its target. So every
 * component is checked with lstat and must be a directory; a missing one is created (0700).
 * `mountPoints` (relative to the home) are made the same way: mount points that bwrap would
 * otherwise create through whatever code inside left on the way (policy.ts,
 * mountPointInPrivateHome).
 */
export function preparePrivateHome(privateHome: string, mountPoints: readonly string[] = []): void {
  mkdirSync(privateHome, { recursive: true, mode: 0o700 });
  for (const rel of [...CACHE_DIRS, ...mountPoints]) {
    let path = privateHome;
    for (const part of rel.split("/")) {
      path = join(path, part);
      let isDir: boolean;
      try {
        isDir = lstatSync(path).isDirectory();
      } catch {
        mkdirSync(path, { mode: 0o700 });
        continue;
      }
      if (!isDir) {
        throw new SafeNpmError(
          "BAD_PRIVATE_HOME",
          `${path} in the sandbox's private home is not a directory (a link or file left by an earlier sandboxed run)`,
          {
            hint: `remove it (\`rm ${path}\`) and run again; the private home holds only caches, so removing all of ${privateHome} is safe too`,
          },
        );
      }
    }
  }
}
