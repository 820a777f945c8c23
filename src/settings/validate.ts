/** Turns parsed settings data into `Settings`, or a SafeNpmError naming the file, key and fix. */
import { isAbsolute } from "node:path";
import * as v from "valibot";
import { SafeNpmError } from "../errors.js";
import { KNOWN_KEYS } from "./keys.js";
import { homeRelative, projectRelative } from "./paths.js";
import { type Settings, SettingsSchema } from "./schema.js";

export function validateSettings(data: unknown, file: string): Settings {
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw invalid(file, "", `expected an object of settings, got ${describe(data)}`);
  }
  checkUnknownKeys(data as Record<string, unknown>, "", file);
  checkPorts((data as Record<string, unknown>).ports, file);
  const result = v.safeParse(SettingsSchema, data);
  if (!result.success) {
    const issue = result.issues[0];
    const key = issue.path?.map((p) => String(p.key)).join(".") ?? "";
    const expected = issue.expected ?? "a valid value";
    // The type of what was found, never the value: the file may not be what it claims to be.
    throw invalid(file, key, `expected ${expected}, got ${describe(issue.input)}`);
  }
  const settings = result.output;
  for (const [i, path] of (settings.dotfiles ?? []).entries()) {
    const rel = homeRelative(path);
    if (rel === null) {
      throw invalid(
        file,
        `dotfiles[${i}]`,
        "not a path inside your home",
        'write it relative to ~, e.g. ".gitconfig" or "~/.config/nvim"',
      );
    }
  }
  for (const mode of ["ro", "rw"] as const) {
    for (const [i, path] of (settings.binds?.[mode] ?? []).entries()) {
      if (!isAbsolute(path) && !path.startsWith("~/")) {
        throw invalid(file, `binds.${mode}[${i}]`, "must be an absolute path or start with ~/");
      }
    }
  }
  for (const [i, path] of (settings.protect ?? []).entries()) {
    if (projectRelative(path) === null) {
      throw invalid(
        file,
        `protect[${i}]`,
        'must be a path inside the project, e.g. ".git" or "secrets/"',
      );
    }
  }
  if (settings.env !== undefined) {
    const names = Array.isArray(settings.env) ? settings.env : Object.keys(settings.env);
    for (const [i, name] of names.entries()) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        throw invalid(file, `env[${i}]`, "not an environment variable name");
      }
    }
  }
  return settings;
}

/** Each port before the schema: its union would only say "expected (false | Array)". */
function checkPorts(ports: unknown, file: string): void {
  if (ports === undefined || ports === false) return;
  if (!Array.isArray(ports))
    throw invalid(
      file,
      "ports",
      `expected false or a list of port numbers, got ${describe(ports)}`,
    );
  for (const [i, port] of ports.entries()) {
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw invalid(
        file,
        `ports[${i}]`,
        `expected a TCP port number (an integer from 1 to 65535), got ${typeof port === "number" ? "another number" : describe(port)}`,
        'e.g. `"ports": [5173]`, or `"ports": false` to forward nothing',
      );
    }
  }
}

function checkUnknownKeys(obj: Record<string, unknown>, at: string, file: string): void {
  const known = KNOWN_KEYS[at];
  if (known === undefined) return;
  for (const [key, value] of Object.entries(obj)) {
    const path = at === "" ? key : `${at}.${key}`;
    if (!known.includes(key)) {
      const near = closest(key, known);
      throw invalid(
        file,
        path,
        "unknown key",
        near === null ? `valid keys: ${known.join(", ")}` : `did you mean "${near}"?`,
      );
    }
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      checkUnknownKeys(value as Record<string, unknown>, path, file);
    }
  }
}

function closest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const d = distance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : null;
}

/** Levenshtein distance. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (row[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/** What kind of value was found — never the value itself. */
function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return "a string";
  return typeof value === "undefined" ? "nothing" : `a ${typeof value}`;
}

function invalid(file: string, key: string, problem: string, fix?: string): SafeNpmError {
  return new SafeNpmError("BAD_SETTINGS", `${file}: ${key === "" ? "" : `${key}: `}${problem}`, {
    hint:
      fix ??
      "fix the value (see `safe-npm --help` and the README's settings section), or remove the key",
  });
}
