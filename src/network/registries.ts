/** Registry mode's allowlist inputs: the files that name registries, and the hosts they name. */
import { existsSync } from "node:fs";
import { basename, join } from "node:path";
import type { HostInfo } from "../host/host.js";
import type { Project } from "../host/project.js";
import { sanitizeNpmrc } from "../sandbox/npmrc.js";
import { readRegularFile } from "../sandbox/safepath.js";
import type { EffectiveSettings } from "../settings/merge.js";
import type { AllowEntry } from "./allowlist.js";

/** The project's files that name registries (npm, yarn berry, yarn 1). */
export function registryFiles(root: string): string[] {
  return [".npmrc", ".yarnrc.yml", ".yarnrc"].map((f) => join(root, f));
}

/**
 * Registry mode's allowlist: the registries the project's and the user's config name (else the
 * package manager's default), `npm_config_registry` when run from a script, and the hosts from
 * settings and --allow-host.
 */
export async function registryAllowlist(
  host: HostInfo,
  project: Project,
  effective: EffectiveSettings,
  files: readonly string[],
  command: readonly string[],
): Promise<AllowEntry[]> {
  const { dedupeAllowlist, parseAllowEntry, parseAllowlist, registriesFromConfig } = await import(
    "./allowlist.js"
  );
  // Never through a link, never a FIFO (it would block): a missing file is no config.
  const read = (path: string | undefined): string | null => {
    try {
      return path === undefined ? null : readRegularFile(path, true);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
  };
  const [npmrc, yarnrcYml, yarnrc] = files;
  const tool = basename(command[0] ?? "");
  const entries = [
    ...registriesFromConfig({
      projectNpmrc: read(npmrc),
      userNpmrc: host.userNpmrc === null ? null : sanitizeNpmrc(host.userNpmrc).text,
      yarnrcYml: read(yarnrcYml),
      yarnrc: read(yarnrc),
      yarn: tool === "yarn" || tool === "yarnpkg" || existsSync(join(project.root, "yarn.lock")),
      env: host.env,
    }),
    ...parseAllowlist(effective.network.allow, "network.allow / --allow-host"),
  ];
  const scriptRegistry = host.env.npm_lifecycle_event ? host.env.npm_config_registry : undefined;
  if (scriptRegistry) entries.push(parseAllowEntry(scriptRegistry, "npm_config_registry"));
  return dedupeAllowlist(entries);
}
