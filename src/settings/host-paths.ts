/** The host paths settings name, checked against the host (so that policy.ts stays pure). */
import { existsSync, mkdirSync, realpathSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { SafeNpmError } from "../errors.js";
import type { HostInfo } from "../host/host.js";
import { isInside, type Project } from "../host/project.js";
import type { SettingsInput } from "../sandbox/policy.js";
import type { ResolvedSettings } from "./index.js";
import type { EffectiveSettings } from "./merge.js";

/** Host paths for the settings, checked here so that policy.ts stays pure. */
export function settingsInput(
  effective: EffectiveSettings,
  host: HostInfo,
  project: Project,
  resolved: ResolvedSettings,
): SettingsInput {
  const fromFile = (key: string): string => {
    const layer = effective.sources[key];
    if (layer === "repo" && resolved.repo) return resolved.repo.file;
    if (layer === "user" && resolved.user) return resolved.user.file;
    return "settings";
  };
  const binds = { ro: [] as string[], rw: [] as string[] };
  for (const mode of ["ro", "rw"] as const) {
    for (const raw of effective.binds[mode]) {
      const path = raw.startsWith("~/") ? join(host.home, raw.slice(2)) : raw;
      if (!isAbsolute(path) || !existsSync(path)) {
        throw new SafeNpmError(
          "BAD_SETTINGS",
          `${fromFile("binds")}: binds.${mode}: ${raw} does not exist`,
          {
            hint: "create it, or remove it from binds",
          },
        );
      }
      const real = realpathSync(path);
      if (real === project.root || isInside(real, project.root)) {
        throw new SafeNpmError(
          "BAD_SETTINGS",
          `${fromFile("binds")}: binds.${mode}: ${raw} is inside the project`,
          {
            hint: 'the project is already writable; use "protect" to keep a path inside it read-only',
          },
        );
      }
      if (real === host.home || isInside(host.home, real) || real === "/") {
        throw new SafeNpmError(
          "BAD_SETTINGS",
          `${fromFile("binds")}: binds.${mode}: ${raw} contains your home directory`,
          {
            hint: "bind only the directories the command needs",
          },
        );
      }
      binds[mode].push(real);
    }
  }
  const dotfiles = effective.dotfiles
    .map((rel) => join(host.home, rel))
    .filter((p) => existsSync(p));
  return {
    dotfiles,
    fullNpmrc: dotfiles.includes(join(host.home, ".npmrc")),
    binds,
    caches: effective.cache === "shared" ? sharedCaches(host) : [],
    envPass: effective.envPass,
    envSet: effective.envSet,
    home: effective.home,
  };
}

/** The user's real package-manager caches and stores, for `cache: "shared"`. */
function sharedCaches(host: HostInfo): string[] {
  const npmCache = join(host.home, ".npm");
  // npm's cache is created if missing: the user asked to share it.
  mkdirSync(npmCache, { recursive: true });
  return [
    npmCache,
    join(host.cacheHome, "yarn"),
    join(host.home, ".yarn", "berry", "cache"),
    join(host.home, ".local", "share", "pnpm", "store"),
    join(host.cacheHome, "pnpm"),
    join(host.home, ".bun", "install", "cache"),
  ].filter((p) => existsSync(p));
}
