/**
 * What the host runs later from the project, checked around each run: git repositories (a `.git`
 * entry, or a directory shaped like a git dir — git's discovery takes a directory holding HEAD,
 * objects/ and refs/ as a bare repository), the hooks directory `core.hooksPath` names, and the
 * `safe-npm` a bare `npm run` finds for the script-prefix pattern. Git runs code from a
 * repository's config and hooks (core.fsmonitor, hooksPath, filters, hooks) — a shell prompt
 * running `git status` is enough.
 *
 * `snapshot` fingerprints all of it before the sandbox starts; `check` fingerprints it again
 * afterwards and moves aside (renames, nothing deleted) whatever is new or changed. No clock is
 * trusted, no link is followed, and only regular files are opened (O_NOFOLLOW|O_NONBLOCK, then
 * fstat), so nothing planted can redirect or hang the check. Where something is known before the
 * run (the root repository's hooks directory, config files its config includes), `rootGitPlaces`
 * names it so that guardProject (hostfiles.ts) keeps it read-only instead.
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  constants,
  type Dirent,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  renameSync,
  type Stats,
} from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { includePaths, lastValue, parseGitConfig } from "./gitconfig.js";

export type WatchKind = "git" | "hook" | "gitconfig" | "pmconfig" | "bin" | "self";

interface Entry {
  kind: WatchKind;
  fp: string;
  /** For "self": the package.json version, when readable. */
  version?: string | null;
}

export interface Snapshot {
  entries: Map<string, Entry>;
  /** Hooks directories and config files watched (not protected), fixed at snapshot time. */
  watch: readonly Watch[];
}

export interface Watch {
  kind: "hook" | "gitconfig" | "pmconfig";
  path: string;
  /** A hooks directory that is also a worktree's top: only files named like git hooks count. */
  namesOnly?: boolean;
}

export interface Finding {
  kind: WatchKind;
  path: string;
  /** Where it was moved, or null when it was kept (an accepted upgrade) or could not be moved. */
  movedTo: string | null;
  /** Why it could not be moved, when it could not. */
  error?: string;
  /** For an accepted "self" upgrade: the versions before and after. */
  upgrade?: { from: string | null; to: string };
}

/** Directories never descended into inside a git dir: large, and git runs no code from them. */
const GIT_DATA = new Set(["objects", "refs", "logs", "lfs"]);
/** The bins a `safe-npm exec -- …` script prefix resolves through node_modules/.bin. */
const PREFIX_BINS = ["safe-npm", "node"];
/** Git's hook names (githooks(5)): in a hooks directory that is the project root, only these. */
const HOOK_NAMES = new Set(
  "applypatch-msg pre-applypatch post-applypatch pre-commit pre-merge-commit prepare-commit-msg commit-msg post-commit pre-rebase post-checkout post-merge pre-push pre-receive update proc-receive post-receive post-update reference-transaction push-to-checkout pre-auto-gc post-rewrite sendemail-validate fsmonitor-watchman p4-changelist p4-prepare-changelist p4-post-changelist p4-pre-submit post-index-change".split(
    " ",
  ),
);
const MAX_CONFIG = 1 << 20;
const MAX_SELF_FILES = 5000;

// ---------------------------------------------------------------------------------------------
// Reading without following links

function lstat(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

/** Opens a regular file without following a final link or blocking on a FIFO; null otherwise. */
function openRegular(path: string): number | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    if (fstatSync(fd).isFile()) return fd;
  } catch {}
  closeSync(fd);
  return null;
}

function readChunks(fd: number, each: (chunk: Buffer) => boolean): void {
  const buffer = Buffer.alloc(64 * 1024);
  try {
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n <= 0 || !each(buffer.subarray(0, n))) return;
    }
  } catch {
    // EAGAIN and the like: what was read is what there is.
  } finally {
    closeSync(fd);
  }
}

