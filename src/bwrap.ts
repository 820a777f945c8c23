/**
 * PURE: Policy → bwrap argv. The bwrap manual (bwrap(1),
 * https://github.com/containers/bubblewrap/blob/main/bwrap.xml) is the reference for each flag.
 */
import type { Mount, Policy } from "./policy.js";

export interface BwrapInvocation {
  /** Arguments after `bwrap`. */
  args: string[];
  /** Data bwrap reads (and closes) from inherited descriptors 4, 5, …; written by spawn.ts. */
  inputs: { fd: number; data: Uint8Array; label: string }[];
  /** Descriptor on which the sandbox writes one byte right before exec'ing the command. */
  readyFd: typeof READY_FD;
}

/**
 * Runs inside, as the sandbox's first process: tells safe-npm the sandbox is set up (so a
 * bwrap failure is never mistaken for the command's own exit status), closes that descriptor so
 * the command does not inherit it, and execs the command — sh supplies the conventional 127
 * (not found) and 126 (cannot execute).
 */
export const READY_FD = 3;
export const READY_SCRIPT = `printf x >&${READY_FD}; exec ${READY_FD}>&-; exec "$@"`;

/**
 * Restores default SIGINT/SIGQUIT before exec: on a terminal bwrap is started with them ignored
 * (it would die on Ctrl-C and take the sandbox down before the command could clean up), and an
 * ignored signal survives exec. POSIX sh cannot undo that ("signals that were ignored on entry
 * cannot be trapped or reset"), perl can.
 */
export const PERL_RESET =
  '$SIG{INT}=$SIG{QUIT}="DEFAULT"; exec {$ARGV[0]} @ARGV or do { print STDERR "$ARGV[0]: $!\\n"; exit($!{ENOENT} ? 127 : 126) }';

/**
 * The same in node, for hosts without perl: node resets dispositions at start-up; it runs the
 * command as its child, lets the terminal's signals reach the child directly and mirrors the
 * child's exit.
 */
export const NODE_RESET = [
  'const{spawn}=require("node:child_process");',
  "const[c,...a]=process.argv.slice(1);",
  'for(const s of["SIGINT","SIGQUIT","SIGTERM","SIGHUP"])process.on(s,()=>{});',
  'const p=spawn(c,a,{stdio:"inherit"});',
  'p.on("error",e=>{console.error(c+": "+e.message);process.exit(e.code==="ENOENT"?127:126)});',
  'p.on("exit",(code,sig)=>{if(sig){process.removeAllListeners(sig);process.kill(process.pid,sig)}process.exit(code??1)});',
].join("");

export function buildBwrapArgs(policy: Policy, seccompFilter: Uint8Array | null): BwrapInvocation {
  const args: string[] = [];
  const inputs: BwrapInvocation["inputs"] = [];
  const nextFd = (): number => READY_FD + 1 + inputs.length;

  if (policy.userNamespace) args.push("--unshare-user", "--disable-userns");
  args.push("--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try");
  if (policy.network !== "full") args.push("--unshare-net");
  args.push("--hostname", policy.hostname);
  // As root, bwrap keeps every capability unless told otherwise (mount and mknod work inside).
  args.push("--cap-drop", "ALL", "--die-with-parent");
  // Without the filter, a new session is the only guard against TIOCSTI (at the cost of job control).
  const filter = policy.seccomp ? seccompFilter : null;
  if (filter === null) args.push("--new-session");

  args.push("--clearenv");
  for (const [name, value] of Object.entries(policy.env)) args.push("--setenv", name, value);

  for (const mount of policy.mounts) {
    if (mount.kind === "data") {
      const fd = nextFd();
      inputs.push({ fd, data: new TextEncoder().encode(mount.data), label: mount.label });
      args.push("--ro-bind-data", String(fd), mount.dest);
    } else {
      args.push(...mountArgs(mount));
    }
  }
  if (filter !== null) {
    const fd = nextFd();
    inputs.push({ fd, data: filter, label: "seccomp filter" });
    args.push("--seccomp", String(fd));
  }
  args.push("--chdir", policy.cwd, "--", "/bin/sh", "-c", READY_SCRIPT, "sh");
  if (policy.terminal && policy.resetSignals === "perl") {
    args.push("/usr/bin/perl", "-e", PERL_RESET);
  } else if (policy.terminal && policy.resetSignals === "node") {
    args.push(policy.node, "-e", NODE_RESET, "--");
  }
  args.push(...policy.command);
  return { args, inputs, readyFd: READY_FD };
}

function mountArgs(mount: Exclude<Mount, { kind: "data" }>): string[] {
  switch (mount.kind) {
    case "ro-bind":
      return ["--ro-bind", mount.src, mount.dest];
    case "bind":
      return ["--bind", mount.src, mount.dest];
    case "symlink":
      return ["--symlink", mount.target, mount.dest];
    case "tmpfs":
      return ["--tmpfs", mount.dest];
    case "empty-dir":
      return ["--tmpfs", mount.dest, "--remount-ro", mount.dest];
    case "proc":
      return ["--proc", mount.dest];
    case "dev":
      return ["--dev", mount.dest];
  }
}

/** Shell-quotes one word for --dry-run output (POSIX single quotes). */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
