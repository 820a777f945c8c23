/**
 * PURE: where a package-manager command runs when it is not an ordinary command in a project —
 * the table the README shows. With the shims every `npm …` the user types comes here, so
 * `npm --version` in an empty directory must work, `npx create-vite app` must scaffold, and
 * nothing may run third-party code outside the sandbox on the way:
 *
 * - `host`: the real tool on the host, started from `/` so that no `.npmrc`, `.yarnrc.yml` or
 *   `package.json` of the current directory is read (a planted `.npmrc` could name a `browser` or
 *   `viewer` for `npm help`, or a registry that receives `npm login`'s password). Only commands
 *   that run no package's code: versions, help, registry queries, config reads, the account —
 *   and only with flags from HOST_FLAGS (any other goes to the sandbox).
 * - `here`: no project above: the current directory becomes the project (scaffolders: `npx`,
 *   `npm exec|init|create`, `pnpm dlx|create`, `yarn create|dlx`, `bunx`, `bun create|x|init`).
 * - `refuse`: global installs (they write the global prefix, where the host's commands live, and
 *   run their scripts there): what a worm wants; the hint names the real tool. `publish` is an
 *   ordinary sandboxed run: its scripts run inside, and only its upload gets the credential, added
 *   by the host proxy (requestpolicy.ts).
 * - `sandbox`: everything else — the ordinary run, which needs a project.
 */

export type Handling =
  | { kind: "sandbox" }
  | { kind: "here" }
  | { kind: "host" }
  | { kind: "refuse"; code: "GLOBAL_INSTALL" | "NOT_SANDBOXED"; why: string };

/** The manager a tool name belongs to (`npx` is npm's, `yarnpkg` yarn's). */
function managerOf(tool: string): string {
  return (
    ({ npx: "npm", yarnpkg: "yarn", pnpx: "pnpm", bunx: "bun" } as Record<string, string>)[tool] ??
    tool
  );
}

const ONLY_INFO = new Set(["--version", "-v", "-V", "--help", "-h", "help"]);

/** npm's account and publishing-metadata commands: they need the registry token. */
const ACCOUNT_WORDS = [
  "whoami",
  "login",
  "logout",
  "adduser",
  "add-user",
  "token",
  "profile",
  "owner",
  "access",
  "dist-tag",
  "dist-tags",
  "deprecate",
  "unpublish",
];

/** Registry queries, config reads and the account: npm runs no package's code for these. */
const HOST_WORDS: Readonly<Record<string, readonly string[]>> = {
  npm: [
    "help",
    "help-search",
    "view",
    "info",
    "show",
    "v",
    "search",
    "s",
    "se",
    "find",
    "ping",
    ...ACCOUNT_WORDS,
  ],
  pnpm: ["help", "view", "info", "show", "search", "whoami", "login", "logout", "root"],
  yarn: ["help", "info", "login", "logout", "whoami"],
  bun: ["help"],
};

/** Credential commands run on the host even in a project: inside, the token is never there. */
const ACCOUNT = new Set(ACCOUNT_WORDS);

/** Commands that make a project where there is none. */
const HERE_WORDS: Readonly<Record<string, readonly string[]>> = {
  npm: ["exec", "x", "init", "create", "innit"],
  pnpm: ["dlx", "create", "init"],
  yarn: ["create", "dlx", "init"],
  bun: ["create", "c", "init", "x"],
};

/** Read-only commands that may carry -g: they change nothing. */
const GLOBAL_READS = new Set(["ls", "list", "ll", "la", "root", "prefix", "outdated", "bin"]);

function isGlobal(args: readonly string[]): boolean {
  // What follows `--` belongs to the command run (`npm exec -- tool -g`), not to the manager.
  const end = args.indexOf("--");
  return (end === -1 ? args : args.slice(0, end)).some(
    (a, i) =>
      a === "-g" ||
      a === "--global" ||
      a === "--location=global" ||
      (a === "--location" && args[i + 1] === "global"),
  );
}

/**
 * `npm config …` and its kin: `read` (get, list), `write` to the user's or the global config
 * (set, delete, edit), or null (not config, or the project's config: read-only inside, §9).
 * yarn 2+ writes the project's `.yarnrc.yml` by default, so only its reads count.
 */
