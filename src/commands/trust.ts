/** `safe-npm trust` and `untrust`: accept or revoke the repository settings that widen the sandbox. */
import { printable } from "../cli/output.js";
import { SafeNpmError } from "../errors.js";
import { widening } from "../settings/index.js";
import { loadSettingsFile } from "../settings/load.js";
import { applyLayer, defaults, widenings } from "../settings/merge.js";
import { acceptWrittenInside, isTrusted, trust, untrust } from "../settings/trust.js";
import type { Output } from "./types.js";

/**
 * `user`: the user's settings file (find.ts), whose layer the repository's is judged against, as
 * resolveSettings judges it for a run: the same list is recorded as is checked.
 */
export function trustCommand(
  repo: string | null,
  user: string | null,
  store: string,
  out: Output,
): number {
  if (repo === null) throw noRepoSettings("trust");
  const loaded = loadSettingsFile(repo);
  const base =
    user === null
      ? defaults()
      : applyLayer(defaults(), loadSettingsFile(user, false).settings, "user");
  const wider = widenings(loaded.settings, base);
  if (wider.length === 0) {
    // Set by a run, it was not obeyed (settings/index.ts): the user now vouches for it.
    const accepted = acceptWrittenInside(store, repo);
    out.stderr(
      accepted
        ? `${printable(repo)} does not widen the sandbox; its settings, set by a sandboxed run, are now accepted as yours\n`
        : `${printable(repo)} does not widen the sandbox: nothing to trust\n`,
    );
    return 0;
  }
  const already = isTrusted(store, repo, loaded.content, wider);
  trust(store, repo, loaded.content, wider);
  // The list names values from the repository: each printed as escapes, never raw (an escape
  // sequence could erase a line, a newline could print one of its own).
  out.stderr(
    `${already ? "still trusting" : "trusting"} ${printable(repo)}, which asks to:\n${wider.map((w) => `  - ${printable(widening(w))}`).join("\n")}\nany change to the file revokes this; undo with \`safe-npm untrust\`\n`,
  );
  return 0;
}

export function untrustCommand(repo: string | null, store: string, out: Output): number {
  if (repo === null) throw noRepoSettings("untrust");
  const shown = printable(repo);
  out.stderr(untrust(store, repo) ? `no longer trusting ${shown}\n` : `${shown} was not trusted\n`);
  return 0;
}

function noRepoSettings(command: string): SafeNpmError {
  return new SafeNpmError(
    "TRUST",
    `no repository settings file found for \`safe-npm ${command}\``,
    {
      hint: 'the project has no .sandboxrc, .sandboxrc.json|yaml|yml or package.json "sandbox" key between here and its root',
    },
  );
}
