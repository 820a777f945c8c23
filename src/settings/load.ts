/**
 * Loads settings files with cosmiconfig's loaders — data only: JSON, YAML, package.json's
 * `sandbox` key. The file is read once, by safe-npm (a repository's never through a link, and
 * never a FIFO), so what is validated is what trust is recorded against. Parse errors name the
 * file and the line, never the content.
 */
import { createHash } from "node:crypto";
import { basename, extname } from "node:path";
import { defaultLoadersSync } from "cosmiconfig";
import { SafeNpmError } from "../errors.js";
import { readRegularBytes } from "../sandbox/safepath.js";
import { MAX_SETTINGS_BYTES } from "./find.js";
import type { Settings } from "./schema.js";
import { validateSettings } from "./validate.js";

export interface LoadedSettings {
  file: string;
  settings: Settings;
  /** What trust is recorded against: the file's bytes, or package.json's `sandbox` value. */
  content: string;
  /** The sha256 of the file's bytes as read (hex), to compare with a run's snapshot. */
  bytesSha256: string;
}

/** Only data loaders: no code from a settings file ever runs. */
const LOADERS: Record<string, (file: string, content: string) => unknown> = {
  ".json": defaultLoadersSync[".json"],
  ".yaml": defaultLoadersSync[".yaml"],
  ".yml": defaultLoadersSync[".yml"],
  "": defaultLoadersSync.noExt,
};

/**
 * `repo`: the file is the repository's (found in the project), so a link there is refused; the
 * user's own file (`--config`, `~/.config/safe-npm/…`) may be a link.
 */
export function loadSettingsFile(file: string, repo = true): LoadedSettings {
  let text: string;
  let bytesSha256: string;
  try {
    const bytes = readRegularBytes(file, repo, repo ? MAX_SETTINGS_BYTES : undefined);
    // Without a byte-order mark, as the after-run check and the lookup read it.
    text = bytes.toString("utf8").replace(/^\uFEFF/, "");
    bytesSha256 = createHash("sha256").update(bytes).digest("hex");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new SafeNpmError("BAD_SETTINGS", `${file}: no such settings file`, {
        hint: "check the path given to --config",
      });
    }
    throw error;
  }
  const isPackageJson = basename(file) === "package.json";
  const load = LOADERS[isPackageJson ? ".json" : extname(file)];
  if (load === undefined) {
    throw new SafeNpmError("BAD_SETTINGS", `${file}: not a JSON or YAML file`, {
      hint: "settings files end in .json, .yaml or .yml (or have no extension: YAML or JSON)",
    });
  }
  let config: unknown = {};
  try {
    // An empty file is empty settings (as cosmiconfig has it).
    if (text.trim() !== "") config = load(file, text);
  } catch (error) {
    throw new SafeNpmError("BAD_SETTINGS", `${file}: cannot parse: ${parseProblem(error, text)}`, {
      hint: "fix the syntax (JSON or YAML) at the line shown, or remove the file",
    });
  }
  if (isPackageJson) {
    const pkg = config as Record<string, unknown> | null;
    config = typeof pkg === "object" && pkg !== null ? (pkg.sandbox ?? {}) : {};
  }
  const settings = validateSettings(config, file);
  const content = isPackageJson ? JSON.stringify(config) : text;
  return { file, settings, content, bytesSha256 };
}

/**
 * "line N: reason" from js-yaml's error (mark, reason) or from parse-json's: its code frame marks
 * the line with `>` when it has one; otherwise the reason names a position (Node 20) or a line
 * and column (Node 22+), turned into a line with the file's text.
 */
function parseProblem(error: unknown, text: string): string {
  const e = error as { message?: string; mark?: { line: number; column: number }; reason?: string };
  if (e.mark !== undefined && e.reason !== undefined) {
    return `line ${e.mark.line + 1}, column ${e.mark.column + 1}: ${e.reason}`;
  }
  const message = e.message ?? String(error);
  const reason =
    message
      .split("\n")
      // Not the code frame's lines, which quote the file.
      .filter((l) => !/^\s*>?\s*\d+ \|/.test(l) && !/^\s*\|/.test(l))
      .find((l) => /JSON at position|Unexpected|Expected|line \d+ column/.test(l))
      ?.replace(/ while parsing .*$/, "")
      .replace(/ in JSON at position \d+.*$/, "")
      .replace(/ \(line \d+ column \d+\)$/, "")
      // Node 22+ quotes the text around the error ("…" is not valid JSON): never echo the file.
      .replace(/, (\.\.\.)?".*$/, "")
      .replace(/(token|character) ("[^"]*"|'[^']*')( \(0x[\dA-F]+\))?/i, "$1")
      .trim() ??
    message.split("\n")[0] ??
    "invalid JSON";
  // Whatever still quotes something may quote the file: say less instead.
  const safeReason = /["'`]/.test(reason) ? "invalid JSON" : reason;
  let line = /^>\s*(\d+) \|/m.exec(message)?.[1];
  line ??= /line (\d+) column \d+/.exec(message)?.[1];
  const position = /at position (\d+)/.exec(message)?.[1];
  if (line === undefined && position !== undefined) {
    line = String(text.slice(0, Number(position)).split("\n").length);
  }
  return line === undefined ? safeReason : `line ${line}: ${safeReason}`;
}
