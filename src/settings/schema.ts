/**
 * The one schema for `.sandboxrc*`, package.json `sandbox` and the user config. `schema.json`
 * (shipped in the package, for `"$schema"` in editors) is generated from it at build time.
 */
import * as v from "valibot";

const networkMode = v.picklist(["full", "registry", "none"]);

export const SettingsSchema = v.strictObject({
  $schema: v.optional(v.string()),
  /** Paths under `~` bound read-only at the same place in the sandbox home. */
  dotfiles: v.optional(
    v.pipe(
      v.array(v.string()),
      v.description(
        "Paths under ~ bound read-only at the same place in the sandbox home (.gitconfig, .config/nvim). Listing .npmrc passes it in full, credentials included.",
      ),
    ),
  ),
  /** Names to pass through, or `{NAME: value}` to set. */
  env: v.optional(v.union([v.array(v.string()), v.record(v.string(), v.string())])),
  network: v.optional(
    v.union([
      networkMode,
      v.strictObject({
        install: v.optional(networkMode),
        run: v.optional(networkMode),
        allow: v.optional(v.array(v.string())),
      }),
    ]),
  ),
  /** Host paths outside the project (absolute or `~/…`). */
  binds: v.optional(
    v.strictObject({
      ro: v.optional(v.array(v.string())),
      rw: v.optional(v.array(v.string())),
    }),
  ),
  /** Project-relative paths kept read-only. */
  protect: v.optional(
    v.pipe(
      v.array(v.string()),
      v.description('Project-relative paths kept read-only (default [".git"]).'),
    ),
  ),
  home: v.optional(
    v.pipe(
      v.picklist(["private", "project"]),
      v.description(
        "private: a per-project home in ~/.cache/safe-npm/homes (default); project: $HOME is the project root.",
      ),
    ),
  ),
  cache: v.optional(
    v.pipe(
      v.picklist(["project", "shared"]),
      v.description(
        "project: caches live in the private home (default); shared: your real ~/.npm and other caches, read-write (weaker).",
      ),
    ),
  ),
  packageManager: v.optional(v.picklist(["npm", "yarn", "pnpm", "bun"])),
  ports: v.optional(
    v.pipe(
      v.union([
        v.literal(false),
        v.array(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535))),
      ]),
      v.description(
        "TCP ports forwarded from the host's loopback into the sandbox from the start (servers listening inside on loopback are forwarded automatically); false turns forwarding off.",
      ),
    ),
  ),
});

export type Settings = v.InferOutput<typeof SettingsSchema>;
