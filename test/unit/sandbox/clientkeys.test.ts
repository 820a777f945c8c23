/** The user's client certificate keys that lie in the project, to be hidden inside. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
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
    expect(clientKeysInProject(host(npmrc(join(root, "client.key"))), root)).toEqual([
      join(root, "client.key"),
    ]);
    expect(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: `${VAR}` is npmrc syntax
      clientKeysInProject(host(npmrc("${KEYDIR}/client.key"), { KEYDIR: root }), root),
    ).toEqual([join(root, "client.key")]);
    symlinkSync(root, join(home, "work"));
    expect(clientKeysInProject(host(npmrc(join(home, "work", "client.key"))), root)).toEqual([
      join(root, "client.key"),
    ]);
  });

  it("leaves out keys elsewhere, missing ones, and pairs npm would not use (no certfile)", () => {
    const host = (text: string) => ({ userNpmrc: text, env: {}, home });
    expect(clientKeysInProject(host(npmrc(join(home, "client.key"))), root)).toEqual([]);
    expect(clientKeysInProject(host(npmrc(join(root, "absent.key"))), root)).toEqual([]);
    expect(
      clientKeysInProject(host(`//r.example/:keyfile=${join(root, "client.key")}\n`), root),
    ).toEqual([]);
    expect(clientKeysInProject({ userNpmrc: null, env: {}, home }, root)).toEqual([]);
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
