/** Formatting for the terminal: where commands write, and how safe-npm's own errors look. */
import pc from "picocolors";
import type { Output } from "../commands/types.js";
import type { SafeNpmError } from "../errors.js";

export function terminalOutput(): Output {
  const stderr = (text: string): void => {
    process.stderr.write(text);
  };
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
  const hint = error.hint === undefined ? "" : `${pc.dim("hint:")} ${error.hint}\n`;
  return `${pc.red(`✗ ${error.message}`)}\n${hint}`;
}

export function formatInternalError(error: unknown): string {
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return `${pc.red(`✗ internal error: ${text}`)}\n`;
}
