/**
 * PURE: git's config file syntax, parsed the way git's config.c does, for the few keys safe-npm
 * needs (core.hooksPath, core.worktree, include paths). safe-npm reads a repository's config
 * itself rather than asking git: git would have to be spawned on the start-up path, and reads
 * more than the one file (system, global and included config) in ways that differ by version.
 * Malformed syntax ends the parse, as it makes git refuse the whole file.
 */
import { CODE_OPTION, LOADING_OPTION, nodeLoads, REQUIRE_TRIES } from "./nodeoptions.js";

export interface ConfigEntry {
  /** Lower-case section name, e.g. "core", "includeif". */
  section: string;
  /** Subsection as written (case-sensitive), or null. */
  subsection: string | null;
  /** Lower-case key name. */
  key: string;
  /** The value; null for a bare key (`[core] bare`, which git reads as true). */
  value: string | null;
}

const isAlpha = (c: string): boolean => /^[A-Za-z]$/.test(c);
const isKeyChar = (c: string): boolean => /^[A-Za-z0-9-]$/.test(c);
const isSpace = (c: string): boolean =>
  c === " " || c === "\t" || c === "\r" || c === "\v" || c === "\f";

export function parseGitConfig(text: string): ConfigEntry[] {
  const entries: ConfigEntry[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let section: string | null = null;
  let subsection: string | null = null;
  const at = (): string => text[i] ?? "";
  const skipComment = (): void => {
    while (i < text.length && text[i] !== "\n") i++;
  };
  while (i < text.length) {
    const c = at();
    if (c === "\n" || isSpace(c)) {
      i++;
      continue;
    }
    if (c === "#" || c === ";") {
      skipComment();
      continue;
    }
    if (c === "[") {
      const header = parseHeader(text, i + 1);
      if (header === null) return entries;
      ({ section, subsection } = header);
      i = header.end;
      continue;
    }
    if (!isAlpha(c) || section === null) return entries;
    let key = "";
    while (isKeyChar(at())) key += text[i++];
    while (isSpace(at())) i++;
    if (at() === "\n" || at() === "" || at() === "#" || at() === ";") {
      entries.push({ section, subsection, key: key.toLowerCase(), value: null });
      continue;
    }
    if (at() !== "=") return entries;
    i++;
    const value = parseValue(text, i);
    if (value === null) return entries;
    entries.push({ section, subsection, key: key.toLowerCase(), value: value.value });
    i = value.end;
  }
  return entries;
}

/** `[section]`, `[section "sub"]` or the old `[section.sub]`; `start` is after the `[`. */
function parseHeader(
  text: string,
  start: number,
): { section: string; subsection: string | null; end: number } | null {
  let i = start;
  let name = "";
  while (i < text.length && (isKeyChar(text[i] as string) || text[i] === ".")) name += text[i++];
  if (name === "") return null;
  if (text[i] === "]") {
    const dot = name.indexOf(".");
    // The deprecated [section.sub] form: the subsection is lower-cased by git.
    if (dot >= 0) {
      return {
        section: name.slice(0, dot).toLowerCase(),
        subsection: name.slice(dot + 1).toLowerCase(),
        end: i + 1,
      };
    }
    return { section: name.toLowerCase(), subsection: null, end: i + 1 };
  }
  if (name.includes(".")) return null;
  while (text[i] === " " || text[i] === "\t") i++;
  if (text[i] !== '"') return null;
  i++;
  let sub = "";
  for (;;) {
    const c = text[i++];
    if (c === undefined || c === "\n") return null;
    if (c === '"') break;
    if (c === "\\") {
      const next = text[i++];
      if (next === undefined || next === "\n") return null;
      sub += next;
    } else sub += c;
  }
  if (text[i] !== "]") return null;
  return { section: name.toLowerCase(), subsection: sub, end: i + 1 };
}

/** A value up to the end of its (continued) line; `start` is after the `=`. */
function parseValue(text: string, start: number): { value: string; end: number } | null {
  let i = start;
  let value = "";
  let quoted = false;
  // Whitespace is kept only between other characters (or inside quotes).
  let pendingSpace = "";
  let started = false;
  for (;;) {
    const c = text[i++];
    if (c === undefined || c === "\n") {
      if (quoted) return null;
      return { value, end: i };
    }
    if (!quoted && (c === "#" || c === ";")) {
      while (i < text.length && text[i] !== "\n") i++;
      continue;
    }
    if (!quoted && isSpace(c)) {
      if (started) pendingSpace += c;
      continue;
    }
    value += pendingSpace;
    pendingSpace = "";
    if (c === "\\") {
      const next = text[i++];
      if (next === "\n") continue;
      if (next === "\r" && text[i] === "\n") {
        i++;
        continue;
      }
      const escaped = { n: "\n", t: "\t", b: "\b", '"': '"', "\\": "\\" }[next ?? ""];
      if (escaped === undefined) return null;
      value += escaped;
      started = true;
      continue;
    }
    if (c === '"') {
      quoted = !quoted;
      started = true;
      continue;
    }
    value += c;
    started = true;
  }
}

/** The last value of `section.key` (no subsection), as git's "last one wins" reads it. */
export function lastValue(
  entries: readonly ConfigEntry[],
  section: string,
  key: string,
): string | null {
  let found: string | null = null;
  for (const e of entries) {
    if (e.section === section && e.subsection === null && e.key === key && e.value !== null) {
      found = e.value;
    }
  }
  return found;
}

/** Every `core.hooksPath` value of `entries` that is not empty, in order. */
export function hooksPathValues(entries: readonly ConfigEntry[]): string[] {
  return entries.flatMap((e) =>
    e.section === "core" && e.subsection === null && e.key === "hookspath" && e.value
      ? [e.value]
      : [],
  );
}

/** `include.path` and `includeIf.<condition>.path` values, in order. */
export function includePaths(entries: readonly ConfigEntry[]): string[] {
  return entries.flatMap((e) =>
    e.key === "path" &&
    e.value !== null &&
    ((e.section === "include" && e.subsection === null) ||
      (e.section === "includeif" && e.subsection !== null))
      ? [e.value]
      : [],
  );
}

/**
 * A file a program value may run, relative to the top of the worktree (where git runs these)
 * or absolute (`~/` for the home). `path`: a word with a `/`, as written or built from how a
 * shell spells the top (`$(git rev-parse --show-toplevel)`, `--git-dir`, `$(dirname …)`,
 * `$PWD`), the home (`$HOME`), a folder `cd` went to, or a variable the value sets; `word`: a
 * later word with no `/` (`git-lfs clean`), which counts only where such a file exists;
 * `script`: what an interpreter is given (`node fsmon.js`, `python3 -m fsmon`), a missing one
 * watched, node's and python's own lookups (`fsmon` → `fsmon.js`, a folder) included.
 */
export interface ProgramFile {
  path: string;
  /**
   * `script`: what an interpreter runs (a folder too); `path`: a word with a `/`; `word`: one
   * without (it counts only where such a file is); `cd`: a folder the value runs in, whose `..`
   * node and make resolve through a link.
   */
  named: "path" | "word" | "script" | "cd";
}

/**
 * The programs git runs that config names — `core.fsmonitor`, `core.pager`, `core.editor`,
 * `core.sshCommand`, `core.askPass`, `core.gitProxy`, `sequence.editor`, `pager.<cmd>`,
 * `interactive.diffFilter`, filter drivers (`filter.<x>.clean`, `smudge`, `process`),
 * `diff.external`, `diff.<x>.textconv` / `command`, `merge.<x>.driver`,
 * `difftool`/`mergetool.<x>.cmd` / `path`, `submodule.<x>.update = !…`,
 * `remote.<x>.uploadpack` / `receivepack`, `credential.helper`, `gpg.program`,
 * `gpg.ssh.defaultKeyCommand`, `trailer.<x>.command`, `core.alternateRefsCommand`,
 * `instaweb.httpd`, `uploadpack.packObjectsHook` and `!` aliases — read as a shell reads
 * them (quotes, escapes, `cd`, assignments; ProgramFile). A value built on `$GIT_PREFIX` (the
 * folder git was started in) or another variable cannot be followed: its words are skipped.
 */
export function programFiles(entries: readonly ConfigEntry[]): ProgramFile[] {
  const out: ProgramFile[] = [];
  const seen = new Set<string>();
  // Bounded per value: a value of hundreds of `cd`s that may fail names thousands of folders
  // (and one value must not use up what the others name).
  let fromValue = 0;
  const add = (path: string, named: ProgramFile["named"]): void => {
    const key = `${named}\0${path}`;
    if (seen.has(key) || fromValue >= MAX_PROGRAM_FILES) return;
    seen.add(key);
    fromValue++;
    out.push({ path, named });
  };
  for (const line of programLines(entries)) {
    fromValue = 0;
    const value = spellTop(line);
    // The value as written, a quoted word whole (`"tools/my ssh"` is one word to git's own
    // exec of a value with no shell characters), and as a shell splits it.
    for (const m of value.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) {
      const word = m[1] ?? m[2] ?? m[3] ?? "";
      if (pathLike(word)) add(word, "path");
    }
    scan(value, [""], add, 0);
  }
  // git-instaweb looks for an httpd not on PATH in instaweb.gitwebdir (`$root/$httpd_only`).
  const webdir = lastValue(entries, "instaweb", "gitwebdir");
  for (const e of webdir ? entries : []) {
    const httpd = e.section === "instaweb" && e.key === "httpd" ? e.value?.split(" ")[0] : "";
    if (!httpd || e.subsection !== null) continue;
    fromValue = 0;
    add(joinRel("", `${webdir}/${httpd}`), "path");
  }
  return out.filter((o) => !aboveTop(o.path));
}

/** An assignment to a plain value anywhere in a script (`V=.venv`, `declare -x V='x'`, `|| V=venv;`). */
const SCRIPT_ASSIGN =
  /(?:^|[\s;&|(){}!])(?:(?:export|declare|typeset|local|readonly)\s+(?:-[A-Za-z]+\s+)*)?([A-Za-z_]\w*)(?:\[[^\s=]{0,32}\])?\+?=(?:"([^"$`\\]*)"|'([^']*)'|([^\s"'$`;&|()<>\\#]*))(?=$|[\s;&|)}#])/gm;
/** An assignment of another variable's value (`V=${VENV_DIR:-venv}`, `V="$W"`). */
const SCRIPT_ALIAS =
  /(?:^|[\s;&|(){}!])(?:(?:export|declare|typeset|local|readonly)\s+(?:-[A-Za-z]+\s+)*)?([A-Za-z_]\w*)=("?)\$(?:\{([A-Za-z_]\w*)(?::?[-=+?][^}]{0,512})?\}|([A-Za-z_]\w*))\2(?=$|[\s;&|)}#])/gm;
/** A default a reference gives (`${V:-x}`, `${V:=x}`): a value the variable may take. */
const SCRIPT_DEFAULT = /\$\{([A-Za-z_]\w*):?[-=]([^}$`"'\\]*)\}/g;
/** A reference to a variable (`$V`, `${V}`, `${V:-x}`, `${arr[1]}`). */
const SCRIPT_REF =
  /\$\{([A-Za-z_]\w*)(?:\[[^\]\s}]{0,32}\])?(?:(?::?[-=+?]|%%?|##?|\/\/?)[^}]{0,512})?\}|\$([A-Za-z_]\w*)/g;
/** `for V in a b c` (its list up to the end of the line or a `;`), or `for V; do`. */
const SCRIPT_FOR =
  /(?:^|[\s;&|(){}!])for\s+([A-Za-z_]\w*)(?:\s+in\s+([^;\n&|)]*)|\s*;?\s*(?=do\b))/gm;
/** An array (`arr=(a b)`, `declare -a arr=(…)`). */
const SCRIPT_ARRAY =
  /(?:^|[\s;&|(){}!])(?:(?:declare|typeset|local|readonly)\s+(?:-[A-Za-z]+\s+)*)?([A-Za-z_]\w*)\+?=\(((?:"[^"]{0,256}"|'[^']{0,256}'|#[^\n]{0,256}|[^)"'#]){0,4096})\)/gm;
/** `set -- a b` (the positional parameters). */
const SCRIPT_SET = /(?:^|[\s;&|(){}!])set\s+--\s+([^;\n&|)]*)/gm;
/** A word of a list: a variable (`$V`, `${V}`, `"${V[@]}"`, `"$@"`), or quoted, or plain. */
const SCRIPT_WORD =
  /"?\$\{([A-Za-z_]\w*|@)(?:\[[@*]\])?\}"?|"?\$([A-Za-z_]\w*|@)"?|"([^"$`\\]*)"|'([^']*)'|([^\s"'$`\\]+)/g;
/** Combinations of its variables' values a line is spelled out to at most (then each value once). */
const MAX_SCRIPT_VARIANTS = 1024;

/** Words a list gives in all (scriptAsProgram), and a word's brace alternatives at most. */
const MAX_LIST_WORDS = 1 << 16;
const MAX_BRACE_WORDS = 256;

/** A word's brace alternatives (`cov{x,y}`, `{a,b}{c,d}`), at most MAX_BRACE_WORDS. */
function braces(word: string): string[] {
  let words = [word];
  for (let round = 0; round < 4; round++) {
    const next: string[] = [];
    for (const w of words) {
      const m = /^(.*?)\{([^{}]*,[^{}]*)\}(.*)$/s.exec(w);
      for (const alt of m === null ? [null] : (m[2] as string).split(",")) {
        if (next.length >= MAX_BRACE_WORDS) break;
        next.push(alt === null ? w : `${m?.[1]}${alt}${m?.[3]}`);
      }
    }
    if (next.join("\0") === words.join("\0")) break;
    words = next;
  }
  return words;
}
/** The most text a line's combinations may take (past it, each value once). */
const MAX_LINE_VARIANTS = 32 * 1024;
/** Values a variable is spelled out to at most. */
const MAX_SCRIPT_VALUES = 1024;
/** The most of a script's spelled-out text read (its lines in order). */
const MAX_SCRIPT_TEXT = 256 * 1024;

/**
 * A shell script's text (a hook) as config with one program value, the script: programFiles,
 * programMentions and programWords read it as they read what git runs from config. A variable
 * the script gives a plain value anywhere (`V=.venv`, `declare V=venv`, `|| V=venv`, in an `if`,
 * after a function that uses it, `${V:-venv}`, `V=${W:-venv}`) is spelled out in each line that
 * uses it, once per value it may take (which one a run takes is not known); a value computed
 * (`$(…)`) is not known. Values hold no `$`, so a line becomes at most MAX_SCRIPT_VARIANTS
 * lines or one per value, and the text is cut at MAX_SCRIPT_TEXT.
 */
export function scriptAsProgram(script: string): ConfigEntry[] {
  // A line continued with a backslash is one line to the shell.
  const text = script.replace(/\\\n/g, " ");
  const values = new Map<string, Set<string>>();
  const give = (name: string, value: string): void => {
    const known = values.get(name);
    if (known === undefined) values.set(name, new Set([value]));
    else if (known.size < MAX_SCRIPT_VALUES) known.add(value);
  };
  for (const m of text.matchAll(SCRIPT_ASSIGN)) give(m[1] as string, m[2] ?? m[3] ?? m[4] ?? "");
  for (const m of text.matchAll(SCRIPT_DEFAULT)) give(m[1] as string, m[2] as string);
  // A list's words (`arr=(a b)`, `set -- a b`, `for M in a {b,c} $LIST "${arr[@]}"`): each
  // plain word, a brace's alternatives, each word of a variable's values.
  // (At most MAX_LIST_WORDS in all: a list of a list of a list… would multiply them.)
  let listed = 0;
  const listWords = (list: string): string[] =>
    [...list.matchAll(SCRIPT_WORD)].flatMap((w) => {
      if (listed > MAX_LIST_WORDS) return [];
      const name = w[1] ?? w[2];
      const words =
        name !== undefined
          ? [...(values.get(name) ?? [])].flatMap((v) => v.split(/\s+/)).filter(Boolean)
          : braces(w[3] ?? w[4] ?? w[5] ?? "");
      listed += words.length;
      return words;
    });
  for (const m of text.matchAll(SCRIPT_ARRAY)) {
    // One element a line (`(`, `  a  # why`, `)`), `[key]=value` (an associative array).
    const list = (m[2] as string)
      .replace(/#[^\n]*/g, " ")
      .replace(/\[(?:"[^"]{0,64}"|'[^']{0,64}'|[^\]\s]{0,64})\]=/g, "");
    for (const w of listWords(list)) give(m[1] as string, w);
  }
  for (const m of text.matchAll(SCRIPT_SET))
    for (const w of listWords(m[1] as string)) give("@", w);
  // `V=${W:-x}`: V takes W's values (its default is above); a chain a few deep.
  const aliases = [...text.matchAll(SCRIPT_ALIAS)].map(
    (m) => [m[1] as string, (m[3] ?? m[4]) as string] as const,
  );
  // (Each pair once: a script may repeat one thousands of times.)
  const pairs = [...new Map(aliases.map((a) => [`${a[0]}=${a[1]}`, a])).values()];
  for (let round = 0; round < 4; round++)
    for (const [name, from] of pairs) for (const v of values.get(from) ?? []) give(name, v);
  // `for M in …; do`, and `for M; do` (the positional parameters `set --` gave).
  for (const m of text.matchAll(SCRIPT_FOR))
    for (const w of m[2] === undefined ? [...(values.get("@") ?? [])] : listWords(m[2]))
      give(m[1] as string, w);
  const out: string[] = [];
  let size = 0;
  for (const line of text.split("\n")) {
    // Past MAX_SCRIPT_TEXT, each line as written (the script's own length is its caller's bound).
    if (size > MAX_SCRIPT_TEXT) {
      out.push(line);
      continue;
    }
    const names = [
      ...new Set([...line.matchAll(SCRIPT_REF)].map((m) => (m[1] ?? m[2]) as string)),
    ].filter((name) => values.has(name));
    const lists = names.map((name) => [...(values.get(name) ?? [])]);
    // Every combination when they are few; else each value of each variable once (the n-th
    // of each together), so no value is dropped.
    const product = lists.reduce((p, l) => Math.min(p * l.length, MAX_SCRIPT_VARIANTS + 1), 1);
    // (And only while they stay short: a long line's 1,024 copies would fill MAX_SCRIPT_TEXT.)
    const all = product <= MAX_SCRIPT_VARIANTS && product * line.length <= MAX_LINE_VARIANTS;
    const count = all ? product : Math.max(...lists.map((l) => l.length));
    for (let k = 0; k < count && size <= MAX_SCRIPT_TEXT; k++) {
      const pick = new Map<string, string>();
      let rest = k;
      names.forEach((name, i) => {
        const list = lists[i] ?? [];
        pick.set(name, list[(all ? rest : k) % list.length] ?? "");
        rest = Math.floor(rest / list.length);
      });
      const variant = line.replace(SCRIPT_REF, (whole, a, b) => pick.get(a ?? b) ?? whole);
      size += variant.length + 1;
      out.push(variant);
    }
    if (size > MAX_SCRIPT_TEXT) out.push(line);
  }
  return [{ section: "core", subsection: null, key: "fsmonitor", value: out.join("\n") }];
}

/**
 * The command lines git may run that config holds, each for a shell to read: the program keys'
 * values, what `-c` gives an alias of git arguments, and the `ext::` transports' commands.
 */
function programLines(entries0: readonly ConfigEntry[]): string[] {
  const out: string[] = [];
  const entries = [...entries0, ...commandConfig(entries0)];
  for (const e of entries) {
    if (e.value === null) continue;
    if (e.section === "alias" && e.subsection === null && !/^\s*!/.test(e.value))
      out.push(...aliasConfig(e.value));
    else if (programKey(e)) out.push(e.value.replace(/^\s*!/, ""));
  }
  return [...out, ...extCommands(entries)];
}

/**
 * An alias with no `!` is git's own arguments (split as git's split_cmdline does): the values
 * of its `-c <key>=<value>` options before the command, each read as a program value (git runs
 * the alias with that config). `--config-env` is configEnvConfig's.
 */
function aliasConfig(value: string): string[] {
  const args = splitCmdline(value);
  const out: string[] = [];
  for (let i = 0; i < args.length && (args[i] ?? "").startsWith("-"); i++) {
    if (args[i] !== "-c") continue;
    const config = /^[^=]*=(.*)$/s.exec(args[++i] ?? "")?.[1];
    if (config !== undefined) out.push(config.replace(/^\s*!/, ""));
  }
  return out;
}

/** How many `-c` entries the aliases and program values of one config file may give, at the most. */
const MAX_COMMAND_CONFIG = 256;

/**
 * The config git runs with that `-c <key>=<value>` gives it in an alias of git arguments
 * (`ci = -c core.hooksPath=.myhooks commit`) or a `git` a program value runs
 * (`!git -c remote.x.url=ext::… fetch x`), as entries: the key as git's `-c` parses it
 * (section up to the first dot, key after the last, the subsection between; section and key
 * case-insensitive). What those entries hold in turn (an alias given by `-c`) is read too.
 */
export function commandConfig(entries: readonly ConfigEntry[]): ConfigEntry[] {
  const out: ConfigEntry[] = [];
  let level: readonly ConfigEntry[] = entries;
  for (let depth = 0; depth < 3 && level.length > 0; depth++) {
    const next: ConfigEntry[] = [];
    for (const e of level) {
      if (e.value === null) continue;
      const pairs =
        e.section === "alias" && e.subsection === null && !/^\s*!/.test(e.value)
          ? leadingConfig(splitCmdline(e.value), 0)
          : programKey(e)
            ? shellGitConfig(e.value.replace(/^\s*!/, ""))
            : [];
      for (const pair of pairs) {
        const entry = configParameter(pair);
        if (entry !== null && out.length + next.length < MAX_COMMAND_CONFIG) next.push(entry);
      }
    }
    out.push(...next);
    level = next;
  }
  return out;
}

/** The `-c` arguments among git's options from `args[start]` up to its command. */
function leadingConfig(args: readonly string[], start: number): string[] {
  const out: string[] = [];
  for (let i = start; i < args.length && (args[i] ?? "").startsWith("-"); i++) {
    const arg = args[i] ?? "";
    if (arg === "-c") {
      if (args[i + 1] !== undefined) out.push(args[++i] ?? "");
    } else if (GIT_VALUE_OPTIONS.has(arg)) i++;
  }
  return out;
}

/** git's options that take the next word as their value. */
const GIT_VALUE_OPTIONS: ReadonlySet<string> = new Set([
  "-C",
  "--git-dir",
  "--work-tree",
  "--namespace",
  "--config-env",
  "--super-prefix",
  "--list-cmds",
  "--attr-source",
]);

/**
 * The config each `git` a shell line runs is given (`git -c k=v fetch`, `/usr/bin/git -c …`):
 * its `-c` arguments, and what the variables set for it give (`GIT_CONFIG_COUNT=1
 * GIT_CONFIG_KEY_0=core.hooksPath … git commit`), as `key=value` pairs.
 */
function shellGitConfig(line: string): string[] {
  return shellGitArgs(line).flatMap(({ args, vars }) => [
    ...leadingConfig(args, 0),
    ...envConfig(vars).map((e) => configPair(e)),
  ]);
}

/** An entry as `-c` spells it. */
function configPair(e: ConfigEntry): string {
  const name = [e.section, ...(e.subsection === null ? [] : [e.subsection]), e.key].join(".");
  return e.value === null ? name : `${name}=${e.value}`;
}

/** The most words after a command that shellGitArgs reads as its arguments. */
const MAX_ARGS = 1024;
/** The most words shellGitArgs reads of one line, its `eval`s and `sh -c` scripts included. */
const MAX_SHELL_WORDS = 1 << 18;

/** The longest value a `!` alias's shell variable is spelled out to (shellGitArgs). */
const MAX_SHELL_VALUE = 4096;

/**
 * The arguments of each `git` a shell line runs, with the variables the line sets for it: an
 * assignment before it in its command (`X=1 git …`, `env X=1 git …`) or exported earlier; `$X`,
 * `${X}` and `${X:-default}` in its words are what the line set X to (`$GIT_PREFIX`, which git
 * sets for a `!` alias, is empty at the top). A shell's `-c` script (`sh -c 'git -c … commit
 * "$@"' -`, `bash -c -e "…"`) and what `eval` is given are read as lines of their own, with the
 * variables set here (a double-quoted script has them filled in before it runs) and the
 * script's own arguments as `$0`, `$1`, ….
 */
function shellGitArgs(
  line: string,
  exportedIn: Readonly<Record<string, string>> = {},
  shellIn: Readonly<Record<string, string>> = { GIT_PREFIX: "" },
  depth = 0,
  budget = { words: MAX_SHELL_WORDS },
): { args: string[]; vars: Record<string, string> }[] {
  const out: { args: string[]; vars: Record<string, string> }[] = [];
  const words = shellWords(spellTop(line));
  budget.words -= words.length;
  const exported: Record<string, string> = { ...exportedIn };
  const shell: Record<string, string> = { ...shellIn, ...exportedIn };
  let own: Record<string, string> = {};
  let command: string[] = [];
  const assignment = (text: string): [string, string] | null => {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(text);
    return m === null ? null : [m[1] ?? "", m[2] ?? ""];
  };
  /** A variable's value: the command's own assignments first, then the shell's. */
  type Lookup = (name: string) => string | undefined;
  const inShell: Lookup = (name) => (Object.hasOwn(shell, name) ? shell[name] : undefined);
  const inCommand: Lookup = (name) => (Object.hasOwn(own, name) ? own[name] : inShell(name));
  const expand = (text: string, vars: Lookup): string => {
    const done = text.replace(
      /\$(?:\{([A-Za-z_][A-Za-z0-9_]*|[0-9]+)(?:(:?)([-=])([^}]{0,512}))?\}|([A-Za-z_][A-Za-z0-9_]*|[0-9]))/g,
      (all, braced?: string, colon?: string, op?: string, fallback?: string, bare?: string) => {
        const value = vars(braced ?? bare ?? "");
        if (op === undefined) return value ?? all;
        // `${X:-default}`: the default when X is unset (or empty, with the colon).
        return value === undefined || (colon === ":" && value === "")
          ? expand(fallback ?? "", vars)
          : value;
      },
    );
    // Values that double at each assignment (`A1=$A0$A0`, …) would grow exponentially: one
    // longer than any path or argument git is given is left as written.
    return done.length > MAX_SHELL_VALUE ? text : done;
  };
  /** A command of assignments only sets shell variables (and exported ones stay exported). */
  const endCommand = (): void => {
    if (command.length === 0) for (const [name, value] of Object.entries(own)) shell[name] = value;
    own = {};
    command = [];
  };
  let exporting = false;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w?.kind !== "word") {
      endCommand();
      exporting = false;
      continue;
    }
    const set = assignment(w.text);
    if (command.length === 0 && /^(export|declare|typeset|readonly|local)$/.test(w.text))
      exporting = true;
    if (set !== null && exporting) {
      const value = expand(set[1], inShell);
      exported[set[0]] = value;
      shell[set[0]] = value;
      continue;
    }
    if (set !== null && (command.length === 0 || command[0] === "env")) {
      own[set[0]] = expand(set[1], inShell);
      continue;
    }
    // The command may be named by a variable (`G=git; $G -c …`). (Looked up, not copied: a
    // script of thousands of assignments would copy them all for every word.)
    const name = basenameOf(expand(w.text, inCommand));
    command.push(name);
    if (depth >= 4 || !(name === "eval" || name === "git" || SHELLS.has(name))) continue;
    // Its words, as many as a command line of git's options holds: every word of a long
    // command may be read as a command, so reading all the rest for each would be quadratic.
    // git's: its options, up to its command (all that is read of them).
    const rest: string[] = [];
    let j = i + 1;
    for (
      let value = false;
      j < words.length && words[j]?.kind === "word" && j <= i + MAX_ARGS;
      j++
    ) {
      const word = words[j]?.text ?? "";
      rest.push(word);
      if (name !== "git" || value) value = false;
      else if (word === "-c" || GIT_VALUE_OPTIONS.has(word)) value = true;
      else if (!/^[-$]/.test(word)) {
        j++;
        break;
      }
    }
    budget.words -= rest.length;
    if (budget.words < 0) break;
    if (name === "eval") {
      const here = { ...shell, ...own };
      out.push(...shellGitArgs(rest.join(" "), { ...exported, ...own }, here, depth + 1, budget));
      // Those words were read as a line of their own (`eval eval …` would read them again each).
      i = j - 1;
      continue;
    }
    // `sh -c 'script' …`, `bash -ec "…"`, `sh -c -- '…'`: the first operand after the flag.
    if (SHELLS.has(name)) {
      let at = rest.findIndex((r) => /^-[a-z]*c[a-z]*$/.test(r));
      if (at === -1) continue;
      for (at++; at < rest.length && /^[-+]/.test(rest[at] ?? ""); at++) {
        if (rest[at] === "--") {
          at++;
          break;
        }
        if (/^[-+]o$/.test(rest[at] ?? "")) at++;
      }
      const script = rest[at];
      if (script === undefined) continue;
      const positional: Record<string, string> = {};
      rest.slice(at + 1).forEach((arg, n) => {
        positional[String(n)] = expand(arg, inCommand);
      });
      const here = { ...shell, ...own };
      out.push(
        ...shellGitArgs(
          script,
          { ...exported, ...own },
          { ...here, ...positional },
          depth + 1,
          budget,
        ),
      );
      continue;
    }
    if (name !== "git") continue;
    out.push({ args: rest.map((r) => expand(r, inCommand)), vars: { ...exported, ...own } });
  }
  return out;
}

/**
 * The config `--config-env=<key>=<variable>` gives a git run in an alias of git arguments or a
 * `git` a program value runs (what commandConfig reads for `-c`), its value taken from `env`:
 * the variable as safe-npm's caller has it, which a git run later from the same shell has too.
 */
export function configEnvConfig(
  entries: readonly ConfigEntry[],
  env: Readonly<Record<string, string | undefined>>,
): ConfigEntry[] {
  const out: ConfigEntry[] = [];
  for (const e of [...entries, ...commandConfig(entries)]) {
    if (e.value === null) continue;
    const lists =
      e.section === "alias" && e.subsection === null && !/^\s*!/.test(e.value)
        ? [{ args: splitCmdline(e.value), vars: {} }]
        : programKey(e)
          ? shellGitArgs(e.value.replace(/^\s*!/, ""))
          : [];
    for (const { args, vars } of lists) {
      for (let i = 0; i < args.length && (args[i] ?? "").startsWith("-"); i++) {
        const arg = args[i] ?? "";
        const spec = arg.startsWith("--config-env=")
          ? arg.slice("--config-env=".length)
          : arg === "--config-env"
            ? (args[++i] ?? "")
            : null;
        if (spec === null) {
          if (GIT_VALUE_OPTIONS.has(arg) || arg === "-c") i++;
          continue;
        }
        // git splits at the last `=` (the variable's name holds none).
        const eq = spec.lastIndexOf("=");
        const name = spec.slice(eq + 1);
        const value = eq > 0 ? (vars[name] ?? env[name]) : undefined;
        const entry = value === undefined ? null : configParameter(`${spec.slice(0, eq)}=${value}`);
        if (entry !== null && out.length < MAX_COMMAND_CONFIG) out.push(entry);
      }
    }
  }
  return out;
}

/**
 * The config git's environment gives every git run (`GIT_CONFIG_COUNT` with
 * `GIT_CONFIG_KEY_<n>`/`GIT_CONFIG_VALUE_<n>`, and `GIT_CONFIG_PARAMETERS`, what `git -c`
 * passes to the gits it starts): as safe-npm's caller has it, which a git run later from the
 * same shell has too. git-config(1), ENVIRONMENT.
 */
export function envConfig(env: Readonly<Record<string, string | undefined>>): ConfigEntry[] {
  const out: ConfigEntry[] = [];
  const add = (pair: string): void => {
    const entry = configParameter(pair);
    if (entry !== null && out.length < MAX_COMMAND_CONFIG) out.push(entry);
  };
  // `'key'='value'` or `'key=value'`, single-quoted with `'\''` for a quote and `'\!'` for a
  // `!` (git's sq_quote_buf), space-separated.
  const params = env.GIT_CONFIG_PARAMETERS ?? "";
  for (const m of params.matchAll(/((?:'[^']*'|\\.)+)(?:=((?:'[^']*'|\\.)+))?/gs)) {
    const unquote = (s: string): string => s.replace(/'([^']*)'|\\(.)/gs, "$1$2");
    const key = unquote(m[1] ?? "");
    add(m[2] === undefined ? key : `${key}=${unquote(m[2])}`);
  }
  const count = Number(env.GIT_CONFIG_COUNT ?? "0");
  for (let i = 0; Number.isInteger(count) && i < Math.min(count, MAX_COMMAND_CONFIG); i++) {
    const key = env[`GIT_CONFIG_KEY_${i}`];
    const value = env[`GIT_CONFIG_VALUE_${i}`];
    if (key !== undefined && value !== undefined) add(`${key}=${value}`);
  }
  return out;
}

/** `section[.subsection].key[=value]` as git's `-c` reads it; null if no key. */
function configParameter(pair: string): ConfigEntry | null {
  const eq = pair.indexOf("=");
  const name = eq < 0 ? pair : pair.slice(0, eq);
  const first = name.indexOf(".");
  const last = name.lastIndexOf(".");
  if (first <= 0 || last === name.length - 1) return null;
  return {
    section: name.slice(0, first).toLowerCase(),
    subsection: first === last ? null : name.slice(first + 1, last),
    key: name.slice(last + 1).toLowerCase(),
    value: eq < 0 ? null : pair.slice(eq + 1),
  };
}

/** git's split_cmdline: words at whitespace, `'` and `"` quotes, `\` outside `'`. */
function splitCmdline(line: string): string[] {
  const out: string[] = [];
  let word: string | null = null;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    let c = line[i] ?? "";
    if (quote === null && /\s/.test(c)) {
      if (word !== null) out.push(word);
      word = null;
    } else if (quote === null && (c === "'" || c === '"')) {
      quote = c;
      word ??= "";
    } else if (c === quote) quote = null;
    else {
      if (c === "\\" && quote !== "'") c = line[++i] ?? "";
      word = (word ?? "") + c;
    }
  }
  if (word !== null) out.push(word);
  return out;
}

