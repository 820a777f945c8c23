/**
 * Builds the classic-BPF seccomp program that `bwrap --seccomp FD` installs in the sandbox
 * (bwrap loads it with SECCOMP_SET_MODE_FILTER right before it execs the command). Pure: returns
 * bytes, touches nothing.
 *
 * The rules follow flatpak's (flatpak-run.c, `setup_seccomp`): terminal injection, the kernel
 * keyring, debugging and profiling other processes, personality changes, userfaultfd, the mount
 * and namespace families, and a few rarely used calls with a history of kernel bugs, plus
 * kexec/bpf, which flatpak leaves to capabilities. Most of them already fail inside for lack of
 * capabilities (`--cap-drop ALL`, no nested user namespaces); the filter makes that independent
 * of the host's sysctls and closes the kernel code behind them. Each rule says below what a
 * real package could need from it, and so what stays allowed. A denied call fails with an errno
 * (EPERM, or ENOSYS where libc should fall back, or EAFNOSUPPORT for socket families); nothing is
 * ever killed, so a program that probes for a feature just sees it missing.
 *
 * References: seccomp(2) (https://man7.org/linux/man-pages/man2/seccomp.2.html) for
 * `struct seccomp_data` and the return values;
 * https://github.com/flatpak/flatpak/blob/main/common/flatpak-run.c for the rules.
 */

import { Buffer } from "node:buffer";

/** Node's `process.arch` names we can build a filter for. */
export type SeccompArch = "x64" | "arm64";

const SUPPORTED_ARCHES: readonly string[] = ["x64", "arm64"] satisfies readonly SeccompArch[];

export function isSupportedSeccompArch(arch: string): arch is SeccompArch {
  return SUPPORTED_ARCHES.includes(arch);
}

// --- Classic BPF opcodes (linux/bpf_common.h) and seccomp return values (linux/seccomp.h) ---

const BPF_LD_W_ABS = 0x20;
const BPF_JMP_JEQ_K = 0x15;
const BPF_JMP_JSET_K = 0x45;
const BPF_JMP_JA = 0x05;
const BPF_RET_K = 0x06;

const SECCOMP_RET_ALLOW = 0x7fff_0000;
const SECCOMP_RET_ERRNO = 0x0005_0000;

// errno values (asm-generic/errno-base.h, asm-generic/errno.h; the same on x86 and arm).
const EPERM = 1;
const ENOSYS = 38;
const EAFNOSUPPORT = 97;

// --- struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; } ---

const OFFSET_NR = 0;
const OFFSET_ARCH = 4;
const OFFSET_ARGS = 16;

/**
 * Offset of the low 32 bits of args[index]. Both supported arches are little-endian (Node has no
 * big-endian arm64 build), so the low word comes first.
 */
function argLowOffset(index: ArgIndex): number {
  return OFFSET_ARGS + 8 * index;
}

// --- Audit arches (linux/audit.h) ---

const AUDIT_ARCH_X86_64 = 0xc000_003e;
const AUDIT_ARCH_I386 = 0x4000_0003;
const AUDIT_ARCH_AARCH64 = 0xc000_00b7;
const AUDIT_ARCH_ARM = 0x4000_0028;

/**
 * x32 syscalls arrive with AUDIT_ARCH_X86_64 but with this bit set in `nr` (ioctl is 0x40000010
 * there), so a check on nr 16 alone would be bypassed. Nothing we run needs x32: deny it all.
 */
const X32_SYSCALL_BIT = 0x4000_0000;

// --- ioctl requests (asm-generic/ioctls.h, identical on every arch we handle) ---

const TIOCSTI = 0x5412; // push a byte into the terminal's input queue
const TIOCLINUX = 0x541c; // on a VT: selection paste, i.e. injection as well
const TIOCSETD = 0x5423; // change the line discipline: n_null leaves the caller's terminal dead
const TIOCEXCL = 0x540c; // exclusive mode: every later open of the terminal fails (sudo, ssh)
const TCXONC = 0x540a; // stop the terminal's output (TCOOFF) after safe-npm exits
const TIOCSPGRP = 0x5410; // tcsetpgrp: which process group has the terminal (command filter only)
const TIOCNOTTY = 0x5422; // give up the controlling terminal (command filter only)

