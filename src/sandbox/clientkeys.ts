/**
 * Client certificate keys the user's npmrc names (`//host/:keyfile`) that lie in the project
 * (a CI job writes `$PWD/client.key`): the project is readable inside, so each is hidden under an
 * empty read-only file for the run. The gateway reads them on the host (network/registries.ts).
 * Loaded only when the user's npmrc names a keyfile.
 *
 * Hiding covers one name only, so a key with another name (a hard link) is refused, and a key
 * path still missing is watched: a file created there inside is moved aside after the run — else
 * a run could create it with a link elsewhere in the project, and the key the user later writes
 * into it (`echo … > client.key`, `openssl … -out`, vim) would show under that other name.
 */
import type { HostInfo } from "../host/host.js";
import { findClientCerts } from "../network/clientcerts.js";
import { configHomeInProject } from "./hostfiles.js";
import type { Watch } from "./integrity.js";
import { projectPathKind, refuseHardLinked } from "./safepath.js";

export interface ClientKeyGuards {
  /** Existing keys: an empty read-only file stands in. */
  hide: string[];
  /** Missing keys: one created inside is moved aside after the run. */
  watch: Watch[];
}

export function clientKeysInProject(
  host: Pick<HostInfo, "userNpmrc" | "env" | "home">,
  root: string,
): ClientKeyGuards {
  const guards: ClientKeyGuards = { hide: [], watch: [] };
  if (host.userNpmrc === null) return guards;
  const { byKey } = findClientCerts(
    [{ kind: "npmrc", label: "~/.npmrc", text: host.userNpmrc, project: false }],
    host.env,
    host.home,
  );
  for (const { keyfile } of byKey.values()) {
    // Spelled from the project's root, however the npmrc spells it; a link there is refused.
    const path = configHomeInProject(root, keyfile);
    if (path === null) continue;
    const what = "client certificate key (keyfile)";
    const kind = projectPathKind(root, path, what);
    if (kind === "missing") guards.watch.push({ kind: "clientkey", path });
    else if (kind === "file") {
      refuseHardLinked(path, what);
      guards.hide.push(path);
    }
  }
  return guards;
}
