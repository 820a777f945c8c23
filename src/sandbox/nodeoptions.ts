/**
 * How node reads the options that make it load a file (NODE_OPTIONS, npm's `node-options`, a
 * command line): shared by the guards of the host's config (hostfiles.ts) and of git's program
 * values (gitconfig.ts).
 */

/** node's options that load a file (or, for bun, a preload or config). */
export const LOADING_OPTION =
  /^(--require|-r|--import|--loader|--experimental-loader|--openssl-config|--env-file|--env-file-if-exists|--snapshot-blob|--preload|--config)(?:=(.*))?$/;

/** The options of LOADING_OPTION whose file node runs as code. */
export const CODE_OPTION = /^(--require|-r|--import|--loader|--experimental-loader|--preload)$/;

/**
 * What `require` tries for a path (Module._findPath): the file, with node's extensions, then
 * a folder's package.json `main` and its index.
 */
export const REQUIRE_TRIES = [
  ".js",
  ".json",
  ".node",
  "/package.json",
  "/index.js",
  "/index.json",
  "/index.node",
];

/**
 * NODE_OPTIONS split as node splits it (src/node_options.cc ParseNodeOptionsEnvVar): a space
 * ends a word, a `"` anywhere toggles quoting, and inside quotes a `\` keeps the next character.
 */
export function nodeOptionWords(text: string): string[] {
  const words: string[] = [];
  let quoted = false;
  let fresh = true;
  for (let i = 0; i < text.length; i++) {
    let c = text[i] as string;
    if (c === "\\" && quoted) {
      if (i + 1 === text.length) break;
      c = text[++i] as string;
    } else if (c === " " && !quoted) {
      fresh = true;
      continue;
    } else if (c === '"') {
      quoted = !quoted;
      continue;
    }
    if (fresh) words.push(c);
    else words[words.length - 1] += c;
    fresh = false;
  }
  return words;
}

const unquote = (v: string): string => v.trim().replace(/^(["'])(.*)\1$/, "$2");

/**
 * Each loading option in `written` and its value, as a shell would split the line and as node
 * splits NODE_OPTIONS (nodeOptionWords): both are kept, so a spelling one of them misreads
 * (`"--openssl-config=/x.cnf"`, a quote inside a word) is still covered.
 */
export function nodeLoads(written: string): { option: string; value: string }[] {
  // node reads `_` in an option's name as `-` (`--experimental_loader`).
  const dashes = (text: string): string =>
    text.replace(/--[A-Za-z0-9_-]+/g, (name) => name.replace(/_/g, "-"));
  const found: { option: string; value: string }[] = [];
  for (const r of dashes(written).matchAll(
    /(--require|-r|--import|--loader|--experimental-loader|--openssl-config|--env-file|--env-file-if-exists|--snapshot-blob|--preload|--config)(?:=|\s+)("[^"]*"|'[^']*'|\S+)/g,
  )) {
    found.push({ option: r[1] ?? "", value: unquote(r[2] ?? "") });
  }
  const words = nodeOptionWords(written).map(dashes);
  for (let i = 0; i < words.length; i++) {
    const m = LOADING_OPTION.exec(words[i] ?? "");
    if (m === null) continue;
    const value = m[2] ?? words[++i];
    if (value !== undefined) found.push({ option: m[1] ?? "", value });
  }
  return found;
}