// --- clone flags (linux/sched.h) ---

/**
 * Every flag that makes clone() create a namespace: NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER,
 * NEWPID, NEWNET. (CLONE_NEWTIME, 0x80, sits in clone()'s exit-signal byte and only means a time
 * namespace to clone3() and unshare(), which are blocked whole.)
 */
const CLONE_NEW_ANY =
  0x0002_0000 | // CLONE_NEWNS
  0x0200_0000 | // CLONE_NEWCGROUP
  0x0400_0000 | // CLONE_NEWUTS
  0x0800_0000 | // CLONE_NEWIPC
  0x1000_0000 | // CLONE_NEWUSER
  0x2000_0000 | // CLONE_NEWPID
  0x4000_0000; // CLONE_NEWNET

// --- personality(2) (linux/personality.h) ---

const PER_LINUX = 0x0000;
const PER_LINUX32 = 0x0008;
/** personality(0xffffffff) changes nothing and returns the current persona. */
const PER_QUERY = 0xffff_ffff;

// --- socket families (linux/socket.h) ---

const AF_UNSPEC = 0;
const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const AF_NETLINK = 16;

// --- Rules ---

const SYSCALL_NAMES = [
  "ioctl",
  "setsid",
  // Not filtered: the terminal supervisor calls it by number (bwrap.ts, supervisorSyscalls).
  "prctl",
  "keyctl",
  "add_key",
  "request_key",
  "ptrace",
  "process_vm_readv",
  "process_vm_writev",
  "perf_event_open",
  "personality",
  "userfaultfd",
  "mount",
  "umount",
  "umount2",
  "pivot_root",
  "chroot",
  "open_tree",
  "move_mount",
  "fsopen",
  "fsconfig",
  "fsmount",
  "fspick",
  "mount_setattr",
  "unshare",
  "setns",
  "clone",
  "clone3",
  "syslog",
  "uselib",
  "acct",
  "quotactl",
  "modify_ldt",
  "mbind",
  "get_mempolicy",
  "set_mempolicy",
  "migrate_pages",
  "move_pages",
  "kexec_load",
  "kexec_file_load",
  "bpf",
  "socket",
  "socketcall",
  "io_uring_setup",
  "io_uring_enter",
  "io_uring_register",
] as const;

type SyscallName = (typeof SYSCALL_NAMES)[number];
type ArgIndex = 0 | 1 | 2 | 3 | 4 | 5;

/** Syscall numbers per ABI; a missing name means the ABI has no such syscall (rule skipped). */
type SyscallTable = Readonly<Partial<Record<SyscallName, number>>>;

/**
 * Which calls a rule matches, by the low 32 bits of one argument. Only the low word is ever
 * compared: every argument checked here is an `int` or `unsigned int` to the kernel (ioctl's
 * `cmd`, clone's flags via lower_32_bits, personality, socket's family), so the high word is
 * ignored by the kernel and must be ignored here too, or 0xffffffff_00005412 would pass as
 * "not TIOCSTI" and still be TIOCSTI (flatpak masks with 0xFFFFFFFF for the same reason).
 */
type ArgMatch =
  /** the value is one of these */
  | { readonly index: ArgIndex; readonly anyOf: readonly number[] }
  /** the value is none of these (an allowlist of values) */
  | { readonly index: ArgIndex; readonly noneOf: readonly number[] }
  /** the value has any of these bits set */
  | { readonly index: ArgIndex; readonly anyBits: number };

interface Rule {
  readonly syscall: SyscallName;
  /** When absent, every call of the syscall matches. */
  readonly arg?: ArgMatch;
  readonly errno: number;
}

const deny = (syscall: SyscallName, errno = EPERM): Rule => ({ syscall, errno });

