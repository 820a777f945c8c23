/**
 * safe-npm's version, read from package.json one level up: that is the package root whether this
 * module runs from src/ (tests), dist/ (tsc) or inside dist/cli.cjs (the bundle), so it stays at
 * the top of src/.
 */
import { readFileSync } from "node:fs";

export const VERSION: string = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  }
).version;