/** A regular file's text (up to `max` bytes), or null for anything else. */
export function readRegular(path: string, max = MAX_CONFIG): string | null {
  const fd = openRegular(path);
  if (fd === null) return null;
  const parts: Buffer[] = [];
  let size = 0;
  readChunks(fd, (chunk) => {
    parts.push(Buffer.from(chunk));
    size += chunk.length;
    return size < max;
  });
  return Buffer.concat(parts).subarray(0, max).toString("utf8");
}

function hashRegular(path: string): string {
  const fd = openRegular(path);
  if (fd === null) return "unreadable";
  const hash = createHash("sha256");
  readChunks(fd, (chunk) => {
    hash.update(chunk);
    return true;
  });
  return hash.digest("hex");
}

function typeOf(st: Stats): string {
  if (st.isSymbolicLink()) return "link";
  if (st.isDirectory()) return "dir";
  if (st.isFile()) return "file";
  return "other";
}

/**
 * One entry, never followed: its type, a link's target, a regular file's content hash and
 * executable bits; `identity` adds dev/ino (the entry itself was replaced).
 */
function entryFp(path: string, identity: boolean): string {
  const st = lstat(path);
  if (st === null) return "-";
  const id = identity ? `@${st.dev}:${st.ino}` : "";
  if (st.isSymbolicLink()) {
    let target = "?";
    try {
      target = readlinkSync(path);
    } catch {}
    return `link${id}:${target}`;
  }
  if (st.isFile()) return `file${id}:${(st.mode & 0o111).toString(8)}:${hashRegular(path)}`;
  return `${typeOf(st)}${id}`;
}

/** True when every component from `root` down to `path` is a real directory (no link). */
function realDirChain(root: string, path: string): boolean {
  const rel = relative(root, path);
  if (rel.startsWith("..") || isAbsolute(rel)) return false;
  let current = root;
  for (const part of rel === "" ? [] : rel.split(sep)) {
    current = join(current, part);
    if (!lstat(current)?.isDirectory()) return false;
  }
  return true;
}

function inside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
}

