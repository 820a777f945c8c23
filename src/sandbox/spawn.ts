/**
 * The single spawn point: starts bwrap (or, already inside a sandbox, the command itself) with
 * stdio inherited, feeds bwrap its data descriptors, forwards signals and maps the exit status.
 *
 * node:child_process rather than execa here: execa takes ~150 ms to import on a small machine,
 * which would dominate `safe-npm exec -- true`; this path needs none of its conveniences.
 */
import {
  type ChildProcess,
  type StdioNull,
  type StdioPipe,
  spawn,
  spawnSync,
} from "node:child_process";
import { closeSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { constants } from "node:os";
import type { Readable, Writable } from "node:stream";
import { isatty } from "node:tty";
import { SafeNpmError } from "../errors.js";
import { isForegroundGroup } from "../host/host.js";
import { procStat } from "../host/procstat.js";
import type { BwrapInvocation } from "./bwrap.js";
import { drain, startRelay } from "./jobstops.js";

export type ForwardedSignal = "SIGINT" | "SIGTERM" | "SIGHUP" | "SIGQUIT";
const FORWARDED: readonly ForwardedSignal[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"];

/**
 * On a terminal, bwrap shares the caller's process group until the command's group takes the
 * terminal, so a Ctrl-C during start-up reaches bwrap too — and bwrap dies on SIGINT without
 * forwarding it (https://github.com/containers/bubblewrap/issues/369), possibly halfway through
 * setting the sandbox up. bwrap is therefore exec'd with SIGINT/SIGQUIT ignored; the command
 * inside gets them back from FOREGROUND_PERL (bwrap.ts). SIGTTOU/SIGTTIN too: code inside can
 * set the terminal's `tostop`, and a write from the caller's job (a `tee`) would then stop bwrap
 * and the supervisor with it, the command's end unseen (jobstops.ts).
 */
const IGNORE_TERMINAL_SIGNALS = 'trap "" INT QUIT TTOU TTIN; exec "$@"';

export interface SandboxOutcome {
  /** The exit status safe-npm should exit with. */
  exitCode: number;
}

export interface RunOptions {
  /**
   * The command takes the terminal's foreground inside (policy.foreground): bwrap stays in the
   * caller's process group until the command's own group takes over. Otherwise the sandbox gets
   * a session of its own.
   */
  foreground: boolean;
  /**
   * Called once the sandbox is set up, with its pid 1 (a process in its namespaces; the
   * port forwarding reads its socket tables and enters its network namespace).
   */
  onReady?: (sandboxPid: number) => void;
  /**
   * Started in the background with a terminal on stdio (policy.awayFromTerminal): the sandbox
   * gets none of its descriptors, even if the job is in the foreground by the time it starts.
   */
  away?: boolean;
}

/**
 * Starts bwrap. Its environment is empty: bwrap's own process inside the pid namespace (pid 1)
 * keeps the environment it was spawned with, readable in /proc/1/environ, while --clearenv only
 * applies to the command. Its options come through `--args FD`, so /proc/1/cmdline inside shows
 * only the command (which the command's own process shows anyway): no host path or setting.
 */
export async function runSandbox(
  bwrap: string,
  invocation: BwrapInvocation,
  options: RunOptions,
): Promise<SandboxOutcome & { ready: boolean; interrupted: boolean }> {
  const argsFd = Math.max(invocation.readyFd, ...invocation.inputs.map((i) => i.fd)) + 1;
  const stdio: (StdioNull | StdioPipe | Writable)[] = ["inherit", "inherit", "inherit"];
  for (let fd = 3; fd <= argsFd; fd++) stdio.push("pipe");
  const relays = options.foreground ? [] : awayFromTerminal(stdio, options.away === true);
  const inputs = [
    ...invocation.inputs,
    {
      fd: argsFd,
      data: encodeArgs(invocation.args.slice(0, invocation.optionCount)),
      label: "bwrap options",
    },
  ];

  // Without the terminal's foreground the sandbox gets a session of its own (no controlling
  // terminal to inject into, no stray terminal signals); safe-npm forwards every signal itself.
  // With it, bwrap shares the caller's group until the command's group takes over, so it must
  // not die of the terminal's Ctrl-C (IGNORE_TERMINAL_SIGNALS); safe-npm ends the run instead.
  const bwrapArgv = ["--args", String(argsFd), ...invocation.args.slice(invocation.optionCount)];
  const [file, args] = options.foreground
    ? ["/bin/sh", ["-c", IGNORE_TERMINAL_SIGNALS, "sh", bwrap, ...bwrapArgv]]
    : [bwrap, bwrapArgv];
  closeInheritedDescriptors();
  const child = spawn(file, args, { stdio, detached: !options.foreground, env: {} });
  // The sandbox holds the relays' input now; once it is gone they see its end.
  for (const relay of relays) relay.stdin?.destroy();

  let ready = false;
  const forwarding = forwardSignals(child, { foreground: options.foreground });
  const readyStream = child.stdio[invocation.readyFd] as Readable | null;
  readyStream?.on("data", () => {
    if (ready) return;
    ready = true;
    forwarding.ready();
    // bwrap's only child is the sandbox's pid 1 (bwrap runs the command under it).
    const init = child.pid === undefined ? undefined : childPids(child.pid)[0];
    if (init !== undefined) options.onReady?.(init);
  });
  readyStream?.on("error", () => {});
  for (const input of inputs) {
    const stream = child.stdio[input.fd] as Writable | null;
    // bwrap may exit before reading (bad option): a broken pipe here is reported by its exit.
    stream?.on("error", () => {});
    stream?.end(input.data);
  }

  try {
    const { code, signal } = await waitForExit(child);
    // The ready byte can arrive in the same tick as the exit; let the stream drain (bounded: a
    // process bwrap left behind could hold the pipe open).
    if (!ready && readyStream) await drained(readyStream);
    const ended = forwarding.ended();
    return {
      exitCode: ended ?? exitStatus(code, signal),
      ready,
      interrupted: forwarding.interrupted(),
    };
  } finally {
    forwarding.stop();
    if (options.foreground) reclaimTerminal();
    await Promise.all(relays.map(drain));
  }
}

/**
 * Started in the background (`safe-npm install &`, even if brought to the foreground since),
 * or in the background now, or with no terminal of its own, while its stdio is a terminal: the sandbox runs in a session of its own there, where the kernel's job
 * control does not reach, so with the terminal's descriptors code inside could read what is
 * typed to the shell (and change its modes). It gets none: stdin is /dev/null, and stdout and
 * stderr go through a `cat` each (jobstops.ts) that writes them to the terminal.
 */
function awayFromTerminal(
  stdio: (StdioNull | StdioPipe | Writable)[],
  away: boolean,
): ChildProcess[] {
  const ttys = [0, 1, 2].filter((fd) => isatty(fd));
  if (ttys.length === 0 || (!away && isForegroundGroup())) return [];
  const relays: ChildProcess[] = [];
  for (const fd of ttys) {
    if (fd === 0) {
      stdio[0] = "ignore";
      continue;
    }
    const relay = startRelay(fd as 1 | 2);
    if (relay?.stdin == null) {
      // No relay: nothing of the terminal goes in rather than the terminal itself.
      stdio[fd] = "ignore";
      continue;
    }
    stdio[fd] = relay.stdin;
    relays.push(relay);
  }
  return relays;
}

/**
 * Closes the descriptors this process inherited without close-on-exec (a shell's `exec 9<file`,
 * a CI runner's pipe): a child inherits them, bwrap passes them on, and the command inside could
 * read a host file — or write through a directory descriptor — that the sandbox never mounted.
 * Everything node and libuv open themselves is close-on-exec, so only inherited ones are closed.
 * /proc/self/fdinfo gives each descriptor's open flags (octal).
 */
export function closeInheritedDescriptors(): void {
  let fds: string[];
  try {
    fds = readdirSync("/proc/self/fdinfo");
  } catch {
    return;
  }
  for (const name of fds) {
    const fd = Number(name);
    if (!Number.isInteger(fd) || fd <= 2) continue;
    try {
      const flags = /^flags:\s*([0-7]+)/m.exec(
        readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"),
      )?.[1];
      if (flags !== undefined && (Number.parseInt(flags, 8) & O_CLOEXEC) === 0) closeSync(fd);
    } catch {
      // gone meanwhile, or the directory's own descriptor
    }
  }
}

/** O_CLOEXEC in fdinfo's flags (x86_64, arm64 and most architectures). */
const O_CLOEXEC = 0o2000000;

/** bwrap's `--args FD` format: each argument followed by a NUL byte. */
export function encodeArgs(args: readonly string[]): Uint8Array {
  return new TextEncoder().encode(args.map((a) => `${a}\0`).join(""));
}

/**
 * The command's process group had the terminal's foreground; give it back to safe-npm's group
 * (where the caller's shell or script expects it) — but only while the foreground group is
 * gone with the sandbox: a shell that took the terminal back (the job was stopped and put in
 * the background) keeps it. node has no tcsetpgrp, perl does (FOREGROUND_PERL needs it anyway).
 */
function reclaimTerminal(): void {
  if (isForegroundGroup()) return;
  const tpgid = foregroundGroupOfTerminal();
  if (tpgid > 0 && existsSync(`/proc/${tpgid}`)) return;
  spawnSync(
    "/usr/bin/perl",
    ["-MPOSIX", "-e", '$SIG{TTOU}="IGNORE"; POSIX::tcsetpgrp(0, POSIX::getpgrp())'],
    { stdio: ["inherit", "ignore", "ignore"], env: {} },
  );
}

/** The terminal's foreground group (field 8 of /proc/self/stat), or -1. */
function foregroundGroupOfTerminal(): number {
  return procStat("self")?.tpgid ?? -1;
}

/**
 * A helper process of safe-npm's own on the host (the port forwarder): empty environment, no
 * stdin or stdout, stderr collected, an IPC channel on fd 3. Its own process group, so the
 * terminal's Ctrl-C does not cut connections while the command cleans up; it exits when
 * safe-npm does (the channel closes).
 */
export function spawnHelper(file: string, args: readonly string[]): ChildProcess {
  return spawn(file, args, {
    stdio: ["ignore", "ignore", "pipe", "ipc"],
    env: {},
    cwd: "/",
    detached: true,
  });
}

/** Already inside a sandbox: run the command directly, same stdio, same environment. */
export async function runDirect(
  command: readonly string[],
  cwd: string,
  env?: Readonly<Record<string, string | undefined>>,
): Promise<SandboxOutcome> {
  const [file, ...args] = command;
  if (file === undefined) throw new SafeNpmError("USAGE", "no command to run");
  const child = spawn(file, args, { stdio: "inherit", cwd, ...(env === undefined ? {} : { env }) });
  const forwarding = relaySignals(child);
  try {
    const { code, signal } = await waitForExit(child);
    return { exitCode: exitStatus(code, signal) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT")
      throw new SafeNpmError("SPAWN_FAILED", `${file}: command not found`, { exitCode: 127 });
    throw new SafeNpmError("SPAWN_FAILED", `${file}: cannot run (${code ?? String(error)})`, {
      exitCode: 126,
    });
  } finally {
    forwarding.stop();
  }
}

function waitForExit(
  child: ChildProcess,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
}

function drained(stream: Readable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.readableEnded || stream.destroyed) return resolve();
    const timer = setTimeout(resolve, 500);
    stream.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0));
}

