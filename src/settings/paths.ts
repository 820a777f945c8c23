/** Path rules shared by validation and merging (no dependencies: loaded on every run). */
import { isAbsolute, normalize } from "node:path";

/** `.gitconfig`, `~/.gitconfig` → `.gitconfig`; absolute, `..` or `~` itself → null. */
export function homeRelative(path: string): string | null {
  const rel = path.startsWith("~/") ? path.slice(2) : path;
  return projectRelative(rel);
}

/** A normalised relative path that stays inside its base, or null. */
export function projectRelative(path: string): string | null {
  if (path === "" || isAbsolute(path) || path.startsWith("~")) return null;
  const norm = normalize(path).replace(/\/+$/, "");
  if (norm === "." || norm === ".." || norm.startsWith("../")) return null;
  return norm;
}