/**
 * What is denied, and what a real package could need from each (so what stays allowed). An
 * install runs node, the package manager, sh, node-gyp, make, a C/C++ compiler and whatever a
 * lifecycle script starts; a test run adds test runners, bundlers, headless browsers.
 */
const RULES: readonly Rule[] = [
  // Terminal injection (CVE-2017-5226, CVE-2023-28100): nothing legitimate types into the
  // terminal it was started from. Nor does it change the terminal's line discipline, lock it
  // against later opens or stop its output — each outlives the run and leaves the caller's
  // terminal unusable. Every other ioctl (termios, window size, job control) stays allowed.
  {
    syscall: "ioctl",
    arg: { index: 1, anyOf: [TIOCSTI, TIOCLINUX, TIOCSETD, TIOCEXCL, TCXONC] },
    errno: EPERM,
  },

  // The kernel keyring is not namespaced and bwrap gives the sandbox no keyring of its own, so
  // these would reach the user's session and user keyrings (Kerberos tickets, fscrypt/ecryptfs
  // keys, credentials of tools that cache there). No package manager, compiler or runtime
  // needs them; a test of a Kerberos client would.
  deny("keyctl"),
  deny("add_key"),
  deny("request_key"),

  // Reading or steering another process. Installs and builds never trace; debuggers (gdb,
  // strace, rr) and crash reporters that trace themselves (Electron's crashpad) would fail —
  // run those outside. Node's inspector (--inspect) needs none of these.
  deny("ptrace"),
  deny("process_vm_readv"),
  deny("process_vm_writev"),
  // Profiling counters, a long source of kernel CVEs; profilers belong outside. Node's own
  // --prof / --cpu-prof sample in process and do not use it.
  deny("perf_event_open"),

  // Only the plain Linux persona (and linux32's, harmless: uname says i686) may be set, and the
  // current one queried — runtimes and `setarch --show` ask with 0xffffffff. Refused: turning
  // ASLR off (ADDR_NO_RANDOMIZE), READ_IMPLIES_EXEC and the other emulation flags.
  {
    syscall: "personality",
    arg: { index: 0, noneOf: [PER_LINUX, PER_LINUX32, PER_QUERY] },
    errno: EPERM,
  },

  // userfaultfd lets a process stall the kernel mid-copy: the classic way to win kernel races.
  // Only live migration and checkpointing (QEMU, CRIU) use it.
  deny("userfaultfd"),

  // The mount family. It already fails for lack of CAP_SYS_ADMIN; the filter keeps it failing
  // whatever the host allows. Nothing in an install mounts. The new mount API answers ENOSYS
  // like flatpak's, so libmount falls back to mount(2) (and then gets EPERM).
  deny("mount"),
  deny("umount"),
  deny("umount2"),
  deny("pivot_root"),
  deny("chroot"),
  deny("open_tree", ENOSYS),
  deny("move_mount", ENOSYS),
  deny("fsopen", ENOSYS),
  deny("fsconfig", ENOSYS),
  deny("fsmount", ENOSYS),
  deny("fspick", ENOSYS),
  deny("mount_setattr", ENOSYS),

  // Namespaces: no sandbox in the sandbox. Headless Chrome/Electron then need --no-sandbox,
  // as they already do without user namespaces (`--disable-userns`). clone() without a
  // namespace flag stays allowed: it is fork(), vfork() and every new thread. clone3() passes
  // its flags in memory, which seccomp cannot read, so it answers ENOSYS and glibc (2.34+:
  // pthread_create, posix_spawn, fork) falls back to clone(), whose flags we check
  // (CVE-2021-41133; flatpak and Docker do the same).
  deny("unshare"),
  deny("setns"),
  { syscall: "clone", arg: { index: 0, anyBits: CLONE_NEW_ANY }, errno: EPERM },
  deny("clone3", ENOSYS),

  // io_uring performs operations on behalf of the caller without passing through this filter:
  // IORING_OP_SOCKET created an AF_VSOCK socket that socket() refuses. ENOSYS, as Docker's
  // default profile does: libuv (node) and every other user fall back to ordinary syscalls.
  deny("io_uring_setup", ENOSYS),
  deny("io_uring_enter", ENOSYS),
  deny("io_uring_register", ENOSYS),

  // Rarely used calls with a history of leaks or bugs, as in flatpak: the kernel log (dmesg),
  // a.out loading, process accounting, quota queries, 16-bit segments (Wine only), and the
  // NUMA memory-placement calls (libnuma treats their failure as "no NUMA" and carries on).
  deny("syslog"),
  deny("uselib"),
  deny("acct"),
  deny("quotactl"),
  deny("modify_ldt"),
  deny("mbind"),
  deny("get_mempolicy"),
  deny("set_mempolicy"),
  deny("migrate_pages"),
  deny("move_pages"),
  // Loading a kernel or BPF programs: capability-gated or sysctl-gated on the host; denied here
  // whatever the host's settings. Nothing a package does needs them.
  deny("kexec_load"),
  deny("kexec_file_load"),
  deny("bpf"),

  // Sockets only of the families a package uses: unix, IPv4, IPv6, and netlink (getifaddrs,
  // i.e. os.networkInterfaces()). The rest — AF_VSOCK to a VM's host, AF_PACKET, AF_ALG,
  // Bluetooth, CAN… — answer EAFNOSUPPORT as if not built in; vsock in particular is not
  // covered by the sandbox's network namespace. i386's multiplexed socketcall() hides the
  // family behind a pointer, so it is refused whole; i386 programs use socket() since Linux
  // 4.3 (flatpak makes the same trade).
  {
    syscall: "socket",
    arg: { index: 0, noneOf: [AF_UNSPEC, AF_UNIX, AF_INET, AF_INET6, AF_NETLINK] },
    errno: EAFNOSUPPORT,
  },
  deny("socketcall", EAFNOSUPPORT),
];

