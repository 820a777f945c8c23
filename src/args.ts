/** safe-npm's own flags, then the command verbatim (everything from the first other word on). */
import { SafeNpmError } from "./errors.js";
import type { NetworkMode } from "./policy.js";
import { type RunOptions, type Target, TOOLS, VERSION } from "./run.js";

export const HELP = `safe-npm ${VERSION} — run your package manager inside a bubblewrap sandbox

usage:
  safe-npm [flags] <args…>          the project's package manager with <args…> (install, ci, run build, test, …)
  safe-npm [flags] npm|npx <args…>  that tool explicitly
  safe-npm [flags] exec -- <cmd…>   any command in the same sandbox
  safe-npm [flags] shell            an interactive shell in the sandbox

flags (before the command; everything from the first other word on belongs to the command):
  --dry-run            print the resolved policy and the exact bwrap command, run nothing
  --network full|none  full: the host's network (default); none: loopback only
  --quiet              no banner
  --verbose            print the policy before running
  -h, --help           this help
  -v, --version        safe-npm's version

exit status: the command's own; 128+N if it died of signal N; 125 when safe-npm itself fails;
126/127 when the command cannot run / is not found inside.
`;

const BOOLEAN_FLAGS = ["-h", "--help", "-v", "--version", "--dry-run", "--quiet", "--verbose"];

export type ParsedArgs = { help: true } | { version: true } | RunOptions;

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const options: Omit<RunOptions, "target"> = {
    dryRun: false,
    network: undefined,
    quiet: false,
    verbose: false,
  };
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") {
      i++;
      break;
    }
    if (!arg.startsWith("-")) break;
    const [flag, inline] =
      arg.startsWith("--") && arg.includes("=") ? splitOnce(arg, "=") : [arg, undefined];
    if (inline !== undefined && BOOLEAN_FLAGS.includes(flag)) {
      throw usage(`${flag} takes no value (got "${arg}")`, `write just ${flag}`);
    }
    switch (flag) {
      case "-h":
      case "--help":
        return { help: true };
      case "-v":
      case "--version":
        return { version: true };
      case "--dry-run":
        options.dryRun = true;
        break;
      case "--quiet":
        options.quiet = true;
        break;
      case "--verbose":
        options.verbose = true;
        break;
      case "--network": {
        const value = inline ?? argv[++i];
        if (value !== "full" && value !== "none") {
          throw usage(
            `--network needs "full" or "none"${value === undefined ? "" : `, got "${value}"`}`,
            "e.g. `safe-npm --network none run build`",
          );
        }
        options.network = value satisfies NetworkMode;
        break;
      }
      default:
        throw usage(
          `unknown option ${arg}`,
          "safe-npm's own flags come before the command (see `safe-npm --help`); flags for the package manager go after it, e.g. `safe-npm install --omit=dev`",
        );
    }
  }
  return { ...options, target: parseTarget(argv.slice(i)) };
}

function parseTarget(words: readonly string[]): Target {
  const [first, ...rest] = words;
  if (first === undefined) {
    throw usage(
      "no command given",
      "e.g. `safe-npm install`, `safe-npm run build`, `safe-npm exec -- node script.js`",
    );
  }
  if (first === "exec") {
    const argv = rest[0] === "--" ? rest.slice(1) : rest;
    if (argv.length === 0)
      throw usage("exec needs a command", "e.g. `safe-npm exec -- node build.js`");
    return { kind: "exec", argv };
  }
  if (first === "shell") {
    if (rest.length > 0)
      throw usage("shell takes no arguments", "use `safe-npm exec -- <cmd…>` to run a command");
    return { kind: "shell" };
  }
  if ((TOOLS as readonly string[]).includes(first))
    return { kind: "tool", tool: first, args: rest };
  return { kind: "auto", args: [...words] };
}

function splitOnce(text: string, sep: string): [string, string] {
  const at = text.indexOf(sep);
  return [text.slice(0, at), text.slice(at + 1)];
}

function usage(message: string, hint: string): SafeNpmError {
  return new SafeNpmError("USAGE", message, { hint });
}
