/**
 * Settings for one run: loads the user's and the repository's files (only when there are any),
 * merges them with the defaults and the flags, and refuses untrusted widening.
 */
import { SafeNpmError } from "../errors.js";
import type { FoundSettings } from "./find.js";
import {
  applyFlags,
  applyLayer,
  defaults,
  type EffectiveSettings,
  type Flags,
  widenings,
} from "./merge.js";

export interface LoadedLayer {
  file: string;
  content: string;
}

export interface ResolvedSettings {
  effective: EffectiveSettings;
  user: LoadedLayer | null;
  repo:
    | (LoadedLayer & { widenings: string[]; trust: "trusted" | "not needed" | "for this run" })
    | null;
}

export interface TrustOptions {
  /** `--trust-config` or SAFE_NPM_TRUST_CONFIG=1: trust the repository's settings for this run. */
  trustForRun: boolean;
  store: string;
  /**
   * The project of another safe-npm run still going whose snapshot shows this settings file
   * otherwise than the settings loaded from it (sandbox/guarded.ts settingsChangedByLiveRun), or
   * null.
   */
  changedByLiveRun?: (file: string, content: string, bytesSha256: string) => string | null;
}

export async function resolveSettings(
  found: FoundSettings,
  flags: Flags,
  trustOptions: TrustOptions,
): Promise<ResolvedSettings> {
  let effective = defaults();
  if (found.user === null && found.repo === null) {
    return { effective: applyFlags(effective, flags), user: null, repo: null };
  }
  // Only now: the schema, cosmiconfig and YAML are not needed on the common path.
  const { loadSettingsFile } = await import("./load.js");
  const { isTrusted, trustedOnce, writtenInside } = await import("./trust.js");
  let user: LoadedLayer | null = null;
  if (found.user !== null) {
    const loaded = loadSettingsFile(found.user, false);
    effective = applyLayer(effective, loaded.settings, "user");
    user = { file: loaded.file, content: loaded.content };
  }
  let repo: ResolvedSettings["repo"] = null;
  if (found.repo !== null) {
    const loaded = loadSettingsFile(found.repo);
    // Judged against the settings the repository's layer replaces: the user's, not only the
    // defaults (a repository dropping a path the user protects widens the sandbox).
    const wider = widenings(loaded.settings, effective);
    let trust: "trusted" | "not needed" | "for this run" = "not needed";
    // Settings a run set are not obeyed even where they widen nothing: nearest first, they
    // replace what a settings file further up or beside them narrowed (an empty `sandbox` key in
    // package.json hides the .sandboxrc.json next to it).
    if (wider.length === 0 && writtenInside(trustOptions.store, loaded.file, loaded.content))
      throw untrusted(loaded.file, wider, true);
    if (wider.length > 0) {
      // Before any trust: settings a run still going wrote (a dev server in the background;
      // its check, which moves them aside, comes when it ends), then settings a run set. A run
      // putting back settings the user once trusted (and then narrowed) gets no trust either.
      const live =
        trustOptions.changedByLiveRun?.(loaded.file, loaded.content, loaded.bytesSha256) ?? null;
      if (live !== null) throw untrusted(loaded.file, wider, true, live);
      if (writtenInside(trustOptions.store, loaded.file, loaded.content))
        throw untrusted(loaded.file, wider, true);
      else if (isTrusted(trustOptions.store, loaded.file, loaded.content, wider)) trust = "trusted";
      else if (trustOptions.trustForRun) trust = "for this run";
      else {
        // Trusted once, for less than is asked now (the user has narrowed their own settings since).
        const before = trustedOnce(trustOptions.store, loaded.file, loaded.content);
        throw untrusted(loaded.file, wider, false, null, before);
      }
    }
    effective = applyLayer(effective, loaded.settings, "repo");
    repo = { file: loaded.file, content: loaded.content, widenings: wider, trust };
  }
  return { effective: applyFlags(effective, flags), user, repo };
}

/** Longest a widening is shown: one line of a terminal, give or take. */
const MAX_SHOWN = 200;

/**
 * A widening as shown in a list: on one line (a newline in a value — the CLI escapes every other
 * control character — would print lines of its own) and cut short (a value of thousands of
 * spaces would push the real list off the screen).
 */
export function widening(item: string): string {
  const line = item.replaceAll("\n", "\\n");
  const chars = [...line];
  if (chars.length <= MAX_SHOWN) return line;
  return `${chars.slice(0, MAX_SHOWN).join("").trimEnd()}… (${chars.length - MAX_SHOWN} more characters)`;
}

export function untrusted(
  file: string,
  wider: readonly string[],
  setInside = false,
  liveRun: string | null = null,
  trustedBefore = false,
): SafeNpmError {
  const list = wider.map((w) => `  - ${widening(w)}`).join("\n");
  if (liveRun !== null) {
    return new SafeNpmError(
      "UNTRUSTED_SETTINGS",
      `${file} asks to open the sandbox wider, and it changed while a safe-npm run in ${liveRun} is still going (not trusted, with or without --trust-config):\n${list}`,
      {
        hint: "let that run end (its after-run check moves aside what it wrote), then run again",
      },
    );
  }
  if (setInside && wider.length === 0) {
    return new SafeNpmError(
      "UNTRUSTED_SETTINGS",
      `${file} holds settings that code in an earlier sandboxed run set: they widen nothing, but they replace the settings that applied before (a settings file they hide, or what they changed), so they are not obeyed`,
      {
        hint: "restore the settings you meant (git diff shows the change) or remove these; if you did make them yourself, run `safe-npm trust` in this project",
      },
    );
  }
  if (setInside) {
    return new SafeNpmError(
      "UNTRUSTED_SETTINGS",
      `${file} asks to open the sandbox wider, and these settings were set by code in an earlier sandboxed run (not trusted by --trust-config or SAFE_NPM_TRUST_CONFIG):\n${list}`,
      {
        hint: "restore the `sandbox` settings you meant (git diff shows the change); if you did make them yourself, run `safe-npm trust` in this project",
      },
    );
  }
  return new SafeNpmError(
    "UNTRUSTED_SETTINGS",
    trustedBefore
      ? `${file} asks to open the sandbox wider than you trusted it to (judged against your settings as they are now):\n${list}`
      : `${file} asks to open the sandbox wider:\n${list}`,
    {
      hint: "if you accept this, run `safe-npm trust` in this project (any later change to the file revokes it); for one run: --trust-config or SAFE_NPM_TRUST_CONFIG=1",
    },
  );
}

/** Where the `protect` list came from, for messages. */
export function protectSource(resolved: ResolvedSettings): string {
  const layer = resolved.effective.sources.protect;
  if (layer === "repo" && resolved.repo !== null) return `from ${resolved.repo.file}`;
  if (layer === "user" && resolved.user !== null) return `from ${resolved.user.file}`;
  return "the default";
}
