/**
 * One sandboxed run between its before and after: the project's watched places are snapshotted,
 * bwrap runs, then the mount points bwrap left behind are removed and the project is checked
 * against the snapshot (integrity.ts). The check runs however the command ended.
 */

import { createHash } from "node:crypto";
import {
  chmodSync,
  closeSync,
  constants,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { basename, join } from "node:path";
import { EXIT_SAFE_NPM_FAILURE, SafeNpmError } from "../errors.js";
import { procStat } from "../host/procstat.js";
import { isInside } from "../host/project.js";
import { markWrittenInside } from "../settings/trust.js";
import type { Timing } from "../timing.js";
import { PACKAGE_ROOT, VERSION } from "../version.js";
import type { BwrapInvocation } from "./bwrap.js";
import type { ConfigEntry } from "./gitconfig.js";
import { HOST_RUN_FILES } from "./hostfiles.js";
import {
  check,
  describeFinding,
  type Entry,
  type Finding,
  type RunningSelf,
  type Snapshot,
  snapshot,
  systemCommands,
  type WalkOptions,
  type Watch,
  watchCovers,
} from "./integrity.js";
import { holdJobStops } from "./jobstops.js";
import { cleanupPlaceholders, findPlaceholders, makePinDirs } from "./placeholders.js";
import type { Policy } from "./policy.js";
import { ownerListable } from "./safepath.js";
import { settleTopLevel, type TopLevel } from "./scaffold.js";
import { runSandbox } from "./spawn.js";

export interface GuardedRun {
  /** What to watch beyond the fixed set (guardProject). */
  watch: readonly Watch[];
  /** Config file names watched in every sub-project (guardProject); HOST_RUN_FILES by default. */
  configNames?: readonly string[];
  /** A relative core.hooksPath the user's config gives nested repositories (guardProject). */
  userHooksPath?: string;
  /** The `-c core.hooksPath=…` of the user's aliases, for nested repositories (guardProject). */
  userAliasHooks?: readonly string[];
  /** The user's git config, whose programs nested repositories run too (guardProject). */
  userConfig?: readonly ConfigEntry[];
  /** Your environment: the variables a nested repository's `--config-env` names. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Your home: a nested repository's `~/` values are read from it. */
  home?: string;
  /** The run was install-class: a project-local safe-npm may be upgraded by it. */
  install: boolean;
  /** Where each finding is reported. */
  report: (text: string) => void;
  /** The trust store: settings a run set inside are recorded there (never trusted for a run). */
  trustStore?: string;
  /**
   * A private directory (beside the private homes in safe-npm's cache dir) for the snapshot of each run in progress: a
   * run killed with SIGKILL never reaches its check, so the next run in the project makes it.
   */
  journal: string;
  /** A working directory made the project: its top level before the run (scaffold.ts). */
  topLevel?: TopLevel;
  /** Called once the sandbox is set up, with its pid 1 (spawn.ts). */
  onReady?: (sandboxPid: number) => void;
  /** Marks the snapshot, the sandbox's start, the command and the check (SAFE_NPM_TIMING). */
  timing?: Timing;
  /**
   * Runs once the sandbox is gone, before the check, with signals still held: the stores moved
   * into node_modules go back to the home (linkedstore.ts), so the check never walks them.
   */
  afterSandbox?: () => void;
  /**
   * The stores moved into node_modules for this run (linkedstore.ts): the snapshot before does
   * not walk them (their many package folders hold nothing it records), and by the check they
   * are back in the home; one that could not be moved back is walked as anything else there.
   */
  linkedStores?: readonly string[];
}

export async function runGuarded(
  bwrap: string,
  invocation: BwrapInvocation,
  policy: Policy,
  root: string,
  run: GuardedRun,
): ReturnType<typeof runSandbox> {
  // bwrap creates missing mount points on the host when they sit in a read-write bind; with
  // home "project" some land in the project: note them now, remove them afterwards.
  const placeholders = findPlaceholders(policy.mounts, root);
  const readOnly = policy.mounts.flatMap((m) => (m.kind === "ro-bind" ? [m.dest] : []));
  // The host's command names, once: a `.bin` entry named like one is watched.
  const walk = {
    skip: readOnly,
    commands: systemCommands(),
    configNames: run.configNames ?? HOST_RUN_FILES,
  };
  const running = runningSelf();
  const mark = (phase: string): void => run.timing?.mark(phase);
  mark("host commands, placeholders");
  const live = liveRuns(root, run.journal);
  const before = mergeLiveRuns(
    snapshot(root, run.watch, {
      ...walk,
      skip: [...walk.skip, ...(run.linkedStores ?? [])],
      ...(run.userHooksPath === undefined ? {} : { userHooksPath: run.userHooksPath }),
      ...(run.userAliasHooks === undefined ? {} : { userAliasHooks: run.userAliasHooks }),
      ...(run.userConfig === undefined ? {} : { userConfig: run.userConfig }),
      ...(run.env === undefined ? {} : { env: run.env }),
      ...(run.home === undefined ? {} : { home: run.home }),
    }),
    live,
  );
  mark("snapshot before");
  const entry = writeJournal(root, run.journal, before, {
    install: run.install,
    topLevel: run.topLevel,
    skip: walk.skip,
    configNames: walk.configNames,
    placeholders,
  });
  mark("journal write");
  try {
    makePinDirs(policy.mounts, root);
  } catch (error) {
    cleanupPlaceholders(placeholders, root);
    removeFile(entry);
    throw error;
  }
  // From here until the check is done no signal ends safe-npm: a Ctrl-C or a CI timeout right
  // after the command must not skip moving aside what it planted. (runSandbox forwards signals
  // to the sandbox meanwhile; after it, they are ignored for the moment the check takes.)
  const hold = (): void => {};
  for (const signal of HELD) process.on(signal, hold);
  // Nor does a bug of safe-npm's own while the command runs (the host proxy faces what code
  // inside sends and what its hosts answer): the sandbox is ended, the check runs, and then
  // the error is thrown for the CLI to report.
  let sandboxInit: number | null = null;
  let crashed: Error | null = null;
  const crash = (error: Error): void => {
    crashed ??= error;
    if (sandboxInit !== null) {
      try {
        // Its pid namespace's init: every process inside dies with it.
        process.kill(sandboxInit, "SIGKILL");
      } catch {
        // already gone
      }
    }
  };
  process.on("uncaughtException", crash);
  let unmoved = false;
  const rootMode = lstatSync(root).mode & 0o7777;
  let outcome: Awaited<ReturnType<typeof runSandbox>>;
  // Nor does a stop of the caller's job: code inside can set the terminal's `tostop`.
  const releaseJobStops = holdJobStops();
  try {
    outcome = await runSandbox(bwrap, invocation, {
      foreground: policy.foreground,
      away: policy.awayFromTerminal,
      onReady: (pid: number) => {
        sandboxInit = pid;
        mark("sandbox set-up (spawn → ready)");
        run.onReady?.(pid);
      },
    });
  } finally {
    try {
      mark("command");
      // The root's permissions as they were: code inside may have taken them away (`chmod 0000
      // .` as the same user), which would keep the stand-ins and the check out.
      restoreMode(root, rootMode);
      run.afterSandbox?.();
      cleanupPlaceholders(placeholders, root);
      const findings = check(root, before, { ...walk, install: run.install, running });
      mark("after-run check");
      for (const finding of findings) run.report(describeFinding(finding));
      markSettings(findings, run.trustStore, run.report);
      // Something that could not be moved aside is still where host tools would use it: the
      // run must not look like a success (a CI job would go on to use it).
      unmoved = findings.some(stopsTheRun);
      if (run.topLevel !== undefined)
        for (const line of settleTopLevel(run.topLevel)) run.report(line);
      removeFile(entry);
    } finally {
      for (const signal of HELD) process.off(signal, hold);
      process.off("uncaughtException", crash);
      await releaseJobStops();
    }
  }
  if (crashed !== null) throw crashed;
  return unmoved && outcome.exitCode === 0
    ? { ...outcome, exitCode: EXIT_SAFE_NPM_FAILURE }
    : outcome;
}

const HELD = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const;

/**
 * Kinds of entry every run's walk records the same way wherever it looks (integrity.ts), so that
 * two runs' snapshots can be compared entry by entry; a `pmconfig` entry too where the other
 * run looked for that file name. Not what a run's own watch list adds.
 */
const COMPARABLE = new Set([
  "git",
  "bin",
  "self",
  "project",
  "settings",
  "anchor",
  "pmconfig",
  "unlistable",
  "oddname",
  // The root's `.yarn/install-state.gz`: where another run had none, it counts as new here, and
  // is read (nothing is reported for one whose bins yarn.lock declares).
  "yarnstate",
]);

/**
 * The snapshot a run is checked against, when other runs are still going in the project (above
 * or below it): code in one of them may have planted something before this run took its own
 * snapshot, and would otherwise be in this run's baseline as if the user had made it (and could
 * hide it from that run's own check meanwhile, then put it back). So wherever such a run looked,
 * its snapshot from before it started stands for the project (the oldest run's wins), and what
 * it did not have counts as new here. Journals are read as settingsChangedByLiveRun reads them.
 */
export function withLiveRuns(own: Snapshot, root: string, journal: string): Snapshot {
  return mergeLiveRuns(own, liveRuns(root, journal));
}

/** A journal of another run going in the project (or one it lies in, or one in it). */
interface LiveRun {
  start: bigint;
  root: string;
  data: Record<string, unknown>;
}

/**
 * The journals of the other runs going in the project: read before this run's snapshot, so that
 * a run that hides a plant, ends and drops its journal in between is not missed (its code is
 * gone by then, and what it hid is new to this run).
 */
export function liveRuns(root: string, journal: string): LiveRun[] {
  const names = journalNames(journal);
  if (names === null || names === "unsafe") return [];
  const live: LiveRun[] = [];
  for (const name of names) {
    const match = /^([0-9a-f]{16})-(\d+)-(\d+)\.json$/.exec(name);
    if (match === null || Number(match[2]) === process.pid) continue;
    if (startTime(Number(match[2])) !== match[3]) continue;
    const path = join(journal, name);
    const other = journalRoot(path);
    if (other === null || !(inside(other, root) || inside(root, other))) continue;
    try {
      const st = lstatSync(path);
      if (!st.isFile() || !ownedPrivately(st)) continue;
      const data = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
      if (Array.isArray(data.entries))
        live.push({ start: BigInt(match[3] ?? "0"), root: other, data });
    } catch {
      // being written or gone: that run's own check covers it
    }
  }
  return live;
}

/** `own` with the views of `live` runs merged in (withLiveRuns). */
export function mergeLiveRuns(own: Snapshot, live: readonly LiveRun[]): Snapshot {
  if (live.length === 0) return own;
  // Newest first: the oldest run's view is applied last and wins.
  const ordered = [...live].sort((a, b) => (a.start < b.start ? 1 : a.start > b.start ? -1 : 0));
  const watched = (path: string): boolean => own.watch.some((w) => watchCovers(w, path));
  const entries = new Map(own.entries);
  for (const run of ordered) {
    const theirs = new Map(run.data.entries as [string, Entry][]);
    const skip = pathsUnder(run.root, run.data.skip) ?? [];
    const configNames = fileNames(run.data.configNames) ?? [];
    const theirWatch = Array.isArray(run.data.watch) ? (run.data.watch as Watch[]) : [];
    const theyWatched = (path: string): boolean =>
      theirWatch.some((w) => typeof w?.path === "string" && watchCovers(w, path));
    for (const [path, mine] of own.entries) {
      const old = theirs.get(path);
      // Recorded as something else, and not alike (a missing hooks folder there, a folder
      // bound read-only here): it changed after that run started, so it is new here.
      if (old !== undefined && (old.kind !== mine.kind || typeof old.fp !== "string")) {
        if (old.fp !== mine.fp) entries.delete(path);
        continue;
      }
      // What this run watches (a hooks folder, a link to one, the files config names): their
      // entry where they recorded it; new where they watched it too and had nothing.
      if (watched(path) || !COMPARABLE.has(mine.kind)) {
        if (old !== undefined) entries.set(path, old);
        else if (theyWatched(path)) entries.delete(path);
        continue;
      }
      if (!inside(path, run.root) || skip.some((s) => inside(path, s))) continue;
      if (mine.kind === "pmconfig" && !configNames.includes(basename(path))) continue;
      if (old === undefined) entries.delete(path);
      else entries.set(path, old);
    }
  }
  return { entries, watch: own.watch };
}

/** The safe-npm that is running, as the after-run check judges a local safe-npm against it. */
export function runningSelf(): RunningSelf {
  return { version: VERSION, dist: join(PACKAGE_ROOT, "dist") };
}

/** The directory of the run journals under safe-npm's own cache dir (requireOwnCache). */
export function journalDir(cacheBase: string): string {
  return join(cacheBase, "safe-npm", "runs");
}

/** A journal file: `<sha256(root) prefix>-<pid>-<process start time>.json`. */
function journalPrefix(root: string): string {
  return createHash("sha256").update(root).digest("hex").slice(0, 16);
}

/** This process's start time in clock ticks since boot (/proc/self/stat field 22). */
export function startTime(pid: number | "self"): string | null {
  return procStat(pid)?.startTime ?? null;
}

function writeJournal(
  root: string,
  journal: string,
  before: Snapshot,
  run: {
    install: boolean;
    topLevel: TopLevel | undefined;
    skip: readonly string[];
    configNames: readonly string[];
    placeholders: readonly string[];
  },
): string {
  const { topLevel } = run;
  try {
    mkdirSync(journal, { recursive: true, mode: 0o700 });
    const file = join(journal, `${journalPrefix(root)}-${process.pid}-${startTime("self")}.json`);
    // `root` first: journalRoot reads it without parsing the rest. What the check needs to
    // judge as this run would have: the same paths left out of the walk
    // (else what was read-only shows up as new), and the mount points to remove.
    const data = {
      root,
      install: run.install,
      entries: [...before.entries],
      watch: before.watch,
      skip: run.skip,
      configNames: run.configNames,
      placeholders: run.placeholders,
      ...(topLevel === undefined
        ? {}
        : { topLevel: { names: [...topLevel.names], links: [...topLevel.links] } }),
    };
    writeFileSync(file, JSON.stringify(data), { mode: 0o600 });
    return file;
  } catch (error) {
    // Without it, a SIGKILL would skip the check, and other runs would not see this one as
    // going (sandbox/guarded.ts settingsChangedByLiveRun): code inside that filled the disk it
    // shares with the private homes must not buy that.
    throw new SafeNpmError(
      "UNSAFE_CACHE_DIR",
      `cannot write this run's journal in ${journal} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      {
        hint: `free space or inodes on the filesystem of ${journal}: \`safe-npm homes\` lists the private homes by size (code run in a project can fill its own; remove that one, or \`safe-npm homes prune\` the old ones), or set XDG_CACHE_HOME to a writable directory outside any project`,
      },
    );
  }
}

