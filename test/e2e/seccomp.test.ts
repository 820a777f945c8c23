/**
 * The seccomp filter, tried for real: one perl script makes each blocked call (perl's `syscall`
 * reaches the kernel directly, no libc wrapper in between) inside the sandbox and, as the
 * control, on the host. Where the kernel's own answer on the host differs from the filter's
 * (a path lookup or argument check that comes before any permission check), the errno proves
 * the filter answered, not a missing capability. Ordinary work — fork, threads, child
 * processes, the network interface list — still runs inside.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { makeWorld, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");
const isRoot = process.getuid?.() === 0;

/** Native syscall numbers, from the kernel's uapi headers (unistd_64.h, asm-generic/unistd.h). */
const NR: Record<string, Record<string, number>> = {
  x64: {
    keyctl: 250,
    add_key: 248,
    request_key: 249,
    ptrace: 101,
    process_vm_readv: 310,
    process_vm_writev: 311,
    perf_event_open: 298,
    personality: 135,
    userfaultfd: 323,
    mount: 165,
    umount2: 166,
    pivot_root: 155,
    chroot: 161,
    open_tree: 428,
    move_mount: 429,
    fsopen: 430,
    fsconfig: 431,
    fsmount: 432,
    fspick: 433,
    mount_setattr: 442,
    unshare: 272,
    setns: 308,
    clone: 56,
    clone3: 435,
    io_uring_setup: 425,
    ioctl: 16,
    syslog: 103,
    uselib: 134,
    acct: 163,
    quotactl: 179,
    modify_ldt: 154,
    mbind: 237,
    get_mempolicy: 239,
    set_mempolicy: 238,
    migrate_pages: 256,
    move_pages: 279,
    kexec_load: 246,
    kexec_file_load: 320,
    bpf: 321,
    socket: 41,
  },
  arm64: {
    keyctl: 219,
    add_key: 217,
    request_key: 218,
    ptrace: 117,
    process_vm_readv: 270,
    process_vm_writev: 271,
    perf_event_open: 241,
    personality: 92,
    userfaultfd: 282,
    mount: 40,
    umount2: 39,
    pivot_root: 41,
    chroot: 51,
    open_tree: 428,
    move_mount: 429,
    fsopen: 430,
    fsconfig: 431,
    fsmount: 432,
    fspick: 433,
    mount_setattr: 442,
    unshare: 97,
    setns: 268,
    clone: 220,
    clone3: 435,
    io_uring_setup: 425,
    ioctl: 29,
    syslog: 116,
    acct: 89,
    quotactl: 60,
    mbind: 235,
    get_mempolicy: 236,
    set_mempolicy: 237,
    migrate_pages: 238,
    move_pages: 239,
    kexec_load: 104,
    kexec_file_load: 294,
    bpf: 280,
    socket: 198,
  },
};

/**
 * Prints `label=ok` or `label=errnoN` per attempt. Arguments are chosen so that nothing happens
 * on the host either: paths that do not exist, invalid flags, keys only in the probe's own
 * process keyring, its own memory.
 */
