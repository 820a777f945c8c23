import { describe, expect, it } from "vitest";
import {
  buildCommandFilter,
  buildSeccompFilter,
  isSupportedSeccompArch,
  nativeSyscall,
  type SeccompArch,
} from "../../../src/sandbox/seccomp.js";

const ALLOW = 0x7fff_0000;
const EPERM = 0x0005_0001; // SECCOMP_RET_ERRNO | EPERM
const ENOSYS = 0x0005_0026; // SECCOMP_RET_ERRNO | ENOSYS (38)
const EAFNOSUPPORT = 0x0005_0061; // SECCOMP_RET_ERRNO | EAFNOSUPPORT (97)

const AUDIT_ARCH_X86_64 = 0xc000_003e;
const AUDIT_ARCH_I386 = 0x4000_0003;
const AUDIT_ARCH_AARCH64 = 0xc000_00b7;
const AUDIT_ARCH_ARM = 0x4000_0028;
const AUDIT_ARCH_RISCV64 = 0xc000_00f3;

const TIOCSTI = 0x5412n;
const TIOCLINUX = 0x541cn;
const TCGETS = 0x5401n;

interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

function decode(program: Buffer): Insn[] {
  const insns: Insn[] = [];
  for (let at = 0; at < program.length; at += 8) {
    insns.push({
      code: program.readUInt16LE(at),
      jt: program.readUInt8(at + 2),
      jf: program.readUInt8(at + 3),
      k: program.readUInt32LE(at + 4),
    });
  }
  return insns;
}

/** A synthetic little-endian struct seccomp_data {u32 nr; u32 arch; u64 ip; u64 args[6]}. */
function seccompData(nr: number, arch: number, args: readonly bigint[] = []): Buffer {
  const data = Buffer.alloc(64);
  data.writeUInt32LE(nr >>> 0, 0);
  data.writeUInt32LE(arch >>> 0, 4);
  data.writeBigUInt64LE(0x7f00_0000_1000n, 8);
  args.forEach((arg, i) => {
    data.writeBigUInt64LE(arg, 16 + 8 * i);
  });
  return data;
}

/** Just enough of a classic BPF interpreter for what a seccomp filter may contain. */
function run(program: Buffer, data: Buffer): number {
  const insns = decode(program);
  let acc = 0;
  let pc = 0;
  for (let steps = 0; steps <= insns.length; steps++) {
    const insn = insns[pc];
    if (insn === undefined) throw new Error(`pc ${pc} out of program`);
    switch (insn.code) {
      case 0x20: // ld w abs
        acc = data.readUInt32LE(insn.k);
        pc += 1;
        break;
      case 0x15: // jeq k
        pc += 1 + (acc === insn.k ? insn.jt : insn.jf);
        break;
      case 0x45: // jset k
        pc += 1 + ((acc & insn.k) >>> 0 !== 0 ? insn.jt : insn.jf);
        break;
      case 0x05: // ja
        pc += 1 + insn.k;
        break;
      case 0x06: // ret k
        return insn.k;
      default:
        throw new Error(`unexpected opcode 0x${insn.code.toString(16)} at ${pc}`);
    }
  }
  throw new Error("program did not terminate");
}

interface Case {
  name: string;
  nr: number;
  arch: number;
  args?: bigint[];
  expected: number;
}

