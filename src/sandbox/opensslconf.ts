/**
 * What OpenSSL's config loads into every node the host starts (node reads `OPENSSL_CONF` at
 * start, safe-npm's own included): the files and folders its `.include` lines name, followed
 * into those; the shared objects its `module` (providers) and `dynamic_path` (engines) lines
 * name; and the folders `OPENSSL_CONF_INCLUDE`, `OPENSSL_MODULES` and `OPENSSL_ENGINES` name.
 * guardProject keeps those in the project read-only. Read leniently, line by line
 * (config(5ssl)); a value built on a variable (`$ENV::X`, `${x}`) is not followed.
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

  const visit = (file: string, depth: number): void => {
    add(file, false);
    const text = read(file);
    if (text === null || depth >= MAX_DEPTH) return;
    for (const raw of text.split(/\r?\n|\r/)) {
      const line = raw.replace(/^\s+/, "");
      if (line.startsWith("#")) continue;
      const include = /^\.include\s*=?\s*(.+?)\s*$/.exec(line)?.[1];
      if (include !== undefined) {
        const value = unquote(include);
        if (value.includes("$")) continue;
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
            if (/\.(cnf|conf)$/.test(name)) visit(join(path, name), depth + 1);
        }
        continue;
      }
      const module = /^(module|dynamic_path)\s*=\s*(.+?)\s*$/.exec(line);
      if (module !== null) {
        const value = unquote(module[2] ?? "");
        if (value === "" || value.includes("$")) continue;
        const base = module[1] === "module" ? modulesDir : enginesDir;
        if (isAbsolute(value)) add(value, false);
        else if (base !== null) add(resolve(base, value), false);
        // Else OpenSSL's own folder, under /usr: read-only inside already.
      }
    }
  };
  visit(conf, 0);
  return out;
}

function unquote(value: string): string {
  const v = value.replace(/\s+#.*$/, "").trim();
  return /^(["']).*\1$/.test(v) ? v.slice(1, -1) : v;
}
