/**
 * Where the local CA lives: never where code in the sandbox can read its key. The project is
 * bound inside read-write, so a state directory in it (`XDG_STATE_HOME=$PWD/.state`, a HOME in
 * a checkout) would hand the CA's key to every install script. Real directories: a project
 * with a package.json, one without (the working directory made the project), and a home
 * outside both.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rootCertificates } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  dedupeAllowlist,
  parseAllowlist,
  registriesFromConfig,
} from "../../../src/network/allowlist.js";
import {
  hostCertificates,
  localCaPlace,
  mayBeInProjectDir,
  needsLocalCa,
} from "../../../src/network/gateway-setup.js";

let root: string;
let home: string;
let project: string;
let bare: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "safe-npm-ca-place-"));
  home = join(root, "home");
  project = join(root, "work", "app");
  bare = join(root, "scratch");
  mkdirSync(home, { recursive: true });
  mkdirSync(project, { recursive: true });
  mkdirSync(bare, { recursive: true });
  writeFileSync(join(project, "package.json"), "{}");
  symlinkSync(join(project, ".state"), join(home, "state-link"));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("mayBeInProjectDir", () => {
  it("judges a directory not made yet by what exists above it", () => {
    expect(mayBeInProjectDir(join(project, ".state", "safe-npm", "ca"), bare)).toBe(true);
    expect(mayBeInProjectDir(join(home, ".local", "state", "safe-npm", "ca"), project)).toBe(false);
  });
  it("counts the project root even without a package.json, and follows links", () => {
    expect(mayBeInProjectDir(join(bare, ".state", "ca"), bare)).toBe(true);
    mkdirSync(join(project, ".state"), { recursive: true });
    expect(mayBeInProjectDir(join(home, "state-link", "safe-npm", "ca"), bare)).toBe(true);
  });
});

describe("localCaPlace", () => {
  it("keeps the usual place outside any project", () => {
    const state = join(root, "xdg-state");
    expect(localCaPlace({ home, env: { XDG_STATE_HOME: state } }, project)).toEqual({
      dir: join(state, "safe-npm", "ca"),
      notice: null,
    });
    expect(localCaPlace({ home, env: {} }, project).dir).toBe(
      join(home, ".local", "state", "safe-npm", "ca"),
    );
  });

  it("moves the CA to ~/.local/state when XDG_STATE_HOME lies in the project, and says so", () => {
    const place = localCaPlace({ home, env: { XDG_STATE_HOME: join(project, ".state") } }, project);
    expect(place.dir).toBe(join(home, ".local", "state", "safe-npm", "ca"));
    expect(place.notice).toContain(`not in ${join(project, ".state", "safe-npm", "ca")}`);
    // The working directory as the project (no package.json): the same.
    const inBare = localCaPlace({ home, env: { XDG_STATE_HOME: join(bare, "s") } }, bare);
    expect(inBare.dir).toBe(join(home, ".local", "state", "safe-npm", "ca"));
  });

  it("has no place, and says the gateway is off, when HOME lies in a project too", () => {
    const insideHome = join(project, "home");
    mkdirSync(insideHome, { recursive: true });
    const place = localCaPlace(
      { home: insideHome, env: { XDG_STATE_HOME: join(project, ".s") } },
      project,
    );
    expect(place.dir).toBeNull();
    expect(place.notice).toMatch(/lies in a project.*opaque tunnel.*set XDG_STATE_HOME outside/);
    expect(localCaPlace({ home: insideHome, env: {} }, bare).dir).toBeNull();
  });
});

describe("hostCertificates", () => {
  // Only CERTIFICATE blocks are matched, not parsed: stand-ins with distinct bodies will do.
  const pem = (body: string): string =>
    `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----`;
  const userCa = pem("VXNlckNB");
  const otherCa = pem("T3RoZXJDQQ==");
  // A root node ships, spelled with other line breaks than node's own copy.
  const shipped = (rootCertificates[0] ?? "").replace(/\n/g, "\r\n");
  const file = (name: string, text: string): string => {
    const path = join(root, name);
    writeFileSync(path, text);
    return path;
  };
  const host = (env: Record<string, string>, nodeExtraCa: string | null, userNpmrc = null) => ({
    home,
    env,
    nodeExtraCa,
    userNpmrc,
  });

  it("leaves out of the sandbox's bundle the roots node ships, keeps the user's own", () => {
    const extra = file("extra.pem", `${shipped}\n${userCa}\n`);
    const cas = hostCertificates(host({ NODE_EXTRA_CA_CERTS: extra }, extra), null);
    expect(cas.bundle).toEqual([userCa]);
    expect(cas.nodeBundle).toEqual([userCa]);
    expect(cas.cafileConfigured).toBe(false);
  });

  it("adds nothing upstream when this process read NODE_EXTRA_CA_CERTS itself, the rest when not", () => {
    const extra = file("extra2.pem", `${shipped}\n${userCa}\n`);
    expect(hostCertificates(host({ NODE_EXTRA_CA_CERTS: extra }, extra), null).upstream).toEqual(
      [],
    );
    // The `safe-npm` command moved the file aside before node started (nodeca.ts), or library
    // use with an env of its own: this process's default trust lacks the user's own CA, and
    // has the roots node ships already.
    const notRead = hostCertificates(host({ NODE_EXTRA_CA_CERTS: extra }, null), null);
    expect(notRead.upstream).toEqual([userCa]);
  });

  it("with a cafile: upstream and the bundle hold everything (npm's cafile replaces its list)", () => {
    const extra = file("extra3.pem", `${shipped}\n${userCa}\n`);
    const cafile = file(
      "cafile.pem",
      `junk\n${otherCa}\n-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n`,
    );
    const cas = hostCertificates(
      {
        home,
        env: { NODE_EXTRA_CA_CERTS: extra },
        nodeExtraCa: extra,
        userNpmrc: `cafile=${cafile}\n`,
      },
      null,
    );
    expect(cas.cafileConfigured).toBe(true);
    // This process read NODE_EXTRA_CA_CERTS, but a context that gets the cafile's added starts
    // from node's shipped roots alone: that file's own certificates go up again.
    expect(cas.upstream).toEqual([otherCa, userCa]);
    expect(cas.bundle).toEqual([otherCa, shipped, userCa]);
    expect(cas.bundle.join("")).not.toContain("PRIVATE KEY");
    // NODE_EXTRA_CA_CERTS adds to node's own roots: the ones it ships need not be parsed again.
    expect(cas.nodeBundle).toEqual([otherCa, userCa]);
  });

  it("the project's cafile wins over the user's; an unreadable one is nobody's trust", () => {
    const mine = file("mine.pem", `${userCa}\n`);
    const theirs = file("theirs.pem", `${otherCa}\n`);
    const cas = hostCertificates(
      { home, env: {}, nodeExtraCa: null, userNpmrc: `cafile=${mine}\n` },
      `cafile=${theirs}\n`,
    );
    // Upstream, the user's trust for everything, the project's only where it names its own.
    expect(cas.upstream).toEqual([userCa]);
    expect(cas.projectUpstream).toEqual([otherCa]);
    expect(cas.bundle).toEqual([otherCa]);
    const missing = hostCertificates(
      { home, env: {}, nodeExtraCa: null, userNpmrc: `cafile=${join(root, "absent.pem")}\n` },
      null,
    );
    expect(missing).toEqual({
      upstream: [],
      projectUpstream: [],
      bundle: [],
      nodeBundle: [],
      cafileConfigured: true,
    });
  });

  it("takes npm's global config's cafile where ~/.npmrc names none, as npm does", () => {
    const company = file("company.pem", `${shipped}\n${otherCa}\n`);
    const mine = file("mine2.pem", `${userCa}\n`);
    const globalNpmrc = `cafile=${company}\n`;
    const fromGlobal = hostCertificates(
      { home, env: {}, nodeExtraCa: null, userNpmrc: "fund=false\n" },
      null,
      globalNpmrc,
    );
    expect(fromGlobal.cafileConfigured).toBe(true);
    // Upstream, only what node does not trust already; inside, the whole list (npm's cafile
    // replaces its default list there).
    expect(fromGlobal.upstream).toEqual([otherCa]);
    expect(fromGlobal.bundle).toEqual([shipped, otherCa]);
    // ~/.npmrc's cafile wins; an empty one means none, as for npm.
    const user = hostCertificates(
      { home, env: {}, nodeExtraCa: null, userNpmrc: `cafile=${mine}\n` },
      null,
      globalNpmrc,
    );
    expect(user.upstream).toEqual([userCa]);
    const none = hostCertificates(
      { home, env: {}, nodeExtraCa: null, userNpmrc: "cafile=\n" },
      null,
      globalNpmrc,
    );
    expect(none).toMatchObject({ upstream: [], bundle: [], cafileConfigured: false });
  });

  it("a project cafile's own context keeps NODE_EXTRA_CA_CERTS's certificates, which node read itself", () => {
    const extra = file("extra4.pem", `${shipped}\n${userCa}\n`);
    const theirs = file("theirs2.pem", `${otherCa}\n`);
    const cas = hostCertificates(
      { home, env: { NODE_EXTRA_CA_CERTS: extra }, nodeExtraCa: extra, userNpmrc: null },
      `cafile=${theirs}\n`,
    );
    // Nothing added for every request: node's own trust (NODE_EXTRA_CA_CERTS included) stays.
    expect(cas.upstream).toEqual([]);
    // A context given the project's CA starts from the shipped roots: the user's go along.
    expect(cas.projectUpstream).toEqual([otherCa, userCa]);
  });

  it("lists each certificate once when the cafile and NODE_EXTRA_CA_CERTS are the same bundle", () => {
    const bundle = file("bundle.pem", `${shipped}\n${otherCa}\n${userCa}\n`);
    const cas = hostCertificates(
      { home, env: { NODE_EXTRA_CA_CERTS: bundle }, nodeExtraCa: null, userNpmrc: null },
      null,
      `cafile=${bundle}\n`,
    );
    expect(cas.bundle).toEqual([shipped, otherCa, userCa]);
    expect(cas.nodeBundle).toEqual([otherCa, userCa]);
    expect(cas.upstream).toEqual([otherCa, userCa]);
  });
});

describe("needsLocalCa: whether any host the gateway decides may speak https", () => {
  const allowFor = (projectNpmrc: string, byHand: string[] = []) => [
    ...registriesFromConfig({ projectNpmrc }),
    ...parseAllowlist(byHand, "network.allow / --allow-host"),
  ];
  it.each([
    {
      why: "only http:// registries: no CA",
      npmrc: "registry=http://127.0.0.1:4873/\n@a:registry=http://r.example/\n",
      hosts: ["127.0.0.1:4873", "r.example:80"],
      byHand: [],
      needs: false,
    },
    {
      why: "an https registry",
      npmrc: "registry=http://127.0.0.1:4873/\n@a:registry=https://r.example/\n",
      hosts: ["127.0.0.1:4873", "r.example:443"],
      byHand: [],
      needs: true,
    },
    {
      why: "the default registry (a scoped http registry alone names no unscoped one)",
      npmrc: "@a:registry=http://127.0.0.1:4873/\n",
      hosts: ["127.0.0.1:4873", "registry.npmjs.org:443"],
      byHand: [],
      needs: true,
    },
    {
      why: "a credential for a host allowed by hand",
      npmrc: "registry=http://127.0.0.1:4873/\n",
      hosts: ["127.0.0.1:4873", "npm.pkg.github.com:443"],
      byHand: ["npm.pkg.github.com"],
      needs: true,
    },
    {
      why: "a credential for a host nothing allows (never reached)",
      npmrc: "registry=http://127.0.0.1:4873/\n",
      hosts: ["127.0.0.1:4873", "npm.pkg.github.com:443"],
      byHand: [],
      needs: false,
    },
    {
      why: "an http registry also allowed by hand (it may speak TLS there)",
      npmrc: "registry=http://127.0.0.1:4873/\n",
      hosts: ["127.0.0.1:4873"],
      byHand: ["127.0.0.1:4873"],
      needs: true,
    },
    {
      why: "an http registry on a host also allowed by hand without a port",
      npmrc: "registry=http://github.com:443/\n",
      hosts: ["github.com:443"],
      byHand: ["github.com"],
      needs: true,
    },
    {
      why: "an http registry on a host a wildcard allows",
      npmrc: "registry=http://npm.example.com:443/\n",
      hosts: ["npm.example.com:443"],
      byHand: ["*.example.com"],
      needs: true,
    },
    {
      why: "no hosts",
      npmrc: "registry=http://127.0.0.1:4873/\n",
      hosts: [],
      byHand: [],
      needs: false,
    },
  ])("$why → $needs", ({ npmrc, hosts, byHand, needs }) => {
    // As registries.ts combines them: one entry per target, the flags merged.
    const allow = dedupeAllowlist(allowFor(npmrc, byHand));
    expect(needsLocalCa(new Set(hosts), allow)).toBe(needs);
  });
});