/** The services git-remote-ext's `%s` and `%S` stand for. */
const EXT_SERVICES = ["upload-pack", "receive-pack", "upload-archive"];

/**
 * The commands of `ext::` transports (git-remote-ext(1)), each as a shell line of its words:
 * a remote's url or pushurl after git's rewriting (url.<base>.insteadOf and pushInsteadOf, the
 * longest prefix), and a url base that is one.
 */
function extCommands(entries: readonly ConfigEntry[]): string[] {
  const rules: { prefix: string; base: string }[] = [];
  const urls: string[] = [];
  // The remotes whose helper is git-remote-ext (`remote.<x>.vcs = ext`): their urls are its
  // commands, `ext::` or not.
  const extRemotes = new Set<string>();
  const remoteUrls: { remote: string; url: string }[] = [];
  for (const e of entries) {
    if (e.section === "url" && e.subsection !== null) {
      // `[url "ext::sh tools/x.sh"] insteadOf = origin`: what a URL typed as `origin` becomes.
      urls.push(e.subsection);
      if ((e.key === "insteadof" || e.key === "pushinsteadof") && e.value !== null)
        rules.push({ prefix: e.value, base: e.subsection });
    }
    if (e.section === "remote" && e.subsection !== null && e.value !== null) {
      if (e.key === "url" || e.key === "pushurl") {
        urls.push(e.value);
        remoteUrls.push({ remote: e.subsection, url: e.value });
      }
      if (e.key === "vcs" && e.value.trim() === "ext") extRemotes.add(e.subsection);
    }
    // A remote's name where git takes one is a URL when no such remote is configured
    // (`branch.master.remote = ext::sh tools/x.sh`, `remote.pushDefault`).
    if (e.value !== null && remoteNameKey(e)) urls.push(e.value);
  }
  const rewrite = (url: string): string[] => {
    // A fetch and a push rewrite with their own rules: both are taken, and ties of length.
    const longest = Math.max(
      -1,
      ...rules.filter((r) => url.startsWith(r.prefix)).map((r) => r.prefix.length),
    );
    const bases = rules.filter((r) => r.prefix.length === longest && url.startsWith(r.prefix));
    return [url, ...bases.map((r) => r.base + url.slice(longest))];
  };
  const commands = urls.flatMap(rewrite).flatMap((url) => {
    const command = /^\s*ext::(.*)$/s.exec(url)?.[1];
    return command === undefined ? [] : [command];
  });
  // git gives the helper the url with any `<name>::` taken off (transport-helper.c).
  for (const { remote, url } of remoteUrls)
    if (extRemotes.has(remote))
      for (const rewritten of rewrite(url)) commands.push(rewritten.replace(/^[^:]*::/s, ""));
  const out = new Set<string>();
  for (const command of commands) {
    for (const service of EXT_SERVICES) {
      const argv = extArgv(command, service);
      if (argv !== null) out.add(argv.map(shellQuote).join(" "));
    }
  }
  return [...out];
}

