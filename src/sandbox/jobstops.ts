/**
 * The caller's job while a sandbox runs. Code inside can set the terminal's `tostop` mode
 * (`stty tostop` on the terminal it was given). From then on a write to the terminal from the
 * caller's job while the command holds it — `tee` in `safe-npm install | tee log`, or
 * safe-npm's own port-forwarding line — makes the kernel send SIGTTOU to the whole job
 * (tty_check_change in drivers/tty/tty_jobctrl.c; termios(3), TOSTOP). That would stop
 * safe-npm before its after-run check while the shell gives the prompt back: git or a bare
 * package manager could then run on the unchecked project. A reader in the job gets SIGTTIN
 * the same way.
 *
 * node resets an inherited SIG_IGN (and the signal mask) at start, so safe-npm cannot ignore
 * these signals; it catches them instead, from the sandbox's start until the check is done.
 * A caught SIGTTOU does not let a write through, though: the kernel restarts the write after
 * the handler and signals the job again, forever. So meanwhile safe-npm's own writes to a
 * terminal go through a relay in a session of its own — `tostop` concerns only processes
 * whose controlling terminal it is. Afterwards the processes of the job that were stopped
 * (the `tee`) are continued.
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Socket } from "node:net";

const STOPS = ["SIGTTOU", "SIGTTIN"] as const;

/** How long the relay may take to write what it holds once the check is done. */
const RELAY_DRAIN_MS = 2000;

interface Loan {
  relay: ChildProcess | null;
  /** A stop signal reached safe-npm: some process of its job was stopped. */
  stopped: boolean;
  /** Written while the relay drains, written directly once it has. */
  held: string[] | null;
}

let loan: Loan | null = null;

/**
 * Catches SIGTTOU/SIGTTIN and sends safe-npm's terminal writes through the relay until the
 * returned function is called (after the after-run check). That function waits for the relay
 * (bounded), and continues the job's stopped processes if a stop signal came meanwhile.
 */
export function holdJobStops(): () => Promise<void> {
  if (loan !== null) return async () => {};
  const current: Loan = { relay: null, stopped: false, held: null };
  loan = current;
  const caught = (): void => {
    current.stopped = true;
  };
  for (const signal of STOPS) process.on(signal, caught);
  return async () => {
    current.held = [];
    try {
      if (current.relay !== null) await drain(current.relay);
    } finally {
      loan = null;
      for (const text of current.held) process.stderr.write(text);
      for (const signal of STOPS) process.off(signal, caught);
      if (current.stopped) {
        try {
          // kill(0, …): safe-npm's own process group, the caller's job.
          process.kill(0, "SIGCONT");
        } catch {
          // nothing to continue
        }
      }
    }
  };
}

/** safe-npm's own stderr: through the relay while a sandbox runs and stderr is a terminal. */
export function writeStderr(text: string): void {
  const current = loan;
  if (current === null || process.stderr.isTTY !== true) {
    process.stderr.write(text);
    return;
  }
  if (current.held !== null) {
    current.held.push(text);
    return;
  }
  current.relay ??= startRelay();
  const stdin = current.relay?.stdin;
  if (stdin?.writable) stdin.write(text);
  else process.stderr.write(text);
}

/**
 * `cat` with safe-npm's stderr (or stdout) as its output, in a session of its own (no
 * controlling terminal): its writes are never stopped. null when it cannot be started.
 */
export function startRelay(fd: 1 | 2 = 2): ChildProcess | null {
  try {
    const relay = spawn("/bin/cat", [], {
      stdio: ["pipe", fd, "ignore"],
      detached: true,
      env: {},
      cwd: "/",
    });
    relay.on("error", () => {});
    relay.stdin?.on("error", () => {});
    return relay;
  } catch {
    return null;
  }
}

/** Closes the relay's input and waits for it to write what it holds (bounded). */
export function drain(relay: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (relay.exitCode !== null || relay.signalCode !== null) return resolve();
    // A terminal held with Ctrl-S blocks the relay: do not wait for it forever.
    const timer = setTimeout(() => {
      relay.unref();
      (relay.stdin as Socket | null)?.unref();
      resolve();
    }, RELAY_DRAIN_MS);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    relay.once("close", done);
    relay.once("error", done);
    relay.stdin?.end();
  });
}