/**
 * Forwards SIGINT/SIGTERM/SIGHUP/SIGQUIT to every process of the sandbox — what a terminal does
 * for Ctrl-C — so the package manager and its scripts can clean up (npm only relays a signal to
 * the script's `sh`, which ignores it while it waits). A second SIGINT (or a third signal of any
 * kind) kills the whole sandbox.
 *
 * The processes are found through /proc: bwrap → the sandbox's pid 1 (bwrap's init) → the
 * command and its descendants. bwrap itself is never signalled while it sets the sandbox up: a
 * bwrap that dies between creating the sandbox's first process and arming --die-with-parent in
 * it leaves that process behind, blocked forever. Signals that arrive before the sandbox is
 * ready wait for it.
 *
 * With the terminal's foreground (`foreground`), Ctrl-C reaches the command's group directly
 * once it holds the terminal. A SIGINT/SIGQUIT that reaches safe-npm itself came from the
 * terminal before the hand-over (or from `kill`): the run ends (the sandbox is killed, exit
 * 128+N) — the first Ctrl-C is never lost.
 */
function forwardSignals(
  child: ChildProcess,
  options: { foreground: boolean },
): {
  ready: () => void;
  stop: () => void;
  interrupted: () => boolean;
  /** The exit status when safe-npm ended the run itself, else null. */
  ended: () => number | null;
} {
  let received = 0;
  let interrupts = 0;
  let isReady = false;
  let endedWith: number | null = null;
  const pending: ForwardedSignal[] = [];

  const killAll = (signal: ForwardedSignal): void => {
    const pid = child.pid;
    if (pid === undefined) return;
    endedWith ??= 128 + (constants.signals[signal] ?? 0);
    // The sandbox's pid 1 first: its death kills everything inside, and bwrap then exits.
    for (const init of childPids(pid)) safeKill(init, "SIGKILL");
    safeKill(pid, "SIGKILL");
  };
  const deliver = (signal: ForwardedSignal): void => {
    const pid = child.pid;
    if (pid === undefined) return;
    // With the terminal's foreground, a Ctrl-C reaches safe-npm only before the command's group
    // took the terminal — by the time it is handled the hand-over may be done, and the command
    // may be forking (a shell's child catches it with the inherited handler and loses it). A
    // SIGINT/SIGQUIT sent to safe-npm itself is rare there. Either way: end the run.
    const fromTerminal = options.foreground && (signal === "SIGINT" || signal === "SIGQUIT");
    if (interrupts >= 2 || received >= 3 || fromTerminal) {
      killAll(signal);
      return;
    }
    for (const target of childPids(pid).flatMap((init) => descendants(init)))
      safeKill(target, signal);
  };
  const handler = (signal: ForwardedSignal): void => {
    received++;
    if (signal === "SIGINT") interrupts++;
    if (!isReady) pending.push(signal);
    else deliver(signal);
  };
  for (const signal of FORWARDED) process.on(signal, handler);
  // In a session of its own the sandbox is out of reach of the terminal's Ctrl-Z: when it stops
  // safe-npm, everything of the sandbox stops with it, and goes on with it.
  const stop = (): void => {
    const pid = child.pid;
    if (pid === undefined) return;
    const frozen = new Set<number>();
    // Until a pass finds no process it has not stopped: one may fork while a pass goes on (its
    // child shows in /proc only once linked, before the parent can take the stop), bounded
    // because code inside could fork as fast as the passes go.
    for (let pass = 0, fresh = true; fresh && pass < 20; pass++) {
      fresh = false;
      for (const target of [pid, ...descendants(pid)]) {
        if (frozen.has(target)) continue;
        safeKill(target, "SIGSTOP");
        frozen.add(target);
        fresh = true;
      }
    }
    process.kill(process.pid, "SIGSTOP");
    for (const target of frozen) safeKill(target, "SIGCONT");
  };
  if (!options.foreground) process.on("SIGTSTP", stop);
  return {
    ready: () => {
      isReady = true;
      for (const signal of pending.splice(0)) deliver(signal);
    },
    stop: () => {
      for (const signal of FORWARDED) process.off(signal, handler);
      process.off("SIGTSTP", stop);
    },
    interrupted: () => received > 0,
    ended: () => endedWith,
  };
}