interface Abi {
  readonly auditArch: number;
  readonly syscalls: SyscallTable;
  /** Deny every syscall whose nr has the x32 bit (x86_64 only). */
  readonly denyX32: boolean;
}

/** Numbers 424 and up are shared by every arch (the unified syscall table since Linux 5.1). */
const UNIFIED = {
  io_uring_setup: 425,
  io_uring_enter: 426,
  io_uring_register: 427,
  open_tree: 428,
  move_mount: 429,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
  fspick: 433,
  clone3: 435,
  mount_setattr: 442,
} as const satisfies SyscallTable;

/** arch/x86/entry/syscalls/syscall_64.tbl */
const X86_64: SyscallTable = {
  ...UNIFIED,
  prctl: 157,
  ioctl: 16,
  setsid: 112,
  socket: 41,
  clone: 56,
  ptrace: 101,
  syslog: 103,
  uselib: 134,
  personality: 135,
  modify_ldt: 154,
  pivot_root: 155,
  chroot: 161,
  acct: 163,
  mount: 165,
  umount2: 166,
  quotactl: 179,
  mbind: 237,
  set_mempolicy: 238,
  get_mempolicy: 239,
  kexec_load: 246,
  add_key: 248,
  request_key: 249,
  keyctl: 250,
  migrate_pages: 256,
  unshare: 272,
  move_pages: 279,
  perf_event_open: 298,
  setns: 308,
  process_vm_readv: 310,
  process_vm_writev: 311,
  kexec_file_load: 320,
  bpf: 321,
  userfaultfd: 323,
};