/**
 * git-remote-ext's words (remote-ext.c strip_escapes): split at spaces, `% ` a space, `%%` a
 * `%`, `%s` / `%S` the service, a word starting `%G` / `%V` not passed; null for what git
 * refuses (another placeholder), which runs nothing.
 */
function extArgv(command: string, service: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  while (i < command.length) {
    let word = "";
    let special = false;
    const start = i;
    for (; i < command.length && command[i] !== " "; i++) {
      if (command[i] !== "%") {
        word += command[i];
        continue;
      }
      const c = command[++i];
      if (c === " " || c === "%") word += c;
      else if (c === "s") word += service;
      else if (c === "S") word += `git-${service}`;
      else if ((c === "G" || c === "V") && i === start + 1) special = true;
      else return null;
    }
    // One space ends a word; a second starts an empty one.
    i++;
    if (!special) out.push(word);
  }
  return out;
}

/** A program value git runs in the git dir (upload-pack's and receive-pack's), not the top. */
export function runsInGitDir(e: ConfigEntry): boolean {
  return (
    e.subsection === null &&
    ((e.section === "core" && e.key === "alternaterefscommand") ||
      (e.section === "uploadpack" && e.key === "packobjectshook"))
  );
}

/** A key whose value is a remote's name, or a URL where no remote has that name. */
function remoteNameKey(e: ConfigEntry): boolean {
  if (e.section === "branch" && e.subsection !== null)
    return e.key === "remote" || e.key === "pushremote";
  return e.section === "remote" && e.subsection === null && e.key === "pushdefault";
}

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, "'\\''")}'`;
}

