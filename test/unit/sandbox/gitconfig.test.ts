import { describe, expect, it } from "vitest";
import {
  includePaths,
  lastValue,
  parseGitConfig,
  programPaths,
  programWordsAtTop,
} from "../../../src/sandbox/gitconfig.js";

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

describe("programPaths: what git runs that config names by path", () => {
  it("takes the first word of each program key that holds a path", () => {
    const text = [
      "[core]",
      "\tfsmonitor = scripts/fsmonitor.sh",
      "\tpager = less -R",
      '\tsshCommand = "tools/my ssh" -i key',
      '[filter "lfs"]',
      "\tclean = git-lfs clean -- %f",
      '[filter "crlf"]',
      "\tsmudge = ./bin/smudge %f",
      '[diff "pdf"]',
      "\ttextconv = /usr/local/bin/pdf2txt",
      '[merge "ours"]',
      "\tdriver = tools/merge.sh %O %A %B",
      "[credential]",
      "\thelper = !tools/cred.sh",
      "[alias]",
      "\tst = !scripts/st.sh --short",
      "\tco = checkout",
      "[core]",
      "\tfsmonitor = true",
      "[user]",
      "\tname = not/a/program",
      "",
    ].join("\n");
    expect(
      programPaths(
        parseGitConfig(
          '[filter "i"]\n\tclean = node scripts/clean.js --opt=a/b %f\n[diff]\n\texternal = scripts/ext.sh\n[pager]\n\tlog = tools/pager https://x.example/y\n',
        ),
      ),
    ).toEqual(["scripts/clean.js", "scripts/ext.sh", "tools/pager"]);
    expect(programPaths(parseGitConfig(text))).toEqual([
      "scripts/fsmonitor.sh",
      // git removes its own quotes: the shell then runs `tools/my` with `ssh` as an argument.
      "tools/my",
      "./bin/smudge",
      "/usr/local/bin/pdf2txt",
      "tools/merge.sh",
      "tools/cred.sh",
      "scripts/st.sh",
    ]);
  });

  it("reads the shell's spellings: a quoted script, the top, $PWD and $HOME, more keys", () => {
    const text = [
      "[core]",
      "\tfsmonitor = sh -c 'node tools/fsmon.js'",
      "[alias]",
      "\tlint = !sh $(git rev-parse --show-toplevel)/scripts/lint.sh",
      '\tfmt = !"$PWD/bin/fmt" --all',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's spelling, as git config holds it
      "\th = !sh ${HOME}/dots/h.sh $UNKNOWN/x.sh",
      '[submodule "s"]',
      "\tupdate = !tools/update.sh",
      '[mergetool "m"]',
      "\tpath = vendor/meld",
      "",
    ].join("\n");
    expect(programPaths(parseGitConfig(text))).toEqual([
      // The quoted script whole (watched: it names no file), then its words.
      "node tools/fsmon.js",
      "tools/fsmon.js",
      "./scripts/lint.sh",
      "./bin/fmt",
      "~/dots/h.sh",
      "tools/update.sh",
      "vendor/meld",
    ]);
  });
});

describe("programWordsAtTop: words with no path that may name a file at the top", () => {
  it("marks an interpreter's script; other later words count only where such a file exists", () => {
    const text = [
      "[core]",
      "\tfsmonitor = node --no-warnings fsmon.js",
      "\tpager = less -R",
      '[filter "lfs"]',
      "\tclean = git-lfs clean -- %f",
      "[alias]",
      "\tx = !sh -c 'python3 conv.py $1' -",
      "",
    ].join("\n");
    expect(programWordsAtTop(parseGitConfig(text))).toEqual([
      { word: "fsmon.js", script: true },
      { word: "clean", script: false },
      { word: "conv.py", script: true },
    ]);
  });
});