/**
 * Nested (runDirect): the command shares this process's group, so a terminal's SIGINT/SIGQUIT
 * and the outer safe-npm's forwarding (to every process of the sandbox) already reach it;
 * SIGTERM/SIGHUP sent to this process alone are passed on. A second SIGINT (or a third signal)
 * kills the command.
 */
function relaySignals(child: ChildProcess): { stop: () => void } {
  let received = 0;
  let interrupts = 0;
  const handler = (signal: ForwardedSignal): void => {
    received++;
    if (signal === "SIGINT") interrupts++;
    const pid = child.pid;
    if (pid === undefined) return;
    if (interrupts >= 2 || received >= 3) safeKill(pid, "SIGKILL");
    else if (signal === "SIGTERM" || signal === "SIGHUP") safeKill(pid, signal);
  };
  for (const signal of FORWARDED) process.on(signal, handler);
  return {
    stop: () => {
      for (const signal of FORWARDED) process.off(signal, handler);
    },
  };
}

/** All descendants of `pid` (not `pid` itself), parents before children. */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const queue = childPids(pid);
  while (queue.length > 0) {
    const next = queue.shift() as number;
    out.push(next);
    queue.push(...childPids(next));
  }
  return out;
}

/**
 * Direct children of `pid`, from /proc/<pid>/task/<tid>/children (every thread: a node process
 * may spawn from any of them), else from a scan of /proc/<n>/stat.
 */
export function childPids(pid: number): number[] {
  try {
    const children = readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim();
      return text === "" ? [] : text.split(/\s+/).map(Number);
    });
    return [...new Set(children)];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT" || !existsSync(`/proc/${pid}`))
      return [];
    return scanChildren(pid);
  }
}

function scanChildren(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    // null: the process ended meanwhile
    if (procStat(Number(entry))?.ppid === pid) children.push(Number(entry));
  }
  return children;
}

function safeKill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
