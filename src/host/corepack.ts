/**
 * Corepack shims run inside with downloads disabled, so the package manager the project asks
 * for must already be in corepack's cache. Checked before the sandbox starts, for an error that
 * names the manager and the fix instead of corepack's "cannot reach the npm repository".
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { SafeNpmError } from "../errors.js";
import { readRegularFile } from "../sandbox/safepath.js";

/** A package.json larger than this is not read for its `packageManager` field. */
const MAX_PACKAGE_JSON = 16 << 20;

/** `pnpm@10.1.0+sha512.abc` → `{ name: "pnpm", version: "10.1.0" }`. */
export function parsePackageManagerField(field: string): { name: string; version: string } | null {
  const match = /^(@?[^@\s]+)@([^+\s]+)/.exec(field);
  return match === null ? null : { name: match[1] as string, version: match[2] as string };
}

/** corepack keeps a prepared manager in `<home>/v1/<name>/<version>/` with a `.corepack` file. */
export function corepackNotPrepared(
  name: string,
  home: string,
  projectRoot: string,
): SafeNpmError | null {
  let wanted: { name: string; version: string } | null = null;
  try {
    // The project is hostile input: a link, a FIFO or /dev/stdin there must not be read.
    const text = readRegularFile(join(projectRoot, "package.json"), true, MAX_PACKAGE_JSON);
    const pkg = JSON.parse(text) as { packageManager?: unknown };
    if (typeof pkg.packageManager === "string")
      wanted = parsePackageManagerField(pkg.packageManager);
  } catch {
    // no readable package.json (or not a regular file): corepack falls back to its default
  }
  // A field naming another manager is corepack's to report ("this project is configured to use …").
  if (wanted !== null && wanted.name !== name) return null;
  const dir = join(home, "v1", name);
  const prepared =
    wanted === null
      ? existsSync(dir) && readdirSync(dir).length > 0
      : existsSync(join(dir, wanted.version, ".corepack"));
  if (prepared) return null;
  const spec = wanted === null ? name : `${name}@${wanted.version}`;
  return new SafeNpmError(
    "COREPACK_NOT_PREPARED",
    `${spec} is not in corepack's cache (${home}); corepack cannot download it inside the sandbox`,
    {
      hint: `run \`corepack install\` in ${projectRoot} outside safe-npm once (or \`corepack prepare ${spec} --activate\`), then run safe-npm again`,
    },
  );
}
