/**
 * `safe-npm setup`, `setup --ci` and `teardown`: the shims that make a plain `npm install` (npx,
 * yarn, pnpm, bun) run as `safe-npm npm install`, and the marked block in the shell rc files that
 * puts their directory first on PATH (commands/rcblock.ts). Every change is printed, with how to
 * undo it; teardown takes out exactly what setup put in.
 */
import {
  appendFileSync,
  chmodSync,
  closeSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, isAbsolute, join, sep } from "node:path";
import { SafeNpmError } from "../errors.js";
import type { HostInfo } from "../host/host.js";
import { isInside } from "../host/project.js";
import { isShim, SHIM_TOOLS, shimScript, shQuote } from "../host/shims.js";
import { addBlock, blockBody, hasBlock, RcBlockError, removeBlock, type Shell } from "./rcblock.js";
import type { Output } from "./types.js";

/** The rc files setup edits when they exist: bash's, zsh's and fish's. */
export function rcFiles(host: HostInfo): { shell: Shell; path: string }[] {
  const { env, home } = host;
  const zdot = env.ZDOTDIR && isAbsolute(env.ZDOTDIR) ? env.ZDOTDIR : home;
  const config =
    env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME)
      ? env.XDG_CONFIG_HOME
      : join(home, ".config");
  return [
    { shell: "bash", path: join(home, ".bashrc") },
    { shell: "zsh", path: join(zdot, ".zshrc") },
    { shell: "fish", path: join(config, "fish", "config.fish") },
  ];
}

/** Beside each rc file: its content before safe-npm first changed it. */
export const BACKUP_SUFFIX = ".before-safe-npm";

/**
 * `packageRoot` is this safe-npm's (version.ts's PACKAGE_ROOT), passed in: importing version.ts
 * here too would move it into a chunk of its own, one directory below the package root.
 */
export async function setup(
  host: HostInfo,
  packageRoot: string,
  ci: boolean,
  out: Output,
): Promise<number> {
  const target = shimTarget(host, packageRoot);
  const dir = host.shimDir;
  const project = enclosingProject(dir, host.home);
  if (project !== null) {
    throw new SafeNpmError(
      "SETUP",
      `the shim directory ${dir} lies in the project ${project}: sandboxed runs there could change the shims`,
      {
        hint: "set XDG_DATA_HOME to a directory outside every project (or unset it), then run `safe-npm setup` again",
      },
    );
  }
  if (existsSync(join(packageRoot, ".git"))) {
    out.stderr(
      `safe-npm: note: ${packageRoot} is a source checkout: a sandboxed run in it can change what the shims run; for daily use install a packed copy (see the README) and run its setup\n`,
    );
  }
  // Before anything is written: an rc file a sandboxed run could edit is refused (editRc).
  for (const rc of rcFiles(host)) checkRc(rc.path, host.home);
  const made = writeShims(dir, target);
  out.stderr(
    `safe-npm: ${made} shims in ${dir} (${SHIM_TOOLS.join(", ")}) run ${target.cli} with ${target.node}\n`,
  );
  if (ci) return setupCi(host, dir, out);
  const rcs = rcFiles(host);
  for (const rc of rcs) {
    const line = editRc(rc.path, (text) => addBlock(text, blockBody(rc.shell, dir)));
    out.stderr(`safe-npm: ${line.message}\n`);
  }
  const exportLine = `export PATH=${shQuote(dir)}:"$PATH"`;
  if (!rcs.some((rc) => existsSync(rc.path))) {
    out.stderr(
      `safe-npm: none of ${rcs.map((rc) => rc.path).join(", ")} exists: put the shims first on PATH in your shell's startup file yourself, e.g. ${exportLine}\n`,
    );
  }
  out.stderr(
    `safe-npm: new shells run npm, npx, yarn, pnpm and bun through safe-npm; in this one, run ${exportLine}\n` +
      "safe-npm: `safe-npm doctor` shows what a plain npm runs; `safe-npm teardown` undoes all of this (the shims and exactly the marked block)\n",
  );
  return 0;
}

export async function teardown(host: HostInfo, out: Output): Promise<number> {
  for (const rc of rcFiles(host)) {
    const line = editRc(rc.path, (text) => {
      const r = removeBlock(text);
      return { text: r.text, change: r.removed ? "removed" : "unchanged" };
    });
    out.stderr(`safe-npm: ${line.message}\n`);
    dropRedundantBackup(rc.path, out);
  }
  const dir = host.shimDir;
  const removed = removeShims(dir, out);
  out.stderr(
    removed === 0
      ? `safe-npm: no shims in ${dir}\n`
      : `safe-npm: removed ${removed} shims from ${dir}; npm, npx, yarn, pnpm and bun run bare again in new shells\n`,
  );
  return 0;
}

/**
 * The safe-npm the shims call: this bundle with this node. A copy installed as a project's
 * dependency is refused: that project's installs could change it, and every shim would then run
 * what they wrote.
 */
