import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseDuration } from "../../../src/cli/duration.js";
import {
  formatAge,
  formatHomes,
  formatSize,
  type HomeEntry,
  listHomes,
  readHomeRecord,
  selectPrune,
} from "../../../src/commands/homes.js";
import { writeHomeRecord } from "../../../src/sandbox/privatehome.js";

const DAY = 24 * 60 * 60 * 1000;
const NOW = Date.parse("2026-11-30T12:00:00Z");

describe("parseDuration", () => {
  it.each([
    ["30d", 30 * DAY],
    ["12h", DAY / 2],
    ["2w", 14 * DAY],
    ["0d", 0],
  ])("%s", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["30", "d", "30 d", "1.5d", "-3d", "30days", "3m", "", "9999999d"])(
    "refuses %j with a usage error naming it",
    (text) => {
      expect(() => parseDuration(text)).toThrow(
        expect.objectContaining({
          code: "USAGE",
          message: `--older-than needs a duration like 30d, 12h or 2w, got "${text}"`,
        }),
      );
    },
  );
});

describe("formatSize", () => {
  it.each([
    [0, "0 B"],
    [999, "999 B"],
    [1000, "1.0 kB"],
    [9_540_000, "9.5 MB"],
    [142_000_000, "142 MB"],
    [306_400_000, "306 MB"],
    [999_600_000, "1.0 GB"],
    [1_300_000_000, "1.3 GB"],
  ])("%d → %s", (bytes, text) => {
    expect(formatSize(bytes)).toBe(text);
  });
});

describe("formatAge", () => {
  it("counts whole days", () => {
    expect(formatAge(NOW - 1000, NOW)).toBe("today");
    expect(formatAge(NOW - DAY, NOW)).toBe("1 day ago");
    expect(formatAge(NOW - 45.5 * DAY, NOW)).toBe("45 days ago");
    // A clock that went back: not "-1 days ago".
    expect(formatAge(NOW + DAY, NOW)).toBe("today");
  });
});

const home = (over: Partial<HomeEntry>): HomeEntry => ({
  path: "/c/safe-npm/homes/app-0123456789ab",
  project: "/code/app",
  projectExists: true,
  lastUse: NOW - DAY,
  bytes: 1000,
  unreadable: [],
  ...over,
});

describe("selectPrune", () => {
  const homes = [
    home({ path: "/h/live-recent", lastUse: NOW - DAY }),
    home({ path: "/h/live-idle", lastUse: NOW - 40 * DAY }),
    home({ path: "/h/gone-recent", projectExists: false, lastUse: NOW - DAY }),
    home({ path: "/h/unknown", project: null, projectExists: null, lastUse: null }),
  ];
  const paths = (o: { olderThan: number | null; unrecorded: boolean }): string[] =>
    selectPrune(homes, { now: NOW, ...o }).map((c) => c.home.path);

  it("by default removes only the homes of missing projects", () => {
    expect(paths({ olderThan: null, unrecorded: false })).toEqual(["/h/gone-recent"]);
    expect(selectPrune(homes, { now: NOW, olderThan: null, unrecorded: false })[0]?.reason).toBe(
      "project missing",
    );
  });

  it("with --older-than also those last used longer ago, by the record's time", () => {
    expect(paths({ olderThan: 30 * DAY, unrecorded: false })).toEqual([
      "/h/live-idle",
      "/h/gone-recent",
    ]);
    expect(paths({ olderThan: 41 * DAY, unrecorded: false })).toEqual(["/h/gone-recent"]);
    expect(
      selectPrune(homes, { now: NOW, olderThan: 30 * DAY, unrecorded: false })[0]?.reason,
    ).toBe("idle, last used 40 days ago");
  });

  it("keeps a home without a record unless asked (nothing host-written says when it was used)", () => {
    expect(paths({ olderThan: 0, unrecorded: false })).not.toContain("/h/unknown");
    expect(paths({ olderThan: null, unrecorded: true })).toEqual(["/h/gone-recent", "/h/unknown"]);
  });
});