function cases(
  native: { arch: number; ioctl: number },
  compat: { arch: number; ioctl: number; read: number },
): Case[] {
  return [
    {
      name: "native ioctl TIOCSTI",
      nr: native.ioctl,
      arch: native.arch,
      args: [0n, TIOCSTI],
      expected: EPERM,
    },
    {
      name: "native ioctl TIOCLINUX",
      nr: native.ioctl,
      arch: native.arch,
      args: [0n, TIOCLINUX],
      expected: EPERM,
    },
    {
      name: "native ioctl TIOCSTI with high bits set",
      nr: native.ioctl,
      arch: native.arch,
      args: [0n, 0xffff_ffff_0000_5412n],
      expected: EPERM,
    },
    {
      name: "native ioctl TCGETS",
      nr: native.ioctl,
      arch: native.arch,
      args: [0n, TCGETS],
      expected: ALLOW,
    },
    {
      name: "native ioctl, TIOCSTI in another arg",
      nr: native.ioctl,
      arch: native.arch,
      args: [TIOCSTI, TCGETS, TIOCSTI],
      expected: ALLOW,
    },
    {
      name: "native syscall 0 with TIOCSTI arg",
      nr: 0,
      arch: native.arch,
      args: [0n, TIOCSTI],
      expected: ALLOW,
    },
    { name: "native syscall 1", nr: 1, arch: native.arch, expected: ALLOW },
    {
      name: "compat ioctl TIOCSTI",
      nr: compat.ioctl,
      arch: compat.arch,
      args: [0n, TIOCSTI],
      expected: EPERM,
    },
    {
      name: "compat ioctl TIOCLINUX",
      nr: compat.ioctl,
      arch: compat.arch,
      args: [0n, TIOCLINUX],
      expected: EPERM,
    },
    {
      name: "compat ioctl TCGETS",
      nr: compat.ioctl,
      arch: compat.arch,
      args: [0n, TCGETS],
      expected: ALLOW,
    },
    {
      name: "compat read",
      nr: compat.read,
      arch: compat.arch,
      args: [0n, TIOCSTI],
      expected: ALLOW,
    },
    {
      name: "compat native-ioctl number",
      nr: native.ioctl,
      arch: compat.arch,
      args: [0n, TIOCSTI],
      expected: ALLOW,
    },
    { name: "foreign arch read", nr: 0, arch: AUDIT_ARCH_RISCV64, expected: EPERM },
    {
      name: "foreign arch ioctl",
      nr: 29,
      arch: AUDIT_ARCH_RISCV64,
      args: [0n, TCGETS],
      expected: EPERM,
    },
  ];
}

const TABLES: Record<SeccompArch, Case[]> = {
  x64: [
    ...cases({ arch: AUDIT_ARCH_X86_64, ioctl: 16 }, { arch: AUDIT_ARCH_I386, ioctl: 54, read: 3 }),
    { name: "x86_64 read", nr: 0, arch: AUDIT_ARCH_X86_64, expected: ALLOW },
    {
      name: "x32 ioctl TIOCSTI",
      nr: 0x4000_0010,
      arch: AUDIT_ARCH_X86_64,
      args: [0n, TIOCSTI],
      expected: EPERM,
    },
    { name: "x32 read", nr: 0x4000_0000, arch: AUDIT_ARCH_X86_64, expected: EPERM },
    {
      name: "aarch64 is foreign on x64",
      nr: 29,
      arch: AUDIT_ARCH_AARCH64,
      args: [0n, TCGETS],
      expected: EPERM,
    },
  ],
  arm64: [
    ...cases({ arch: AUDIT_ARCH_AARCH64, ioctl: 29 }, { arch: AUDIT_ARCH_ARM, ioctl: 54, read: 3 }),
    { name: "aarch64 read (63)", nr: 63, arch: AUDIT_ARCH_AARCH64, expected: ALLOW },
    {
      name: "aarch64 nr 16 with TIOCSTI (not ioctl)",
      nr: 16,
      arch: AUDIT_ARCH_AARCH64,
      args: [0n, TIOCSTI],
      expected: ALLOW,
    },
    {
      name: "x86_64 is foreign on arm64",
      nr: 16,
      arch: AUDIT_ARCH_X86_64,
      args: [0n, TCGETS],
      expected: EPERM,
    },
    { name: "i386 is foreign on arm64", nr: 3, arch: AUDIT_ARCH_I386, expected: EPERM },
  ],
};

// --- The whole rule list, per ABI ---