/**
 * Checks the project against the snapshot of every earlier run in it whose process is gone
 * without having checked (killed with SIGKILL, or the machine went down), before anything of
 * this run reads the project (its settings, its guards): what such a run planted is moved aside
 * now instead of being obeyed or taken into this run's snapshot as if the user had made it, and
 * the empty mount points bwrap made for it are removed. Each journal's own walk options are
 * used; `options` stands in for those a journal of an older safe-npm lacks. Returns whether it
 * checked any.
 */
export function recoverInterrupted(
  ownRoot: string,
  journal: string,
  options: Partial<WalkOptions> & { running: RunningSelf; trustStore?: string },
  report: (text: string) => void,
): boolean {
  const names = journalNames(journal);
  if (names === null) return false;
  if (names === "unsafe") {
    report(
      `safe-npm: ignoring the run journals in ${journal}: not a directory of yours that only you can write\n`,
    );
    return false;
  }
  const prefix = journalPrefix(ownRoot);
  let scaffold: string | null = null;
  const unsettled: string[] = [];
  let checked = false;
  let declared = false;
  let commands: ReadonlySet<string> | undefined;
  for (const name of names) {
    const match = /^([0-9a-f]{16})-(\d+)-(\d+)\.json$/.exec(name);
    if (match === null) continue;
    // Still running (a concurrent run in the same project): its own check will come.
    if (startTime(Number(match[2])) === match[3]) continue;
    const file = join(journal, name);
    // Its project: this run's, or one above or below it. A run started in a workspace package
    // that has its own lockfile has that package for its project; what a killed run from the
    // workspace root planted there would otherwise be read and adopted by it (and the reverse).
    let root = ownRoot;
    if (match[1] !== prefix) {
      const other = journalRoot(file);
      if (other === null || !(inside(other, ownRoot) || inside(ownRoot, other))) continue;
      root = other;
    }
    try {
      const fileStat = lstatSync(file);
      if (!fileStat.isFile() || !ownedPrivately(fileStat)) throw new Error("not a file of yours");
      const data = JSON.parse(readFileSync(file, "utf8")) as {
        root: string;
        install: boolean;
        entries: [string, Snapshot["entries"] extends Map<string, infer E> ? E : never][];
        watch: Snapshot["watch"];
        skip?: unknown;
        configNames?: unknown;
        placeholders?: unknown;
        topLevel?: { names: string[]; links: [string, string][] };
      };
      if (data.root !== root) continue;
      if (data.topLevel !== undefined && !validTopLevel(data.topLevel)) {
        throw new Error("its top-level record names an entry outside the project's top level");
      }
      // A journal written before journals kept their skip list: the project's .git, which every
      // run binds read-only, at least (walked, it would look new and be moved aside).
      const skip = pathsUnder(root, data.skip) ?? options.skip ?? [join(root, ".git")];
      const configNames = fileNames(data.configNames) ?? options.configNames ?? HOST_RUN_FILES;
      const placeholders = pathsUnder(root, data.placeholders) ?? [];
      report(
        `safe-npm: an earlier run in ${root} was killed before its after-run check; checking the project against the snapshot it took\n`,
      );
      checked = true;
      // First the root's permissions and the mount points it left (empty files and directories
      // only): then a stand-in something wrote into is judged by the check like any other file.
      ownerListable(root);
      cleanupPlaceholders(placeholders, root);
      commands ??= options.commands ?? systemCommands();
      const stored: Snapshot = { entries: new Map(data.entries), watch: data.watch };
      const findings = check(root, stored, {
        skip,
        configNames,
        commands,
        running: options.running,
        install: data.install,
      });
      for (const finding of findings) report(describeFinding(finding));
      markSettings(findings, options.trustStore, report);
      // Still in place: this run must not go on as if it were not. The journal stays, so every
      // run checks again until the project is put right.
      if (findings.some((f) => stopsTheRun(f) && f.kind !== "yarnbin")) {
        unsettled.push(file);
        continue;
      }
      // A bin yarn.lock declares cannot be put right but by removing the dependency: reported
      // once, this run stops, and the journal goes (the next run's snapshot has it).
      if (findings.some((f) => f.kind === "yarnbin")) declared = true;
      if (data.topLevel !== undefined) {
        const lines = settleTopLevel(
          {
            root,
            names: new Set(data.topLevel.names),
            links: new Map(data.topLevel.links),
          },
          true,
        );
        for (const line of lines) report(line);
        scaffold = root;
      }
    } catch (error) {
      report(`safe-npm: could not read ${file} (${(error as Error).message}); removing it\n`);
    }
    removeFile(file);
  }
  if (unsettled.length > 0) {
    throw new SafeNpmError(
      "INTERRUPTED_RUN",
      "an earlier run killed before its after-run check left changes in the project that safe-npm could not undo (listed above)",
      {
        hint: `put right what is listed above and run again; if you made those changes yourself, remove ${unsettled.join(" ")}`,
      },
    );
  }
  if (declared) {
    throw new SafeNpmError(
      "INTERRUPTED_RUN",
      "an earlier run killed before its after-run check left yarn.lock declaring bins that yarn 2+ would run on the host (listed above)",
      { hint: "remove that dependency, or if you trust it, run again: it is then known" },
    );
  }
  // What that run planted may be why this directory was taken for a project at all: decide again.
  if (scaffold !== null) {
    throw new SafeNpmError(
      "INTERRUPTED_RUN",
      `an earlier run that had ${scaffold} as its project with no package.json was killed before its after-run check; what it planted at the top of ${scaffold} was moved aside now`,
      { hint: "run the command again" },
    );
  }
  return checked;
}

