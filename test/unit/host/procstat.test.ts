import { describe, expect, it } from "vitest";
import { parseProcStat, procStat } from "../../../src/host/procstat.js";

/** A stat line as the kernel writes it: 52 fields, comm in parentheses, a newline at the end. */
function line(comm: string): string {
  const rest = [
    "S", // 3 state
    "41", // 4 ppid
    "42", // 5 pgrp
    "43", // 6 session
    "34816", // 7 tty_nr
    "44", // 8 tpgid
    ...Array.from({ length: 13 }, (_, i) => String(100 + i)), // 9–21
    "3032008", // 22 starttime
    ...Array.from({ length: 30 }, () => "0"), // 23–52
  ];
  return `7 (${comm}) ${rest.join(" ")}\n`;
}

describe("parseProcStat", () => {
  it("reads state, ppid, pgrp, session, tty, tpgid and starttime", () => {
    expect(parseProcStat(line("node"))).toEqual({
      state: "S",
      ppid: 41,
      pgrp: 42,
      session: 43,
      tty: 34816,
      tpgid: 44,
      startTime: "3032008",
    });
  });

  it.each(["a b c", "x) S 1 2 3 4 5 (y", ") ) )", "(", ""])(
    "counts fields after the last `)` of a command name like %j",
    (comm) => {
      const parsed = parseProcStat(line(comm));
      expect(parsed?.ppid).toBe(41);
      expect(parsed?.tpgid).toBe(44);
      expect(parsed?.startTime).toBe("3032008");
    },
  );

  it("(control) counting after the first `)` misreads such a name", () => {
    const text = line("x) S 1 2 3 4 5 (y");
    const fields = text.slice(text.indexOf(")") + 2).split(" ");
    expect(Number(fields[1])).not.toBe(41);
  });

  it("is null for text that is not a stat line", () => {
    expect(parseProcStat("")).toBeNull();
    expect(parseProcStat("7 node S 41 42")).toBeNull();
    expect(parseProcStat("7 (node) S 41 42 43 34816 44")).toBeNull();
  });
});

describe("procStat", () => {
  it("reads this process's own line", () => {
    const own = procStat("self");
    expect(own?.ppid).toBe(process.ppid);
    expect(own?.startTime).toMatch(/^\d+$/);
    expect(procStat(process.pid)).toEqual(own);
  });

  it("is null for a process that does not exist", () => {
    expect(procStat(2 ** 22 + 1)).toBeNull();
  });
});
