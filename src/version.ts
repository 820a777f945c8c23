/**
 * safe-npm's version and package root: the nearest folder above this module holding a
 * package.json. This module runs from src/ (tests), dist/ (tsc), dist/main.cjs or a chunk in
 * dist/chunks/ (the bundle: which chunk holds it changes with the import graph), so no fixed
 * number of levels is right for all.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function packageRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = dirname(start); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) return dirname(start);
  }
}

/** The package root this safe-npm runs from (its dist/ is what a local copy is compared to). */
export const PACKAGE_ROOT: string = packageRoot();

export const VERSION: string = (
  JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as {
    version: string;
  }
).version;
