/**
 * The single spawn point: starts bwrap (or, already inside a sandbox, the command itself) with
 * stdio inherited, feeds bwrap its data descriptors, forwards signals and maps the exit status.
 *
 * node:child_process rather than execa here: execa takes ~150 ms to import on a small machine,
 * which would dominate `safe-npm exec -- true`; this path needs none of its conveniences.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { constants } from "node:os";
import type { Readable, Writable } from "node:stream";
import type { BwrapInvocation } from "./bwrap.js";
import { SafeNpmError } from "./errors.js";

export type ForwardedSignal = "SIGINT" | "SIGTERM" | "SIGHUP" | "SIGQUIT";
const FORWARDED: readonly ForwardedSignal[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"];

/**
 * On a terminal, bwrap shares the caller's process group (job control, interactive prompts), so
 * Ctrl-C reaches bwrap too — and bwrap dies on SIGINT without forwarding it
 * (https://github.com/containers/bubblewrap/issues/369), killing the sandbox before the package
 * manager can clean up. bwrap is therefore exec'd with SIGINT/SIGQUIT ignored; the command
 * inside gets them back (node resets them itself; see PERL_RESET/NODE_RESET in bwrap.ts).
 */
const IGNORE_TERMINAL_SIGNALS = 'trap "" INT QUIT; exec "$@"';

export interface SandboxOutcome {
  /** The exit status safe-npm should exit with. */
  exitCode: number;
}

export interface RunOptions {
  /** Stdin is a terminal: keep the caller's process group and session. */
  terminal: boolean;
}

export async function runSandbox(
  bwrap: string,
  invocation: BwrapInvocation,
  options: RunOptions,
): Promise<SandboxOutcome & { ready: boolean }> {
  const lastFd = Math.max(invocation.readyFd, ...invocation.inputs.map((i) => i.fd));
  const stdio: ("inherit" | "pipe")[] = ["inherit", "inherit", "inherit"];
  for (let fd = 3; fd <= lastFd; fd++) stdio.push("pipe");

  const [file, args] = options.terminal
    ? ["/bin/sh", ["-c", IGNORE_TERMINAL_SIGNALS, "sh", bwrap, ...invocation.args]]
    : [bwrap, invocation.args];
  // Without a terminal the sandbox gets a session of its own (no controlling terminal to inject
  // into, no stray terminal signals); safe-npm forwards every signal itself.
  const child = spawn(file, args, { stdio, detached: !options.terminal });

  let ready = false;
  const readyStream = child.stdio[invocation.readyFd] as Readable | null;
  readyStream?.on("data", () => {
    ready = true;
  });
  readyStream?.on("error", () => {});
  for (const input of invocation.inputs) {
    const stream = child.stdio[input.fd] as Writable | null;
    // bwrap may exit before reading (bad option): a broken pipe here is reported by its exit.
    stream?.on("error", () => {});
    stream?.end(input.data);
  }

  const stopForwarding = forwardSignals(child, options.terminal ? "terminal" : "session");
  try {
    const { code, signal } = await waitForExit(child);
    // The ready byte can arrive in the same tick as the exit; let the stream drain.
    if (!ready && readyStream) await drained(readyStream);
    return { exitCode: exitStatus(code, signal), ready };
  } finally {
    stopForwarding();
  }
}

/** Already inside a sandbox: run the command directly, same stdio, same environment. */
export async function runDirect(command: readonly string[], cwd: string): Promise<SandboxOutcome> {
  const [file, ...args] = command;
  if (file === undefined) throw new SafeNpmError("USAGE", "no command to run");
  const child = spawn(file, args, { stdio: "inherit", cwd });
  const stopForwarding = forwardSignals(child, "terminal");
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
    stopForwarding();
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
    if (stream.readableEnded || stream.destroyed) resolve();
    else stream.once("close", () => resolve());
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
 * command and its descendants. bwrap itself forwards nothing and is never signalled: it would
 * die and take the sandbox down with it (--die-with-parent).
 * In "terminal" mode the terminal already delivered SIGINT/SIGQUIT to the whole process group,
 * so only SIGTERM/SIGHUP (which usually come from `kill`) are forwarded.
 */
function forwardSignals(child: ChildProcess, mode: "terminal" | "session"): () => void {
  let received = 0;
  let interrupts = 0;
  const handler = (signal: ForwardedSignal): void => {
    received++;
    if (signal === "SIGINT") interrupts++;
    const pid = child.pid;
    if (pid === undefined) return;
    if (interrupts >= 2 || received >= 3) {
      for (const init of childPids(pid)) safeKill(init, "SIGKILL");
      safeKill(pid, "SIGKILL");
      return;
    }
    if (mode === "terminal" && (signal === "SIGINT" || signal === "SIGQUIT")) return;
    const inits = childPids(pid);
    if (inits.length === 0) {
      // Not set up yet, or not a sandbox (runDirect): signal the child itself.
      safeKill(pid, signal);
      return;
    }
    for (const target of inits.flatMap((init) => descendants(init))) safeKill(target, signal);
  };
  for (const signal of FORWARDED) process.on(signal, handler);
  return () => {
    for (const signal of FORWARDED) process.off(signal, handler);
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
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Field 4 (ppid) follows the parenthesised command name, which may contain spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
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
