/**
 * PURE: Policy → bwrap argv. The bwrap manual (bwrap(1),
 * https://github.com/containers/bubblewrap/blob/main/bwrap.xml) is the reference for each flag.
 */
import type { Mount, Policy } from "./policy.js";

export interface BwrapInvocation {
  /** Arguments after `bwrap`. */
  args: string[];
  /** How many of `args` are options; then come `--` and the command. */
  optionCount: number;
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
 * On a terminal the command runs in a process group of its own, made the terminal's foreground
 * group, so Ctrl-C and Ctrl-Z reach it directly while safe-npm, bwrap and whatever shares the
 * caller's group (`safe-npm install | tee log`) are out of reach of `kill(0, …)` inside: the
 * caller's group cannot even be named from inside the pid namespace. POSIX sh cannot call
 * setpgid/tcsetpgrp itself; perl can.
 *
 * This supervisor stays in the caller's group (with bwrap), forks the command into the new
 * group and waits. It hands the command's group the terminal once the child's Ctrl-C and Ctrl-Z
 * act again (the child closes a pipe): a Ctrl-C can never reach a group that ignores it; before
 * the hand-over it reaches bwrap's group, and safe-npm ends the run (spawn.ts). The hand-over is
 * the supervisor's, from the caller's group, with SIGTTOU's default: if that group is no longer
 * the terminal's foreground (a Ctrl-Z while the sandbox was being set up, then `bg`) the kernel
 * stops the supervisor there until `fg`, where a `tcsetpgrp` from the new group would have
 * taken the terminal from the shell. Only then does the child exec the command.
 *
 * Its first argument says whether the caller does job control (its group is a job, not the
 * session leader's). Only then does a stopped command stop the supervisor's own group, which
 * the caller's shell reports as a stopped job; on `fg` it hands the terminal back to the command
 * and continues it. Code inside can stop the command as Ctrl-Z does, so first everything else
 * inside is stopped too (`kill(-1, SIGSTOP)` reaches every process of the pid namespace but the
 * supervisor and pid 1): while the shell has the prompt, nothing inside runs. Processes inside
 * can continue each other (a SIGCONT drops a pending stop), so the supervisor repeats that
 * until /proc shows every thread inside stopped (or in the kernel: it stops on its way out, and
 * nothing is left to continue it) three times running — a sender caught in its kill(2) can
 * continue one already read; processes that keep that from happening for two seconds end the
 * sandbox instead. When it is woken
 * by anything but the shell's `fg` (`bg`, or a SIGCONT from inside), its `tcsetpgrp` from the
 * background makes the kernel stop its group again instead of taking the terminal from the
 * shell — so SIGTTOU has its default for that call. (Inside the pid namespace the caller's
 * group cannot be named: tcgetpgrp and getpgrp read 0, so only the kernel can tell.) Otherwise
 * SIGTTOU and SIGTTIN are ignored: code inside can set the terminal's `tostop`, and a write from
 * the caller's job (a `tee`) must not stop the supervisor (jobstops.ts).
 *
 * It makes itself non-dumpable first (prctl PR_SET_DUMPABLE, by the syscall number seccomp.ts
 * gives on x86_64 and arm64, where the seccomp filter exists): it runs as the command's user in the caller's
 * process group, and through /proc/<pid>/mem code inside could otherwise write its memory and
 * make it signal safe-npm (policy.ts masks pid 1's the same way). It mirrors the command's exit
 * status or death by signal. (The terminal's modes, which code inside can change, node puts
 * back as they were when safe-npm exits.)
 */
/** perl's `$?` reads 0 for a stopped child; the raw wait status has it. */
const NATIVE_STATUS = ["$", "{^CHILD_ERROR_NATIVE}"].join("");
export const FOREGROUND_PERL = String.raw`use POSIX (); use Config;
my $jobs = shift @ARGV;
delete $ENV{PERL_BADLANG} if shift(@ARGV) eq "1";
my $prctl = shift @ARGV; $prctl = undef if $prctl eq "";
my $filter = pack("H*", shift @ARGV);
if (defined $prctl && syscall($prctl, 4, 0, 0, 0, 0) != 0) { print STDERR "safe-npm: prctl: $!\n"; exit 126 }
my @s = qw(INT QUIT TERM HUP TSTP TTIN); $SIG{$_} = "IGNORE" for @s, "TTOU";
(pipe(my $ready_r, my $ready_w) && pipe(my $go_r, my $go_w)) or do { print STDERR "safe-npm: pipe: $!\n"; exit 126 };
my $p = fork(); if (!defined $p) { print STDERR "safe-npm: fork: $!\n"; exit 126 }
if ($p == 0) {
  close $ready_r; close $go_w;
  POSIX::setpgid(0, 0); $SIG{$_} = "DEFAULT" for @s, "TTOU"; close $ready_w;
  sysread($go_r, my $go, 1) == 1 or POSIX::_exit(126);
  if (length $filter) {
    my $fprog = pack("S x6 Q", length($filter) / 8, unpack("Q", pack("p", $filter)));
    (defined $prctl && syscall($prctl, 22, 2, $fprog) == 0) or do { print STDERR "safe-npm: seccomp: $!\n"; POSIX::_exit(126) };
  }
  exec { $ARGV[0] } @ARGV or do { print STDERR "$ARGV[0]: $!\n"; POSIX::_exit($!{ENOENT} ? 127 : 126) };
}
close $ready_w; close $go_r;
POSIX::setpgid($p, $p);
sysread($ready_r, my $ready, 1); close $ready_r;
$SIG{TTOU} = "DEFAULT"; POSIX::tcsetpgrp(0, $p); $SIG{TTOU} = "IGNORE";
syswrite($go_w, "x"); close $go_w;
while (waitpid($p, POSIX::WUNTRACED()) == $p) {
  my $st = ${NATIVE_STATUS};
  if (POSIX::WIFSTOPPED($st)) {
    next unless $jobs;
    my $ok = 0;
    for (1 .. 200) { kill("STOP", -1); select(undef, undef, undef, 0.01); if (frozen() && frozen() && frozen()) { $ok = 1; last } }
    if (!$ok) { print STDERR "safe-npm: processes inside kept the sandbox from stopping: it is ended\n"; kill("KILL", -1); next }
    kill("STOP", 0);
    $SIG{TTOU} = "DEFAULT"; POSIX::tcsetpgrp(0, $p); $SIG{TTOU} = "IGNORE";
    kill("CONT", -1); kill("CONT", -$p); next;
  }
  if (POSIX::WIFSIGNALED($st)) {
    my $n = POSIX::WTERMSIG($st); my $name = (split " ", $Config{sig_name})[$n];
    $SIG{$name} = "DEFAULT" if $name; kill($n, $$); exit(128 + $n);
  }
  exit(POSIX::WEXITSTATUS($st));
}
exit 126;
sub frozen {
  opendir(my $d, "/proc") or return 0;
  for my $n (grep { /^\d+$/ && $_ != 1 && $_ != $$ } readdir $d) {
    opendir(my $t, "/proc/$n/task") or next;
    for my $id (grep { /^\d+$/ } readdir $t) {
      open(my $f, "<", "/proc/$n/task/$id/stat") or next;
      my ($st) = (<$f> // "") =~ /.*\) (\S)/s;
      return 0 if defined $st && $st !~ /^[TtZXD]$/;
    }
  }
  1;
}`;

/** What the terminal supervisor gets from seccomp.ts, where the arch has a filter. */
export interface SupervisorSeccomp {
  /** prctl's number on the native ABI. */
  prctl: number;
  /** The command's own filter (buildCommandFilter). */
  commandFilter: Uint8Array;
}

export function buildBwrapArgs(
  policy: Policy,
  seccompFilter: Uint8Array | null,
  supervisor: SupervisorSeccomp | null = null,
): BwrapInvocation {
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
  args.push("--chdir", policy.cwd);
  const optionCount = args.length;
  args.push("--", "/bin/sh", "-c", READY_SCRIPT, "sh");
  if (policy.foreground) {
    // perl warns on stderr, five lines, when LANG or LC_* name a locale the system lacks; quiet
    // it, and drop the variable again for the command unless the environment had it.
    const own = policy.env.PERL_BADLANG === undefined;
    args.push(
      ...(own ? ["/usr/bin/env", "PERL_BADLANG=0"] : []),
      "/usr/bin/perl",
      "-e",
      FOREGROUND_PERL,
      "--",
      policy.jobControl ? "1" : "0",
      own ? "1" : "0",
      supervisor === null ? "" : String(supervisor.prctl),
      supervisor === null ? "" : Buffer.from(supervisor.commandFilter).toString("hex"),
    );
  }
  args.push(...policy.command);
  return { args, optionCount, inputs, readyFd: READY_FD };
}

function mountArgs(mount: Exclude<Mount, { kind: "data" }>): string[] {
  switch (mount.kind) {
    case "ro-bind":
      return ["--ro-bind", mount.src, mount.dest];
    case "bind":
      return ["--bind", mount.src, mount.dest];
    case "pin":
      return ["--bind", mount.dest, mount.dest];
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