/** The shells whose `-c` argument is a command line of its own, read the same way. */
const SHELLS = new Set(["sh", "bash", "dash", "zsh", "ksh", "fish"]);

/**
 * One command line from the folders `bases0` of the top (where it may run; none: unknown):
 * each command's program, the script an interpreter is given and what node loads before it,
 * the later words; `cd` moves the folder (a failed one may not: after `;` or `||` both count,
 * and a subshell's ends with it), `NAME=value` sets a variable (for `$NAME` later, node's
 * options, PATH), and `sh -c '…'` is read as a line of its own.
 */
function scan(
  line: string,
  bases0: readonly string[],
  add: (path: string, named: ProgramFile["named"]) => void,
  depth: number,
  vars0: ReadonlyMap<string, string> = new Map(),
): void {
  let bases = [...bases0];
  const vars = new Map(vars0);
  const stack: string[][] = [];
  let first = true;
  let interpreter: string | null = null;
  let module = false;
  let inline = false;
  // The next word is a folder: of `cd` (the shell moves), or of an option (its command does).
  let cdNext: "cd" | "option" | null = null;
  let redirected = false;
  // After `env`, `exec`, `nohup`, `timeout`, …: the program comes later (a wrapper's own
  // arguments are not known: every word is looked up on PATH until an interpreter). After
  // `export`, `declare`: assignments.
  let prefix = false;
  let wrapper = false;
  let exporting = false;
  let skipNext = false;
  // The folders before the last `cd`, and whether the next operator makes its success certain.
  let beforeCd: string[] | null = null;
  // The command's program (its last path component), and whether a package manager's next
  // word may make it run a command (`npm exec`, `pnpm dlx`).
  let program: string | null = null;
  let managerNext = false;
  let gitConfigNext = false;
  let makeFileNext = false;
  // The folders before an option moved this command alone (`make -C tools`, `env -C tools`).
  let commandBases: string[] | null = null;
  /** At a command's end: make reads its makefile in the folder it ends up in, there or not. */
  const endCommand = (): void => {
    if (program !== null && MAKES.has(program))
      for (const base of bases)
        for (const name of MAKEFILES) add(base === "" ? name : `${base}/${name}`, "path");
    program = null;
    managerNext = false;
    gitConfigNext = false;
    makeFileNext = false;
    if (commandBases !== null) bases = commandBases;
    commandBases = null;
  };
  // node's next word: a file it loads (`-r ./x.js`), code (`-e "require('./x')"`), or the
  // value of another option of node's.
  let nodeNext: "load" | "file" | "code" | "skip" | null = null;
  /**
   * `word` from `base`; each level of a folder its `..` steps out of is watched as a `cd`
   * folder is (`sub/../x.sh`: `sub` made a link would lead the `..` elsewhere).
   */
  const from = (base: string, word: string): string | null => {
    const outOf: string[] = [];
    const path = at(base, word, outOf);
    for (const dir of outOf) cdInto("", dir);
    return path;
  };
  const each = (word: string): string[] =>
    bases.flatMap((b) => {
      const path = from(b, word);
      return path === null ? [] : [path];
    });
  /** `cd` moves the shell (`shell`); a folder option only its command. */
  const moveTo = (word: string, shell: boolean): void => {
    const moves = bases.flatMap((base) => {
      const outOf: string[] = [];
      const to = joinRel(base, word, outOf);
      for (const dir of outOf) cdInto("", dir);
      return [{ from: base, to }];
    });
    if (shell) beforeCd = bases;
    else commandBases ??= bases;
    bases = [...new Set(moves.map((m) => m.to))].slice(0, MAX_BASES);
    for (const { from, to } of moves) cdInto(from, to);
  };
  /**
   * Code node loads from the value's folder, a bare name from NODE_PATH's folders; with `code`
   * false, a file node reads by its path (`--env-file`, `--openssl-config`).
   */
  const nodeLoad = (value: string, code = true): void => {
    if (value === "" || value.includes("$")) return;
    if (!code) {
      for (const path of each(value)) add(path, "script");
      return;
    }
    // A bare name is a package: node looks in the project's package.json (its own name) and
    // node_modules first, which the project's installs write (README limit), then NODE_PATH.
    const bare = !/^\.\.?(\/|$)/.test(value) && !isRooted(value);
    const paths = !bare
      ? each(value)
      : (vars.get("NODE_PATH") ?? "")
          .split(":")
          .filter((dir) => dir !== "" && !dir.includes("$"))
          .flatMap((dir) => each(`${dir}/${value}`));
    for (const path of paths) {
      add(path, "script");
      for (const tail of REQUIRE_TRIES) add(`${path}${tail}`, "script");
    }
  };
  /** The paths node code loads by a relative or absolute name: require, import, from. */
  const nodeCode = (code: string): void => {
    for (const m of code.matchAll(
      /\b(?:require|import)\s*\(\s*(["'`])([^"'`]+)\1|\bfrom\s*(["'])([^"']+)\3|\bimport\s*(["'])([^"']+)\5/g,
    )) {
      const spec = m[2] ?? m[4] ?? m[6] ?? "";
      if (/^\.\.?(\/|$)/.test(spec) || spec.startsWith("/")) nodeLoad(spec);
    }
  };
  /** A node option's value as node gives it (`--require ./x`, `--require=./x`). */
  const nodeOption = (name: string, value: string | undefined): boolean => {
    const load = LOADING_OPTION.exec(name);
    if (load !== null) {
      const code = CODE_OPTION.test(load[1] ?? "");
      if (value !== undefined) nodeLoad(value, code);
      else nodeNext = code ? "load" : "file";
      return true;
    }
    if (/^(-e|-p|-pe|-ep|--eval|--print)$/.test(name)) {
      if (value !== undefined) {
        nodeCode(value);
        interpreter = null;
      } else nodeNext = "code";
      return true;
    }
    if (value === undefined && NODE_VALUE_OPTIONS.has(name)) {
      nodeNext = "skip";
      return true;
    }
    return false;
  };
  const assign = (name: string, value: string): void => {
    vars.set(name, value);
    if (name === "NODE_OPTIONS") {
      for (const { option, value: file } of nodeLoads(value))
        nodeLoad(file, CODE_OPTION.test(option));
    }
  };
  /** `PATH=.venv/bin:$PATH python`: the program found in a folder the value puts on PATH. */
  const onPath = (program: string): void => {
    const path = vars.get("PATH");
    if (path === undefined || program.includes("/")) return;
    for (const dir of path.split(":")) {
      if (dir === "" || dir.includes("$") || dir.split("/").includes("node_modules")) continue;
      for (const found of each(`${dir}/${program}`)) add(found, "path");
    }
  };
  /**
   * The folder a value moves to, each level of it: none may become a link. The levels it
   * shares with the folder it moves from were added when the value moved there.
   */
  const cdInto = (from: string, to: string): void => {
    if (isRooted(to) || to === "") return;
    const parts = to.split("/");
    const fromParts = from === "" || isRooted(from) ? [] : from.split("/");
    let shared = 0;
    while (shared < fromParts.length && fromParts[shared] === parts[shared]) shared++;
    for (let i = shared + 1; i <= parts.length; i++) {
      const level = parts.slice(0, i).join("/");
      if (!aboveTop(level)) add(level, "cd");
    }
  };
  /** `make -Ctools`, `--directory=tools`, `env -Ctools`: a folder option; true when it was one. */
  const chdirOption = (word: string): boolean => {
    if (word === "-C" || word === "--chdir" || word === "--directory") {
      cdNext = "option";
      return true;
    }
    const to = /^(?:--chdir=|--directory=|-C)(.+)$/.exec(word)?.[1];
    if (to === undefined) return false;
    moveTo(to, false);
    return true;
  };
  // `"$(node scripts/msg.js)"`, `` `node x.js` ``: command lines of their own, read where the
  // word that holds them is (a word with one stands for what it prints: not known here).
  const { text, inner } = substitutions(line);
  const tokens = shellWords(text);
  for (const [i, token] of tokens.entries()) {
    if (token.kind === "word" && token.text.includes(SUBST)) {
      for (const m of token.text.matchAll(SUBST_MARK)) {
        const sub = inner[Number(m[1])];
        if (sub !== undefined && depth < 4) scan(sub, bases, add, depth + 1, vars);
      }
    }
    if (token.kind === "op" && (token.text === "<" || token.text === ">")) {
      // `sh -s < hook`: the next word is a file, not a command.
      redirected = token.text === "<";
      continue;
    }
    if (token.kind === "op") {
      endCommand();
      // A `cd` that may have failed: what follows may run in either folder.
      if (beforeCd !== null) {
        const certain = token.text === "&" && tokens[i + 1]?.text === "&";
        if (!certain) bases = [...new Set([...bases, ...beforeCd])].slice(0, MAX_BASES);
        beforeCd = null;
      }
      if (token.text === "(") stack.push(bases);
      if (token.text === ")") bases = stack.pop() ?? bases;
      first = true;
      interpreter = null;
      module = false;
      inline = false;
      cdNext = null;
      prefix = false;
      wrapper = false;
      exporting = false;
      skipNext = false;
      nodeNext = null;
      continue;
    }
    const assignment =
      first || exporting ? /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(token.text) : null;
    if (assignment !== null) {
      assign(assignment[1] ?? "", assignment[2] ?? "");
      continue;
    }
    if (skipNext) {
      skipNext = false;
      continue;
    }
    const word = token.text.includes(SUBST) ? null : expandVars(token.text, vars);
    if (nodeNext !== null) {
      if (word !== null) {
        if (nodeNext === "load" || nodeNext === "file") nodeLoad(word, nodeNext === "load");
        else if (nodeNext === "code") {
          nodeCode(word);
          // Code instead of a script: the later words are its arguments.
          interpreter = null;
        }
      }
      nodeNext = null;
      continue;
    }
    if (redirected) {
      redirected = false;
      if (word !== null) for (const path of each(word)) add(path, "script");
      continue;
    }
    if (cdNext !== null) {
      // `cd -P tools`, `cd -- tools`: cd's own options come first.
      if (cdNext === "cd" && word !== null && /^(-[LPe@]+|--)$/.test(word)) continue;
      const shell = cdNext === "cd";
      cdNext = null;
      if (word !== null) moveTo(word, shell);
      else {
        if (!shell) commandBases ??= bases;
        bases = [];
      }
      continue;
    }
    if (exporting) {
      // `declare -x NAME=…`: its options.
      continue;
    }
    if (first && prefix && (word === "-S" || word === "--split-string")) {
      // `env -S "node hook"`: the next word is a command line of its own.
      inline = true;
      first = false;
      continue;
    }
    if (first && wrapper && (word === "-c" || word === "--call")) {
      // `npx -c 'node hook'`, `npm exec -c …`: a command line of its own.
      inline = true;
      first = false;
      continue;
    }
    if (first && word === "function") {
      // `function f { node hook; }`: its name.
      skipNext = true;
      continue;
    }
    if (first && (prefix || wrapper) && word?.startsWith("-")) {
      if (chdirOption(word)) continue;
      if (word === "-u" || word === "--unset") skipNext = true;
      continue;
    }
    // `f() { node hook; }; f`, `if …; then node hook; fi`: a command starts after these.
    if (first && word !== null && KEYWORDS.has(word)) continue;
    if (first && word !== null && PREFIXES.has(basenameOf(word))) {
      prefix = true;
      continue;
    }
    if (first && word !== null && WRAPPERS.has(basenameOf(word))) {
      wrapper = true;
      continue;
    }

    if (first && word !== null && DECLARES.has(word)) {
      first = false;
      exporting = true;
      continue;
    }
    if (first && wrapper && word !== null && !INTERPRETERS.has(basenameOf(word))) {
      // A wrapper's own argument, or the program: looked up as both.
      onPath(word);
      if (word.includes("/")) for (const path of each(word)) add(path, "path");
      continue;
    }
    if (first) {
      first = false;
      prefix = false;
      wrapper = false;
      program = word === null ? null : basenameOf(word);
      managerNext = program !== null && MANAGERS.has(program);
      if (word !== null) onPath(word);
      if (word === "cd" || word === "pushd") cdNext = "cd";
      else if (word !== null && INTERPRETERS.has(basenameOf(word))) interpreter = basenameOf(word);
      else if (word?.includes("/")) {
        const paths = bases.length === 0 ? (isRooted(word) ? [word] : []) : each(word);
        for (const path of paths) add(path, "path");
      }
      continue;
    }
    if (managerNext) {
      managerNext = false;
      // `npm exec -- node hook`, `pnpm dlx`, `yarn exec`, `bun x`: a command follows.
      if (word !== null && MANAGER_RUNS.has(word)) {
        first = true;
        wrapper = true;
        program = null;
        continue;
      }
    }
    if (inline && word === null && !token.text.includes(SUBST)) {
      // `sh -c 'tools/x.sh "$0"'`: the script's own variables (its arguments, what the value
      // does not set) are the script's words to read, not a reason to skip the script.
      if (depth < 4) scan(token.text, bases, add, depth + 1, vars);
      interpreter = null;
      inline = false;
      continue;
    }
    if (word === null) continue;
    if (inline && word === "--") continue;
    if (program === "git" && gitConfigNext) {
      // `git -c core.fsmonitor="node tools/fsmon.js" status`: a program value of its own.
      gitConfigNext = false;
      const value = /^[^=]*=(.*)$/s.exec(word)?.[1];
      if (value !== undefined && depth < 4)
        scan(value.replace(/^\s*!/, ""), bases, add, depth + 1, vars);
      continue;
    }
    if (program === "git" && word === "-c") {
      gitConfigNext = true;
      continue;
    }
    if (program !== null && MAKES.has(program) && makeFileNext) {
      makeFileNext = false;
      for (const path of each(word)) add(path, "path");
      continue;
    }
    if (program !== null && MAKES.has(program)) {
      // `make -f release.mk`: the makefile it reads instead.
      const file = /^(?:-f|--file=|--makefile=)(.+)$/.exec(word)?.[1];
      if (file !== undefined) {
        for (const path of each(file)) add(path, "path");
        continue;
      }
      if (word === "-f" || word === "--file" || word === "--makefile") {
        makeFileNext = true;
        continue;
      }
    }
    if (inline) {
      // `sh -c 'node tools/x.js'`: the argument is a command line, with the variables set here.
      if (depth < 4) scan(word, bases, add, depth + 1, vars);
      interpreter = null;
      inline = false;
      continue;
    }
    if (interpreter !== null && NODE_LIKE.has(interpreter) && word.startsWith("-")) {
      // node reads `_` in an option's name as `-` (`--experimental_loader`).
      const option = word.replace(/^--[A-Za-z0-9_-]+/, (name) => name.replace(/_/g, "-"));
      const eq = option.indexOf("=");
      const name = eq < 0 ? option : option.slice(0, eq);
      // node has no folder option (`-Cdev` is a condition).
      nodeOption(name, eq < 0 ? undefined : option.slice(eq + 1));
      continue;
    }
    if (chdirOption(word)) continue;
    if (word.startsWith("-")) {
      if (interpreter?.startsWith("python") && word === "-m") module = true;
      if (interpreter !== null && SHELLS.has(interpreter) && /^-[a-z]*c[a-z]*$/.test(word))
        inline = true;
      // `bash -O extglob -c …`: a shell option's name.
      if (interpreter !== null && SHELLS.has(interpreter) && /^-[oO]$/.test(word)) skipNext = true;
      continue;
    }
    if (interpreter !== null && SHELLS.has(interpreter) && /^\+[oO]$/.test(word)) {
      skipNext = true;
      continue;
    }
    if (bases.length === 0) continue;
    if (interpreter !== null) {
      for (const path of each(module ? word.replace(/\./g, "/") : word)) {
        add(path, "script");
        for (const ext of module ? [".py"] : (SCRIPT_EXTENSIONS[interpreter] ?? []))
          add(`${path}${ext}`, "script");
      }
      // Its later words are the script's own arguments.
      interpreter = null;
      module = false;
      continue;
    }
    if (/[*?[]/.test(word)) continue;
    for (const base of bases) {
      const path = from(base, word);
      if (path !== null) add(path, word.includes("/") || base !== "" ? "path" : "word");
    }
  }
  endCommand();
}

/** What stands in a line for a command substitution (`\0S<n>\0`), which no value holds. */
const SUBST = "\0S";
const SUBST_MARK = /\0S(\d+)\0/g;

/**
 * The command substitutions of a line (`$(…)`, nested too, and backquotes), in single or
 * double quotes or none, each replaced by a mark: the line's own words stay as they were.
 */
function substitutions(line: string): { text: string; inner: string[] } {
  const inner: string[] = [];
  let text = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i] ?? "";
    if (c === "\\" && i + 1 < line.length) {
      text += c + (line[++i] ?? "");
      continue;
    }
    if (c === "$" && line[i + 1] === "(" && line[i + 2] !== "(") {
      let level = 0;
      let j = i + 1;
      for (; j < line.length; j++) {
        if (line[j] === "(") level++;
        else if (line[j] === ")" && --level === 0) break;
      }
      inner.push(line.slice(i + 2, j));
      text += `${SUBST}${inner.length - 1}\0`;
      i = j;
      continue;
    }
    if (c === "`") {
      const j = line.indexOf("`", i + 1);
      if (j < 0) {
        text += c;
        continue;
      }
      inner.push(line.slice(i + 1, j));
      text += `${SUBST}${inner.length - 1}\0`;
      i = j;
      continue;
    }
    text += c;
  }
  return { text, inner };
}

