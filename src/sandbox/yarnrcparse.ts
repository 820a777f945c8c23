/**
 * Parses a `.yarnrc.yml` with a real YAML parser (cosmiconfig's data loader, as
 * settings/load.ts), for sandbox/yarnrc.ts's copies. Apart, and imported only when there is a
 * file to read: the common path loads no YAML parser.
 */
import { defaultLoadersSync } from "cosmiconfig";

/**
 * yarn 2+ reads a file that starts with this comment with its yarn 1 lockfile parser, not as
 * YAML (`parseSyml` in @yarnpkg/parsers).
 */
const YARN_LEGACY_SYNTAX = /^(#.*(\r?\n))*?#\s+yarn\s+lockfile\s+v1\r?\n/i;

/** The document (a mapping; an empty file is an empty one), or null when it is not one. */
export function parseYarnrcYml(text: string): Record<string, unknown> | null {
  const parsed = readYarnrc(text);
  return "value" in parsed ? parsed.value : null;
}

/**
 * The document as yarn reads it, or why it cannot be told here. yarn's parser accepts what this
 * one refuses (a duplicate key: yarn's last one wins) and reads a `# yarn lockfile v1` file in
 * another syntax; both are reported, never guessed at.
 */
export function readYarnrc(text: string): { value: Record<string, unknown> } | { error: string } {
  if (YARN_LEGACY_SYNTAX.test(text))
    return { error: "it starts with `# yarn lockfile v1`, so yarn reads it in yarn 1's syntax" };
  let parsed: unknown;
  try {
    parsed = defaultLoadersSync[".yml"](".yarnrc.yml", text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // cosmiconfig's first line names the file; the parser's reason follows.
    const reason = message
      .split("\n")
      .find((line) => line.trim() !== "" && !/^YAML Error/.test(line));
    return { error: `it is not YAML safe-npm can read (${(reason ?? message).trim()})` };
  }
  if (parsed === null || parsed === undefined) return { value: {} };
  return typeof parsed === "object" && !Array.isArray(parsed)
    ? { value: parsed as Record<string, unknown> }
    : { error: "it is not a YAML mapping" };
}
