import { copyFileSync, linkSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./paths.js";

/** The version of `pkg` as installed in this repository's node_modules (a devDependency). */
export function versionOf(pkg: string): string {
  const file = join(repoRoot, "node_modules", pkg, "package.json");
  return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
}

/**
 * pnpm-workspace.yaml settings for pnpm 12. It pins the pnpm that `packageManager` names in its
 * lockfile, resolving it from the registry (the same without safe-npm); the tests' registries do
 * not serve pnpm, so the check is off. Before a script it installs first (`verifyDepsBeforeRun`),
 * which removes the safe-npm the tests copy into node_modules by hand (a real project declares it).
 */
export const PNPM_LATEST_YAML = "pmOnFail: ignore\nverifyDepsBeforeRun: false\n";

/** The package managers' executables among this repository's devDependencies. */
export const TOOL_BINS = Object.freeze({
  /** pnpm 10 (the `pnpm` package), a script for node. */
  pnpm: join(repoRoot, "node_modules", "pnpm", "bin", "pnpm.cjs"),
  /** The latest pnpm (`pnpm-latest`, 12 and later), a native binary. */
  pnpmLatest: join(repoRoot, "node_modules", "pnpm-latest", "pnpm"),
  /** yarn classic (the `yarn` package, 1.x), a script for node. */
  yarn1: join(repoRoot, "node_modules", "yarn", "bin", "yarn.js"),
  /** yarn berry (`@yarnpkg/cli-dist`, 4.x), a script for node. */
  yarn4: join(repoRoot, "node_modules", "@yarnpkg", "cli-dist", "bin", "yarn.js"),
  /** bun, a native binary. */
  bun: join(repoRoot, "node_modules", "bun", "bin", "bun.exe"),
});

/**
 * A node of its own prefix, as a tarball install in /opt or ~/.local is: `<dir>/node-prefix`
 * with `bin/node` (a hard link to this node, else a copy) and `etc/npmrc` holding `npmrc` when
 * given — npm's global config for that node. Put `<prefix>/bin` first on PATH to use it.
 */
export function nodePrefix(dir: string, npmrc?: string): string {
  const prefix = join(dir, "node-prefix");
  const node = join(prefix, "bin", "node");
  mkdirSync(join(prefix, "bin"), { recursive: true });
  mkdirSync(join(prefix, "etc"), { recursive: true });
  try {
    linkSync(process.execPath, node);
  } catch {
    copyFileSync(process.execPath, node);
  }
  if (npmrc !== undefined) writeFileSync(join(prefix, "etc", "npmrc"), npmrc);
  return prefix;
}
