import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { trustCommand } from "../../../src/commands/trust.js";
import { SafeNpmError } from "../../../src/errors.js";
import { findSettingsFiles } from "../../../src/settings/find.js";
import { resolveSettings } from "../../../src/settings/index.js";
import { loadSettingsFile } from "../../../src/settings/load.js";
import {
  applyFlags,
  applyLayer,
  defaults,
  type EffectiveSettings,
  widenings,
} from "../../../src/settings/merge.js";
import {
  isTrusted,
  markWrittenInside,
  trust,
  trustStorePath,
  untrust,
} from "../../../src/settings/trust.js";
import { validateSettings } from "../../../src/settings/validate.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "safe-npm-settings-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function file(rel: string, content: string): string {
  const path = join(dir, rel);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, content);
  return path;
}

function errorOf(fn: () => unknown): SafeNpmError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SafeNpmError);
    return error as SafeNpmError;
  }
  throw new Error("did not throw");
}

describe("validateSettings", () => {
  it("accepts every key", () => {
    const settings = {
      $schema: "./node_modules/safe-npm/schema.json",
      dotfiles: [".gitconfig", "~/.config/nvim"],
      env: ["NPM_TOKEN"],
      network: { install: "registry", run: "none", allow: ["npm.example.com:443"] },
      binds: { ro: ["/opt/sdk"], rw: ["~/scratch"] },
      protect: [".git", "secrets/"],
      home: "private",
      cache: "shared",
      packageManager: "pnpm",
      ports: [5173, 3000],
    };
    expect(validateSettings(settings, "f")).toEqual(settings);
    expect(validateSettings({ ports: false }, "f")).toEqual({ ports: false });
    expect(validateSettings({ env: { FOO: "bar" }, network: "none" }, "f")).toEqual({
      env: { FOO: "bar" },
      network: "none",
    });
  });

  it.each([
    [{ dotfile: [] }, ".sandboxrc.json: dotfile: unknown key", 'did you mean "dotfiles"?'],
    [
      { network: { alow: [] } },
      ".sandboxrc.json: network.alow: unknown key",
      'did you mean "allow"?',
    ],
    [{ zzzzzzzz: 1 }, ".sandboxrc.json: zzzzzzzz: unknown key", "valid keys: $schema, dotfiles"],
  ])("names an unknown key and the closest valid one: %j", (data, message, hint) => {
    const e = errorOf(() => validateSettings(data, ".sandboxrc.json"));
    expect(e.code).toBe("BAD_SETTINGS");
    expect(e.message).toBe(message);
    expect(e.hint).toContain(hint);
  });

  it.each([
    [{ dotfiles: ".gitconfig" }, "dotfiles: expected Array, got a string"],
    [{ home: "somewhere" }, 'home: expected ("private" | "project"), got a string'],
    [{ network: 3 }, "network: expected"],
    [{ protect: [1] }, "protect.0: expected string, got a number"],
    [{ ports: true }, "ports: expected false or a list of port numbers, got a boolean"],
    [{ ports: 5173 }, "ports: expected false or a list of port numbers, got a number"],
    [
      { ports: ["5173"] },
      "ports[0]: expected a TCP port number (an integer from 1 to 65535), got a string",
    ],
    [
      { ports: [3000, 0] },
      "ports[1]: expected a TCP port number (an integer from 1 to 65535), got another number",
    ],
    [{ ports: [65536] }, "ports[0]: expected a TCP port"],
    [{ ports: [51.73] }, "ports[0]: expected a TCP port"],
  ])("names the key, the expected and the actual type (never the value): %j", (data, message) => {
    const e = errorOf(() => validateSettings(data, "f"));
    expect(e.message.startsWith("f: ")).toBe(true);
    expect(e.message.replaceAll("\\", "")).toContain(message.replaceAll("\\", ""));
    expect(e.message).not.toMatch(/gitconfig|somewhere/);
  });

  it.each([
    [{ dotfiles: ["/etc/passwd"] }, "dotfiles[0]"],
    [{ dotfiles: ["../outside"] }, "dotfiles[0]"],
    [{ dotfiles: ["~"] }, "dotfiles[0]"],
    [{ binds: { ro: ["relative/path"] } }, "binds.ro[0]"],
    [{ protect: ["../x"] }, "protect[0]"],
    [{ protect: ["/abs"] }, "protect[0]"],
    [{ env: ["NOT-A-NAME"] }, "env[0]"],
  ])("rejects paths and names that escape their base, without echoing them: %j", (data, key) => {
    const { message } = errorOf(() => validateSettings(data, "f"));
    expect(message).toContain(`f: ${key}: `);
    expect(message).not.toMatch(/passwd|outside|relative\/path|"\/abs|NOT-A-NAME|"~"/);
  });

  it("rejects a non-object, naming its type only", () => {
    expect(errorOf(() => validateSettings([], "f")).message).toContain("expected an object");
    const key = "-----BEGIN OPENSSH PRIVATE KEY----- SECRET";
    const { message } = errorOf(() => validateSettings(key, "f"));
    expect(message).toBe("f: expected an object of settings, got a string");
  });
});

describe("loadSettingsFile", () => {
  it("reads JSON, YAML and package.json's sandbox key", () => {
    expect(loadSettingsFile(file(".sandboxrc.json", '{"home":"project"}')).settings).toEqual({
      home: "project",
    });
    expect(
      loadSettingsFile(file("y/.sandboxrc.yaml", "dotfiles:\n  - .gitconfig\n")).settings,
    ).toEqual({
      dotfiles: [".gitconfig"],
    });
    expect(loadSettingsFile(file("n/.sandboxrc", "network: none\n")).settings).toEqual({
      network: "none",
    });
    const pkg = loadSettingsFile(
      file("p/package.json", '{"name":"x","sandbox":{"cache":"shared"}}'),
    );
    expect(pkg.settings).toEqual({ cache: "shared" });
    // Trust is recorded against the sandbox key only, so adding a dependency keeps it.
    expect(pkg.content).toBe('{"cache":"shared"}');
  });

  it("names the file and the line of a syntax error", () => {
    const bad = file(".sandboxrc.json", '{\n  "home": "private",\n  oops\n}');
    const e = errorOf(() => loadSettingsFile(bad));
    expect(e.message).toContain(bad);
    expect(e.message).toContain("cannot parse: line 3: Expected double-quoted property name");
    const badYaml = file("y/.sandboxrc.yml", "dotfiles:\n  - a\n - b\n");
    expect(errorOf(() => loadSettingsFile(badYaml)).message).toContain(
      "cannot parse: line 3, column 2: bad indentation",
    );
  });

  it.each([
    ["k1/.sandboxrc.json", "-----BEGIN OPENSSH PRIVATE KEY-----\nKEYSECRET\n"],
    ["k2/.sandboxrc.json", '{"a": KEYSECRET}'],
    ["k3/.sandboxrc.json", '{"a": 1,\n "b": KEYSECRET}'],
    ["k4/.sandboxrc", "-----BEGIN OPENSSH PRIVATE KEY----- KEYSECRET"],
    ["k5/.sandboxrc.yml", "KEYSECRET: [\n"],
  ])("never echoes the content of a file that does not parse: %s", (name, content) => {
    const e = errorOf(() => loadSettingsFile(file(name, content)));
    expect(e.code).toBe("BAD_SETTINGS");
    expect(`${e.message}\n${e.hint}`).not.toMatch(/KEYSECRET|BEGIN|OPENSSH/);
  });

  it("refuses a repository's settings file that is a link or a FIFO, and reads the user's through a link", () => {
    const target = file("elsewhere/trusted.json", '{"home":"project"}');
    symlinkSync(target, join(dir, "linked.json"));
    const e = errorOf(() => loadSettingsFile(join(dir, "linked.json")));
    expect(e.code).toBe("UNSAFE_PATH");
    expect(e.message).toContain(join(dir, "linked.json"));
    expect(loadSettingsFile(join(dir, "linked.json"), false).settings).toEqual({ home: "project" });
    execFileSync("mkfifo", [join(dir, "fifo.json")]);
    // Returns at once (O_NONBLOCK): a FIFO never blocks the read.
    expect(errorOf(() => loadSettingsFile(join(dir, "fifo.json"))).message).toContain(
      "is not a regular file",
    );
  });
});

describe("findSettingsFiles", () => {
  it("takes the nearest data file between the cwd and the project root and reports code configs", () => {
    file("package.json", '{"name":"root","sandbox":{"home":"private"}}');
    file("packages/web/.sandboxrc.yml", "network: none\n");
    file(".sandboxrc.js", "require('fs').writeFileSync('/tmp/pwned','')");
    file("packages/web/sandbox.config.ts", "");
    const found = findSettingsFiles(
      join(dir, "packages/web/src"),
      dir,
      {},
      join(dir, "home"),
      undefined,
    );
    expect(found.repo).toBe(join(dir, "packages/web/.sandboxrc.yml"));
    expect(found.ignoredCode.sort()).toEqual([
      join(dir, ".sandboxrc.js"),
      join(dir, "packages/web/sandbox.config.ts"),
    ]);
    expect(findSettingsFiles(dir, dir, {}, join(dir, "home"), undefined).repo).toBe(
      join(dir, "package.json"),
    );
  });

  it("ignores a package.json without a sandbox key and finds the user file", () => {
    const root = join(dir, "proj");
    file("proj/package.json", '{"name":"root"}');
    const user = file("xdg/safe-npm/config.yaml", "dotfiles: [.gitconfig]\n");
    const found = findSettingsFiles(
      root,
      root,
      { XDG_CONFIG_HOME: join(dir, "xdg") },
      "/nonexistent",
      undefined,
    );
    expect(found).toEqual({ repo: null, user, ignoredCode: [], ignoredLinks: [] });
    expect(findSettingsFiles(root, root, {}, "/nonexistent", "/explicit.json").user).toBe(
      "/explicit.json",
    );
  });

  it("refuses a user settings file where a sandboxed run may have written it", () => {
    const home = join(dir, "home");
    const root = join(dir, "proj");
    file("proj/package.json", '{"name":"root"}');
    // XDG_CONFIG_HOME=$PWD/.config (CI): a run's postinstall could write this file.
    const planted = file("proj/.config/safe-npm/config.json", '{"network":"full"}');
    const env = { XDG_CONFIG_HOME: join(root, ".config") };
    const e = errorOf(() => findSettingsFiles(root, root, env, home, undefined));
    expect(e.code).toBe("UNSAFE_CONFIG_DIR");
    expect(e.message).toContain(planted);
    expect(e.message).toContain("which holds a package.json");
    expect(e.hint).toContain("XDG_CONFIG_HOME");
    expect(e.exitCode).toBe(125);
    // Judged wherever the run happens: from another directory, and from no project (doctor).
    mkdirSync(join(dir, "elsewhere"));
    expect(() =>
      findSettingsFiles(join(dir, "elsewhere"), join(dir, "elsewhere"), env, home, undefined),
    ).toThrow(/lies where a sandboxed run may write/);
    // A dangling link planted there is refused too.
    rmSync(planted);
    symlinkSync(join(dir, "nowhere"), planted);
    expect(errorOf(() => findSettingsFiles(root, root, env, home, undefined)).code).toBe(
      "UNSAFE_CONFIG_DIR",
    );
    // With no file there, nothing is read and nothing is refused.
    rmSync(planted);
    expect(findSettingsFiles(root, root, env, home, undefined).user).toBeNull();
  });

  it("refuses a user settings file in this run's project, which has no package.json", () => {
    const home = join(dir, "home");
    const workdir = join(dir, "work");
    const planted = file("work/cfg/safe-npm/config.yml", "network: full\n");
    const env = { XDG_CONFIG_HOME: join(workdir, "cfg") };
    const e = errorOf(() => findSettingsFiles(workdir, workdir, env, home, undefined));
    expect(e.code).toBe("UNSAFE_CONFIG_DIR");
    expect(e.message).toContain(`${planted} lies where`);
    expect(e.message).toContain(`in the project ${workdir}`);
    // The home's own ~/.config, seen from a "root" holding the home (doctor outside a project).
    const own = file("home/.config/safe-npm/config.json", "{}");
    expect(findSettingsFiles(home, home, {}, home, undefined).user).toBe(own);
    expect(findSettingsFiles(dir, dir, {}, home, undefined).user).toBe(own);
  });

  it.each([
    [
      "a link",
      (path: string) => symlinkSync(file("elsewhere/x.json", "{}"), path),
      "symbolic link",
    ],
    ["a dangling link", (path: string) => symlinkSync(join(dir, "nowhere"), path), "symbolic link"],
    ["a FIFO", (path: string) => execFileSync("mkfifo", [path]), "not a regular file"],
    ["a directory", (path: string) => mkdirSync(path), "not a regular file"],
  ])("refuses a .sandboxrc.json that is %s, naming it", (_what, plant, problem) => {
    const rc = join(dir, ".sandboxrc.json");
    plant(rc);
    const e = errorOf(() => findSettingsFiles(dir, dir, {}, "/nonexistent", undefined));
    expect(e.code).toBe("UNSAFE_PATH");
    expect(e.message).toContain(rc);
    expect(e.message).toContain(problem);
    expect(e.exitCode).toBe(125);
  });

  it("stops a project nested in another whose settings would no longer apply", () => {
    file("package.json", '{"name":"mono","workspaces":["packages/*"]}');
    const rc = file(".sandboxrc.json", '{"protect":[".git","packages/a/.env"]}');
    file("packages/a/package.json", '{"name":"a"}');
    const a = join(dir, "packages/a");
    const e = errorOf(() => findSettingsFiles(a, a, {}, "/nonexistent", undefined));
    expect(e.code).toBe("BAD_SETTINGS");
    expect(e.message).toContain(`${rc} holds safe-npm settings for the project at ${dir}`);
    expect(e.hint).toContain("a .sandboxrc.json there");
    // A key in the enclosing package.json counts the same.
    rmSync(rc);
    file("package.json", '{"name":"mono","sandbox":{"network":"none"}}');
    expect(errorOf(() => findSettingsFiles(a, a, {}, "/nonexistent", undefined)).code).toBe(
      "BAD_SETTINGS",
    );
    // Its own settings: those apply, as before.
    const own = file("packages/a/.sandboxrc.json", "{}");
    expect(findSettingsFiles(a, a, {}, "/nonexistent", undefined).repo).toBe(own);
    // In a folder between, with no package.json of its own: the package.json above counts.
    rmSync(own);
    const between = file("packages/.sandboxrc.json", "{}");
    expect(errorOf(() => findSettingsFiles(a, a, {}, "/nonexistent", undefined)).message).toContain(
      `${between} holds safe-npm settings for the project at ${dir}`,
    );
    rmSync(between);
    // Not above the home, nor where no folder above holds a package.json (no project a run had).
    expect(findSettingsFiles(a, a, {}, dir, undefined).repo).toBeNull();
    rmSync(join(dir, "package.json"));
    file(".sandboxrc.json", "{}");
    expect(findSettingsFiles(a, a, {}, "/nonexistent", undefined).repo).toBeNull();
  });

  it("does not read a package.json that is a link (or a FIFO) for settings", () => {
    const target = file("other/package.json", '{"sandbox":{"dotfiles":[".ssh/id_rsa"]}}');
    mkdirSync(join(dir, "a"));
    symlinkSync(target, join(dir, "a", "package.json"));
    const found = findSettingsFiles(join(dir, "a"), join(dir, "a"), {}, "/nonexistent", undefined);
    expect(found.repo).toBeNull();
    expect(found.ignoredLinks).toEqual([join(dir, "a", "package.json")]);
    mkdirSync(join(dir, "b"));
    execFileSync("mkfifo", [join(dir, "b", "package.json")]);
    expect(findSettingsFiles(join(dir, "b"), join(dir, "b"), {}, "/x", undefined).repo).toBeNull();
  });
});

describe("merge order: defaults → user → repo → flags", () => {
  it("adds lists, replaces scalars and protect, and records the source of each key", () => {
    let e = defaults();
    expect(e.network).toEqual({ install: "registry", run: "none", allow: [] });
    expect(e.protect).toEqual([".git"]);
    e = applyLayer(
      e,
      { dotfiles: [".gitconfig"], home: "project", network: { allow: ["a.example"] } },
      "user",
    );
    e = applyLayer(
      e,
      { dotfiles: ["~/.npmrc"], home: "private", protect: [".git", "secrets/"], network: "none" },
      "repo",
    );
    e = applyFlags(e, { allow: ["b.example"] });
    expect(e.dotfiles).toEqual([".gitconfig", ".npmrc"]);
    expect(e.home).toBe("private");
    expect(e.protect).toEqual([".git", "secrets"]);
    expect(e.network).toEqual({ install: "none", run: "none", allow: ["a.example", "b.example"] });
    expect(e.sources).toMatchObject({
      dotfiles: "repo",
      home: "repo",
      protect: "repo",
      network: "flag",
    });
    expect(applyFlags(e, { network: "full" }).network.install).toBe("full");
  });

  it("adds ports; false turns forwarding off and only --port turns it back on", () => {
    let e = defaults();
    expect(e.ports).toEqual({ enabled: true, fixed: [] });
    e = applyLayer(e, { ports: [3000] }, "user");
    e = applyLayer(e, { ports: [5173, 3000] }, "repo");
    expect(e.ports).toEqual({ enabled: true, fixed: [3000, 5173] });
    expect(e.sources.ports).toBe("repo");
    expect(applyFlags(e, { ports: [8080] }).ports).toEqual({
      enabled: true,
      fixed: [3000, 5173, 8080],
    });
    expect(applyFlags(e, { noPorts: true }).ports).toEqual({ enabled: false, fixed: [] });

    const off = applyLayer(defaults(), { ports: false }, "user");
    const repoAdds = applyLayer(off, { ports: [5173] }, "repo");
    expect(repoAdds.ports).toEqual({ enabled: false, fixed: [] });
    const flagged = applyFlags(repoAdds, { ports: [5173] });
    expect(flagged.ports).toEqual({ enabled: true, fixed: [5173] });
    expect(flagged.sources.ports).toBe("flag");
  });
});

describe("widenings", () => {
  it("lists each widening in plain words", () => {
    expect(
      widenings({
        dotfiles: ["~/.ssh/id_rsa"],
        env: ["AWS_SECRET_ACCESS_KEY"],
        network: { install: "full", run: "registry", allow: ["api.example.com"] },
        binds: { ro: ["/opt/x"], rw: ["~/y"] },
        protect: [],
        home: "project",
        cache: "shared",
      }),
    ).toEqual([
      "read ~/.ssh/id_rsa",
      "pass env AWS_SECRET_ACCESS_KEY",
      'network "full" for installs',
      'network "registry" for scripts and other commands',
      "reach api.example.com",
      "read /opt/x",
      "write ~/y",
      "make .git writable",
      "use the project directory as $HOME",
      "share your package-manager caches (~/.npm, …) read-write",
    ]);
  });

  it("does not count narrowing", () => {
    expect(
      widenings({ network: "none", protect: [".git", "dist"], home: "private", cache: "project" }),
    ).toEqual([]);
    expect(widenings({ network: { install: "registry", run: "none" } })).toEqual([]);
    // Inbound from the host's loopback only: nothing more for the code inside to reach.
    expect(widenings({ ports: [5173, 22] })).toEqual([]);
    expect(widenings({ ports: false })).toEqual([]);
  });

  // The repository's protect, network modes, home and cache replace the user's: judged against them.
  const userBase = (user: Parameters<typeof applyLayer>[1]): EffectiveSettings =>
    applyLayer(defaults(), user, "user");

  it("judges against the user's settings: dropping what they protect, more network than they give", () => {
    const base = userBase({ protect: [".git", ".env"], network: "none" });
    const repo = { protect: [".git"], network: { install: "registry" as const } };
    expect(widenings(repo)).toEqual([]);
    expect(widenings(repo, base)).toEqual([
      'network "registry" for installs (your settings say "none")',
      "make .env writable (your settings protect it)",
    ]);
    // Wider than both: said against the user's value where it is theirs.
    expect(widenings({ network: "full", protect: [] }, base)).toEqual([
      'network "full" for installs (your settings say "none")',
      'network "full" for scripts and other commands',
      "make .git writable",
      "make .env writable (your settings protect it)",
    ]);
  });

  it("does not count narrowing the user's settings further, nor what the user opened already", () => {
    const base = userBase({ protect: [".git", ".env"], network: "none" });
    expect(widenings({ protect: ["./.env", ".git", "dist"], network: "none" }, base)).toEqual([]);
    expect(widenings({ network: { run: "none" } }, base)).toEqual([]);
    const open = userBase({
      protect: [],
      network: "full",
      home: "project",
      cache: "shared",
    });
    expect(
      widenings({ protect: [], network: "full", home: "project", cache: "shared" }, open),
    ).toEqual([]);
    expect(widenings({ home: "project", cache: "shared" }, defaults())).toEqual([
      "use the project directory as $HOME",
      "share your package-manager caches (~/.npm, …) read-write",
    ]);
  });
});

describe("trust", () => {
  it("records realpath and hash; any change revokes it; untrust removes it", () => {
    const store = trustStorePath({ XDG_STATE_HOME: join(dir, "state") }, "/nonexistent");
    expect(store).toBe(join(dir, "state", "safe-npm", "trust.json"));
    const rc = file("proj/.sandboxrc.json", '{"dotfiles":[".ssh/id_rsa"]}');
    const wider = ["read ~/.ssh/id_rsa"];
    expect(isTrusted(store, rc, readFileSync(rc, "utf8"), wider)).toBe(false);
    trust(store, rc, readFileSync(rc, "utf8"), wider);
    expect(isTrusted(store, rc, readFileSync(rc, "utf8"), wider)).toBe(true);
    writeFileSync(rc, '{"dotfiles":[".ssh/id_rsa", ".aws/credentials"]}');
    expect(isTrusted(store, rc, readFileSync(rc, "utf8"), wider)).toBe(false);
    expect(untrust(store, rc)).toBe(true);
    expect(untrust(store, rc)).toBe(false);
  });

  it("never keys trust by a link's target: a link cannot borrow another file's trust", () => {
    const store = join(dir, "state", "trust.json");
    const trusted = file("other/.sandboxrc.json", '{"dotfiles":[".ssh/id_rsa"]}');
    trust(store, trusted, readFileSync(trusted, "utf8"), ["read ~/.ssh/id_rsa"]);
    mkdirSync(join(dir, "proj"));
    symlinkSync(trusted, join(dir, "proj", ".sandboxrc.json"));
    const e = errorOf(() =>
      isTrusted(store, join(dir, "proj", ".sandboxrc.json"), readFileSync(trusted, "utf8"), []),
    );
    expect(e.code).toBe("UNSAFE_PATH");
  });

  it("covers only the widenings recorded: not one the user's narrower settings add later", () => {
    const store = join(dir, "state", "trust.json");
    const rc = file("proj/.sandboxrc.json", '{"protect":[".git"],"network":"full"}');
    const content = readFileSync(rc, "utf8");
    trust(store, rc, content, [
      'network "full" for installs',
      'network "full" for scripts and other commands',
    ]);
    expect(isTrusted(store, rc, content, ['network "full" for installs'])).toBe(true);
    // The same opening, said against the user's settings: covered.
    expect(
      isTrusted(store, rc, content, ['network "full" for installs (your settings say "none")']),
    ).toBe(true);
    // A path the user protects since: not covered.
    expect(
      isTrusted(store, rc, content, [
        'network "full" for installs',
        "make .env writable (your settings protect it)",
      ]),
    ).toBe(false);
  });

  it("reads a record without a list as covering only what widens the defaults", () => {
    const store = join(dir, "state", "trust.json");
    const rc = file("proj/.sandboxrc.json", '{"protect":[]}');
    const content = readFileSync(rc, "utf8");
    trust(store, rc, content, ["make .git writable"]);
    const data = JSON.parse(readFileSync(store, "utf8")) as {
      entries: Record<string, { widenings?: string[] }>;
    };
    for (const entry of Object.values(data.entries)) delete entry.widenings;
    writeFileSync(store, JSON.stringify(data));
    expect(isTrusted(store, rc, content, ["make .git writable"])).toBe(true);
    expect(
      isTrusted(store, rc, content, [
        "make .git writable",
        "make .env writable (your settings protect it)",
      ]),
    ).toBe(false);
  });

  it("reports a damaged store with the fix", () => {
    const store = file("state/trust.json", "{not json");
    const rc = file("proj/.sandboxrc.json", "{}");
    expect(errorOf(() => isTrusted(store, rc, "{}", [])).hint).toContain(`rm ${store}`);
  });
});

describe("resolveSettings", () => {
  const store = (): string => join(dir, "state", "trust.json");

  it("refuses untrusted widening, listing it, and applies it once trusted or for one run", async () => {
    const rc = file("proj/.sandboxrc.json", '{"dotfiles":[".ssh/id_rsa"],"network":"none"}');
    const found = { repo: rc, user: null, ignoredCode: [], ignoredLinks: [] };
    await expect(
      resolveSettings(found, {}, { trustForRun: false, store: store() }),
    ).rejects.toMatchObject({
      code: "UNTRUSTED_SETTINGS",
      message: expect.stringContaining("read ~/.ssh/id_rsa"),
      hint: expect.stringContaining("safe-npm trust"),
    });
    const once = await resolveSettings(found, {}, { trustForRun: true, store: store() });
    expect(once.repo?.trust).toBe("for this run");
    trust(store(), rc, readFileSync(rc, "utf8"), ["read ~/.ssh/id_rsa"]);
    const trusted = await resolveSettings(found, {}, { trustForRun: false, store: store() });
    expect(trusted.repo?.trust).toBe("trusted");
    expect(trusted.effective.dotfiles).toEqual([".ssh/id_rsa"]);
  });

  it("does not obey settings a run set, even ones that widen nothing, until the user accepts them", async () => {
    const rc = file("proj/.sandboxrc.json", "{}");
    const found = { repo: rc, user: null, ignoredCode: [], ignoredLinks: [] };
    markWrittenInside(store(), rc, readFileSync(rc, "utf8"));
    await expect(
      resolveSettings(found, {}, { trustForRun: true, store: store() }),
    ).rejects.toMatchObject({
      code: "UNTRUSTED_SETTINGS",
      message: expect.stringContaining("they widen nothing, but they replace"),
    });
    const err: string[] = [];
    const out = {
      stdout: () => {},
      stderr: (t: string) => err.push(t),
      stderrIsTty: false,
      dim: () => {},
    };
    expect(trustCommand(rc, null, store(), out)).toBe(0);
    expect(err.join("")).toContain("now accepted as yours");
    const r = await resolveSettings(found, {}, { trustForRun: false, store: store() });
    expect(r.repo?.trust).toBe("not needed");
  });

  it("applies narrowing without trust", async () => {
    const rc = file("proj/.sandboxrc.yaml", "network: none\nprotect: [.git, dist]\n");
    const r = await resolveSettings(
      { repo: rc, user: null, ignoredCode: [], ignoredLinks: [] },
      {},
      { trustForRun: false, store: store() },
    );
    expect(r.repo?.trust).toBe("not needed");
    expect(r.effective.network.install).toBe("none");
    expect(r.effective.protect).toEqual([".git", "dist"]);
  });

  it("judges the repository against the user's settings: dropping what they protect needs trust", async () => {
    const user = file("cfg/config.json", '{"protect":[".git",".env"],"network":"none"}');
    const rc = file(
      "proj/package.json",
      '{"name":"p","sandbox":{"protect":[".git"],"network":{"install":"registry"}}}',
    );
    const found = { repo: rc, user, ignoredCode: [], ignoredLinks: [] };
    const refused = await resolveSettings(found, {}, { trustForRun: false, store: store() }).catch(
      (error: unknown) => error as SafeNpmError,
    );
    expect(refused).toBeInstanceOf(SafeNpmError);
    expect((refused as SafeNpmError).code).toBe("UNTRUSTED_SETTINGS");
    expect((refused as SafeNpmError).message).toContain(
      "- make .env writable (your settings protect it)",
    );
    expect((refused as SafeNpmError).message).toContain(
      '- network "registry" for installs (your settings say "none")',
    );
    // Without the user's file the same settings narrow nothing away: no trust needed.
    const alone = await resolveSettings(
      { ...found, user: null },
      {},
      { trustForRun: false, store: store() },
    );
    expect(alone.repo?.trust).toBe("not needed");

    // Narrowing further than the user: no trust needed.
    writeFileSync(rc, '{"name":"p","sandbox":{"protect":[".git",".env","dist"]}}');
    const narrower = await resolveSettings(found, {}, { trustForRun: false, store: store() });
    expect(narrower.repo?.trust).toBe("not needed");
    expect(narrower.effective.protect).toEqual([".git", ".env", "dist"]);
    expect(narrower.effective.network.install).toBe("none");
  });

  it("a trust given before the user protected a path does not cover making it writable", async () => {
    const quiet = { stdout: () => {}, stderr: () => {}, stderrIsTty: false, dim: () => {} };
    const userFile = join(dir, "cfg", "config.json");
    const rc = file("proj/.sandboxrc.json", '{"protect":[],"dotfiles":[".gitconfig"]}');
    const found = { repo: rc, user: null, ignoredCode: [], ignoredLinks: [] };
    expect(trustCommand(rc, null, store(), quiet)).toBe(0);
    expect(
      (await resolveSettings(found, {}, { trustForRun: false, store: store() })).repo?.trust,
    ).toBe("trusted");

    // The user now protects .env: the repository's empty list would make it writable.
    file("cfg/config.json", '{"protect":[".git",".env"]}');
    const withUser = { ...found, user: userFile };
    const refused = await resolveSettings(
      withUser,
      {},
      { trustForRun: false, store: store() },
    ).catch((error: unknown) => error as SafeNpmError);
    expect(refused).toBeInstanceOf(SafeNpmError);
    expect((refused as SafeNpmError).code).toBe("UNTRUSTED_SETTINGS");
    expect((refused as SafeNpmError).message).toContain("wider than you trusted it to");
    expect((refused as SafeNpmError).message).toContain(
      "- make .env writable (your settings protect it)",
    );

    // `safe-npm trust` judges with the user's settings too, and lists it.
    let said = "";
    const out = {
      ...quiet,
      stderr: (t: string) => {
        said += t;
      },
    };
    expect(trustCommand(rc, userFile, store(), out)).toBe(0);
    expect(said).toContain("- make .env writable (your settings protect it)");
    const trusted = await resolveSettings(withUser, {}, { trustForRun: false, store: store() });
    expect(trusted.repo?.trust).toBe("trusted");
    expect(trusted.effective.protect).toEqual([]);
  });

  it("trusts the user's own file without asking", async () => {
    const user = file("cfg/config.json", '{"dotfiles":[".gitconfig"],"env":["NPM_TOKEN"]}');
    const r = await resolveSettings(
      { repo: null, user, ignoredCode: [], ignoredLinks: [] },
      {},
      { trustForRun: false, store: store() },
    );
    expect(r.effective.dotfiles).toEqual([".gitconfig"]);
    expect(r.effective.envPass).toEqual(["NPM_TOKEN"]);
  });
});
