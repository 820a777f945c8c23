/**
 * What the host runs later from the project, checked around each run: git repositories (a `.git`
 * entry, or a directory shaped like a git dir — git's discovery takes a directory holding HEAD,
 * objects/ and refs/ as a bare repository), the hooks directory `core.hooksPath` names, and the
 * `safe-npm` a bare `npm run` finds for the script-prefix pattern, every `node_modules/.bin`
 * entry named like a host command (a bare run puts `.bin` first on PATH, and npm looks `sh` up
 * there), a project-local safe-npm's files, the bins yarn 2+ takes from the root's yarn.lock and
 * `.yarn/install-state.gz`, and the package-manager config of sub-projects. Git
 * runs code from a repository's config and hooks (core.fsmonitor, hooksPath, filters, hooks) — a
 * shell prompt running `git status` is enough.
 *
 * `snapshot` fingerprints all of it before the sandbox starts; `check` fingerprints it again
 * afterwards and moves aside (renames, nothing deleted) whatever is new or changed, and every
 * directory that cannot be listed now but could (or did not exist) before. No clock is trusted,
 * no link is followed, only regular files are opened (O_NOFOLLOW|O_NONBLOCK, then fstat), and at
 * most a file's first MiB is hashed, so nothing planted can redirect or hang the check. Where something is known before the
 * run (the root repository's hooks directory, config files its config includes), `rootGitPlaces`
 * names it so that guardProject (hostfiles.ts) keeps it read-only instead.
 */
import { createHash } from "node:crypto";
import {
  type BigIntStats,
  closeSync,
  constants,
  type Dirent,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  realpathSync,
  renameSync,
  type Stats,
  statSync,
} from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { LOCKFILES } from "../host/project.js";
import { MAX_SETTINGS_BYTES, REPO_SEARCH_PLACES } from "../settings/find.js";
import {
  type ConfigEntry,
  commandConfig,
  configEnvConfig,
  envConfig,
  hooksPathValues,
  includePaths,
  lastValue,
  MAKEFILES,
  type ProgramFile,
  parseGitConfig,
  programFiles,
  programMentions,
  programWords,
  runsInGitDir,
  scriptAsProgram,
} from "./gitconfig.js";
import { PYTHON_STDLIB } from "./pystdlib.js";
import {
  fdPath,
  giveOwnerAt,
  openDirBeneath,
  ownerListable,
  ownerWritable,
  readRegularBytes,
  realOrNull,
} from "./safepath.js";

export type WatchKind =
  | "git"
  | "hook"
  | "gitconfig"
  | "pmconfig"
  | "clientkey"
  | "readonly"
  | "project"
  | "settings"
  | "anchor"
  | "bin"
  | "self"
  | "yarnbin"
  | "yarnstate"
  | "unlistable"
  | "oddname";

export interface Entry {
  kind: WatchKind;
  fp: string;
  /** For "self": the package.json version, when readable. */
  version?: string | null;
  /** For "self": its real directory, when it resolves to one inside node_modules. */
  dir?: string | null;
}

export interface Snapshot {
  entries: Map<string, Entry>;
  /** Hooks directories and config files watched (not protected), fixed at snapshot time. */
  watch: readonly Watch[];
}

export interface Watch {
  kind: "hook" | "gitconfig" | "pmconfig" | "clientkey" | "readonly";
  path: string;
  /** A hooks directory that is also a worktree's top: only files named like git hooks count. */
  namesOnly?: boolean;
  /** Checked even where it is mounted read-only (hostfiles.ts guardProject says why). */
  always?: boolean;
  /**
   * A folder python runs in (a value's script's folder, the top, a module's packages): what
   * python could import from there (a module, a package, a link), checked entry by entry: one
   * made inside would stand in for a module the hook imports, the standard library's too.
   */
  modules?: boolean;
  /** With `modules`: the modules named there (a script, a package's `__init__`), whose compiled
   * code in `__pycache__` python runs in place of their read-only source. */
  stems?: string[];
  /**
   * With `modules`, from a hook's python only: a new folder counts when it is a regular package
   * (an `__init__` in it). A folder without one is a namespace package, which never stands in
   * for an installed module, and is what a build writes (`build/lib/…`, generated code).
   */
  packagesOnly?: boolean;
  /** The top's package.json, for `node .`: its `main`, which is what node runs, is checked. */
  main?: boolean;
  /**
   * A folder a git program value runs in (`cd tools && node ..`): only whether it is a link is
   * checked. node and make resolve its `..` where a link leads; a real folder made or changed
   * inside is the project's own.
   */
  linkOnly?: boolean;
}

export interface Finding {
  kind: WatchKind;
  path: string;
  /** Where it was moved, or null when it was kept (an accepted upgrade) or could not be moved. */
  movedTo: string | null;
  /** Why it could not be moved, when it could not. */
  error?: string;
  /** For "settings" in a package.json: its `sandbox` key as JSON, as settings/load.ts reads it. */
  settingsContent?: string;
  /** Settings the user had are gone with it (moved aside after a change): the run must fail. */
  settingsLost?: true;
  /** For an accepted "self" upgrade: the versions before and after. */
  upgrade?: { from: string | null; to: string };
  /** For "yarnstate": what it declares that yarn.lock does not, or why it could not be read. */
  detail?: string;
}

/**
 * Config sections whose entries combine across files (and an alias's `-c`): url rewrites,
 * remotes and the branches that name them, instaweb's httpd and the folder it is looked up in.
 */
const SHARED_SECTIONS: ReadonlySet<string> = new Set(["url", "remote", "branch", "instaweb"]);
/** Directories never descended into inside a git dir: large, and git runs no code from them. */
const GIT_DATA = new Set(["objects", "refs", "logs", "lfs"]);
/** Bins watched whatever the host has: the script prefix's (`safe-npm exec -- node …`). */
const PREFIX_BINS: ReadonlySet<string> = new Set(["safe-npm", "node"]);
const NESTED_PREFIX_BINS: ReadonlySet<string> = new Set(["node"]);
/**
 * The first step of an interpreter's absolute path (`bin` of `#!/bin/sh`, `usr` of
 * `#!/usr/local/bin/node`): pnpm's shims run `$basedir/<that path>` when it is executable.
 */
const INTERPRETER_ROOTS = ["bin", "sbin", "usr", "opt", "nix", "snap", "lib", "lib64"];
/** How many node_modules deep the `.bin` folders on a lifecycle script's PATH are looked at. */
const MAX_NESTING = 8;
/** How deep a folder in `.bin` is recorded: `.bin/usr/local/bin/node` is four levels. */
const MAX_BIN_DEPTH = 6;
/** Where the host's own commands live: a `.bin` entry named like one shadows it. */
const SYSTEM_BIN_DIRS = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"];
/** Git's hook names (githooks(5)): in a hooks directory that is the project root, only these. */
const HOOK_NAMES = new Set(
  "applypatch-msg pre-applypatch post-applypatch pre-commit pre-merge-commit prepare-commit-msg commit-msg post-commit pre-rebase post-checkout post-merge pre-push pre-receive update proc-receive post-receive post-update reference-transaction push-to-checkout pre-auto-gc post-rewrite sendemail-validate fsmonitor-watchman p4-changelist p4-prepare-changelist p4-post-changelist p4-pre-submit post-index-change".split(
    " ",
  ),
);
const MAX_CONFIG = 1 << 20;

/** safe-npm's own settings files in a repository, package.json aside (judged by its key). */
const SETTINGS_FILES = REPO_SEARCH_PLACES.filter((name) => name !== "package.json");

/**
 * The sha256 of a package.json's `sandbox` key as JSON, `none` without one; `unread` for a file
 * that is not a regular one, too large or not JSON (a change from or to that still shows).
 */
function sandboxKeyHash(parsed: unknown): string {
  const content = sandboxKeyOf(parsed);
  if (typeof content !== "string") return content === null ? "unread" : "none";
  return createHash("sha256").update(content).digest("hex").slice(0, 32);
}

/** A package.json as JSON, read as the settings lookup reads it; undefined when it cannot be. */
function readPackageJson(path: string): unknown {
  // One byte more than the settings lookup reads: a larger file stops the lookup itself.
  const text = readRegular(path, MAX_SETTINGS_BYTES + 1);
  if (text === null || Buffer.byteLength(text) > MAX_SETTINGS_BYTES) return undefined;
  try {
    // Without a byte-order mark, whether or not the settings loader (cosmiconfig's) skips one.
    return JSON.parse(text.replace(/^\uFEFF/, "")) as unknown;
  } catch {
    return undefined;
  }
}

/** A package.json's `sandbox` key as JSON; undefined without one; null when unreadable. */
function sandboxKeyContent(path: string): string | null | undefined {
  return sandboxKeyOf(readPackageJson(path));
}

function sandboxKeyOf(parsed: unknown): string | null | undefined {
  if (parsed === undefined) return null;
  if (parsed === null || typeof parsed !== "object" || !("sandbox" in parsed)) return undefined;
  return JSON.stringify((parsed as { sandbox: unknown }).sandbox) ?? "undefined";
}

/** Content hashed per file: beyond it, identity, size and ctime stand in (a 1 TiB sparse file). */
const HASH_LIMIT = 1 << 20;
const MAX_LOCKFILE = 64 << 20;
const MAX_SELF_FILES = 5000;
/** Entries fingerprinted below one directory checked whole (a `protect` entry, .yarn/releases). */
const MAX_ALWAYS_ENTRIES = 5000;
/** safe-npm's bin in its package (package.json `bin`): what a `.bin/safe-npm` may start. */
const SELF_BIN = join("dist", "cli.cjs");
/** Files a published safe-npm holds beside dist/ that nothing executes. */
const SELF_DOCS =
  /^(package\.json|README(\..*)?|LICEN[CS]E(\..*)?|schema\.json|CHANGELOG(\..*)?)$/i;

// ---------------------------------------------------------------------------------------------
// Reading without following links

// Most lookups of the checks miss (a `.git` or HEAD in each store folder): a miss answers
// undefined rather than throwing, ~8 → ~1.5 µs each. Every other error still reads as null.
function lstat(path: string): Stats | null {
  const cached = lstatCache?.get(path);
  if (cached !== undefined) return cached;
  let st: Stats | null;
  try {
    st = lstatSync(path, { throwIfNoEntry: false }) ?? null;
  } catch {
    st = null;
  }
  lstatCache?.set(path, st);
  return st;
}

/**
 * While a snapshot is taken (nothing is changed or moved then), each name is looked up once: a
 * long user config names the same programs in every nested repository, each walked from `/`.
 * Never during the check, which moves things aside as it goes.
 */
let lstatCache: Map<string, Stats | null> | null = null;

