import { describe, expect, it } from "vitest";
import { sanitizeNpmrc } from "../../src/npmrc.js";

describe("sanitizeNpmrc removes credentials", () => {
  it.each([
    ["//registry.npmjs.org/:_authToken=npm_abcdef", "//registry.npmjs.org/:_authToken"],
    [`//npm.pkg.github.com/:_authToken=\${NPM_TOKEN}`, "//npm.pkg.github.com/:_authToken"],
    ["//localhost:4873/:_authToken=abc", "//localhost:4873/:_authToken"],
    ["//registry.npmjs.org/:_AUTHTOKEN=abc", "//registry.npmjs.org/:_AUTHTOKEN"],
    ["_authToken=abc", "_authToken"],
    ["_auth=dXNlcjpwYXNz", "_auth"],
    ["//r.example.com/:_auth=dXNlcjpwYXNz", "//r.example.com/:_auth"],
    ["_password=cGFzcw==", "_password"],
    ["//r.example.com/:_password=cGFzcw==", "//r.example.com/:_password"],
    ["username=alice", "username"],
    ["//r.example.com/:username=alice", "//r.example.com/:username"],
    ["email=alice@example.com", "email"],
    ["certfile=/home/alice/.certs/client.pem", "certfile"],
    ["keyfile=/home/alice/.certs/client.key", "keyfile"],
    ["//r.example.com/:certfile=/home/alice/c.pem", "//r.example.com/:certfile"],
    ["cert=-----BEGIN CERTIFICATE-----\\nMIIB", "cert"],
    ["key=-----BEGIN PRIVATE KEY-----\\nMIIE", "key"],
    ["otp=123456", "otp"],
    ["tokenHelper=/usr/local/bin/get-token", "tokenHelper"],
    ["@acme:_authToken=abc", "@acme:_authToken"],
    ["my-registry-token=abc", "my-registry-token"],
    ["//r.example.com/:_authToken = spaced", "//r.example.com/:_authToken"],
    ["  _password  =  x  ", "_password"],
  ])("%s", (line, key) => {
    const result = sanitizeNpmrc(`registry=https://registry.npmjs.org/\n${line}\n`);
    expect(result.removed).toEqual([key]);
    expect(result.text).toBe("registry=https://registry.npmjs.org/\n");
  });

  it("removes a token given by an env reference without touching its neighbours", () => {
    const result = sanitizeNpmrc(
      `@acme:registry=https://npm.acme.example/\n//npm.acme.example/:_authToken=\${NPM_TOKEN}\nsave-exact=true`,
    );
    expect(result.text).toBe("@acme:registry=https://npm.acme.example/\nsave-exact=true");
    expect(result.text).not.toContain("NPM_TOKEN");
    expect(result.removed).toEqual(["//npm.acme.example/:_authToken"]);
  });
});

describe("sanitizeNpmrc keeps configuration", () => {
  it.each([
    "registry=https://registry.npmjs.org/",
    "@acme:registry=https://npm.acme.example/",
    "@acme:registry=https://npm.acme.example/@acme/",
    "cafile=/etc/ssl/certs/corp.pem",
    "ca=-----BEGIN CERTIFICATE-----\\nMIIB",
    "nodedir=/opt/node-headers",
    "proxy=http://proxy.corp:8080",
    "https-proxy=http://proxy.corp:8080/",
    "noproxy=localhost,.corp",
    "strict-ssl=false",
    "save-exact=true",
    "engine-strict=true",
    "always-auth=true",
    "init-author-name=Alice",
  ])("%s", (line) => {
    const result = sanitizeNpmrc(line);
    expect(result.text).toBe(line);
    expect(result.removed).toEqual([]);
  });

  it("keeps comments and blank lines verbatim", () => {
    const text = "# global\n\n; semicolon comment\n   # indented\nregistry=https://r.example/\n\n";
    const result = sanitizeNpmrc(text);
    expect(result.text).toBe(text);
    expect(result.removed).toEqual([]);
  });

  it("normalizes spaces around = on kept keys", () => {
    expect(sanitizeNpmrc("registry = https://registry.npmjs.org/").text).toBe(
      "registry=https://registry.npmjs.org/",
    );
    expect(sanitizeNpmrc("  @acme:registry=  https://a.example/  ").text).toBe(
      "@acme:registry=https://a.example/",
    );
  });

  it("keeps always-auth (it is a switch, not a credential)", () => {
    const result = sanitizeNpmrc("always-auth=true\n//r.example/:always-auth=true");
    expect(result.text).toBe("always-auth=true\n//r.example/:always-auth=true");
    expect(result.removed).toEqual([]);
  });
});

describe("sanitizeNpmrc strips credentials from URLs", () => {
  it.each([
    ["proxy=http://user:pass@proxy:8080", "proxy=http://proxy:8080", "proxy"],
    ["proxy=http://user:p@ss@proxy:8080", "proxy=http://proxy:8080", "proxy"],
    ["https-proxy=http://user:pass@proxy:8080/", "https-proxy=http://proxy:8080/", "https-proxy"],
    ["https-proxy = http://bob@proxy:3128", "https-proxy=http://proxy:3128", "https-proxy"],
    [
      "registry=https://ci:s3cret@registry.corp.example/npm/",
      "registry=https://registry.corp.example/npm/",
      "registry",
    ],
    [
      "@acme:registry=https://u:p@npm.acme.example/",
      "@acme:registry=https://npm.acme.example/",
      "@acme:registry",
    ],
  ])("%s", (line, kept, key) => {
    const result = sanitizeNpmrc(line);
    expect(result.text).toBe(kept);
    expect(result.text).not.toContain("pass");
    expect(result.removed).toEqual([`${key} (credentials in URL)`]);
  });
});

describe("sanitizeNpmrc input forms", () => {
  it("reads CRLF files and writes LF without stray carriage returns", () => {
    const result = sanitizeNpmrc(
      "# corp\r\nregistry=https://r.example/\r\n//r.example/:_authToken=abc\r\nsave-exact=true\r\n",
    );
    expect(result.text).toBe("# corp\nregistry=https://r.example/\nsave-exact=true\n");
    expect(result.text).not.toContain("\r");
    expect(result.removed).toEqual(["//r.example/:_authToken"]);
  });

  it("lists every removed key in order", () => {
    const result = sanitizeNpmrc(
      [
        "registry=https://registry.npmjs.org/",
        "//registry.npmjs.org/:_authToken=a",
        "email=a@b.c",
        "proxy=http://u:p@proxy:1",
        "_auth=b",
        "cafile=/etc/ssl/ca.pem",
        "keyfile=/k",
      ].join("\n"),
    );
    expect(result.removed).toEqual([
      "//registry.npmjs.org/:_authToken",
      "email",
      "proxy (credentials in URL)",
      "_auth",
      "keyfile",
    ]);
    expect(result.text).toBe(
      "registry=https://registry.npmjs.org/\nproxy=http://proxy:1\ncafile=/etc/ssl/ca.pem",
    );
  });

  it("returns an empty text for an empty file", () => {
    expect(sanitizeNpmrc("")).toEqual({ text: "", removed: [] });
  });

  it("keeps a line without = unless its key is a credential", () => {
    expect(sanitizeNpmrc("[section]\n_authToken").text).toBe("[section]");
  });
});
