/**
 * PURE: the marked block `safe-npm setup` puts in a shell rc file, and taking it out again —
 * text in, text out. The block is everything from the begin marker's line to the end marker's
 * line, inclusive; nothing else of the file is touched, so teardown gives back the file as it
 * was, byte for byte (line endings included), whatever was added around the block since.
 */
import { shQuote } from "../host/shims.js";

export const BLOCK_BEGIN = "# >>> safe-npm shims >>>";
/**
 * The begin marker when setup had to end the file's last line first (it had no final line
 * break): teardown then takes that line break away too.
 */
export const BLOCK_BEGIN_AFTER_BREAK = `${BLOCK_BEGIN} (safe-npm ended the line above)`;
export const BLOCK_END = "# <<< safe-npm shims <<<";

export type Shell = "bash" | "zsh" | "fish";

/** The lines inside the block: put `dir` first on PATH, once, for that shell. */
export function blockBody(shell: Shell, dir: string): string[] {
  const note =
    "# npm, npx, yarn, pnpm and bun run in safe-npm's sandbox; `safe-npm teardown` removes this block.";
  if (shell === "fish") {
    const quoted = `'${dir.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
    return [note, `if test "$PATH[1]" != ${quoted}`, `    set -gx PATH ${quoted} $PATH`, "end"];
  }
  const quoted = shQuote(dir);
  return [note, `case "$PATH" in ${quoted}:*) ;; *) PATH=${quoted}:"$PATH"; export PATH ;; esac`];
}

/** A marker line the file holds in a way safe-npm cannot take out safely. */
export class RcBlockError extends Error {}

interface Found {
  /** Index of the first character of the begin line. */
  start: number;
  /** Index just after the end line's line break (or the text's end). */
  end: number;
  /** Setup ended the line before the block. */
  addedBreak: boolean;
}

/**
 * The block's lines end in LF whatever the file uses: the shells read LF, and a CR would become
 * part of the last word on each line (zsh stops at `case … in\r` with a parse error).
 */
const EOL = "\n";

/** Lines with their start offsets; a line's text excludes its CR/LF. */
function lines(text: string): { text: string; start: number; next: number }[] {
  const out: { text: string; start: number; next: number }[] = [];
  let at = 0;
  while (at < text.length) {
    const nl = text.indexOf("\n", at);
    const next = nl === -1 ? text.length : nl + 1;
    out.push({ text: text.slice(at, next).replace(/\r?\n$/, ""), start: at, next });
    at = next;
  }
  return out;
}

/** Every block in `text`; a begin without an end, or an end without a begin, is an error. */
function findBlocks(text: string): Found[] {
  const found: Found[] = [];
  let open: { start: number; addedBreak: boolean } | null = null;
  for (const line of lines(text)) {
    const trimmed = line.text.trim();
    if (trimmed === BLOCK_BEGIN || trimmed === BLOCK_BEGIN_AFTER_BREAK) {
      if (open !== null) throw new RcBlockError(`a second "${BLOCK_BEGIN}" before "${BLOCK_END}"`);
      open = { start: line.start, addedBreak: trimmed === BLOCK_BEGIN_AFTER_BREAK };
    } else if (trimmed === BLOCK_END) {
      if (open === null) throw new RcBlockError(`"${BLOCK_END}" without "${BLOCK_BEGIN}" above it`);
      found.push({ ...open, end: line.next });
      open = null;
    }
  }
  if (open !== null) throw new RcBlockError(`"${BLOCK_BEGIN}" without "${BLOCK_END}" below it`);
  return found;
}

export interface BlockEdit {
  text: string;
  /** added: there was none; replaced: one was there with other lines (edited, or another path). */
  change: "added" | "replaced" | "unchanged";
}

/**
 * `text` with exactly one block holding `body`: appended when there is none (so it runs after
 * whatever else puts directories on PATH: nvm, volta), the first one's lines replaced when they
 * differ, any further copy removed.
 */
export function addBlock(text: string, body: readonly string[]): BlockEdit {
  const blocks = findBlocks(text);
  const eol = EOL;
  const first = blocks[0];
  if (first === undefined) {
    const needsBreak = text !== "" && !text.endsWith("\n");
    const begin = needsBreak ? BLOCK_BEGIN_AFTER_BREAK : BLOCK_BEGIN;
    const block = [begin, ...body, BLOCK_END].map((l) => l + eol).join("");
    return { text: text + (needsBreak ? eol : "") + block, change: "added" };
  }
  const begin = first.addedBreak ? BLOCK_BEGIN_AFTER_BREAK : BLOCK_BEGIN;
  const endsWithBreak = /\r?\n$/.test(text.slice(first.start, first.end));
  const block = [begin, ...body, BLOCK_END].map((l) => l + eol).join("");
  const replacement = endsWithBreak ? block : block.slice(0, -eol.length);
  let out = text.slice(0, first.start) + replacement;
  let at = first.end;
  for (const other of blocks.slice(1)) {
    out += text.slice(at, other.start);
    at = other.end;
  }
  out += text.slice(at);
  return { text: out, change: out === text ? "unchanged" : "replaced" };
}

/** `text` without any block; `removed` is false when there was none. */
export function removeBlock(text: string): { text: string; removed: boolean } {
  const blocks = findBlocks(text);
  if (blocks.length === 0) return { text, removed: false };
  let out = "";
  let at = 0;
  for (const block of blocks) {
    let start = block.start;
    // The line break setup added before the block, when the block still ends the file.
    if (block.addedBreak && block.end === text.length && text.slice(0, start).endsWith(EOL)) {
      start -= EOL.length;
    }
    out += text.slice(at, start);
    at = block.end;
  }
  return { text: out + text.slice(at), removed: true };
}

/** The file holds a block (markers checked as in removeBlock). */
export function hasBlock(text: string): boolean {
  return findBlocks(text).length > 0;
}