function lstatBig(path: string): BigIntStats | null {
  try {
    return lstatSync(path, { bigint: true, throwIfNoEntry: false }) ?? null;
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
  return fd === null ? null : readText(fd, max);
}

/** Up to `max` bytes of an open file as text; closes it. */
function readText(fd: number, max: number): string {
  const parts: Buffer[] = [];
  let size = 0;
  readChunks(fd, (chunk) => {
    parts.push(Buffer.from(chunk));
    size += chunk.length;
    return size < max;
  });
  return Buffer.concat(parts).subarray(0, max).toString("utf8");
}

/**
 * readRegular through links: for files a host tool reads wherever a link leads (git's config).
 * Only a regular file is opened (stat first, so no device or FIFO is), and checked again once
 * open.
 */
export function readThroughLinks(path: string, max = MAX_CONFIG): string | null {
  try {
    if (!statSync(path).isFile()) return null;
  } catch {
    return null;
  }
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  let regular = false;
  try {
    regular = fstatSync(fd).isFile();
  } catch {}
  if (regular) return readText(fd, max);
  closeSync(fd);
  return null;
}

/** The hash of a regular file's first HASH_LIMIT bytes; `whole` when that was all of it. */
function hashHead(path: string): { hash: string; whole: boolean } {
  const fd = openRegular(path);
  if (fd === null) return { hash: "unreadable", whole: false };
  let size = -1;
  try {
    size = fstatSync(fd).size;
  } catch {}
  const hash = createHash("sha256");
  let read = 0;
  readChunks(fd, (chunk) => {
    const part = chunk.subarray(0, HASH_LIMIT - read);
    hash.update(part);
    read += part.length;
    return read < HASH_LIMIT;
  });
  return { hash: hash.digest("hex"), whole: read === size && size <= HASH_LIMIT };
}

function typeOf(st: Stats): string {
  if (st.isSymbolicLink()) return "link";
  if (st.isDirectory()) return "dir";
  if (st.isFile()) return "file";
  return "other";
}

/**
 * One entry, never followed: its type, a link's target, a regular file's size, executable bits
 * and the hash of at most its first MiB. `identity` adds dev/ino/ctime and the whole mode (the
 * entry itself was replaced or touched); without it, content alone counts (\`npm ci\` re-creates
 * equal files), except for a file whose content was not read whole, where identity stands in.
 */
function entryFp(path: string, identity: boolean): string {
  const st = lstatBig(path);
  if (st === null) return "-";
  // A directory's ctime moves with every entry made in it (git's index.lock): dev/ino only.
  const id = `@${st.dev}:${st.ino}`;
  if (st.isSymbolicLink()) {
    let target = "?";
    try {
      target = readlinkSync(path);
    } catch {}
    return `link${identity ? id : ""}:${target}`;
  }
  if (st.isFile()) {
    const { hash, whole } = hashHead(path);
    const mode = Number(st.mode & (identity ? 0o7777n : 0o111n)).toString(8);
    return `file${identity || !whole ? `${id}:${st.ctimeNs}` : ""}:${st.size}:${mode}:${hash}`;
  }
  return `${typeOf(st as unknown as Stats)}${identity ? id : ""}`;
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
  return listOrNull(dir) ?? [];
}

/**
 * A directory's entries; null when it exists but cannot be listed (a directory that can be
 * traversed but not read, `chmod 0311`, hides what is in it from a non-root walk).
 */
function listOrNull(dir: string, odd?: (name: Buffer) => void): Dirent[] | null {
  try {
    // Raw names: one that is not valid UTF-8 would decode to U+FFFD, name a path that does not
    // exist, and hide its whole subtree. Such names are handed to `odd` instead.
    const raw = readdirSync(dir, { withFileTypes: true, encoding: "buffer" });
    const entries: Dirent[] = [];
    for (const entry of raw) {
      const bytes = entry.name as unknown as Buffer;
      const name = bytes.toString("utf8");
      // As many characters as bytes and none replaced: every byte was ASCII, valid as it is.
      // Otherwise the bytes must be what the name encodes back to.
      const ascii = name.length === bytes.length && !name.includes("\uFFFD");
      if (!ascii && !Buffer.from(name, "utf8").equals(bytes)) {
        odd?.(bytes);
        continue;
      }
      (entry as unknown as { name: string }).name = name;
      entries.push(entry as unknown as Dirent);
    }
    return entries;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "ENOENT" || code === "ENOTDIR" ? [] : null;
  }
}

/**
 * The key under which an entry whose name is not valid UTF-8 is recorded: its directory, a NUL
 * (no real path holds one) and the name's bytes in hex.
 */
const ODD = "\0";
function oddKey(dir: string, name: Buffer): string {
  return `${dir}${sep}${ODD}${name.toString("hex")}`;
}

/** The real path (as bytes) behind an odd key, else the path itself. */
function rawPath(path: string): string | Buffer {
  const at = path.indexOf(ODD);
  if (at === -1) return path;
  return Buffer.concat([Buffer.from(path.slice(0, at)), Buffer.from(path.slice(at + 1), "hex")]);
}

/**
 * The names of the host's commands in /usr/bin, /bin, /usr/sbin and /sbin: a
 * `node_modules/.bin` entry named like one shadows it for whatever runs with that `.bin` on PATH
 * (npm's promise-spawn looks `sh` up there for every script).
 */
export function systemCommands(dirs: readonly string[] = SYSTEM_BIN_DIRS): Set<string> {
  // On every start, so kept cheap (~1 ms, not ~15): names only, no file types; each directory
  // once (merged /usr makes /bin a link to /usr/bin). A name that is not valid UTF-8 arrives
  // with U+FFFD in it and can only match a `.bin` entry named with U+FFFD itself, which is then
  // watched needlessly — harmless; the walk records such `.bin` entries as odd anyway.
  const names = new Set<string>();
  const seen = new Set<string>();
  for (const dir of dirs) {
    try {
      const st = statSync(dir);
      const id = `${st.dev}:${st.ino}`;
      if (seen.has(id)) continue;
      seen.add(id);
      for (const name of readdirSync(dir)) names.add(name);
    } catch {
      // Missing or unreadable: it adds no command names.
    }
  }
  for (const name of INTERPRETER_ROOTS) names.add(name);
  return names;
}

/**
 * Resolves `path` step by step (lstat, readlink; nothing is opened through a link) while every
 * step stays inside one of `within` (real directories) or on the way down to one: the real
 * path, or null when a step leaves them, a component is missing or no directory, or there are
 * too many links.
 */
function resolveWithin(path: string, within: readonly string[]): string | null {
  const base = within.find((w) => inside(path, w));
  return base === undefined ? null : walkLinks(base, parts(base, path), within, false, [], []);
}

/**
 * `path` with the links on its way followed as the kernel would (each step lstat'ed and read,
 * nothing opened), wherever they lead — the caller decides what counts — and the rest after a
 * missing step as written; null when there are too many. `links` receives each link on the way,
 * `outOf` each folder a `..` stepped out of (made a link, it would lead the `..` elsewhere).
 * `root` (a real directory) is where the walk starts for a path in it.
 */
function followLinks(
  root: string,
  path: string,
  links: string[] = [],
  outOf: string[] = [],
): string | null {
  const start = inside(path, root) ? root : "/";
  return walkLinks(start, parts(start, path), null, true, links, outOf);
}

/** Under a node_modules: a package's files and links, which installs rewrite. */
function inModules(root: string, path: string): boolean {
  return relative(root, path).split(sep).includes("node_modules");
}

/** The components of `path` below `start`. */
function parts(start: string, path: string): string[] {
  return relative(start, path).split(sep);
}

/**
 * Where git lands for a value (`core.hooksPath`, a program, an include) given from `base`: the
 * folder of the value as written, `..` and all, walked as the kernel walks it (followLinks), so
 * `lnk/../x` with `lnk` a link is where the link's parent is, not `<base>/x`; then inProject.
 * The last name is kept as written (a link there is the caller's to follow: a virtualenv's
 * `bin/python` is one), unless it is `.` or `..`. `~/` is `home`. `links` and `outOf` receive
 * what followLinks collects on the way.
 */
function landAt(
  root: string,
  home: string,
  base: string,
  value: string,
  links: string[] = [],
  outOf: string[] = [],
): string {
  const raw = value.startsWith("~/")
    ? `${home}/${value.slice(2)}`
    : isAbsolute(value)
      ? value
      : `${base}/${value}`;
  const cut = raw.lastIndexOf("/");
  const name = raw.slice(cut + 1);
  const whole = name === "" || name === "." || name === "..";
  const folder = walkLinks(
    "/",
    (whole ? raw : raw.slice(0, cut)).split("/"),
    null,
    true,
    links,
    outOf,
  );
  const landed = folder === null ? null : whole ? folder : join(folder, name);
  return inProject(root, landed ?? resolve(raw));
}

/**
 * `path`, or where its links lead when that is in the project: an absolute path spelled
 * through a link to the project (`/home/me/work/app/tools/x`, with `work` a link, as a shell
 * whose `$PWD` went through it writes `$PWD/tools/x`), or a link outside that leads back in.
 */
function inProject(root: string, path: string): string {
  if (inside(path, root) || path === root) return path;
  const to = followLinks(root, path);
  return to !== null && (inside(to, root) || to === root) ? to : path;
}

/**
 * resolveWithin, followLinks and landAt: `path` is the components below `start` (a real
 * directory), as written. A `..` is taken where the walk is, after the links before it
 * (`tools/../x` with `tools` a link leads where the link's parent is), never by spelling.
 * `missing` true keeps the rest of the path after a missing step.
 */
function walkLinks(
  start: string,
  path: readonly string[],
  within: readonly string[] | null,
  missing: boolean,
  links: string[],
  outOf: string[],
): string | null {
  const allowed = (dir: string): boolean =>
    within === null || within.some((w) => dir === w || inside(dir, w) || inside(w, dir));
  const todo = path.filter(Boolean).reverse();
  let current = start;
  let hops = 0;
  for (let part = todo.pop(); part !== undefined; part = todo.pop()) {
    if (part === ".") continue;
    const step = part === ".." ? dirname(current) : join(current, part);
    if (!allowed(step)) return null;
    if (part === "..") {
      outOf.push(current);
      current = step;
      continue;
    }
    const st = lstat(step);
    if (st === null) {
      // `missing/../x`: made a link, `missing` would lead that `..` elsewhere; so would each
      // folder after it that a later `..` steps out of (`missing/sub/../x`: `sub`), made inside.
      if (todo.includes("..")) {
        outOf.push(step);
        for (const dir of stepsOutOf(step, [...todo].reverse().join("/")))
          if (dir !== step) outOf.push(dir);
      }
      return missing ? join(step, ...todo.reverse()) : null;
    }
    if (st.isSymbolicLink()) {
      if (++hops > 40) return null;
      links.push(step);
      let target: string;
      try {
        target = readlinkSync(step);
      } catch {
        return null;
      }
      if (isAbsolute(target)) current = "/";
      todo.push(...target.split("/").filter(Boolean).reverse());
    } else if (todo.length > 0 && !st.isDirectory()) {
      return missing ? join(step, ...todo.reverse()) : null;
    } else current = step;
  }
  return current;
}

// ---------------------------------------------------------------------------------------------
// The root repository: what to protect

/** What a script's name may lack that its interpreter adds (node, python, perl, the shells). */
const SCRIPT_SUFFIXES = [
  "",
  ".js",
  ".node",
  ".cjs",
  ".mjs",
  ".ts",
  ".sh",
  ".py",
  ".pm",
  ".pl",
  ".rb",
];
/**
 * What is run of a folder a value names (`node tools`, `python3 tools`, `make -C tools`):
 * an interpreter's main file, make's makefiles.
 */
const FOLDER_MAINS = [
  "index.js",
  "index.json",
  "index.node",
  "index.cjs",
  "index.mjs",
  "__main__.py",
  "__init__.py",
  ...MAKEFILES,
];
const INVOKE_FILES = ["tasks.py", "invoke.yaml", "invoke.yml", "invoke.json"];
/**
 * The files a task runner a value runs finds by name in the folder it runs in, whichever is
 * there first: make's makefiles (one made beside a kept `Makefile` would run instead), rake's,
 * just's, task's, invoke's. A test runner (pytest, tox, `npm test`) runs the project's own code,
 * which is the project's (README limits).
 */
const TOOL_FILES: Readonly<Record<string, readonly string[]>> = {
  make: MAKEFILES,
  gmake: MAKEFILES,
  rake: ["rakefile", "Rakefile", "rakefile.rb", "Rakefile.rb"],
  just: ["justfile", "Justfile", ".justfile", "JUSTFILE"],
  task: [
    "Taskfile.yml",
    "taskfile.yml",
    "Taskfile.yaml",
    "taskfile.yaml",
    "Taskfile.dist.yml",
    "taskfile.dist.yml",
    "Taskfile.dist.yaml",
    "taskfile.dist.yaml",
  ],
  invoke: INVOKE_FILES,
  inv: INVOKE_FILES,
};
/** Words that run python on the project: its folder (and the top) are on python's path. */
const PYTHON_WORD =
  /^(python[\d.]*t?|pypy[\d.]*|graalpy|pytest|py\.test|pipenv|poetry|pdm|uvx?|hatch|tox|nox|invoke|inv)$/;
/** An interpreter's own name: CPython (free-threaded too), PyPy, GraalPy. */
const PYTHON_INTERPRETER = /^(python[\d.]*t?|pypy[\d.]*|graalpy)$/;
/**
 * Files a value may name that a package manager writes in every install: left writable (a
 * `node -p "require('./package.json').version"` alias must not stop `npm install`). Any other
 * file a program value names is a script to it.
 */
const MANAGER_WRITES: ReadonlySet<string> = new Set(["package.json", ...LOCKFILES]);

/** How many folders the values may name, each looked at for what runs there. */
const MAX_FOLDERS = 64;

/** What mentionedScripts finds: files kept read-only, paths watched, folders python runs in. */
interface Mentioned {
  files: string[];
  missing: string[];
  /** Each folder python runs in, with the modules named there (their `__pycache__` counts). */
  pythonFolders: Map<string, Set<string>>;
  /** `node .`: the top's package.json `main` is what node runs. */
  topMain: boolean;
  /** The links on the way to a file reached through one (each to be watched). */
  links: string[];
}

/**
 * The files in the project that program values mention (gitconfig.ts programMentions): each
 * name from the top and from every folder the values also name (`cd tools`, `env -C tools`),
 * with what an interpreter adds, and what is run of a named folder (FOLDER_MAINS, its
 * package.json's `main`); any file but those a package manager writes (MANAGER_WRITES). What a
 * tool the values run finds by name where it runs (TOOL_FILES). Real files only, reached
 * through real folders; what such a tool would run that is missing is watched (`missing`).
 */
function mentionedScripts(
  root: string,
  mentions: readonly string[],
  words: ReadonlySet<string>,
  expand: (value: string, base: string) => string,
): Mentioned {
  // The folders the values name, from the top and from each other (`cd tools && node lib`).
  const folders = [root];
  for (let i = 0; i < folders.length && folders.length < MAX_FOLDERS; i++) {
    for (const mention of mentions) {
      const path = expand(mention, folders[i] as string);
      if (folders.includes(path) || !inside(path, root)) continue;
      if (realDirChain(root, path) && lstat(path)?.isDirectory()) folders.push(path);
    }
  }
  const named = folders.slice(1);
  const out: Mentioned = {
    files: [],
    missing: [],
    pythonFolders: new Map(),
    topMain: false,
    links: [],
  };
  const keep = (path: string): void => {
    if (out.files.includes(path) || out.missing.includes(path)) return;
    if (dirname(path) === root && MANAGER_WRITES.has(basename(path))) return;
    const st = lstat(path);
    // Missing, in a folder that may be missing too (`main: dist/index.js` before a build):
    // watched, so that one made inside is moved aside.
    if (st === null) out.missing.push(path);
    else if (st.isFile() && realDirChain(root, dirname(path))) out.files.push(path);
    else if (st.isFile() || st.isSymbolicLink()) throughLink(path);
  };
  /** Reached through a link (`tools/conv.sh` with `tools -> scripts`): the file it leads to. */
  const throughLink = (path: string): void => {
    const links: string[] = [];
    const to = followLinks(root, path, links);
    if (to === null || !inside(to, root) || out.files.includes(to)) return;
    if (lstat(to)?.isFile() && realDirChain(root, dirname(to))) {
      out.files.push(to);
      out.links.push(...links);
    }
  };
  /** `node <folder>` runs its package.json's `main` (Module._findPath: the file, an extension, an index). */
  const mainOf = (folder: string): void => {
    const text = readRegular(join(folder, "package.json"));
    if (folder !== root) keep(join(folder, "package.json"));
    let main: unknown;
    try {
      main = text === null ? undefined : (JSON.parse(text) as { main?: unknown }).main;
    } catch {}
    if (typeof main !== "string" || main === "") return;
    const base = resolve(folder, main);
    if (!inside(base, root)) return;
    for (const suffix of ["", ".js", ".json", ".node", "/index.js", "/index.json", "/index.node"])
      keep(`${base}${suffix}`);
  };
  // The top itself named (`node .`, a bare `make`, `cd tools && node ..`, `node tools/..`, its
  // absolute path): what is run of it.
  // A `..` read from a folder that may not exist yet (`cd dist && node ..`), and the top's own
  // name read from its parent (`cd .. && node app`), count as the top too.
  const topNamed =
    mentions.includes(".") ||
    mentions.includes(basename(root)) ||
    mentions.some((m) => /(^|\/)\.\.\/*$/.test(m)) ||
    mentions.some((m) => folders.some((f) => m !== "." && expand(m, f) === root)) ||
    // A folder that is a link to the top (`node lib` with `lib -> .`).
    mentions.some((m) =>
      folders.some((f) => m !== "." && followLinks(root, expand(m, f)) === root),
    );
  const runFolders = topNamed ? folders : named;
  for (const folder of runFolders) {
    for (const name of FOLDER_MAINS) keep(join(folder, name));
    mainOf(folder);
  }
  out.topMain = topNamed;
  for (const [tool, files] of Object.entries(TOOL_FILES)) {
    if (!words.has(tool)) continue;
    for (const folder of folders) for (const name of files) keep(join(folder, name));
  }
  // rake imports every `rakelib/*.rake`: the folder is read-only whole, or watched.
  if (words.has("rake")) {
    for (const folder of folders) {
      const path = join(folder, "rakelib");
      const st = lstat(path);
      if (st === null) keep(path);
      else if (st.isDirectory() && realDirChain(root, path)) out.files.push(path);
    }
  }
  for (const mention of mentions) {
    if (mention === ".") continue;
    for (const folder of folders) {
      const base = expand(mention, folder);
      if (!inside(base, root) || lstat(base)?.isDirectory()) continue;
      for (const suffix of SCRIPT_SUFFIXES) {
        const path = `${base}${suffix}`;
        if (out.files.includes(path) || MANAGER_WRITES.has(basename(path))) continue;
        const st = lstat(path);
        if (st?.isFile() && realDirChain(root, dirname(path))) out.files.push(path);
        else if (st?.isFile() || st?.isSymbolicLink()) throughLink(path);
      }
    }
  }
  // Python scripts: a `.py` file, or one whose `#!` line runs python (`!tools/check`, run by
  // its shebang, has no python word in the value).
  const pythonScripts = out.files.filter(
    (f) => f.endsWith(".py") || /^#![^\n]*(python|pypy|\buv\b)/.test(readRegular(f, 256) ?? ""),
  );
  const pythonWord = [...words].some((w) => PYTHON_WORD.test(w));
  if (pythonWord || pythonScripts.length > 0) {
    const stems = (folder: string): Set<string> => {
      const known = out.pythonFolders.get(folder);
      if (known !== undefined) return known;
      const made = new Set<string>();
      out.pythonFolders.set(folder, made);
      return made;
    };
    // With a python word, the top is its working folder (first on its path for `-m`, `-c`).
    if (pythonWord) for (const folder of folders) stems(folder);
    for (const script of pythonScripts) {
      // A script's own folder is first on python's path.
      const names = stems(dirname(script));
      if (script.endsWith(".py")) names.add(basename(script).slice(0, -3));
      // `python3 -m tools.x` runs each package's `__init__` on the way: part of the module.
      if (!pythonWord) continue;
      for (let dir = dirname(script); dir !== root && inside(dir, root); dir = dirname(dir)) {
        stems(dir).add("__init__");
        keep(join(dir, "__init__.py"));
        stems(dirname(dir));
      }
    }
  }
  return out;
}

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
): {
  protect: string[];
  watch: Watch[];
  hookFiles: Watch[];
  userHooksPath?: string;
  userAliasHooks?: string[];
  userConfig?: ConfigEntry[];
} {
  const dotGit = join(root, ".git");
  const st = lstat(dotGit);
  let gitDir: string | null = null;
  if (st?.isDirectory()) gitDir = dotGit;
  else if (st?.isFile()) {
    const pointer = /^gitdir: *(.+?)\s*$/m.exec(readRegular(dotGit) ?? "")?.[1];
    if (pointer !== undefined) gitDir = resolve(root, pointer);
  }
  if (gitDir === null) return { protect: [], watch: [], hookFiles: [], ...userHooks(home, env) };
  const common = readRegular(join(gitDir, "commondir"))?.trim();
  const commonDir = common ? resolve(gitDir, common) : gitDir;

  const protect: string[] = [];
  const watch: Watch[] = [];
  const hookFiles: Watch[] = [];
  const linkOnly = new Set<string>();
  const place = (kind: Watch["kind"], path: string, real: boolean): void => {
    if (protect.includes(path)) return;
    // A program in node_modules (a package's bin) is the package's: installs replace it
    // (README limit), and watching it would move aside what each install puts there.
    if (kind === "gitconfig" && inModules(root, path)) return;
    // Watched as one spelling names it, kept read-only as another does (`node tools/lib`: a
    // path word, and the folder node runs): read-only wins.
    const watched = watch.findIndex((w) => w.path === path && !w.modules && !w.main && !w.linkOnly);
    if (watched !== -1) {
      if (!real) return;
      watch.splice(watched, 1);
    }
    // Under node_modules a read-only mount would stop the package manager replacing the package.
    if (real && !inModules(root, path)) {
      protect.push(path);
      // Its mount can be lost during the run (another run removes the folder and makes a new
      // one, which ext4 may give the same inode): the hooks in it are fingerprinted too. So is
      // a file with another name (a hard link): written through that one, the mount is no help.
      // (`always`: checked although it lies under a read-only mount.)
      if (kind === "hook" || hardLinked(path)) hookFiles.push({ kind, path, always: true });
    } else watch.push({ kind, path });
  };
  const expand = (value: string, base: string): string =>
    value.startsWith("~/") ? join(home, value.slice(2)) : resolve(base, value);

  /** In the git dir, which is read-only inside. */
  const inGitDir = (path: string): boolean =>
    [gitDir, commonDir].some((g) => path === g || inside(path, g));
  /**
   * A link on the way to what git runs (`scripts/pre-commit -> ../tools/hook.sh`): pointed
   * elsewhere inside, it is moved aside (a link cannot be bound read-only). Those in the git
   * dir are read-only with it.
   */
  const watchLinkTarget = (link: string): void => {
    if (!inside(link, root) || inGitDir(link)) return;
    if (!watch.some((w) => w.path === link && !w.linkOnly))
      watch.push({ kind: "gitconfig", path: link });
  };
  /** A folder that must not become a link (or another one): only that is checked. */
  const watchLink = (path: string): void => {
    if (!linkOnly.has(path)) watch.push({ kind: "gitconfig", path, linkOnly: true });
    linkOnly.add(path);
  };
  /**
   * The folders on the way from the top to `path`: one made a link, or a link changed, would
   * lead git elsewhere (a link into node_modules is the package's, whose files installs write).
   */
  const watchWay = (path: string): void => {
    let dir = root;
    for (const part of relative(root, dirname(path)).split(sep)) {
      if (part === "" || part === "node_modules") return;
      dir = join(dir, part);
      watchLink(dir);
    }
  };
  /**
   * Where git lands for a value from `base` (landAt); each link on the way is watched for being
   * pointed elsewhere, and each folder a `..` steps out of for becoming a link.
   */
  const land = (value: string, base: string): string => {
    const links: string[] = [];
    const outOf: string[] = [];
    const path = landAt(root, home, base, value, links, outOf);
    for (const link of links) if (!inModules(root, link)) watchLinkTarget(link);
    for (const dir of outOf)
      if (inside(dir, root) && !inGitDir(dir) && !inModules(root, dir)) watchLink(dir);
    return path;
  };
  /**
   * A link git runs or reads through: where it leads in the project is kept read-only (watched
   * when missing), each link on the way and each folder its `..` steps out of watched.
   */
  const follow = ({ kind, hops, outOf, target }: LinkTarget): void => {
    for (const link of hops) watchLinkTarget(link);
    for (const dir of outOf) if (inside(dir, root) && !inGitDir(dir)) watchLink(dir);
    if (target === null) return;
    // Hooks from the top itself (`.githooks -> .`): its hook names, as a hooksPath of `.`.
    if (target === root) {
      if (kind === "hook" && !watch.some((w) => w.kind === "hook" && w.path === root))
        watch.push({ kind: "hook", path: root, namesOnly: true });
      return;
    }
    watchWay(target);
    place(kind, target, realDirChain(root, dirname(target)) && lstat(target) !== null);
  };
  /** Kept read-only when it is a file (or a folder an interpreter runs), else watched. */
  const realFile = (path: string, how: ProgramFile["named"]): boolean => {
    const st = lstat(path);
    // A script an interpreter is given may be a folder (`node tools` runs tools/index.js).
    return (
      realDirChain(root, dirname(path)) &&
      (!!st?.isFile() || (how === "script" && !!st?.isDirectory()))
    );
  };

  /**
   * A virtualenv's python or tool (`.venv/bin/python`): the interpreter runs every `.pth` in the
   * venv's site-packages at start, and imports from there: the venv is read-only.
   */
  const keepVenv = (path: string, depth = 0): void => {
    const venv = dirname(dirname(path));
    if (basename(dirname(path)) !== "bin" || !inside(venv, root)) return;
    // Missing before the run (`git clean -x` removed it): one made inside is moved aside — for
    // a tool (`.venv/bin/black`), where its folder's name says it is an environment.
    if (
      lstat(venv) === null &&
      (PYTHON_INTERPRETER.test(basename(path)) ||
        VENV_LIKE.test(basename(venv)) ||
        basename(dirname(venv)) === "envs")
    ) {
      watchWay(venv);
      place("gitconfig", venv, false);
      return;
    }
    if (!realDirChain(root, venv)) return;
    const cfg = join(venv, "pyvenv.cfg");
    // A conda or pixi environment (`.pixi/envs/default`) has no pyvenv.cfg: its python runs
    // its site-packages' `.pth` files all the same.
    const conda = !!lstat(join(venv, "conda-meta"))?.isDirectory();
    // The base python a venv runs is a python prefix whatever made it (its `lib` beside `bin`).
    const base = depth > 0 && !!lstat(join(venv, "lib"))?.isDirectory();
    if (!lstat(cfg)?.isFile() && !conda && !(base && PYTHON_INTERPRETER.test(basename(path))))
      return;
    place("gitconfig", venv, true);
    if (depth > 0) return;
    // The python it runs may be another one in the project (`env/bin/python3.11 -m venv .venv`
    // links `.venv/bin/python3.11` to it, and pyvenv.cfg's `home` names its folder): its
    // environment is what starts first.
    const real = followLinks(root, path);
    if (real !== null && real !== path && inside(real, root)) keepVenv(real, 1);
    const home = /^\s*home\s*=\s*(.+?)\s*$/m.exec(readRegular(cfg) ?? "")?.[1];
    if (home !== undefined && isAbsolute(home) && inside(home, root))
      for (const name of ["python3", "python"]) keepVenv(join(home, name), 1);
  };
  /** Where python runs, the modules it could newly import by these names: moved aside. */
  const watchModules = (
    folders: ReadonlyMap<string, ReadonlySet<string>>,
    packagesOnly = false,
  ): void => {
    for (const [folder, stems] of folders) {
      const known = watch.find((w) => w.modules && w.path === folder);
      if (known === undefined)
        watch.push({
          kind: "gitconfig",
          path: folder,
          modules: true,
          stems: [...stems].sort(),
          ...(packagesOnly ? { packagesOnly: true } : {}),
        });
      else {
        known.stems = [...new Set([...(known.stems ?? []), ...stems])].sort();
        // A config value's python counts every new folder: the stricter watch wins.
        if (!packagesOnly) delete known.packagesOnly;
      }
    }
  };
  /**
   * Python a hook starts (pre-commit's own hook: `"$INSTALL_PYTHON" -mpre_commit`) imports from
   * the top first: a module made there with a name the hook's python is given runs instead of
   * the installed one, so a module made where it runs is moved aside (a new folder only when it
   * is a regular package: a build's output is not); and a virtualenv in the project whose python
   * or tool a hook runs by its path runs every `.pth` of its own: kept read-only. Only that is
   * read of a hook (what else it runs is the project's code: README, limits).
   */
  const hookPython = (dirs: ReadonlySet<string>): void => {
    for (const dir of dirs) {
      for (const text of hookTexts(dir)) {
        const entries = scriptAsProgram(text);
        // A virtualenv's python or tool the hook runs by its path (`.venv/bin/black`, `.
        // .venv/bin/activate` then `black`; `INSTALL_PYTHON=…/.venv/bin/python` then `exec
        // "$INSTALL_PYTHON"`: the value), which starts its python either way.
        for (const { path: named } of programFiles(entries)) {
          const value = named.slice(named.lastIndexOf("=") + 1);
          if (!/(^|\/)bin\/[^/]+$/.test(value)) continue;
          keepVenv(land(value, root));
          // As written too: where links lead (`.venv/bin -> realbin`) no folder is named `bin`.
          if (!value.startsWith("~")) keepVenv(resolve(root, value));
        }
        if (!STARTS_PYTHON.test(text)) continue;
        const found = mentionedScripts(
          root,
          programMentions(entries),
          programWords(entries),
          expand,
        );
        // A new module where python runs is moved aside; the compiled code of a named one
        // only for names no module of the project's own has there (`-mpre_commit` installed
        // elsewhere): a project module the hook runs is the project's code, and its compiled
        // files change with every run of it.
        const absent = new Map<string, Set<string>>();
        // (A standard library module is always installed: a folder of its name without an
        // `__init__` never stands in for it.)
        const isAbsent = (at: string, stem: string): boolean =>
          !PYTHON_STDLIB.has(stem) &&
          lstat(join(at, stem)) === null &&
          lstat(join(at, `${stem}.py`)) === null;
        for (const [at, stems] of found.pythonFolders)
          absent.set(at, new Set([...stems].filter((stem) => isAbsent(at, stem))));
        // `"$INSTALL_PYTHON" -mpre_commit`: the module by its name, from the top.
        const top = absent.get(root) ?? new Set<string>();
        for (const name of moduleNames(entries[0]?.value ?? text))
          if (isAbsent(root, name)) top.add(name);
        absent.set(root, top);
        watchModules(absent, true);
      }
    }
  };

  // url and remote entries of every file: a url rewrite in one applies to the remotes of all.
  const remotes: ConfigEntry[] = [];
  const programs = (entries: readonly ConfigEntry[], base = root): void => {
    // Programs the config names (a filter driver, core.fsmonitor): git runs them from the top
    // of the worktree (`base`: those upload-pack runs, from the git dir), so a run must not
    // rewrite one kept in the project.
    for (const { path: named, named: how } of programFiles(entries)) {
      const path = land(named, base);
      if (!inside(path, root)) continue;
      if (how === "cd") {
        watchLink(path);
        continue;
      }
      const real = realFile(path, how);
      // A word with no `/` counts only where such a file is, through a link on the way too
      // (`tools/conv.sh "$0"` with `tools -> scripts`): most are a program's arguments.
      if (how === "word" && !real) {
        const to = followLinks(root, path);
        if (to === null || !inside(to, root) || !lstat(to)?.isFile()) continue;
      }
      watchWay(path);
      // Reached through a link in the project (a committed `tools -> lib`): what git runs is
      // the file where it leads. Through a link on the way, the path itself cannot be moved
      // aside (rename does not follow it): the file where it leads is.
      const links: string[] = [];
      const outOf: string[] = [];
      const target = followLinks(root, path, links, outOf);
      for (const dir of outOf) if (inside(dir, root) && !inGitDir(dir)) watchLink(dir);
      if (target !== null && target !== path && inside(target, root)) {
        // A link on the way pointed elsewhere inside would lead git to another file.
        for (const link of links) watchLinkTarget(link);
        watchWay(target);
        place("gitconfig", target, realFile(target, how));
        if (!realDirChain(root, dirname(path))) continue;
      }
      place("gitconfig", path, real);
      keepVenv(path);
    }
    if (base !== root) return;
    const found = mentionedScripts(root, programMentions(entries), programWords(entries), expand);
    for (const path of found.files) place("gitconfig", path, true);
    for (const link of found.links) if (!inModules(root, link)) watchLinkTarget(link);
    // Made inside, what a tool would run instead (a GNUmakefile beside a kept Makefile) is
    // moved aside after the run.
    for (const path of found.missing) place("gitconfig", path, false);
    watchModules(found.pythonFolders);
    const pkg = join(root, "package.json");
    if (found.topMain && !watch.some((w) => w.main)) {
      watch.push({ kind: "gitconfig", path: pkg, main: true });
    }
  };
  // uploadpack.packObjectsHook and core.alternateRefsCommand run where upload-pack and
  // receive-pack do: in the git dir (`sh ../tools/x.sh` is the top's tools/x.sh).
  const inGitDirs = (entries: readonly ConfigEntry[]): void => {
    for (const dir of new Set([gitDir, commonDir])) programs(entries.filter(runsInGitDir), dir);
    remotes.push(...entries.filter((e) => SHARED_SECTIONS.has(e.section)));
  };
  const walk = gitConfigWalk(home, env, {
    // `-c` in an alias (`ci = -c core.hooksPath=.myhooks commit`) is config of that git run; so
    // is `--config-env=core.hooksPath=VAR`, with VAR's value in your environment.
    file: (entries, fromVars) => {
      programs([...entries, ...fromVars]);
      inGitDirs(entries);
    },
    // Config a git run is given: its hooksPath is that run's, its programs run from the git dir
    // too.
    given: inGitDirs,
    include: (include, from) => {
      const path = land(include, from);
      if (inside(path, root)) {
        // A folder on the way made a link (`conf -> other` for a missing `conf/extra.cfg`)
        // would lead git elsewhere: moved aside itself (the file through it cannot be).
        if (!inGitDir(path)) watchWay(path);
        place("gitconfig", path, realDirChain(root, dirname(path)) && !!lstat(path)?.isFile());
        // An include that is a link (`shared.gitconfig -> cfg/git.cfg`): the file it leads to.
        if (lstat(path)?.isSymbolicLink())
          for (const t of linkTargets(root, [[path, "gitconfig"]], [gitDir, commonDir])) follow(t);
      }
      return path;
    },
  });
  // GIT_CONFIG_SYSTEM and GIT_CONFIG_GLOBAL replace the files git reads (git-config(1), ENVIRONMENT).
  // config.worktree only under extensions.worktreeConfig, as git reads it.
  const worktreeConfig = configTrue(
    parseGitConfig(readGitDirFile(join(commonDir, "config")) ?? ""),
    "extensions",
    "worktreeconfig",
  );
  for (const file of [
    ...userConfigFiles(home, env),
    join(commonDir, "config"),
    ...(worktreeConfig ? [join(gitDir, "config.worktree")] : []),
  ]) {
    walk.read(file);
  }
  // What a fresh clone's set-up will add to the repository's config (relative to its folder).
  const toCome = configToCome(root);
  for (const include of toCome.includes) walk.include(include, commonDir);
  // Config in git's environment (GIT_CONFIG_COUNT, GIT_CONFIG_PARAMETERS) as you have it:
  // above every file, as `-c` is.
  const fromEnv = envConfig(env);
  programs(fromEnv);
  walk.given([...fromEnv, ...commandConfig(fromEnv)]);
  const { hooksPath, seen: seenHooks, given: aliasHooks, included: sawInclude } = walk.found;
  programs(remotes);
  // Hooks run at the top of the worktree, push hooks (pre-receive, update, …) in the git dir: a
  // relative hooksPath is read from both.
  const hookBases = [...new Set([root, gitDir, commonDir])];
  const hooksPaths = [
    ...new Set([
      ...(hooksPath ? [hooksPath] : []),
      ...(sawInclude ? seenHooks : []),
      ...aliasHooks,
      ...toCome.hooksPaths,
    ]),
  ];
  const hookDirs = new Set([join(commonDir, "hooks")]);
  for (const [value, base] of hooksPaths.flatMap((h) => hookBases.map((b) => [h, b] as const))) {
    const dir = land(value, base);
    const guarded = basename(dir) === "_" && dirname(dir) !== base ? dirname(dir) : dir;
    hookDirs.add(guarded);
    // `sub/../.githooks`: `sub` made a link would lead the `..` elsewhere.
    for (const out of value.startsWith("~/") ? [] : stepsOutOf(base, value))
      if (inside(out, root) && !inGitDir(out)) watchLink(out);
    // One in the git dir is read-only inside with it.
    if (inGitDir(guarded)) continue;
    if (inside(guarded, root)) {
      // A folder on the way made a link (`tools -> evil` for a missing `tools/hooks`) is
      // moved aside itself.
      watchWay(guarded);
      place("hook", guarded, realDirChain(root, guarded));
      // A hook in it that is a link: the folder's mount keeps the link, not where it leads.
      for (const t of linkTargets(root, linkedHooks(guarded), [gitDir, commonDir])) follow(t);
      // A link to a directory elsewhere in the project (through any chain): that directory
      // is what git runs hooks from, and a hook in it that is a link, where that one leads.
      if (lstat(guarded)?.isSymbolicLink()) {
        for (const t of linkTargets(root, [[guarded, "hook"]], [gitDir, commonDir])) {
          follow(t);
          if (t.target !== null)
            for (const h of linkTargets(root, linkedHooks(t.target, t.target === root), [
              gitDir,
              commonDir,
            ]))
              follow(h);
        }
      }
    } else if (dir === root && !watch.some((w) => w.kind === "hook" && w.path === root))
      watch.push({ kind: "hook", path: root, namesOnly: true });
  }
  hookPython(hookDirs);
  // A virtualenv in the project activated in your shell (`VIRTUAL_ENV`, its `bin` on PATH): a
  // hook's `black` or `python` is its, and so is what host tools run from there.
  // Spelled through a link to the project too (`/home/me/work -> /data/work`), and relative
  // (`PATH=.venv/bin:…`: hooks run at the top).
  for (const dir of [
    ...(env.PATH ?? "").split(":"),
    ...(env.VIRTUAL_ENV ? [join(env.VIRTUAL_ENV, "bin")] : []),
  ]) {
    if (dir === "" || dir.startsWith("~")) continue;
    const python = land(`${dir.replace(/\/+$/, "")}/python`, root);
    if (inside(python, root)) keepVenv(python);
    // As written too: where links lead (`.venv/bin -> realbin`) no folder is named `bin`.
    const plain = resolve(root, dir, "python");
    if (plain !== python && inside(plain, root)) keepVenv(plain);
  }
  // The git dir is read-only inside, but what its links lead to is not: `hooks -> ../githooks`,
  // `hooks/pre-commit -> ../../scripts/pre-commit` (the usual way to share hooks), `config ->
  // ../shared.gitconfig`. Where one leads in the project is kept read-only.
  for (const t of gitDirLinkTargets(root, gitDir, commonDir)) follow(t);
  // The git dir is read-only inside, but a file of it with a name in the project too (`ln
  // scripts/pre-commit .git/hooks/`, `ln shared.gitconfig .git/config`) is written through that
  // name: by content, one changed is moved aside.
  for (const [path, kind] of gitDirFiles(gitDir, commonDir))
    if (inside(path, root) && hardLinked(path) && !hookFiles.some((h) => h.path === path))
      hookFiles.push({ kind, path });
  return { protect, watch, hookFiles, ...userHooks(home, env) };
}

/**
 * The links in a git dir that git reads or runs through: its config files, its hooks folder and
 * each hook in it (listed where the folder leads), each with the kind of what it leads to.
 */
export function gitDirLinks(
  gitDir: string,
  commonDir: string = gitDir,
): [string, "gitconfig" | "hook"][] {
  const out: [string, "gitconfig" | "hook"][] = [];
  // info/attributes picks the filter and diff drivers git runs on a path.
  // The info folder itself may be the link (`info -> ../gitinfo`).
  for (const file of [
    join(commonDir, "config"),
    join(gitDir, "config.worktree"),
    join(commonDir, "info"),
    join(commonDir, "info", "attributes"),
  ])
    if (lstat(file)?.isSymbolicLink()) out.push([file, "gitconfig"]);
  const hooks = join(commonDir, "hooks");
  if (lstat(hooks)?.isSymbolicLink()) out.push([hooks, "hook"]);
  let names: string[] = [];
  try {
    names = readdirSync(hooks);
  } catch {
    // none
  }
  for (const name of names) {
    const hook = join(hooks, name);
    if (lstat(hook)?.isSymbolicLink()) out.push([hook, "hook"]);
  }
  return out;
}

/** A regular file (not through a link) with more than one name. */
function hardLinked(path: string): boolean {
  const st = lstat(path);
  return st?.isFile() === true && st.nlink > 1;
}

/**
 * The files of a git dir git reads or runs — its config files, info/attributes, each hook in a
 * real hooks folder — with the kind of each (links are gitDirLinks').
 */
function gitDirFiles(gitDir: string, commonDir: string): [string, "gitconfig" | "hook"][] {
  const out: [string, "gitconfig" | "hook"][] = [
    [join(commonDir, "config"), "gitconfig"],
    [join(gitDir, "config.worktree"), "gitconfig"],
    [join(commonDir, "info", "attributes"), "gitconfig"],
  ];
  const hooks = join(commonDir, "hooks");
  if (lstat(hooks)?.isDirectory())
    for (const entry of listOrNull(hooks) ?? []) out.push([join(hooks, entry.name), "hook"]);
  return out;
}

/**
 * A config file in a git dir, read as git reads it: a regular file, or through its links (a
 * `config -> ../shared.gitconfig`; what it leads to is watched as the git dir's link).
 */
function readGitDirFile(file: string): string | null {
  return readRegular(file) ?? (lstat(file)?.isSymbolicLink() ? readThroughLinks(file) : null);
}

/** linkTargets of a git dir's links (gitDirLinks). */
function gitDirLinkTargets(root: string, gitDir: string, commonDir: string): LinkTarget[] {
  return linkTargets(root, gitDirLinks(gitDir, commonDir), [gitDir, commonDir]);
}

interface LinkTarget {
  link: string;
  kind: "gitconfig" | "hook";
  hops: string[];
  outOf: string[];
  target: string | null;
}

/**
 * The hooks in a hooks folder (and in husky's `_` in it) that are links: a hooks folder kept
 * read-only keeps the link, not the file it leads to (`.githooks/pre-commit ->
 * ../scripts/pc.sh`).
 */
function linkedHooks(dir: string, namesOnly = false): [string, "hook"][] {
  const out: [string, "hook"][] = [];
  // A folder of other things too (the top, a git dir): only hook names are hooks there.
  for (const folder of namesOnly ? [dir] : [dir, join(dir, "_")]) {
    if (!lstat(folder)?.isDirectory()) continue;
    for (const entry of listOrNull(folder) ?? [])
      if (entry.isSymbolicLink() && (!namesOnly || HOOK_NAMES.has(entry.name)))
        out.push([join(folder, entry.name), "hook"]);
  }
  return out;
}

/**
 * Each link with the links met on its way and the folders its `..` steps out of, and where it
 * leads in the project (the top itself too: `.githooks -> .`): `target` is null when that is
 * outside the project, in `gitDirs`, or in
 * node_modules — a hook a package links to its own file (`node_modules/pre-commit/hook`) is the
 * package's: installs replace it (as for programs in node_modules).
 */
function linkTargets(
  root: string,
  links: readonly [string, "gitconfig" | "hook"][],
  gitDirs: readonly string[],
): LinkTarget[] {
  return links.map(([link, kind]) => {
    const hops: string[] = [];
    const outOf: string[] = [];
    const to = followLinks(root, link, hops, outOf);
    const kept =
      to !== null &&
      to !== link &&
      (inside(to, root) || to === root) &&
      !gitDirs.some((g) => to === g || inside(to, g)) &&
      !inModules(root, to);
    return { link, kind, hops, outOf, target: kept ? to : null };
  });
}

/**
 * A relative core.hooksPath the system or user config gives every repository, and the
 * `-c core.hooksPath=…` its aliases give (`ci = -c core.hooksPath=.gh commit`); and the config
 * itself, with what its includes, its aliases' `-c`/`--config-env` and git's environment give:
 * the programs it names run in every repository, nested ones too.
 */
function userHooks(
  home: string,
  env: Readonly<Record<string, string | undefined>>,
): { userHooksPath?: string; userAliasHooks?: string[]; userConfig?: ConfigEntry[] } {
  const config: ConfigEntry[] = [];
  const walk = gitConfigWalk(home, env, {
    file: (entries) => config.push(...entries),
    given: (entries) => config.push(...entries),
  });
  for (const file of userConfigFiles(home, env)) walk.read(file);
  const fromEnv = envConfig(env);
  walk.given([...fromEnv, ...commandConfig(fromEnv)]);
  const { hooksPath: value, seen, given, included } = walk.found;
  const relativeOnly = (v: string): boolean => v !== "" && !v.startsWith("~") && !isAbsolute(v);
  // The values not taken last apply to every nested repository, as an alias's `-c` ones do.
  const others = included ? seen.filter((v) => v !== value) : [];
  const alias = [...new Set([...given, ...others].filter(relativeOnly))];
  return {
    ...(value === null || !relativeOnly(value) ? {} : { userHooksPath: value }),
    ...(alias.length === 0 ? {} : { userAliasHooks: alias }),
    ...(config.length === 0 ? {} : { userConfig: config }),
  };
}

/** What reading git's config files finds of `core.hooksPath` (gitConfigWalk). */
interface ConfigFound {
  /** The files' last value: the one git takes when nothing is included. */
  hooksPath: string | null;
  /** Every value of the files: with an include, which one git takes depends on where it stands
   * and on includeIf's conditions (a branch, the git dir's place), not read here. */
  seen: string[];
  /** The values of config a git run is given (an alias's `-c`, `--config-env`, git's environment). */
  given: string[];
  /** Whether anything was included (then every value in `seen` counts). */
  included: boolean;
}

/**
 * Reads git config as git does: each file's includes where they stand (relative to the file,
 * `~/` from `home`), each included file once (a file that includes itself twice would
 * otherwise be read a number of times exponential in git's depth limit), and the config a git
 * run is given by an alias's `-c` or `--config-env` (`ci = -c core.hooksPath=.gh commit`; the
 * variable's value from your environment), whose includes git takes only when absolute.
 * Files are read through links (a `~/.gitconfig` stowed from a dotfiles repository), only when
 * they lead to a regular file. `on.file` sees each file's entries with the config its
 * `--config-env` options give, `on.given` each given config, `on.include` says where an
 * include leads (and may guard it); nothing is run.
 */
function gitConfigWalk(
  home: string,
  env: Readonly<Record<string, string | undefined>>,
  on: {
    file?: (entries: readonly ConfigEntry[], fromVars: readonly ConfigEntry[]) => void;
    given?: (entries: readonly ConfigEntry[]) => void;
    include?: (include: string, from: string) => string;
  },
): {
  read: (file: string) => void;
  given: (entries: readonly ConfigEntry[]) => void;
  include: (value: string, from: string) => void;
  found: ConfigFound;
} {
  const found: ConfigFound = { hooksPath: null, seen: [], given: [], included: false };
  const includesRead = new Set<string>();
  const include = (value: string, from: string, depth: number): void => {
    const path = on.include?.(value, from) ?? resolve(from, value.replace(/^~\//, `${home}/`));
    if (depth < MAX_INCLUDE_DEPTH && !includesRead.has(path)) read(path, depth + 1);
  };
  const given = (entries: readonly ConfigEntry[], depth: number): void => {
    found.given.push(...hooksPathValues(entries));
    on.given?.(entries);
    const includes = includePaths(entries).filter((i) => i.startsWith("~/") || isAbsolute(i));
    if (includes.length > 0) found.included = true;
    for (const value of includes) include(value, home, depth);
  };
  const read = (file: string, depth: number): void => {
    if (depth > 0) includesRead.add(file);
    const text = readThroughLinks(file);
    if (text === null) return;
    const entries = parseGitConfig(text);
    found.hooksPath = lastValue(entries, "core", "hookspath") ?? found.hooksPath;
    if (includePaths(entries).length > 0) found.included = true;
    found.seen.push(...hooksPathValues(entries));
    const fromVars = configEnvConfig(entries, env);
    on.file?.(entries, fromVars);
    given([...commandConfig(entries), ...fromVars], depth);
    for (const value of includePaths(entries)) include(value, dirname(file), depth);
  };
  return {
    read: (file) => read(file, 0),
    given: (entries) => given(entries, 0),
    // An include a file will hold (one a set-up script adds): as one it holds now.
    include: (value, from) => {
      found.included = true;
      include(value, from, 0);
    },
    found,
  };
}

/**
 * What a fresh clone's set-up will add to the repository's config, which it does not hold yet:
 * husky's `.husky/_` as hooks folder when `.husky` is there, and what a package.json script
 * sets with `git config core.hooksPath <dir>` or `git config include.path <file>` (a
 * `prepare`). Inside, that set-up fails (the git dir is read-only) and is run on the host
 * afterwards; a hook or config planted there before would then be live.
 */
function configToCome(root: string): { hooksPaths: string[]; includes: string[] } {
  const out: string[] = [];
  const includes: string[] = [];
  if (lstat(join(root, ".husky"))?.isDirectory()) out.push(".husky/_");
  const text = readRegular(join(root, "package.json"));
  let scripts: unknown;
  try {
    scripts = text === null ? undefined : (JSON.parse(text) as { scripts?: unknown }).scripts;
  } catch {
    scripts = undefined;
  }
  if (typeof scripts !== "object" || scripts === null) return { hooksPaths: out, includes };
  /** As the top spells it in a script (`$(git rev-parse --show-toplevel)/x`, `$PWD/x`). */
  const fromTop = (value: string): string =>
    value
      .replace(/^["']|["']$/g, "")
      .replace(
        /^(\$\(git rev-parse --show-toplevel\)|`git rev-parse --show-toplevel`|\$\{?(PWD|INIT_CWD)\}?|`pwd`|\$\(pwd\))\/?/,
        "",
      );
  for (const script of Object.values(scripts)) {
    if (typeof script !== "string") continue;
    for (const m of script.matchAll(
      /["']?core\.hookspath["']?(?:\s+|=)["']?((?:\$\([^)]*\)|`[^`]*`|[^\s"'&|;])+)/gi,
    ))
      if (m[1] !== undefined && !m[1].startsWith("-")) out.push(fromTop(m[1]));
    // `git config include.path ../.gitconfig` (includeIf's too): relative to the config's
    // folder, the git dir; spelled from the top, absolute.
    for (const m of script.matchAll(
      /["']?include(?:if\.[^\s=]*)?\.path["']?(?:\s+|=)["']?((?:\$\([^)]*\)|`[^`]*`|[^\s"'&|;])+)/gi,
    )) {
      if (m[1] === undefined || m[1].startsWith("-")) continue;
      const value = fromTop(m[1]);
      includes.push(value === m[1].replace(/^["']|["']$/g, "") ? value : join(root, value));
    }
    // husky 9 sets `<dir>/_` (`.husky` unless its argument names another folder); husky 8's
    // `husky install [dir]` sets `<dir>` itself, which guarding its `_` guards whole. By any
    // path (`./node_modules/.bin/husky`, `node node_modules/husky/bin.js`) or version
    // (`npx husky@9`).
    for (const m of script.matchAll(
      /(?:^|[\s;&|(])(?:[^\s;&|()]*\/)?husky(?:@[^\s/;&|)]+)?(?:\/bin\.m?js)?(?=[\s;&|)]|$)(?:\s+(?:install\b\s*)?["']?([^\s"'&|;)-][^\s"'&|;)]*))?/g,
    ))
      out.push(`${m[1] === undefined || m[1] === "install" ? ".husky" : m[1]}/_`);
  }
  return { hooksPaths: [...new Set(out)], includes: [...new Set(includes)] };
}

/** How much of a hook is read for the python it starts (pre-commit's own hook is ~1 kB). */
const MAX_HOOK_READ = 64 * 1024;
/** A hook's text that may start python. */
const STARTS_PYTHON = /python|pypy|graalpy/i;

/**
 * The top-level modules a script runs with python's `-m` (`-mpre_commit`, `-Bm x`: python's
 * flags that take no value, then m), after python on its line (`git stash -m x` is no module),
 * in its text with its variables spelled out (scriptAsProgram: `-m "$MOD"`).
 */
function moduleNames(spelled: string): string[] {
  return spelled.split("\n").flatMap((line) => {
    const at = line.search(STARTS_PYTHON);
    if (at === -1) return [];
    return [
      ...line.slice(at).matchAll(/(?:^|[\s"'])-[bBdEiIOPqRsSuvx]*m\s*["']?([A-Za-z_]\w*)/g),
    ].map((m) => m[1] as string);
  });
}

/**
 * The text of each hook in a hooks folder (and in husky's `_` there), read through links, with
 * `$0` as the hook's own path (`. "$(dirname -- "$0")/../.venv/bin/activate"`).
 */
function hookTexts(dir: string): string[] {
  const out: string[] = [];
  for (const folder of [dir, join(dir, "_")])
    for (const name of HOOK_NAMES) {
      const path = join(folder, name);
      const text = readThroughLinks(path, MAX_HOOK_READ);
      if (text === null) continue;
      const hookDir = dirname(path);
      out.push(
        text
          // `${0%/*}`: its folder; `$(realpath "$0")`, `$(readlink -f "$0")`: itself.
          // bash's `${BASH_SOURCE[0]}` is `$0` in a hook git runs.
          .replace(/\$\{BASH_SOURCE(?:\[0\])?:-\$\{?0\}?\}/g, "$0")
          .replace(/\$\{BASH_SOURCE(\[0\])?(?=[}%])/g, "${0")
          .replace(/\$BASH_SOURCE(?![\w[])/g, "$0")
          .replace(/\$\{0%\/\*\}/g, () => hookDir)
          .replace(
            /\$\((?:realpath|readlink\s+-[efm]+)\s+(?:--\s+)?("?)\$\{?0\}?\1\s*\)/g,
            () => path,
          )
          .replace(/\$\{0\}|\$0(?![0-9])/g, () => path),
      );
    }
  return out;
}

/** git's own limit on nested includes. */
const MAX_INCLUDE_DEPTH = 10;
/** The system and user config files git reads, in its order (git-config(1), ENVIRONMENT). */
function userConfigFiles(
  home: string,
  env: Readonly<Record<string, string | undefined>>,
): string[] {
  const xdg = env.XDG_CONFIG_HOME || join(home, ".config");
  const global = env.GIT_CONFIG_GLOBAL
    ? [env.GIT_CONFIG_GLOBAL]
    : [join(xdg, "git", "config"), join(home, ".gitconfig")];
  return [env.GIT_CONFIG_SYSTEM || "/etc/gitconfig", ...global];
}

// ---------------------------------------------------------------------------------------------
// Snapshot and check

// ---------------------------------------------------------------------------------------------
// yarn 2+'s bins: declared in yarn.lock, never in node_modules/.bin

/**
 * What follows `<root>/yarn.lock` in the key of a "yarnbin" entry (no real path holds a NUL):
 * `bin:<name>` for a bin named like a host command, `unread` for a lockfile that could not be
 * read for its bins. Such a key is never a path: nothing is moved aside for it.
 */
const YARN_KEY = "\0";
/** The same separator for a part of a file recorded on its own (the top's package.json `main`). */
const KEY_PART = YARN_KEY;
/** What python imports a module from: source, compiled code, an extension. */
const PYTHON_MODULE = /\.(py|pyc|pyo|pyw|so)$/;
/** What `python3 -m venv` makes, and the names a virtualenv usually has. */
const VENV_PARTS: ReadonlySet<string> = new Set(["bin", "include", "lib", "lib64", "share"]);
const VENV_NAMES: ReadonlySet<string> = new Set(["venv", "env", "virtualenv"]);
/** A folder whose name says it is a python environment (`.venv`, `venv-dev`, `.virtualenv`). */
const VENV_LIKE = /venv|virtualenv/i;
/** A name `import` can spell. */
const PYTHON_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The `main` of a package.json, as recorded: "-" when there is none or it cannot be read. */
function mainField(path: string): string {
  const text = readRegular(path);
  if (text === null) return lstat(path) === null ? "-" : `unread:${entryFp(path, false)}`;
  try {
    const main = (JSON.parse(text) as { main?: unknown }).main;
    return main === undefined ? "-" : `main:${JSON.stringify(main)}`;
  } catch {
    return "unread";
  }
}

/** Whether an entry recorded at `path` is one that `w` watches. */
export function watchCovers(w: Watch, path: string): boolean {
  if (w.main === true) return path === `${w.path}${KEY_PART}main`;
  if (w.linkOnly === true) return path === w.path;
  if (w.modules === true) {
    const dir = dirname(path);
    return dir === w.path || dirname(dir) === w.path;
  }
  return path === w.path || inside(path, w.path);
}
/** A scalar yarn's lockfile writer (@yarnpkg/parsers syml) leaves unquoted. */
const SYML_PLAIN = /^(?![-?:,\][{}#&*!|>'"%@` \t\r\n]).([ \t]*(?![,\][{}:# \t\r\n]).)*$/;
/** A JSON string (JSON.parse then refuses what JSON does not allow in one). */
const SYML_QUOTED = /^"(?:[^"\\]|\\.)*"$/;
/** A syml line: two spaces per level, a plain or JSON-quoted key, a colon, maybe a value. */
const SYML_LINE = /^((?: {2})*)("(?:[^"\\]|\\.)*"|[^":][^:]*):(?: (.+))?$/;
/** A yarn 1 lockfile's line (yarn 1's stringify): keys and values plain or quoted, no escapes. */
const YARN1_WORD = String.raw`(?:"[^"\\]*"|[a-zA-Z][^\s"\\,:]*)`;
const YARN1_LINE = new RegExp(
  String.raw`^(?:${YARN1_WORD}(?:, ${YARN1_WORD})*:|(?: {2})+${YARN1_WORD}(?::| [^\s"\\]+| "[^"\\]*"))$`,
);

function symlScalar(text: string): string | null {
  if (text.startsWith('"')) {
    if (!SYML_QUOTED.test(text)) return null;
    try {
      return JSON.parse(text) as string;
    } catch {
      return null;
    }
  }
  return SYML_PLAIN.test(text) ? text : null;
}

/**
 * The bins a yarn 2+ lockfile declares (the `bin:` map of each entry), each with the entries
 * (their keys: the descriptors resolved to that package) declaring it; null for a lockfile yarn
 * 2+ takes no bins from (yarn 1's, whose scripts run with node_modules/.bin on PATH, already
 * watched; or one with no `__metadata`). "irregular": a line neither yarn writes. yarn reads a
 * lockfile its own parser rejects as YAML (a flow map, an escaped key, a tag), so only the
 * shape yarn writes is parsed, and any other counts as unread.
 */
interface YarnLockEntry {
  key: string;
  name: string | null;
  resolution: string | null;
  binMap: string[];
  binString: boolean;
  deps: string[];
}

/** yarn.lock's entries in the shape yarn writes; null: yarn 1's or none; "irregular": other. */
function parseYarnLock(text: string): YarnLockEntry[] | null | "irregular" {
  const entries: YarnLockEntry[] = [];
  let berry = false;
  let entry: YarnLockEntry | null = null;
  let section: "bin" | "deps" | null = null;
  // How deep the next line may be: one level below a key with no value, else as deep.
  let deepest = 0;
  let yarn1 = true;
  let syml = true;
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    // A yarn 1 key spells `__metadata` plainly if at all: then it is not yarn 1's.
    if (yarn1 && (!YARN1_LINE.test(line) || line.includes("__metadata"))) yarn1 = false;
    if (!syml) {
      if (!yarn1) return "irregular";
      continue;
    }
    const match = SYML_LINE.exec(line);
    const depth = (match?.[1]?.length ?? 0) / 2;
    const key = match === null ? null : symlScalar(match[2] as string);
    const raw = match?.[3];
    const value = raw === undefined ? undefined : symlScalar(raw);
    if (key === null || depth > deepest || value === null) {
      syml = false;
      if (!yarn1) return "irregular";
      continue;
    }
    deepest = value === undefined ? depth + 1 : depth;
    if (depth === 0) {
      entry = null;
      section = null;
      if (key === "__metadata") berry = true;
      else if (value === undefined) {
        entry = { key, name: null, resolution: null, binMap: [], binString: false, deps: [] };
        entries.push(entry);
      }
    } else if (depth === 1 && entry !== null) {
      section = null;
      if (key === "bin") {
        // yarn's Manifest takes a string `bin` as one bin named for the package.
        if (value === undefined) section = "bin";
        else entry.binString = true;
      } else if (key === "name" && value !== undefined) entry.name = value;
      else if (key === "resolution" && value !== undefined) entry.resolution = value;
      else if (key === "dependencies" && value === undefined) section = "deps";
    } else if (depth === 2 && entry !== null && section === "bin") entry.binMap.push(key);
    else if (depth === 2 && entry !== null && section === "deps") entry.deps.push(key);
  }
  // A yarn 1 lockfile names no `__metadata` (its keys hold no escapes to spell one with).
  return syml && berry ? entries : null;
}

/**
 * An entry's bins as yarn's Manifest.load names them: the name part of each key (`@scope/node`
 * is a bin `node`), and a string `bin` after the package's `name` (here also after every name
 * the entry's key gives it).
 */
function entryBins(e: YarnLockEntry): string[] {
  const out = e.binMap.map(identName);
  if (e.binString) {
    for (const n of [e.name, ...descriptorNames(e.key)]) if (n !== null) out.push(identName(n));
  }
  return out;
}

export function yarnLockBins(text: string): Map<string, string[]> | null | "irregular" {
  const entries = parseYarnLock(text);
  if (entries === null || entries === "irregular") return entries;
  // `yarn <script>` puts on PATH the bins of the workspace and of its direct dependencies
  // (scriptUtils.getPackageAccessibleBinaries): the workspaces' entries and those their
  // `dependencies` name. A package further down brings its bins to no script of the project.
  // yarn maps every descriptor of a key to its entry: an entry is direct when any one is.
  const workspace = (e: YarnLockEntry): boolean => /@workspace:/.test(e.key);
  const direct = new Set<string>();
  for (const e of entries) if (workspace(e)) for (const dep of e.deps) direct.add(dep);
  const bins = new Map<string, string[]>();
  for (const e of entries) {
    if (!workspace(e) && !descriptorNames(e.key).some((n) => direct.has(n))) continue;
    for (const name of entryBins(e)) {
      const declaring = bins.get(name) ?? [];
      if (!declaring.includes(e.key)) declaring.push(e.key);
      bins.set(name, declaring);
    }
  }
  return bins;
}

/**
 * Every package's bins in yarn.lock, by the name its `resolution` gives it (the package the
 * install state holds), else by every name its key gives it. null when yarn.lock is not read.
 */
export function yarnLockPackageBins(text: string): Map<string, Set<string>> | null {
  const entries = parseYarnLock(text);
  if (entries === null || entries === "irregular") return null;
  const out = new Map<string, Set<string>>();
  for (const e of entries) {
    const resolved = e.resolution === null ? null : descriptorNames(e.resolution)[0];
    for (const pkg of resolved != null ? [resolved] : descriptorNames(e.key)) {
      const names = out.get(pkg) ?? new Set<string>();
      for (const bin of entryBins(e)) names.add(bin);
      out.set(pkg, names);
    }
  }
  return out;
}

/** The package names a lockfile key's descriptors name (`@s/a@npm:1, b@npm:2` → `@s/a`, `b`). */
function descriptorNames(key: string): string[] {
  const out: string[] = [];
  for (const part of key.split(",")) {
    const descriptor = part.trim();
    const at = descriptor.indexOf("@", descriptor.startsWith("@") ? 1 : 0);
    if (at > 0) out.push(descriptor.slice(0, at));
  }
  return out;
}

/** A bin key or package name as yarn names the bin: the part after a scope (`@s/x` → `x`). */
function identName(name: string): string {
  const slash = name.lastIndexOf("/");
  return slash === -1 ? name : name.slice(slash + 1);
}

/** A bin name watched in yarn 2+'s bin maps: the script prefix's or a host command's. */
function watchedYarnBin(name: string, commands: ReadonlySet<string>): boolean {
  const stem = name.endsWith(".exe") ? name.slice(0, -4) : name;
  return PREFIX_BINS.has(stem) || commands.has(stem);
}

/**
 * yarn 2+'s install state at its default `installStatePath` (the root's `.yarnrc.yml`, read-only
 * inside, can name another; that one is not looked at).
 */
const YARN_STATE = join(".yarn", "install-state.gz");
/** The most of an install state read (compressed), and the most it may inflate to. */
const MAX_YARN_STATE = 64 << 20;
const MAX_YARN_STATE_INFLATED = 256 << 20;

/**
 * The bin names yarn 2+'s install state declares: the `bin` map of every package in
 * `storedPackages`, which yarn restores in place of yarn.lock's (bins included) while the
 * `lockFileChecksum` recorded beside them matches yarn.lock. yarn 4 writes it as gzip of
 * `v8.serialize(state)`. null for anything else: not gzip, inflating past the bound, not v8
 * data, or not in the shape yarn writes (what it is read as by yarn then is not known here).
 */
export function yarnStateBins(compressed: Buffer): Map<string, Set<string>> | null {
  let state: unknown;
  try {
    // Loaded here, not at start: only a yarn 2+ project has a state to read, and node's zlib and
    // v8 modules cost every run a few ms of start-up.
    const { gunzipSync } = process.getBuiltinModule("node:zlib");
    const { deserialize } = process.getBuiltinModule("node:v8");
    state = deserialize(gunzipSync(compressed, { maxOutputLength: MAX_YARN_STATE_INFLATED }));
  } catch {
    return null;
  }
  if (state === null || typeof state !== "object" || Array.isArray(state)) return null;
  const stored = (state as { storedPackages?: unknown }).storedPackages;
  if (!(stored instanceof Map)) return null;
  // By package (`@scope/name`): the bins a package has, as yarn.lock names them for it.
  const out = new Map<string, Set<string>>();
  for (const pkg of stored.values()) {
    if (pkg === null || typeof pkg !== "object") return null;
    const { bin, name, scope } = pkg as { bin?: unknown; name?: unknown; scope?: unknown };
    if (!(bin instanceof Map) || typeof name !== "string") return null;
    if (scope !== null && scope !== undefined && typeof scope !== "string") return null;
    const full = typeof scope === "string" ? `@${scope}/${name}` : name;
    const names = out.get(full) ?? new Set<string>();
    for (const key of bin.keys()) {
      if (typeof key !== "string") return null;
      // yarn writes each wrapper at path.join(its bin folder, name): `./node` is `node`, and
      // `../…` lands outside the folder. yarn stores plain names; any other is no state of its.
      if (key === "" || key === "." || key === ".." || /[/\\]/.test(key)) return null;
      names.add(key);
    }
    out.set(full, names);
  }
  return out;
}

/** A regular file's bytes, never through a final link; null for anything else or over `max`. */
function bytesOrNull(path: string, max: number): Buffer | null {
  try {
    return readRegularBytes(path, true, max);
  } catch {
    return null;
  }
}

/**
 * Why a new or changed install state at the root is moved aside: the watched bins it declares
 * that the root's yarn.lock (its "yarnbin" entries after the run) does not, or that it cannot
 * be read; null when every watched bin it declares is yarn.lock's too. Read only here, after
 * the run, and only for a state that changed during it.
 */
function yarnStateDetail(
  root: string,
  path: string,
  after: ReadonlyMap<string, Entry>,
  commands: ReadonlySet<string>,
): string | null {
  const unread =
    "it cannot be read as the install state yarn writes (a link or special file, too large, or not gzip'd v8 data in yarn's shape)";
  if (!realDirChain(root, dirname(path))) return unread;
  const bytes = bytesOrNull(path, MAX_YARN_STATE);
  const bins = bytes === null ? null : yarnStateBins(bytes);
  if (bins === null) return unread;
  // Against every bin yarn.lock declares, not only those its scripts see (a dependency's own
  // dependency has its bins in the state too).
  const lock = join(root, "yarn.lock");
  const text = after.has(`${lock}${YARN_KEY}unread`) ? null : readRegular(lock, MAX_LOCKFILE);
  const declared = (text === null ? null : yarnLockPackageBins(text)) ?? new Map();
  // Each package's watched bins must be those yarn.lock declares for that package: a bin given
  // to a direct dependency makes it one `yarn <script>` sees.
  const undeclaredSet = new Set<string>();
  for (const [pkg, names] of bins) {
    for (const name of names) {
      if (watchedYarnBin(name, commands) && !declared.get(pkg)?.has(name)) undeclaredSet.add(name);
    }
  }
  const undeclared = [...undeclaredSet].sort();
  if (undeclared.length === 0) return null;
  const names = undeclared.map((n) => `\`${n}\``).join(", ");
  return `it declares ${undeclared.length === 1 ? "a bin" : "bins"} named ${names} that yarn.lock does not`;
}

/** Options shared by `snapshot` and `check`. */
export interface WalkOptions {
  /** Paths not to look at: read-only inside (the project's .git, `protect`). */
  skip: readonly string[];
  /** The host's command names (systemCommands), gathered once per run. */
  commands?: ReadonlySet<string>;
  /**
   * Config file names a package manager obeys (hostfiles.ts's HOST_RUN_FILES), watched in every
   * sub-project.
   */
  configNames?: readonly string[];
  /**
   * A relative core.hooksPath of the system or user config (rootGitPlaces): it applies to a
   * nested repository whose own config sets none, from that repository's top.
   */
  userHooksPath?: string;
  /**
   * The `-c core.hooksPath=…` of the system or user config's aliases (rootGitPlaces): relative
   * ones apply to every nested repository, from its top.
   */
  userAliasHooks?: readonly string[];
  /**
   * The system and user config, with what its includes, aliases and git's environment give
   * (rootGitPlaces): the programs it names run in every nested repository, from its top.
   */
  userConfig?: readonly ConfigEntry[];
  /** Your home: a nested repository's `~/` values are read from it. */
  home?: string;
  /** Your environment: the variables a nested repository's `--config-env` names. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** The safe-npm that is running: its version and the dist/ directory it runs from. */
export interface RunningSelf {
  version: string;
  dist: string;
}

export function snapshot(root: string, watch: readonly Watch[], options: WalkOptions): Snapshot {
  const found: Watch[] = [];
  lstatCache = new Map();
  try {
    const entries = collect(root, watch, options, found);
    return { entries, watch: [...watch, ...found] };
  } finally {
    lstatCache = null;
  }
}

/**
 * Fingerprints everything again, moves aside what is new or changed since `before`, and says
 * what it did. `install`: the run was install-class (a project-local safe-npm may be upgraded);
 * `running`: the safe-npm doing the check, to compare an upgrade to its own version with.
 */
export function check(
  root: string,
  before: Snapshot,
  options: WalkOptions & { install: boolean; running?: RunningSelf | null },
): Finding[] {
  // The hooks directories are those known before the run: a hooksPath changed inside comes with
  // a changed config, and that repository is moved aside whole.
  const after = collect(root, before.watch, options, null, before);
  const suspects: { path: string; entry: Entry; old: Entry | undefined }[] = [];
  for (const [path, entry] of after) {
    const old = before.entries.get(path);
    if (old !== undefined && old.fp === entry.fp) continue;
    suspects.push({ path, entry, old });
  }
  // A local safe-npm is judged before the bins that start it: a bin into one moved aside goes too.
  const rank = (kind: WatchKind): number => (kind === "self" ? 0 : 1);
  suspects.sort((a, b) => rank(a.entry.kind) - rank(b.entry.kind) || (a.path < b.path ? -1 : 1));
  const findings: Finding[] = [];
  const moved: string[] = [];
  for (const { path, entry, old } of suspects) {
    // A lockfile's bin cannot be moved aside: the run stops and says so, once (the next run's
    // snapshot has it).
    if (entry.kind === "yarnbin") {
      const finding = yarnBinFinding(path, entry, old);
      if (finding !== null) findings.push(finding);
      continue;
    }
    // The top's package.json `main`, which host git's `node .` runs: it cannot be moved aside
    // (the install's own changes are in the file), so the run stops and says so.
    if (entry.kind === "gitconfig" && path.endsWith(`${KEY_PART}main`)) {
      if (old === undefined) continue;
      findings.push({
        kind: "gitconfig",
        path: path.slice(0, -`${KEY_PART}main`.length),
        movedTo: null,
        detail: `its "main" (${old.fp.replace(/^main:/, "")} before, ${entry.fp.replace(/^main:/, "")} now) is what \`node .\` runs, and a git program value runs \`node .\` on the host`,
      });
      continue;
    }
    // A project's package.json is judged by its `sandbox` key alone, and cannot be moved aside
    // (the install's own changes are in it): a key set or changed inside stops the run.
    if (entry.kind === "project") {
      // "unread": not a regular file, or not JSON — safe-npm's settings lookup cannot read it
      // either. A journal of an older safe-npm recorded no hash ("project").
      // Removing the key counts too: what it narrowed would be open in the next run.
      const had = old?.fp.replace(/^project:/, "") ?? "none";
      const has = entry.fp.replace(/^project:/, "");
      // A key that can no longer be read (the file made a link, not JSON) is gone as well.
      const lostOnly = has === "unread" && (had === "none" || had === "unread");
      if (has !== had && !lostOnly && had !== "project") {
        const content = sandboxKeyContent(path);
        findings.push({
          kind: "settings",
          path,
          movedTo: null,
          error:
            has === "none"
              ? "its `sandbox` key was removed; safe-npm does not edit package.json: put the key back"
              : has === "unread"
                ? "it can no longer be read for its `sandbox` key (a link, a special file, or not JSON): put it back"
                : "its `sandbox` key was set or changed; safe-npm does not edit package.json",
          ...(typeof content === "string" ? { settingsContent: content } : {}),
        });
      }
      continue;
    }
    // A folder below the root made a project root of its own: a run from there would take it
    // as its project, and the settings between it and this root would apply no longer, or
    // relative to it. The lockfile is moved aside; a `workspaces` key cannot be.
    if (entry.kind === "anchor") {
      if ((old !== undefined && old.fp !== "-") || entry.fp === "-") continue;
      const { folder, name } = anchorOf(path);
      if (folder === root) continue;
      const settings = settingsOver(folder, root, after);
      if (settings === null) continue;
      const detail = `it makes ${folder} a project of its own, so a run from there would no longer apply ${settings} as it does now`;
      // What is new is moved aside: a package.json made beside a lockfile or workspace file the
      // folder already had, else the lockfile. A `workspaces` key cannot be, and a new
      // pnpm-workspace.yaml is moved aside as the package managers' config it also is.
      const pkg = join(folder, "package.json");
      const pkgNew = before.entries.get(pkg)?.kind !== "project";
      const target = pkgNew ? pkg : LOCKFILES.includes(name) ? path : null;
      if (target === null) {
        if (name === "package.json")
          findings.push({
            kind: "anchor",
            path: pkg,
            movedTo: null,
            error:
              "its `workspaces` key was set; safe-npm does not edit package.json: remove the key",
            detail,
          });
        continue;
      }
      if (moved.includes(target)) continue;
      try {
        findings.push({ kind: "anchor", path: target, movedTo: quarantine(target, root), detail });
        moved.push(target);
      } catch (error) {
        findings.push({
          kind: "anchor",
          path: target,
          movedTo: null,
          error: (error as Error).message,
          detail,
        });
      }
      continue;
    }
    // The root still cannot be listed: nothing in it was checked.
    if (path === root && entry.fp.includes("unlistable")) {
      findings.push({
        kind: "unlistable",
        path,
        movedTo: null,
        error: "the project's folder cannot be listed, so nothing in it could be checked",
      });
      continue;
    }
    // Gone (nothing left to run), or the root itself (never moved; a hooks directory there is
    // checked hook by hook).
    if (entry.fp === "-" || entry.fp === "hookdir:-" || (path === root && entry.kind !== "git")) {
      continue;
    }
    if (moved.some((m) => path === m || path.startsWith(`${m}${sep}`))) continue;
    // yarn's install state, changed: read now, and moved aside only for a watched bin yarn.lock
    // does not declare, or when it cannot be read (yarn makes it again from yarn.lock).
    let detail: string | null = null;
    if (entry.kind === "yarnstate") {
      detail = yarnStateDetail(root, path, after, options.commands ?? new Set());
      if (detail === null) continue;
    }
    // An empty file or directory where there was nothing: the stand-in a run killed with SIGKILL
    // left (and the next run's guards bind as it is). Empty, it makes no tool do anything (an
    // empty .pnpmfile.cjs exports no hooks) — but an empty pnpm-workspace.yaml, which makes the
    // project look like pnpm's.
    if (
      entry.kind === "pmconfig" &&
      (old === undefined || old.fp === "-") &&
      basename(path) !== "pnpm-workspace.yaml" &&
      isEmpty(path)
    ) {
      continue;
    }
    if (entry.kind === "bin" && basename(path) === "safe-npm") {
      const self = join(dirname(dirname(path)), "safe-npm");
      if (!moved.includes(self) && pointsIntoSelf(path, root)) continue;
    }
    if (entry.kind === "self") {
      const to = entry.version ?? null;
      const from = old?.version ?? null;
      const project = dirname(dirname(path));
      // A first local safe-npm only in a project that existed before the run: otherwise the
      // run made the package.json and lockfile that vouch for it (a new folder between
      // workspace packages, whose node_modules/.bin a bare `npm run -w` puts on PATH).
      const projectBefore = before.entries.get(join(project, "package.json"))?.kind === "project";
      if (
        options.install &&
        to !== null &&
        to !== from &&
        (from !== null || projectBefore) &&
        declaresSelf(project) &&
        lockfileNames(root, project, path, to) &&
        (options.running == null ||
          to !== options.running.version ||
          (entry.dir != null && sameAsRunning(entry.dir, options.running.dist)))
      ) {
        findings.push({ kind: "self", path, movedTo: null, upgrade: { from, to } });
        continue;
      }
    }
    // A git dir shaped like a bare repository at the root cannot be moved: its HEAD can. A
    // folder made git-shaped inside (HEAD, objects/, refs/ put beside a package's own files)
    // loses its HEAD too, which is what makes git take it as a repository (setup.c
    // is_git_directory): the folder stays where its owner expects it. A `.git`, or a folder that
    // was a git dir before the run, is moved whole.
    const headOnly =
      entry.kind === "git" &&
      (path === root || (basename(path) !== ".git" && (old === undefined || old.fp === "-")));
    let target = headOnly ? join(path, "HEAD") : path;
    try {
      let movedTo: string;
      try {
        movedTo = quarantine(target, root);
      } catch (error) {
        // A HEAD that cannot be moved (a directory in its place that cannot be renamed, say):
        // then the folder, which must not stay a repository.
        if (!headOnly || path === root) throw error;
        target = path;
        movedTo = quarantine(target, root);
      }
      findings.push({
        kind: entry.kind,
        path: target,
        movedTo,
        ...(detail === null ? {} : { detail }),
        // The user's own settings file, changed inside: what it narrowed is gone with it.
        ...(entry.kind === "settings" && old !== undefined && old.fp !== "-"
          ? { settingsLost: true as const }
          : {}),
      });
      moved.push(target);
    } catch (error) {
      // Settings that stay where they are: what they say is recorded (guarded.ts), so that no
      // run trusts them for --trust-config.
      const text = entry.kind === "settings" ? readRegular(target) : null;
      findings.push({
        kind: entry.kind,
        path: target,
        movedTo: null,
        error: (error as Error).message,
        ...(detail === null ? {} : { detail }),
        ...(text === null ? {} : { settingsContent: text }),
      });
    }
  }
  // The root's lockfile (and workspaces key) removed: the next run would take a folder above
  // as its project, and the settings here would apply relative to that one.
  const rootAnchors = (entries: ReadonlyMap<string, Entry>): string[] =>
    [...entries.keys()].filter(
      (path) => entries.get(path)?.kind === "anchor" && anchorOf(path).folder === root,
    );
  const lostAnchors = rootAnchors(before.entries);
  if (lostAnchors.length > 0 && rootAnchors(after).length === 0) {
    const settings = settingsOver(null, root, after);
    const [first = root] = lostAnchors;
    if (settings !== null) {
      findings.push({
        kind: "anchor",
        path: join(root, anchorOf(first).name),
        movedTo: null,
        error: "it was removed: put it back (git checkout, or your copy)",
        detail: `without it a run from here would take a folder above ${root} as its project, where ${settings} would apply relative to that folder`,
      });
    }
  }
  // A settings file removed inside: what it narrowed would be open in the next run.
  for (const [path, entry] of before.entries) {
    if (entry.kind === "settings" && !after.has(path) && entry.fp !== "-") {
      findings.push({
        kind: "settings",
        path,
        movedTo: null,
        error: "it was removed: put it back (git checkout, or your copy)",
      });
    }
  }
  return findings;
}

const PNPM_WORKSPACE = "pnpm-workspace.yaml";

/**
 * The real path a `.git` file or link leads git to (its `gitdir:` line, or the link's target),
 * every link on the way resolved; "-" when it leads nowhere. Names only: nothing is opened but
 * a regular `.git` file.
 */
function gitLeadsTo(dotGit: string): string {
  const st = lstat(dotGit);
  if (st?.isSymbolicLink()) return realOrNull(dotGit) ?? "-";
  if (!st?.isFile()) return "-";
  const pointer = /^gitdir: *(.+?)\s*$/m.exec(readRegular(dotGit, 4096) ?? "")?.[1];
  return pointer === undefined ? "-" : (realOrNull(resolve(dirname(dotGit), pointer)) ?? "-");
}

/**
 * An "anchor" entry's folder and file: a lockfile by its path; pnpm-workspace.yaml and the
 * package.json `workspaces` key by a key of their own (their path is another entry's).
 */
function anchorOf(path: string): { folder: string; name: string } {
  const file = path.endsWith(`${KEY_PART}anchor`)
    ? path.slice(0, -`${KEY_PART}anchor`.length)
    : path;
  return { folder: dirname(file), name: basename(file) };
}

/**
 * The nearest settings source (a settings file, a package.json with a `sandbox` key) in `folder`
 * or a folder above it up to `root` — anywhere under `root` when `folder` is null — or null.
 */
function settingsOver(
  folder: string | null,
  root: string,
  entries: ReadonlyMap<string, Entry>,
): string | null {
  const isSettings = (path: string): boolean => {
    const entry = entries.get(path);
    if (entry === undefined) return false;
    if (entry.kind === "settings") return entry.fp !== "-";
    return entry.kind === "project" && /^project:[0-9a-f]+$/.test(entry.fp);
  };
  if (folder === null) {
    for (const path of entries.keys()) if (isSettings(path)) return path;
    return null;
  }
  for (let dir = folder; ; dir = dirname(dir)) {
    for (const name of REPO_SEARCH_PLACES) if (isSettings(join(dir, name))) return join(dir, name);
    if (dir === root || dir === dirname(dir)) return null;
  }
}

/**
 * What a new or changed "yarnbin" entry is reported as: the bin, and the yarn.lock entries
 * declaring it that did not before (none: a declaring package removed, nothing to report).
 */
function yarnBinFinding(key: string, entry: Entry, old: Entry | undefined): Finding | null {
  const at = key.lastIndexOf(YARN_KEY);
  const lock = key.slice(0, at);
  const what = key.slice(at + YARN_KEY.length);
  if (!what.startsWith("bin:")) {
    return {
      kind: "yarnbin",
      path: lock,
      movedTo: null,
      error:
        "yarn.lock was made a link or a special file, grew too large, or holds what yarn does not write, so the bins it declares could not be read",
    };
  }
  const name = what.slice("bin:".length);
  const declaring = (e: Entry | undefined): string[] => {
    try {
      const list = JSON.parse(e?.fp ?? "[]") as unknown;
      return Array.isArray(list) ? list.filter((d): d is string => typeof d === "string") : [];
    } catch {
      return [];
    }
  };
  const had = new Set(declaring(old));
  const added = declaring(entry).filter((d) => !had.has(d));
  if (added.length === 0) return null;
  const which = added.map((d) => JSON.stringify(d)).join(", ");
  return {
    kind: "yarnbin",
    path: lock,
    movedTo: null,
    error: `${added.length === 1 ? "the entry" : "the entries"} ${which} in yarn.lock ${added.length === 1 ? "declares" : "declare"} a bin named \`${name}\``,
  };
}

/**
 * The programs a nested repository's own config names (its aliases, ext remotes, filters), from
 * its top (`base`; upload-pack's from its git dirs): each in the project watched, a folder a
 * value runs in link-only. Its config itself is fingerprinted with the repository.
 */
function nestedPrograms(
  root: string,
  config: readonly ConfigEntry[],
  base: string,
  dirs: readonly string[],
  hooks: Watch[],
  home: string | undefined,
  user: UserPrograms | null,
): void {
  const add = (from: string, files: readonly ProgramFile[]): void => {
    for (const { path: named, named: how } of files) {
      if (how === "word" || (named.startsWith("~") && !(home && named.startsWith("~/")))) continue;
      const path = landNested(root, from, named, hooks, home);
      // A package's files (under node_modules) are what installs write. One in the git dir is
      // watched too: the git dir's fingerprint covers its config and hooks only.
      if (!inside(path, root)) continue;
      if (relative(root, path).split(sep).includes("node_modules")) continue;
      watchWayNested(root, path, hooks);
      const w: Watch =
        how === "cd" ? { kind: "gitconfig", path, linkOnly: true } : { kind: "gitconfig", path };
      if (!watchedAt(hooks, path).some((h) => !!h.linkOnly === !!w.linkOnly)) hooks.push(w);
      // A program that is a link (`tools/run.sh -> ../real/x.sh`): the file it leads to.
      if (how !== "cd" && lstat(path)?.isSymbolicLink())
        watchTargets(root, linkTargets(root, [[path, "gitconfig"]], dirs), hooks);
    }
  };
  // The user's remotes and url rewrites apply to the repository's remotes too.
  add(base, programFiles(user === null ? config : [...user.shared, ...config]));
  if (user !== null) add(base, user.files);
  for (const dir of dirs) {
    add(dir, programFiles([...config, ...commandConfig(config)].filter(runsInGitDir)));
    if (user !== null) add(dir, user.gitDirFiles);
  }
}

/**
 * What the user's config names for every nested repository (userHooks' `userConfig`), read once
 * per walk: the programs, those run in the git dir, and the remotes and url rewrites.
 */
interface UserPrograms {
  files: ProgramFile[];
  gitDirFiles: ProgramFile[];
  shared: ConfigEntry[];
}

function userPrograms(config: readonly ConfigEntry[]): UserPrograms | null {
  if (config.length === 0) return null;
  return {
    files: programFiles(config),
    gitDirFiles: programFiles([...config, ...commandConfig(config)].filter(runsInGitDir)),
    shared: config.filter((e) => SHARED_SECTIONS.has(e.section)),
  };
}

/**
 * Links git runs or reads through in a nested repository (its git dir's, its hooks folder's, a
 * program value's): where each leads in the project is watched as what it is, and so is each
 * link on the way — in the git dir too (`.git/shared -> ../scripts`, which the git dir's
 * fingerprint does not cover; the link itself is watched by its owner) — and each folder a
 * `..` steps out of. Returns where they lead (those in the project).
 */
function watchTargets(root: string, targets: readonly LinkTarget[], hooks: Watch[]): string[] {
  const out: string[] = [];
  for (const { link, kind, hops, outOf, target } of targets) {
    for (const dir of outOf)
      if (inside(dir, root) && !inModules(root, dir) && watchedAt(hooks, dir).length === 0)
        hooks.push({ kind: "gitconfig", path: dir, linkOnly: true });
    for (const hop of hops) {
      if (hop === link || !inside(hop, root) || inModules(root, hop)) continue;
      if (!watchedAt(hooks, hop).some((h) => !h.linkOnly))
        hooks.push({ kind: "gitconfig", path: hop });
    }
    if (target === null) continue;
    out.push(target);
    if (!watchedAt(hooks, target).some((h) => !h.linkOnly))
      hooks.push(
        target === root ? { kind, path: target, namesOnly: true } : { kind, path: target },
      );
  }
  return out;
}

/**
 * landAt for a nested repository's value (`~/` is `home`): each link on the way in the project is
 * watched for being pointed elsewhere, each folder a `..` steps out of for becoming a link.
 */
function landNested(root: string, base: string, value: string, hooks: Watch[], home = "/"): string {
  const links: string[] = [];
  const outOf: string[] = [];
  const path = landAt(root, home, base, value, links, outOf);
  for (const link of links)
    if (inside(link, root) && !inModules(root, link) && watchedAt(hooks, link).length === 0)
      hooks.push({ kind: "gitconfig", path: link });
  for (const dir of outOf)
    if (inside(dir, root) && !inModules(root, dir) && watchedAt(hooks, dir).length === 0)
      hooks.push({ kind: "gitconfig", path: dir, linkOnly: true });
  return path;
}

/**
 * The folders on the way from the top to a file a nested repository's git reads or runs, each
 * watched for being made a link (a link made there would lead git elsewhere, and the file
 * through it cannot be moved aside: the link itself is). A package's folders are its own.
 */
function watchWayNested(root: string, path: string, hooks: Watch[]): void {
  let dir = root;
  for (const part of relative(root, dirname(path)).split(sep)) {
    if (part === "" || part === "node_modules") return;
    dir = join(dir, part);
    if (!watchedAt(hooks, dir).some((h) => h.linkOnly))
      hooks.push({ kind: "gitconfig", path: dir, linkOnly: true });
  }
}

/**
 * The watches a walk's list (`hooks`) holds for `path`. The list only grows, and to thousands
 * with many nested repositories and a long user config: looking through it for each addition
 * made a walk quadratic. Indexed beside it, as it grows.
 */
const watchIndex = new WeakMap<readonly Watch[], { byPath: Map<string, Watch[]>; seen: number }>();
function watchedAt(hooks: readonly Watch[], path: string): readonly Watch[] {
  let index = watchIndex.get(hooks);
  if (index === undefined || index.seen > hooks.length) {
    index = { byPath: new Map(), seen: 0 };
    watchIndex.set(hooks, index);
  }
  for (; index.seen < hooks.length; index.seen++) {
    const w = hooks[index.seen] as Watch;
    const list = index.byPath.get(w.path);
    if (list === undefined) index.byPath.set(w.path, [w]);
    else list.push(w);
  }
  return index.byPath.get(path) ?? [];
}

/** A config boolean that is true (a bare key, `true`, `yes`, `on`, a non-zero number). */
function configTrue(entries: readonly ConfigEntry[], section: string, key: string): boolean {
  let found = false;
  for (const e of entries) {
    if (e.section !== section || e.subsection !== null || e.key !== key) continue;
    const v = e.value?.trim().toLowerCase() ?? "true";
    found = v === "true" || v === "yes" || v === "on" || (/^-?\d+$/.test(v) && Number(v) !== 0);
  }
  return found;
}

/** The folders the `..` of `rel` step out of, walked from `base` as text (the kernel follows a link there). */
function stepsOutOf(base: string, rel: string): string[] {
  if (isAbsolute(rel)) return [];
  const out: string[] = [];
  let at = base;
  for (const part of rel.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      out.push(at);
      at = dirname(at);
    } else at = join(at, part);
  }
  return out;
}

/** Fingerprints; `hooks`, when given, receives the hooks directories nested repositories name. */
function collect(
  root: string,
  watch: readonly Watch[],
  options: WalkOptions,
  hooks: Watch[] | null,
  before: Snapshot | null = null,
): Map<string, Entry> {
  const skip = new Set(options.skip);
  const commands = options.commands ?? new Set<string>();
  const out = new Map<string, Entry>();

  /**
   * A directory's entries; one that cannot be listed is recorded, so that it counts as new.
   * Each listing is kept for this walk (a store folder is asked for by several of the checks
   * below); one that failed is tried again each time, as before.
   */
  const listings = new Map<string, Dirent[]>();
  const listed = (dir: string): Dirent[] => {
    const cached = listings.get(dir);
    if (cached !== undefined) return cached;
    const list = (): Dirent[] | null =>
      listOrNull(dir, (name) => out.set(oddKey(dir, name), { kind: "oddname", fp: "oddname" }));
    // After the run, a root made unlistable inside (`chmod 0311 .`, as the same user) would hide
    // everything planted in it from a non-root check, and the root is never moved aside: its
    // owner gets read and search permission back first (root could list it anyway).
    if (
      before !== null &&
      dir === root &&
      !(before.entries.get(root)?.fp ?? "").includes("unlistable")
    )
      ownerListable(dir);
    const entries = list();
    if (entries !== null) {
      listings.set(dir, entries);
      return entries;
    }
    const known = out.get(dir);
    if (known === undefined) out.set(dir, { kind: "unlistable", fp: "unlistable" });
    else known.fp += "\nunlistable";
    return [];
  };

  /** Under a path not looked at (the project's `.git`, read-only inside). */
  const skipped = (path: string): boolean => [...skip].some((s) => path === s || inside(path, s));

  /**
   * A nested repository's guard, as the root's: from its top (`base`), the hooks directories
   * its config names (core.hooksPath, an alias's `-c core.hooksPath=…`, else the user's relative
   * one; the user's own aliases' too) and the programs its values run. `gitDirs`: its git dir
   * and common dir, where push hooks and upload-pack's programs run.
   */
  /** userPrograms of the user's config, once a nested repository needs it. */
  let user: UserPrograms | null | undefined;
  const guardRepo = (
    base: string,
    gitDirs: readonly string[],
    config: readonly ConfigEntry[],
    included = false,
  ): void => {
    if (hooks === null) return;
    // `--config-env` in its aliases, from your environment.
    const fromVars = options.env === undefined ? [] : configEnvConfig(config, options.env);
    // The user's config names programs for every repository (an alias's `-c core.fsmonitor`).
    user ??= userPrograms(options.userConfig ?? []);
    nestedPrograms(root, [...config, ...fromVars], base, gitDirs, hooks, options.home, user);
    const own = lastValue(config, "core", "hookspath") ?? options.userHooksPath ?? null;
    const values = new Set([
      ...(own === null ? [] : [own]),
      // With includes, every value counts (their place and includeIf's conditions decide).
      ...(included ? hooksPathValues(config) : []),
      ...hooksPathValues(commandConfig(config)),
      ...hooksPathValues(fromVars),
      ...(options.userAliasHooks ?? []),
    ]);
    // The folders git may run its hooks from: python one starts imports from the top first.
    const hookFolders = new Set(gitDirs.map((g) => join(g, "hooks")));
    for (const hooksPath of values) {
      if (hooksPath === "") continue;
      if (hooksPath.startsWith("~") && !(options.home && hooksPath.startsWith("~/"))) continue;
      // Push hooks run in the git dir: a relative hooksPath is read from there too.
      for (const from of new Set([base, ...gitDirs])) {
        const path = landNested(root, from, hooksPath, hooks, options.home);
        // husky's `.husky/_` stubs run the scripts one level up.
        const guarded = basename(path) === "_" && dirname(path) !== from ? dirname(path) : path;
        if (!(inside(guarded, root) || guarded === root)) continue;
        hookFolders.add(guarded);
        if (watchedAt(hooks, guarded).some((h) => h.kind === "hook")) continue;
        const namesOnly = guarded === base || gitDirs.includes(guarded) || guarded === root;
        hooks.push({ kind: "hook", path: guarded, namesOnly });
        // A hook in it that is a link to a file of the project: that file is what git runs.
        // A hooks folder that is a link: the folder it leads to (through any chain) is what git
        // runs hooks from; and a hook in it that is a link, the file that one leads to.
        const folder = lstat(guarded)?.isSymbolicLink()
          ? watchTargets(root, linkTargets(root, [[guarded, "hook"]], gitDirs), hooks)[0]
          : guarded;
        if (folder !== undefined) {
          const onlyNames =
            namesOnly || folder === base || gitDirs.includes(folder) || folder === root;
          watchTargets(root, linkTargets(root, linkedHooks(folder, onlyNames), gitDirs), hooks);
          hookFolders.add(folder);
        }
      }
    }
    // pre-commit's hook (`"$INSTALL_PYTHON" -mpre_commit`) in a nested repository: a module
    // made at its top runs instead (a new folder only as a regular package), as at the root's.
    const python = [...hookFolders]
      .flatMap((f) => hookTexts(f))
      .filter((t) => STARTS_PYTHON.test(t));
    if (python.length > 0 && !hooks.some((h) => h.modules && h.path === base)) {
      // A module it names that is not there: a folder of that name is imported, `__init__` or not.
      const stems = python
        .flatMap((t) => moduleNames(scriptAsProgram(t)[0]?.value ?? t))
        .filter(
          (n) =>
            !PYTHON_STDLIB.has(n) &&
            lstat(join(base, n)) === null &&
            lstat(join(base, `${n}.py`)) === null,
        );
      hooks.push({
        kind: "gitconfig",
        path: base,
        modules: true,
        stems: [...new Set(stems)].sort(),
        packagesOnly: true,
      });
    }
  };

  /**
   * What a nested git dir's links lead to in the project (a hooks folder or hook linked to a
   * tracked script, a linked config) is watched as the hook or config it is; and a common dir
   * its `commondir` names in the project is fingerprinted as a git dir of its own (its hooks and
   * config are the repository's, with or without a HEAD there).
   */
  const gitDirExtras = (dir: string, commonDir: string): void => {
    // Before and after the run alike: the common dir's fingerprint is compared.
    if (commonDir !== dir && inside(commonDir, root) && realDirChain(root, commonDir))
      gitDir(commonDir, "bare");
    if (hooks === null) return;
    watchTargets(root, gitDirLinkTargets(root, dir, commonDir), hooks);
  };

  const gitDir = (dir: string, kind: "dotgit" | "bare"): void => {
    if (out.has(dir)) return;
    out.set(dir, { kind: "git", fp: gitDirFp(dir, listed) });
    const common = readRegular(join(dir, "commondir"), 4096)?.trim();
    const commonDir = common ? resolve(dir, common) : dir;
    gitDirExtras(dir, commonDir);
    if (hooks === null) return;
    // A linked config is read where it leads, as git reads it (what it leads to is watched).
    const own = parseGitConfig(readGitDirFile(join(dir, "config")) ?? "");
    // extensions.worktreeConfig: the worktree's own config.worktree too, read after it.
    const worktreeFile = configTrue(own, "extensions", "worktreeconfig")
      ? parseGitConfig(readGitDirFile(join(dir, "config.worktree")) ?? "")
      : [];
    const included: string[] = [];
    const config = [
      ...withIncludes(own, dir, [dir], included),
      ...withIncludes(worktreeFile, dir, [dir], included),
    ];
    const top = kind === "dotgit" ? dirname(dir) : dir;
    for (const base of worktreeTops(dir, own, config, included.length > 0, top))
      guardRepo(base, [dir], config, included.length > 0);
  };

  /**
   * Where a nested repository's worktree is: core.worktree's last value, from the git dir, else
   * `top`. With includes, every value counts (an include's place and includeIf's conditions
   * decide which git takes), and `top` too unless the repository's own file sets one.
   */
  const worktreeTops = (
    dir: string,
    own: readonly ConfigEntry[],
    config: readonly ConfigEntry[],
    included: boolean,
    top: string,
  ): string[] => {
    const last = lastValue(config, "core", "worktree");
    if (!included) return [last !== null && last !== "" ? resolve(dir, last) : top];
    const values = config
      .filter((e) => e.section === "core" && e.subsection === null && e.key === "worktree")
      .flatMap((e) => (e.value ? [resolve(dir, e.value)] : []));
    const ownValue = lastValue(own, "core", "worktree");
    return [...new Set([...values, ...(ownValue ? [] : [top])])];
  };

  /**
   * A nested repository's config with the files it includes read in where each include stands
   * (include.path, and includeIf's whatever its condition), as git reads them: relative to the
   * including file's folder, `~/` from your home, through links, at most 10 deep. Each file
   * lands in `included`; one in the project (not a package's, not in the read-only `.git`) is
   * watched, and where it leads when it is a link.
   */
  const withIncludes = (
    entries: readonly ConfigEntry[],
    from: string,
    gitDirs: readonly string[],
    included: string[],
    depth = 0,
  ): ConfigEntry[] => {
    const out: ConfigEntry[] = [];
    for (const e of entries) {
      out.push(e);
      if (hooks === null || depth >= MAX_INCLUDE_DEPTH || includePaths([e]).length === 0) continue;
      if (e.value === null) continue;
      const value = e.value;
      if (value === "" || (value.startsWith("~") && !(options.home && value.startsWith("~/"))))
        continue;
      const file = landNested(root, from, value, hooks, options.home);
      // Each file once (as rootGitPlaces reads them): one that includes itself twice would be
      // read a number of times exponential in the depth.
      if (included.includes(file)) continue;
      included.push(file);
      if (inside(file, root) && !skipped(file) && !inModules(root, file)) {
        watchWayNested(root, file, hooks);
        if (!watchedAt(hooks, file).some((h) => !h.linkOnly))
          hooks.push({ kind: "gitconfig", path: file });
        if (lstat(file)?.isSymbolicLink())
          watchTargets(root, linkTargets(root, [[file, "gitconfig"]], gitDirs), hooks);
      }
      const text = readThroughLinks(file);
      if (text === null) continue;
      for (const inner of withIncludes(
        parseGitConfig(text),
        dirname(file),
        gitDirs,
        included,
        depth + 1,
      ))
        out.push(inner);
    }
    return out;
  };

  /**
   * A `.git` file (a submodule's `gitdir: ../.git/modules/sub`, a linked worktree's): recorded
   * whole, and the repository it points to guarded from the folder holding it as a nested
   * one's. Its git dir (and the `commondir` there) is read where it lies — outside the project
   * too, the host's — only through real folders in the project and only regular files there.
   */
  const gitFile = (path: string): void => {
    // Where it leads, by its real path, is part of what it is: code inside can make a folder on
    // the way a link (to a git dir it writes outside the project) and leave the `.git` as it was.
    out.set(path, { kind: "git", fp: `${entryFp(path, true)}\nleads:${gitLeadsTo(path)}` });
    const st = lstat(path);
    if (st === null) return;
    const top = dirname(path);
    // A `.git` that is a link (one made inside is new, and moved aside whole) leads git to a git
    // dir or to a `.git` file: read where it leads, by its real path (no link on the way).
    let linked: string | null = null;
    let text: string | null = null;
    if (st.isSymbolicLink()) {
      const real = realOrNull(path);
      const kind = real === null ? null : lstat(real);
      if (real !== null && kind?.isDirectory()) linked = real;
      else if (real !== null && kind?.isFile()) text = readThroughLinks(real, 4096);
      else {
        guardRepo(top, [], []);
        return;
      }
    } else if (st.isFile()) text = readRegular(path, 4096);
    else return;
    /** `rel` from `from`, when no folder of the project its `..` steps out of is a link. */
    const reach = (from: string, rel: string): string | null => {
      const to = resolve(from, rel);
      return stepsOutOf(from, rel).every((d) => !inside(d, root) || realDirChain(root, d))
        ? to
        : null;
    };
    // In the project, through real folders and never a link; outside it, as git reads it.
    const read = (file: string): string | null =>
      !inside(file, root)
        ? readThroughLinks(file)
        : realDirChain(root, dirname(file))
          ? readGitDirFile(file)
          : null;
    const pointer = /^gitdir: *(.+?)\s*$/m.exec(text ?? "")?.[1];
    const dir = linked ?? (pointer === undefined ? null : reach(top, pointer));
    const common = dir === null ? undefined : read(join(dir, "commondir"))?.trim();
    const commonDir = dir !== null && common ? reach(dir, common) : dir;
    // Not reached: the user's own hooksPath still applies from its top.
    if (dir === null || commonDir === null) {
      guardRepo(top, [], []);
      return;
    }
    // After the run, only the common dir's fingerprint is wanted (gitDirExtras).
    if (hooks === null) {
      gitDirExtras(dir, commonDir);
      return;
    }
    const files = [join(commonDir, "config")];
    const own = parseGitConfig(read(files[0] as string) ?? "");
    const gitDirs = [...new Set([dir, commonDir])];
    const included: string[] = [];
    let config = withIncludes(own, commonDir, gitDirs, included);
    if (configTrue(own, "extensions", "worktreeconfig")) {
      files.push(join(dir, "config.worktree"));
      const worktreeFile = parseGitConfig(read(files[1] as string) ?? "");
      config = [...config, ...withIncludes(worktreeFile, dir, gitDirs, included)];
    }
    // Its config files in the project (outside the read-only `.git`): one changed is moved aside.
    for (const file of files) {
      if (inside(file, root) && !skipped(file) && watchedAt(hooks, file).length === 0)
        hooks.push({ kind: "gitconfig", path: file });
    }
    // core.worktree moves the top, read from the git dir (as gitDir reads it).
    gitDirExtras(dir, commonDir);
    for (const base of worktreeTops(dir, own, config, included.length > 0, top))
      guardRepo(base, gitDirs, config, included.length > 0);
  };

  const walk = (dir: string, isGitDir: boolean): void => {
    const entries = listed(dir);
    const names = new Set(entries.map((e) => e.name));
    // Where a package.json is: a project a local safe-npm may be installed into (check()).
    // Its `sandbox` key is safe-npm's settings for a run started at or below it: by hash.
    if (!isGitDir && names.has("package.json")) {
      const path = join(dir, "package.json");
      const parsed = readPackageJson(path);
      out.set(path, { kind: "project", fp: `project:${sandboxKeyHash(parsed)}` });
      // What makes a folder a project root (host/project.ts findProject): a lockfile, or a
      // `workspaces` key. One made inside below the root moves the next run's root there, where
      // the settings that applied (further up, or relative to the old root) no longer do.
      for (const name of LOCKFILES) {
        if (names.has(name)) out.set(join(dir, name), { kind: "anchor", fp: "anchor" });
      }
      if (names.has(PNPM_WORKSPACE)) {
        out.set(`${join(dir, PNPM_WORKSPACE)}${KEY_PART}anchor`, { kind: "anchor", fp: "anchor" });
      }
      if (parsed !== null && typeof parsed === "object" && "workspaces" in parsed) {
        out.set(`${path}${KEY_PART}anchor`, { kind: "anchor", fp: "anchor" });
      }
    }
    // safe-npm's settings files, wherever a run may start: one made or changed inside would
    // choose the next run's sandbox (with --trust-config, widen it).
    if (!isGitDir) {
      for (const name of SETTINGS_FILES) {
        const path = join(dir, name);
        // By content: a copy put back by hand is the same settings.
        if (names.has(name) && !skip.has(path))
          out.set(path, { kind: "settings", fp: entryFp(path, false) });
      }
    }
    const shaped = isGitDir || gitShaped(names);
    if (shaped && !isGitDir) gitDir(dir, "bare");
    // A sub-project (docs/, a workspace package): a package manager run there obeys its own
    // config files. The root's are kept read-only (hostfiles.ts). yarn also reads the rc files
    // of every folder above where it runs: elsewhere one that exists is watched too, and one
    // that is new shows up after the run.
    if (!isGitDir && dir !== root) {
      const project = names.has("package.json") || names.has("node_modules");
      for (const name of options.configNames ?? []) {
        const path = join(dir, name);
        if (skip.has(path) || !(project || names.has(name))) continue;
        out.set(path, { kind: "pmconfig", fp: entryFp(path, true) });
      }
    }
    // A sub-project's .yarn/releases and .yarn/plugins: what its yarn runs, file by file.
    if (!isGitDir && dir !== root && /\/\.yarn\/(?:releases|plugins)(?:\/|$)/.test(dir)) {
      for (const entry of entries) {
        const path = join(dir, entry.name);
        if (!entry.isDirectory() && !skip.has(path)) {
          out.set(path, { kind: "pmconfig", fp: entryFp(path, true) });
        }
      }
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (skip.has(path)) continue;
      if (entry.name === ".git") {
        if (entry.isDirectory()) {
          gitDir(path, "dotgit");
          walk(path, true);
        } else gitFile(path);
        continue;
      }
      if (entry.name === "node_modules" && !isGitDir && !entry.isDirectory()) {
        // A linked node_modules would bring a `.bin` from elsewhere onto a bare run's PATH.
        out.set(path, { kind: "bin", fp: entryFp(path, false) });
        continue;
      }
      if (!entry.isDirectory()) continue;
      // A git dir's data folders are not walked (too many objects), but after the run only
      // where the folder was one before too: a folder made git-shaped inside (the root gets a
      // HEAD, objects/, refs/) would otherwise hide what is planted in its logs/ or refs/.
      if (
        shaped &&
        GIT_DATA.has(entry.name) &&
        (before === null || isGitDir || before.entries.get(dir)?.kind === "git")
      )
        continue;
      if (entry.name === "node_modules") nodeModules(path);
      else walk(path, false);
    }
  };

  /** A watched `.bin` entry and, for a folder, what it holds (never through a link). */
  const binTree = (path: string, depth: number): void => {
    // Content only: `npm ci` re-creates the same links and shims.
    out.set(path, { kind: "bin", fp: entryFp(path, false) });
    if (depth < MAX_BIN_DEPTH && lstat(path)?.isDirectory()) {
      for (const entry of listed(path)) binTree(join(path, entry.name), depth + 1);
    }
  };

  /** Package directories (and theirs one level down), shadowing bins, a local safe-npm. */
  /**
   * The `.bin` of a node_modules: what a bare package manager puts first on PATH for a script
   * run there (the project's, a package's own, pnpm's store levels for a dependency's
   * lifecycle script), so a `.bin/node` or `.bin/sh` there stands in for the host's.
   */
  const binsOf = (nm: string, nested = false): void => {
    // In a package's own or a store's node_modules only what a lifecycle script there finds
    // first: `safe-npm` is the project's script prefix, looked up in the project's `.bin`
    // (and pnpm gives safe-npm's own package a `.bin/safe-npm` of its own in the store).
    const prefix = nested ? NESTED_PREFIX_BINS : PREFIX_BINS;
    const binDir = join(nm, ".bin");
    const binSt = lstat(binDir);
    if (binSt?.isDirectory()) {
      for (const entry of listed(binDir)) {
        // pnpm's shims run `$basedir/<interpreter>` when it is executable: `.bin/sh` for a bin
        // whose first line is `#!/usr/bin/env sh`, `.bin//bin/sh` for `#!/bin/sh`, and
        // `.bin/sh.exe` under WSL. So a name like a host command or INTERPRETER_ROOTS, with or
        // without `.exe`, and any folder: no manager makes one.
        const stem = entry.name.endsWith(".exe") ? entry.name.slice(0, -4) : entry.name;
        if (!entry.isDirectory() && !prefix.has(stem) && !commands.has(stem)) continue;
        binTree(join(binDir, entry.name), 0);
      }
    } else if (binSt !== null) out.set(binDir, { kind: "bin", fp: entryFp(binDir, false) });
  };

  /**
   * A bare install's lifecycle script gets `<dir>/node_modules/.bin` on PATH for every folder
   * from its package up to the root (npm's set-path): so the `.bin` of every nested
   * node_modules, at any depth, and a `node_modules` where no manager makes one — in a
   * node_modules itself or in an @scope folder — recorded whole.
   */
  const scriptPaths = (nm: string, depth: number): void => {
    const stray = [join(nm, "node_modules")];
    for (const entry of listed(nm)) {
      if (entry.isDirectory() && entry.name.startsWith("@")) {
        stray.push(join(nm, entry.name, "node_modules"));
      }
    }
    for (const path of stray) if (lstat(path) !== null) binTree(path, 0);
    if (depth >= MAX_NESTING) return;
    for (const pkg of packagesIn(nm, listed)) {
      if (basename(pkg) === "node_modules") continue;
      const inner = join(pkg, "node_modules");
      if (skip.has(inner) || !lstat(inner)?.isDirectory()) continue;
      binsOf(inner, true);
      scriptPaths(inner, depth + 1);
    }
  };

  const nodeModules = (nm: string): void => {
    binsOf(nm);
    scriptPaths(nm, 0);
    const self = join(nm, "safe-npm");
    if (lstat(self) !== null) out.set(self, selfEntry(root, self));
    // git's discovery walks up from where it runs: a repository at node_modules itself, at an
    // @scope folder or anywhere up pnpm's store path takes over `git status` in every package
    // below it. Those folders are looked at by name only (a `.git`, or a HEAD).
    probeGit(nm);
    scopesIn(nm);
    linkedPackages(nm);
    for (const pkg of packagesIn(nm, listed)) {
      const nested = packageDir(pkg);
      if (!nested) continue;
      const inner = join(pkg, "node_modules");
      probeGit(inner);
      scopesIn(inner);
      linkedPackages(inner);
      for (const dep of packagesIn(inner, listed)) packageDir(dep);
    }
    // pnpm's .pnpm, bun's .bun, yarn's pnpm linker's .store, and any other dot-folder.
    for (const entry of listed(nm)) {
      const path = join(nm, entry.name);
      if (
        entry.isDirectory() &&
        entry.name.startsWith(".") &&
        entry.name !== ".bin" &&
        !skip.has(path)
      ) {
        store(path);
      }
    }
  };
  /** `.git` in `dir`, or `dir` itself git-shaped: two lstat calls unless a HEAD is there. */
  const probeGit = (dir: string): void => {
    if (skip.has(dir)) return;
    const dotGit = join(dir, ".git");
    // A folder listed in this walk already: its names answer both lookups (most miss).
    const entries = listings.get(dir);
    if (entries !== undefined) {
      const entry = entries.find((e) => e.name === ".git");
      if (entry?.isDirectory()) gitDir(dotGit, "dotgit");
      else if (entry !== undefined) gitFile(dotGit);
      if (entries.some((e) => e.name === "HEAD") && gitShaped(new Set(entries.map((e) => e.name))))
        gitDir(dir, "bare");
      return;
    }
    const st = lstat(dotGit);
    if (st?.isDirectory()) gitDir(dotGit, "dotgit");
    else if (st !== null) gitFile(dotGit);
    if (lstat(join(dir, "HEAD")) !== null && gitShaped(new Set(listed(dir).map((e) => e.name))))
      gitDir(dir, "bare");
  };
  /**
   * A package that is a link within the project (pnpm's into `.pnpm/`, or one a run made into
   * any folder): git's discovery from it starts at its real folder and walks up from there, so
   * that folder and each above it up to the root is looked at by name, each once. The link is
   * read, never followed; one that leads out of the project is not (nothing there is ours).
   */
  const linkedPackages = (nm: string): void => {
    for (const link of linksIn(nm, listed)) {
      // A link that leaves the project by its spelling can come back in (through
      // /proc/self/root, or a link outside that points in): where it really lands counts.
      const real = resolveWithin(link, [root]) ?? realpathWithin(link, root);
      if (real === null) continue;
      for (let dir = real; inside(dir, root) && !probed.has(dir); dir = dirname(dir)) {
        probed.add(dir);
        probeGit(dir);
      }
    }
  };
  const probed = new Set<string>();
  /** The @scope folders of a node_modules. */
  const scopesIn = (nm: string): void => {
    for (const entry of listed(nm)) {
      if (entry.isDirectory() && entry.name.startsWith("@")) probeGit(join(nm, entry.name));
    }
  };
  /**
   * A store in node_modules (pnpm's `.pnpm/<name@version>/node_modules/<pkg>`, bun's `.bun/…`
   * alike, yarn's pnpm linker's `.store/<name>-<hash>/package`), by name only: the folder, each
   * folder in it, each folder in those, and in a node_modules there its packages and scopes.
   */
  const store = (dir: string): void => {
    // Each folder listed before it is probed: probeGit then reads the listing.
    const entries = listed(dir);
    probeGit(dir);
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const level = join(dir, entry.name);
      const inners = listed(level);
      probeGit(level);
      // pnpm's `.pnpm/node_modules` (its hoisted packages' bins).
      if (entry.name === "node_modules") binsOf(level, true);
      for (const inner of inners) {
        if (!inner.isDirectory()) continue;
        const path = join(level, inner.name);
        if (inner.name === "node_modules") listed(path);
        probeGit(path);
        if (inner.name !== "node_modules") continue;
        binsOf(path, true);
        scriptPaths(path, 0);
        scopesIn(path);
        for (const pkg of packagesIn(path, listed)) probeGit(pkg);
      }
    }
  };
  /** Looks at one package directory; true when it has a node_modules directory. */
  const packageDir = (pkg: string): boolean => {
    if (skip.has(pkg)) return false;
    const entries = listed(pkg);
    const names = new Set(entries.map((e) => e.name));
    if (gitShaped(names)) gitDir(pkg, "bare");
    const dotGit = entries.find((e) => e.name === ".git");
    if (dotGit !== undefined) {
      const path = join(pkg, ".git");
      if (dotGit.isDirectory()) gitDir(path, "dotgit");
      else gitFile(path);
    }
    return entries.some((e) => e.name === "node_modules" && e.isDirectory());
  };

  /** Every entry below `dir` (links not followed), up to MAX_ALWAYS_ENTRIES; more count as new. */
  const alwaysTree = (dir: string, kind: WatchKind): void => {
    let left = MAX_ALWAYS_ENTRIES;
    const visit = (at: string): void => {
      for (const entry of listed(at)) {
        const path = join(at, entry.name);
        if (--left < 0) {
          out.set(dir, { kind, fp: "too many entries to check" });
          return;
        }
        if (!out.has(path)) out.set(path, { kind, fp: entryFp(path, true) });
        if (entry.isDirectory()) visit(path);
      }
    };
    visit(dir);
  };

  /**
   * yarn 2+ runs `yarn <script>` with a folder of wrappers for the bins of the workspace's
   * dependencies first on PATH, taken from yarn.lock (the `bin:` map of each entry), not from
   * node_modules/.bin: each bin there named like the root `.bin`'s watched names, by the
   * entries declaring it.
   */
  const yarnBins = (): void => {
    const lock = join(root, "yarn.lock");
    const st = lstat(lock);
    if (st === null) return;
    // A link or special file (yarn reads what it leads to), too large, or a shape yarn does not
    // write: recorded by what it is, so that one made so inside shows.
    let unread: string | null = null;
    let bins: Map<string, string[]> | null = null;
    const text =
      !st.isFile() || st.size > MAX_LOCKFILE ? null : readRegular(lock, MAX_LOCKFILE + 1);
    if (!st.isFile()) unread = entryFp(lock, false);
    else if (text === null || Buffer.byteLength(text) > MAX_LOCKFILE) {
      unread = `unread:${entryFp(lock, true)}`;
    } else {
      const found = yarnLockBins(text);
      if (found === "irregular") {
        unread = `irregular:${createHash("sha256").update(text).digest("hex")}`;
      } else bins = found;
    }
    if (unread !== null) out.set(`${lock}${YARN_KEY}unread`, { kind: "yarnbin", fp: unread });
    for (const [name, entries] of bins ?? []) {
      if (!watchedYarnBin(name, commands)) continue;
      out.set(`${lock}${YARN_KEY}bin:${name}`, {
        kind: "yarnbin",
        fp: JSON.stringify(entries.sort()),
      });
    }
  };

  /**
   * yarn 2+'s install state at the root, by content (never decoded here: check() reads one
   * that changed). `.yarn` is kept in place during the run (policy.ts pinAncestors); a link
   * there is recorded as such.
   */
  const yarnState = (): void => {
    const path = join(root, YARN_STATE);
    const dir = dirname(path);
    const dirSt = lstat(dir);
    if (dirSt?.isSymbolicLink()) {
      out.set(path, { kind: "yarnstate", fp: `via:${entryFp(dir, false)}` });
    } else if (dirSt?.isDirectory() && lstat(path) !== null) {
      out.set(path, { kind: "yarnstate", fp: entryFp(path, false) });
    }
  };

  /**
   * What python would import from `dir` before the standard library: its modules, compiled
   * ones, packages' `__init__`, and the compiled code in its `__pycache__` (loaded in place of
   * a module whose recorded size and time match, which code inside can read and copy).
   */
  /**
   * What python could import from `dir`, which it puts first on its path: every module there
   * (`x.py`, `.pyc`, an extension), package `__init__`, link, and folder, recorded by what it
   * is, not its content — so one made inside shows as new (a `json.py`, an `org/` folder the
   * standard library's optional imports would find), while the project's own modules may
   * change (what a hook loads in turn is the project's: README limits). A folder made inside
   * counts only when it holds python code (a build's `dist/` does not). In `__pycache__`, the
   * compiled code of the modules a value names (`stems`) by content: python runs it in place
   * of their read-only source when its header repeats the source's size and time.
   */
  const pythonModules = (dir: string, stems: ReadonlySet<string>, packagesOnly: boolean): void => {
    if (!realDirChain(root, dir) && dir !== root) return;
    const present = (path: string, fp: string): void => {
      if (!out.has(path)) out.set(path, { kind: "gitconfig", fp });
    };
    const stem = (name: string): string => {
      const dot = name.indexOf(".");
      return dot === -1 ? name : name.slice(0, dot);
    };
    for (const entry of listed(dir)) {
      const path = join(dir, entry.name);
      // Only a name python can import (`node_modules` it never does, and it is large).
      if (!PYTHON_NAME.test(stem(entry.name)) || entry.name === "node_modules") continue;
      if (entry.isSymbolicLink()) {
        present(path, entryFp(path, false));
      } else if (entry.name === "__pycache__" && entry.isDirectory()) {
        for (const cached of listed(path)) {
          const code = join(path, cached.name);
          if (stems.has(stem(cached.name))) present(code, entryFp(code, true));
        }
      } else if (entry.isDirectory()) {
        for (const inner of listed(path)) {
          if (inner.name.startsWith("__init__.")) present(join(path, inner.name), "python:init");
        }
        const known = before === null || before.entries.has(path);
        if (known) present(path, "python:folder");
        else if (
          packagesOnly
            ? // A folder named as a module the hook runs (`-mpre_commit`) that is not
              // installed: a namespace package of that name is imported then, and runs its
              // `__main__` (or a submodule's); an installed one wins over it, and a folder
              // with no python in it (jest's `coverage/` for `-m coverage`) runs nothing.
              (stems.has(entry.name) && pythonNear(path)) ||
              listed(path).some((inner) => inner.name.startsWith("__init__."))
            : holdsPython(path, 0, isVenv(path))
        )
          present(path, "python:new folder with python code");
      } else if (PYTHON_MODULE.test(entry.name) || entry.name === "__pycache__") {
        present(path, "python:module");
      }
    }
  };
  /** Whether a folder holds python code within a few levels (bounded: a build's output can be large). */
  let pythonLooks = 0;
  const holdsPython = (dir: string, depth: number, venv = false): boolean => {
    for (const entry of listed(dir)) {
      if (++pythonLooks > MAX_ALWAYS_ENTRIES) return true;
      // A virtualenv's own folders (`python3 -m venv venv` made inside) are never imported.
      if (venv && depth === 0 && VENV_PARTS.has(entry.name)) continue;
      if (entry.isSymbolicLink() || PYTHON_MODULE.test(entry.name)) return true;
      if (entry.isDirectory() && depth < 4 && holdsPython(join(dir, entry.name), depth + 1))
        return true;
    }
    return false;
  };
  /**
   * Whether a folder holds a python file or a link at any depth (`-m x.a.b.c`): past 4096
   * entries or 16 levels, yes.
   */
  const pythonNear = (dir: string): boolean => {
    let looks = 0;
    const holds = (at: string, depth: number): boolean =>
      depth > 16 ||
      listed(at).some(
        (entry) =>
          ++looks > 4096 ||
          entry.isSymbolicLink() ||
          PYTHON_MODULE.test(entry.name) ||
          (entry.isDirectory() && holds(join(at, entry.name), depth + 1)),
      );
    return holds(dir, 0);
  };
  /** A virtualenv by its usual name and its `pyvenv.cfg` (its layout is checked by holdsPython). */
  const isVenv = (dir: string): boolean =>
    VENV_NAMES.has(basename(dir)) && lstat(join(dir, "pyvenv.cfg"))?.isFile() === true;

  walk(root, false);
  yarnBins();
  yarnState();
  for (const w of [...watch, ...(hooks ?? [])]) {
    if (w.linkOnly === true) continue;
    if (w.main === true) {
      out.set(`${w.path}${KEY_PART}main`, { kind: "gitconfig", fp: mainField(w.path) });
      continue;
    }
    if (w.modules === true) {
      pythonModules(
        w.path,
        new Set(Array.isArray(w.stems) ? w.stems : []),
        w.packagesOnly === true,
      );
      continue;
    }
    if (skip.has(w.path) && w.always !== true) continue;
    if (
      w.kind === "gitconfig" ||
      w.kind === "pmconfig" ||
      w.kind === "clientkey" ||
      w.kind === "readonly"
    ) {
      if (!out.has(w.path)) out.set(w.path, { kind: w.kind, fp: entryFp(w.path, true) });
      // A directory checked whole: every entry below it by its own fingerprint. Its dev/ino
      // alone proves nothing: ext4 hands a removed directory's inode to the next one made.
      // Only .yarn/releases and .yarn/plugins: a `protect` entry may be any directory (a
      // scaffolder's working directory keeps every entry read-only), too costly to list twice.
      if (w.always === true && w.kind === "pmconfig" && lstat(w.path)?.isDirectory()) {
        alwaysTree(w.path, w.kind);
      }
      continue;
    }
    if (!out.has(w.path)) out.set(w.path, { kind: "hook", fp: `hookdir:${entryFp(w.path, true)}` });
    if (!lstat(w.path)?.isDirectory()) continue;
    const namesOnly = w.namesOnly === true || w.path === root;
    // husky's stubs in `_` are hooks git runs too (core.hooksPath `.husky/_`).
    const husky = join(w.path, "_");
    const folders = !namesOnly && lstat(husky)?.isDirectory() ? [w.path, husky] : [w.path];
    for (const folder of folders) {
      for (const entry of listed(folder)) {
        if (namesOnly && !HOOK_NAMES.has(entry.name)) continue;
        const path = join(folder, entry.name);
        if (!out.has(path)) out.set(path, { kind: "hook", fp: entryFp(path, true) });
      }
    }
  }
  // Last: a path the walk or a watch above records whole keeps that (stricter) fingerprint.
  // Before the run too for the folders nested repositories' values run in (`hooks`).
  for (const w of [...watch, ...(hooks ?? [])]) {
    if (w.linkOnly !== true || out.has(w.path)) continue;
    const link = lstat(w.path)?.isSymbolicLink() === true;
    out.set(w.path, { kind: "gitconfig", fp: link ? entryFp(w.path, true) : "not a link" });
  }
  return out;
}

/** An empty regular file, or a directory with nothing in it (never through a link). */
function isEmpty(path: string): boolean {
  const st = lstat(path);
  if (st === null) return false;
  if (st.isFile()) return st.size === 0;
  if (!st.isDirectory()) return false;
  try {
    return readdirSync(path).length === 0;
  } catch {
    return false;
  }
}

/** git's is_git_directory: HEAD, and objects/ and refs/ (or a commondir providing them). */
function gitShaped(names: ReadonlySet<string>): boolean {
  return (
    names.has("HEAD") && (names.has("commondir") || (names.has("objects") && names.has("refs")))
  );
}

/** The parts of a git dir git runs code from, each never followed. */
function gitDirFp(dir: string, listed: (dir: string) => Dirent[]): string {
  const parts = [`.=${entryFp(dir, true)}`];
  for (const part of ["config", "config.worktree", "commondir", "gitdir", "hooks", "info"]) {
    parts.push(`${part}=${entryFp(join(dir, part), false)}`);
  }
  if (lstat(join(dir, "info"))?.isDirectory()) {
    parts.push(`info/attributes=${entryFp(join(dir, "info", "attributes"), false)}`);
  }
  if (lstat(join(dir, "hooks"))?.isDirectory()) {
    for (const hook of listed(join(dir, "hooks"))
      .map((e) => e.name)
      .sort()) {
      parts.push(`hooks/${hook}=${entryFp(join(dir, "hooks", hook), false)}`);
    }
  }
  return parts.join("\n");
}

function packagesIn(nm: string, listed: (dir: string) => Dirent[]): string[] {
  const out: string[] = [];
  for (const entry of listed(nm)) {
    if (!entry.isDirectory() || entry.name.startsWith(".")) continue;
    const path = join(nm, entry.name);
    if (entry.name.startsWith("@")) {
      for (const scoped of listed(path))
        if (scoped.isDirectory()) out.push(join(path, scoped.name));
    } else out.push(path);
  }
  return out;
}

/** The real path of `path` (names resolved, nothing opened) when it lies in `root`, else null. */
function realpathWithin(path: string, root: string): string | null {
  try {
    const real = realpathSync(path);
    return inside(real, root) ? real : null;
  } catch {
    return null;
  }
}

/** The packages of a node_modules (and of its @scope folders) that are links. */
function linksIn(nm: string, listed: (dir: string) => Dirent[]): string[] {
  const out: string[] = [];
  for (const entry of listed(nm)) {
    if (entry.name.startsWith(".")) continue;
    const path = join(nm, entry.name);
    if (entry.isSymbolicLink()) out.push(path);
    else if (entry.isDirectory() && entry.name.startsWith("@")) {
      for (const scoped of listed(path))
        if (scoped.isSymbolicLink()) out.push(join(path, scoped.name));
    }
  }
  return out;
}

/**
 * Where a link from `nm` may lead: that node_modules, or the project's root node_modules (pnpm
 * links a workspace package's dependencies into the root's `.pnpm`), while each is a real
 * directory.
 */
function linkArea(root: string, nm: string): string[] {
  return [nm, join(root, "node_modules")].filter((dir) => realDirChain(root, dir));
}

/** The real directory of `<nm>/safe-npm` (pnpm links it into `.pnpm/`), or null. */
function realSelf(root: string, self: string): string | null {
  const dir = resolveWithin(self, linkArea(root, dirname(self)));
  return dir !== null && lstat(dir)?.isDirectory() ? dir : null;
}

/**
 * A project-local safe-npm: every file of its real directory (found through links only inside
 * node_modules), by content — \`npm ci\` re-extracting the same version makes equal files.
 */
function selfEntry(root: string, self: string): Entry {
  const dir = realSelf(root, self);
  if (dir === null)
    return { kind: "self", fp: `unresolved:${entryFp(self, false)}`, version: null };
  const parts = [`real=${relative(root, dir)}`];
  const stack = [""];
  while (stack.length > 0 && parts.length < MAX_SELF_FILES) {
    const rel = stack.pop() as string;
    const entries = listOrNull(join(dir, rel));
    if (entries === null) parts.push(`${rel}=unlistable`);
    for (const entry of (entries ?? []).sort((a, b) => (a.name < b.name ? -1 : 1))) {
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
  return { kind: "self", fp: parts.join("\n"), version, dir };
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
 * The project's lockfile (the nearest directory from `project` up to `root` holding one) names
 * safe-npm at exactly `version`, and no lockfile there names another: package-lock.json /
 * npm-shrinkwrap.json by `packages["<path>"].version`, pnpm-lock.yaml by the importer's
 * `safe-npm` version, yarn.lock and bun.lock by their `safe-npm@` entries.
 */
export function lockfileNames(
  root: string,
  project: string,
  self: string,
  version: string,
): boolean {
  for (let dir = project; dir === root || inside(dir, root); dir = dirname(dir)) {
    const named: (string | null)[] = [];
    const text = (name: string): string | null =>
      realDirChain(root, dir) ? readRegular(join(dir, name), MAX_LOCKFILE) : null;
    for (const name of ["npm-shrinkwrap.json", "package-lock.json"]) {
      const json = text(name);
      if (json === null) continue;
      try {
        const lock = JSON.parse(json) as { packages?: Record<string, { version?: unknown }> };
        const entry = lock.packages?.[relative(dir, self).split(sep).join("/")];
        named.push(typeof entry?.version === "string" ? entry.version : null);
      } catch {
        named.push(null);
      }
    }
    const pnpm = text("pnpm-lock.yaml");
    if (pnpm !== null) named.push(pnpmLockVersion(pnpm, relative(dir, project) || "."));
    const yarn = text("yarn.lock");
    if (yarn !== null)
      named.push(...entryVersions(yarn, /^"?safe-npm@.*:\s*\n\s+version:? "?([^"\s]+)"?/gm));
    const bun = text("bun.lock");
    if (bun !== null) named.push(...entryVersions(bun, /"safe-npm":\s*\[\s*"safe-npm@([^"]+)"/g));
    if (named.length > 0) return named.includes(version) && named.every((v) => v === version);
    if (dir === root) break;
  }
  return false;
}

function entryVersions(text: string, re: RegExp): (string | null)[] {
  const found = [...text.matchAll(re)].map((m) => m[1] ?? null);
  return found.length > 0 ? found : [null];
}

/** pnpm-lock.yaml (v6+): `importers: <importer>: <deps>: safe-npm: … version: X(peers)`. */
function pnpmLockVersion(text: string, importer: string): string | null {
  const lines = text.split("\n");
  let i = lines.indexOf("importers:");
  if (i < 0) return null;
  const key = new RegExp(`^ {2}'?${importer.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}'?:$`);
  while (++i < lines.length && !key.test(lines[i] as string)) {
    if (/^\S/.test(lines[i] as string)) return null;
  }
  let inSelf = false;
  while (++i < lines.length && /^( {3,}|$)/.test(lines[i] as string)) {
    const line = lines[i] as string;
    if (/^ {6}\S/.test(line)) inSelf = line.trim() === "safe-npm:";
    const version = inSelf ? /^ {8}version: '?([^'(\s]+)/.exec(line)?.[1] : undefined;
    if (version !== undefined) return version;
  }
  return null;
}

/**
 * The local safe-npm at `dir` is the running one: its dist/ holds exactly the running dist/'s
 * files with the same content, and beside dist/ only files nothing executes (package.json,
 * README, LICENSE).
 */
function sameAsRunning(dir: string, runningDist: string): boolean {
  const files = (base: string): Map<string, string> | null => {
    const out = new Map<string, string>();
    const stack = [""];
    while (stack.length > 0) {
      const rel = stack.pop() as string;
      const entries = listOrNull(join(base, rel));
      if (entries === null || out.size > MAX_SELF_FILES) return null;
      for (const entry of entries) {
        const path = join(rel, entry.name);
        if (entry.isDirectory()) stack.push(path);
        // Content without identity: copies of one file differ only in dev/ino/ctime.
        else {
          const fp = entryFp(join(base, path), false);
          const partial = fp.startsWith("file@");
          out.set(path, `${fp.replace(/^file@\d+:\d+:\d+:/, "file:")}${partial ? ":partial" : ""}`);
        }
      }
    }
    return out;
  };
  const ours = files(runningDist);
  const theirs = files(join(dir, "dist"));
  if (ours === null || theirs === null || ours.size !== theirs.size) return false;
  for (const [path, fp] of ours) {
    if (theirs.get(path) !== fp) return false;
    // Beyond the hashed head, the whole content (the sizes are equal, and ours is bounded).
    if (
      fp.endsWith(":partial") &&
      hashAll(join(runningDist, path)) !== hashAll(join(dir, "dist", path))
    )
      return false;
  }
  return list(dir).every(
    (entry) =>
      (entry.name === "dist" && entry.isDirectory()) ||
      (entry.isFile() && SELF_DOCS.test(entry.name)) ||
      (entry.name === "node_modules" && entry.isDirectory() && ownBinOnly(dir)),
  );
}

/**
 * pnpm gives a package with a bin its own `node_modules/.bin/<bin>` in the store; nothing on the
 * host runs it (the project's `.bin/safe-npm` execs `dist/cli.cjs` itself), and the bundle
 * requires only node's own modules, so no package there could be loaded.
 */
function ownBinOnly(dir: string): boolean {
  const nm = join(dir, "node_modules");
  const top = list(nm);
  if (top.length !== 1 || top[0]?.name !== ".bin" || !top[0].isDirectory()) return false;
  const bins = list(join(nm, ".bin"));
  if (bins.length !== 1 || bins[0]?.name !== "safe-npm" || !bins[0].isFile()) return false;
  // pnpm's shim, exec'ing the package's own bin: the same rules as the project's.
  const text = readRegular(join(nm, ".bin", "safe-npm"));
  return (
    text !== null &&
    isPnpmShim(text, (target) => plainRelative(target) && target === `../../${SELF_BIN}`)
  );
}

function hashAll(path: string): string | null {
  const fd = openRegular(path);
  if (fd === null) return null;
  const hash = createHash("sha256");
  readChunks(fd, (chunk) => {
    hash.update(chunk);
    return true;
  });
  return hash.digest("hex");
}

/**
 * `node_modules/.bin/safe-npm` runs the project-local safe-npm: a link, or pnpm's shell shim
 * line by line exec'ing nothing else, whose target resolves (through links only inside
 * node_modules) to a file in the real directory of `node_modules/safe-npm` beside it — the
 * directory whose files are fingerprinted.
 */
export function pointsIntoSelf(bin: string, root: string): boolean {
  const nm = dirname(dirname(bin));
  const self = realSelf(root, join(nm, "safe-npm"));
  if (self === null) return false;
  // safe-npm's bin and nothing else of the package: any other file there (its README) run
  // by sh or node would be code the check never judged as a program.
  const cli = join(self, SELF_BIN);
  const intoSelf = (target: string): boolean => {
    // `resolve` applies `..` by spelling, the kernel after following what comes before it
    // (`../x/../safe-npm/…` with `x` a link elsewhere): only a leading run of `..` is taken.
    if (!plainRelative(target)) return false;
    const real = resolveWithin(resolve(dirname(bin), target), linkArea(root, nm));
    return real === cli && !!lstat(real)?.isFile();
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

/**
 * pnpm's shims start with a fixed header that finds `$basedir` (pnpm 8–9's, 10's, and 11–12's,
 * which resolves links and calls helpers through `command -p`), known here by the sha256 of
 * its lines before the first of SHIM_TAIL_START. A header not among them is not taken for one:
 * the shim is moved aside with the report (a pnpm with a new header needs an entry here).
 */
const SHIM_HEADERS: ReadonlySet<string> = new Set([
  "0daab45e91b8a919be4a0f49b26ed09cee6e2e5bf5f44c49259838f394bae82a",
  "36577d1ef20cd1286352d3842b55b3a14d786b2f0ac0128ab4c26c26d0e3026d",
  "2904b2071313937e5c25490af5d6cc8f698169b7ab88173f84d44dee68e51c20",
]);
const SHIM_TAIL_START =
  /^(?:if \[ -z "\$NODE_PATH" \]; then$|if \[ -x "\$basedir\/|if \[ -n "\$exe" \] && )/;
const SAFE_STRING = String.raw`[^"$\x60\\]*`;
/** The interpreter a shim runs: node (`#!/usr/bin/env node`) or sh (`#!/bin/sh`, `env sh`). */
const SHIM_PROG = String.raw`(?:node|sh|/bin/sh)(?:\.exe)?`;
const SHIM_TAIL_LINES = [
  /^$/,
  /^if \[ -z "\$NODE_PATH" \]; then$/,
  new RegExp(String.raw`^export NODE_PATH="${SAFE_STRING}(:\$NODE_PATH)?"$`),
  /^export NODE_PATH=(?:"\$basedir_abs"\/'[^']*'|"\$NODE_PATH"|:)+$/,
  /^else$/,
  /^fi$/,
  new RegExp(
    String.raw`^(?:if|elif) (?:\[ -n "\$exe" \] && )?\[ -x "\$basedir/${SHIM_PROG}" \]; then$`,
  ),
  new RegExp(
    String.raw`^elif (?:\[ -n "\$(?:msys|exe)" \] && )?command -v ${SHIM_PROG} >/dev/null 2>&1; then$`,
  ),
  /^# cmd-shim-target=[^\n]*$/,
];
const SHIM_EXEC = new RegExp(
  String.raw`^exec (?:"\$basedir/${SHIM_PROG}"|${SHIM_PROG}) +(?:"\$basedir/(${SAFE_STRING})"|"\$basedir_(?:abs|win)"/'([^']*)') "\$@"$`,
);

/** A relative path whose only `..` steps lead it, and with no `.` or empty step. */
function plainRelative(target: string): boolean {
  const parts = target.split("/");
  let at = 0;
  while (parts[at] === "..") at++;
  return (
    at > 0 && at < parts.length && parts.slice(at).every((p) => p !== "" && p !== "." && p !== "..")
  );
}

function isPnpmShim(text: string, intoSelf: (target: string) => boolean): boolean {
  const lines = text.split("\n");
  const at = lines.findIndex((l) => SHIM_TAIL_START.test(l));
  if (at <= 0) return false;
  const header = createHash("sha256").update(lines.slice(0, at).join("\n")).digest("hex");
  if (!SHIM_HEADERS.has(header)) return false;
  let execs = 0;
  for (const raw of lines.slice(at)) {
    // Printable ASCII only, indented by spaces: JavaScript's trim() also strips what sh takes
    // for part of a word (a no-break space before `export` is a command of that name).
    if (!/^ *[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$|^$/.test(raw)) return false;
    const line = raw.trimStart();
    if (SHIM_TAIL_LINES.some((re) => re.test(line))) continue;
    const match = SHIM_EXEC.exec(line);
    const target = match?.[1] ?? match?.[2];
    if (target === undefined || !intoSelf(target)) return false;
    execs++;
  }
  return execs > 0;
}

/**
 * Renames `path` (never following it) to `<path>.quarantined-by-safe-npm[-N]`; returns the new
 * name. With `root`, the folder it lies in is reached from `root` without following a link
 * (safepath.ts openDirBeneath) and the rename happens in that very folder: a run still going in
 * the project could otherwise swap a link in for a folder on the way, and a same-named file of
 * the user's elsewhere would be renamed.
 */
export function quarantine(path: string, root?: string): string {
  const raw = rawPath(path);
  const parent = root === undefined ? null : openDirBeneath(root, dirname(path));
  try {
    // The entry's name as bytes (an odd key's may not be UTF-8), and its path through `parent`.
    const name = typeof raw === "string" ? basename(raw) : raw.subarray(raw.lastIndexOf(0x2f) + 1);
    const at = (suffix: string): string | Buffer => {
      if (parent === null) {
        return typeof raw === "string"
          ? `${raw}${suffix}`
          : Buffer.concat([raw, Buffer.from(suffix)]);
      }
      const base = `${fdPath(parent)}/`;
      return typeof name === "string"
        ? `${base}${name}${suffix}`
        : Buffer.concat([Buffer.from(base), name, Buffer.from(suffix)]);
    };
    const source = at("");
    for (let n = 0; ; n++) {
      const suffix = `.quarantined-by-safe-npm${n === 0 ? "" : `-${n}`}`;
      const rawTarget = at(suffix);
      if (lstatRaw(rawTarget) !== null) continue;
      try {
        renameSync(source, rawTarget);
      } catch (error) {
        // Code inside can take write permission away from the folder (`chmod 555 .`, as the
        // same user) to keep what it planted in place: give it back, then rename.
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== "EACCES" && code !== "EPERM") throw error;
        if (!(parent === null ? ownerWritable(dirname(path)) : giveOwnerAt(parent, 0o300))) {
          throw error;
        }
        renameSync(source, rawTarget);
      }
      return printable(`${path}${suffix}`);
    }
  } finally {
    if (parent !== null) closeSync(parent);
  }
}

function lstatRaw(path: string | Buffer): Stats | null {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) ?? null;
  } catch {
    return null;
  }
}

/** A path for messages: an odd name's bytes as `\xNN`. */
export function printable(path: string): string {
  const at = path.indexOf(ODD);
  if (at === -1) return path;
  const bytes = Buffer.from(path.slice(at + 1).split(".quarantined")[0] ?? "", "hex");
  const rest = path.slice(at + 1).slice(bytes.length * 2);
  const shown = [...bytes]
    .map((b) =>
      b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`,
    )
    .join("");
  return `${path.slice(0, at)}${shown}${rest}`;
}

/** The line safe-npm prints for a finding. */
export function describeFinding(f: Finding): string {
  if (f.upgrade !== undefined) {
    return `safe-npm: note: ${f.path} was ${f.upgrade.from === null ? "installed" : `upgraded from ${f.upgrade.from}`} at ${f.upgrade.to} by this install; \`safe-npm …\` scripts run by a bare package manager now start it\n`;
  }
  const why: Record<WatchKind, string> = {
    git: "git would run its config and hooks outside the sandbox",
    hook: "git on the host would run it as a hook",
    gitconfig:
      "git on the host reads it as the repository's config, runs it for a program the config names or a hook, or a hook's python imports it",
    pmconfig: "a package manager run on the host would obey it",
    settings:
      "safe-npm reads it as the repository's settings: a run would choose the sandbox of the next (with --trust-config, a wider one)",
    anchor:
      "it decides which folder is the project, and so which settings apply and to what: a run would choose the sandbox of the next",
    project: "it is a project's package.json",
    readonly:
      "it is kept read-only inside (a `protect` entry, or what a tool on the host obeys), and its mount was lost during the run (another run in the project, or a file renamed over it on the host) or it has another name in the project (a hard link) through which it was written",
    clientkey:
      "your npmrc names it as a client certificate key: another name made for it inside (a hard link) would show the key you write into it",
    bin: "a bare `npm run` (or anything run with this node_modules/.bin on PATH) would run it outside the sandbox instead of the command of that name",
    self: "a bare `npm run` would run it outside the sandbox for a `safe-npm …` script",
    yarnbin:
      "yarn 2+ puts the bins yarn.lock declares first on PATH for `yarn <script>`, so a bare `yarn <script>` on the host would run that package's bin outside the sandbox instead of the command of that name (`safe-npm` too, for a `safe-npm …` script)",
    yarnstate:
      "yarn 2+ takes the packages and their bins from it instead of from yarn.lock while the lockfile checksum it records matches, so a bare `yarn <script>` on the host would run such a bin outside the sandbox instead of the command of that name (`safe-npm` too, for a `safe-npm …` script)",
    unlistable:
      "it cannot be listed, so a repository, hook or config planted in it would go unseen",
    oddname:
      "its name is not valid UTF-8, so a repository, hook or config planted in it would go unseen",
  };
  const advice =
    f.kind === "self" || (f.kind === "bin" && basename(f.path).startsWith("safe-npm"))
      ? "to reinstall safe-npm, remove node_modules/safe-npm* and node_modules/.bin/safe-npm* and run `safe-npm install`, or use a global safe-npm"
      : "inspect it, and move it back only if you trust it";
  if (f.kind === "yarnbin") {
    const advice = f.error?.startsWith("yarn.lock")
      ? "put yarn.lock back (git checkout) or let yarn write it again"
      : "remove that dependency";
    return `safe-npm: ${printable(f.path)} was changed inside the sandbox: ${f.error ?? "unknown"}; ${why.yarnbin}. A lockfile entry cannot be moved aside: ${advice}, or if you trust it, run again — it is then known and not reported again\n`;
  }
  if (f.kind === "yarnstate") {
    const detail = f.detail ?? "it cannot be read";
    if (f.movedTo === null) {
      return `safe-npm: ${printable(f.path)} was created or changed inside the sandbox and could not be moved aside (${f.error ?? "unknown error"}): ${detail}, and ${why.yarnstate} — remove it before running yarn (yarn makes it again from yarn.lock)\n`;
    }
    return `safe-npm: moved ${printable(f.path)} to ${f.movedTo}: it was created or changed inside the sandbox, ${detail}, and ${why.yarnstate}; yarn makes it again from yarn.lock on its next run, so nothing needs putting back\n`;
  }
  if (f.kind === "gitconfig" && f.movedTo === null && f.detail !== undefined) {
    return `safe-npm: ${printable(f.path)} was changed inside the sandbox: ${f.detail}. safe-npm does not edit package.json: put its "main" back (git checkout) before running git\n`;
  }
  if (f.kind === "anchor") {
    const detail = f.detail ?? "it decides which folder is the project";
    return f.movedTo === null
      ? `safe-npm: ${printable(f.path)} was changed inside the sandbox (${f.error ?? "unknown"}): ${detail} — put it back as it was before the next run\n`
      : `safe-npm: moved ${printable(f.path)} to ${f.movedTo}: it was created inside the sandbox, and ${detail}; if you meant it, move it back and give that folder settings of its own (a .sandboxrc.json)\n`;
  }
  if (f.kind === "settings" && f.movedTo === null) {
    return `safe-npm: ${printable(f.path)} was changed inside the sandbox (${f.error ?? "unknown"}), and ${why.settings}; --trust-config will not trust what it says now — check it before the next run\n`;
  }
  if (f.movedTo === null) {
    return `safe-npm: ${printable(f.path)} was created or changed inside the sandbox and could not be moved aside (${f.error ?? "unknown error"}); ${why[f.kind]} — do not use it before inspecting it\n`;
  }
  if (f.settingsLost === true) {
    return `safe-npm: moved ${printable(f.path)} to ${f.movedTo}: your settings file was changed inside the sandbox, and ${why[f.kind]}; the settings it held are gone for the next run — put your own back (git checkout) before running again\n`;
  }
  return `safe-npm: moved ${printable(f.path)} to ${f.movedTo}: it was created or changed inside the sandbox, and ${why[f.kind]}; ${advice}\n`;
}
