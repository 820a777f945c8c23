import { describe, expect, it } from "vitest";
import {
  iniUnsafe,
  mayNameClientCert,
  parseNpmrc,
  sanitizeNpmrc,
  withoutCredentials,
} from "../../../src/sandbox/npmrc.js";

const top = (key: string, value: string | true, array = false) => ({
  section: null,
  key,
  array,
  value,
});

describe("parseNpmrc reads what npm's ini reads", () => {
  it.each([
    ["key=value", [top("key", "value")]],
    ["  key  =  value  ", [top("key", "value")]],
    ["key = a=b", [top("key", "a=b")]],
    ["flag", [top("flag", true)]],
    ["key=", [top("key", "")]],
    // comments: whole lines, and after an unquoted value or key
    ["# c\n; c\n   # indented\nkey=v", [top("key", "v")]],
    ["key=v # comment", [top("key", "v")]],
    ["key=v;comment", [top("key", "v")]],
    ["key=a\\;b\\#c", [top("key", "a;b#c")]],
    ["key=a\\nb", [top("key", "a\\nb")]],
    ["ke;y=v", [top("ke", "v")]],
    // quoting: JSON strings, single quotes taken literally (then JSON-decoded if they parse)
    ['key="a;b#c"', [top("key", "a;b#c")]],
    ['key="\\u0073cript"', [top("key", "script")]],
    ["key='a;b'", [top("key", "a;b")]],
    ["key='\"x\"'", [top("key", "x")]],
    ['"script-shell"=x', [top("script-shell", "x")]],
    ["'script-shell' = x", [top("script-shell", "x")]],
    ['key="unterminated', [top("key", '"unterminated')]],
    // line endings: CRLF, and a lone CR ends a line too; no line continuation
    ["a=1\r\nb=2\r\n", [top("a", "1"), top("b", "2")]],
    ["a=1\rb=2", [top("a", "1"), top("b", "2")]],
    ["a=x\\\nb=2", [top("a", "x\\"), top("b", "2")]],
    // arrays and sections
    ["ca[]=one\nca[]=two", [top("ca", "one", true), top("ca", "two", true)]],
    ["[]=x", [top("[]", "x")]],
    [
      "a=1\n[sec]\nb=2\n[ other ] \nc=3",
      [top("a", "1"), { ...top("b", "2"), section: "sec" }, { ...top("c", "3"), section: "other" }],
    ],
    // environment references stay as written: npm expands them when it loads the file
    [`key=\${HOME}/x`, [top("key", `\${HOME}/x`)]],
    ["=novalue\n\n   \n", []],
  ])("%j", (text, entries) => {
    expect(parseNpmrc(text)).toEqual(entries);
  });

  it("unescapes like ini's unsafe", () => {
    expect(iniUnsafe("  plain  ")).toBe("plain");
    expect(iniUnsafe("trailing\\")).toBe("trailing\\");
    expect(iniUnsafe("'123'")).toBe("123");
  });
});

describe("sanitizeNpmrc keeps an allowlist", () => {
  it.each([
    "registry=https://registry.npmjs.org/",
    "@acme:registry=https://npm.acme.example/",
    "@acme:registry=https://npm.acme.example/@acme/",
    "cafile=/etc/ssl/certs/corp.pem",
    "nodedir=/opt/node-headers",
    "proxy=http://proxy.corp:8080",
    "https-proxy=http://proxy.corp:8080/",
    "noproxy=localhost,.corp",
    "strict-ssl=false",
    "save-exact=true",
    "engine-strict=true",
    "always-auth=true",
    "init-author-name=Alice",
    "ca[]=one",
    "auto-install-peers=true",
  ])("%s", (line) => {
    const result = sanitizeNpmrc(line);
    expect(result.text).toBe(`${line}\n`);
    expect(result.removed).toEqual([]);
  });

  it("quotes a kept value that npm would otherwise read differently", () => {
    const cert = "-----BEGIN CERTIFICATE-----\nMIIB;x#y\n-----END CERTIFICATE-----";
    const result = sanitizeNpmrc(`ca=${JSON.stringify(cert)}\ninit-author-name = Alice Example `);
    expect(parseNpmrc(result.text)).toEqual([
      top("ca", cert),
      top("init-author-name", "Alice Example"),
    ]);
  });

  it("drops comments and blank lines, and normalizes spaces around =", () => {
    expect(sanitizeNpmrc("# c\n\n; c\n  registry = https://r.example/  \n").text).toBe(
      "registry=https://r.example/\n",
    );
  });

  it("returns an empty text for an empty file", () => {
    expect(sanitizeNpmrc("")).toEqual({ text: "", removed: [] });
  });
});

