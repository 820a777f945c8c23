/**
 * withLiveRuns: a run that starts while another is still going in the project is judged against
 * the snapshot the other one took before it started, where that one looked.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startTime, withLiveRuns } from "../../../src/sandbox/guarded.js";
import type { Snapshot } from "../../../src/sandbox/integrity.js";

let dir: string;
let journal: string;
const root = "/p";
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "safe-npm-liveruns-"));
  journal = join(dir, "runs");
  mkdirSync(journal, { mode: 0o700 });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A journal of a run that is going: this test's parent process (not this one). */
function liveJournal(data: Record<string, unknown>, alive = true): void {
  const pid = process.ppid;
  const start = alive ? startTime(pid) : "1";
  writeFileSync(join(journal, `${"a".repeat(16)}-${pid}-${start}.json`), JSON.stringify(data), {
    mode: 0o600,
  });
}

const own = (): Snapshot => ({
  entries: new Map([
    ["/p/src", { kind: "git", fp: "planted" }],
    ["/p/vendor/x.git", { kind: "git", fp: "changed" }],
    ["/p/docs/.npmrc", { kind: "pmconfig", fp: "mine" }],
    ["/p/docs/.yarnrc.yml", { kind: "pmconfig", fp: "mine" }],
    ["/p/skipped/.git", { kind: "git", fp: "mine" }],
    ["/p/.npmrc", { kind: "readonly", fp: "mine" }],
    ["/elsewhere/hooks", { kind: "hook", fp: "mine" }],
  ]),
  watch: [{ kind: "readonly", path: "/p/.npmrc" }],
});

describe("withLiveRuns", () => {
  it("takes the other run's view where it looked: what it did not have is new here", () => {
    liveJournal({
      root,
      entries: [
        ["/p/vendor/x.git", { kind: "git", fp: "original" }],
        ["/p/docs/.npmrc", { kind: "pmconfig", fp: "theirs" }],
      ],
      skip: ["/p/skipped"],
      configNames: [".npmrc"],
    });
    const merged = withLiveRuns(own(), root, journal);
    expect(Object.fromEntries([...merged.entries].map(([p, e]) => [p, e.fp]))).toEqual({
      // Not in theirs: new since that run started.
      // "/p/src" gone from the baseline
      "/p/vendor/x.git": "original",
      "/p/docs/.npmrc": "theirs",
      // A name that run did not look for, a path it left out, what this run watches, and
      // what lies outside that run's project: this run's own.
      "/p/docs/.yarnrc.yml": "mine",
      "/p/skipped/.git": "mine",
      "/p/.npmrc": "mine",
      "/elsewhere/hooks": "mine",
    });
    expect(merged.entries.has("/p/src")).toBe(false);
  });

  it("takes their view of what both watch (a hooks folder), where they recorded it alike", () => {
    const mine: Snapshot = {
      entries: new Map([
        ["/p/.githooks", { kind: "hook", fp: "link to scripts/evil" }],
        ["/p/.githooks/pre-commit", { kind: "hook", fp: "planted" }],
        ["/p/.husky/x", { kind: "hook", fp: "mine" }],
      ]),
      watch: [
        { kind: "hook", path: "/p/.githooks" },
        { kind: "hook", path: "/p/.husky" },
      ],
    };
    liveJournal({
      root,
      entries: [["/p/.githooks", { kind: "hook", fp: "link to tools/hooks" }]],
      watch: [{ kind: "hook", path: "/p/.githooks" }],
      skip: [],
      configNames: [],
    });
    const merged = withLiveRuns(mine, root, journal);
    expect(Object.fromEntries([...merged.entries].map(([p, e]) => [p, e.fp]))).toEqual({
      "/p/.githooks": "link to tools/hooks",
      // They watched .githooks and had no pre-commit: new. They did not watch .husky: mine.
      "/p/.husky/x": "mine",
    });
  });

  it("counts as new what that run recorded as something else, unless alike", () => {
    const mine: Snapshot = {
      entries: new Map([
        // A real folder here, bound read-only; that run found the hooks folder missing.
        ["/p/.husky", { kind: "readonly", fp: "dir@8:42" }],
        ["/p/.husky/pre-commit", { kind: "hook", fp: "planted" }],
        ["/p/vendor/y", { kind: "project", fp: "same" }],
        ["/p/odd", { kind: "git", fp: "mine" }],
      ]),
      watch: [{ kind: "readonly", path: "/p/.husky" }],
    };
    liveJournal({
      root,
      entries: [
        ["/p/.husky", { kind: "hook", fp: "hookdir:-" }],
        ["/p/vendor/y", { kind: "git", fp: "same" }],
        ["/p/odd", { kind: "git", fp: 7 }],
      ],
      watch: [{ kind: "hook", path: "/p/.husky" }],
      skip: [],
      configNames: [],
    });
    const merged = withLiveRuns(mine, root, journal);
    expect(Object.fromEntries([...merged.entries].map(([p, e]) => [p, e.fp]))).toEqual({
      // Alike under another kind: unchanged.
      "/p/vendor/y": "same",
    });
  });

  it("ignores a journal of a run that is over, of another project, or of this process", () => {
    liveJournal({ root, entries: [], skip: [], configNames: [] }, false);
    expect(withLiveRuns(own(), root, journal).entries.size).toBe(7);
    rmSync(journal, { recursive: true });
    mkdirSync(journal, { mode: 0o700 });
    liveJournal({ root: "/q", entries: [], skip: [], configNames: [] });
    expect(withLiveRuns(own(), root, journal).entries.size).toBe(7);
    expect(withLiveRuns(own(), root, join(dir, "none")).entries.size).toBe(7);
  });
});
