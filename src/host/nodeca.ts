/**
 * NODE_EXTRA_CA_CERTS and safe-npm's own start. Node 20 reads that file, and with it its whole
 * root store, when a process starts (~60 ms of CPU for a system bundle), before any code of
 * ours runs; safe-npm needs none of it to start. So the `safe-npm` command (dist/cli.cjs, see
 * rolldown.config.mjs) and the shims (shims.ts) begin as a few lines of sh that move the
 * variable to SAFE_NPM_NODE_EXTRA_CA_CERTS before node starts, and the launcher puts it back
 * first thing: everything safe-npm reads and starts sees the user's environment as it was. What
 * this process did not load, the proxy adds itself when an https request needs it
 * (gateway-setup.ts hostCertificates, by `HostInfo.nodeExtraCa`). Node 22.? and later load the
 * file lazily; moving it aside costs them nothing.
 */

/** Where the sh lines put NODE_EXTRA_CA_CERTS's value while node starts. */
export const EXTRA_CA_STASH = "SAFE_NPM_NODE_EXTRA_CA_CERTS";

/** Set on the global object when this process started without the file: shared by both bundles. */
const DEFERRED = Symbol.for("safe-npm.nodeExtraCaDeferred");

/**
 * Puts NODE_EXTRA_CA_CERTS back from where the sh lines moved it; the stash never reaches a
 * process safe-npm starts. A value set besides the stash wins (node loaded that one).
 */
export function restoreExtraCa(env: NodeJS.ProcessEnv = process.env): void {
  const stashed = env[EXTRA_CA_STASH];
  delete env[EXTRA_CA_STASH];
  if (stashed === undefined || stashed === "" || env.NODE_EXTRA_CA_CERTS !== undefined) return;
  env.NODE_EXTRA_CA_CERTS = stashed;
  (globalThis as Record<symbol, unknown>)[DEFERRED] = true;
}

/** The NODE_EXTRA_CA_CERTS this process loaded when it started; null: none, or moved aside. */
export function startupExtraCa(env: NodeJS.ProcessEnv = process.env): string | null {
  if ((globalThis as Record<symbol, unknown>)[DEFERRED] === true) return null;
  return env.NODE_EXTRA_CA_CERTS || null;
}

/**
 * The sh that moves NODE_EXTRA_CA_CERTS aside (one line, so that it also fits behind `':' //;`
 * in dist/cli.cjs, where JavaScript reads it as a comment).
 */
export const STASH_EXTRA_CA_SH = `unset ${EXTRA_CA_STASH}; if [ -n "\${NODE_EXTRA_CA_CERTS-}" ]; then ${EXTRA_CA_STASH}=$NODE_EXTRA_CA_CERTS; export ${EXTRA_CA_STASH}; unset NODE_EXTRA_CA_CERTS; fi`;
