/**
 * pnpm 11+ stops an install whose dependencies' build scripts nobody has approved yet. On a
 * terminal it would write a placeholder for each into `pnpm-workspace.yaml` for the user to
 * decide; inside the sandbox that file is read-only (or, created there, moved aside after the
 * run: hostfiles.ts), so the install fails on the write and the user never learns which
 * dependencies wait. pnpm records them in `node_modules/.modules.yaml` (`ignoredBuilds`): after
 * such a failed run, safe-npm names them and the approval to write by hand. The file was written
 * inside, so it is hostile input (a script could list names of its choosing there, hoping the
 * user pastes the approvals): read without following links and size-bounded, names kept to
 * printable characters and to those pnpm-lock.yaml lists, a bounded number of them, and shown as
 * what a file written during the run says, to be checked before approving.
 */
import { join } from "node:path";
import { projectPathKind, readRegularFile } from "../sandbox/safepath.js";

const MAX_NAMES = 20;
const MAX_STATE_BYTES = 1024 * 1024;
const MAX_LOCKFILE_BYTES = 64 * 1024 * 1024;
/** A dependency as pnpm names it (`esbuild`, `@scope/pkg@1.2.3`, `x@file:vendor/x-1.0.0.tgz`). */
const NAME = /^[\x21-\x7e]{1,300}$/;

/** The dependencies whose build scripts pnpm skipped, from `node_modules/.modules.yaml`. */
export function ignoredBuilds(root: string): string[] {
  const path = join(root, "node_modules", ".modules.yaml");
  let text: string;
  try {
    if (projectPathKind(root, path, "pnpm's install state") !== "file") return [];
    text = readRegularFile(path, true, MAX_STATE_BYTES);
  } catch {
    return []; // missing, a link, too large or unreadable: nothing to say
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
  const read = (name: string, max: number): string => {
    try {
      return readRegularFile(join(root, name), true, max);
    } catch {
      return "";
    }
  };
  const workspace = read("pnpm-workspace.yaml", MAX_STATE_BYTES);
  // Only dependencies the lockfile has: a name a script made up is not offered for approval.
  const lockfile = read("pnpm-lock.yaml", MAX_LOCKFILE_BYTES);
  const names = list.filter((n): n is string => typeof n === "string" && NAME.test(n));
  const locked = lockfileKeys(lockfile);
  return [...new Set(names)].filter((name) => !workspace.includes(name) && locked.has(name));
}

/**
 * The package keys of pnpm-lock.yaml (`packages:` and `snapshots:` entries, `  name@version:` or
 * quoted), as pnpm names them in `ignoredBuilds`.
 */
export function lockfileKeys(text: string): Set<string> {
  const keys = new Set<string>();
  for (const match of text.matchAll(/^ {2}(?:'([^']+)'|"([^"]+)"|([^\s'"#][^\s]*?)):(?:\s|$)/gm)) {
    const key = match[1] ?? match[2] ?? match[3];
    if (key !== undefined && key !== ".") keys.add(key);
  }
  return keys;
}

/** The lines safe-npm prints after a failed pnpm install that skipped build scripts. */
export function ignoredBuildsHint(names: readonly string[]): string[] {
  if (names.length === 0) return [];
  const shown = names.slice(0, MAX_NAMES);
  const more = names.length - shown.length;
  // Single-quoted YAML keys: a quote inside is doubled.
  const key = (name: string): string => `'${name.replaceAll("'", "''")}'`;
  return [
    "node_modules/.modules.yaml (written during the run) says pnpm ran no build scripts of these",
    "dependencies of pnpm-lock.yaml, and pnpm could not record them in pnpm-workspace.yaml, which",
    "is read-only inside the sandbox:",
    ...shown.map((name) => `  ${name}`),
    ...(more > 0 ? [`  … and ${more} more`] : []),
    "to let one you expect build, add it to pnpm-workspace.yaml yourself (false keeps it from",
    "building), then run the install again with safe-npm:",
    "  allowBuilds:",
    ...shown.map((name) => `    ${key(name)}: true`),
    "(a bare `pnpm approve-builds` would run the approved scripts on the host, outside the sandbox)",
  ];
}
