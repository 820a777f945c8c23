/**
 * pnpm 11+ stops an install whose dependencies' build scripts nobody has approved yet. On a
 * terminal it would write a placeholder for each into `pnpm-workspace.yaml` for the user to
 * decide; inside the sandbox that file is read-only (or, created there, moved aside after the
 * run: hostfiles.ts), so the install fails on the write and the user never learns which
 * dependencies wait. pnpm records them in `node_modules/.modules.yaml` (`ignoredBuilds`): after
 * such a failed run, safe-npm names them and the approval to write by hand. The file was written
 * inside, so it is hostile input: read without following links, names kept to printable
 * characters, a bounded number of them, and shown as what pnpm reported.
 */
import { join } from "node:path";
import { projectPathKind, readRegularFile } from "../sandbox/safepath.js";

const MAX_NAMES = 20;
/** A dependency as pnpm names it (`esbuild`, `@scope/pkg@1.2.3`, `x@file:vendor/x-1.0.0.tgz`). */
const NAME = /^[\x21-\x7e]{1,300}$/;

/** The dependencies whose build scripts pnpm skipped, from `node_modules/.modules.yaml`. */
export function ignoredBuilds(root: string): string[] {
  const path = join(root, "node_modules", ".modules.yaml");
  let text: string;
  try {
    if (projectPathKind(root, path, "pnpm's install state") !== "file") return [];
    text = readRegularFile(path, true);
  } catch {
    return []; // missing, a link, or unreadable: nothing to say
  }
  let state: unknown;
  try {
    // pnpm 11+ writes it as JSON (a YAML subset); pnpm 10's YAML does not stop the install.
    state = JSON.parse(text);
  } catch {
    return [];
  }
  const list = (state as { ignoredBuilds?: unknown } | null)?.ignoredBuilds;
  if (!Array.isArray(list)) return [];
  // The state may be an earlier run's (this one failed before writing it): a dependency that
  // pnpm-workspace.yaml names already was decided since.
  let workspace = "";
  try {
    workspace = readRegularFile(join(root, "pnpm-workspace.yaml"), true);
  } catch {
    // none
  }
  const names = list.filter((n): n is string => typeof n === "string" && NAME.test(n));
  return [...new Set(names)].filter((name) => !workspace.includes(name));
}

/** The lines safe-npm prints after a failed pnpm install that skipped build scripts. */
export function ignoredBuildsHint(names: readonly string[]): string[] {
  if (names.length === 0) return [];
  const shown = names.slice(0, MAX_NAMES);
  const more = names.length - shown.length;
  // Single-quoted YAML keys: a quote inside is doubled.
  const key = (name: string): string => `'${name.replaceAll("'", "''")}'`;
  return [
    "pnpm reports that it ran no build scripts of these dependencies (node_modules/.modules.yaml),",
    "and could not record them in pnpm-workspace.yaml, which is read-only inside the sandbox:",
    ...shown.map((name) => `  ${name}`),
    ...(more > 0 ? [`  … and ${more} more`] : []),
    "to let one build, add it to pnpm-workspace.yaml yourself (false keeps it from building),",
    "then run the install again with safe-npm:",
    "  allowBuilds:",
    ...shown.map((name) => `    ${key(name)}: true`),
    "(a bare `pnpm approve-builds` would run the approved scripts on the host, outside the sandbox)",
  ];
}