function list(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------------------------------------
// The root repository: what to protect

/**
 * Where host git runs code from in the project's own repository, beyond `<root>/.git` (which is
 * read-only inside): the directory `core.hooksPath` names (husky's `.husky/_` means `.husky`, whose
 * scripts its stubs run) and config files the repository's config includes. Those that exist as
 * real directories/files inside the project are returned in `protect` (kept read-only); the
 * rest (missing, or reached through a link) in `watch`, checked after the run. Config is read
 * from system, global and repository files in git's order; nothing is run.
 */
export function rootGitPlaces(
  root: string,
  home: string,
  env: Readonly<Record<string, string | undefined>>,
): { protect: string[]; watch: Watch[] } {
  const dotGit = join(root, ".git");
  const st = lstat(dotGit);
  let gitDir: string | null = null;
  if (st?.isDirectory()) gitDir = dotGit;
  else if (st?.isFile()) {
    const pointer = /^gitdir: *(.+?)\s*$/m.exec(readRegular(dotGit) ?? "")?.[1];
    if (pointer !== undefined) gitDir = resolve(root, pointer);
  }
  if (gitDir === null) return { protect: [], watch: [] };
  const common = readRegular(join(gitDir, "commondir"))?.trim();
  const commonDir = common ? resolve(gitDir, common) : gitDir;

  const protect: string[] = [];
  const watch: Watch[] = [];
  const place = (kind: Watch["kind"], path: string, real: boolean): void => {
    if (protect.includes(path) || watch.some((w) => w.path === path)) return;
    // Under node_modules a read-only mount would stop the package manager replacing the package.
    if (real && !relative(root, path).split(sep).includes("node_modules")) protect.push(path);
    else watch.push({ kind, path });
  };
  const expand = (value: string, base: string): string =>
    value.startsWith("~/") ? join(home, value.slice(2)) : resolve(base, value);

  let hooksPath: string | null = null;
  const read = (file: string, depth: number): void => {
    const text = readRegular(file);
    if (text === null) return;
    const entries = parseGitConfig(text);
    hooksPath = lastValue(entries, "core", "hookspath") ?? hooksPath;
    for (const include of includePaths(entries)) {
      const path = expand(include, dirname(file));
      if (inside(path, root)) {
        place("gitconfig", path, realDirChain(root, dirname(path)) && !!lstat(path)?.isFile());
      }
      if (depth < 10) read(path, depth + 1);
    }
  };
  const xdg = env.XDG_CONFIG_HOME || join(home, ".config");
  for (const file of [
    "/etc/gitconfig",
    join(xdg, "git", "config"),
    join(home, ".gitconfig"),
    join(commonDir, "config"),
    join(gitDir, "config.worktree"),
  ]) {
    read(file, 0);
  }
  if (hooksPath !== null && hooksPath !== "") {
    // Hooks run at the top of the worktree: a relative hooksPath is relative to the root.
    const dir = expand(hooksPath, root);
    const guarded = basename(dir) === "_" && dirname(dir) !== root ? dirname(dir) : dir;
    if (inside(guarded, root)) {
      place("hook", guarded, realDirChain(root, guarded));
      // A link to a directory elsewhere in the project: that directory is what git runs from.
      if (lstat(guarded)?.isSymbolicLink()) {
        let target: string | null = null;
        try {
          target = resolve(dirname(guarded), readlinkSync(guarded));
        } catch {}
        if (target !== null && inside(target, root)) {
          place("hook", target, realDirChain(root, target));
        }
      }
    } else if (dir === root) watch.push({ kind: "hook", path: root, namesOnly: true });
  }
  return { protect, watch };
}

// ---------------------------------------------------------------------------------------------
// Snapshot and check

/** Options shared by `snapshot` and `check`. */
export interface WalkOptions {
  /** Paths not to look at: read-only inside (the project's .git, `protect`). */
  skip: readonly string[];
}

export function snapshot(root: string, watch: readonly Watch[], options: WalkOptions): Snapshot {
  const found: Watch[] = [];
  const entries = collect(root, watch, options, found);
  return { entries, watch: [...watch, ...found] };
}

/**
 * Fingerprints everything again, moves aside what is new or changed since `before`, and says
 * what it did. `install`: the run was install-class (a project-local safe-npm may be upgraded).
 */
export function check(
  root: string,
  before: Snapshot,
  options: WalkOptions & { install: boolean },
): Finding[] {
  // The hooks directories are those known before the run: a hooksPath changed inside comes with
  // a changed config, and that repository is moved aside whole.
  const after = collect(root, before.watch, options, null);
  const suspects: { path: string; entry: Entry; old: Entry | undefined }[] = [];
  for (const [path, entry] of after) {
    const old = before.entries.get(path);
    if (old !== undefined && old.fp === entry.fp) continue;
    suspects.push({ path, entry, old });
  }
  suspects.sort((a, b) => (a.path < b.path ? -1 : 1));
  const findings: Finding[] = [];
  const moved: string[] = [];
  for (const { path, entry, old } of suspects) {
    // Gone (nothing left to run), or the root itself (never moved; a hooks directory there is
    // checked hook by hook).
    if (entry.fp === "-" || entry.fp === "hookdir:-" || (path === root && entry.kind !== "git")) {
      continue;
    }
    if (moved.some((m) => path === m || path.startsWith(`${m}${sep}`))) continue;
    if (entry.kind === "bin" && basename(path) === "safe-npm" && pointsIntoSelf(path)) continue;
    if (entry.kind === "self") {
      const to = entry.version ?? null;
      const from = old?.version ?? null;
      if (options.install && to !== null && to !== from && declaresSelf(dirname(dirname(path)))) {
        findings.push({ kind: "self", path, movedTo: null, upgrade: { from, to } });
        continue;
      }
    }
    // A git dir shaped like a bare repository at the root cannot be moved: its HEAD can.
    const target = entry.kind === "git" && path === root ? join(root, "HEAD") : path;
    try {
      findings.push({ kind: entry.kind, path: target, movedTo: quarantine(target) });
      moved.push(target);
    } catch (error) {
      findings.push({
        kind: entry.kind,
        path: target,
        movedTo: null,
        error: (error as Error).message,
      });
    }
  }
  return findings;
}

/** Fingerprints; `hooks`, when given, receives the hooks directories nested repositories name. */
function collect(
  root: string,
  watch: readonly Watch[],
  options: WalkOptions,
  hooks: Watch[] | null,
): Map<string, Entry> {
  const skip = new Set(options.skip);
  const out = new Map<string, Entry>();

  const gitDir = (dir: string, kind: "dotgit" | "bare"): void => {
    if (out.has(dir)) return;
    out.set(dir, { kind: "git", fp: gitDirFp(dir) });
    if (hooks === null) return;
    const config = parseGitConfig(readRegular(join(dir, "config")) ?? "");
    const hooksPath = lastValue(config, "core", "hookspath");
    if (hooksPath === null || hooksPath === "" || hooksPath.startsWith("~")) return;
    const worktree = lastValue(config, "core", "worktree");
    const base =
      worktree !== null ? resolve(dir, worktree) : kind === "dotgit" ? dirname(dir) : dir;
    const path = resolve(base, hooksPath);
    // husky's `.husky/_` stubs run the scripts one level up.
    const guarded = basename(path) === "_" && dirname(path) !== base ? dirname(path) : path;
    if (inside(guarded, root) || guarded === root) {
      hooks.push({ kind: "hook", path: guarded, namesOnly: guarded === base || guarded === root });
    }
  };

  const walk = (dir: string, isGitDir: boolean): void => {
    const entries = list(dir);
    const names = new Set(entries.map((e) => e.name));
    const shaped = isGitDir || gitShaped(names);
    if (shaped && !isGitDir) gitDir(dir, "bare");
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (skip.has(path)) continue;
      if (entry.name === ".git") {
        if (entry.isDirectory()) {
          gitDir(path, "dotgit");
          walk(path, true);
        } else out.set(path, { kind: "git", fp: entryFp(path, true) });
        continue;
      }
      if (!entry.isDirectory()) continue;
      if (shaped && GIT_DATA.has(entry.name)) continue;
      if (entry.name === "node_modules") nodeModules(path);
      else walk(path, false);
    }
  };

  /** Package directories (and theirs one level down), the prefix bins, a local safe-npm. */
  const nodeModules = (nm: string): void => {
    for (const bin of PREFIX_BINS) {
      const path = join(nm, ".bin", bin);
      out.set(path, { kind: "bin", fp: entryFp(path, false) });
    }
    const self = join(nm, "safe-npm");
    if (lstat(self) !== null) out.set(self, selfEntry(root, self));
    for (const pkg of packagesIn(nm)) {
      const nested = packageDir(pkg);
      if (nested) for (const inner of packagesIn(join(pkg, "node_modules"))) packageDir(inner);
    }
  };
  /** Looks at one package directory; true when it has a node_modules directory. */
  const packageDir = (pkg: string): boolean => {
    if (skip.has(pkg)) return false;
    const entries = list(pkg);
    const names = new Set(entries.map((e) => e.name));
    if (gitShaped(names)) gitDir(pkg, "bare");
    const dotGit = entries.find((e) => e.name === ".git");
    if (dotGit !== undefined) {
      const path = join(pkg, ".git");
      if (dotGit.isDirectory()) gitDir(path, "dotgit");
      else out.set(path, { kind: "git", fp: entryFp(path, true) });
    }
    return entries.some((e) => e.name === "node_modules" && e.isDirectory());
  };

  walk(root, false);
  for (const w of [...watch, ...(hooks ?? [])]) {
    if (skip.has(w.path)) continue;
    if (w.kind === "gitconfig" || w.kind === "pmconfig") {
      if (!out.has(w.path)) out.set(w.path, { kind: w.kind, fp: entryFp(w.path, true) });
      continue;
    }
    if (!out.has(w.path)) out.set(w.path, { kind: "hook", fp: `hookdir:${entryFp(w.path, true)}` });
    if (!lstat(w.path)?.isDirectory()) continue;
    for (const entry of list(w.path)) {
      if ((w.namesOnly || w.path === root) && !HOOK_NAMES.has(entry.name)) continue;
      const path = join(w.path, entry.name);
      if (!out.has(path)) out.set(path, { kind: "hook", fp: entryFp(path, true) });
    }
  }
  return out;
}