function shimTarget(
  host: HostInfo,
  packageRoot: string,
): { dir: string; node: string; cli: string } {
  const cli = join(packageRoot, "dist", "cli.cjs");
  if (!existsSync(cli)) {
    throw new SafeNpmError("SETUP", `${cli} does not exist: this safe-npm is not a built package`, {
      hint: "run setup from an installed safe-npm (`npm run build` first in a checkout)",
    });
  }
  const node = process.execPath;
  for (const [what, path] of [
    ["safe-npm", realpathSync(cli)],
    ["node", realpathSync(node)],
  ] as const) {
    const project = dependentProject(path);
    if (project !== null) {
      throw new SafeNpmError(
        "SETUP",
        `the shims would run ${what} from ${path}, a dependency of the project ${project}: installs in that project could change it`,
        {
          hint: "install safe-npm outside every project (e.g. `npm install -g --prefix ~/.local ./safe-npm-*.tgz`, see the README) and run `safe-npm setup` with that one",
        },
      );
    }
  }
  return { dir: host.shimDir, node, cli };
}

/**
 * The nearest directory above `dir` (or `dir` itself) that holds a package.json and could be a
 * sandbox's project, or null. The home and the directories containing it never are (a stray
 * `~/package.json` is refused as a project root, host/project.ts).
 */
function enclosingProject(dir: string, home: string): string | null {
  for (let at = dir; ; at = dirname(at)) {
    const couldBeProject = at !== home && !isInside(home, at);
    if (couldBeProject && existsSync(join(at, "package.json"))) return at;
    if (dirname(at) === at) return null;
  }
}

/** The project whose `node_modules` holds `path`, or null (a global prefix has no package.json). */
function dependentProject(path: string): string | null {
  const parts = path.split(sep);
  const at = parts.lastIndexOf("node_modules");
  if (at <= 0) return null;
  const parent = parts.slice(0, at).join(sep) || sep;
  return existsSync(join(parent, "package.json")) ? parent : null;
}

function writeShims(dir: string, target: { dir: string; node: string; cli: string }): number {
  const st = lstatSync(dir, { throwIfNoEntry: false });
  if (st !== undefined && !st.isDirectory()) {
    throw new SafeNpmError("SETUP", `${dir} exists and is not a directory`, {
      hint: `remove ${dir}, then run \`safe-npm setup\` again`,
    });
  }
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const tool of SHIM_TOOLS) {
    const path = join(dir, tool);
    const existing = lstatSync(path, { throwIfNoEntry: false });
    if (existing !== undefined && !(existing.isFile() && isShim(path))) {
      throw new SafeNpmError("SETUP", `${path} exists and is not a safe-npm shim`, {
        hint: `move ${path} away, then run \`safe-npm setup\` again`,
      });
    }
    writeAtomically(path, shimScript(tool, target), 0o755);
  }
  return SHIM_TOOLS.length;
}

function removeShims(dir: string, out: Output): number {
  const st = lstatSync(dir, { throwIfNoEntry: false });
  if (st === undefined || !st.isDirectory()) return 0;
  let removed = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (lstatSync(path).isFile() && isShim(path)) {
      unlinkSync(path);
      removed++;
    } else {
      out.stderr(`safe-npm: left ${path}: not a safe-npm shim\n`);
    }
  }
  try {
    rmdirSync(dir);
    // Its parent is safe-npm's own data directory; drop it too when nothing else is there.
    rmdirSync(dirname(dir));
  } catch {
    // not empty: something else lives there
  }
  return removed;
}

/**
 * GitHub Actions: `$GITHUB_PATH` puts the directory first on PATH for the later steps; elsewhere
 * the line to evaluate goes to stdout (`eval "$(safe-npm setup --ci)"`).
 */
function setupCi(host: HostInfo, dir: string, out: Output): number {
  const githubPath = host.env.GITHUB_PATH;
  if (githubPath !== undefined && githubPath !== "") {
    const present = existsSync(githubPath)
      ? readFileSync(githubPath, "utf8").split(/\r?\n/).includes(dir)
      : false;
    if (!present) appendFileSync(githubPath, `${dir}\n`);
    out.stderr(
      `safe-npm: ${present ? "already in" : "added to"} $GITHUB_PATH (${githubPath}): the job's later steps run npm, npx, yarn, pnpm and bun through safe-npm\n`,
    );
    return 0;
  }
  out.stdout(`export PATH=${shQuote(dir)}:"$PATH"\n`);
  out.stderr(
    'safe-npm: no $GITHUB_PATH: put the directory first on PATH with the line above (`eval "$(safe-npm setup --ci)"`)\n',
  );
  return 0;
}

interface RcResult {
  changed: boolean;
  message: string;
}

/**
 * Applies `edit` to one rc file. A link (a dotfile manager's) is followed to its target, which is
 * edited in place and named; anything but a regular file is left alone. The file is replaced
 * atomically with its mode kept, after a backup of it as it was before safe-npm first changed it.
 */