/**
 * Every literal the program values mention that could name a path, however the shell would
 * reach it (`exec node tools/x`, `env -C tools ./x.sh`, `node -e "require('./x')"`,
 * `--require=./x.js`): the values cut at anything a path word does not hold. A safety net
 * under programFiles' reading: integrity.ts keeps read-only each such name that is a script at
 * the top or in a folder the values also mention, node's and python's lookups included.
 */
export function programMentions(entries: readonly ConfigEntry[]): string[] {
  const out = new Set<string>();
  for (const line of programLines(entries)) {
    for (const token of spellTop(line).split(/[^A-Za-z0-9._~/@+%,:-]+/)) {
      // `-Itools`, `-Mhook`: a short option's attached value counts too.
      const attached = token.replace(/^-[A-Za-z](?=[A-Za-z0-9._~/])/, "");
      const word = attached.replace(/^(\.\/+)+/, "");
      // `make` with no folder runs the top's Makefile; `node .` (`./`, `.//`, `./.`) its
      // main: "." is the top.
      if (word === "make" || /^\.(\/+\.?)*$/.test(attached)) out.add(".");
      if (word === "" || word === "." || word.startsWith("-")) continue;
      // `cd tools && node ..`: the top, once read from the folder the value names.
      if (word === "..") {
        out.add("..");
        continue;
      }
      out.add(word);
      // `import tools.hook`, `-m tools.hook`: a module path.
      if (
        /^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$/.test(word) &&
        !/\.(c?js|mjs|ts|sh|py|pm|pl|rb|json)$/.test(word)
      )
        out.add(word.replace(/\./g, "/"));
    }
  }
  return [...out];
}

