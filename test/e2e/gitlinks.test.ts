/**
 * The files a git dir reaches by another name: a link spelled through a path outside the project
 * that leads back in, a hop outside on the way, a hard link, a `..` after a folder that can be
 * made a link, a linked config.worktree or config of a nested repository, a link on the way
 * inside a nested git dir, a linked info folder. Each case plants inside `safe-npm exec` and
 * then runs host git, which must run nothing planted; its control plants the same from the
 * host's shell in a copy made the same way, and host git runs it.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { makeWorld, show, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");

interface Where {
  /** The project (the copy, for a control). */
  p: string;
  /** A link outside the project to it: the project by another spelling. */
  alias: string;
  /** A folder outside the project, the host's. */
  outside: string;
  /** Made by what git runs once planted. */
  mark: string;
  /** The project as a `~/` path (the world's home is HOME). */
  tilde: string;
}

interface Case {
  name: string;
  /** sh run in the project on the host, after `git init`: the user's own set-up. */
  setup: (w: Where) => string;
  /** sh run in the project: inside the sandbox, or (the control) on the host. */
  plant: (w: Where) => string;
  /** The host's git, run in the project afterwards. */
  git: string[];
  /** Instead of a mark: what `git` prints, planted (control) or not. */
  prints?: { own: string; planted: string };
  /** Your shell's environment: safe-npm's and the host git's alike. */
  env?: Record<string, string> | ((w: Where) => Record<string, string>);
}

/** A case's environment where `w` is. */
const envAt = (c: Case, w: Where): Record<string, string> =>
  typeof c.env === "function" ? c.env(w) : (c.env ?? {});

const hook = (mark: string): string => `printf '#!/bin/sh\\ntouch ${mark}\\n'`;
const fsmonitor = (mark: string): string =>
  `printf '[core]\\n\\tfsmonitor = "touch ${mark}; false"\\n'`;
const ownHook = "printf '#!/bin/sh\\nexit 0\\n'";
/** `s` quoted for sh. */
const sq = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;
const commit = ["commit", "-q", "--allow-empty", "-m", "after"];
const nestedCommit = ["-C", "sub", ...commit];
/** The nested repository's own first commit (the outer `git add` wants one checked out). */
const subCommit = " && git -C sub add -A && git -C sub commit -q --allow-empty -m own";

/** A `!` alias whose hooks folder is a shell default. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's default, not a placeholder
const DEFAULTED_ALIAS = '!f() { git -c core.hooksPath=${HOOKS:-.githooks} commit "$@"; }; f';

/** A hook running python's `-m` on lintkit, not installed: a folder of that name made inside. */
function lintkitCase(name: string, hook: string, module = "lintkit/__main__.py"): Case {
  return {
    name: `${name} with lintkit not installed: a folder of that name without \`__init__\``,
    setup: () =>
      `printf '#!/bin/sh\\n${hook} 2>/dev/null\\nexit 0\\n' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit`,
    plant: (w) =>
      `mkdir -p ${module.slice(0, module.lastIndexOf("/"))} && echo '*' > lintkit/.gitignore && printf 'open("${w.mark}", "w")\\n' > ${module}`,
    git: commit,
  };
}