const PROBE = String.raw`
use strict; use warnings; use POSIX ();
my %nr = (__NR__);
sub show { my ($label, $r) = @_; print "$label=", ($r == -1 ? "errno" . ($! + 0) : "ok"), "\n"; $r }
sub try { my ($label, $name, @args) = @_; return -2 unless exists $nr{$name}; $! = 0; show($label, syscall($nr{$name}, @args)) }
my $nowhere = "/nonexistent-safe-npm-probe";

# The kernel keyring (-3: the session keyring, -2: the process keyring).
try("keyctl", "keyctl", 0, -3, 0);
try("add_key", "add_key", "user", "safe-npm-probe", "x", 1, -2);
try("request_key", "request_key", "user", "safe-npm-probe-absent-$$", 0, 0);

# ptrace(PTRACE_TRACEME) in a child, which reports through its exit status.
{
  my $pid = fork() // die "fork: $!";
  if ($pid == 0) { my $r = syscall($nr{ptrace}, 0, 0, 0, 0); POSIX::_exit($r == -1 ? $! + 0 : 0) }
  waitpid($pid, 0);
  print "ptrace=", ($? >> 8 ? "errno" . ($? >> 8) : "ok"), "\n";
}

# Copy between two buffers of our own process.
{
  my $src = "SAFE-NPM-MEMORY!"; my $dst = "\0" x 16;
  my $iov = sub { pack("QQ", unpack("Q", pack("p", $_[0])), 16) };
  my ($l, $r) = ($iov->($dst), $iov->($src));
  try("process_vm_readv", "process_vm_readv", $$, $l, 1, $r, 1, 0);
  try("process_vm_writev", "process_vm_writev", $$, $r, 1, $l, 1, 0);
}

# A software counter on ourselves, user space only (allowed on the host by perf_event_paranoid <= 2).
try("perf_event_open", "perf_event_open", pack("LLQQQQQ", 1, 64, 0, 0, 0, 0, 0x61) . ("\0" x 16), 0, -1, -1, 0);

try("personality.query", "personality", 0xffffffff);
try("personality.PER_LINUX32", "personality", 0x0008);
try("personality.ADDR_NO_RANDOMIZE", "personality", 0x0040000);
syscall($nr{personality}, 0);

# UFFD_USER_MODE_ONLY | O_CLOEXEC: allowed unprivileged since Linux 5.11.
try("userfaultfd", "userfaultfd", 0x1 | 0x80000);

# The mount family: a target that does not exist (mount, chroot: ENOENT before any permission
# check), invalid flags (umount2: EINVAL first), bad descriptors for the new mount API.
try("mount", "mount", "none", $nowhere, "tmpfs", 0, 0);
try("umount2", "umount2", "/", 0x80000000);
try("pivot_root", "pivot_root", $nowhere, $nowhere);
try("chroot", "chroot", $nowhere);
try("open_tree", "open_tree", -1, "", 0);
try("move_mount", "move_mount", -1, "", -1, "", 0);
try("fsopen", "fsopen", "safe-npm-nonexistent-fs", 0);
try("fsconfig", "fsconfig", -1, 0, 0, 0, 0);
try("fsmount", "fsmount", -1, 0, 0);
try("fspick", "fspick", -1, "", 0);
try("mount_setattr", "mount_setattr", -1, "", 0, 0, 0);

# Namespaces. clone() with CLONE_THREAD but not CLONE_SIGHAND is EINVAL before anything is
# created, so each namespace flag can be tried without making a process or a namespace.
try("unshare", "unshare", 0);
try("setns", "setns", -1, 0);
my %ns = (NEWNS => 0x20000, NEWCGROUP => 0x2000000, NEWUTS => 0x4000000, NEWIPC => 0x8000000,
          NEWUSER => 0x10000000, NEWPID => 0x20000000, NEWNET => 0x40000000);
for my $flag (sort keys %ns) { try("clone.$flag", "clone", $ns{$flag} | 0x10000, 0, 0, 0, 0) }
try("clone.no-namespace-flag", "clone", 0x10000, 0, 0, 0, 0);
{
  # A plain fork through clone(SIGCHLD): must keep working.
  my $pid = syscall($nr{clone}, 17, 0, 0, 0, 0);
  POSIX::_exit(7) if $pid == 0;
  if ($pid > 0) { waitpid($pid, 0); print "clone.fork=", ($? >> 8 == 7 ? "ok" : "bad"), "\n" }
  else { print "clone.fork=errno", $! + 0, "\n" }
}
try("clone3", "clone3", 0, 0);
# One entry, zeroed io_uring_params (120 bytes): a ring on the host, unless io_uring is disabled.
try("io_uring_setup", "io_uring_setup", 1, "\0" x 120);
# Terminal ioctls on stdin (a pipe here): the host answers ENOTTY, the filter EPERM first.
try("ioctl.TIOCSETD", "ioctl", 0, 0x5423, pack("i", 0));
try("ioctl.TIOCEXCL", "ioctl", 0, 0x540c, 0);
try("ioctl.TCXONC", "ioctl", 0, 0x540a, 1);

try("syslog", "syslog", 10, 0, 0);
try("uselib", "uselib", $nowhere);
try("acct", "acct", $nowhere);
# QCMD(Q_SYNC, 99): quota type 99 is EINVAL before any permission check.
try("quotactl", "quotactl", (0x800001 << 8) | 99, 0, 0, 0);
{ my $buf = "\0" x 16; try("modify_ldt", "modify_ldt", 0, $buf, 16) }
try("get_mempolicy", "get_mempolicy", 0, 0, 0, 0, 0);
try("set_mempolicy", "set_mempolicy", 0, 0, 0);
try("mbind", "mbind", 0, 0, 0, 0, 0, 0);
try("migrate_pages", "migrate_pages", 0, 0, 0, 0);
try("move_pages", "move_pages", 0, 0, 0, 0, 0, 0);
try("bpf", "bpf", 9999, 0, 0);
if ($ENV{SAFE_NPM_PROBE_INSIDE}) {
  # Not tried on the host: nothing to learn there, and no reason to touch kexec at all.
  try("kexec_load", "kexec_load", 0, 0, 0, 0x00ff0000);
  try("kexec_file_load", "kexec_file_load", -1, -1, 0, 0, 0);
}

# Socket families: AF_PACKET (raw), AF_VSOCK, and the allowed unix, inet, inet6, netlink.
try("socket.AF_PACKET", "socket", 17, 3, 0);
try("socket.AF_VSOCK", "socket", 40, 1, 0);
try("socket.AF_UNIX", "socket", 1, 1, 0);
try("socket.AF_INET", "socket", 2, 2, 0);
try("socket.AF_INET6", "socket", 10, 2, 0);
try("socket.AF_NETLINK", "socket", 16, 3, 0);
print "done=ok\n";
`;