/** What every call of these syscalls gets, whatever its arguments. */
const DENIED: Record<string, number> = {
  keyctl: EPERM,
  add_key: EPERM,
  request_key: EPERM,
  ptrace: EPERM,
  process_vm_readv: EPERM,
  process_vm_writev: EPERM,
  perf_event_open: EPERM,
  userfaultfd: EPERM,
  mount: EPERM,
  umount: EPERM,
  umount2: EPERM,
  pivot_root: EPERM,
  chroot: EPERM,
  open_tree: ENOSYS,
  move_mount: ENOSYS,
  fsopen: ENOSYS,
  fsconfig: ENOSYS,
  fsmount: ENOSYS,
  fspick: ENOSYS,
  mount_setattr: ENOSYS,
  unshare: EPERM,
  setns: EPERM,
  clone3: ENOSYS,
  io_uring_setup: ENOSYS,
  io_uring_enter: ENOSYS,
  io_uring_register: ENOSYS,
  syslog: EPERM,
  uselib: EPERM,
  acct: EPERM,
  quotactl: EPERM,
  modify_ldt: EPERM,
  mbind: EPERM,
  get_mempolicy: EPERM,
  set_mempolicy: EPERM,
  migrate_pages: EPERM,
  move_pages: EPERM,
  kexec_load: EPERM,
  kexec_file_load: EPERM,
  bpf: EPERM,
  socketcall: EAFNOSUPPORT,
};

interface AbiTable {
  name: string;
  audit: number;
  /** Syscall numbers, from the kernel's tables; absent: the ABI has no such call. */
  nr: Record<string, number>;
}

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
};

/** arch/x86/entry/syscalls/syscall_64.tbl */
const X86_64: AbiTable = {
  name: "x86_64",
  audit: AUDIT_ARCH_X86_64,
  nr: {
    ...UNIFIED,
    read: 0,
    ioctl: 16,
    socket: 41,
    clone: 56,
    fork: 57,
    execve: 59,
    ptrace: 101,
    getuid: 102,
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
    openat: 257,
    unshare: 272,
    move_pages: 279,
    perf_event_open: 298,
    setns: 308,
    process_vm_readv: 310,
    process_vm_writev: 311,
    kexec_file_load: 320,
    bpf: 321,
    userfaultfd: 323,
  },
};

/** arch/x86/entry/syscalls/syscall_32.tbl */
const I386: AbiTable = {
  name: "i386",
  audit: AUDIT_ARCH_I386,
  nr: {
    ...UNIFIED,
    read: 3,
    execve: 11,
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
    openat: 295,
    unshare: 310,
    move_pages: 317,
    perf_event_open: 336,
    setns: 346,
    process_vm_readv: 347,
    process_vm_writev: 348,
    bpf: 357,
    socket: 359,
    userfaultfd: 374,
  },
};

/** include/uapi/asm-generic/unistd.h */
const AARCH64: AbiTable = {
  name: "aarch64",
  audit: AUDIT_ARCH_AARCH64,
  nr: {
    ...UNIFIED,
    ioctl: 29,
    umount2: 39,
    mount: 40,
    pivot_root: 41,
    chroot: 51,
    openat: 56,
    quotactl: 60,
    read: 63,
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
    execve: 221,
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
  },
};

/** arch/arm/tools/syscall.tbl (EABI) */
const ARM: AbiTable = {
  name: "arm",
  audit: AUDIT_ARCH_ARM,
  nr: {
    ...UNIFIED,
    read: 3,
    execve: 11,
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
    openat: 322,
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
  },
};

const ABI_TABLES: Record<SeccompArch, [native: AbiTable, compat: AbiTable]> = {
  x64: [X86_64, I386],
  arm64: [AARCH64, ARM],
};

const CLONE_NS_FLAGS: Record<string, bigint> = {
  CLONE_NEWNS: 0x0002_0000n,
  CLONE_NEWCGROUP: 0x0200_0000n,
  CLONE_NEWUTS: 0x0400_0000n,
  CLONE_NEWIPC: 0x0800_0000n,
  CLONE_NEWUSER: 0x1000_0000n,
  CLONE_NEWPID: 0x2000_0000n,
  CLONE_NEWNET: 0x4000_0000n,
};
/** What glibc passes for a thread, for fork() and for posix_spawn()'s vfork. */
const CLONE_THREAD_FLAGS = 0x003d_0f00n;
const SIGCHLD = 17n;
const CLONE_VM_VFORK = 0x4100n | SIGCHLD;

