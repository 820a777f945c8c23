import { describe, expect, it } from "vitest";
import { NO_TIMING, startTiming } from "../../src/timing.js";

describe("startTiming", () => {
  it("gives each phase the time since the previous mark, then the total", () => {
    const clock = [100, 102.5, 130];
    const timing = startTiming(() => clock.shift() ?? 0);
    timing.mark("start-up");
    timing.mark("host facts");
    timing.mark("command");
    expect(timing.lines()).toEqual([
      "safe-npm timing: start-up      100.0 ms\n",
      "safe-npm timing: host facts      2.5 ms\n",
      "safe-npm timing: command        27.5 ms\n",
      "safe-npm timing: total         130.0 ms\n",
    ]);
  });

  it("reports nothing without a mark, and NO_TIMING never does", () => {
    expect(startTiming(() => 5).lines()).toEqual([]);
    NO_TIMING.mark("x");
    expect(NO_TIMING.lines()).toEqual([]);
  });
});
