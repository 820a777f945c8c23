import { describe, expect, it } from "vitest";
import {
  commandConfig,
  configEnvConfig,
  envConfig,
  includePaths,
  KEYWORDS,
  lastValue,
  NODE_VALUE_OPTIONS,
  PREFIXES,
  parseGitConfig,
  programFiles,
  programMentions,
  scriptAsProgram,
  WRAPPERS,
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

/** The paths programFiles finds, one list per way they are named. */
function files(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of programFiles(parseGitConfig(text))) {
    out[f.named] = [...(out[f.named] ?? []), f.path];
  }
  return out;
}

describe("programFiles: what git runs that config names", () => {
  it("takes each word of each program key that holds a path, from the top", () => {
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
    expect(files(text).path).toEqual([
      "scripts/fsmonitor.sh",
      // git removes its own quotes: the shell then runs `tools/my` with `ssh` as an argument.
      "tools/my",
      "./bin/smudge",
      "bin/smudge",
      "/usr/local/bin/pdf2txt",
      "tools/merge.sh",
      "tools/cred.sh",
      "scripts/st.sh",
    ]);
    // Later words with no `/` count only where such a file is at the top (integrity.ts).
    expect(files(text).word).toEqual(["ssh", "key", "clean", "%f", "%O", "%A", "%B"]);
    expect(
      files(
        '[filter "i"]\n\tclean = node scripts/clean.js --opt=a/b %f\n[diff]\n\texternal = scripts/ext.sh\n[pager]\n\tlog = tools/pager https://x.example/y\n',
      ),
    ).toEqual({
      path: ["scripts/clean.js", "scripts/ext.sh", "tools/pager"],
      script: [
        "scripts/clean.js",
        "scripts/clean.js.js",
        "scripts/clean.js.json",
        "scripts/clean.js.node",
        "scripts/clean.js.cjs",
        "scripts/clean.js.mjs",
      ],
      word: ["%f"],
    });
  });

  it("reads the shell's spellings: quotes, escapes, cd, assignments, the top, .git, $PWD and $HOME", () => {
    const text = [
      "[core]",
      "\tfsmonitor = sh -c 'node tools/fsmon.js'",
      "[alias]",
      "\ta = !sh $(git rev-parse --show-toplevel)/scripts/a.sh",
      "\tb = !sh $(git rev-parse --path-format=absolute --show-toplevel)/scripts/b.sh",
      '\tc = !sh "$(git rev-parse --git-dir)/../tools/c.sh"',
      '\td = !sh "$(dirname "$(git rev-parse --git-dir)")/d.sh"',
      "\te = !cd tools && sh e.sh",
      // `;` starts a comment in git's config unless quoted.
      '\tf = "!(cd tools; sh f.sh)"',
      '\tg = "!F=g.sh; sh $F"',
      "\th = !sh my\\\\ mon.sh",
      "\ti = !python3 -m fsmon",
      "\tj = !node tools",
      '\tk = !"$PWD/bin/k" --all',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's spelling, as git config holds it
      "\tl = !sh ${HOME}/dots/l.sh",
      "",
    ].join("\n");
    const found = files(text);
    expect(found.script).toEqual(
      expect.arrayContaining([
        "tools/fsmon.js",
        "scripts/a.sh",
        "scripts/b.sh",
        "tools/c.sh",
        "d.sh",
        "tools/e.sh",
        "tools/f.sh",
        "g.sh",
        "my mon.sh",
        "fsmon",
        "fsmon.py",
        "tools",
        "tools.js",
        "~/dots/l.sh",
      ]),
    );
    expect(found.path).toEqual(expect.arrayContaining(["bin/k"]));
  });

  it("what node loads before its script: --require and --import (= or a word), -e code, NODE_OPTIONS and NODE_PATH the value sets", () => {
    const tries = (p: string): string[] => [
      p,
      ...[".js", ".json", ".node", "/package.json", "/index.js", "/index.json", "/index.node"].map(
        (t) => `${p}${t}`,
      ),
    ];
    const scripts = (value: string): string[] => files(`[alias]\n\tt = ${value}\n`).script ?? [];
    expect(scripts("!node --require=./p.js x.js")).toEqual(
      expect.arrayContaining([...tries("p.js"), "x.js"]),
    );
    expect(scripts("!node -r ./p x.js")).toEqual(expect.arrayContaining([...tries("p"), "x.js"]));
    expect(scripts("!node --import ./tools/p.mjs x.js")).toEqual(
      expect.arrayContaining([...tries("tools/p.mjs"), "x.js"]),
    );
    // git's own quotes around the value (a `;` outside them starts a comment), the shell's inside.
    const code = `"!node -e \\"require('./q'); import('../top/r.mjs')\\""`;
    expect(scripts(code)).toEqual(expect.arrayContaining(tries("q")));
    // `..` leaves the top, and comes back in where the top is named `top` (integrity.ts
    // resolves it from the top).
    expect(scripts(code)).toEqual(expect.arrayContaining(tries("../top/r.mjs")));
    expect(scripts(`!node --eval='require(\\"./q2\\")' arg.js`)).toEqual(tries("q2"));
    for (const value of [
      "!NODE_OPTIONS=--require=./p.js node x.js",
      "!export NODE_OPTIONS='-r ./p.js' && node x.js",
      "!env -u X NODE_OPTIONS='--require ./p.js' node x.js",
      "!exec env NODE_OPTIONS=--import=./p.js npm test",
    ]) {
      expect(scripts(value), value).toEqual(expect.arrayContaining(tries("p.js")));
    }
    expect(scripts("!NODE_PATH=lib:/opt/x NODE_OPTIONS=--require=preload node x.js")).toEqual(
      expect.arrayContaining([...tries("lib/preload"), ...tries("/opt/x/preload")]),
    );
    // A bare name without NODE_PATH is a package: node_modules, not a file of the project's.
    expect(scripts("!NODE_OPTIONS=--require=preload node x.js")).toEqual([
      "x.js",
      ...["js", "json", "node", "cjs", "mjs"].map((e) => `x.js.${e}`),
    ]);
  });

  it("node's options as node reads them, wrappers, declare, env files, -pe, and where a failed cd or a subshell leaves the folder", () => {
    const scripts = (value: string): string[] => files(`[alias]\n\tt = ${value}\n`).script ?? [];
    const cases: [string, string][] = [
      // `_` for `-` in an option's name, as node reads it.
      ["!node --experimental_loader=./l.mjs x.js", "l.mjs"],
      // An option of node's that takes the next word, before the loading one.
      ["!node -C dev --require=./p.js x.js", "p.js"],
      ["!node -Cdev --title t --require=./p.js x.js", "p.js"],
      ["!timeout 9 node --require=./p.js x.js", "p.js"],
      ["!nice -n 5 node --import=./p.mjs x.js", "p.mjs"],
      [`!node -pe 'require(\\"./q\\")'`, "q"],
      ["!bash -c 'declare -x NODE_OPTIONS=--require=./p.js && node x.js'", "p.js"],
      ["!typeset -x NODE_OPTIONS='-r ./p.js' && node x.js", "p.js"],
      // node loads the file's variables (NODE_OPTIONS among them) before anything else.
      ["!node --env-file-if-exists=.env x.js", ".env"],
      // The subshell's cd ends with it.
      ["!(cd tools && true) && node --require=./p.js x.js", "p.js"],
      // A cd that may fail: both folders.
      [
        "!cd tools || mkdir tools && cd tools && NODE_OPTIONS=--require=../p.js node ../x.js",
        "p.js",
      ],
    ];
    for (const [value, path] of cases) expect(scripts(value), value).toContain(path);
    // `-Cdev` is node's condition, not a folder.
    expect(files("[alias]\n\tt = !node -Cdev x.js\n").cd).toBeUndefined();
    // After `&&` the cd succeeded: the top's name is not a script.
    expect(scripts("!cd tools && node x.js")).not.toContain("x.js");
    expect(scripts("!cd tools || true && node x.js")).toEqual(
      expect.arrayContaining(["tools/x.js", "x.js"]),
    );
  });

  it("functions, groups, conditions and loops; /usr/bin/env, npx and npm exec; env -S; bash -O", () => {
    const scripts = (value: string): string[] => files(`[alias]\n\tt = ${value}\n`).script ?? [];
    const cases: [string, string][] = [
      ['"!f() { node hook; }; f"', "hook.js"],
      ['"!f() { cd tools && node hook; }; f"', "tools/hook.js"],
      ['"!f() { node scripts/rel \\"$1\\"; }; f"', "scripts/rel.js"],
      ['"!f() { node -r ./pre x.js; }; f"', "pre.js"],
      ["!true && { cd tools && node hook; }", "tools/hook.js"],
      [`"!bash -c 'f() { python3 hook; }; f'"`, "hook"],
      ['"!if true; then node hook; fi"', "hook.js"],
      ['"!for f in a; do node hook; done"', "hook.js"],
      ["!! node hook", "hook.js"],
      ["!eval node hook", "hook.js"],
      ["!/usr/bin/env node tools/hook", "tools/hook.js"],
      ["!npx node scripts/hook", "scripts/hook.js"],
      ["!npm exec -- node hook", "hook.js"],
      ["!pnpm dlx node hook", "hook.js"],
      [`!env -S 'node hook'`, "hook.js"],
      [`!bash -O extglob -c 'node hook'`, "hook.js"],
    ];
    for (const [value, path] of cases) expect(scripts(value), value).toContain(path);
  });

  it("command substitutions in quotes or backquotes, npx -c, git -c program values, make -f, function f, sh -c --", () => {
    const found = (value: string): string[] => {
      const f = files(`[alias]\n\tt = ${value}\n`);
      return [...(f.script ?? []), ...(f.path ?? [])];
    };
    const cases: [string, string][] = [
      [`!git commit --allow-empty -m \\"$(node scripts/msg.js)\\"`, "scripts/msg.js"],
      [`!git checkout -b \\"$(node scripts/branch)\\"`, "scripts/branch.js"],
      [`"!f() { v=\\"$(node scripts/ver.js)\\"; git tag \\"v$v\\"; }; f"`, "scripts/ver.js"],
      ["!echo `node tools/x.js`", "tools/x.js"],
      [`!git tag \\"v$(cd tools && node -p 1 && node v)\\"`, "tools/v.js"],
      ["!npm exec -c 'node hook'", "hook.js"],
      ["!npx -c 'node scripts/hook'", "scripts/hook.js"],
      ["!npx --call 'node hook'", "hook.js"],
      [`!git -c core.fsmonitor='node tools/fsmon.js' status`, "tools/fsmon.js"],
      ["!make -f release.mk", "release.mk"],
      ["!make -C build --file=x.mk", "build/x.mk"],
      [`"!bash -c 'function f { node hook; }; f'"`, "hook.js"],
      ["!sh -c -- 'node hook'", "hook.js"],
      // The script's own arguments and variables the value does not set: still read.
      [`!sh -c 'tools/conv.sh "$0"' x`, "tools/conv.sh"],
      [`!sh -c 'node tools/x.js "$@"' -`, "tools/x.js"],
      [`!bash -c 'tools/x.sh "$1" "$GIT_DIR"' - y`, "tools/x.sh"],
    ];
    for (const [value, path] of cases) expect(found(value), value).toContain(path);
  });

  it("make's makefiles where it runs, there or not; a folder option moves its command alone", () => {
    const paths = (value: string): string[] => files(`[alias]\n\tt = ${value}\n`).path ?? [];
    for (const value of [
      "!make -C tools",
      "!make -Ctools",
      "!cd tools && make",
      '"!f() { cd tools && make; }; f"',
    ]) {
      expect(paths(value), value).toEqual(
        expect.arrayContaining(["tools/GNUmakefile", "tools/makefile", "tools/Makefile"]),
      );
    }
    expect(paths("!make -s")).toEqual(expect.arrayContaining(["GNUmakefile", "Makefile"]));
    // `make -C tools` leaves the shell where it was: x.js is the top's.
    const found = files("[alias]\n\tt = !make -C tools && node x.js\n").script ?? [];
    expect(found).toContain("x.js");
    expect(found).not.toContain("tools/x.js");
  });

  it("the other keys git runs a program from: trailer.<x>.cmd, browser, man, sendemail; pushd", () => {
    const text = [
      '[trailer "sign"]',
      "\tcmd = node tools/signer.js",
      '[browser "b"]',
      "\tcmd = node tools/open.js",
      '[browser "firefox"]',
      "\tpath = tools/open.sh",
      '[man "m"]',
      "\tcmd = node tools/man.js",
      "[sendemail]",
      "\ttoCmd = tools/to.sh",
      "\tsmtpServer = tools/smtp.sh",
      "[alias]",
      `\tp = "!bash -c 'pushd lib && node h'"`,
      "[imap]",
      "\ttunnel = sh tools/imap.sh",
      '[guitool "t"]',
      "\tcmd = node tools/gui.js",
      '[remote "origin"]',
      "\turl = ext::sh tools/ext.sh",
      '[url "ext::node tools/ins.js"]',
      "\tinsteadOf = up",
      "",
    ].join("\n");
    const found = programFiles(parseGitConfig(text)).map((f) => f.path);
    for (const path of [
      "tools/signer.js",
      "tools/open.js",
      "tools/open.sh",
      "tools/man.js",
      "tools/to.sh",
      "tools/smtp.sh",
      "lib/h.js",
      "tools/imap.sh",
      "tools/gui.js",
      "tools/ext.sh",
      "tools/ins.js",
    ])
      expect(found).toContain(path);
  });

  it("a value of many cds that may fail stays bounded", () => {
    const value = `!${Array.from({ length: 40 }, (_, i) => `cd d${i} || true && `).join("")}node x.js`;
    const found = files(`[alias]\n\tt = ${value}\n`);
    expect((found.script ?? []).filter((p) => p.endsWith("x.js")).length).toBeLessThanOrEqual(16);
    // Hundreds of them: the paths named stay within MAX_PROGRAM_FILES.
    const many = `!${Array.from({ length: 400 }, (_, i) => `cd d${i} || cd e${i} || `).join("")}node x.js`;
    expect(programFiles(parseGitConfig(`[alias]\n\tt = ${many}\n`)).length).toBeLessThanOrEqual(
      2048,
    );
    // One value's bound does not crowd out the next value's program.
    const words = Array.from({ length: 2100 }, (_, i) => `x/f${i}.sh`).join(" ");
    const after = programFiles(
      parseGitConfig(`[alias]\n\tz = !: ${words}\n[pager]\n\tshow = sh tools/new.sh\n`),
    );
    expect(after.map((f) => f.path)).toContain("tools/new.sh");
  });

  it("PATH a value sets carries into its sh -c, and past wrappers", () => {
    const paths = (value: string): string[] => files(`[alias]\n\tt = ${value}\n`).path ?? [];
    expect(paths("!PATH=./bin:$PATH sh -c tool")).toContain("bin/tool");
    expect(paths(`!export PATH=./bin:$PATH && sh -c "tool"`)).toContain("bin/tool");
    expect(paths("!PATH=./bin:$PATH nice tool")).toContain("bin/tool");
    expect(paths("!PATH=./bin:$PATH xargs -a /dev/null -r tool")).toContain("bin/tool");
  });

  it("a program found in a folder the value puts on PATH (a virtualenv's bin), never in node_modules", () => {
    expect(files("[alias]\n\tt = !PATH=.venv/bin:$PATH python x.py\n").path).toEqual([
      ".venv/bin/python",
    ]);
    expect(files("[alias]\n\tt = !PATH=$PWD/env/bin:/usr/bin python3 x.py\n").path).toEqual(
      expect.arrayContaining(["env/bin/python3", "/usr/bin/python3"]),
    );
    expect(files("[alias]\n\tt = !PATH=node_modules/.bin:$PATH eslint .\n").path).toBeUndefined();
  });

  it("the folders a value runs in, each level (none may become a link)", () => {
    const cds = (value: string): string[] | undefined => files(`[alias]\n\tt = ${value}\n`).cd;
    expect(cds("!cd tools && node ..")).toEqual(["tools"]);
    expect(cds("!cd -P tools/sub && node ../..")).toEqual(["tools", "tools/sub"]);
    expect(cds("!cd -P -- tools && node ..")).toEqual(["tools"]);
    expect(cds("!env -Ctools node ..")).toEqual(["tools"]);
    expect(cds("!make --directory=tools")).toEqual(["tools"]);
    expect(cds("!make --directory tools/x")).toEqual(["tools", "tools/x"]);
    expect(cds("!git -C tools status")).toEqual(["tools"]);
    expect(cds("!env -C tools ./b.sh")).toEqual(["tools"]);
    expect(cds("!make --chdir=tools/x")).toEqual(["tools", "tools/x"]);
    expect(cds("!cd /opt && ./x")).toBeUndefined();
    expect(cds("!cd .. && node app")).toBeUndefined();
  });

  it("skips what a variable it cannot read names, and a folder git was started in", () => {
    const text = [
      "[alias]",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's spelling, as git config holds it
      "\ta = !sh ${GIT_PREFIX}x.sh",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's spelling, as git config holds it
      "\tb = !cd ${GIT_PREFIX:-.} && sh y.sh",
      "\tc = !sh $UNKNOWN/z.sh",
      "",
    ].join("\n");
    expect(programFiles(parseGitConfig(text))).toEqual([]);
  });
});

