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
  const add = (path: string, folder: boolean): void => {
    if (!out.some((p) => p.path === path)) out.push({ path, folder });
  };
  const absoluteDir = (name: string): string | null => {
    const value = env[name]?.trim();
    return value && isAbsolute(value) ? value : null;
  };
  const includeDir = absoluteDir("OPENSSL_CONF_INCLUDE");
  const modulesDir = absoluteDir("OPENSSL_MODULES");
  const enginesDir = absoluteDir("OPENSSL_ENGINES");
  for (const dir of [includeDir, modulesDir, enginesDir]) if (dir !== null) add(dir, true);

  // Assignments by section, in the order OpenSSL reads them: `$name`, `${name}`, `$(name)`,
  // `$section::name` and `$ENV::NAME` expand from them (config(5ssl), "Settings").
  const vars = new Map<string, Map<string, string>>();
  let section = "default";
  const expand = (value: string, file: string): string => {
    let unknown: string | null = null;
    const out = value.replace(
      /\$(?:\{([^}]*)\}|\(([^)]*)\)|([A-Za-z0-9_]+(?:::[A-Za-z0-9_]+)?))/g,
      (whole, a, b, c) => {
        const name: string = a ?? b ?? c ?? "";
        const [scope, key] = name.includes("::") ? name.split("::", 2) : [null, name];
        const found =
          scope === "ENV"
            ? env[key ?? ""]
            : (vars.get(scope ?? section)?.get(key ?? "") ??
              (scope === null ? vars.get("default")?.get(key ?? "") : undefined));
        if (found === undefined) unknown ??= whole;
        return found ?? "";
      },
    );
    if (unknown !== null) {
      throw new SafeNpmError(
        "UNSAFE_CONFIG_DIR",
        `the OpenSSL config ${file} (OPENSSL_CONF) names what it loads with ${unknown}, which safe-npm cannot work out, so it cannot keep that file from being planted`,
        { hint: "write that path out in full in the config" },
      );
    }
    return out;
  };

  const visit = (file: string, depth: number): void => {
    add(file, false);
    const text = read(file);
    if (text === null || depth >= MAX_DEPTH) return;
    for (const raw of logicalLines(text)) {
      const line = raw.replace(/^\s+/, "");
      if (line === "") continue;
      const header = /^\[\s*([^\]]*?)\s*\]/.exec(line);
      if (header !== null) {
        section = header[1] ?? "default";
        continue;
      }
      const include = /^\.include\s*=?\s*(.+?)\s*$/.exec(line)?.[1];
      if (include !== undefined) {
        const value = expand(unquote(include), file);
        let path: string;
        if (isAbsolute(value)) path = value;
        else if (includeDir !== null) path = resolve(includeDir, value);
        else {
          // OpenSSL opens it from the current folder: a different file in every folder.
          throw new SafeNpmError(
            "RELATIVE_CONFIG_PATH",
            `the OpenSSL config ${file} (OPENSSL_CONF) includes ${JSON.stringify(value)}, a path OpenSSL opens from the folder a program starts in, and safe-npm cannot keep them all from being planted`,
            { hint: "give the .include an absolute path, or set OPENSSL_CONF_INCLUDE" },
          );
        }
        const names = list(path);
        if (names === null) visit(path, depth + 1);
        else {
          add(path, true);
          for (const name of names)
            if (/\.(cnf|conf)$/i.test(name)) visit(join(path, name), depth + 1);
        }
        continue;
      }
      const setting = /^([A-Za-z0-9_.;:-]+)\s*=\s*(.*?)\s*$/.exec(line);
      if (setting === null) continue;
      // An engine's settings skip what comes before a key's first `.` (`x.dynamic_path`).
      const key = (setting[1] ?? "").replace(/^[^.]*\./, "");
      const rawValue = unquote(setting[2] ?? "");
      // What loads a shared object: a provider's `module`, an engine's `dynamic_path`, the
      // dynamic engine's `SO_PATH` (with `LOAD`) and pkcs11's `MODULE_PATH` — and any value
      // that names one (an engine passes its other keys on as commands).
      const loads = /^(module|dynamic_path|so_path|module_path)$/i.test(key);
      const names = /\.so(\.\d+)*$/.test(rawValue);
      let value: string;
      try {
        value = expand(rawValue, file);
      } catch (error) {
        if (loads || names) throw error;
        value = rawValue;
      }
      (vars.get(section) ?? vars.set(section, new Map()).get(section))?.set(key, value);
      if (!(loads || names) || value === "") continue;
      const base = /^module$/i.test(key)
        ? modulesDir
        : /^dynamic_path$/i.test(key)
          ? enginesDir
          : null;
      if (isAbsolute(value)) add(value, false);
      else if (base !== null) add(resolve(base, value), false);
      else if (value.includes("/")) {
        // dlopen(3) opens a relative path with a `/` from the folder the program starts in.
        throw new SafeNpmError(
          "RELATIVE_CONFIG_PATH",
          `the OpenSSL config ${file} (OPENSSL_CONF) loads ${JSON.stringify(value)}, a path opened from the folder a program starts in, and safe-npm cannot keep them all from being planted`,
          { hint: "give it as an absolute path" },
        );
      }
      // Else a bare name: OpenSSL's own folder or the library path, under /usr.
    }
  };
  visit(conf, 0);
  return out;
}

/**
 * The file's lines as OpenSSL's parser reads them: a `\` at a line's end joins the next, `#`
 * starts a comment anywhere outside quotes, and `\x` is `x`.
 */
function logicalLines(text: string): string[] {
  const out: string[] = [];
  let pending = "";
  for (const raw of text.split(/\r?\n|\r/)) {
    let line = "";
    let quote: string | null = null;
    let continued = false;
    for (let i = 0; i < raw.length; i++) {
      const c = raw[i] ?? "";
      if (c === "\\") {
        if (i === raw.length - 1) {
          continued = true;
          break;
        }
        line += raw[++i] ?? "";
        continue;
      }
      if (quote !== null) {
        if (c === quote) quote = null;
        line += c;
        continue;
      }
      if (c === '"' || c === "'") quote = c;
      else if (c === "#") break;
      line += c;
    }
    pending += line;
    if (continued) continue;
    out.push(pending);
    pending = "";
  }
  if (pending !== "") out.push(pending);
  return out;
}

/** OpenSSL drops quotes anywhere in a value (`/p/"extra".so` is `/p/extra.so`). */
function unquote(value: string): string {
  return value.trim().replace(/"([^"]*)"|'([^']*)'/g, (_, a, b) => a ?? b ?? "");
}