/** git's is_git_directory: HEAD, and objects/ and refs/ (or a commondir providing them). */
function gitShaped(names: ReadonlySet<string>): boolean {
  return (
    names.has("HEAD") && (names.has("commondir") || (names.has("objects") && names.has("refs")))
  );
}

/** The parts of a git dir git runs code from, each never followed. */
function gitDirFp(dir: string): string {
  const parts = [`.=${entryFp(dir, true)}`];
  for (const part of ["config", "config.worktree", "commondir", "gitdir", "hooks", "info"]) {
    parts.push(`${part}=${entryFp(join(dir, part), false)}`);
  }
  if (lstat(join(dir, "info"))?.isDirectory()) {
    parts.push(`info/attributes=${entryFp(join(dir, "info", "attributes"), false)}`);
  }
  if (lstat(join(dir, "hooks"))?.isDirectory()) {
    for (const hook of list(join(dir, "hooks"))
      .map((e) => e.name)
      .sort()) {
      parts.push(`hooks/${hook}=${entryFp(join(dir, "hooks", hook), false)}`);
    }
  }
  return parts.join("\n");
}

function packagesIn(nm: string): string[] {
  const out: string[] = [];
  for (const entry of list(nm)) {
    if (!entry.isDirectory() || entry.name.startsWith(".")) continue;
    const path = join(nm, entry.name);
    if (entry.name.startsWith("@")) {
      for (const scoped of list(path)) if (scoped.isDirectory()) out.push(join(path, scoped.name));
    } else out.push(path);
  }
  return out;
}