/** arch/x86/entry/syscalls/syscall_32.tbl */
const I386: SyscallTable = {
  ...UNIFIED,
  prctl: 172,
  setsid: 66,
  mount: 21,
  umount: 22,
  ptrace: 26,
  acct: 51,
  umount2: 52,
  ioctl: 54,
  chroot: 61,
  uselib: 86,
  socketcall: 102,
  syslog: 103,
  clone: 120,
  modify_ldt: 123,
  quotactl: 131,
  personality: 136,
  pivot_root: 217,
  mbind: 274,
  get_mempolicy: 275,
  set_mempolicy: 276,
  kexec_load: 283,
  add_key: 286,
  request_key: 287,
  keyctl: 288,
  migrate_pages: 294,
  unshare: 310,
  move_pages: 317,
  perf_event_open: 336,
  setns: 346,
  process_vm_readv: 347,
  process_vm_writev: 348,
  bpf: 357,
  socket: 359,
  userfaultfd: 374,
};

/** include/uapi/asm-generic/unistd.h (arm64 has no uselib, umount, modify_ldt, socketcall) */
const AARCH64: SyscallTable = {
  ...UNIFIED,
  prctl: 167,
  ioctl: 29,
  setsid: 157,
  umount2: 39,
  mount: 40,
  pivot_root: 41,
  chroot: 51,
  quotactl: 60,
  acct: 89,
  personality: 92,
  unshare: 97,
  kexec_load: 104,
  syslog: 116,
  ptrace: 117,
  socket: 198,
  add_key: 217,
  request_key: 218,
  keyctl: 219,
  clone: 220,
  mbind: 235,
  get_mempolicy: 236,
  set_mempolicy: 237,
  migrate_pages: 238,
  move_pages: 239,
  perf_event_open: 241,
  setns: 268,
  process_vm_readv: 270,
  process_vm_writev: 271,
  bpf: 280,
  userfaultfd: 282,
  kexec_file_load: 294,
};

/** arch/arm/tools/syscall.tbl, EABI (umount and socketcall are OABI-only) */
const ARM: SyscallTable = {
  ...UNIFIED,
  prctl: 172,
  setsid: 66,
  mount: 21,
  ptrace: 26,
  acct: 51,
  umount2: 52,
  ioctl: 54,
  chroot: 61,
  uselib: 86,
  syslog: 103,
  clone: 120,
  quotactl: 131,
  personality: 136,
  pivot_root: 218,
  socket: 281,
  add_key: 309,
  request_key: 310,
  keyctl: 311,
  mbind: 319,
  get_mempolicy: 320,
  set_mempolicy: 321,
  unshare: 337,
  move_pages: 344,
  kexec_load: 347,
  perf_event_open: 364,
  setns: 375,
  process_vm_readv: 376,
  process_vm_writev: 377,
  bpf: 386,
  userfaultfd: 388,
  migrate_pages: 400,
  kexec_file_load: 401,
};

/**
 * The native ABI plus the 32-bit compat ABI the kernel can also run for the same process
 * (`int 0x80` / an i386 binary on x86_64, an AArch32 binary on arm64): a filter that only
 * checked native numbers would be bypassed through compat syscalls, whose numbers differ.
 * On every one of these ABIs clone() takes its flags first (CLONE_BACKWARDS2, flags second, is
 * s390's).
 */
const ABIS: Readonly<Record<SeccompArch, readonly Abi[]>> = {
  x64: [
    { auditArch: AUDIT_ARCH_X86_64, syscalls: X86_64, denyX32: true },
    { auditArch: AUDIT_ARCH_I386, syscalls: I386, denyX32: false },
  ],
  arm64: [
    { auditArch: AUDIT_ARCH_AARCH64, syscalls: AARCH64, denyX32: false },
    { auditArch: AUDIT_ARCH_ARM, syscalls: ARM, denyX32: false },
  ],
};

// --- A tiny assembler: forward-only labels, resolved to 8-bit (jt/jf) or 32-bit (ja) offsets ---

/** A jump target: a label name, or `null` for "the next instruction". */
type Target = string | null;

type Insn =
  | { readonly op: "ld"; readonly offset: number }
  | {
      readonly op: "jeq" | "jset";
      readonly k: number;
      readonly jt: Target;
      readonly jf: Target;
    }
  | { readonly op: "ja"; readonly to: string }
  | { readonly op: "ret"; readonly k: number };