/** Calls whose answer depends on an argument; everything here is checked on every ABI. */
function argCases(abi: AbiTable): Case[] {
  const c = (name: string, syscall: string, args: bigint[], expected: number): Case[] => {
    const nr = abi.nr[syscall];
    return nr === undefined
      ? []
      : [{ name: `${abi.name} ${name}`, nr, arch: abi.audit, args, expected }];
  };
  return [
    ...Object.entries(CLONE_NS_FLAGS).flatMap(([flag, bit]) => [
      ...c(`clone(${flag}|SIGCHLD)`, "clone", [bit | SIGCHLD], EPERM),
      ...c(`clone(${flag}|thread flags)`, "clone", [bit | CLONE_THREAD_FLAGS], EPERM),
      // The kernel reads the low 32 bits of clone's flags (lower_32_bits): so do we.
      ...c(`clone(${flag}) with high bits set`, "clone", [0xffff_ffff_0000_0000n | bit], EPERM),
    ]),
    ...c("clone for a thread", "clone", [CLONE_THREAD_FLAGS, 0x7f00_1000n], ALLOW),
    ...c("clone as fork", "clone", [SIGCHLD], ALLOW),
    ...c("clone as vfork", "clone", [CLONE_VM_VFORK], ALLOW),
    ...c("clone with only high bits set", "clone", [0x7e02_0000_0000_0000n | SIGCHLD], ALLOW),
    ...c("clone, namespace bits in another arg", "clone", [SIGCHLD, 0x7e02_0000n], ALLOW),
    ...c("personality(PER_LINUX)", "personality", [0n], ALLOW),
    ...c("personality(PER_LINUX32)", "personality", [8n], ALLOW),
    ...c("personality(0xffffffff) query", "personality", [0xffff_ffffn], ALLOW),
    ...c("personality query, high bits set", "personality", [0xffff_ffff_ffff_ffffn], ALLOW),
    ...c("personality(ADDR_NO_RANDOMIZE)", "personality", [0x0004_0000n], EPERM),
    ...c("personality(READ_IMPLIES_EXEC)", "personality", [0x0040_0000n], EPERM),
    ...c("personality(PER_LINUX32|ADDR_NO_RANDOMIZE)", "personality", [0x0004_0008n], EPERM),
    ...c("personality(PER_BSD)", "personality", [0x0006n], EPERM),
    ...c("personality(0xfffffffe)", "personality", [0xffff_fffen], EPERM),
    ...[0n, 1n, 2n, 10n, 16n].flatMap((family) =>
      c(`socket(family ${family})`, "socket", [family, 1n, 0n], ALLOW),
    ),
    ...[3n, 9n, 11n, 15n, 17n, 38n, 40n, 45n, 46n, 0xffff_ffffn].flatMap((family) =>
      c(`socket(family ${family})`, "socket", [family, 1n, 0n], EAFNOSUPPORT),
    ),
    ...c("socket(AF_INET) with high bits set", "socket", [0x1_0000_0002n, 1n, 0n], ALLOW),
    ...c("socket(AF_VSOCK) with high bits set", "socket", [0x1_0000_0028n, 1n, 0n], EAFNOSUPPORT),
    ...c("socket(AF_UNIX, family-like type)", "socket", [1n, 40n, 0n], ALLOW),
    ...c("ioctl TIOCSTI", "ioctl", [0n, TIOCSTI], EPERM),
    ...c("ioctl TIOCLINUX", "ioctl", [0n, TIOCLINUX], EPERM),
    ...c("ioctl TIOCSETD", "ioctl", [0n, 0x5423n], EPERM),
    ...c("ioctl TIOCEXCL", "ioctl", [0n, 0x540cn], EPERM),
    ...c("ioctl TCXONC", "ioctl", [0n, 0x540an], EPERM),
    ...c("ioctl TIOCSWINSZ", "ioctl", [0n, 0x5414n], ALLOW),
    ...c("ioctl TCSETS", "ioctl", [0n, 0x5402n], ALLOW),
    ...c("ioctl TCGETS", "ioctl", [0n, TCGETS], ALLOW),
  ];
}

