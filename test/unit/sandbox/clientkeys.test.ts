/** The user's client certificate keys that lie in the project, to be hidden inside. */
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
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

describe("clientKeysInProject", () => {
  it("lists a key in the project, however the npmrc spells it (a variable, a link to the project)", () => {
    const host = (text: string, env: Record<string, string> = {}) => ({
      userNpmrc: text,
      env,
      home,
    });
    expect(clientKeysInProject(host(npmrc(join(root, "client.key"))), root).hide).toEqual([
      join(root, "client.key"),
    ]);
    expect(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: `${VAR}` is npmrc syntax
      clientKeysInProject(host(npmrc("${KEYDIR}/client.key"), { KEYDIR: root }), root).hide,
    ).toEqual([join(root, "client.key")]);
    symlinkSync(root, join(home, "work"));
    expect(clientKeysInProject(host(npmrc(join(home, "work", "client.key"))), root).hide).toEqual([
      join(root, "client.key"),
    ]);
  });

  const none = { hide: [], watch: [] };

  it("leaves out keys elsewhere, and pairs npm would not use (no certfile)", () => {
    const host = (text: string) => ({ userNpmrc: text, env: {}, home });
    expect(clientKeysInProject(host(npmrc(join(home, "client.key"))), root)).toEqual(none);
    expect(clientKeysInProject(host(npmrc(join(home, "absent.key"))), root)).toEqual(none);
    expect(
      clientKeysInProject(host(`//r.example/:keyfile=${join(root, "client.key")}\n`), root),
    ).toEqual(none);
    expect(clientKeysInProject({ userNpmrc: null, env: {}, home }, root)).toEqual(none);
  });

  it("watches a key still missing in the project, its folder too", () => {
    const host = (text: string) => ({ userNpmrc: text, env: {}, home });
    expect(clientKeysInProject(host(npmrc(join(root, "absent.key"))), root)).toEqual({
      hide: [],
      watch: [{ kind: "clientkey", path: join(root, "absent.key") }],
    });
    expect(clientKeysInProject(host(npmrc(join(root, "certs", "c.key"))), root).watch).toEqual([
      { kind: "clientkey", path: join(root, "certs", "c.key") },
    ]);
  });

  it("refuses a key with another name (a hard link), wherever that name is", () => {
    const host = { userNpmrc: npmrc(join(root, "client.key")), env: {}, home };
    mkdirSync(join(root, "node_modules", ".cache"), { recursive: true });
    linkSync(join(root, "client.key"), join(root, "node_modules", ".cache", "k"));
    expect(() => clientKeysInProject(host, root)).toThrow(
      expect.objectContaining({
        code: "HARD_LINKED_SECRET",
        message: expect.stringContaining(`${join(root, "client.key")} has 2 names`),
        hint: expect.stringContaining("-samefile"),
      }),
    );
    rmSync(join(root, "node_modules", ".cache", "k"));
    expect(clientKeysInProject(host, root).hide).toEqual([join(root, "client.key")]);
  });

  it("refuses a key reached through a link inside the project", () => {
    mkdirSync(join(root, "certs"));
    symlinkSync(join(home, "client.key"), join(root, "certs", "client.key"));
    expect(() =>
      clientKeysInProject(
        { userNpmrc: npmrc(join(root, "certs", "client.key")), env: {}, home },
        root,
      ),
    ).toThrow(/link/);
  });
});
