#!/usr/bin/env node
/** The command line entry: the only place that prints errors and decides the exit status. */
import pc from "picocolors";
import { run } from "../commands/run.js";
import { EXIT_SAFE_NPM_FAILURE, SafeNpmError } from "../errors.js";
import { VERSION } from "../version.js";
import { HELP, parseArgs } from "./args.js";

export async function main(argv: readonly string[]): Promise<number> {
  const stderr = (text: string): void => {
    process.stderr.write(text);
  };
  try {
    const parsed = parseArgs(argv);
    if ("help" in parsed) {
      process.stdout.write(HELP);
      return 0;
    }
    if ("version" in parsed) {
      process.stdout.write(`${VERSION}\n`);
      return 0;
    }
    return await run(parsed, {
      stdout: (text) => {
        process.stdout.write(text);
      },
      stderr,
      stderrIsTty: process.stderr.isTTY === true,
      dim: (text) => stderr(pc.dim(text)),
    });
  } catch (error) {
    if (error instanceof SafeNpmError) {
      stderr(`${pc.red(`✗ ${error.message}`)}\n`);
      if (error.hint !== undefined) stderr(`${pc.dim("hint:")} ${error.hint}\n`);
      return error.exitCode;
    }
    stderr(
      `${pc.red(`✗ internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)}\n`,
    );
    return EXIT_SAFE_NPM_FAILURE;
  }
}

// `safe-npm --dry-run install | head`: a reader that goes away is not an error of ours.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});
// Let stdout drain (`safe-npm npm view x --json | jq`) before exiting: set the status, do not exit.
void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