describe("programFiles: programs git reaches by other roads", () => {
  const paths = (text: string): string[] => programFiles(parseGitConfig(text)).map((f) => f.path);

  it("an ext:: remote made by url.<base>.insteadOf / pushInsteadOf, the longest prefix", () => {
    const split = [
      "[protocol.ext]\n\tallow = always",
      '[url "ext::"]\n\tinsteadOf = run:',
      '[remote "origin"]\n\turl = run:tools/x.sh',
      "",
    ].join("\n");
    expect(paths(split)).toContain("tools/x.sh");
    const spaced = '[url "ext::sh"]\n\tinsteadOf = foo\n[remote "o"]\n\turl = "foo tools/y.sh"\n';
    expect(paths(spaced)).toContain("tools/y.sh");
    const push = '[url "ext::sh "]\n\tpushInsteadOf = p:\n[remote "o"]\n\tpushurl = p:tools/z.sh\n';
    expect(paths(push)).toContain("tools/z.sh");
    // git takes the longest prefix that matches: `ru` is not what `run:` rewrites to.
    const longest = [
      '[url "ext::sh "]\n\tinsteadOf = run:',
      '[url "https://example.com/"]\n\tinsteadOf = ru',
      '[remote "o"]\n\turl = run:tools/w.sh',
      "",
    ].join("\n");
    expect(paths(longest)).toContain("tools/w.sh");
    expect(
      paths('[url "https://x/"]\n\tinsteadOf = run:\n[remote "o"]\n\turl = run:a/b.sh\n'),
    ).toEqual([]);
  });

  it("git-remote-ext's own words: `% ` a space, `%%` a %, `%s` the service, no shell quotes", () => {
    expect(paths('[remote "o"]\n\turl = ext::sh tools/my% x.sh\n')).toContain("tools/my x.sh");
    expect(paths('[remote "o"]\n\turl = ext::sh tools/a%%b.sh\n')).toContain("tools/a%b.sh");
    expect(paths('[remote "o"]\n\turl = ext::sh tools/%s.sh %G/repo\n')).toEqual(
      expect.arrayContaining(["tools/upload-pack.sh", "tools/receive-pack.sh"]),
    );
    expect(paths('[remote "o"]\n\turl = ext::sh tools/%S\n')).toContain("tools/git-upload-pack");
  });

  it("-c <key>=<value> in an alias of git arguments (no `!`): a program value git runs", () => {
    expect(paths("[alias]\n\tst = -c core.fsmonitor=tools/x.sh status\n")).toContain("tools/x.sh");
    expect(paths(`[alias]\n\tst = --no-pager -c 'core.pager=node tools/p.js' log\n`)).toContain(
      "tools/p.js",
    );
    // After the command, `-c` is the command's own.
    expect(paths("[alias]\n\tst = status -c core.fsmonitor=tools/x.sh\n")).toEqual([]);
  });

  it("a URL where git takes a remote's name: branch.<x>.remote, pushRemote, remote.pushDefault, rewritten too", () => {
    expect(paths('[branch "master"]\n\tremote = ext::sh tools/b.sh\n')).toContain("tools/b.sh");
    expect(paths('[branch "m"]\n\tpushRemote = ext::sh tools/p.sh\n')).toContain("tools/p.sh");
    expect(paths("[remote]\n\tpushDefault = ext::sh tools/d.sh\n")).toContain("tools/d.sh");
    const rewritten =
      '[url "ext::sh tools/x"]\n\tinsteadOf = gh:\n[branch "master"]\n\tremote = gh:.sh\n';
    expect(paths(rewritten)).toContain("tools/x.sh");
  });

  it("remote.<x>.vcs = ext: the remote's url is git-remote-ext's command, ext:: or not", () => {
    const vcs = '[remote "e"]\n\tvcs = ext\n\turl = sh tools/v.sh\n\tpushurl = x::sh tools/w.sh\n';
    expect(paths(vcs)).toEqual(expect.arrayContaining(["tools/v.sh", "tools/w.sh"]));
    expect(paths('[remote "e"]\n\turl = sh tools/v.sh\n')).toEqual([]);
  });

  it("-c <key>=<value> in an alias sets config for its git run: the key counts (ext remotes, url rewrites)", () => {
    expect(paths("[alias]\n\tf = -c remote.evil.url=ext::tools/x.sh fetch evil\n")).toContain(
      "tools/x.sh",
    );
    expect(paths("[alias]\n\tf = !git -c remote.evil.url=ext::tools/y.sh fetch evil\n")).toContain(
      "tools/y.sh",
    );
    const rewrite = [
      "[alias]\n\tf = -c url.ext::sh\\\\ tools/x.insteadOf=gh: fetch",
      '[remote "origin"]\n\turl = gh:.sh',
      "",
    ].join("\n");
    expect(paths(rewrite)).toContain("tools/x.sh");
    // The subsection keeps its dots, the key is the last part; section and key in any case.
    expect(
      commandConfig(parseGitConfig("[alias]\n\tc = -c Remote.a.b.URL=u -c core.bare x\n")),
    ).toEqual([
      { section: "remote", subsection: "a.b", key: "url", value: "u" },
      { section: "core", subsection: null, key: "bare", value: null },
    ]);
    expect(
      commandConfig(
        parseGitConfig("[alias]\n\tci = !git -C . -c core.hooksPath=.myhooks commit\n"),
      ),
    ).toEqual([{ section: "core", subsection: null, key: "hookspath", value: ".myhooks" }]);
  });

  it("core.alternateRefsCommand, instaweb.httpd, uploadpack.packObjectsHook", () => {
    const text = [
      "[core]\n\talternateRefsCommand = tools/refs.sh",
      "[instaweb]\n\thttpd = tools/httpd.sh",
      "[uploadpack]\n\tpackObjectsHook = tools/pack.sh",
      "",
    ].join("\n");
    expect(paths(text)).toEqual(
      expect.arrayContaining(["tools/refs.sh", "tools/httpd.sh", "tools/pack.sh"]),
    );
  });

  it("instaweb.httpd not on PATH is looked up in instaweb.gitwebdir", () => {
    expect(paths("[instaweb]\n\tgitwebdir = web\n\thttpd = lighttpd -f x\n")).toContain(
      "web/lighttpd",
    );
    expect(paths("[instaweb]\n\tgitwebdir = /p/web\n\thttpd = lighttpd\n")).toContain(
      "/p/web/lighttpd",
    );
  });

  it("a path that leaves the top and comes back in by its name stays ../<name>/…", () => {
    expect(paths("[core]\n\tfsmonitor = ../top/tools/x.sh\n")).toContain("../top/tools/x.sh");
    expect(paths("[core]\n\tfsmonitor = ../x.sh\n")).toContain("../x.sh");
    expect(paths("[core]\n\tfsmonitor = ..\n")).toEqual([]);
  });

  it("each folder a `..` steps out of is watched as a cd folder is (one made a link leads it elsewhere)", () => {
    const cds = (value: string): string[] | undefined =>
      files(`[core]\n\tfsmonitor = ${value}\n`).cd;
    expect(cds("sub/../tools/x.sh")).toEqual(["sub"]);
    expect(cds("a/b/../../x.sh")).toEqual(["a", "a/b"]);
    expect(cds("node a/b/../x.js")).toEqual(["a", "a/b"]);
    expect(cds("../top/sub/../x.sh")).toEqual(["../top", "../top/sub"]);
    expect(cds("tools/x.sh")).toBeUndefined();
  });
});