const EPERM = "errno1";
const ENOSYS = "errno38";
const EAFNOSUPPORT = "errno97";

/**
 * What each attempt gets inside, and what the host control shows:
 * - "differs": the host's answer is another one (success or the kernel's own errno), so the
 *   errno inside can only come from the filter;
 * - "root": the same, but only as root (unprivileged, the host refuses with EPERM itself);
 * - "same": an allowed call, answered inside exactly as on the host;
 * - "none": no control (the call would be refused on the host for lack of a capability, or
 *   depends on a kernel module).
 */
type Control = "differs" | "root" | "same" | "none";
const EXPECTED: [label: string, inside: string, control: Control][] = [
  ["keyctl", EPERM, "differs"],
  ["add_key", EPERM, "differs"],
  ["request_key", EPERM, "differs"],
  ["ptrace", EPERM, "differs"],
  ["process_vm_readv", EPERM, "differs"],
  ["process_vm_writev", EPERM, "differs"],
  ["perf_event_open", EPERM, "differs"],
  ["personality.query", "ok", "same"],
  ["personality.PER_LINUX32", "ok", "same"],
  ["personality.ADDR_NO_RANDOMIZE", EPERM, "differs"],
  ["userfaultfd", EPERM, "differs"],
  ["mount", EPERM, "differs"],
  ["umount2", EPERM, "differs"],
  ["pivot_root", EPERM, "root"],
  ["chroot", EPERM, "differs"],
  ["open_tree", ENOSYS, "differs"],
  ["move_mount", ENOSYS, "differs"],
  ["fsopen", ENOSYS, "differs"],
  ["fsconfig", ENOSYS, "differs"],
  ["fsmount", ENOSYS, "differs"],
  ["fspick", ENOSYS, "differs"],
  ["mount_setattr", ENOSYS, "differs"],
  ["unshare", EPERM, "differs"],
  ["setns", EPERM, "differs"],
  ["clone.NEWNS", EPERM, "differs"],
  ["clone.NEWCGROUP", EPERM, "differs"],
  ["clone.NEWUTS", EPERM, "differs"],
  ["clone.NEWIPC", EPERM, "differs"],
  ["clone.NEWUSER", EPERM, "differs"],
  ["clone.NEWPID", EPERM, "differs"],
  ["clone.NEWNET", EPERM, "differs"],
  ["clone.no-namespace-flag", "errno22", "same"],
  ["clone.fork", "ok", "same"],
  ["clone3", ENOSYS, "differs"],
  ["io_uring_setup", ENOSYS, "differs"],
  ["ioctl.TIOCSETD", EPERM, "differs"],
  ["ioctl.TIOCEXCL", EPERM, "differs"],
  ["ioctl.TCXONC", EPERM, "differs"],
  ["syslog", EPERM, "root"],
  ["uselib", EPERM, "differs"],
  ["acct", EPERM, "root"],
  ["quotactl", EPERM, "differs"],
  ...(process.arch === "x64"
    ? [["modify_ldt", EPERM, "differs"] as [string, string, Control]]
    : []),
  ["get_mempolicy", EPERM, "differs"],
  ["set_mempolicy", EPERM, "differs"],
  ["mbind", EPERM, "differs"],
  ["migrate_pages", EPERM, "differs"],
  ["move_pages", EPERM, "differs"],
  ["bpf", EPERM, "differs"],
  ["kexec_load", EPERM, "none"],
  ["kexec_file_load", EPERM, "none"],
  ["socket.AF_PACKET", EAFNOSUPPORT, "differs"],
  ["socket.AF_VSOCK", EAFNOSUPPORT, "none"],
  ["socket.AF_UNIX", "ok", "same"],
  ["socket.AF_INET", "ok", "same"],
  ["socket.AF_INET6", "ok", "same"],
  ["socket.AF_NETLINK", "ok", "same"],
];

