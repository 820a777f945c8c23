/**
 * Parses the user's `~/.yarnrc.yml` with a real YAML parser (cosmiconfig's data loader, as
 * settings/load.ts), for sandbox/yarnrc.ts's copy. Apart, and imported only when the file
 * exists: the common path loads no YAML parser.
 */
import { defaultLoadersSync } from "cosmiconfig";

/** The document (a mapping; an empty file is an empty one), or null when it is not one. */
export function parseYarnrcYml(text: string): Record<string, unknown> | null {
  try {
    const parsed: unknown = defaultLoadersSync[".yml"]("~/.yarnrc.yml", text);
    if (parsed === null || parsed === undefined) return {};
    return typeof parsed === "object" && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}