/**
 * The project of a safe-npm run still going (in this project, above or below it) whose snapshot
 * shows the settings file `file` otherwise than `content`, the settings just loaded from it:
 * code in that run may have written them, and its after-run check has not come yet. Compared by
 * what was loaded, not by the file as it is now (a run may switch it back and forth). Null when
 * there is none.
 */
export function settingsChangedByLiveRun(
  ownRoot: string,
  journal: string,
  file: string,
  content: string,
  bytesSha256: string,
): string | null {
  const names = journalNames(journal);
  if (names === null || names === "unsafe") return null;
  // As the walk records it (integrity.ts): a package.json by its `sandbox` key as JSON, a
  // settings file by the hash of its bytes.
  const key = createHash("sha256").update(content).digest("hex").slice(0, 32);
  const same = (seen: string): boolean =>
    basename(file) === "package.json"
      ? seen === `project:${key}`
      : seen.startsWith("file") && seen.endsWith(`:${bytesSha256}`);
  for (const name of names) {
    const match = /^([0-9a-f]{16})-(\d+)-(\d+)\.json$/.exec(name);
    if (match === null || startTime(Number(match[2])) !== match[3]) continue;
    const path = join(journal, name);
    const root = journalRoot(path);
    if (root === null || !(inside(root, ownRoot) || inside(ownRoot, root))) continue;
    if (!inside(file, root)) continue;
    try {
      const st = lstatSync(path);
      if (!st.isFile() || !ownedPrivately(st)) continue;
      const data = JSON.parse(readFileSync(path, "utf8")) as {
        entries?: [string, { fp: string }][];
      };
      if (!same(new Map(data.entries ?? []).get(file)?.fp ?? "-")) return root;
    } catch {
      // Being written or gone: that run's own check covers it.
    }
  }
  return null;
}