const CASES: Case[] = [
  {
    name: ".git/config linked by an absolute path through a link to the project",
    setup: (w) =>
      `cp .git/config shared.gitconfig && rm .git/config && ln -s ${w.alias}/shared.gitconfig .git/config`,
    plant: (w) => `${fsmonitor(w.mark)} >> shared.gitconfig`,
    git: ["status"],
  },
  {
    name: "a hook linked by an absolute path through a link to the project",
    setup: (w) =>
      `mkdir scripts && ${ownHook} > scripts/pre-commit && chmod +x scripts/pre-commit && ln -s ${w.alias}/scripts/pre-commit .git/hooks/pre-commit`,
    plant: (w) => `${hook(w.mark)} > scripts/pre-commit`,
    git: commit,
  },
  {
    name: "a hook linked through a link outside the project that leads back in",
    setup: (w) =>
      `mkdir scripts && ${ownHook} > scripts/pre-commit && chmod +x scripts/pre-commit && ln -s ${w.p}/scripts/pre-commit ${w.outside}/hop && ln -s ${w.outside}/hop .git/hooks/pre-commit`,
    plant: (w) => `${hook(w.mark)} > scripts/pre-commit`,
    git: commit,
  },
  {
    name: "an absolute core.hooksPath through a link to the project",
    setup: (w) => `git config core.hooksPath ${w.alias}/.githooks`,
    plant: (w) =>
      `mkdir -p .githooks && ${hook(w.mark)} > .githooks/pre-commit && chmod +x .githooks/pre-commit`,
    git: commit,
  },
  {
    name: "a nested repository's hook linked by an absolute path through a link to the project",
    setup: (w) =>
      `mkdir -p sub/scripts && git -C sub init -q && ${ownHook} > sub/scripts/pre-commit && chmod +x sub/scripts/pre-commit && ln -s ${w.alias}/sub/scripts/pre-commit sub/.git/hooks/pre-commit${subCommit}`,
    plant: (w) => `${hook(w.mark)} > sub/scripts/pre-commit`,
    git: nestedCommit,
  },
  {
    name: ".git/config hard-linked to a file of the project",
    setup: () =>
      "cp .git/config shared.gitconfig && rm .git/config && ln shared.gitconfig .git/config",
    plant: (w) => `${fsmonitor(w.mark)} >> shared.gitconfig`,
    git: ["status"],
  },
  {
    name: "a hook hard-linked to a file of the project",
    setup: () =>
      `mkdir scripts && ${ownHook} > scripts/pre-commit && chmod +x scripts/pre-commit && ln scripts/pre-commit .git/hooks/pre-commit`,
    plant: (w) => `${hook(w.mark)} > scripts/pre-commit`,
    git: commit,
  },
  {
    name: "a `..` in a hook's link after a folder that is then made a link",
    setup: () =>
      `mkdir -p tools scripts && ${ownHook} > scripts/pre-commit && chmod +x scripts/pre-commit && ln -s ../../tools/../scripts/pre-commit .git/hooks/pre-commit`,
    plant: (w) =>
      `mkdir -p evil/d/scripts evil/d/x && ${hook(w.mark)} > evil/d/scripts/pre-commit && chmod +x evil/d/scripts/pre-commit && rmdir tools && ln -s evil/d/x tools`,
    git: commit,
  },
  {
    name: "a nested repository's linked config.worktree naming a program in the project",
    setup: () =>
      `mkdir -p sub/tools && git -C sub init -q && git -C sub config extensions.worktreeConfig true && printf '[core]\\n\\tfsmonitor = tools/fsm.sh\\n' > sub/wtconfig && printf '#!/bin/sh\\nexit 1\\n' > sub/tools/fsm.sh && chmod +x sub/tools/fsm.sh && ln -s ../wtconfig sub/.git/config.worktree${subCommit}`,
    plant: (w) => `printf '#!/bin/sh\\ntouch ${w.mark}\\nexit 1\\n' > sub/tools/fsm.sh`,
    git: ["-C", "sub", "status"],
  },
  {
    name: "a nested repository with a separate git dir whose config is a link naming a hooksPath",
    setup: () =>
      `mkdir -p gitdirs sub && git init -q --separate-git-dir=gitdirs/sub sub && cp gitdirs/sub/config sub/shared.gitconfig && printf '[core]\\n\\thooksPath = .githooks\\n' >> sub/shared.gitconfig && rm gitdirs/sub/config && ln -s ../../sub/shared.gitconfig gitdirs/sub/config${subCommit}`,
    plant: (w) =>
      `mkdir -p sub/.githooks && ${hook(w.mark)} > sub/.githooks/pre-commit && chmod +x sub/.githooks/pre-commit`,
    git: nestedCommit,
  },
  {
    name: "a link on the way inside a nested git dir (`.git/shared -> ../scripts`)",
    setup: () =>
      `mkdir -p sub/scripts && git -C sub init -q && ${ownHook} > sub/scripts/pre-commit && chmod +x sub/scripts/pre-commit && ln -s ../scripts sub/.git/shared && ln -s ../shared/pre-commit sub/.git/hooks/pre-commit${subCommit}`,
    plant: (w) =>
      `mkdir -p sub/evil && ${hook(w.mark)} > sub/evil/pre-commit && chmod +x sub/evil/pre-commit && ln -sfn ../evil sub/.git/shared`,
    git: nestedCommit,
  },
  {
    name: "a linked .git/info folder: the attributes that pick diff and filter drivers",
    setup: () =>
      "mkdir gitinfo && mv .git/info/* gitinfo/ && rmdir .git/info && ln -s ../gitinfo .git/info && echo '*.x diff=own' > gitinfo/attributes",
    plant: () => "echo '*.x diff=evil' > gitinfo/attributes",
    git: ["check-attr", "diff", "a.x"],
    prints: { own: "a.x: diff: own\n", planted: "a.x: diff: evil\n" },
  },
  {
    name: "a `..` in core.hooksPath after a link (`sub/../hooks`, `sub -> deep/x`)",
    setup: () =>
      `mkdir -p deep/x deep/hooks && ln -s deep/x sub && ${ownHook} > deep/hooks/pre-commit && chmod +x deep/hooks/pre-commit && git config core.hooksPath sub/../hooks`,
    plant: (w) => `${hook(w.mark)} > deep/hooks/pre-commit`,
    git: commit,
  },
  {
    name: "an absolute core.hooksPath through a link to the project with a `..` after a link",
    setup: (w) =>
      `mkdir -p deep/x deep/hooks && ln -s deep/x lnk && ${ownHook} > deep/hooks/pre-commit && chmod +x deep/hooks/pre-commit && git config core.hooksPath ${w.alias}/lnk/../hooks`,
    plant: (w) => `${hook(w.mark)} > deep/hooks/pre-commit`,
    git: commit,
  },
  {
    name: "an include.path and the fsmonitor it names, each with a `..` after a link",
    setup: () =>
      `mkdir -p deep/x && ln -s deep/x sub && printf '[core]\\n\\tfsmonitor = sub/../fsm.sh\\n' > deep/inc.cfg && printf '#!/bin/sh\\nexit 1\\n' > deep/fsm.sh && chmod +x deep/fsm.sh && git config include.path ../sub/../inc.cfg`,
    plant: (w) => `printf '#!/bin/sh\\ntouch ${w.mark}\\nexit 1\\n' > deep/fsm.sh`,
    git: ["status"],
  },
  {
    name: "a nested repository's core.hooksPath with a `..` after a link",
    setup: () =>
      `mkdir -p sub/deep/x sub/deep/hooks && git -C sub init -q && ln -s deep/x sub/lnk && ${ownHook} > sub/deep/hooks/pre-commit && chmod +x sub/deep/hooks/pre-commit && git -C sub config core.hooksPath lnk/../hooks${subCommit}`,
    plant: (w) => `${hook(w.mark)} > sub/deep/hooks/pre-commit`,
    git: nestedCommit,
  },
  {
    name: "a nested repository's core.fsmonitor with a `..` after a link",
    setup: () =>
      `mkdir -p sub/deep/x && git -C sub init -q && ln -s deep/x sub/lnk && printf '#!/bin/sh\\nexit 1\\n' > sub/deep/fsm.sh && chmod +x sub/deep/fsm.sh && git -C sub config core.fsmonitor lnk/../fsm.sh${subCommit}`,
    plant: (w) => `printf '#!/bin/sh\\ntouch ${w.mark}\\nexit 1\\n' > sub/deep/fsm.sh`,
    git: ["-C", "sub", "status"],
  },
  {
    name: "a hook in a core.hooksPath folder hard-linked to a file of the project",
    setup: () =>
      `mkdir -p .githooks tools && ${ownHook} > tools/stub && chmod +x tools/stub && ln tools/stub .githooks/pre-commit && git config core.hooksPath .githooks`,
    plant: (w) => `${hook(w.mark)} > tools/stub`,
    git: commit,
  },
  {
    name: "a husky stub (`.husky/_`) hard-linked to a file of the project",
    setup: () =>
      `mkdir -p .husky/_ tools && ${ownHook} > tools/stub && chmod +x tools/stub && ln tools/stub .husky/_/pre-commit && git config core.hooksPath .husky/_`,
    plant: (w) => `${hook(w.mark)} > tools/stub`,
    git: commit,
  },
  {
    name: "a hook in a linked .git/hooks folder hard-linked to a file of the project",
    setup: () =>
      `mkdir -p githooks scripts && rm -rf .git/hooks && ln -s ../githooks .git/hooks && ${ownHook} > scripts/pc && chmod +x scripts/pc && ln scripts/pc githooks/pre-commit`,
    plant: (w) => `${hook(w.mark)} > scripts/pc`,
    git: commit,
  },
  {
    name: "a hook in a core.hooksPath folder that is a link to a file of the project",
    setup: () =>
      `mkdir -p .githooks scripts && ${ownHook} > scripts/pc.sh && chmod +x scripts/pc.sh && ln -s ../scripts/pc.sh .githooks/pre-commit && git config core.hooksPath .githooks`,
    plant: (w) => `${hook(w.mark)} > scripts/pc.sh`,
    git: commit,
  },
  {
    name: "a hook in a nested repository's core.hooksPath folder that is a link to a file",
    setup: () =>
      `mkdir -p sub/.githooks sub/scripts && git -C sub init -q && ${ownHook} > sub/scripts/pc.sh && chmod +x sub/scripts/pc.sh && ln -s ../scripts/pc.sh sub/.githooks/pre-commit && git -C sub config core.hooksPath .githooks${subCommit}`,
    plant: (w) => `${hook(w.mark)} > sub/scripts/pc.sh`,
    git: nestedCommit,
  },
  {
    name: "a nested repository's core.hooksPath that is a link to a folder",
    setup: () =>
      `mkdir -p sub/githooks-src && git -C sub init -q && ln -s githooks-src sub/.githooks && git -C sub config core.hooksPath .githooks${subCommit}`,
    plant: (w) =>
      `${hook(w.mark)} > sub/githooks-src/pre-commit && chmod +x sub/githooks-src/pre-commit`,
    git: nestedCommit,
  },
  {
    name: "a core.hooksPath that is a link to a link to a folder",
    setup: () => "mkdir b && ln -s b a && ln -s a .githooks && git config core.hooksPath .githooks",
    plant: (w) => `${hook(w.mark)} > b/pre-commit && chmod +x b/pre-commit`,
    git: commit,
  },
  {
    name: "a core.hooksPath link whose target has a `..` after a link",
    setup: () =>
      "mkdir -p deep/x deep/hooks hooks && ln -s deep/x lnk && ln -s lnk/../hooks .githooks && git config core.hooksPath .githooks",
    plant: (w) => `${hook(w.mark)} > deep/hooks/pre-commit && chmod +x deep/hooks/pre-commit`,
    git: commit,
  },
  {
    name: "a core.hooksPath link spelled through a link to the project",
    setup: (w) =>
      `mkdir githooks && ln -s ${w.alias}/githooks .githooks && git config core.hooksPath .githooks`,
    plant: (w) => `${hook(w.mark)} > githooks/pre-commit && chmod +x githooks/pre-commit`,
    git: commit,
  },
  {
    name: "an include.path that is a link to a config file",
    setup: () =>
      "mkdir cfg && printf '[alias]\\n\\tst = status\\n' > cfg/git.cfg && ln -s cfg/git.cfg shared.gitconfig && git config include.path ../shared.gitconfig",
    plant: (w) => `${fsmonitor(w.mark)} >> cfg/git.cfg`,
    git: ["status"],
  },
  {
    name: "a nested repository's program that is a link to a file",
    setup: () =>
      `mkdir -p sub/tools sub/real && git -C sub init -q && printf '#!/bin/sh\\nexit 1\\n' > sub/real/x.sh && chmod +x sub/real/x.sh && ln -s ../real/x.sh sub/tools/run.sh && git -C sub config core.fsmonitor tools/run.sh${subCommit}`,
    plant: (w) => `printf '#!/bin/sh\\ntouch ${w.mark}\\nexit 1\\n' > sub/real/x.sh`,
    git: ["-C", "sub", "status"],
  },
  {
    name: "a nested repository's core.hooksPath `missing/../hooks`, `missing` then made a link",
    setup: () =>
      `mkdir sub && git -C sub init -q && git -C sub config core.hooksPath missing/../hooks${subCommit}`,
    plant: (w) =>
      `mkdir -p sub/deep/y sub/deep/hooks && ln -s deep/y sub/missing && ${hook(w.mark)} > sub/deep/hooks/pre-commit && chmod +x sub/deep/hooks/pre-commit`,
    git: nestedCommit,
  },
  {
    name: "a hook in a core.hooksPath folder linked to `../missing/../pc.sh`, `missing` then made a link",
    setup: () =>
      "mkdir .githooks && ln -s ../missing/../pc.sh .githooks/pre-commit && git config core.hooksPath .githooks",
    plant: (w) =>
      `mkdir -p deep/y && ln -s deep/y missing && ${hook(w.mark)} > deep/pc.sh && chmod +x deep/pc.sh`,
    git: commit,
  },
  {
    name: "a program linked to `../missing/../x.sh`, `missing` then made a link",
    setup: () =>
      "mkdir tools && ln -s ../missing/../x.sh tools/run.sh && git config core.fsmonitor tools/run.sh",
    plant: (w) =>
      `mkdir -p deep/y && ln -s deep/y missing && printf '#!/bin/sh\\ntouch ${w.mark}\\nexit 1\\n' > deep/x.sh && chmod +x deep/x.sh`,
    git: ["status"],
  },
  {
    name: "a core.hooksPath folder that is a link to the top (`.githooks -> .`)",
    setup: () => "ln -s . .githooks && git config core.hooksPath .githooks",
    plant: (w) => `${hook(w.mark)} > pre-commit && chmod +x pre-commit`,
    git: commit,
  },
  {
    name: "a nested repository's core.hooksPath folder that is a link to the project's top",
    setup: () =>
      `mkdir sub && git -C sub init -q && ln -s .. sub/hk && git -C sub config core.hooksPath hk${subCommit}`,
    plant: (w) => `${hook(w.mark)} > pre-commit && chmod +x pre-commit`,
    git: nestedCommit,
  },
  {
    name: "an alias `!node lib` with `lib -> .`: the top's index.js",
    setup: () =>
      "printf 'process.exit(0)\\n' > index.js && ln -s . lib && git config alias.t '!node lib'",
    plant: (w) => `printf "require('fs').writeFileSync('${w.mark}', '')\\n" > index.js`,
    git: ["t"],
  },
  {
    name: "a nested repository's core.fsmonitor kept in its own git dir",
    setup: () =>
      `mkdir sub && git -C sub init -q && printf '#!/bin/sh\\nexit 1\\n' > sub/.git/fsmonitor.sh && chmod +x sub/.git/fsmonitor.sh && git -C sub config core.fsmonitor .git/fsmonitor.sh${subCommit}`,
    plant: (w) => `printf '#!/bin/sh\\ntouch ${w.mark}\\nexit 1\\n' > sub/.git/fsmonitor.sh`,
    git: ["-C", "sub", "status"],
  },
  {
    name: "a nested repository's `~/` core.hooksPath into the project",
    setup: (w) =>
      `mkdir -p sub/hk && git -C sub init -q && git -C sub config core.hooksPath ${sq(`~/${w.tilde}/sub/hk`)}${subCommit}`,
    plant: (w) => `${hook(w.mark)} > sub/hk/pre-commit && chmod +x sub/hk/pre-commit`,
    git: nestedCommit,
  },
  {
    name: "a textconv `sh -c 'tools/conv.sh \"$0\"'` with `tools -> scripts`",
    setup: () =>
      `mkdir scripts && ln -s scripts tools && printf '#!/bin/sh\\ncat "$1"\\n' > scripts/conv.sh && chmod +x scripts/conv.sh && echo '*.txt diff=conv' > .gitattributes && echo one > a.txt && git config diff.conv.textconv ${sq(`sh -c 'tools/conv.sh "$0"'`)}`,
    plant: (w) =>
      `printf '#!/bin/sh\\ntouch ${w.mark}\\ncat "$1"\\n' > scripts/conv.sh && echo two >> a.txt`,
    git: ["diff"],
  },
  {
    name: "a textconv `sh -c 'tools/conv.sh \"$0\"'` whose script is made inside",
    setup: () =>
      `mkdir tools && touch tools/.keep && echo '*.txt diff=conv' > .gitattributes && echo one > a.txt && git config diff.conv.textconv ${sq(`sh -c 'tools/conv.sh "$0"'`)}`,
    plant: (w) =>
      `printf '#!/bin/sh\\ntouch ${w.mark}\\ncat "$1"\\n' > tools/conv.sh && chmod +x tools/conv.sh && echo two >> a.txt`,
    git: ["diff"],
  },
  {
    name: "a nested repository's core.fsmonitor `sh -c '.git/fsm.sh \"$0\"'`",
    setup: () =>
      `mkdir sub && git -C sub init -q && printf '#!/bin/sh\\nexit 1\\n' > sub/.git/fsm.sh && chmod +x sub/.git/fsm.sh && git -C sub config core.fsmonitor ${sq(`sh -c '.git/fsm.sh "$0"'`)}${subCommit}`,
    plant: (w) => `printf '#!/bin/sh\\ntouch ${w.mark}\\nexit 1\\n' > sub/.git/fsm.sh`,
    git: ["-C", "sub", "status"],
  },
  {
    name: "core.hooksPath in an includeIf whose condition is false (husky on another branch)",
    setup: () =>
      `mkdir -p .husky/_ && ${ownHook} > .husky/pre-commit && chmod +x .husky/pre-commit && printf '#!/bin/sh\\n. "$(dirname "$0")/../pre-commit"\\n' > .husky/_/pre-commit && chmod +x .husky/_/pre-commit && git config core.hooksPath .husky/_ && printf '[core]\\n\\thooksPath = .release-hooks\\n' > .gitconfig.release && git config 'includeIf.onbranch:release/**.path' ../.gitconfig.release`,
    plant: (w) => `printf 'touch ${w.mark}\\n' > .husky/pre-commit`,
    git: commit,
  },
  {
    name: "core.hooksPath set after an include that sets another",
    setup: () =>
      "mkdir -p tools/hooks && printf '[core]\\n\\thooksPath = tools/hooks\\n' > .gitconfig.shared && git config include.path ../.gitconfig.shared && printf '[core]\\n\\thooksPath = .githooks\\n' >> .git/config",
    plant: (w) =>
      `mkdir -p .githooks && ${hook(w.mark)} > .githooks/pre-commit && chmod +x .githooks/pre-commit`,
    git: commit,
  },
  {
    name: "a hooksPath in a file your alias includes with `-c include.path=~/…`",
    setup: () =>
      "printf '[core]\\n\\thooksPath = .cihooks\\n' > ~/.gitconfig-ci && git config --global alias.ci '-c include.path=~/.gitconfig-ci commit'",
    plant: (w) =>
      `mkdir -p .cihooks && ${hook(w.mark)} > .cihooks/pre-commit && chmod +x .cihooks/pre-commit`,
    git: ["ci", "-q", "--allow-empty", "-m", "after"],
  },
  {
    name: "a leftover .git/config.worktree without extensions.worktreeConfig (git ignores it)",
    setup: () =>
      "git config core.hooksPath .githooks && printf '[core]\\n\\thooksPath = .husky\\n' > .git/config.worktree && mkdir .husky && touch .husky/.keep",
    plant: (w) =>
      `mkdir -p .githooks && ${hook(w.mark)} > .githooks/pre-commit && chmod +x .githooks/pre-commit`,
    git: commit,
  },
  {
    name: "a linked worktree in the project whose hooksPath comes from the shared config's include",
    setup: () =>
      "printf '[core]\\n\\thooksPath = .githooks\\n' > .gitconfig && printf '.worktrees/\\n' > .gitignore && git add -A && git commit -q -m shared && git config include.path ../.gitconfig && git worktree add -q .worktrees/feat",
    plant: (w) =>
      `mkdir -p .worktrees/feat/.githooks && ${hook(w.mark)} > .worktrees/feat/.githooks/pre-commit && chmod +x .worktrees/feat/.githooks/pre-commit`,
    git: ["-C", ".worktrees/feat", ...commit],
  },
  {
    name: "a nested repository's include in the project naming core.fsmonitor",
    setup: () =>
      `mkdir sub && git -C sub init -q && printf '[alias]\\n\\tst = status\\n' > sub/.gitconfig && git -C sub config include.path ../.gitconfig${subCommit}`,
    plant: (w) => `${fsmonitor(w.mark)} >> sub/.gitconfig`,
    git: ["-C", "sub", "status"],
  },
  {
    name: "a nested repository's program named by a `-c` of your alias",
    setup: () =>
      `mkdir -p sub/tools && git -C sub init -q && printf '#!/bin/sh\\nexit 1\\n' > sub/tools/fsmon.sh && chmod +x sub/tools/fsmon.sh && git config --global alias.st '-c core.fsmonitor=tools/fsmon.sh status'${subCommit}`,
    plant: (w) => `printf '#!/bin/sh\\ntouch ${w.mark}\\nexit 1\\n' > sub/tools/fsmon.sh`,
    git: ["-C", "sub", "st"],
  },
  {
    name: "a hooksPath your alias gives with `--config-env`",
    setup: () => "git config --global alias.ci '--config-env=core.hooksPath=CIHOOKS commit'",
    plant: (w) =>
      `mkdir -p .cihooks && ${hook(w.mark)} > .cihooks/pre-commit && chmod +x .cihooks/pre-commit`,
    git: ["ci", "-q", "--allow-empty", "-m", "after"],
    env: { CIHOOKS: ".cihooks" },
  },
  {
    name: "a hooksPath in git's environment (GIT_CONFIG_COUNT)",
    setup: () => "true",
    plant: (w) =>
      `mkdir -p .envhooks && ${hook(w.mark)} > .envhooks/pre-commit && chmod +x .envhooks/pre-commit`,
    git: commit,
    env: {
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: "core.hooksPath",
      GIT_CONFIG_VALUE_0: ".envhooks",
    },
  },
  {
    name: "an include in git's environment (GIT_CONFIG_PARAMETERS) naming a hooksPath",
    setup: () => "printf '[core]\\n\\thooksPath = .inchooks\\n' > ~/.gitconfig-env",
    plant: (w) =>
      `mkdir -p .inchooks && ${hook(w.mark)} > .inchooks/pre-commit && chmod +x .inchooks/pre-commit`,
    git: commit,
    env: { GIT_CONFIG_PARAMETERS: "'include.path'='~/.gitconfig-env'" },
  },
  {
    name: "an alias in git's environment as git itself quotes it (`'\\!'`) running a project script",
    setup: () =>
      "mkdir tools && printf '#!/bin/sh\\nexit 0\\n' > tools/fmt.sh && chmod +x tools/fmt.sh",
    plant: (w) => `printf '#!/bin/sh\\ntouch ${w.mark}\\n' > tools/fmt.sh`,
    git: ["fmt"],
    env: { GIT_CONFIG_PARAMETERS: "'alias.fmt'=''\\!'./tools/fmt.sh'" },
  },
  {
    name: "a nested repository's own alias giving core.fsmonitor with `--config-env`",
    setup: () =>
      `mkdir sub && git -C sub init -q && git -C sub config alias.ce '--config-env=core.fsmonitor=FSMV status'${subCommit}`,
    plant: (w) =>
      `printf '#!/bin/sh\\ntouch ${w.mark}\\nexit 1\\n' > sub/.fsm.sh && chmod +x sub/.fsm.sh`,
    git: ["-C", "sub", "ce"],
    env: { FSMV: "./.fsm.sh" },
  },
  {
    name: "a `!` alias setting git's environment config for the git it runs",
    setup: () =>
      "git config alias.hc '!GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.hooksPath GIT_CONFIG_VALUE_0=.hx git commit -q --allow-empty -m after'",
    plant: (w) => `mkdir -p .hx && ${hook(w.mark)} > .hx/pre-commit && chmod +x .hx/pre-commit`,
    git: ["hc"],
  },
  {
    name: "an include.path `../cfgs/sub/../x.cfg` with `cfgs` missing, `cfgs/sub` then made a link",
    setup: () =>
      "mkdir -p deep/x && touch deep/x/.keep && git config include.path ../cfgs/sub/../x.cfg",
    plant: (w) => `mkdir -p cfgs && ln -s ../deep/x cfgs/sub && ${fsmonitor(w.mark)} > deep/x.cfg`,
    git: ["status"],
  },
  {
    name: "a hooksPath your alias gives inside a `sh -c` script",
    setup: () =>
      `mkdir .myhooks && ${ownHook} > .myhooks/pre-commit && chmod +x .myhooks/pre-commit && git config --global alias.ci ${sq(`!sh -c 'git -c core.hooksPath=.myhooks commit "$@"' -`)}`,
    plant: (w) => `${hook(w.mark)} > .myhooks/pre-commit`,
    git: ["ci", "-q", "--allow-empty", "-m", "after"],
  },
  {
    name: "a nested repository's core.worktree in an includeIf whose condition is false",
    setup: () =>
      `mkdir -p b sub/.hk && git -C sub init -q && git -C sub config core.hooksPath .hk && git -C sub config includeIf.onbranch:release.path ../release.cfg && printf '[core]\\n\\tworktree = ../../b\\n' > sub/release.cfg && ${ownHook} > sub/.hk/pre-commit && chmod +x sub/.hk/pre-commit${subCommit}`,
    plant: (w) => `${hook(w.mark)} > sub/.hk/pre-commit`,
    git: nestedCommit,
  },
  {
    name: "an include.path whose missing folder is then made a link",
    setup: () => "git config include.path ../conf/extra.cfg",
    plant: (w) => `mkdir other && ln -s other conf && ${fsmonitor(w.mark)} > other/extra.cfg`,
    git: ["status"],
  },
  {
    name: "a nested repository's include.path whose missing folder is then made a link",
    setup: () =>
      `mkdir sub && git -C sub init -q && git -C sub config include.path ../conf/extra.cfg${subCommit}`,
    plant: (w) =>
      `mkdir sub/other && ln -s other sub/conf && ${fsmonitor(w.mark)} > sub/other/extra.cfg`,
    git: ["-C", "sub", "status"],
  },
  {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's default, not a placeholder
    name: "a hooksPath a `!` alias gives as `${HOOKS:-.githooks}` in a function",
    setup: () =>
      `mkdir .githooks && ${ownHook} > .githooks/pre-commit && chmod +x .githooks/pre-commit && git config --global alias.ci ${sq(DEFAULTED_ALIAS)}`,
    plant: (w) => `${hook(w.mark)} > .githooks/pre-commit`,
    git: ["ci", "-q", "--allow-empty", "-m", "after"],
  },
  {
    name: "a hooksPath a `!` alias gives in `sh -c -- '…'` as the script's `$1`",
    setup: () =>
      `git config --global alias.ci ${sq(`!sh -c -- 'git -c core.hooksPath=$1 commit -q --allow-empty -m after' - .h1`)}`,
    plant: (w) => `mkdir -p .h1 && ${hook(w.mark)} > .h1/pre-commit && chmod +x .h1/pre-commit`,
    git: ["ci"],
  },
  {
    name: "pre-commit's own hook (`python -mpre_commit`): a package of that name made at the top",
    setup: () =>
      `printf '#!/bin/sh\\nINSTALL_PYTHON=/usr/bin/python3\\n"$INSTALL_PYTHON" -mpre_commit hook-impl --hook-type=pre-commit -- "$@" 2>/dev/null\\nexit 0\\n' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit`,
    plant: (w) =>
      `mkdir -p pre_commit && echo '*' > pre_commit/.gitignore && : > pre_commit/__init__.py && printf 'open("${w.mark}", "w")\\n' > pre_commit/__main__.py`,
    git: commit,
  },
  {
    name: "a virtualenv in the project whose python a hook runs: a .pth planted in it",
    setup: (w) =>
      `mkdir -p .venv/bin && printf 'home = /usr/bin\\n' > .venv/pyvenv.cfg && ln -s /usr/bin/python3 .venv/bin/python && mkdir -p .venv/lib/$(/usr/bin/python3 -c 'import sys; print("python%d.%d" % sys.version_info[:2])')/site-packages && echo .venv/ > .gitignore && printf '#!/bin/sh\\nINSTALL_PYTHON=${w.p}/.venv/bin/python\\nexec "$INSTALL_PYTHON" -c pass\\n' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit`,
    plant: (w) =>
      `for d in .venv/lib/python3*/site-packages; do printf 'import os; open("${w.mark}", "w")\\n' > "$d/zz.pth"; done`,
    git: commit,
  },
  {
    name: "husky's folder before husky has set core.hooksPath (a fresh clone's first install)",
    setup: () => `mkdir .husky && ${ownHook} > .husky/pre-commit && chmod +x .husky/pre-commit`,
    plant: (w) =>
      `mkdir -p .husky/_ && echo '*' > .husky/_/.gitignore && ${hook(w.mark)} > .husky/_/pre-commit && chmod +x .husky/_/pre-commit`,
    // What `npx husky` does on the host afterwards (its stubs aside).
    git: ["-c", "core.hooksPath=.husky/_", ...commit],
  },
  {
    name: "a hooks folder a package.json script will set with `git config core.hooksPath`",
    setup: () =>
      `echo '{"name":"p","version":"1.0.0","scripts":{"prepare":"git config core.hooksPath tools/hooks"}}' > package.json`,
    plant: (w) =>
      `mkdir -p tools/hooks && ${hook(w.mark)} > tools/hooks/pre-commit && chmod +x tools/hooks/pre-commit`,
    git: ["-c", "core.hooksPath=tools/hooks", ...commit],
  },
  {
    name: "pre-commit's own hook on PyPy (`INSTALL_PYTHON=…/pypy3`): a `pre_commit.py` made at the top",
    setup: (w) =>
      `mkdir -p ${w.outside}/bin && ln -sf /usr/bin/python3 ${w.outside}/bin/pypy3 && printf '#!/bin/sh\\nINSTALL_PYTHON=${w.outside}/bin/pypy3\\n"$INSTALL_PYTHON" -mpre_commit hook-impl -- "$@" 2>/dev/null\\nexit 0\\n' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit`,
    plant: (w) => `printf 'open("${w.mark}", "w")\\n' > pre_commit.py`,
    git: commit,
  },
  {
    name: "a virtualenv a hook's python is in, missing before the run (`git clean -x`), made inside",
    setup: (w) =>
      `echo .venv/ > .gitignore && printf '#!/bin/sh\\nINSTALL_PYTHON=${w.p}/.venv/bin/python3\\n"$INSTALL_PYTHON" -mpre_commit 2>/dev/null\\nexit 0\\n' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit`,
    plant: (w) =>
      `mkdir -p .venv/bin && printf '#!/bin/sh\\ntouch ${w.mark}\\n' > .venv/bin/python3 && chmod +x .venv/bin/python3`,
    git: commit,
  },
  {
    name: "a virtualenv's tool a hook runs by its path without naming python (`.venv/bin/black`): a .pth planted in it",
    setup: (w) =>
      `mkdir -p .venv/bin && printf 'home = /usr/bin\\n' > .venv/pyvenv.cfg && ln -s /usr/bin/python3 .venv/bin/python && mkdir -p .venv/lib/$(/usr/bin/python3 -c 'import sys; print("python%d.%d" % sys.version_info[:2])')/site-packages && printf '#!${w.p}/.venv/bin/python\\npass\\n' > .venv/bin/black && chmod +x .venv/bin/black && echo .venv/ > .gitignore && printf '#!/bin/sh\\n.venv/bin/black 2>/dev/null\\nexit 0\\n' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit`,
    plant: (w) =>
      `for d in .venv/lib/python3*/site-packages; do printf 'import os; open("${w.mark}", "w")\\n' > "$d/zz.pth"; done`,
    git: commit,
  },
  {
    name: "a virtualenv whose tool a hook runs, missing before the run (`git clean -x`), made inside",
    setup: () =>
      `echo .venv/ > .gitignore && printf '#!/bin/sh\\n.venv/bin/black --check . 2>/dev/null\\nexit 0\\n' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit`,
    plant: (w) =>
      `mkdir -p .venv/bin && printf '#!/bin/sh\\ntouch ${w.mark}\\n' > .venv/bin/black && chmod +x .venv/bin/black`,
    git: commit,
  },
  {
    name: "pre-commit's hook with pre_commit not installed for its python: a folder of that name without `__init__`",
    setup: () =>
      `printf '#!/bin/sh\\nINSTALL_PYTHON=/usr/bin/python3\\n"$INSTALL_PYTHON" -mpre_commit hook-impl 2>/dev/null\\nexit 0\\n' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit`,
    plant: (w) =>
      `mkdir -p pre_commit && echo '*' > pre_commit/.gitignore && printf 'open("${w.mark}", "w")\\n' > pre_commit/__main__.py`,
    git: commit,
  },
  lintkitCase("a hook's `python3 -Bm lintkit` (flags together)", "python3 -Bm lintkit"),
  lintkitCase('a hook\'s `python3 -m "$LINTER"`', 'LINTER=lintkit\\npython3 -m "$LINTER"'),
  lintkitCase(
    "a hook's `for M in … lintkit; do python3 -m $M`",
    "for M in json lintkit; do python3 -m $M; done",
  ),
  lintkitCase(
    "a hook's `python3 -m lintkit.a.b.c`, its module deep in a folder without `__init__`",
    "python3 -m lintkit.a.b.c",
    "lintkit/a/b/c.py",
  ),
  {
    name: "a virtualenv your shell activated, spelled through a link to the project: a hook's bare `black` runs its python",
    setup: (w) =>
      `mkdir -p .venv/bin && printf 'home = /usr/bin\\n' > .venv/pyvenv.cfg && ln -s /usr/bin/python3 .venv/bin/python && mkdir -p .venv/lib/$(/usr/bin/python3 -c 'import sys; print("python%d.%d" % sys.version_info[:2])')/site-packages && printf '#!${w.alias}/.venv/bin/python\\npass\\n' > .venv/bin/black && chmod +x .venv/bin/black && echo .venv/ > .gitignore && printf '#!/bin/sh\\nblack . 2>/dev/null\\nexit 0\\n' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit`,
    plant: (w) =>
      `for d in .venv/lib/python3*/site-packages; do printf 'import os; open("${w.mark}", "w")\\n' > "$d/zz.pth"; done`,
    env: (w) => ({
      VIRTUAL_ENV: `${w.alias}/.venv`,
      PATH: `${w.alias}/.venv/bin:${process.env.PATH ?? "/usr/bin:/bin"}`,
    }),
    git: commit,
  },
  {
    name: 'a virtualenv a hook names through its own variable (`V=.venv-b`, then `"$V/bin/python"`)',
    setup: () =>
      `mkdir -p .venv-b/bin && printf 'home = /usr/bin\\n' > .venv-b/pyvenv.cfg && ln -s /usr/bin/python3 .venv-b/bin/python && mkdir -p .venv-b/lib/$(/usr/bin/python3 -c 'import sys; print("python%d.%d" % sys.version_info[:2])')/site-packages && echo .venv-b/ > .gitignore && printf '#!/bin/sh\\nV=.venv-b\\n"$V/bin/python" -c pass\\nexit 0\\n' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit`,
    plant: (w) =>
      `for d in .venv-b/lib/python3*/site-packages; do printf 'import os; open("${w.mark}", "w")\\n' > "$d/zz.pth"; done`,
    git: commit,
  },
  {
    name: 'a virtualenv a hook picks among others (`VENV=.venv`, then `test -d "$VENV" || VENV=venv`)',
    setup: () =>
      `mkdir -p venv/bin && printf 'home = /usr/bin\\n' > venv/pyvenv.cfg && ln -s /usr/bin/python3 venv/bin/python && mkdir -p venv/lib/$(/usr/bin/python3 -c 'import sys; print("python%d.%d" % sys.version_info[:2])')/site-packages && printf 'venv/\\n.venv/\\n' > .gitignore && printf '#!/bin/sh\\nVENV=.venv  # the usual place\\ntest -d "$VENV" || VENV=venv\\n"$VENV/bin/python" -c pass\\nexit 0\\n' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit`,
    plant: (w) =>
      `for d in venv/lib/python3*/site-packages; do printf 'import os; open("${w.mark}", "w")\\n' > "$d/zz.pth"; done`,
    git: commit,
  },
  {
    name: "a nested repository's pre-commit hook (`python -mpre_commit`): a package of that name made at its top",
    setup: () =>
      `git init -q sub && printf '#!/bin/sh\\nINSTALL_PYTHON=/usr/bin/python3\\n"$INSTALL_PYTHON" -mpre_commit hook-impl 2>/dev/null\\nexit 0\\n' > sub/.git/hooks/pre-commit && chmod +x sub/.git/hooks/pre-commit${subCommit}`,
    plant: (w) =>
      `mkdir -p sub/pre_commit && echo '*' > sub/pre_commit/.gitignore && : > sub/pre_commit/__init__.py && printf 'open("${w.mark}", "w")\\n' > sub/pre_commit/__main__.py`,
    git: nestedCommit,
  },
  {
    name: "a config file a package.json script will include with `git config include.path` (a fresh clone's set-up)",
    setup: () =>
      `echo '{"name":"p","version":"1.0.0","scripts":{"prepare":"git config include.path ../tools/git.cfg"}}' > package.json`,
    plant: (w) => `mkdir -p tools && ${fsmonitor(w.mark)} > tools/git.cfg`,
    // What the set-up does on the host afterwards, then a `git status`.
    git: ["-c", "alias.setup=!git config include.path ../tools/git.cfg && git status", "setup"],
  },
];

