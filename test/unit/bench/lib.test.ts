import { describe, expect, it } from "vitest";
import {
  median,
  parseBenchArgs,
  quantile,
  ratioCell,
  selected,
  verdict,
} from "../../../bench/lib.mjs";

describe("parseBenchArgs", () => {
  it("has defaults, from BENCH_* when set", () => {
    expect(parseBenchArgs([])).toEqual({
      help: false,
      rounds: 21,
      warmup: 2,
      installRounds: 5,
      only: null,
      registry: null,
    });
    expect(parseBenchArgs([], { BENCH_ROUNDS: "7", BENCH_INSTALL_ROUNDS: "2" })).toMatchObject({
      rounds: 7,
      installRounds: 2,
    });
  });

  it("reads every option, with a space or an equals sign", () => {
    expect(
      parseBenchArgs([
        "--only",
        "pnpm,yarn4",
        "--rounds=9",
        "--warmup",
        "0",
        "--install-rounds",
        "3",
        "--registry",
        "https://registry.example.org",
      ]),
    ).toEqual({
      help: false,
      rounds: 9,
      warmup: 0,
      installRounds: 3,
      only: ["pnpm", "yarn4"],
      registry: "https://registry.example.org/",
    });
    expect(parseBenchArgs(["-h"]).help).toBe(true);
  });

  it.each([
    [["--only", "pnpm,yarn3"], /unknown section yarn3/],
    [["--only", ","], /unknown section \(none\)/],
    [["--rounds", "2"], /--rounds wants a whole number ≥ 5, got 2/],
    [["--install-rounds", "x"], /--install-rounds wants a whole number ≥ 1, got x/],
    [["--rounds"], /--rounds needs a value/],
    [["--registry", "registry.npmjs.org"], /--registry wants a URL/],
    [["--registry", "file:///tmp/x"], /wants an http\(s\) URL/],
    [["--fast"], /unknown argument --fast/],
  ])("refuses %j", (argv, message) => {
    expect(() => parseBenchArgs(argv)).toThrow(message);
  });

  it("refuses a bad BENCH_ROUNDS by name", () => {
    expect(() => parseBenchArgs([], { BENCH_ROUNDS: "3" })).toThrow(/BENCH_ROUNDS/);
  });
});

describe("selected", () => {
  it("runs everything without --only, and a family by its name", () => {
    expect(selected(null, "bun")).toBe(true);
    expect(selected(["pnpm"], "pnpm")).toBe(true);
    expect(selected(["pnpm"], "pnpm-latest")).toBe(true);
    expect(selected(["yarn4"], "yarn4-pnp")).toBe(true);
    expect(selected(["yarn4"], "yarn1")).toBe(false);
    expect(selected(["pnpm-latest"], "pnpm")).toBe(false);
    expect(selected(["npm"], "startup")).toBe(false);
  });
});

describe("statistics and verdicts", () => {
  it("takes medians and quantiles", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
    expect(quantile([1, 2, 3, 4, 5], 0.25)).toBe(2);
    expect(quantile([1, 2], 0.5)).toBe(1.5);
  });

  it("names a miss and by how much", () => {
    expect(verdict(1.15, 1.15)).toBe("met");
    expect(verdict(1.2, 1.15)).toBe("MISSED by 4.3%");
    expect(verdict(1.8, 1.25)).toBe("MISSED by 44%");
    expect(verdict(Number.NaN, 1.25)).toBe("no result");
    expect(ratioCell(1.071, 1.15)).toBe("1.07× (target ≤ 1.15: met)");
    expect(ratioCell(Number.NaN, 1.15)).toBe("— (target ≤ 1.15: no result)");
  });
});
