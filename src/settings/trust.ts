/**
 * The trust store: which repository settings files the user accepted, by real path and content
 * hash, in `$XDG_STATE_HOME/safe-npm/trust.json`. Any change to the file revokes its trust.
 */
import { createHash } from "node:crypto";
import {
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, isAbsolute, join, relative } from "node:path";
import { SafeNpmError } from "../errors.js";
import { projectPlace } from "../host/projectplace.js";
import { PLANTED_HINT } from "../sandbox/safepath.js";
import { wideningWhat } from "./merge.js";

interface TrustEntry {
  sha256: string;
  trustedAt: string;
  /** What the user accepted (merge.ts widenings); a record without one covers less (isTrusted). */
  widenings?: string[];
}

interface TrustFile {
  version: 1;
  entries: Record<string, TrustEntry>;
  /** Set-inside records as development builds kept them (key → content hash): still obeyed. */
  inside?: Record<string, string>;
}

export function trustStorePath(
  env: Readonly<Record<string, string | undefined>>,
  home: string,
  projectRoot: string | null = null,
): string {
  const base =
    env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME)
      ? env.XDG_STATE_HOME
      : join(home, ".local", "state");
  // A store a sandboxed run can write would trust whatever `.sandboxrc` it planted: with
  // XDG_STATE_HOME in a project (`$PWD/.state` in CI) the store is `~/.local/state`'s.
  const usual = join(base, "safe-npm");
  const fallback = join(home, ".local", "state", "safe-npm");
  for (const dir of usual === fallback ? [usual] : [usual, fallback]) {
    if (projectPlace(dir, home) === null && !inside(dir, projectRoot))
      return join(dir, "trust.json");
  }
  throw new SafeNpmError(
    "UNSAFE_CACHE_DIR",
    `the trust store ${join(usual, "trust.json")} lies where a sandboxed run may write (${projectPlace(usual, home) ?? `in the project ${projectRoot}`}), and so does ${join(fallback, "trust.json")}: a run could trust its own settings file`,
    { hint: "set XDG_STATE_HOME to a directory outside any project and run again" },
  );
}

/** `dir` (resolved as far as it exists) lies in `root`. */
function inside(dir: string, root: string | null): boolean {
  if (root === null) return false;
  let at = dir;
  let tail = "";
  for (;;) {
    try {
      at = join(realpathSync(at), tail);
      break;
    } catch {
      if (dirname(at) === at) break;
      tail = join(basename(at), tail);
      at = dirname(at);
    }
  }
  const rel = relative(root, at);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

export function contentHash(content: string): string {
  return createHash("sha256").update(content).digest("hex");
}

/**
 * What trust is recorded against: the file's own path with its directory resolved. The file
 * itself must not be a link — keyed by its target, a link would borrow the target's trust.
 */
export function trustKey(file: string): string {
  if (lstatSync(file).isSymbolicLink()) {
    throw new SafeNpmError("UNSAFE_PATH", `settings file ${file} is a symbolic link`, {
      hint: PLANTED_HINT,
    });
  }
  return join(realpathSync(dirname(file)), basename(file));
}

/**
 * Whether the user trusted this very content for every one of `wider`, the widenings as judged
 * now: they depend on the user's own settings too (merge.ts widenings), so a path the user has
 * since protected, or network they have since narrowed, is not covered by a trust given before;
 * the user looks again (`safe-npm trust`). A record without a list (written by hand, or damaged)
 * covers only what widens the built-in defaults: the items that do not name the user's settings.
 */
export function isTrusted(
  store: string,
  file: string,
  content: string,
  wider: readonly string[],
): boolean {
  const entry = read(store).entries[trustKey(file)];
  if (entry === undefined || entry.sha256 !== contentHash(content)) return false;
  const recorded = Array.isArray(entry.widenings)
    ? new Set(entry.widenings.filter((w) => typeof w === "string").map(wideningWhat))
    : null;
  return wider.every((w) =>
    recorded === null ? wideningWhat(w) === w : recorded.has(wideningWhat(w)),
  );
}

/** Whether this very content was trusted once, for whatever list (to say why it no longer is). */
export function trustedOnce(store: string, file: string, content: string): boolean {
  return read(store).entries[trustKey(file)]?.sha256 === contentHash(content);
}

/**
 * Settings a sandboxed run set (a package.json `sandbox` key changed inside, a settings file it
 * kept in place) are recorded one file each in `inside/` beside the store, named by the hashes
 * of their key and content: --trust-config does not trust them; `safe-npm trust` clears them.
 * One file per record: two runs ending at once cannot lose each other's (as a rewrite of one
 * shared file could).
 */
function insideRecord(store: string, file: string, content: string): string {
  return join(insideDir(store), `${keyPrefix(file)}${contentHash(content)}`);
}

function insideDir(store: string): string {
  return join(dirname(store), "inside");
}

function keyPrefix(file: string): string {
  return `${contentHash(trustKey(file)).slice(0, 32)}-`;
}

/** Records that a sandboxed run wrote these settings (integrity.ts found the change). */
export function markWrittenInside(store: string, file: string, content: string): void {
  mkdirSync(insideDir(store), { recursive: true, mode: 0o700 });
  writeFileSync(insideRecord(store, file, content), `${trustKey(file)}\n`, { mode: 0o600 });
}

/** Whether these very settings were written by a sandboxed run. */
export function writtenInside(store: string, file: string, content: string): boolean {
  if (lstatSync(insideRecord(store, file, content), { throwIfNoEntry: false }) !== undefined)
    return true;
  return read(store).inside?.[trustKey(file)] === contentHash(content);
}

/**
 * The user has looked: what runs set in this file before is theirs now. Returns whether any
 * record was cleared.
 */
export function acceptWrittenInside(store: string, file: string): boolean {
  const prefix = keyPrefix(file);
  let records: string[] = [];
  try {
    records = readdirSync(insideDir(store)).filter((name) => name.startsWith(prefix));
  } catch {
    // none recorded
  }
  for (const name of records) unlinkSync(join(insideDir(store), name));
  const data = read(store);
  if (data.inside?.[trustKey(file)] === undefined) return records.length > 0;
  delete data.inside[trustKey(file)];
  write(store, data);
  return true;
}

export function trust(store: string, file: string, content: string, widenings: string[]): void {
  acceptWrittenInside(store, file);
  const data = read(store);
  data.entries[trustKey(file)] = {
    sha256: contentHash(content),
    trustedAt: new Date().toISOString(),
    widenings,
  };
  write(store, data);
}

/** Returns whether an entry was removed. */
export function untrust(store: string, file: string): boolean {
  const data = read(store);
  const key = trustKey(file);
  if (data.entries[key] === undefined) return false;
  delete data.entries[key];
  write(store, data);
  return true;
}

function read(store: string): TrustFile {
  let text: string;
  try {
    text = readFileSync(store, "utf8");
  } catch {
    return { version: 1, entries: {} };
  }
  try {
    const data = JSON.parse(text) as TrustFile;
    if (data.version !== 1 || typeof data.entries !== "object" || data.entries === null)
      throw new Error("unknown format");
    return data;
  } catch (error) {
    throw new SafeNpmError("TRUST", `${store} is damaged: ${(error as Error).message}`, {
      hint: `remove it (you will be asked to trust repository settings again): rm ${store}`,
    });
  }
}

/** Atomic: a reader sees the old or the new file, never half of one. */
function write(store: string, data: TrustFile): void {
  mkdirSync(dirname(store), { recursive: true, mode: 0o700 });
  const tmp = `${store}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, store);
}
