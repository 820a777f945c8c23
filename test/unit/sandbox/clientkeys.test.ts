/** The user's client certificate keys that lie in the project, to be hidden inside. */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${VAR}` is npmrc syntax here
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CredentialFile } from "../../../src/network/credentials.js";
import { clientKeysInProject } from "../../../src/sandbox/clientkeys.js";

let dir: string;
let root: string;
let home: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "safe-npm-clientkeys-"));
  root = join(dir, "project");
  home = join(dir, "home");
  mkdirSync(root);
  mkdirSync(home);
  writeFileSync(join(root, "client.key"), "key");
  writeFileSync(join(home, "client.key"), "key");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const npmrc = (key: string, cert = "/etc/hostname"): string =>
  `//r.example/:certfile=${cert}\n//r.example/:keyfile=${key}\n`;
const file = (text: string, label = "~/.npmrc"): CredentialFile => ({
  kind: "npmrc",
  label,
  text,
  project: false,
});
/** The keys found in the user's npmrc `text`, run from `cwd` (the project by default). */
const keys = (text: string, env: Record<string, string> = {}, cwd = root) =>
  clientKeysInProject([file(text)], { env, home, cwd }, root);
const none = { hide: [], watch: [] };

describe("clientKeysInProject", () => {
  it("lists a key in the project, however the npmrc spells it (a variable, a link to the project)", () => {
    expect(keys(npmrc(join(root, "client.key"))).hide).toEqual([join(root, "client.key")]);
    expect(keys(npmrc("${KEYDIR}/client.key"), { KEYDIR: root }).hide).toEqual([
      join(root, "client.key"),
    ]);
    symlinkSync(root, join(home, "work"));
    expect(keys(npmrc(join(home, "work", "client.key"))).hide).toEqual([join(root, "client.key")]);
  });

  it("resolves a relative keyfile from the working directory, as npm reads it", () => {
    expect(keys(npmrc("client.key")).hide).toEqual([join(root, "client.key")]);
    mkdirSync(join(root, "sub"));
    expect(keys(npmrc("../client.key"), {}, join(root, "sub")).hide).toEqual([
      join(root, "client.key"),
    ]);
    // From elsewhere, the same name is another file.
    expect(keys(npmrc("client.key"), {}, home)).toEqual(none);
  });

  it("finds a quoted key name, and one npm's ini parser reads through a JSON escape", () => {
    const key = join(root, "client.key");
    expect(
      keys(`"//r.example/:certfile"=/etc/hostname\n"//r.example/:keyfile"=${key}\n`).hide,
    ).toEqual([key]);
    expect(
      keys(`//r.example/:certfile=/etc/hostname\n"//r.example/:key\\u0066ile" = "${key}"\n`).hide,
    ).toEqual([key]);
  });

  it("reads npm's global npmrc too; the user config wins key by key", () => {
    const global = file(npmrc(join(root, "client.key")), "/usr/etc/npmrc");
    const host = { env: {}, home, cwd: root };
    expect(clientKeysInProject([global], host, root).hide).toEqual([join(root, "client.key")]);
    expect(
      clientKeysInProject([global, file(npmrc(join(home, "client.key")))], host, root),
    ).toEqual(none);
  });

  it("leaves out keys elsewhere, and pairs npm would not use (no certfile)", () => {
    expect(keys(npmrc(join(home, "client.key")))).toEqual(none);
    expect(keys(npmrc(join(home, "absent.key")))).toEqual(none);
    expect(keys(`//r.example/:keyfile=${join(root, "client.key")}\n`)).toEqual(none);
    expect(clientKeysInProject([], { env: {}, home, cwd: root }, root)).toEqual(none);
  });

  it("watches a key still missing in the project, its folder too", () => {
    expect(keys(npmrc(join(root, "absent.key")))).toEqual({
      hide: [],
      watch: [{ kind: "clientkey", path: join(root, "absent.key") }],
    });
    expect(keys(npmrc(join(root, "certs", "c.key"))).watch).toEqual([
      { kind: "clientkey", path: join(root, "certs", "c.key") },
    ]);
  });

  it("refuses a key with another name (a hard link), wherever that name is", () => {
    mkdirSync(join(root, "node_modules", ".cache"), { recursive: true });
    linkSync(join(root, "client.key"), join(root, "node_modules", ".cache", "k"));
    expect(() => keys(npmrc(join(root, "client.key")))).toThrow(
      expect.objectContaining({
        code: "HARD_LINKED_SECRET",
        message: expect.stringContaining(`${join(root, "client.key")} has 2 names`),
        hint: expect.stringContaining("-samefile"),
      }),
    );
    rmSync(join(root, "node_modules", ".cache", "k"));
    expect(keys(npmrc(join(root, "client.key"))).hide).toEqual([join(root, "client.key")]);
  });

  it("refuses a key reached through a link inside the project", () => {
    mkdirSync(join(root, "certs"));
    symlinkSync(join(home, "client.key"), join(root, "certs", "client.key"));
    expect(() => keys(npmrc(join(root, "certs", "client.key")))).toThrow(/link/);
  });
});