describe("programMentions: every literal a program value names", () => {
  it("the top however a value spells it: `node .`, `node ./`, `node .//`, a bare make", () => {
    for (const value of ["!node .", "!node ./", "!node .//", "!node ./.", "!make -s"]) {
      expect(programMentions(parseGitConfig(`[alias]\n\tt = ${value}\n`))).toContain(".");
    }
    expect(programMentions(parseGitConfig("[alias]\n\tt = !node ./tools/x\n"))).not.toContain(".");
  });

  it("cuts values at what no path word holds, whatever the shell makes of them", () => {
    const text = [
      "[core]",
      `\tfsmonitor = node -e "require('./tools/fsmon')"`,
      "[alias]",
      "\ta = !exec node tools/a",
      "\tb = !env -C tools ./b.sh",
      "\tc = !node --require=./tools/c.js -e 0",
      "\td = !cd -P tools && ./d.sh",
      "\te = !perl -Itools -Mhook -e0",
      `\tf = !python3 -c "import tools.hook"`,
      "[user]",
      "\tname = not/a/program",
      "",
    ].join("\n");
    expect(programMentions(parseGitConfig(text))).toEqual([
      "node",
      "require",
      "tools/fsmon",
      "exec",
      "tools/a",
      "env",
      "tools",
      "b.sh",
      "tools/c.js",
      "0",
      "cd",
      "d.sh",
      "perl",
      "hook",
      "python3",
      "import",
      "tools.hook",
      "tools/hook",
    ]);
  });
});