function editRc(path: string, edit: (text: string) => { text: string; change: string }): RcResult {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st === undefined) return { changed: false, message: `${path}: not present, left alone` };
  let file = path;
  let via = "";
  if (st.isSymbolicLink()) {
    try {
      file = realpathSync(path);
    } catch {
      return { changed: false, message: `${path}: a link to nothing, left alone` };
    }
    via = ` (through the link ${path})`;
  }
  if (!statSync(file).isFile()) {
    return { changed: false, message: `${path}: not a regular file, left alone` };
  }
  const before = readFileSync(file, "utf8");
  let result: { text: string; change: string };
  try {
    result = edit(before);
  } catch (error) {
    if (!(error instanceof RcBlockError)) throw error;
    throw new SafeNpmError("SETUP", `${file}: ${error.message}`, {
      hint: `fix the safe-npm block in ${file} by hand (or delete both marker lines and what is between them), then run the command again`,
    });
  }
  if (result.text === before) {
    return {
      changed: false,
      message: `${file}${via}: ${hasBlock(before) ? "already set up" : "no safe-npm block"}`,
    };
  }
  const backup = file + BACKUP_SUFFIX;
  const fresh =
    result.change === "added" && writeBackup(backup, readFileSync(file), statSync(file).mode);
  writeAtomically(file, result.text, statSync(file).mode & 0o7777);
  const what: Record<string, string> = {
    added: `added the safe-npm block at the end${fresh ? ` (the file as it was: ${backup})` : ""}`,
    replaced: "rewrote the safe-npm block (its lines had changed)",
    removed: "removed the safe-npm block",
  };
  return { changed: true, message: `${file}${via}: ${what[result.change] ?? result.change}` };
}

/** The rc file's real path and its backup's path, or null when the rc file does not resolve. */
function withBackup(path: string): { file: string; backup: string } | null {
  let file: string;
  try {
    file = realpathSync(path);
  } catch {
    return null;
  }
  return { file, backup: file + BACKUP_SUFFIX };
}

/**
 * Refuses, before setup changes anything, an rc file it must not edit. Its backup path must be
 * free or a regular file (writeBackup). And an rc file whose real path lies in a project (a directory with package.json above it, e.g. a
 * dotfiles repository) is refused: sandboxed runs there can write it, and the shell runs it.
 */
function checkRc(path: string, home: string): void {
  const found = withBackup(path);
  if (found === null) return;
  const { file, backup } = found;
  const st = lstatSync(backup, { throwIfNoEntry: false });
  if (st !== undefined && !st.isFile()) {
    throw new SafeNpmError(
      "SETUP",
      `the backup path ${backup} is not a regular file (a link?): setup writes ${file} as it was there`,
      { hint: `inspect ${backup}, remove it if you did not make it, then run the command again` },
    );
  }
  const project = enclosingProject(dirname(file), home);
  if (project === null) return;
  throw new SafeNpmError(
    "SETUP",
    `${file}${file === path ? "" : ` (the target of ${path})`} lies in the project ${project}: sandboxed runs there could edit it, and every new shell runs it`,
    {
      hint: `keep the shell's startup file outside every project (e.g. make ${path} a regular file that sources what you keep in ${project}), then run the command again`,
    },
  );
}

/**
 * The backup of the rc file as it was, created new: never through a link (a planted
 * `bashrc.before-safe-npm -> ~/.ssh/authorized_keys` would receive it). An existing regular file
 * is an earlier backup, kept (false); anything else there is refused.
 */
function writeBackup(backup: string, content: Buffer, mode: number): boolean {
  let fd: number;
  try {
    fd = openSync(
      backup,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      mode & 0o7777,
    );
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST" && lstatSync(backup, { throwIfNoEntry: false })?.isFile() === true) {
      return false;
    }
    throw new SafeNpmError(
      "SETUP",
      `cannot create the backup ${backup}: ${code === "EEXIST" ? "something other than a regular file is there (a link?)" : (code ?? String(error))}`,
      { hint: `inspect ${backup}, remove it if you did not make it, then run the command again` },
    );
  }
  try {
    writeFileSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** After teardown, a backup identical to the restored file says nothing more: remove it. */
function dropRedundantBackup(path: string, out: Output): void {
  const found = withBackup(path);
  if (found === null) return;
  const { file, backup } = found;
  if (!existsSync(backup) || !lstatSync(backup).isFile()) return;
  if (readFileSync(backup).equals(readFileSync(file))) {
    unlinkSync(backup);
  } else {
    out.stderr(
      `safe-npm: kept ${backup} (${file} has changed since setup; compare them, then delete it)\n`,
    );
  }
}

/** Writes beside the file, then renames over it: a crash leaves the old or the new file. */
function writeAtomically(path: string, text: string, mode: number): void {
  const temp = join(dirname(path), `.${process.pid}.safe-npm.tmp`);
  try {
    writeFileSync(temp, text, { mode, flag: "wx" });
    chmodSync(temp, mode);
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw new SafeNpmError(
      "SETUP",
      `cannot write ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      { hint: `check that you own ${dirname(path)} and can write it, then run the command again` },
    );
  }
}