describe("formatHomes", () => {
  it("one line per home: size, project, last use, missing; unknown ones by path", () => {
    const text = formatHomes(
      "/c/safe-npm/homes",
      [
        home({ bytes: 142_000_000 }),
        home({ project: "/code/gone", projectExists: false, lastUse: NOW - 3 * DAY, bytes: 2000 }),
        home({ path: "/c/h/old-1", project: null, projectExists: null, lastUse: null, bytes: 5 }),
      ],
      NOW,
    );
    expect(text.split("\n")).toEqual([
      "3 private homes in /c/safe-npm/homes, 142 MB:",
      " 142 MB  /code/app  last use 2026-11-29 (1 day ago)",
      " 2.0 kB  /code/gone  last use 2026-11-27 (3 days ago)  PROJECT MISSING",
      "    5 B  /c/h/old-1  project unknown (no record: made by an older safe-npm, unused since)",
      "",
      "`safe-npm homes prune` removes the homes of missing projects.",
      "",
    ]);
    expect(formatHomes("/c/h", [], NOW)).toBe("no private homes in /c/h\n");
  });

  it("prints paths with control characters as escapes: a project path cannot fake a line or move the cursor", () => {
    const project =
      "/code/x\n 1.0 GB  /root/.ssh  last use 2026-11-29 (1 day ago)  PROJECT MISSING\u001b[1A\u001b[2K\u202e";
    const text = formatHomes("/c/h", [home({ project, unreadable: ["/h/a\rb (EACCES)"] })], NOW);
    const lines = text.split("\n");
    expect(lines[1]).toBe(
      "≥1.0 kB  /code/x\\n 1.0 GB  /root/.ssh  last use 2026-11-29 (1 day ago)  PROJECT MISSING\\x1b[1A\\x1b[2K\\u202e  last use 2026-11-29 (1 day ago)",
    );
    expect(lines[2]).toBe("         not counted: /h/a\\rb (EACCES)");
    expect(lines.filter((l) => l.includes("/root/.ssh"))).toHaveLength(1);
    expect([...text].filter((ch) => ch !== "\n" && (ch < " " || ch === "\u202e"))).toEqual([]);
  });

  it("a size that leaves something out is marked as a lower bound, with what and why", () => {
    const unreadable = ["/h/a (cannot be opened: EACCES)", "/h/b (EMFILE)", "/h/c", "/h/d", "/h/e"];
    const text = formatHomes("/c/h", [home({ bytes: 9_100_000, unreadable })], NOW);
    expect(text.split("\n")).toEqual([
      "1 private home in /c/h, at least 9.1 MB:",
      "≥9.1 MB  /code/app  last use 2026-11-29 (1 day ago)",
      "         not counted: /h/a (cannot be opened: EACCES)",
      "         not counted: /h/b (EMFILE)",
      "         not counted: /h/c",
      "         not counted: 2 more (`safe-npm homes --json` lists them)",
      "",
      "Sizes marked ≥ leave out what could not be read: a directory made unreadable inside, or the error named.",
      "",
    ]);
  });
});

describe("home records", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "safe-npm-unit-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const name = (project: string): string =>
    `app-${createHash("sha256").update(project).digest("hex").slice(0, 12)}`;

  it("are written beside the home and read back only when they match its name", () => {
    const project = "/code/app";
    const path = join(dir, name(project));
    mkdirSync(path);
    writeHomeRecord(path, { project, lastUse: new Date(NOW).toISOString() }, new Date(NOW));
    expect(readHomeRecord(path, name(project))).toEqual({
      project,
      lastUse: new Date(NOW).toISOString(),
    });
    // Another project's record copied onto this home is not believed.
    writeHomeRecord(path, { project: "/code/other", lastUse: "2026-01-01T00:00:00Z" }, new Date());
    expect(readHomeRecord(path, name(project))).toBeNull();
  });

  it("replace a link at the record's path instead of writing through it", () => {
    const project = "/code/app";
    const path = join(dir, name(project));
    mkdirSync(path);
    const target = join(dir, "target.txt");
    writeFileSync(target, "untouched");
    symlinkSync(target, `${path}.json`);
    expect(readHomeRecord(path, name(project))).toBeNull();
    writeHomeRecord(path, { project, lastUse: new Date(NOW).toISOString() }, new Date(NOW));
    expect(readHomeRecord(path, name(project))?.project).toBe(project);
    expect(readFileSync(target, "utf8")).toBe("untouched");
  });

  it("listHomes reads directories with a home's name only, sorted by last use", () => {
    const a = join(dir, name("/code/a"));
    const b = join(dir, name("/code/b"));
    mkdirSync(a);
    mkdirSync(b);
    mkdirSync(join(dir, "not-a-home"));
    symlinkSync(a, join(dir, "app-0123456789ab"));
    writeHomeRecord(a, { project: "/code/a", lastUse: new Date(NOW).toISOString() }, new Date());
    writeHomeRecord(
      b,
      { project: "/code/b", lastUse: new Date(NOW - DAY).toISOString() },
      new Date(),
    );
    const homes = listHomes(dir, false);
    expect(homes.map((h) => h.path)).toEqual([b, a]);
    expect(homes.every((h) => h.projectExists === false)).toBe(true);
  });
});