function parse(stdout: string): Map<string, string> {
  return new Map(
    stdout
      .split("\n")
      .filter((line) => line.includes("="))
      .map((line) => line.split("=", 2) as [string, string]),
  );
}

const numbers = NR[process.arch];

describe.skipIf(unavailable !== "" || numbers === undefined)("the seccomp filter", () => {
  let world: World;
  let inside: Map<string, string>;
  let outside: Map<string, string>;
  let insideStdout = "";

  beforeAll(async () => {
    world = makeWorld({ projectInHome: true });
    const table = Object.entries(numbers ?? {})
      .map(([name, nr]) => `${name} => ${nr}`)
      .join(", ");
    writeFileSync(join(world.project, "probe.pl"), PROBE.replace("__NR__", table));
    const r = await world.run([
      "--quiet",
      "exec",
      "--",
      "env",
      "SAFE_NPM_PROBE_INSIDE=1",
      "perl",
      "probe.pl",
    ]);
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    insideStdout = r.stdout;
    inside = parse(r.stdout);
    const host = await execa("perl", ["probe.pl"], { cwd: world.project, reject: false });
    expect(host.exitCode).toBe(0);
    outside = parse(host.stdout);
  });
  afterAll(() => world?.dispose());

  it("ran every attempt to the end, inside and out", () => {
    expect(inside.get("done"), insideStdout).toBe("ok");
    expect(outside.get("done")).toBe("ok");
    for (const [label] of EXPECTED) expect(inside.has(label), label).toBe(true);
  });

  it.each(EXPECTED)("%s inside: %s", (label, expected) => {
    expect(inside.get(label)).toBe(expected);
  });

  it.each(EXPECTED.filter(([, , control]) => control !== "none"))(
    "%s on the host (control)",
    (label, insideExpected, control) => {
      const host = outside.get(label);
      expect(host, label).toBeDefined();
      if (control === "same") {
        expect(host).toBe(insideExpected);
      } else if (control === "differs" || isRoot) {
        expect(host).not.toBe(insideExpected);
      } else {
        // Unprivileged, the host itself refuses: the attempt proves nothing about the filter
        // (the unit tests do), only that the call is not available inside either.
        expect(host).toBe(EPERM);
      }
    },
  );

  it("process_vm_readv really copies memory on the host (the control is a working attack)", () => {
    expect(outside.get("process_vm_readv")).toBe("ok");
    expect(outside.get("keyctl")).toBe("ok");
    expect(outside.get("personality.ADDR_NO_RANDOMIZE")).toBe("ok");
    expect(outside.get("unshare")).toBe("ok");
  });

  it("leaves ordinary work running: threads, child processes, os.networkInterfaces()", async () => {
    const script = [
      'const { Worker } = require("node:worker_threads");',
      'const { execFileSync } = require("node:child_process");',
      'const os = require("node:os");',
      'const w = new Worker("require(\\"node:worker_threads\\").parentPort.postMessage(6 * 7)", { eval: true });',
      'w.on("message", (n) => {',
      '  const echoed = execFileSync("sh", ["-c", "echo child-ran"], { encoding: "utf8" }).trim();',
      '  console.log(JSON.stringify({ n, echoed, lo: Object.keys(os.networkInterfaces()).includes("lo") }));',
      "  w.terminate();",
      "});",
    ].join("\n");
    writeFileSync(join(world.project, "ordinary.cjs"), script);
    const r = await world.run(["--quiet", "exec", "--", "node", "ordinary.cjs"]);
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ n: 42, echoed: "child-ran", lo: true });
  });
});