describe("sanitizeNpmrc removes credentials", () => {
  it.each([
    "//registry.npmjs.org/:_authToken=npm_abcdef",
    `//npm.pkg.github.com/:_authToken=\${NPM_TOKEN}`,
    "//localhost:4873/:_authToken=abc",
    "//registry.npmjs.org/:_AUTHTOKEN=abc",
    "_authToken=abc",
    "_auth=dXNlcjpwYXNz",
    "//r.example.com/:_auth=dXNlcjpwYXNz",
    "_password=cGFzcw==",
    "username=alice",
    "email=alice@example.com",
    "certfile=/home/alice/.certs/client.pem",
    "keyfile=/home/alice/.certs/client.key",
    "cert=-----BEGIN CERTIFICATE-----",
    "key=-----BEGIN PRIVATE KEY-----",
    "otp=123456",
    "tokenHelper=/usr/local/bin/get-token",
    "@acme:_authToken=abc",
    "my-registry-token=abc",
    "//r.example.com/:_authToken = spaced",
    "  _password  =  x  ",
  ])("%s", (line) => {
    const result = sanitizeNpmrc(`registry=https://registry.npmjs.org/\n${line}\n`);
    expect(result.removed).toHaveLength(1);
    expect(result.removed[0]).toMatch(/\((credential|not an allowed key)\)$/);
    expect(result.text).toBe("registry=https://registry.npmjs.org/\n");
  });

  it.each([
    ["proxy=http://user:pass@proxy:8080", "proxy=http://proxy:8080"],
    ["proxy=http://user:p@ss@proxy:8080", "proxy=http://proxy:8080"],
    ["https-proxy = http://bob:pass@proxy:3128", "https-proxy=http://proxy:3128"],
    [
      "registry=https://ci:pass@registry.corp.example/npm/",
      "registry=https://registry.corp.example/npm/",
    ],
    [
      "@acme:registry='https://u:pass@npm.acme.example/'",
      "@acme:registry=https://npm.acme.example/",
    ],
    // WHATWG URLs of special schemes take any slashes or backslashes, or none.
    ["proxy=http:user:pass@proxy:8080", "proxy=http:proxy:8080"],
    ["proxy=http:\\\\user:pass@proxy", 'proxy="http:\\\\proxy"'],
    ["https-proxy=https:///u:pass@proxy/x", "https-proxy=https:///proxy/x"],
  ])("URL credentials: %s", (line, kept) => {
    const result = sanitizeNpmrc(line);
    expect(result.text).toBe(`${kept}\n`);
    expect(result.text).not.toContain("pass");
    expect(result.removed).toEqual([`${kept.split("=")[0]} (credentials in URL)`]);
  });
});

