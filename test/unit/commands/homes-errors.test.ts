/**
 * One home whose walk fails must not stop the others: `homes` and `homes prune` catch the error
 * per home, name it with that home, go on, and exit 125. The walk itself is replaced here so that
 * it throws for one home (sandbox/tree.ts has no failure left that a tree can provoke).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { homesCommand } from "../../../src/commands/homes.js";
import type { Output } from "../../../src/commands/types.js";
import type { HostInfo } from "../../../src/host/host.js";
import { writeHomeRecord } from "../../../src/sandbox/privatehome.js";

const BAD = "bad-";
vi.mock("../../../src/sandbox/tree.js", async (original) => {
  const real = await original<typeof import("../../../src/sandbox/tree.js")>();
  const fail = (root: string): void => {
    if (root.includes(`/${BAD}`) && !root.endsWith(".json")) {
      throw new RangeError("Maximum call stack size exceeded");
    }
  };
  return {
    ...real,
    treeSize: (root: string) => {
      fail(root);
      return real.treeSize(root);
    },
    removeTree: (root: string) => {
      fail(root);
      return real.removeTree(root);
    },
  };
});

let cache: string;
let out: { text: string; output: Output };
beforeEach(() => {
  cache = mkdtempSync(join(tmpdir(), "safe-npm-unit-"));
  let text = "";
  out = {
    get text() {
      return text;
    },
    output: {
      stdout: (t) => {
        text += t;
      },
      stderr: () => {},
      stderrIsTty: false,
      dim: () => {},
    },
  };
});
afterEach(() => rmSync(cache, { recursive: true, force: true }));

/** A home of a project that no longer exists, with its record. */
function goneHome(name: string): string {
  const homes = join(cache, "safe-npm", "homes");
  const project = join(cache, "gone", name);
  const home = join(
    homes,
    `${name}-${createHash("sha256").update(project).digest("hex").slice(0, 12)}`,
  );
  mkdirSync(join(home, ".npm"), { recursive: true });
  writeFileSync(join(home, ".npm", "x"), "x");
  writeHomeRecord(home, { project, lastUse: new Date().toISOString() }, new Date());
  return home;
}

describe("a home whose walk fails", () => {
  it("is named with its error in the list, the others measured, exit 125", () => {
    const bad = goneHome(`${BAD}a`);
    const good = goneHome("good");
    const host = {
      cacheHome: cache,
      ownCache: { home: cache, notice: null, problem: null },
    } as HostInfo;
    const code = homesCommand(host, { action: "list", json: true }, out.output);
    expect(code).toBe(125);
    const doc = JSON.parse(out.text) as {
      homes: { path: string; bytes: number; unreadable: string[] }[];
    };
    expect(doc.homes.find((h) => h.path === bad)?.unreadable).toEqual([
      `${bad} (Maximum call stack size exceeded)`,
    ]);
    const ok = doc.homes.find((h) => h.path === good);
    expect(ok?.unreadable).toEqual([]);
    expect(ok?.bytes).toBeGreaterThan(0);
  });

  it("is kept and named by prune, the others pruned, exit 125", () => {
    const bad = goneHome(`${BAD}a`);
    const good = goneHome("good");
    const host = {
      cacheHome: cache,
      ownCache: { home: cache, notice: null, problem: null },
    } as HostInfo;
    const code = homesCommand(
      host,
      { action: "prune", olderThan: null, unrecorded: false, dryRun: false, json: false },
      out.output,
    );
    expect(code).toBe(125);
    expect(out.text).toContain(`  kept ${bad} (Maximum call stack size exceeded)`);
    expect(out.text).toContain(`removed ${good}`);
    expect(existsSync(good)).toBe(false);
    expect(existsSync(bad)).toBe(true);
    expect(existsSync(`${bad}.json`)).toBe(true);
  });
});