/**
 * The last path component of every word in the program values (`/usr/bin/python3` is
 * `python3`): which tools they run, for the files those find by name where they run.
 */
export function programWords(entries: readonly ConfigEntry[]): Set<string> {
  const out = new Set<string>();
  for (const line of programLines(entries)) {
    for (const token of spellTop(line).split(/[^A-Za-z0-9._~/@+%,:-]+/))
      if (token !== "") out.add(basenameOf(token));
  }
  return out;
}

/** Words before a command that run it (`env A=1 node x.js`, `exec node x.js`). */
export const PREFIXES: ReadonlySet<string> = new Set([
  "env",
  "exec",
  "command",
  "nohup",
  "builtin",
  "eval",
]);

/** How many paths the program values of one config file may name, at the most. */
const MAX_PROGRAM_FILES = 2048;

/** How many folders a value's commands may run in, at the most (`cd a; cd b; …` doubles them). */
const MAX_BASES = 16;

/** Shell words after which a command starts: groups, functions' bodies, conditions, loops. */
export const KEYWORDS: ReadonlySet<string> = new Set([
  "{",
  "}",
  "if",
  "then",
  "else",
  "elif",
  "fi",
  "do",
  "done",
  "while",
  "until",
  "!",
]);

/** make's own lookup where it runs (GNU make's order); integrity.ts watches the same names. */
const MAKES = new Set(["make", "gmake"]);
export const MAKEFILES: readonly string[] = ["GNUmakefile", "makefile", "Makefile"];