/**
 * Records in the trust store the package.json `sandbox` keys a run set or changed: the next run
 * must not trust them for --trust-config (settings/index.ts).
 */
function markSettings(
  findings: readonly Finding[],
  store: string | undefined,
  report: (text: string) => void,
): void {
  for (const f of findings) {
    if (f.kind !== "settings" || f.settingsContent === undefined || store === undefined) continue;
    try {
      markWrittenInside(store, f.path, f.settingsContent);
    } catch (error) {
      report(
        `safe-npm: could not record in ${store} that ${f.path}'s settings were set inside (${(error as Error).message}): restore them before using --trust-config\n`,
      );
    }
  }
}

/**
 * A finding the run must not end as a success with: something still in place, or settings the
 * user had that are gone (moved aside after a change) — a CI job would go on without them.
 */
function stopsTheRun(f: Finding): boolean {
  return (f.movedTo === null && f.upgrade === undefined) || f.settingsLost === true;
}

/** Gives the root back the mode it had, when it is still this user's real folder (no link). */
function restoreMode(root: string, mode: number): void {
  try {
    const st = lstatSync(root);
    if (st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o7777) !== mode)
      chmodSync(root, mode);
  } catch {
    // gone or not ours: the check says what it finds
  }
}

/** `path` is `dir` or lies below it. */
function inside(path: string, dir: string): boolean {
  return path === dir || isInside(path, dir);
}