describe("programFiles: every word the reader knows, one by one", () => {
  const paths = (alias: string): string[] =>
    programFiles(parseGitConfig(`[alias]\n\tt = "!${alias}"\n`)).map((f) => f.path);

  it.each([...WRAPPERS])("a wrapper runs the command after it: %s", (wrapper) => {
    expect(paths(`${wrapper} node hook`)).toContain("hook.js");
  });

  it.each([...PREFIXES])("a prefix runs the command after it: %s", (prefix) => {
    expect(paths(`${prefix} node hook`)).toContain("hook.js");
  });

  it.each([...KEYWORDS])("a command starts after the shell word %s", (keyword) => {
    expect(paths(`${keyword} node hook`)).toContain("hook.js");
  });

  it.each([...NODE_VALUE_OPTIONS])(
    "node's %s takes the next word: the script is the one after it",
    (option) => {
      // node's lookup (`hook` → hook.js) is applied to the script only.
      const found = paths(`node ${option} dev hook`);
      expect(found).toContain("hook.js");
      expect(found).not.toContain("dev.js");
    },
  );
});

describe("config from the environment", () => {
  const hooks = (value: string) => ({ section: "core", subsection: null, key: "hookspath", value });

  it("--config-env in an alias or a git a program value runs takes the variable's value", () => {
    const env = { HP: ".cihooks", INC: "/home/u/.ci.cfg" };
    expect(
      configEnvConfig(
        parseGitConfig("[alias]\n\tci = --config-env=core.hooksPath=HP commit\n"),
        env,
      ),
    ).toEqual([hooks(".cihooks")]);
    expect(
      configEnvConfig(
        parseGitConfig("[alias]\n\tci = !git -C . --config-env include.path=INC commit\n"),
        env,
      ),
    ).toEqual([{ section: "include", subsection: null, key: "path", value: "/home/u/.ci.cfg" }]);
    // A variable that is not set gives nothing (git refuses to run); options after the command
    // are the command's; a `-c` value is not mistaken for one.
    expect(
      configEnvConfig(
        parseGitConfig(
          "[alias]\n\ta = --config-env=core.hooksPath=UNSET commit\n\tb = commit --config-env=core.hooksPath=HP\n\tc = -c --config-env=x commit\n",
        ),
        env,
      ),
    ).toEqual([]);
  });

  it("the variables a `!` value sets for the git it runs", () => {
    const config = (value: string) => commandConfig(parseGitConfig(`[alias]\n\tx = ${value}\n`));
    expect(
      config(
        "!GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.hooksPath GIT_CONFIG_VALUE_0=.hx git commit",
      ),
    ).toEqual([hooks(".hx")]);
    // As `git config alias.x "!GIT_CONFIG_PARAMETERS=\"'core.hooksPath'='.hp'\" git status"`
    // writes it (a `;` or `"` unescaped in a config value is the config's own syntax).
    expect(config(`"!GIT_CONFIG_PARAMETERS=\\"'core.hooksPath'='.hp'\\" git status"`)).toEqual([
      hooks(".hp"),
    ]);
    expect(
      config(
        '"!export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.hooksPath GIT_CONFIG_VALUE_0=.he; git commit"',
      ),
    ).toEqual([hooks(".he")]);
    // Set for another command: not this git's.
    expect(
      config(
        '"!GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.hooksPath GIT_CONFIG_VALUE_0=.hx true; git commit"',
      ),
    ).toEqual([]);
    expect(
      configEnvConfig(
        parseGitConfig("[alias]\n\tx = !V=./tools/fsm git --config-env=core.fsmonitor=V status\n"),
        {},
      ),
    ).toEqual([{ section: "core", subsection: null, key: "fsmonitor", value: "./tools/fsm" }]);
  });

  it("a shell's -c script and the variables the value sets are read for the git they run", () => {
    const c = (v: string) => commandConfig(parseGitConfig(`[alias]\n\tx = ${v}\n`));
    expect(c(`"!sh -c 'git -c core.hooksPath=.a commit \\"$@\\"' -"`)).toEqual([hooks(".a")]);
    expect(
      c(
        `"!sh -c 'GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.hooksPath GIT_CONFIG_VALUE_0=.b git commit' -"`,
      ),
    ).toEqual([hooks(".b")]);
    expect(
      c(
        `"!bash -c 'export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.hooksPath GIT_CONFIG_VALUE_0=.c; git commit' -"`,
      ),
    ).toEqual([hooks(".c")]);
    expect(c(`"!bash -c \\"git -c core.hooksPath=.d commit -m x\\""`)).toEqual([hooks(".d")]);
    expect(c(`"!sh -c 'exec git -c core.hooksPath=.e commit' -"`)).toEqual([hooks(".e")]);
    expect(c(`"!H=.f; git -c core.hooksPath=$H commit"`)).toEqual([hooks(".f")]);
    expect(
      c(
        `"!env -u FOO GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.hooksPath GIT_CONFIG_VALUE_0=.g git commit"`,
      ),
    ).toEqual([hooks(".g")]);
  });

  it("defaults, positional arguments, eval, GIT_PREFIX, git named by a variable, -c options", () => {
    const c = (v: string) => commandConfig(parseGitConfig(`[alias]\n\tx = ${v}\n`));
    const cases: [string, string][] = [
      [`"!f() { git -c core.hooksPath=\${HOOKS:-.a} commit \\"$@\\"; }; f"`, ".a"],
      [`"!H=.b; sh -c \\"git -c core.hooksPath=$H commit\\" -"`, ".b"],
      [`"!sh -c 'git -c core.hooksPath=$1 commit -m x' - .c"`, ".c"],
      [`"!sh -c -- 'git -c core.hooksPath=.d commit' -"`, ".d"],
      [`"!bash -c -e 'git -c core.hooksPath=.e commit' -"`, ".e"],
      [`"!sh -o errexit -c 'git -c core.hooksPath=.f commit' -"`, ".f"],
      [`"!eval 'git -c core.hooksPath=.g commit'"`, ".g"],
      [`"!git -c core.hooksPath=\\"$GIT_PREFIX\\".h commit"`, ".h"],
      [`"!G=git; $G -c core.hooksPath=.i commit"`, ".i"],
      [`"!sh -c '$0 -c core.hooksPath=.j commit -m x' git"`, ".j"],
    ];
    for (const [alias, value] of cases) expect(c(alias), alias).toEqual([hooks(value)]);
  });

  it("GIT_CONFIG_COUNT and GIT_CONFIG_PARAMETERS", () => {
    expect(
      envConfig({
        GIT_CONFIG_COUNT: "2",
        GIT_CONFIG_KEY_0: "core.hooksPath",
        GIT_CONFIG_VALUE_0: ".a",
        GIT_CONFIG_KEY_1: "core.fsmonitor",
      }),
    ).toEqual([hooks(".a")]);
    expect(
      envConfig({
        GIT_CONFIG_PARAMETERS: "'core.hooksPath'='.b' 'alias.x=!sh it'\\''s' 'core.bare'",
      }),
    ).toEqual([
      hooks(".b"),
      { section: "alias", subsection: null, key: "x", value: "!sh it's" },
      { section: "core", subsection: null, key: "bare", value: null },
    ]);
    // What git itself writes for `git -c alias.fmt='!./tools/fmt.sh'`: `!` quoted as `'\\!'`.
    expect(envConfig({ GIT_CONFIG_PARAMETERS: "'alias.fmt'=''\\!'./tools/fmt.sh'" })).toEqual([
      { section: "alias", subsection: null, key: "fmt", value: "!./tools/fmt.sh" },
    ]);
    expect(envConfig({ GIT_CONFIG_COUNT: "x" })).toEqual([]);
    expect(envConfig({})).toEqual([]);
  });
});

