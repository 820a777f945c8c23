/** `--older-than`'s durations. */
import { SafeNpmError } from "../errors.js";

const HOUR = 60 * 60 * 1000;
const UNITS: Readonly<Record<string, number>> = { h: HOUR, d: 24 * HOUR, w: 7 * 24 * HOUR };

/** `30d`, `12h`, `2w` → milliseconds. */
export function parseDuration(text: string, flag = "--older-than"): number {
  const m = /^(\d{1,6})([hdw])$/.exec(text);
  if (m === null) {
    throw new SafeNpmError("USAGE", `${flag} needs a duration like 30d, 12h or 2w, got "${text}"`, {
      hint: `e.g. \`safe-npm homes prune ${flag} 30d\` (h: hours, d: days, w: weeks)`,
    });
  }
  return Number(m[1]) * (UNITS[m[2] as string] as number);
}