function configCommand(manager: string, args: readonly string[]): "read" | "write" | null {
  const word = commandWord(manager, args);
  if (word === null || word === "") return null;
  const sub = wordAfter(manager, args, word);
  if (sub === null) return null;
  let action: string;
  if (manager === "npm" && (word === "get" || word === "set")) action = word;
  else if ((manager === "npm" && word === "c") || (word === "config" && manager !== "bun"))
    action = sub;
  else return null;
  if (["get", "list", "ls", ""].includes(action)) return "read";
  if (manager === "yarn") return null;
  const project = args.some(
    (a, i) =>
      a === "--location=project" ||
      ((a === "--location" || a === "-L") && args[i + 1] === "project"),
  );
  return ["set", "delete", "rm", "edit"].includes(action) && !project ? "write" : null;
}

/**
 * Flags of each manager that take no value, so a word after them is still the command. Every
 * other flag may take the next word as its value (`npm --loglevel info exec …` runs `exec`, not
 * `info`), so a word after one is not known to be the command.
 */
const BOOLEAN_FLAGS: Readonly<Record<string, ReadonlySet<string>>> = {
  npm: new Set(
    "-g --global -y --yes --no-yes -D --save-dev -P --save-prod -O --save-optional -E --save-exact -S --save --no-save --offline --prefer-offline --prefer-online --dry-run --json --parseable --force -f --silent -s --quiet -q --verbose -d -dd -ddd --long -l --ignore-scripts --no-audit --no-fund --foreground-scripts --workspaces -ws --include-workspace-root --legacy-peer-deps --strict-peer-deps --package-lock-only --no-package-lock".split(
      " ",
    ),
  ),
  pnpm: new Set(
    "-g --global -r --recursive -w --workspace-root -D --save-dev -P --save-prod -O --save-optional -E --save-exact --offline --prefer-offline --silent -s --json --frozen-lockfile --no-frozen-lockfile --ignore-scripts".split(
      " ",
    ),
  ),
  yarn: new Set(["--silent", "--json", "--offline", "--prefer-offline", "--verbose"]),
  bun: new Set(["-g", "--global", "--silent", "--verbose", "-D", "--dev", "--dry-run", "--bun"]),
};

/**
 * The command word: the first argument, or the first after flags each known to take no value
 * (`--flag=value` or one of the manager's booleans); "" when there is no word at all; null when
 * a flag before it may have taken it as its value — unclear, so never a reason to leave the
 * sandbox.
 */
function commandWord(manager: string, args: readonly string[]): string | null {
  const booleans = BOOLEAN_FLAGS[manager] ?? new Set<string>();
  for (const a of args) {
    if (a === "--") return null;
    if (!a.startsWith("-")) return a;
    if (!(a.startsWith("--") && a.includes("=")) && !booleans.has(a)) return null;
  }
  return "";
}

/** The word after `word` (at its first position) in the same sense as commandWord. */
function wordAfter(manager: string, args: readonly string[], word: string): string | null {
  return commandWord(manager, args.slice(args.indexOf(word) + 1));
}

/**
 * How `tool args…` runs; `tool` is null for `safe-npm <args…>` (the project's manager, not yet
 * known: only the rules every manager shares apply), `hasProject` whether a project was found.
 */
export function handling(
  tool: string | null,
  args: readonly string[],
  hasProject: boolean,
): Handling {
  const found = handlingOf(tool, args, hasProject);
  // Started from `/` the host run reads no project's config, unless a flag points it at one: a
  // planted `.npmrc` there could send a host variable's expansion to its registry. npm's option
  // parser (nopt) takes any unambiguous prefix of a key (`--userc` is `--userconfig`) and the
  // other managers parse their own way, so no list of bad flags is complete: a host run carries
  // only flags known to name no file, program or directory; any other goes to the sandbox.
  return found.kind === "host" && !args.every((a) => !a.startsWith("-") || hostFlag(tool, a))
    ? { kind: "sandbox" }
    : found;
}

