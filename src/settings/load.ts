/**
 * Loads settings files with cosmiconfig — data only: JSON, YAML, package.json's `sandbox` key.
 * Parse errors name the file and the line.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import { cosmiconfigSync, defaultLoadersSync } from "cosmiconfig";
import { SafeNpmError } from "../errors.js";
import { REPO_SEARCH_PLACES } from "./find.js";
import type { Settings } from "./schema.js";
import { validateSettings } from "./validate.js";

export interface LoadedSettings {
  file: string;
  settings: Settings;
  /** What trust is recorded against: the file's bytes, or package.json's `sandbox` value. */
  content: string;
}

const explorer = cosmiconfigSync("sandbox", {
  searchPlaces: [...REPO_SEARCH_PLACES],
  searchStrategy: "none",
  cache: false,
  // Only data loaders: no code from a settings file ever runs.
  loaders: {
    ".json": defaultLoadersSync[".json"],
    ".yaml": defaultLoadersSync[".yaml"],
    ".yml": defaultLoadersSync[".yml"],
    noExt: defaultLoadersSync.noExt,
  },
});

export function loadSettingsFile(file: string): LoadedSettings {
  if (!existsSync(file)) {
    throw new SafeNpmError("BAD_SETTINGS", `${file}: no such settings file`, {
      hint: "check the path given to --config",
    });
  }
  let config: unknown;
  try {
    const result = explorer.load(file);
    config = result?.config ?? {};
  } catch (error) {
    throw new SafeNpmError("BAD_SETTINGS", `${file}: cannot parse: ${parseProblem(error, file)}`, {
      hint: "fix the syntax (JSON or YAML) at the line shown, or remove the file",
    });
  }
  const settings = validateSettings(config, file);
  const content =
    basename(file) === "package.json" ? JSON.stringify(config) : readFileSync(file, "utf8");
  return { file, settings, content };
}

/**
 * "line N: reason" from js-yaml's error (mark, reason) or from parse-json's: its code frame marks
 * the line with `>` when it has one; otherwise the reason names a position (Node 20) or a line
 * and column (Node 22+), turned into a line with the file's text.
 */
function parseProblem(error: unknown, file: string): string {
  const e = error as { message?: string; mark?: { line: number; column: number }; reason?: string };
  if (e.mark !== undefined && e.reason !== undefined) {
    return `line ${e.mark.line + 1}, column ${e.mark.column + 1}: ${e.reason}`;
  }
  const message = e.message ?? String(error);
  const reason =
    message
      .split("\n")
      .find((l) => /JSON at position|Unexpected|Expected|line \d+ column/.test(l))
      ?.replace(/ while parsing .*$/, "")
      .replace(/ in JSON at position \d+.*$/, "")
      .replace(/ \(line \d+ column \d+\)$/, "")
      .trim() ??
    message.split("\n")[0] ??
    "invalid JSON";
  let line = /^>\s*(\d+) \|/m.exec(message)?.[1];
  line ??= /line (\d+) column \d+/.exec(message)?.[1];
  const position = /at position (\d+)/.exec(message)?.[1];
  if (line === undefined && position !== undefined) {
    try {
      const text = readFileSync(file, "utf8").slice(0, Number(position));
      line = String(text.split("\n").length);
    } catch {
      // keep the reason alone
    }
  }
  return line === undefined ? reason : `line ${line}: ${reason}`;
}