describe("scriptAsProgram", () => {
  const paths = (text: string): string[] => programFiles(scriptAsProgram(text)).map((f) => f.path);

  it("spells out each value a script gives a variable, in each line that uses it", () => {
    const uses = '"$VENV/bin/python" -c pass\n';
    const cases: [string, string[]][] = [
      ["VENV=venv\n", ["venv/bin/python"]],
      ["VENV=venv  # project venv\n", ["venv/bin/python"]],
      ["VENV=venv;\n", ["venv/bin/python"]],
      ["declare VENV=venv\n", ["venv/bin/python"]],
      ["export VENV='my venv'\n", ["my venv/bin/python"]],
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax
      [': "${VENV:=venv}"\n', ["venv/bin/python"]],
      ['VENV=.venv\ntest -d "$VENV" || VENV=venv\n', [".venv/bin/python", "venv/bin/python"]],
      ['VENV=.venv\ncd "$(git rev-parse --show-toplevel)" && VENV=venv\n', ["venv/bin/python"]],
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax
      ["VENV=.venv\nVENV=${VENV_DIR:-venv}\n", [".venv/bin/python", "venv/bin/python"]],
      [
        "if [ -d venv ]; then VENV=venv; else VENV=.venv; fi\n",
        ["venv/bin/python", ".venv/bin/python"],
      ],
    ];
    for (const [sets, want] of cases)
      expect(paths(`#!/bin/sh\n${sets}${uses}`), sets).toEqual(expect.arrayContaining(want));
    // Used before it is set (a function defined first), and with a default of its own.
    expect(paths('py() { "$VENV/bin/python" "$@"; }\nVENV=venv\npy -c 1\n')).toContain(
      "venv/bin/python",
    );
    // biome-ignore lint/suspicious/noTemplateCurlyInString: `${V:-.venv}` is shell syntax
    expect(paths('V=venv\n"${V:-.venv}/bin/python"\n')).toEqual(
      expect.arrayContaining(["venv/bin/python", ".venv/bin/python"]),
    );
    // biome-ignore lint/suspicious/noTemplateCurlyInString: `${PY}` is shell syntax
    expect(paths("export PY='tools/py'\n${PY}/bin/black .\n")).toContain("tools/py/bin/black");
    // A suffix or prefix cut (`${V%/}`, `${V#./}`): the value as given, which names the same folder.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax
    expect(paths('V=.venv/\n"${V%/}/bin/black"\n')).toContain(".venv//bin/black");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax
    expect(paths('V=./venv\n"${V#./}/bin/black"\n')).toContain("./venv/bin/black");
    // Several candidates for each of two variables: every combination (6 × 4), and a
    // variable's 20th value.
    const roots = ["a", "b", "c", "d", "e", "f"].map((r) => `test -d ${r} && R=${r}`).join("\n");
    const venvs = ["v1", "v2", "v3", ".venv"].map((v) => `test -d $R/${v} && V=${v}`).join("\n");
    expect(paths(`${roots}\n${venvs}\n"$R/$V/bin/black"\n`)).toContain("f/.venv/bin/black");
    const many = Array.from({ length: 40 }, (_, i) => `test -d e${i} && V=e${i}`).join("\n");
    expect(paths(`${many}\nV=.venv\n"$V/bin/black"\n`)).toEqual(
      expect.arrayContaining(["e39/bin/black", ".venv/bin/black"]),
    );
    // Two variables of 9 and 8 values: every combination.
    const roots9 = Array.from({ length: 9 }, (_, i) => `test -d a${i} && ROOT=a${i}`).join("\n");
    const venvs8 = Array.from({ length: 8 }, (_, i) => `test -d $ROOT/v${i} && V=v${i}`).join("\n");
    expect(paths(`${roots9}\n${venvs8}\n"$ROOT/$V/bin/black"\n`)).toContain("a3/v7/bin/black");
    // Lists: braces, a continued line, `set --` then `for M;`, a variable's words, an array.
    const lists: [string, string][] = [
      ['for V in {a,.venv}; do "$V/bin/black"; done\n', ".venv/bin/black"],
      ['for V in a .ven{v,w}; do "$V/bin/black"; done\n', ".venv/bin/black"],
      ['for V in a \\\n  .venv; do "$V/bin/black"; done\n', ".venv/bin/black"],
      ['set -- a .venv\nfor V; do "$V/bin/black"; done\n', ".venv/bin/black"],
      ['set -- a .venv\nfor V\ndo "$V/bin/black"; done\n', ".venv/bin/black"],
      ['L="a .venv"\nfor V in $L; do "$V/bin/black"; done\n', ".venv/bin/black"],
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax
      ['arr=(a .venv)\nfor V in "${arr[@]}"; do "$V/bin/black"; done\n', ".venv/bin/black"],
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax
      ['arr=(a .venv)\n"${arr[1]}/bin/black"\n', ".venv/bin/black"],
      [
        // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax
        'arr=(\n  a  # first\n  .venv\n)\nfor V in "${arr[@]}"; do "$V/bin/black"; done\n',
        ".venv/bin/black",
      ],
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax
      ['arr=(a)\narr+=(.venv)\n"${arr[1]}/bin/black"\n', ".venv/bin/black"],
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax
      ['arr[0]=a\narr[1]=.venv\n"${arr[1]}/bin/black"\n', ".venv/bin/black"],
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax
      ['declare -A T=([lint]=.venv)\n"${T[lint]}/bin/black"\n', ".venv/bin/black"],
      [
        // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax
        'declare -A T=(["fmt tool"]=.venv)\nfor V in "${T[@]}"; do "$V/bin/black"; done\n',
        ".venv/bin/black",
      ],
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax
      ['arr=(\n  # formatter (black)\n  "a)" .venv\n)\n"${arr[2]}/bin/black"\n', ".venv/bin/black"],
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax
      ['arr=(a)\narr[${#arr[@]}]=.venv\n"${arr[1]}/bin/black"\n', ".venv/bin/black"],
    ];
    for (const [script, want] of lists) expect(paths(script), script).toContain(want);
    // A `for` list's words.
    expect(paths('for V in venv "my env" .venv; do "$V/bin/black"; done\n')).toEqual(
      expect.arrayContaining(["venv/bin/black", "my env/bin/black", ".venv/bin/black"]),
    );
    // A computed value is not known: left as written.
    expect(paths('V=$(pwd)\n"$V/bin/python"\n')).not.toContain("$(pwd)/bin/python");
  });

  it("is bounded: values hold no `$`, a line spelled out for at most 1,024 combinations (then each value once), the text is cut", () => {
    // Each line doubling the one before would be 2^40 long spelled out.
    const chain = ["A0=x", ...Array.from({ length: 40 }, (_, i) => `A${i + 1}=$A${i}$A${i}`)];
    const one = scriptAsProgram(`${chain.join("\n")}\npython3 -c 1\n`)[0]?.value ?? "";
    expect(one.length).toBeLessThan(4096);
    // Many values of many variables on one line.
    const many = [
      ...Array.from({ length: 20 }, (_, i) => `A=a${i}\nB=b${i}\nC=c${i}`),
      '"$A/$B/$C/bin/python"',
    ].join("\n");
    const lines = (scriptAsProgram(many)[0]?.value ?? "").split("\n");
    const spelled = lines.filter((l) => l.includes("/bin/python"));
    expect(spelled.length).toBeLessThanOrEqual(64);
    // Past the combinations, each value still once.
    expect(spelled).toContain('"a19/b19/c19/bin/python"');
    const big = `V=x\n${'"$V/y"\n'.repeat(50_000)}`;
    // Spelled out up to 256 KiB; past that each line as written, so none is lost.
    const cut = scriptAsProgram(`${big}python3 -m lintkit\n`)[0]?.value ?? "";
    expect(cut.length).toBeLessThanOrEqual(256 * 1024 + big.length + 64);
    expect(cut).toContain("python3 -m lintkit");
    // Braces and lists of lists are bounded before they multiply.
    const braced = `for M in ${"{a,b,c,d,e,f,g,h}".repeat(4)}; do python3 -m $M; done\n`;
    expect(scriptAsProgram(braced.repeat(20))[0]?.value?.length).toBeLessThanOrEqual(
      256 * 1024 + braced.length * 20 + 64,
    );
    const nested = Array.from({ length: 3000 }, (_, i) => `a${i + 1}=(\${a${i}[@]} w v)`);
    expect(scriptAsProgram(`a0=(x y)\n${nested.join("\n")}\n`)[0]?.value).toContain("a1=(");
  });
});

describe("a `!` alias's shell variables", () => {
  it("an eval of an eval reads the git it runs once, and each git of a long line", () => {
    const entries = parseGitConfig(
      `[alias]\n\tx = "!eval eval git -c core.hooksPath=.e commit; ${"git ".repeat(4000)}-c core.hooksPath=.g commit; ${"eval ".repeat(4000)}"\n`,
    );
    const given = commandConfig(entries).map((e) => e.value);
    expect(given).toContain(".e");
    expect(given).toContain(".g");
  });

  it("a value that doubles at each assignment is left as written past a bound, not spelled out", () => {
    const chain = Array.from({ length: 40 }, (_, i) => `A${i + 1}=$A${i}$A${i}`).join("; ");
    const entries = parseGitConfig(
      `[alias]\n\tx = "!A0=x; ${chain}; git -c core.hooksPath=$A40 commit; git -c core.hooksPath=$A3 commit"\n`,
    );
    const given = commandConfig(entries).map((e) => e.value);
    // The short one spelled out; past the bound a value is left as written (not 2^40 long).
    expect(given).toContain("xxxxxxxx");
    expect(given).toHaveLength(2);
    for (const value of given) expect(value?.length).toBeLessThanOrEqual(4096);
  });
});
