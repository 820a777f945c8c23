/**
 * `SAFE_NPM_TIMING=1`: how long each phase of a run took, printed on stderr at the end. Marks are
 * always taken (a clock read each); only the report depends on the variable, which is read with
 * the other host facts.
 */
export interface Timing {
  /** Ends the phase running since the previous mark (or since node started) and names it. */
  mark(phase: string): void;
  /** One line per phase, then the total; empty when no phase was marked. */
  lines(): string[];
}

/**
 * `now` in ms since the process started. process.uptime() has the same origin and precision as
 * performance.now(), without loading node's perf_hooks at every start.
 */
export function startTiming(now: () => number = () => process.uptime() * 1000): Timing {
  const phases: { phase: string; ms: number }[] = [];
  let last = 0;
  return {
    mark(phase) {
      const t = now();
      phases.push({ phase, ms: t - last });
      last = t;
    },
    lines() {
      if (phases.length === 0) return [];
      const width = Math.max(...phases.map((p) => p.phase.length), "total".length);
      const line = (phase: string, ms: number): string =>
        `safe-npm timing: ${phase.padEnd(width)} ${ms.toFixed(1).padStart(8)} ms\n`;
      return [...phases.map((p) => line(p.phase, p.ms)), line("total", last)];
    },
  };
}

/** For callers that take an optional timing. */
export const NO_TIMING: Timing = { mark() {}, lines: () => [] };