class Assembler {
  private readonly insns: Insn[] = [];
  private readonly labels = new Map<string, number>();
  private nextId = 0;

  /** A fresh label name, unique within this program. */
  newLabel(hint: string): string {
    this.nextId += 1;
    return `${hint}#${this.nextId}`;
  }

  label(name: string): void {
    if (this.labels.has(name)) throw new Error(`seccomp: label ${name} defined twice`);
    this.labels.set(name, this.insns.length);
  }

  emit(insn: Insn): void {
    this.insns.push(insn);
  }

  assemble(): Buffer {
    const out = Buffer.alloc(this.insns.length * 8);
    this.insns.forEach((insn, pc) => {
      const at = pc * 8;
      let code: number;
      let jt = 0;
      let jf = 0;
      let k: number;
      switch (insn.op) {
        case "ld":
          code = BPF_LD_W_ABS;
          k = insn.offset;
          break;
        case "jeq":
        case "jset":
          code = insn.op === "jeq" ? BPF_JMP_JEQ_K : BPF_JMP_JSET_K;
          k = insn.k;
          jt = this.offset(pc, insn.jt, 0xff);
          jf = this.offset(pc, insn.jf, 0xff);
          break;
        case "ja":
          code = BPF_JMP_JA;
          k = this.offset(pc, insn.to, 0xffff_ffff);
          break;
        case "ret":
          code = BPF_RET_K;
          k = insn.k;
          break;
      }
      out.writeUInt16LE(code, at);
      out.writeUInt8(jt, at + 2);
      out.writeUInt8(jf, at + 3);
      out.writeUInt32LE(k >>> 0, at + 4);
    });
    return out;
  }

  /** Jumps are relative to the following instruction and can only go forward. */
  private offset(pc: number, target: Target, max: number): number {
    if (target === null) return 0;
    const dest = this.labels.get(target);
    if (dest === undefined) throw new Error(`seccomp: undefined label ${target}`);
    const offset = dest - (pc + 1);
    if (offset < 0 || offset > max || dest >= this.insns.length) {
      throw new Error(`seccomp: jump from ${pc} to ${target} (${dest}) out of range`);
    }
    return offset;
  }
}

/** Kernel limit (BPF_MAXINSNS). */
const MAX_INSNS = 4096;

/**
 * The program for one host arch:
 *
 *   ld arch; for each ABI: jeq auditArch → ja that ABI's section; ret ERRNO(EPERM)
 *   section: ld nr; [x32 bit → EPERM]; each rule: jeq nr → [ld arg; test → deny]; ret ALLOW;
 *            the section's deny returns, one per errno it uses
 *
 * Each section keeps its own deny returns so every conditional jump stays within the 255
 * instructions classic BPF can reach, however many rules there are.
 *
 * A foreign arch (one the kernel cannot even run here) gets EPERM on every syscall rather than
 * being allowed unchecked; KILL would be harsher than needed for something that cannot happen.
 */