/** Package managers, and their words that run a command given after them. */
const MANAGERS = new Set(["npm", "pnpm", "yarn", "bun"]);
const MANAGER_RUNS = new Set(["exec", "x", "dlx"]);

/** Commands that run a command given later among their own arguments (`timeout 9 node x.js`). */
export const WRAPPERS: ReadonlySet<string> = new Set([
  "timeout",
  "npx",
  "pnpx",
  "bunx",
  "nice",
  "ionice",
  "stdbuf",
  "time",
  "xargs",
  "setsid",
  "chrt",
  "taskset",
  "flock",
  "sudo",
  "doas",
  "unbuffer",
  "watch",
  "strace",
  "ltrace",
  "catchsegv",
]);

/** Builtins whose words are assignments (`export`, bash's `declare -x`). */
const DECLARES = new Set(["export", "declare", "typeset", "local", "readonly"]);

/** node's options that take the next word as their value (`node -C dev x.js`), but the loading ones. */
export const NODE_VALUE_OPTIONS: ReadonlySet<string> = new Set([
  "-C",
  "--conditions",
  "--title",
  "--input-type",
  "--disable-warning",
  "--inspect-port",
  "--debug-port",
  "--icu-data-dir",
  "--redirect-warnings",
  "--diagnostic-dir",
  "--report-dir",
  "--report-directory",
  "--report-filename",
  "--report-signal",
  "--unhandled-rejections",
  "--tls-cipher-list",
  "--watch-path",
  "--cpu-prof-dir",
  "--cpu-prof-name",
  "--heap-prof-dir",
  "--heap-prof-name",
  "--trace-event-categories",
  "--trace-event-file-pattern",
  "--secure-heap",
  "--secure-heap-min",
  "--localstorage-file",
  "--experimental-sea-config",
  "--run",
  "--test-name-pattern",
  "--test-skip-pattern",
  "--test-reporter",
  "--test-reporter-destination",
  "--test-concurrency",
  "--test-shard",
  "--test-timeout",
  "--max-http-header-size",
  "--dns-result-order",
  "--heapsnapshot-signal",
  "--stack-trace-limit",
  "--experimental-policy",
  "--policy-integrity",
  "--watch-kill-signal",
]);