/**
 * The project a journal is for, read from the start of the file (writeJournal puts `root`
 * first), without parsing a whole journal that may be for an unrelated project; null when it
 * does not start so, or the root is not an absolute path.
 */
function journalRoot(file: string): string | null {
  let fd: number | undefined;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const head = Buffer.alloc(8192);
    const n = readSync(fd, head, 0, head.length, 0);
    const found = /^\{"root":("(?:[^"\\]|\\.)*")/.exec(head.toString("utf8", 0, n));
    const root = found === null ? null : (JSON.parse(found[1] as string) as unknown);
    return typeof root === "string" && root.startsWith("/") && !root.includes("\0") ? root : null;
  } catch {
    return null;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The paths of a journal's list that lie inside `root` (others never matter to its walk); null
 * when it is not a list of strings.
 */
function pathsUnder(root: string, value: unknown): string[] | null {
  if (!Array.isArray(value) || !value.every((p) => typeof p === "string")) return null;
  return (value as string[]).filter(
    (p) =>
      !p.includes("\0") &&
      (p === root || (p.startsWith(`${root}/`) && !p.split("/").includes(".."))),
  );
}

/** A journal's list of config file names (no `/`); null when it is not one. */
function fileNames(value: unknown): string[] | null {
  if (!Array.isArray(value)) return null;
  const name = (n: unknown): n is string =>
    typeof n === "string" && n !== "" && !n.includes("/") && !n.includes("\0");
  return value.every(name) ? value : null;
}

/**
 * The names in the journal directory; null when there is none, "unsafe" when it is not this
 * user's alone (its journals are obeyed, so only then).
 */
function journalNames(journal: string): string[] | null | "unsafe" {
  let names: string[];
  try {
    names = readdirSync(journal);
  } catch {
    return null;
  }
  const dirStat = lstatSync(journal, { throwIfNoEntry: false });
  return dirStat === undefined || !ownedPrivately(dirStat) ? "unsafe" : names;
}

/** Owned by this user and writable by no one else. */
function ownedPrivately(st: { uid: number; mode: number }): boolean {
  return st.uid === process.getuid?.() && (st.mode & 0o022) === 0;
}

/** Names directly in the root (no `/`, `.`, `..`), each link with a string target. */
function validTopLevel(top: { names: unknown; links: unknown }): boolean {
  const name = (n: unknown): n is string =>
    typeof n === "string" &&
    n !== "" &&
    n !== "." &&
    n !== ".." &&
    !n.includes("/") &&
    !n.includes("\0");
  const names = top.names;
  if (!Array.isArray(names) || !names.every(name)) return false;
  return (
    Array.isArray(top.links) &&
    top.links.every(
      (l: unknown) =>
        Array.isArray(l) &&
        l.length === 2 &&
        name(l[0]) &&
        typeof l[1] === "string" &&
        names.includes(l[0]),
    )
  );
}

/**
 * A journal file, gone or not. Not rmSync: in node 20 its first call loads fs/promises,
 * readline and more (~5 ms at the end of every run) for what one unlink does.
 */
function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}