/**
 * A project-local safe-npm: every file of it (a link to its real directory, as pnpm makes, is
 * followed only while the target is a real directory inside the project).
 */
function selfEntry(root: string, self: string): Entry {
  const st = lstat(self);
  let dir = self;
  // Content only: \`npm ci\` re-extracting the same version makes new files with the same bytes.
  let fp = entryFp(self, false);
  if (st?.isSymbolicLink()) {
    let target: string;
    try {
      target = resolve(dirname(self), readlinkSync(self));
    } catch {
      return { kind: "self", fp, version: null };
    }
    if (!inside(target, root) || !realDirChain(root, target))
      return { kind: "self", fp, version: null };
    dir = target;
    fp += `\n${entryFp(target, false)}`;
  } else if (!st?.isDirectory()) return { kind: "self", fp, version: null };
  const parts: string[] = [];
  const stack = [""];
  while (stack.length > 0 && parts.length < MAX_SELF_FILES) {
    const rel = stack.pop() as string;
    for (const entry of list(join(dir, rel)).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(rel, entry.name);
      parts.push(`${path}=${entryFp(join(dir, path), false)}`);
      if (entry.isDirectory()) stack.push(path);
    }
  }
  let version: string | null = null;
  try {
    const pkg = JSON.parse(readRegular(join(dir, "package.json")) ?? "null") as {
      name?: unknown;
      version?: unknown;
    } | null;
    if (pkg?.name === "safe-npm" && typeof pkg.version === "string") version = pkg.version;
  } catch {}
  return { kind: "self", fp: `${fp}\n${parts.join("\n")}`, version };
}

/** The project (the package.json beside node_modules) depends on safe-npm by its own name. */
function declaresSelf(projectDir: string): boolean {
  try {
    const pkg = JSON.parse(readRegular(join(projectDir, "package.json")) ?? "null") as Record<
      string,
      unknown
    > | null;
    return ["dependencies", "devDependencies", "optionalDependencies"].some((field) => {
      const spec = (pkg?.[field] as Record<string, unknown> | undefined)?.["safe-npm"];
      return typeof spec === "string" && !spec.startsWith("npm:");
    });
  } catch {
    return false;
  }
}

/**
 * `node_modules/.bin/safe-npm` runs the project-local safe-npm: a link into
 * `node_modules/safe-npm/` (npm, yarn, bun), or pnpm's shell shim, line by line, exec'ing
 * nothing but a file there (or in pnpm's `.pnpm/safe-npm@<version>/node_modules/safe-npm/`).
 */