/** Denied calls get their errno whatever their arguments. */
function deniedCases(abi: AbiTable): Case[] {
  return Object.entries(DENIED).flatMap(([syscall, expected]) => {
    const nr = abi.nr[syscall];
    if (nr === undefined) return [];
    return [
      { name: `${abi.name} ${syscall}`, nr, arch: abi.audit, expected },
      {
        name: `${abi.name} ${syscall} with arguments`,
        nr,
        arch: abi.audit,
        args: [0xffff_ffff_ffff_ffffn, 1n, 0x5412n, 0n, 0x1000n, 2n],
        expected,
      },
    ];
  });
}

describe.each(Object.entries(ABI_TABLES))("the rule list on %s", (arch, abis) => {
  const program = buildSeccompFilter(arch as SeccompArch);

  for (const abi of abis) {
    it.each([...deniedCases(abi), ...argCases(abi)])("$name", ({ nr, arch: a, args, expected }) => {
      expect(run(program, seccompData(nr, a, args)).toString(16)).toBe(expected.toString(16));
    });

    it(`${abi.name}: every number 0..1023 gets exactly the table's answer (zero arguments)`, () => {
      const denied = new Map<number, number>();
      for (const [syscall, errno] of Object.entries(DENIED)) {
        const nr = abi.nr[syscall];
        if (nr !== undefined) denied.set(nr, errno);
      }
      const wrong: string[] = [];
      for (let nr = 0; nr < 1024; nr++) {
        const got = run(program, seccompData(nr, abi.audit));
        const expected = denied.get(nr) ?? ALLOW;
        if (got !== expected) wrong.push(`${nr}: ${got.toString(16)} != ${expected.toString(16)}`);
      }
      expect(wrong).toEqual([]);
    });

    it(`${abi.name}: the ordinary calls stay allowed`, () => {
      for (const syscall of [
        "read",
        "openat",
        "execve",
        "clone",
        "ioctl",
        "personality",
        "socket",
      ]) {
        const nr = abi.nr[syscall];
        if (nr === undefined) continue;
        expect(run(program, seccompData(nr, abi.audit, [0n, 0n])), syscall).toBe(ALLOW);
      }
    });
  }

  it("has numbers for every denied call on the native ABI, except those it does not have", () => {
    const [native] = abis;
    const missing = Object.keys(DENIED).filter((name) => native.nr[name] === undefined);
    expect(missing.sort()).toEqual(
      arch === "x64" ? ["socketcall", "umount"] : ["modify_ldt", "socketcall", "umount", "uselib"],
    );
  });
});

describe("isSupportedSeccompArch", () => {
  it("accepts the arches we build filters for", () => {
    expect(isSupportedSeccompArch("x64")).toBe(true);
    expect(isSupportedSeccompArch("arm64")).toBe(true);
  });

  it("rejects everything else", () => {
    for (const arch of ["ia32", "arm", "riscv64", "ppc64", "s390x", "", "X64"]) {
      expect(isSupportedSeccompArch(arch)).toBe(false);
    }
  });
});

