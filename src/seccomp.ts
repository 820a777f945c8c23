/**
 * Builds the classic-BPF seccomp program that `bwrap --seccomp FD` installs in the sandbox
 * (bwrap loads it with SECCOMP_SET_MODE_FILTER). Pure: returns bytes, touches nothing.
 *
 * Today the filter only blocks terminal injection — ioctl(TIOCSTI) and ioctl(TIOCLINUX) —
 * like flatpak does (flatpak-run.c, `setup_seccomp`, "TIOCSTI"), so that code in the sandbox
 * cannot push keystrokes into the user's shell once safe-npm exits. That is what lets us keep
 * the caller's session (no `--new-session`, which breaks Ctrl-C and job control).
 *
 * The rule table below is meant to grow toward flatpak's list (keyctl, add_key, request_key,
 * ptrace, perf_event_open, the mount family, unshare/setns/clone with namespace flags,
 * personality, userfaultfd).
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

const EPERM = 1;

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

// --- Rules ---

type SyscallName = "ioctl";
type ArgIndex = 0 | 1 | 2 | 3 | 4 | 5;

/** Syscall numbers per ABI; a missing name means the ABI has no such syscall (rule skipped). */
type SyscallTable = Readonly<Partial<Record<SyscallName, number>>>;

interface Rule {
  readonly syscall: SyscallName;
  /**
   * When present, the rule matches only if the low 32 bits of `args[index]` equal one of
   * `values`; when absent, every call of the syscall matches.
   */
  readonly arg?: { readonly index: ArgIndex; readonly lowEquals: readonly number[] };
  readonly errno: number;
}

/**
 * Compare only the low 32 bits of the ioctl request: the kernel truncates `cmd` to unsigned int,
 * so also requiring the high word to be zero would let 0xffffffff00005412 through (flatpak makes
 * the same point, with SCMP_CMP_MASKED_EQ 0xFFFFFFFF).
 */
const RULES: readonly Rule[] = [
  { syscall: "ioctl", arg: { index: 1, lowEquals: [TIOCSTI, TIOCLINUX] }, errno: EPERM },
];

interface Abi {
  readonly auditArch: number;
  readonly syscalls: SyscallTable;
  /** Deny every syscall whose nr has the x32 bit (x86_64 only). */
  readonly denyX32: boolean;
}

/**
 * The native ABI plus the 32-bit compat ABI the kernel can also run for the same process
 * (`int 0x80` / an i386 binary on x86_64, an AArch32 binary on arm64): a filter that only
 * checked native numbers would be bypassed through compat syscalls, whose numbers differ.
 */
const ABIS: Readonly<Record<SeccompArch, readonly Abi[]>> = {
  x64: [
    { auditArch: AUDIT_ARCH_X86_64, syscalls: { ioctl: 16 }, denyX32: true },
    { auditArch: AUDIT_ARCH_I386, syscalls: { ioctl: 54 }, denyX32: false },
  ],
  arm64: [
    { auditArch: AUDIT_ARCH_AARCH64, syscalls: { ioctl: 29 }, denyX32: false },
    { auditArch: AUDIT_ARCH_ARM, syscalls: { ioctl: 54 }, denyX32: false },
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
 *   ld arch; for each ABI: jeq auditArch → that ABI's section; else → ERRNO(EPERM)
 *   section: ld nr; [x32 bit → EPERM]; each rule: jeq nr → [ld arg; jeq value → ERRNO]; ret ALLOW
 *
 * A foreign arch (one the kernel cannot even run here) gets EPERM on every syscall rather than
 * being allowed unchecked; KILL would be harsher than needed for something that cannot happen.
 */
export function buildSeccompFilter(arch: SeccompArch): Buffer {
  if (typeof arch !== "string" || !isSupportedSeccompArch(arch)) {
    throw new TypeError(`buildSeccompFilter: unsupported arch ${String(arch)}`);
  }
  const abis = ABIS[arch];
  const asm = new Assembler();
  const errnoLabels = new Map<number, string>();
  const denyLabel = (errno: number): string => {
    let label = errnoLabels.get(errno);
    if (label === undefined) {
      label = asm.newLabel(`errno${errno}`);
      errnoLabels.set(errno, label);
    }
    return label;
  };

  const sections = abis.map((abi) => ({ abi, label: asm.newLabel(`abi${abi.auditArch}`) }));

  asm.emit({ op: "ld", offset: OFFSET_ARCH });
  sections.forEach(({ abi, label }, i) => {
    const last = i === sections.length - 1;
    asm.emit({ op: "jeq", k: abi.auditArch, jt: label, jf: last ? denyLabel(EPERM) : null });
  });

  for (const { abi, label } of sections) {
    asm.label(label);
    asm.emit({ op: "ld", offset: OFFSET_NR });
    if (abi.denyX32) {
      asm.emit({ op: "jset", k: X32_SYSCALL_BIT, jt: denyLabel(EPERM), jf: null });
    }
    let accHoldsNr = true;
    for (const rule of RULES) {
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
      const values = rule.arg.lowEquals;
      values.forEach((value, j) => {
        const lastValue = j === values.length - 1;
        asm.emit({ op: "jeq", k: value, jt: deny, jf: lastValue ? next : null });
      });
      asm.label(next);
      accHoldsNr = false;
    }
    asm.emit({ op: "ret", k: SECCOMP_RET_ALLOW });
  }

  // Shared deny returns at the end, so every jump to them is forward.
  for (const [errno, label] of errnoLabels) {
    asm.label(label);
    asm.emit({ op: "ret", k: SECCOMP_RET_ERRNO | (errno & 0xffff) });
  }

  const program = asm.assemble();
  if (program.length / 8 > MAX_INSNS) throw new Error("seccomp: program too long");
  return program;
}
