/**
 * Client certificate keys the user's npmrc names (`//host/:keyfile`) that lie in the project
 * (a CI job writes `$PWD/client.key`): the project is readable inside, so each is hidden under an
 * empty read-only file for the run. The gateway reads them on the host (network/registries.ts).
 * Loaded only when the user's npmrc names a keyfile.
 */
import type { HostInfo } from "../host/host.js";
import { findClientCerts } from "../network/clientcerts.js";
import { configHomeInProject } from "./hostfiles.js";
import { projectPathKind } from "./safepath.js";

export function clientKeysInProject(
  host: Pick<HostInfo, "userNpmrc" | "env" | "home">,
  root: string,
): string[] {
  if (host.userNpmrc === null) return [];
  const { byKey } = findClientCerts(
    [{ kind: "npmrc", label: "~/.npmrc", text: host.userNpmrc, project: false }],
    host.env,
    host.home,
  );
  const keys: string[] = [];
  for (const { keyfile } of byKey.values()) {
    // Spelled from the project's root, however the npmrc spells it; a link there is refused.
    const path = configHomeInProject(root, keyfile);
    if (path === null) continue;
    if (projectPathKind(root, path, "client certificate key (keyfile)") === "file") keys.push(path);
  }
  return keys;
}
