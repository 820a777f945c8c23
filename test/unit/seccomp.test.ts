import { describe, expect, it } from "vitest";
import { buildSeccompFilter, isSupportedSeccompArch, type SeccompArch } from "../../src/seccomp.js";

const ALLOW = 0x7fff_0000;
const EPERM = 0x0005_0001; // SECCOMP_RET_ERRNO | EPERM

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
            expect([ALLOW, EPERM]).toContain(insn.k);
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

  it("produces the expected x64 program", () => {
    expect(listing(buildSeccompFilter("x64"))).toMatchInlineSnapshot(`
      "0020 00 00 00000004
      0015 01 00 c000003e
      0015 07 0d 40000003
      0020 00 00 00000000
      0045 0b 00 40000000
      0015 00 03 00000010
      0020 00 00 00000018
      0015 08 00 00005412
      0015 07 00 0000541c
      0006 00 00 7fff0000
      0020 00 00 00000000
      0015 00 03 00000036
      0020 00 00 00000018
      0015 02 00 00005412
      0015 01 00 0000541c
      0006 00 00 7fff0000
      0006 00 00 00050001"
    `);
  });

  it("produces the expected arm64 program", () => {
    expect(listing(buildSeccompFilter("arm64"))).toMatchInlineSnapshot(`
      "0020 00 00 00000004
      0015 01 00 c00000b7
      0015 06 0c 40000028
      0020 00 00 00000000
      0015 00 03 0000001d
      0020 00 00 00000018
      0015 08 00 00005412
      0015 07 00 0000541c
      0006 00 00 7fff0000
      0020 00 00 00000000
      0015 00 03 00000036
      0020 00 00 00000018
      0015 02 00 00005412
      0015 01 00 0000541c
      0006 00 00 7fff0000
      0006 00 00 00050001"
    `);
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
