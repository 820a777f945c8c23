#!/usr/bin/env node
/** The command line entry: the only place that prints errors and decides the exit status. */
import { run } from "../commands/index.js";
import { EXIT_SAFE_NPM_FAILURE, SafeNpmError } from "../errors.js";
import { VERSION } from "../version.js";
import { parseArgs } from "./args.js";
import { HELP } from "./help.js";
import { formatError, formatInternalError, terminalOutput } from "./output.js";

export async function main(argv: readonly string[]): Promise<number> {
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
    return await run(parsed, terminalOutput());
  } catch (error) {
    if (error instanceof SafeNpmError) {
      process.stderr.write(formatError(error));
      return error.exitCode;
    }
    process.stderr.write(formatInternalError(error));
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
