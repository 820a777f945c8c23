/** safe-npm's own flags, then the command verbatim (everything from the first other word on). */

import type { RunOptions, Target } from "../commands/types.js";
import { SafeNpmError } from "../errors.js";
import type { NetworkMode } from "../sandbox/policy.js";
import { parseDuration } from "./duration.js";

/** The tools `safe-npm <tool> …` may name. */
const TOOLS = ["npm", "npx", "yarn", "yarnpkg", "pnpm", "pnpx", "bun", "bunx"] as const;

const BOOLEAN_FLAGS = [
  "-h",
  "--help",
  "-v",
  "--version",
  "--dry-run",
  "--quiet",
  "--verbose",
  "--trust-config",
  "--no-ports",
];
const NETWORK_MODES: readonly string[] = ["full", "registry", "none"];

export type ParsedArgs = { help: true } | { version: true } | RunOptions;

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const options: Omit<RunOptions, "target"> = {
    dryRun: false,
    network: undefined,
    allow: [],
    config: undefined,
    trustConfig: false,
    quiet: false,
    verbose: false,
    ports: [],
    noPorts: false,
  };
  let i = 0;
  const value = (flag: string, inline: string | undefined, example: string): string => {
    const v = inline ?? argv[++i];
    if (v === undefined || v === "") throw usage(`${flag} needs a value`, `e.g. \`${example}\``);
    return v;
  };
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
      case "--trust-config":
        options.trustConfig = true;
        break;
      case "--network": {
        const mode = inline ?? argv[++i];
        if (mode === undefined || !NETWORK_MODES.includes(mode)) {
          throw usage(
            `--network needs "full", "registry" or "none"${mode === undefined ? "" : `, got "${mode}"`}`,
            "e.g. `safe-npm --network none run build`",
          );
        }
        options.network = mode as NetworkMode;
        break;
      }
      case "--allow-host":
        options.allow.push(value(flag, inline, "safe-npm --allow-host npm.example.com install"));
        break;
      case "--port": {
        const text = value(flag, inline, "safe-npm --port 5173 run dev");
        const port = Number(text);
        if (!/^\d{1,5}$/.test(text) || port < 1 || port > 65535)
          throw usage(
            `--port needs a TCP port number from 1 to 65535, got "${text}"`,
            "e.g. `safe-npm --port 5173 run dev`",
          );
        options.ports.push(port);
        break;
      }
      case "--no-ports":
        options.noPorts = true;
        break;
      case "--config":
        options.config = value(flag, inline, "safe-npm --config ./ci-sandbox.json ci");
        break;
      default:
        throw usage(
          `unknown option ${arg}`,
          "safe-npm's own flags come before the command (see `safe-npm --help`); flags for the package manager go after it, e.g. `safe-npm install --omit=dev`",
        );
    }
  }
  if (options.noPorts && options.ports.length > 0)
    throw usage("--port and --no-ports contradict each other", "give one of them");
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
  switch (first) {
    case "exec": {
      const argv = rest[0] === "--" ? rest.slice(1) : rest;
      if (argv.length === 0)
        throw usage("exec needs a command", "e.g. `safe-npm exec -- node build.js`");
      return { kind: "exec", argv };
    }
    case "shell":
    case "trust":
    case "untrust":
    case "init":
      if (rest.length > 0) {
        throw usage(
          `${first} takes no arguments`,
          first === "shell"
            ? "use `safe-npm exec -- <cmd…>` to run a command"
            : `run \`safe-npm ${first}\` in the project`,
        );
      }
      return { kind: first };
    case "homes":
      return parseHomes(rest);
    case "setup": {
      const ci = rest.length === 1 && rest[0] === "--ci";
      if (rest.length > 0 && !ci)
        throw usage("setup takes only --ci", "`safe-npm setup`, or `safe-npm setup --ci` in CI");
      return { kind: "setup", ci };
    }
    case "teardown":
      if (rest.length > 0) throw usage("teardown takes no arguments", "`safe-npm teardown`");
      return { kind: "teardown" };
    case "doctor": {
      const json = rest.length === 1 && rest[0] === "--json";
      if (rest.length > 0 && !json)
        throw usage("doctor takes only --json", "`safe-npm doctor --json`");
      return { kind: "doctor", json };
    }
  }
  if ((TOOLS as readonly string[]).includes(first))
    return { kind: "tool", tool: first, args: rest };
  return { kind: "auto", args: [...words] };
}

/** `homes [--json]`, `homes prune [--older-than 30d] [--unrecorded] [--dry-run] [--json]`. */
function parseHomes(words: readonly string[]): Target {
  const [sub, ...flags] = words;
  if (sub !== "prune") {
    const json = words.length === 1 && words[0] === "--json";
    if (words.length > 0 && !json) {
      throw usage(
        `homes takes only --json or \`prune\`, got "${words.join(" ")}"`,
        "`safe-npm homes`, `safe-npm homes --json`, `safe-npm homes prune [--older-than 30d] [--dry-run]`",
      );
    }
    return { kind: "homes", action: "list", json };
  }
  const target = {
    kind: "homes" as const,
    action: "prune" as const,
    olderThan: null as number | null,
    unrecorded: false,
    dryRun: false,
    json: false,
  };
  for (let i = 0; i < flags.length; i++) {
    const arg = flags[i] as string;
    const [flag, inline] = arg.includes("=") ? splitOnce(arg, "=") : [arg, undefined];
    if (flag === "--older-than") {
      const v = inline ?? flags[++i];
      if (v === undefined || v === "") {
        throw usage(
          "--older-than needs a duration",
          "e.g. `safe-npm homes prune --older-than 30d`",
        );
      }
      target.olderThan = parseDuration(v);
    } else if (inline === undefined && flag === "--dry-run") target.dryRun = true;
    else if (inline === undefined && flag === "--unrecorded") target.unrecorded = true;
    else if (inline === undefined && flag === "--json") target.json = true;
    else {
      throw usage(
        `homes prune: unknown option ${arg}`,
        "`safe-npm homes prune [--older-than 30d] [--unrecorded] [--dry-run] [--json]`",
      );
    }
  }
  return target;
}

function splitOnce(text: string, sep: string): [string, string] {
  const at = text.indexOf(sep);
  return [text.slice(0, at), text.slice(at + 1)];
}

function usage(message: string, hint: string): SafeNpmError {
  return new SafeNpmError("USAGE", message, { hint });
}