/**
 * Flags a host run may carry, exactly as spelled (no abbreviation, no `--no-` form): output,
 * verbosity, and values that name no file — the registry, a scope, a one-time password, a depth.
 * `--browser`, `--viewer`, `--editor`, `--userconfig`, `--prefix`, `--cafile` and their kin are
 * not here: they name a program or a file the host run would use.
 */
const HOST_FLAGS_COMMON = ["--version", "-v", "-V", "--help", "-h", "--json", "--silent", "-s"];
const HOST_FLAGS: Readonly<
  Record<string, { bool: ReadonlySet<string>; value: ReadonlySet<string> }>
> = {
  npm: {
    bool: new Set([
      ...HOST_FLAGS_COMMON,
      ..."--long -l --parseable -p --global -g --offline --prefer-offline --prefer-online --all -a --quiet -q --verbose -d --dry-run --force -f --read-only --no-color".split(
        " ",
      ),
    ]),
    value: new Set(
      "--registry --scope --otp --auth-type --depth --loglevel --location --color --searchlimit --cidr".split(
        " ",
      ),
    ),
  },
  pnpm: {
    bool: new Set([
      ...HOST_FLAGS_COMMON,
      ..."--long --parseable --global -g --recursive -r".split(" "),
    ]),
    value: new Set("--registry --depth --loglevel --otp".split(" ")),
  },
  yarn: { bool: new Set([...HOST_FLAGS_COMMON, "--verbose"]), value: new Set(["--registry"]) },
  bun: { bool: new Set(HOST_FLAGS_COMMON), value: new Set() },
};

/** `flag` is on the host list of `tool`'s manager (`--flag` alone, or `--flag=value` for a value flag). */
function hostFlag(tool: string | null, flag: string): boolean {
  const list = HOST_FLAGS[tool === null ? "npm" : managerOf(tool)];
  if (list === undefined) return false;
  if (list.bool.has(flag)) return true;
  const eq = flag.indexOf("=");
  // `--registry value` leaves the value as its own word, which is no flag.
  return list.value.has(eq === -1 ? flag : flag.slice(0, eq));
}

function handlingOf(tool: string | null, args: readonly string[], hasProject: boolean): Handling {
  const manager = tool === null ? "npm" : managerOf(tool);
  const word = commandWord(manager, args);
  const runner = tool === "npx" || tool === "pnpx" || tool === "bunx";
  if (!runner) {
    const config = configCommand(manager, args);
    // A write to the user's config inside would land in the throw-away home and be lost.
    if (config === "write") return { kind: "host" };
    if (config === "read" && !hasProject) return { kind: "host" };
    const yarnGlobal = manager === "yarn" && word === "global";
    // A global command whose word is unclear (`-g --tag ls install x`) counts as an install.
    const globalWord = yarnGlobal ? wordAfter(manager, args, "global") : word;
    if ((isGlobal(args) || yarnGlobal) && (globalWord === null || !GLOBAL_READS.has(globalWord))) {
      return {
        kind: "refuse",
        code: "GLOBAL_INSTALL",
        why: "a global install writes the global prefix, where the host's own commands live, and runs the packages' scripts there",
      };
    }
    if (isGlobal(args) || yarnGlobal) return { kind: "host" };
    if (
      tool !== null &&
      word !== null &&
      ACCOUNT.has(word) &&
      (HOST_WORDS[manager] ?? []).includes(word)
    ) {
      return { kind: "host" };
    }
  }
  if (hasProject) return { kind: "sandbox" };
  if (runner) return { kind: "here" };
  // A bare `yarn` installs: with no project, "no package.json" is the answer.
  if (args.length === 0 && manager !== "yarn") return { kind: "host" };
  if (args.length > 0 && args.every((a) => ONLY_INFO.has(a))) return { kind: "host" };
  // Unclear (a flag before the word may take a value): the sandbox, which needs a project.
  if (word === null) return { kind: "sandbox" };
  if ((HOST_WORDS[manager] ?? []).includes(word)) return { kind: "host" };
  if ((HERE_WORDS[manager] ?? []).includes(word)) return { kind: "here" };
  return { kind: "sandbox" };
}