export function pointsIntoSelf(bin: string): boolean {
  const nm = dirname(dirname(bin));
  const intoSelf = (target: string): boolean => {
    const resolved = resolve(dirname(bin), target);
    return (
      inside(resolved, join(nm, "safe-npm")) ||
      /^\.pnpm\/safe-npm@[^/]+\/node_modules\/safe-npm\/.+$/.test(relative(nm, resolved))
    );
  };
  const st = lstat(bin);
  if (st?.isSymbolicLink()) {
    try {
      return intoSelf(readlinkSync(bin));
    } catch {
      return false;
    }
  }
  if (!st?.isFile()) return false;
  const text = readRegular(bin);
  if (text === null) return false;
  return isPnpmShim(text, intoSelf);
}

const SAFE_STRING = String.raw`[^"$\x60\\]*`;
const SHIM_LINES = [
  /^$/,
  /^#!\/bin\/sh$/,
  /^basedir=\$\(dirname "\$\(echo "\$0" \| sed -e 's,\\\\,\/,g'\)"\)$/,
  /^case `uname` in$/,
  /^\*CYGWIN\*\) basedir=`cygpath -w "\$basedir"`;;$/,
  /^esac$/,
  /^if \[ -z "\$NODE_PATH" \]; then$/,
  new RegExp(String.raw`^export NODE_PATH="${SAFE_STRING}(:\$NODE_PATH)?"$`),
  /^else$/,
  /^fi$/,
  /^if \[ -x "\$basedir\/node" \]; then$/,
];
const SHIM_EXEC = new RegExp(
  String.raw`^exec (?:"\$basedir/node"|node) +"\$basedir/(${SAFE_STRING})" "\$@"$`,
);

function isPnpmShim(text: string, intoSelf: (target: string) => boolean): boolean {
  let execs = 0;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (SHIM_LINES.some((re) => re.test(line))) continue;
    const target = SHIM_EXEC.exec(line)?.[1];
    if (target === undefined || !intoSelf(target)) return false;
    execs++;
  }
  return execs > 0;
}

/** Renames `path` (never following it) to `<path>.quarantined-by-safe-npm[-N]`; returns the new name. */
export function quarantine(path: string): string {
  for (let n = 0; ; n++) {
    const target = `${path}.quarantined-by-safe-npm${n === 0 ? "" : `-${n}`}`;
    if (lstat(target) === null) {
      renameSync(path, target);
      return target;
    }
  }
}

/** The line safe-npm prints for a finding. */
export function describeFinding(f: Finding): string {
  if (f.upgrade !== undefined) {
    return `safe-npm: note: ${f.path} was ${f.upgrade.from === null ? "installed" : `upgraded from ${f.upgrade.from}`} at ${f.upgrade.to} by this install; \`safe-npm …\` scripts run by a bare package manager now start it\n`;
  }
  const why: Record<WatchKind, string> = {
    git: "git would run its config and hooks outside the sandbox",
    hook: "git on the host would run it as a hook",
    gitconfig: "git on the host reads it as the repository's config",
    pmconfig: "a package manager run on the host would obey it",
    bin: "a bare `npm run` would run it outside the sandbox for a `safe-npm …` script",
    self: "a bare `npm run` would run it outside the sandbox for a `safe-npm …` script",
  };
  const advice =
    f.kind === "self" || f.kind === "bin"
      ? "to reinstall safe-npm, remove node_modules/safe-npm* and node_modules/.bin/safe-npm* and run `safe-npm install`, or use a global safe-npm"
      : "inspect it, and move it back only if you trust it";
  if (f.movedTo === null) {
    return `safe-npm: ${f.path} was created or changed inside the sandbox and could not be moved aside (${f.error ?? "unknown error"}); ${why[f.kind]} — do not use it before inspecting it\n`;
  }
  return `safe-npm: moved ${f.path} to ${f.movedTo}: it was created or changed inside the sandbox, and ${why[f.kind]}; ${advice}\n`;
}