describe("buildSeccompFilter", () => {
  it("throws a TypeError for an unsupported arch", () => {
    expect(() => buildSeccompFilter("riscv64" as SeccompArch)).toThrow(TypeError);
    expect(() => buildSeccompFilter(undefined as unknown as SeccompArch)).toThrow(TypeError);
  });

  describe.each(Object.entries(TABLES))("%s", (arch, table) => {
    const program = buildSeccompFilter(arch as SeccompArch);

    it.each(table)("$name", ({ nr, arch: auditArch, args, expected }) => {
      const result = run(program, seccompData(nr, auditArch, args));
      expect(result.toString(16)).toBe(expected.toString(16));
    });

    it("is a well-formed classic BPF program the kernel will accept", () => {
      expect(program.length % 8).toBe(0);
      const insns = decode(program);
      expect(insns.length).toBeGreaterThan(0);
      expect(insns.length).toBeLessThanOrEqual(4096);
      expect(insns.at(-1)?.code).toBe(0x06); // must end with a return
      insns.forEach((insn, pc) => {
        switch (insn.code) {
          case 0x20:
            // seccomp only allows aligned word loads inside struct seccomp_data.
            expect(insn.k % 4).toBe(0);
            expect(insn.k).toBeLessThan(64);
            expect(insn.jt).toBe(0);
            expect(insn.jf).toBe(0);
            break;
          case 0x15:
          case 0x45:
            expect(pc + 1 + insn.jt).toBeLessThan(insns.length);
            expect(pc + 1 + insn.jf).toBeLessThan(insns.length);
            break;
          case 0x05:
            expect(pc + 1 + insn.k).toBeLessThan(insns.length);
            break;
          case 0x06:
            expect([ALLOW, EPERM, ENOSYS, EAFNOSUPPORT]).toContain(insn.k);
            break;
          default:
            throw new Error(`unexpected opcode 0x${insn.code.toString(16)} at ${pc}`);
        }
      });
    });

    it("is deterministic", () => {
      expect(buildSeccompFilter(arch as SeccompArch).equals(program)).toBe(true);
    });
  });

  it.each(["x64", "arm64"] as const)("produces the expected %s program", (arch) => {
    expect(listing(buildSeccompFilter(arch))).toMatchSnapshot();
  });
});

/** One `code jt jf k` line per instruction, in hex: readable in a snapshot diff. */
function listing(program: Buffer): string {
  return decode(program)
    .map(
      ({ code, jt, jf, k }) =>
        `${code.toString(16).padStart(4, "0")} ${jt.toString(16).padStart(2, "0")} ${jf
          .toString(16)
          .padStart(2, "0")} ${k.toString(16).padStart(8, "0")}`,
    )
    .join("\n");
}

describe("nativeSyscall", () => {
  it("gives prctl's number on each arch's native ABI (the terminal supervisor calls it)", () => {
    expect(nativeSyscall("x64", "prctl")).toBe(157);
    expect(nativeSyscall("arm64", "prctl")).toBe(167);
  });
});

describe("buildCommandFilter", () => {
  const TIOCSPGRP = 0x5410n;
  it.each([
    ["x64", AUDIT_ARCH_X86_64, 16, AUDIT_ARCH_I386, 54],
    ["arm64", AUDIT_ARCH_AARCH64, 29, AUDIT_ARCH_ARM, 54],
  ] as const)(
    "%s: denies TIOCSPGRP, native and compat, and allows the rest",
    (arch, native, ioctl, compat, compatIoctl) => {
      const filter = buildCommandFilter(arch as SeccompArch);
      expect(run(filter, seccompData(ioctl, native, [0n, TIOCSPGRP]))).toBe(EPERM);
      expect(run(filter, seccompData(compatIoctl, compat, [0n, TIOCSPGRP]))).toBe(EPERM);
      expect(run(filter, seccompData(ioctl, native, [0n, 0x5422n]))).toBe(EPERM); // TIOCNOTTY
      expect(run(filter, seccompData(ioctl, native, [0n, TCGETS]))).toBe(ALLOW);
      expect(run(filter, seccompData(ioctl, native, [0n, TIOCSTI]))).toBe(ALLOW);
      expect(run(filter, seccompData(0, native, [0n, TIOCSPGRP]))).toBe(ALLOW);
      const setsid = { x64: 112, arm64: 157 }[arch];
      expect(run(filter, seccompData(setsid, native))).toBe(EPERM);
      expect(run(filter, seccompData(66, compat))).toBe(EPERM); // setsid, i386 and arm EABI
      // A foreign arch gets EPERM for everything, as in the main filter.
      expect(run(filter, seccompData(ioctl, AUDIT_ARCH_RISCV64, [0n, TCGETS]))).toBe(EPERM);
    },
  );
});