describe("sanitizeNpmrc removes keys that run programs or redirect config", () => {
  it.each([
    "script-shell=/home/alice/evil.sh",
    "node-options=--require /tmp/evil.js",
    "shell=/tmp/evil",
    "git=/tmp/evil-git",
    "editor=/tmp/evil",
    "browser=/tmp/evil",
    "viewer=/tmp/evil",
    "init-module=/tmp/evil.js",
    "onload-script=/tmp/evil.js",
    "node-gyp=/tmp/evil.js",
    "prefix=/tmp/p",
    "userconfig=/tmp/u",
    "globalconfig=/tmp/g",
    "cache=/tmp/c",
    "global-pnpmfile=/tmp/evil.cjs",
    "pnpmfile=/tmp/evil.cjs",
    "use-node-version=1.0.0",
    "store-dir=/tmp/store",
  ])("%s", (line) => {
    const result = sanitizeNpmrc(line);
    expect(result.text).toBe("");
    expect(result.removed).toEqual([`${line.split("=")[0]} (not an allowed key)`]);
  });

  it.each([
    ['"script-shell"=/tmp/evil', "quoted key"],
    ["'script-shell'=/tmp/evil", "single-quoted key"],
    ['"\\u0073cript-shell"=/tmp/evil', "JSON escape in the key"],
    ["  script-shell   =   /tmp/evil", "spaces"],
    ["Script-Shell=/tmp/evil", "case"],
    ["script\u2010shell=/tmp/evil", "unicode hyphen"],
    ["\ufeffscript-shell=/tmp/evil", "byte-order mark"],
    ["script-shell\r=/tmp/evil", "CR inside the line"],
    ["registry=https://r.example/\rscript-shell=/tmp/evil", "lone CR"],
    ["script-shell[]=/tmp/evil", "array"],
    ["registry[]=https://r.example/", "array of a single-valued key"],
    ["[npm]\nregistry=https://r.example/", "section"],
    ["[//r.example/]\n_authToken=SECRET", "section named for a registry"],
    [`\${KEY}=/tmp/evil`, "env reference in the key"],
    ["registry=https://r.example/ ; script-shell=/tmp/evil", "second key after a comment"],
    ['registry="https://r.example/\\nscript-shell=/tmp/evil"', "newline inside a JSON value"],
    ["_authToken#=SECRET", "comment marker in the key"],
  ])("no smuggling: %s (%s)", (line) => {
    const result = sanitizeNpmrc(line);
    for (const entry of parseNpmrc(result.text)) {
      expect(entry.section).toBeNull();
      expect(["registry", "ca"]).toContain(entry.key);
    }
    expect(result.text).not.toContain("SECRET");
  });

  it("drops paths into the home (inside, they name the sandbox's own home)", () => {
    const result = sanitizeNpmrc(
      "cafile=/home/alice/corp.pem\nnodedir=~/headers\ncafile=relative.pem\nnodedir=/opt/h\n",
      { home: "/home/alice" },
    );
    expect(result.text).toBe("nodedir=/opt/h\n");
    expect(result.removed).toEqual([
      "cafile (a path in the home, which the sandbox replaces)",
      "nodedir (a path in the home, which the sandbox replaces)",
      "cafile (a path in the home, which the sandbox replaces)",
    ]);
  });

  it("writes what npm reads back as exactly the kept pairs", () => {
    const input = [
      "registry = 'https://r.example/'",
      '"@a:registry"="https://a.example/#x"',
      "ca[]=one",
      "ca[]=two;comment",
      "save-exact",
      "script-shell=/tmp/evil",
      "init-author-name=A ; B",
    ].join("\r\n");
    expect(parseNpmrc(sanitizeNpmrc(input).text)).toEqual([
      top("registry", "https://r.example/"),
      top("@a:registry", "https://a.example/#x"),
      top("ca", "one", true),
      top("ca", "two", true),
      top("save-exact", true),
      top("init-author-name", "A"),
    ]);
  });
});

describe("withoutCredentials: the project's .npmrc inside", () => {
  it("keeps every key but credentials, whatever their form", () => {
    const text = [
      "registry=https://r.example/",
      "@acme:registry=https://user:pw@npm.acme.example/",
      "//r.example/:_authToken=TOKEN-1",
      "//r.example/:_auth=QUJD",
      "//r.example/:username=alice",
      "//r.example/:_password=cHc=",
      "//r.example/:certfile=/k/c.pem",
      "//r.example/:keyfile=/k/k.pem",
      "_authToken=TOKEN-2",
      "email=a@example.com",
      "engine-strict=true",
      "legacy-peer-deps",
      "omit[]=dev",
      "node-linker=hoisted",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: npmrc syntax
      "//r.example/:_authToken=${NODE_AUTH_TOKEN}",
      "[section]",
      "//r.example/:_authToken=TOKEN-3",
    ].join("\n");
    const out = withoutCredentials(text);
    expect(out.text).toBe(
      [
        "registry=https://r.example/",
        "@acme:registry=https://npm.acme.example/",
        "engine-strict=true",
        "legacy-peer-deps",
        "omit[]=dev",
        "node-linker=hoisted",
        "",
      ].join("\n"),
    );
    expect(out.text).not.toMatch(/TOKEN|alice|QUJD/);
    expect(out.removed).toHaveLength(11);
    expect(withoutCredentials("engine-strict=true\n").removed).toEqual([]);
  });
});

describe("mayNameClientCert: the loose test before client certificates are parsed", () => {
  it("passes every spelling npm reads as a certfile or keyfile, and a plain npmrc not", () => {
    expect(mayNameClientCert("//r/:keyfile=/k\n")).toBe(true);
    expect(mayNameClientCert('"//r/:keyfile" = /k\n')).toBe(true);
    expect(mayNameClientCert('"//r/:key\\u0066ile"=/k\n')).toBe(true);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: `${VAR}` is npmrc syntax
    expect(mayNameClientCert("//r/:${KF}=/k\n")).toBe(true);
    expect(mayNameClientCert("registry=https://r.example/\nfund=false\n")).toBe(false);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: `${VAR}` is npmrc syntax
    expect(mayNameClientCert("//r/:_authToken=${NPM_TOKEN}\nx=\\u0041\n")).toBe(false);
  });
});
