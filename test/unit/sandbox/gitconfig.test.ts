import { describe, expect, it } from "vitest";
import { includePaths, lastValue, parseGitConfig } from "../../../src/sandbox/gitconfig.js";

describe("parseGitConfig", () => {
  it("reads sections, subsections, case-insensitive names, last value wins", () => {
    const entries = parseGitConfig(
      '[core]\n\tbare = false\n\thooksPath = .githooks\n[remote "Origin"]\n\turl = x\n[CORE]\n\tHOOKSPATH = .husky/_\n',
    );
    expect(lastValue(entries, "core", "hookspath")).toBe(".husky/_");
    expect(entries).toContainEqual({
      section: "remote",
      subsection: "Origin",
      key: "url",
      value: "x",
    });
  });

  it("handles quotes, escapes, comments, continuations, CRLF and a key on the header line", () => {
    const text =
      '[core] hooksPath = " my hooks" ; comment\r\n[a]\n\tb = one\\\n two # c\n\tc = "x#y"\n\td = tab\\there\n\tflag\n';
    const entries = parseGitConfig(text);
    expect(lastValue(entries, "core", "hookspath")).toBe(" my hooks");
    expect(lastValue(entries, "a", "b")).toBe("one two");
    expect(lastValue(entries, "a", "c")).toBe("x#y");
    expect(lastValue(entries, "a", "d")).toBe("tab\there");
    expect(entries).toContainEqual({ section: "a", subsection: null, key: "flag", value: null });
  });

  it("reads the old [section.sub] form and stops at malformed syntax, as git refuses the file", () => {
    expect(parseGitConfig("[branch.Main]\n\tremote = o\n")[0]).toMatchObject({
      section: "branch",
      subsection: "main",
    });
    const entries = parseGitConfig('[core]\n\ta = 1\n\tb = "open\n\thooksPath = x\n');
    expect(lastValue(entries, "core", "a")).toBe("1");
    expect(lastValue(entries, "core", "hookspath")).toBeNull();
  });

  it("lists include and includeIf paths", () => {
    const entries = parseGitConfig(
      '[include]\n\tpath = ../shared.gitconfig\n[includeIf "gitdir:~/work/"]\n\tpath = work.cfg\n[other]\n\tpath = no\n',
    );
    expect(includePaths(entries)).toEqual(["../shared.gitconfig", "work.cfg"]);
  });
});
