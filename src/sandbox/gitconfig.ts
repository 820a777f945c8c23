/**
 * PURE: git's config file syntax, parsed the way git's config.c does, for the few keys safe-npm
 * needs (core.hooksPath, core.worktree, include paths). safe-npm reads a repository's config
 * itself rather than asking git: git would have to be spawned on the start-up path, and reads
 * more than the one file (system, global and included config) in ways that differ by version.
 * Malformed syntax ends the parse, as it makes git refuse the whole file.
 */

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
 * The programs git runs that config names by path — `core.fsmonitor`, `core.pager`,
 * `core.editor`, `core.sshCommand`, `core.askPass`, `core.gitProxy`, `sequence.editor`,
 * `pager.<cmd>`, `interactive.diffFilter`, filter drivers (`filter.<x>.clean`, `smudge`,
 * `process`), `diff.external`, `diff.<x>.textconv` / `command`, `merge.<x>.driver`,
 * `difftool`/`mergetool.<x>.cmd`, `remote.<x>.uploadpack` / `receivepack`, `credential.helper`,
 * `gpg.program`, `gpg.ssh.defaultKeyCommand`, `trailer.<x>.command` and `!` aliases: every word
 * of each value that holds a `/` (the program, or the script an interpreter is given: `node
 * scripts/clean.js`), as written (relative ones run from the top of the worktree), also inside
 * a quoted `sh -c '…'` script; `$(git rev-parse --show-toplevel)` and `$PWD` read as the top
 * (git runs these from there) and `$HOME` as `~`. A word that names no file is only watched.
 */
export function programPaths(entries: readonly ConfigEntry[]): string[] {
  const out: string[] = [];
  for (const words of programValues(entries)) {
    for (const word of words) {
      // Not an option's value (`--git-dir=…`), not a URL, not a variable safe-npm cannot read.
      if (
        word.includes("/") &&
        !word.startsWith("-") &&
        !word.startsWith("$") &&
        !/^[a-z][a-z0-9+.-]*:\/\//i.test(word) &&
        !out.includes(word)
      )
        out.push(word);
    }
  }
  return out;
}

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
]);

/**
 * Words of the same values with no `/` that may name a file at the top of the worktree, where
 * git runs them: `script` when an interpreter is given it (`node fsmon.js`: a missing one is
 * watched, as code inside could create it), else any later word (`git-lfs clean`), which counts
 * only where such a file exists. The first word of a value is looked up on PATH, not here.
 */
export function programWordsAtTop(
  entries: readonly ConfigEntry[],
): { word: string; script: boolean }[] {
  const out: { word: string; script: boolean }[] = [];
  for (const words of programValues(entries)) {
    let afterInterpreter = false;
    words.forEach((word, i) => {
      const interpreter = INTERPRETERS.has(word);
      if (word.startsWith("-")) return;
      const plain =
        i > 0 &&
        !interpreter &&
        !word.includes("/") &&
        !/[$%=~*?[\]{}]/.test(word) &&
        word !== "." &&
        word !== "..";
      if (plain && !out.some((o) => o.word === word && o.script === afterInterpreter))
        out.push({ word, script: afterInterpreter });
      afterInterpreter = interpreter;
    });
  }
  return out;
}

/**
 * The words of each program value: those of the value as written (a quoted word kept whole) and
 * those of the script a shell would see with the quotes gone (`sh -c 'node tools/x.js'`), with
 * the worktree's top and the home directory in place of the ways a shell spells them.
 */
function programValues(entries: readonly ConfigEntry[]): string[][] {
  const out: string[][] = [];
  for (const e of entries) {
    if (e.value === null || !programKey(e)) continue;
    const value = e.value
      .replace(/^\s*!/, "")
      .replace(
        /\$\(\s*git\s+rev-parse\s+--show-toplevel\s*\)|`\s*git\s+rev-parse\s+--show-toplevel\s*`/g,
        ".",
      )
      .replace(
        /\$\(\s*git\s+rev-parse\s+--show-cdup\s*\)|`\s*git\s+rev-parse\s+--show-cdup\s*`/g,
        "",
      )
      .replace(/\$\{?PWD\}?(?![A-Za-z0-9_])/g, ".")
      .replace(/\$\{?HOME\}?(?![A-Za-z0-9_])/g, "~");
    const quoted = [...value.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map(
      (m) => m[1] ?? m[2] ?? m[3] ?? "",
    );
    const script = value.replace(/["'\\]/g, "").split(/[\s;&|()<>`]+/);
    out.push(
      quoted.filter((w) => w !== ""),
      script.filter((w) => w !== ""),
    );
  }
  return out;
}

function programKey(e: ConfigEntry): boolean {
  const sub = e.subsection !== null;
  switch (e.section) {
    case "core":
      return (
        !sub &&
        ["fsmonitor", "pager", "editor", "sshcommand", "askpass", "gitproxy"].includes(e.key)
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
    case "remote":
      return sub && ["uploadpack", "receivepack"].includes(e.key);
    case "credential":
      return e.key === "helper";
    case "gpg":
      return e.key === "program" || e.key === "defaultkeycommand";
    case "trailer":
      return sub && e.key === "command";
    case "alias":
      return !sub && (e.value ?? "").trimStart().startsWith("!");
    default:
      return false;
  }
}
