/** The settings keys, without the schema library: describe.ts lists them on every --dry-run. */

/** Valid keys per object path, for "unknown key … did you mean …?". */
export const KNOWN_KEYS: Readonly<Record<string, readonly string[]>> = {
  "": [
    "$schema",
    "dotfiles",
    "env",
    "network",
    "binds",
    "protect",
    "home",
    "cache",
    "packageManager",
    "ports",
  ],
  network: ["install", "run", "allow"],
  binds: ["ro", "rw"],
};

/** The top-level keys that change the sandbox (all but `$schema`). */
export const SETTING_KEYS: readonly string[] = (KNOWN_KEYS[""] ?? []).filter(
  (k) => k !== "$schema",
);
