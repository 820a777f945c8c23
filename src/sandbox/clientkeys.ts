/**
 * Client certificate keys the user's npmrc files name (`//host/:keyfile` in npm's global npmrc
 * or the user config) that lie in the project (a CI job writes `$PWD/client.key`, or names it
 * relative to the working directory): the project is readable inside, so each is hidden under an
 * empty read-only file for the run. The gateway reads them on the host (network/registries.ts),
 * found the same way (clientcerts.ts). Loaded only when those files may name one.
 *
 * Hiding covers one name only, so a key with another name (a hard link) is refused, and a key
 * path still missing is watched: a file created there inside is moved aside after the run — else
 * a run could create it with a link elsewhere in the project, and the key the user later writes
 * into it (`echo … > client.key`, `openssl … -out`, vim) would show under that other name.
 */
import type { HostInfo } from "../host/host.js";
import { findClientCerts } from "../network/clientcerts.js";
import type { CredentialFile } from "../network/credentials.js";
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
  files: readonly CredentialFile[],
  host: Pick<HostInfo, "env" | "home" | "cwd">,
  root: string,
): ClientKeyGuards {
  const guards: ClientKeyGuards = { hide: [], watch: [] };
  const { byKey } = findClientCerts(files, host.env, host.home, host.cwd);
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
