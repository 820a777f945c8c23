/**
 * `/proc/<pid>/stat`, parsed once here for every reader. The second field, the command name
 * (comm), is in parentheses and may itself hold spaces and parentheses (a process may name
 * itself so), so the fields are counted after the LAST `)`; see proc_pid_stat(5).
 */
import { readFileSync } from "node:fs";

/** The fields safe-npm reads (proc_pid_stat(5) numbers them from 1: pid is 1, comm 2). */
export interface ProcStat {
  /** Field 3: R, S, D, T (stopped), Z, … */
  state: string;
  /** Field 4. */
  ppid: number;
  /** Field 5: the process group. */
  pgrp: number;
  /** Field 6: the session id. */
  session: number;
  /** Field 7: the controlling terminal's device number, 0 for none. */
  tty: number;
  /** Field 8: the foreground process group of the controlling terminal, or -1. */
  tpgid: number;
  /** Field 22, in clock ticks since boot: with the pid, names one process across pid reuse. */
  startTime: string;
}

/** The fields of a stat line, or null when it is not one (no `)`, or too few fields). */
export function parseProcStat(text: string): ProcStat | null {
  const close = text.lastIndexOf(")");
  if (close < 0) return null;
  // After ") " come field 3 (state) onwards: field n is at index n - 3.
  const fields = text.slice(close + 2).split(" ");
  const startTime = fields[19];
  if (startTime === undefined || startTime === "") return null;
  return {
    state: fields[0] ?? "",
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    session: Number(fields[3]),
    tty: Number(fields[4]),
    tpgid: Number(fields[5]),
    startTime,
  };
}

/** `/proc/<pid>/stat` of a process, or null when it is gone or unreadable. */
export function procStat(pid: number | "self"): ProcStat | null {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return null;
  }
}
