import { afterEach, describe, expect, it, vi } from "vitest";
import { holdJobStops, writeStderr } from "../../../src/sandbox/jobstops.js";

describe("holding the job's stop signals while a sandbox runs", () => {
  afterEach(() => vi.restoreAllMocks());

  it("catches SIGTTOU and SIGTTIN until released, then leaves them as they were", async () => {
    const before = ["SIGTTOU", "SIGTTIN"].map((s) => process.listenerCount(s));
    const release = holdJobStops();
    expect(process.listenerCount("SIGTTOU")).toBe((before[0] ?? 0) + 1);
    expect(process.listenerCount("SIGTTIN")).toBe((before[1] ?? 0) + 1);
    await release();
    expect(["SIGTTOU", "SIGTTIN"].map((s) => process.listenerCount(s))).toEqual(before);
  });

  it("a second hold while one is held adds nothing", async () => {
    const release = holdJobStops();
    const inner = holdJobStops();
    expect(process.listenerCount("SIGTTOU")).toBe(1);
    await inner();
    expect(process.listenerCount("SIGTTOU")).toBe(1);
    await release();
    expect(process.listenerCount("SIGTTOU")).toBe(0);
  });

  it("continues the job's stopped processes only when a stop signal came", async () => {
    const kill = vi.spyOn(process, "kill").mockImplementation(() => true);
    await holdJobStops()();
    expect(kill).not.toHaveBeenCalled();
    const release = holdJobStops();
    process.emit("SIGTTOU", "SIGTTOU");
    await release();
    expect(kill).toHaveBeenCalledWith(0, "SIGCONT");
  });

  it("writes directly where stderr is not a terminal", async () => {
    const tty = process.stderr.isTTY;
    Object.defineProperty(process.stderr, "isTTY", { value: false, configurable: true });
    const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const release = holdJobStops();
    try {
      writeStderr("line during the run\n");
      expect(write).toHaveBeenCalledWith("line during the run\n");
    } finally {
      await release();
      Object.defineProperty(process.stderr, "isTTY", { value: tty, configurable: true });
    }
  });
});
