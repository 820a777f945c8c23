/**
 * The shims `safe-npm setup` installs: where they live, their text, and how to recognise one.
 * A shim is a small sh script named like a package manager (`npm`, `npx`, …) in a directory of
 * safe-npm's, first on the shell's PATH, that runs `safe-npm <tool> <args…>` with the node and the
 * safe-npm that made it. It takes its own directory off PATH first, so safe-npm finds the real
 * tool next on PATH (nvm, volta and corepack shims keep working) and nothing started from there
 * comes back to a shim. safe-npm also skips any shim it meets on PATH (`resolveTool`), so the
 * shim itself is never what gets bound inside as `npm`.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { STASH_EXTRA_CA_SH } from "./nodeca.js";

/** The names the shims take: every tool `safe-npm <tool>` accepts. */
export const SHIM_TOOLS = ["npm", "npx", "yarn", "yarnpkg", "pnpm", "pnpx", "bun", "bunx"] as const;

/** The second line of every shim: how safe-npm tells its shims from anything else. */
export const SHIM_MARKER = "# safe-npm shim:";

/** `$XDG_DATA_HOME/safe-npm/shims`, default `~/.local/share/safe-npm/shims`. */
export function shimDir(env: Readonly<Record<string, string | undefined>>, home: string): string {
  const data =
    env.XDG_DATA_HOME && isAbsolute(env.XDG_DATA_HOME)
      ? env.XDG_DATA_HOME
      : join(home, ".local", "share");
  return join(data, "safe-npm", "shims");
}

/** What a shim runs: safe-npm's bundle with an absolute node, both fixed at `setup`. */
export interface ShimTarget {
  dir: string;
  node: string;
  cli: string;
}

/** A word quoted for sh: `'…'`, with `'` written as `'\''`. */
export function shQuote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

/** The text of the shim for `tool` (pure). */
export function shimScript(tool: string, target: ShimTarget): string {
  return `#!/bin/sh
${SHIM_MARKER} \`${tool}\` runs in safe-npm's sandbox. Made by \`safe-npm setup\`; \`safe-npm teardown\` removes it.
shims=${shQuote(target.dir)}
node=${shQuote(target.node)}
cli=${shQuote(target.cli)}
# This directory comes off PATH: safe-npm then finds the real ${tool} next on PATH, and nothing
# started from here (a package manager's scripts, the real tool) comes back to a shim.
rest=
set -f
saved_ifs=$IFS
IFS=:
for d in $PATH; do
  case "$d" in "$shims" | "$shims/") ;; *) rest="\${rest:+$rest:}$d" ;; esac
done
IFS=$saved_ifs
set +f
PATH=$rest
export PATH
if ! command -v ${tool} >/dev/null 2>&1; then
  printf '%s\n' "$0: ${tool}: not found on PATH (besides this safe-npm shim)" >&2
  exit 127
fi
if [ ! -f "$cli" ] || [ ! -x "$node" ]; then
  printf '%s\\n' "✗ safe-npm: this ${tool} shim runs $cli with $node, which no longer exist(s)" \\
    "hint: run \\\`safe-npm setup\\\` with the safe-npm you use now, or remove the shims with \\\`safe-npm teardown\\\` (by hand: delete $shims and the '# >>> safe-npm shims >>>' block in your shell's rc files)" >&2
  exit 125
fi
# node 20 would load NODE_EXTRA_CA_CERTS before safe-npm starts; safe-npm puts it back.
${STASH_EXTRA_CA_SH}
exec "$node" "$cli" ${tool} "$@"
`;
}

/** The safe-npm a shim calls, read from its text; null when it is not a shim of ours. */
export function parseShim(text: string): { node: string; cli: string } | null {
  const lines = text.split("\n");
  if (!lines[1]?.startsWith(SHIM_MARKER)) return null;
  const value = (name: string): string | null => {
    const line = lines.find((l) => l.startsWith(`${name}='`));
    return line === undefined ? null : line.slice(name.length + 2, -1).replaceAll("'\\''", "'");
  };
  const node = value("node");
  const cli = value("cli");
  return node === null || cli === null ? null : { node, cli };
}

/**
 * The first bytes of `path` when it is a regular file (opened without following a final link and
 * without blocking, so a FIFO on PATH cannot hang the lookup); null otherwise.
 */
export function readHead(path: string, bytes = 1024): string | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    if (!fstatSync(fd).isFile()) return null;
    const buffer = Buffer.alloc(bytes);
    const n = readSync(fd, buffer, 0, bytes, 0);
    return buffer.subarray(0, n).toString("utf8");
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** `path` (followed when a link: a shim may be reached through one) is a safe-npm shim. */
export function isShim(path: string): boolean {
  const head = readHead(path, 256);
  return head?.split("\n")[1]?.startsWith(SHIM_MARKER) === true;
}
