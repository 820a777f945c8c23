/**
 * V8's code cache for the CLI bundle (node 20 has no `module.enableCompileCache`): the bundle and
 * the chunks it loads are compiled with `vm.Script` `cachedData` from safe-npm's own cache dir,
 * one file per bundle holding each script's cache under the sha256 of its text, and the file is
 * written again only after a run that compiled a script it had no cache for.
 *
 * Code cache is compiled code: whoever can write it can run code in safe-npm on the host
 * (V8 checks versions and flags, not intent). So it lives only where nothing inside a sandbox
 * can write — `$XDG_CACHE_HOME/safe-npm/code-cache` (default `~/.cache`), never bound into one;
 * the private homes are its siblings, and only their subdirectories are bound; never below a
 * directory holding a package.json (a project is writable inside) — and it is used
 * only when the directory and the file belong to this user and no one else may write them, the
 * file is a regular file reached without a link, and its sha256 (stored in front of it)
 * matches, so a torn or corrupt file is recompiled, not loaded. Its name is a hash of node's
 * version, the architecture and the bundle's text: a changed bundle never meets stale code.
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  realpathSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, isAbsolute, join } from "node:path";

const DIGEST = 32;
const MAX_BYTES = 16 * 1024 * 1024;

/**
 * The bundle's text as the function node wraps a CommonJS module in; the shebang becomes a
 * comment, so stack traces keep their line numbers.
 */
export function wrapBundle(text: string): string {
  const source = text.replace(/^#!/, "//");
  return `(function (exports, require, module, __filename, __dirname) { ${source}\n});`;
}

/** safe-npm's flags that take a value as the next word (args.ts). */
const VALUE_FLAGS = ["--network", "--allow-host", "--config"];

/**
 * Whether safe-npm's own flags (those before the command, as args.ts reads them) ask for a dry
 * run, which must leave nothing behind: not even a code cache.
 */
export function asksDryRun(argv: readonly string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--" || !arg.startsWith("-")) return false;
    if (arg === "--dry-run") return true;
    if (VALUE_FLAGS.includes(arg)) i++;
  }
  return false;
}

/** The code-cache directory for this environment, or null when there is no absolute one. */
export function codeCacheDir(env: Readonly<Record<string, string | undefined>>): string | null {
  const { XDG_CACHE_HOME: xdg, HOME: home } = env;
  if (xdg !== undefined && isAbsolute(xdg)) return join(xdg, "safe-npm", "code-cache");
  if (home !== undefined && isAbsolute(home)) return join(home, ".cache", "safe-npm", "code-cache");
  return null;
}

/**
 * Whether `dir` may lie in a project, where a sandbox could write: some directory above its real
 * path holds a package.json (`XDG_CACHE_HOME=$PWD/.cache` in CI, a HOME inside a checkout).
 * Then there is no cache. A missing `dir` cannot be judged: no cache either.
 */
export function mayBeInProject(dir: string): boolean {
  let current: string;
  try {
    current = realpathSync(dir);
  } catch {
    return true;
  }
  for (;;) {
    if (existsSync(join(current, "package.json"))) return true;
    const parent = dirname(current);
    if (parent === current) return false;
    current = parent;
  }
}

/** A script's entry in the cache file: the sha256 of its (wrapped) text. */
export function scriptKey(wrapped: string): string {
  return createHash("sha256").update(wrapped).digest("hex");
}

/**
 * The cache file's payload: for each script, its key (64 hex characters), the length of its code
 * cache (4 bytes, big-endian) and the code cache.
 */
export function packCodeCache(entries: ReadonlyMap<string, Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, data] of entries) {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    parts.push(Buffer.from(key, "latin1"), length, data);
  }
  return Buffer.concat(parts);
}

/** The entries of a payload packCodeCache made; an empty map for anything else. */
export function unpackCodeCache(payload: Buffer | undefined): Map<string, Buffer> {
  const entries = new Map<string, Buffer>();
  if (payload === undefined) return entries;
  let at = 0;
  while (at < payload.length) {
    if (at + 68 > payload.length) return new Map();
    const key = payload.toString("latin1", at, at + 64);
    const length = payload.readUInt32BE(at + 64);
    if (!/^[0-9a-f]{64}$/.test(key) || at + 68 + length > payload.length) return new Map();
    entries.set(key, payload.subarray(at + 68, at + 68 + length));
    at += 68 + length;
  }
  return entries;
}

/** The cache file's name for this bundle text on this node. */
export function codeCacheName(source: string, nodeVersion: string, arch: string): string {
  const key = createHash("sha256").update(`${nodeVersion}\0${arch}\0`).update(source).digest("hex");
  return `${key.slice(0, 40)}.bin`;
}

/** Owned by `uid` and writable by no one else: the only cache this user may trust. */
function trusted(stats: { uid: number; mode: number }, uid: number): boolean {
  return stats.uid === uid && (stats.mode & 0o022) === 0;
}

/** The cached data in `dir/name`, or undefined when there is none it may use. */
export function readCodeCache(dir: string, name: string, uid: number): Buffer | undefined {
  let fd: number | undefined;
  try {
    const dirStats = lstatSync(dir);
    if (!dirStats.isDirectory() || !trusted(dirStats, uid) || mayBeInProject(dir)) return undefined;
    fd = openSync(
      join(dir, name),
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
    );
    const stats = fstatSync(fd);
    if (!stats.isFile() || !trusted(stats, uid)) return undefined;
    if (stats.size <= DIGEST || stats.size > MAX_BYTES) return undefined;
    const buffer = Buffer.alloc(stats.size);
    let got = 0;
    while (got < buffer.length) {
      const n = readSync(fd, buffer, got, buffer.length - got, got);
      if (n === 0) return undefined;
      got += n;
    }
    const data = buffer.subarray(DIGEST);
    const digest = createHash("sha256").update(data).digest();
    return digest.equals(buffer.subarray(0, DIGEST)) ? data : undefined;
  } catch {
    // Missing, unreadable, a link: compile without it.
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Stores `data` as `dir/name` (digest first; a private temporary file renamed into place, so a
 * reader sees a whole file or none) and removes the caches of other bundles. Errors are ignored:
 * the cache only saves time.
 */
export function writeCodeCache(dir: string, name: string, data: Buffer, uid: number): void {
  const temp = join(dir, `.${name}.${process.pid}.tmp`);
  try {
    // Nothing is made in a project: judged by the nearest directory that exists already.
    let existing = dir;
    while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
    if (mayBeInProject(existing)) return;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const dirStats = lstatSync(dir);
    if (!dirStats.isDirectory() || !trusted(dirStats, uid) || mayBeInProject(dir)) return;
    const digest = createHash("sha256").update(data).digest();
    writeFileSync(temp, Buffer.concat([digest, data]), { mode: 0o600, flag: "wx" });
    renameSync(temp, join(dir, name));
    for (const entry of readdirSync(dir)) {
      if (entry !== name && entry.endsWith(".bin")) unlinkSync(join(dir, entry));
    }
  } catch {
    // Read-only or full disk, a concurrent writer: the next run tries again.
    try {
      unlinkSync(temp);
    } catch {
      // never created
    }
  }
}
