/**
 * safe-npm's version, read from package.json one level up: that is the package root whether this
 * module runs from src/ (tests), dist/ (tsc) or inside dist/main.cjs (the bundle), so it stays at
 * the top of src/.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The package root this safe-npm runs from (its dist/ is what a local copy is compared to). */
export const PACKAGE_ROOT: string = fileURLToPath(new URL("..", import.meta.url));

export const VERSION: string = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  }
).version;