/** Interpreters that take node's options (`--require`, `-e`). */
const NODE_LIKE = new Set(["node", "nodejs", "bun"]);

/** Interpreters whose first argument that is no option is a script (`node fsmon.js`). */
const INTERPRETERS = new Set([
  "node",
  "nodejs",
  "sh",
  "bash",
  "dash",
  "zsh",
  "ksh",
  "fish",
  "python",
  "python3",
  "perl",
  "ruby",
  "php",
  "lua",
  "deno",
  "bun",
  "tsx",
  "ts-node",
  ".",
  "source",
]);

/**
 * What the interpreters' own lookups add to a script's name (node: `fsmon` → `fsmon.js`; for a
 * folder too, before its index: Module._findPath tries `.js`, `.json`, `.node`).
 */
const SCRIPT_EXTENSIONS: Record<string, readonly string[]> = {
  node: [".js", ".json", ".node", ".cjs", ".mjs"],
  nodejs: [".js", ".json", ".node", ".cjs", ".mjs"],
  bun: [".js", ".ts", ".json", ".node"],
  deno: [".js", ".ts"],
  tsx: [".ts", ".js"],
  "ts-node": [".ts", ".js"],
};

/** A word as written that names a path: not an option, a URL or a variable. */
function pathLike(word: string): boolean {
  return (
    word.includes("/") &&
    !word.startsWith("-") &&
    !word.includes("$") &&
    !/^[a-z][a-z0-9+.-]*:\/\//i.test(word)
  );
}

/**
 * `word` from folder `base` of the top (absolute and `~/` words as they are); null if a URL.
 * The folders its `..` steps out of are added to `outOf`.
 */
function at(base: string, word: string, outOf?: string[]): string | null {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(word)) return null;
  return isRooted(word) ? word : joinRel(base, word, outOf);
}

/**
 * `rel` joined onto `base` (both relative to the top), `..` resolved as text. Above the top it
 * stays `../…`: `../<top's name>/x` comes back in (integrity.ts resolves it from the top). The
 * folders a `..` steps out of go to `outOf`: the kernel resolves that `..` where the folder
 * leads, should it become a link.
 */
function joinRel(base: string, rel: string, outOf?: string[]): string {
  if (rel.startsWith("/") || rel.startsWith("~/") || rel === "~") return rel;
  const parts = base === "" ? [] : base.split("/");
  for (const part of rel.split("/")) {
    if (part === "" || part === ".") continue;
    if (part !== "..") parts.push(part);
    else if (parts.length === 0 || parts[parts.length - 1] === "..") parts.push("..");
    else {
      outOf?.push(parts.join("/"));
      parts.pop();
    }
  }
  return parts.join("/");
}

/** A path of `..` alone: the top or a folder above it. */
function aboveTop(path: string): boolean {
  return path === "" || path === "." || /^\.\.(\/\.\.)*$/.test(path);
}

function isRooted(word: string): boolean {
  return word.startsWith("/") || word.startsWith("~/");
}

function basenameOf(word: string): string {
  return word.slice(word.lastIndexOf("/") + 1);
}

/**
 * `$NAME` and `${NAME}` from the value's own assignments; null when the word uses any other
 * variable or substitution (what it names is not known here).
 */
function expandVars(word: string, vars: ReadonlyMap<string, string>): string | null {
  let unknown = false;
  const out = word.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (_, a, b) => {
      const value = vars.get(a ?? b);
      if (value === undefined) unknown = true;
      return value ?? "";
    },
  );
  return unknown || out.includes("$") || out.includes("`") ? null : out;
}

/**
 * How a shell in git's program values spells the top of the worktree, its `.git`, the home,
 * and `dirname` of those, replaced by what they are there: `.`, `.git`, `~`.
 */
function spellTop(value: string): string {
  const sub = (inner: string): string | null => {
    const args = inner.trim().split(/\s+/);
    if (args[0] === "git" && args[1] === "rev-parse") {
      const opts = args.slice(2);
      if (opts.includes("--show-toplevel")) return ".";
      if (opts.includes("--show-cdup")) return "";
      if (opts.some((o) => ["--git-dir", "--absolute-git-dir", "--git-common-dir"].includes(o)))
        return ".git";
      return null;
    }
    if (args[0] === "dirname" && args[1] === "--") args.splice(1, 1);
    if (args[0] === "dirname" && args.length === 2) {
      const path = (args[1] ?? "").replace(/^(["'])(.*)\1$/, "$2");
      if (path.includes("$") || path.includes("`")) return null;
      const i = path.replace(/\/+$/, "").lastIndexOf("/");
      return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
    }
    if (args[0] === "pwd" && args.length === 1) return ".";
    // `$(cd "$(dirname "$0")" && pwd)`: the folder it changes to.
    const cd =
      /^cd\s+(?:-P\s+)?(?:--\s+)?("?)([^"$`\s;&|]+)\1\s*(?:[&\d]?>+\s*\/dev\/null\s*)*(?:&&|;)\s*pwd(?:\s+-P)?\s*$/.exec(
        inner.trim(),
      );
    if (cd !== null) return cd[2] as string;
    return null;
  };
  let out = value;
  // Innermost first: `$(dirname "$(git rev-parse --git-dir)")`.
  for (let round = 0; round < 6; round++) {
    const next = out
      .replace(/\$\(([^()$`]*)\)|`([^`$]*)`/g, (whole, a, b) => sub(a ?? b) ?? whole)
      .replace(/\$\{?PWD\}?(?![A-Za-z0-9_])/g, ".")
      .replace(/\$\{?HOME\}?(?![A-Za-z0-9_])/g, "~");
    if (next === out) break;
    out = next;
  }
  return out;
}

/**
 * The words and operators of a shell command line: quotes removed, a backslash keeping the next
 * character (`my\ mon.sh` is one word), `;` `&` `|` `(` `)` `<` `>` and newlines as operators.
 */
function shellWords(line: string): { kind: "word" | "op"; text: string }[] {
  const out: { kind: "word" | "op"; text: string }[] = [];
  let word = "";
  let inWord = false;
  let quote: '"' | "'" | null = null;
  const end = (): void => {
    if (inWord) out.push({ kind: "word", text: word });
    word = "";
    inWord = false;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i] ?? "";
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === "\\" && i + 1 < line.length && '$`"\\\n'.includes(line[i + 1] ?? "")) {
        word += line[++i];
      } else word += c;
      continue;
    }
    if (c === "\\") {
      if (i + 1 < line.length) word += line[++i];
      inWord = true;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c) && c !== "\n") end();
    else if (";&|()<>\n".includes(c)) {
      end();
      out.push({ kind: "op", text: c });
    } else {
      word += c;
      inWord = true;
    }
  }
  end();
  return out;
}

function programKey(e: ConfigEntry): boolean {
  const sub = e.subsection !== null;
  switch (e.section) {
    case "core":
      return (
        !sub &&
        [
          "fsmonitor",
          "pager",
          "editor",
          "sshcommand",
          "askpass",
          "gitproxy",
          "alternaterefscommand",
        ].includes(e.key)
      );
    case "sequence":
      return !sub && e.key === "editor";
    case "pager":
      return true;
    case "interactive":
      return e.key === "difffilter";
    case "filter":
      return sub && ["clean", "smudge", "process"].includes(e.key);
    case "diff":
      return sub ? ["textconv", "command"].includes(e.key) : e.key === "external";
    case "merge":
      return sub && e.key === "driver";
    case "difftool":
    case "mergetool":
      return sub && (e.key === "cmd" || e.key === "path");
    case "submodule":
      return sub && e.key === "update" && (e.value ?? "").trimStart().startsWith("!");
    case "credential":
      return e.key === "helper";
    case "gpg":
      return e.key === "program" || e.key === "defaultkeycommand";
    case "trailer":
      return sub && (e.key === "command" || e.key === "cmd");
    case "imap":
      return e.key === "tunnel";
    case "guitool":
      return sub && e.key === "cmd";
    case "instaweb":
      return !sub && e.key === "httpd";
    // Read from protected config only by git, but a program all the same.
    case "uploadpack":
      return !sub && e.key === "packobjectshook";
    // A url or pushurl of the `ext::` transport: extCommands.
    case "remote":
      return sub && ["uploadpack", "receivepack"].includes(e.key);
    case "browser":
      return sub && (e.key === "cmd" || e.key === "path");
    case "man":
      return sub && (e.key === "cmd" || e.key === "path");
    case "sendemail":
      return ["tocmd", "cccmd", "smtpserver", "headercmd", "sendmailcmd"].includes(e.key);
    case "alias":
      return !sub && (e.value ?? "").trimStart().startsWith("!");
    default:
      return false;
  }
}
