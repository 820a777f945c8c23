/** `safe-npm --help`. */
import { VERSION } from "../version.js";

export const HELP = `safe-npm ${VERSION} — run your package manager inside a bubblewrap sandbox

usage:
  safe-npm [flags] <args…>            the project's package manager with <args…> (install, ci, run build, test, …)
  safe-npm [flags] npm|npx|yarn|pnpm|bun … <args…>   that tool explicitly (also yarnpkg, pnpx, bunx)
  safe-npm [flags] exec -- <cmd…>     any command in the same sandbox
  safe-npm [flags] shell              an interactive shell in the sandbox
  safe-npm trust | untrust            accept / revoke the repository's settings that widen the sandbox
  safe-npm init                       write a .sandboxrc.json with the defaults
  safe-npm doctor [--json]            check that sandboxes work here, and show what they would get
  safe-npm homes [--json]             list the private homes (per-project caches): project, size, last use
  safe-npm homes prune [--older-than 30d] [--unrecorded] [--dry-run] [--json]
                                      remove the homes of missing projects (and of idle ones, and unrecorded ones)
  safe-npm setup [--ci] | teardown    make a plain npm, npx, yarn, pnpm, bun run through safe-npm (shims) / undo it

flags (before the command; everything from the first other word on belongs to the command):
  --dry-run                    print the policy, where each setting came from, and the exact bwrap command; run nothing
  --network full|registry|none full: the host's network; registry: only the registries (default for installs);
                               none: loopback only (default for everything else)
  --allow-host HOST[:PORT]     also reach HOST in registry mode (repeatable)
  --port N                     forward the host's 127.0.0.1:N (and [::1]:N) into the sandbox from the start
                               (repeatable); servers listening inside on loopback are forwarded automatically
  --no-ports                   forward nothing from the host's loopback
  --config FILE                use FILE as the user settings instead of ~/.config/safe-npm/config.json
  --trust-config               trust the repository's settings for this run (also SAFE_NPM_TRUST_CONFIG=1)
  --quiet                      no banner
  --verbose                    print the policy before running
  -h, --help                   this help
  -v, --version                safe-npm's version

exit status: the command's own; 128+N if it died of signal N; 125 when safe-npm itself fails;
126/127 when the command cannot run / is not found inside.
`;
