/**
 * What OpenSSL's config loads into every node the host starts (node reads `OPENSSL_CONF` at
 * start, safe-npm's own included): the files and folders its `.include` lines name, followed
 * into those; the shared objects its `module` (providers) and `dynamic_path` (engines) lines
 * name; and the folders `OPENSSL_CONF_INCLUDE`, `OPENSSL_MODULES` and `OPENSSL_ENGINES` name.
 * guardProject keeps those in the project read-only. Read line by line (config(5ssl)), with
 * the config's variables expanded; one that cannot be worked out where a path is loaded stops
 * the run.
 * https://docs.openssl.org/3.0/man5/config/
 */
import { isAbsolute, join, resolve } from "node:path";
import { SafeNpmError } from "../errors.js";

export interface OpensslPlace {
  path: string;
  /** A folder whose files OpenSSL reads (an included folder, the modules folder). */
  folder: boolean;
  /** Only named by a setting (a CA file, any absolute path), not known to be loaded. */
  named?: true;
}

/** How deep `.include` is followed (OpenSSL itself stops including a folder from a folder). */
const MAX_DEPTH = 8;

/**
 * `read(path)`: a file's text, or null (missing, not a regular file); `list(path)`: a folder's
 * names, or null when it is not one.
 */
export function opensslPlaces(
  env: Readonly<Record<string, string | undefined>>,
  read: (path: string) => string | null,
  list: (path: string) => string[] | null,
): OpensslPlace[] {
  const conf = env.OPENSSL_CONF?.trim();
  if (!conf || !isAbsolute(conf)) return []; // a relative one stops the run (namedRunFiles)
  const out: OpensslPlace[] = [];
  const add = (path: string, folder: boolean, named = false): void => {
    if (!out.some((p) => p.path === path)) out.push({ path, folder, ...(named ? { named } : {}) });
  };
  const absoluteDir = (name: string): string | null => {
    const value = env[name]?.trim();
    if (!value) return null;
    if (isAbsolute(value)) return value;
    // OpenSSL takes a relative one from the folder a program starts in: a different one in each.
    throw new SafeNpmError(
      "RELATIVE_CONFIG_PATH",
      `your ${name} is ${JSON.stringify(value)}, a folder OpenSSL takes from the one a program starts in, and safe-npm cannot keep them all from being planted`,
      { hint: `set ${name} to an absolute path` },
    );
  };
  const includeDir = absoluteDir("OPENSSL_CONF_INCLUDE");
  const modulesDir = absoluteDir("OPENSSL_MODULES");
  const enginesDir = absoluteDir("OPENSSL_ENGINES");
  for (const dir of [includeDir, modulesDir, enginesDir]) if (dir !== null) add(dir, true);

  // Assignments by section, in the order OpenSSL reads them: `$name`, `${name}`, `$(name)`,
  // `$section::name` and `$ENV::NAME` expand from them (config(5ssl), "Settings").
  const vars = new Map<string, Map<string, string>>();
  let section = "default";
  // `.pragma dollarid:on`: `$` is part of a name, and only `${…}` and `$(…)` expand.
  let dollarid = false;
  let pragmaIncludeDir: string | null = null;
  /** conf_def.c _CONF_get_string: the section, then (for ENV) the environment, then default. */
  const lookup = (scope: string, name: string): string | undefined =>
    vars.get(scope)?.get(name) ??
    (scope === "ENV" ? env[name] : undefined) ??
    vars.get("default")?.get(name);
  /**
   * A value as conf_def.c str_copy makes it: quotes (`"`, `'`, `` ` ``) removed with what they
   * hold kept as written, `\r` `\n` `\b` `\t` outside them made control characters, any other
   * escaped character kept, and variables outside quotes expanded. `unknown`: the first variable
   * that has no value (OpenSSL then refuses the whole config).
   */
  const strCopy = (from: string, scope: string): { value: string; unknown: string | null } => {
    let value = "";
    let unknown: string | null = null;
    const nameChar = (c: string | undefined): boolean =>
      c !== undefined && (/^[A-Za-z0-9_]$/.test(c) || (dollarid && c === "$"));
    let i = 0;
    while (i < from.length) {
      const c = from[i] as string;
      if (c === '"' || c === "'" || c === "`") {
        i++;
        while (i < from.length && from[i] !== c) {
          if (from[i] === "\\" && ++i >= from.length) break;
          value += from[i++];
        }
        if (from[i] === c) i++;
        continue;
      }
      if (c === "\\") {
        const v = from[i + 1];
        i += 2;
        if (v === undefined) break;
        value += ESCAPES[v] ?? v;
        continue;
      }
      if (c === "$" && (!dollarid || from[i + 1] === "{" || from[i + 1] === "(")) {
        let e = i + 1;
        const close = from[e] === "{" ? "}" : from[e] === "(" ? ")" : null;
        if (close !== null) e++;
        let start = e;
        while (nameChar(from[e])) e++;
        let where = scope;
        if (from[e] === ":" && from[e + 1] === ":") {
          where = from.slice(start, e);
          e += 2;
          start = e;
          while (nameChar(from[e])) e++;
        }
        const name = from.slice(start, e);
        const closed = close === null || from[e] === close;
        if (close !== null && closed) e++;
        const found = closed ? lookup(where, name) : undefined;
        if (found === undefined) unknown ??= from.slice(i, e) || "$";
        else value += found;
        i = e;
        continue;
      }
      value += c;
      i++;
    }
    return { value, unknown };
  };
  const cannotWorkOut = (file: string, what: string): SafeNpmError =>
    new SafeNpmError(
      "UNSAFE_CONFIG_DIR",
      `the OpenSSL config ${file} (OPENSSL_CONF) names what it loads with ${what}, which safe-npm cannot work out, so it cannot keep that file from being planted`,
      { hint: "write that path out in full in the config" },
    );
  const relativeLoad = (file: string, value: string): SafeNpmError =>
    new SafeNpmError(
      "RELATIVE_CONFIG_PATH",
      `the OpenSSL config ${file} (OPENSSL_CONF) loads ${JSON.stringify(value)}, a path opened from the folder a program starts in, and safe-npm cannot keep them all from being planted`,
      { hint: "give it as an absolute path" },
    );

  const visit = (file: string, depth: number): void => {
    add(file, false);
    const text = read(file);
    if (text === null || depth >= MAX_DEPTH) return;
    for (const line of logicalLines(text.replace(/^\uFEFF/, ""))) {
      const s = line.replace(/^[ \t\r\n]+/, "");
      if (s === "") continue;
      if (s.startsWith("[")) {
        const header = /^\[[ \t\r\n]*(.*?)[ \t\r\n]*\]/.exec(s);
        if (header !== null) section = strCopy(header[1] ?? "", section).value;
        continue;
      }
      // The name (conf_def.c eat_alpha_numeric), maybe `section::name`, then `=` and the value.
      let end = nameEnd(s, 0, dollarid);
      let name = s.slice(0, end);
      let scope = section;
      if (s.startsWith("::", end)) {
        scope = name;
        const start = end + 2;
        end = nameEnd(s, start, dollarid);
        name = s.slice(start, end);
      }
      const rest = s.slice(end);
      let p = rest.replace(/^[ \t\r\n]+/, "");
      // `.include` and `.pragma` need no `=`: any name they begin, then space or `=`.
      const directive = (word: string): boolean =>
        name.startsWith(word) && (name.length > word.length || p !== rest || p.startsWith("="));
      if (directive(".pragma") || directive(".include")) {
        if (p.startsWith("=")) p = p.slice(1).replace(/^[ \t\r\n]+/, "");
        p = p.replace(/[ \t\r\n]+$/, "");
      }
      if (directive(".pragma")) {
        // conf_def.c: `keyword:value`, the keyword compared as written, a boolean in any case.
        const pragma = /^([^:]*?)[ \t\r\n]*:[ \t\r\n]*(.*)$/.exec(p);
        if (pragma?.[1] === "dollarid") {
          if (/^(on|true)$/i.test(pragma[2] ?? "")) dollarid = true;
          else if (/^(off|false)$/i.test(pragma[2] ?? "")) dollarid = false;
        } else if (pragma?.[1] === "includedir") pragmaIncludeDir = pragma[2] ?? "";
        continue;
      }
      if (directive(".include")) {
        const { value, unknown } = strCopy(p, scope);
        if (unknown !== null) throw cannotWorkOut(file, unknown);
        // OPENSSL_CONF_INCLUDE, else the config's own `.pragma includedir`, leads a relative one.
        const base = includeDir ?? pragmaIncludeDir;
        let path: string;
        if (isAbsolute(value)) path = value;
        else if (base !== null && isAbsolute(base)) path = resolve(base, value);
        else {
          // OpenSSL opens it from the current folder: a different file in every folder.
          throw new SafeNpmError(
            "RELATIVE_CONFIG_PATH",
            `the OpenSSL config ${file} (OPENSSL_CONF) includes ${JSON.stringify(value)}, a path OpenSSL opens from the folder a program starts in, and safe-npm cannot keep them all from being planted`,
            {
              hint: "give the .include an absolute path, or an absolute `.pragma includedir` before it",
            },
          );
        }
        const names = list(path);
        if (names === null) visit(path, depth + 1);
        else {
          add(path, true);
          for (const entry of names)
            if (/\.(cnf|conf)$/i.test(entry)) visit(join(path, entry), depth + 1);
        }
        continue;
      }
      if (!p.startsWith("=")) continue; // OpenSSL refuses the whole config
      const raw = p
        .slice(1)
        .replace(/^[ \t\r\n]+/, "")
        .replace(/[ \t\r\n]+$/, "");
      const { value, unknown } = strCopy(raw, scope);
      // An engine's settings skip what comes before a key's first `.` (`x.dynamic_path`).
      const key = name.replace(/^[^.]*\./, "");
      // What loads a shared object: a provider's `module`, an engine's `dynamic_path`, the
      // dynamic engine's `SO_PATH` (with `LOAD`) and pkcs11's `MODULE_PATH` — and any value
      // that names one (an engine passes its other keys on as commands). The dynamic engine's
      // `DIR_ADD` is a folder it loads `<ID>.so` from.
      const loads = /^(module|dynamic_path|so_path|module_path)$/i.test(key);
      const folder = /^dir_add$/i.test(key);
      const names = /\.so(\.\d+)*$/.test(unknown === null ? value : raw.replace(/["'`]/g, ""));
      if (unknown !== null) {
        if (loads || folder || names) throw cannotWorkOut(file, unknown);
        continue;
      }
      (vars.get(scope) ?? vars.set(scope, new Map()).get(scope))?.set(name, value);
      if (/^id$/i.test(key) && value.includes("/")) throw relativeLoad(file, `${value}.so`);
      if (value === "") continue;
      if (!(loads || folder || names)) {
        // Any other absolute path a setting names (a CA file OpenSSL trusts, a folder): kept
        // too, where it is not the project itself.
        if (isAbsolute(value)) add(value, list(value) !== null, true);
        continue;
      }
      const base = /^module$/i.test(key)
        ? modulesDir
        : /^dynamic_path$/i.test(key)
          ? enginesDir
          : null;
      if (isAbsolute(value)) add(value, folder);
      else if (base !== null) add(resolve(base, value), false);
      // dlopen(3) opens a relative path with a `/` from the folder the program starts in; the
      // dynamic engine a relative DIR_ADD folder.
      else if (value.includes("/") || folder) throw relativeLoad(file, value);
      // Else a bare name: OpenSSL's own folder or the library path, under /usr.
    }
  };
  visit(conf, 0);
  return out;
}

/** What an escaped character stands for outside quotes (conf_def.c str_copy). */
const ESCAPES: Readonly<Record<string, string>> = { r: "\r", n: "\n", b: "\b", t: "\t" };

/**
 * Where the name at `start` ends (conf_def.c eat_alpha_numeric): letters, digits, `_` and
 * OpenSSL's punctuation, an escaped character, and `$` with `.pragma dollarid`.
 */
function nameEnd(line: string, start: number, dollarid: boolean): number {
  let i = start;
  while (i < line.length) {
    const c = line[i] as string;
    if (c === "\\") i += i + 1 < line.length ? 2 : 1;
    else if (/^[A-Za-z0-9_!%&*+,\-./;?@^|~]$/.test(c) || (dollarid && c === "$")) i++;
    else break;
  }
  return i;
}

/**
 * The file's lines as conf_def.c def_load_bio makes them: a line ending in one `\` (not two)
 * joins the next, then `#` outside quotes and escapes ends it. Quotes and escapes are left for
 * strCopy.
 */
function logicalLines(text: string): string[] {
  const out: string[] = [];
  let buffer = "";
  for (const physical of text.split("\n")) {
    buffer += physical.replace(/[\r\n]+$/, "");
    if (buffer.endsWith("\\") && !buffer.endsWith("\\\\")) {
      buffer = buffer.slice(0, -1);
      continue;
    }
    out.push(clearComments(buffer));
    buffer = "";
  }
  if (buffer !== "") out.push(clearComments(buffer));
  return out;
}

/** conf_def.c clear_comments: the line up to a `#` that is not quoted or escaped. */
function clearComments(line: string): string {
  let i = 0;
  while (i < line.length) {
    const c = line[i] as string;
    if (c === "#") return line.slice(0, i);
    if (c === '"' || c === "'" || c === "`") {
      i++;
      while (i < line.length && line[i] !== c) {
        if (line[i] === "\\" && ++i >= line.length) return line;
        i++;
      }
      if (line[i] === c) i++;
    } else if (c === "\\") i += i + 1 < line.length ? 2 : 1;
    else i++;
  }
  return line;
}
