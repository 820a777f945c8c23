/** Formatting for the terminal: where commands write, and how safe-npm's own errors look. */
import pc from "picocolors";
import type { Output } from "../commands/types.js";
import type { SafeNpmError } from "../errors.js";
import { writeStderr } from "../sandbox/jobstops.js";

export function terminalOutput(): Output {
  // While a sandbox runs, through a relay where it is a terminal (sandbox/jobstops.ts).
  const stderr = (text: string): void => writeStderr(text);
  return {
    stdout: (text) => {
      process.stdout.write(text);
    },
    stderr,
    stderrIsTty: process.stderr.isTTY === true,
    dim: (text) => stderr(pc.dim(text)),
  };
}

/** `✗ message` and its `hint:`. */
export function formatError(error: SafeNpmError): string {
  // Messages and hints name paths and values from the project: printed as escapes, never raw.
  const hint = error.hint === undefined ? "" : `${pc.dim("hint:")} ${printableLines(error.hint)}\n`;
  return `${pc.red(`✗ ${printableLines(error.message)}`)}\n${hint}`;
}

export function formatInternalError(error: unknown): string {
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return `${pc.red(`✗ internal error: ${text}`)}\n`;
}

/** Control and format characters (C0, DEL, C1, bidi overrides, zero-width), separators, lone surrogates. */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu;
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * A path (or any text from outside safe-npm) as it may be printed to a terminal: a file name can
 * hold a newline, an escape sequence or a bidi override, and would otherwise print a line of its
 * own, move the cursor or reorder what follows. Each such character is written as an escape
 * (`\n`, `\x1b`, `\u202e`).
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (ch) => {
    const named = NAMED[ch];
    if (named !== undefined) return named;
    const code = ch.codePointAt(0) as number;
    if (code < 0x100) return `\\x${code.toString(16).padStart(2, "0")}`;
    if (code < 0x10000) return `\\u${code.toString(16).padStart(4, "0")}`;
    return `\\u{${code.toString(16)}}`;
  });
}

/** Text of several lines, each made printable: safe-npm's own line breaks stay. */
export function printableLines(text: string): string {
  return text.split("\n").map(printable).join("\n");
}
