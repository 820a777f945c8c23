/**
 * The trust store: which repository settings files the user accepted, by real path and content
 * hash, in `$XDG_STATE_HOME/safe-npm/trust.json`. Any change to the file revokes its trust.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { SafeNpmError } from "../errors.js";

interface TrustEntry {
  sha256: string;
  trustedAt: string;
  widenings: string[];
}

interface TrustFile {
  version: 1;
  entries: Record<string, TrustEntry>;
}

export function trustStorePath(
  env: Readonly<Record<string, string | undefined>>,
  home: string,
): string {
  const base =
    env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME)
      ? env.XDG_STATE_HOME
      : join(home, ".local", "state");
  return join(base, "safe-npm", "trust.json");
}

export function contentHash(content: string): string {
  return createHash("sha256").update(content).digest("hex");
}

export function isTrusted(store: string, file: string, content: string): boolean {
  const entry = read(store).entries[realpathSync(file)];
  return entry !== undefined && entry.sha256 === contentHash(content);
}

export function trust(store: string, file: string, content: string, widenings: string[]): void {
  const data = read(store);
  data.entries[realpathSync(file)] = {
    sha256: contentHash(content),
    trustedAt: new Date().toISOString(),
    widenings,
  };
  write(store, data);
}

/** Returns whether an entry was removed. */
export function untrust(store: string, file: string): boolean {
  const data = read(store);
  const key = realpathSync(file);
  if (data.entries[key] === undefined) return false;
  delete data.entries[key];
  write(store, data);
  return true;
}

function read(store: string): TrustFile {
  let text: string;
  try {
    text = readFileSync(store, "utf8");
  } catch {
    return { version: 1, entries: {} };
  }
  try {
    const data = JSON.parse(text) as TrustFile;
    if (data.version !== 1 || typeof data.entries !== "object" || data.entries === null)
      throw new Error("unknown format");
    return data;
  } catch (error) {
    throw new SafeNpmError("TRUST", `${store} is damaged: ${(error as Error).message}`, {
      hint: `remove it (you will be asked to trust repository settings again): rm ${store}`,
    });
  }
}

/** Atomic: a reader sees the old or the new file, never half of one. */
function write(store: string, data: TrustFile): void {
  mkdirSync(dirname(store), { recursive: true, mode: 0o700 });
  const tmp = `${store}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, store);
}