export function buildSeccompFilter(arch: SeccompArch, rules: readonly Rule[] = RULES): Buffer {
  if (typeof arch !== "string" || !isSupportedSeccompArch(arch)) {
    throw new TypeError(`buildSeccompFilter: unsupported arch ${String(arch)}`);
  }
  const abis = ABIS[arch];
  const asm = new Assembler();

  const sections = abis.map((abi) => ({ abi, label: asm.newLabel(`abi${abi.auditArch}`) }));

  asm.emit({ op: "ld", offset: OFFSET_ARCH });
  for (const { abi, label } of sections) {
    const other = asm.newLabel("other");
    asm.emit({ op: "jeq", k: abi.auditArch, jt: null, jf: other });
    asm.emit({ op: "ja", to: label });
    asm.label(other);
  }
  asm.emit({ op: "ret", k: SECCOMP_RET_ERRNO | EPERM });

  for (const { abi, label } of sections) {
    asm.label(label);
    const errnoLabels = new Map<number, string>();
    const denyLabel = (errno: number): string => {
      let name = errnoLabels.get(errno);
      if (name === undefined) {
        name = asm.newLabel(`errno${errno}`);
        errnoLabels.set(errno, name);
      }
      return name;
    };

    asm.emit({ op: "ld", offset: OFFSET_NR });
    if (abi.denyX32) {
      asm.emit({ op: "jset", k: X32_SYSCALL_BIT, jt: denyLabel(EPERM), jf: null });
    }
    let accHoldsNr = true;
    for (const rule of rules) {
      const nr = abi.syscalls[rule.syscall];
      if (nr === undefined) continue;
      if (!accHoldsNr) asm.emit({ op: "ld", offset: OFFSET_NR });
      const deny = denyLabel(rule.errno);
      if (rule.arg === undefined) {
        asm.emit({ op: "jeq", k: nr, jt: deny, jf: null });
        accHoldsNr = true;
        continue;
      }
      const next = asm.newLabel("next");
      asm.emit({ op: "jeq", k: nr, jt: null, jf: next });
      asm.emit({ op: "ld", offset: argLowOffset(rule.arg.index) });
      emitArgTest(asm, rule.arg, deny, next);
      asm.label(next);
      accHoldsNr = false;
    }
    asm.emit({ op: "ret", k: SECCOMP_RET_ALLOW });
    for (const [errno, name] of errnoLabels) {
      asm.label(name);
      asm.emit({ op: "ret", k: SECCOMP_RET_ERRNO | (errno & 0xffff) });
    }
  }

  const program = asm.assemble();
  if (program.length / 8 > MAX_INSNS) throw new Error("seccomp: program too long");
  return program;
}

/**
 * A second filter, for the command alone (the supervisor on a terminal installs it in its child
 * before the exec, bwrap.ts): no TIOCSPGRP. Its process group holds the terminal for the run, but
 * a process inside that kept running while the caller's shell has the terminal (a stopped job;
 * a process can have the kernel continue it, with a timer) could otherwise make its own group
 * the terminal's foreground and read what is typed to the shell. Only the supervisor, outside
 * this filter, moves the terminal. Nor setsid or TIOCNOTTY: without the terminal as its
 * controlling terminal, a process is out of job control's reach, and its descriptor of the
 * terminal reads what is typed to the shell (tty_check_change concerns only the controlling
 * terminal). Shells inside lose job control; a detached child (node's `detached: true`, whose
 * setsid libuv does not check) stays in the session.
 */
export function buildCommandFilter(arch: SeccompArch): Buffer {
  return buildSeccompFilter(arch, [
    { syscall: "ioctl", arg: { index: 1, anyOf: [TIOCSPGRP, TIOCNOTTY] }, errno: EPERM },
    { syscall: "setsid", errno: EPERM },
  ]);
}

/** A syscall's number on the arch's native ABI (the terminal supervisor calls prctl by number). */
export function nativeSyscall(arch: SeccompArch, name: "prctl"): number {
  const nr = ABIS[arch][0]?.syscalls[name];
  if (nr === undefined) throw new Error(`seccomp: no ${name} number for ${arch}`);
  return nr;
}

/** With the argument's low word in the accumulator: jump to `deny` on a match, else to `next`. */
function emitArgTest(asm: Assembler, arg: ArgMatch, deny: string, next: string): void {
  if ("anyBits" in arg) {
    asm.emit({ op: "jset", k: arg.anyBits, jt: deny, jf: next });
    return;
  }
  const matchesList = "anyOf" in arg;
  const values = matchesList ? arg.anyOf : arg.noneOf;
  if (values.length === 0) throw new Error("seccomp: empty value list");
  values.forEach((value, j) => {
    const last = j === values.length - 1;
    if (matchesList) {
      asm.emit({ op: "jeq", k: value, jt: deny, jf: last ? next : null });
    } else {
      asm.emit({ op: "jeq", k: value, jt: next, jf: last ? deny : null });
    }
  });
}