describe.skipIf(unavailable !== "")("what a git dir reaches by another name", () => {
  const worlds: World[] = [];
  /** A world whose repository's pre-commit hook is the shell script `hook`. */
  const hookWorld = (hook: string): World => {
    const world = makeWorld({ projectInHome: true });
    worlds.push(world);
    execFileSync("git", ["init", "-q"], { cwd: world.project });
    writeFileSync(join(world.project, ".git/hooks/pre-commit"), `#!/bin/sh\n${hook}`, {
      mode: 0o755,
    });
    return world;
  };
  afterAll(() => {
    for (const w of worlds) w.dispose();
  });

  /** Host git in `p`: its stdout. */
  const hostGit = (world: World, w: Where, c: Case): string =>
    spawnSync("git", c.git, {
      cwd: w.p,
      env: {
        ...world.env,
        ...envAt(c, w),
        GIT_AUTHOR_NAME: "t",
        GIT_AUTHOR_EMAIL: "t@example.invalid",
      },
      encoding: "utf8",
    }).stdout;

  /** A fresh repository in `p` set up by the case, with everything committed. */
  const prepare = (world: World, c: Case, w: Where): void => {
    const env = {
      ...world.env,
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@example.invalid",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@example.invalid",
    };
    mkdirSync(w.outside, { recursive: true });
    symlinkSync(w.p, w.alias);
    execFileSync(
      "sh",
      [
        "-c",
        `rm -rf .git && git init -q && ${c.setup(w)} && git add -A && git commit -q --allow-empty -m own`,
      ],
      { cwd: w.p, env, stdio: "ignore" },
    );
  };

  it("a build's python output is not taken for a module where a hook's python runs", async () => {
    const world = hookWorld(
      `INSTALL_PYTHON=/usr/bin/python3\nexec "$INSTALL_PYTHON" -mpre_commit "$@"\n`,
    );
    const build =
      "mkdir -p build/lib/pkg gen && echo 'x = 1' > build/lib/pkg/m.py && echo 'y = 1' > gen/api_pb2.py";
    const r = await world.run(["--quiet", "exec", "--", "sh", "-c", build]);
    expect(r.exitCode, show(r)).toBe(0);
    expect(r.stderr, show(r)).not.toContain("moved");
    expect(existsSync(join(world.project, "build/lib/pkg/m.py"))).toBe(true);
    expect(existsSync(join(world.project, "gen/api_pb2.py"))).toBe(true);
    // A regular package there is a module python would import: moved aside.
    const plant = "mkdir -p pre_commit && : > pre_commit/__init__.py";
    const p = await world.run(["--quiet", "exec", "--", "sh", "-c", plant]);
    expect(p.stderr, show(p)).toContain(`moved ${join(world.project, "pre_commit")}`);
  });

  it("a test run's `coverage/` report with a hook running `python3 -m coverage` is not moved aside", async () => {
    const world = hookWorld(`python3 -m coverage report 2>/dev/null\nexit 0\n`);
    // What jest --coverage writes: no python in it, so python imports nothing of it.
    const report =
      "mkdir -p coverage/lcov-report/src && echo x > coverage/lcov.info && echo '<html>' > coverage/lcov-report/index.html && echo '<html>' > coverage/lcov-report/src/a.js.html";
    const r = await world.run(["--quiet", "exec", "--", "sh", "-c", report]);
    expect(r.exitCode, show(r)).toBe(0);
    expect(r.stderr, show(r)).not.toContain("moved");
    expect(existsSync(join(world.project, "coverage/lcov.info"))).toBe(true);
    // Another tool's `-m` in a hook that mentions python is no module.
    const stash = hookWorld("# runs python tests first\ngit stash push -q -m scripts || true\n");
    const gen = "mkdir -p scripts && echo 'x = 1' > scripts/gen.py";
    const g = await stash.run(["--quiet", "exec", "--", "sh", "-c", gen]);
    expect(g.stderr, show(g)).not.toContain("moved");
    // With a `__main__.py` it is what `-m coverage` runs where coverage is not installed: moved.
    const plant = "rm -rf coverage && mkdir coverage && echo 'pass' > coverage/__main__.py";
    const p = await world.run(["--quiet", "exec", "--", "sh", "-c", plant]);
    expect(p.stderr, show(p)).toContain(`moved ${join(world.project, "coverage")}`);
  });

  it("a build's folder named like a standard library module a hook runs (`-m json.tool`) is not moved aside", async () => {
    const world = hookWorld(
      `git diff --cached --name-only -- "*.json" | xargs -r -n1 python3 -m json.tool > /dev/null\n`,
    );
    const build = "mkdir -p json && echo {} > json/index.json";
    const r = await world.run(["--quiet", "exec", "--", "sh", "-c", build]);
    expect(r.exitCode, show(r)).toBe(0);
    expect(r.stderr, show(r)).not.toContain("moved");
    expect(existsSync(join(world.project, "json/index.json"))).toBe(true);
  });

  it.each(CASES)(
    "$name",
    async (c) => {
      const world = makeWorld({ projectInHome: true });
      worlds.push(world);
      const control = join(world.dir, "control", "app");
      mkdirSync(control, { recursive: true });
      const inside: Where = {
        tilde: relative(world.home, world.project),
        p: world.project,
        alias: join(world.dir, "alias"),
        outside: join(world.dir, "outside"),
        mark: join(world.dir, "planted-ran"),
      };
      const host: Where = {
        tilde: relative(world.home, control),
        p: control,
        alias: join(world.dir, "control-alias"),
        outside: join(world.dir, "control-outside"),
        mark: join(world.dir, "control-ran"),
      };
      prepare(world, c, inside);
      prepare(world, c, host);

      // (control) planted from the host's shell, host git obeys it.
      execFileSync("sh", ["-c", c.plant(host)], { cwd: control });
      const controlOut = hostGit(world, host, c);
      if (c.prints) expect(controlOut).toBe(c.prints.planted);
      else expect(existsSync(host.mark)).toBe(true);

      // Planted inside: refused, or moved aside after the run; host git obeys none of it.
      const r = await world.run(["--quiet", "exec", "--", "sh", "-c", `${c.plant(inside)}; true`], {
        ...(c.env ? { env: envAt(c, inside) } : {}),
      });
      expect(r.exitCode, show(r)).toBe(0);
      const out = hostGit(world, inside, c);
      if (c.prints) expect(out, show(r)).toBe(c.prints.own);
      else expect(existsSync(inside.mark), show(r)).toBe(false);
    },
    120_000,
  );
});
