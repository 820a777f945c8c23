import { describe, expect, it } from "vitest";
import { SafeNpmError } from "../../../src/errors.js";
import {
  type AllowEntry,
  canonicalHost,
  dedupeAllowlist,
  formatAllowEntry,
  isAllowed,
  parseAllowEntry,
  parseAllowlist,
  projectOnlyEntry,
  registriesFromConfig,
  settleProjectOnly,
  tryParseAllowEntry,
} from "../../../src/network/allowlist.js";
import { parseYarnrcYml } from "../../../src/sandbox/yarnrcparse.js";

const entry = (
  host: string,
  port: number | null,
  wildcard = false,
): Omit<AllowEntry, "source"> => ({
  host,
  port,
  wildcard,
});

describe("parseAllowEntry", () => {
  it.each([
    ["registry.npmjs.org", entry("registry.npmjs.org", null)],
    ["Registry.NPMJS.org", entry("registry.npmjs.org", null)],
    ["registry.npmjs.org.", entry("registry.npmjs.org", null)],
    ["localhost:4873", entry("localhost", 4873)],
    ["*.example.com", entry("example.com", null, true)],
    ["*.Example.com:8443", entry("example.com", 8443, true)],
    ["10.0.0.1", entry("10.0.0.1", null)],
    ["10.0.0.1:8080", entry("10.0.0.1", 8080)],
    ["[::1]", entry("[::1]", null)],
    ["[::1]:4873", entry("[::1]", 4873)],
    ["[2001:DB8:0:0::1]:443", entry("[2001:db8::1]", 443)],
    ["::1", entry("[::1]", null)],
    ["https://npm.pkg.github.com/", entry("npm.pkg.github.com", 443)],
    ["http://localhost:4873/", entry("localhost", 4873)],
    ["http://verdaccio.local/npm/", entry("verdaccio.local", 80)],
    ["https://r.example.com:8443/path", entry("r.example.com", 8443)],
    ["  spaced.example  ", entry("spaced.example", null)],
  ])("%s", (text, expected) => {
    expect(parseAllowEntry(text)).toEqual({ ...expected, source: "--allow-host" });
  });

  it.each([
    "",
    "*",
    "*.",
    "foo.*.com",
    "ex*ample.com",
    "*.10.0.0.1",
    "host:0",
    "host:65536",
    "host:http",
    "host:",
    "[::1",
    "[::1]x",
    "[::1]:",
    "user@host",
    "host/path",
    "a..b",
    "ftp://example.com",
    "http://",
  ])("rejects %j", (text) => {
    expect(typeof tryParseAllowEntry(text)).toBe("string");
    expect(() => parseAllowEntry(text)).toThrow(SafeNpmError);
  });

  it("names the source and the accepted forms in the error", () => {
    try {
      parseAllowEntry("bad host", "settings network.allow");
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(SafeNpmError);
      expect((error as SafeNpmError).code).toBe("USAGE");
      expect((error as SafeNpmError).message).toContain("settings network.allow");
      expect((error as SafeNpmError).hint).toContain("*.domain");
    }
  });

  it("round-trips through formatAllowEntry and dedupes", () => {
    const list = parseAllowlist(["A.com", "a.com", "*.b.com:8443", "[::1]:80", "[0::1]:80"]);
    expect(list.map(formatAllowEntry)).toEqual(["a.com", "*.b.com:8443", "[::1]:80"]);
  });
});

describe("isAllowed", () => {
  const allow = parseAllowlist([
    "registry.npmjs.org",
    "localhost:4873",
    "*.corp.example",
    "*.pkg.example:8443",
    "127.0.0.1:9000",
    "[::1]:4873",
    "[2001:db8::1]",
  ]);
  it.each([
    // an entry without a port allows https and http
    ["registry.npmjs.org", 443, true],
    ["registry.npmjs.org", 80, true],
    ["registry.npmjs.org", 8080, false],
    ["registry.npmjs.org", 22, false],
    // case and the trailing dot do not matter
    ["REGISTRY.npmjs.ORG", 443, true],
    ["registry.npmjs.org.", 443, true],
    // similar names do not match
    ["registry.npmjs.org.evil.example", 443, false],
    ["evilregistry.npmjs.org", 443, false],
    ["npmjs.org", 443, false],
    ["sub.registry.npmjs.org", 443, false],
    // explicit ports are exact
    ["localhost", 4873, true],
    ["localhost", 443, false],
    ["localhost", 80, false],
    // *.domain: subdomains only, any depth, never the apex
    ["a.corp.example", 443, true],
    ["a.b.corp.example", 80, true],
    ["corp.example", 443, false],
    ["xcorp.example", 443, false],
    ["a.corp.example", 8080, false],
    ["x.pkg.example", 8443, true],
    ["x.pkg.example", 443, false],
    ["pkg.example", 8443, false],
    // IPv4, including spellings that are the same address
    ["127.0.0.1", 9000, true],
    ["2130706433", 9000, true],
    ["0x7f.1", 9000, true],
    ["127.0.0.1", 9001, false],
    ["127.0.0.2", 9000, false],
    // IPv6 with or without brackets, any spelling
    ["[::1]", 4873, true],
    ["::1", 4873, true],
    ["[0:0:0:0:0:0:0:1]", 4873, true],
    ["[::1]", 443, false],
    ["[2001:DB8::1]", 443, true],
    ["[2001:db8::1]", 80, true],
    ["[2001:db8::2]", 443, false],
    // not plain hosts
    ["", 443, false],
    ["registry.npmjs.org:443", 443, false],
    ["[::1]:4873", 4873, false],
    ["user@registry.npmjs.org", 443, false],
    ["registry.npmjs.org/x", 443, false],
    ["registry.npmjs.org%2f", 443, false],
  ] as const)("%j:%d → %s", (host, port, expected) => {
    expect(isAllowed(allow, host, port)).toBe(expected);
  });

  it("allows nothing with an empty list", () => {
    expect(isAllowed([], "registry.npmjs.org", 443)).toBe(false);
  });

  it("a wildcard never matches an IP literal", () => {
    expect(() => parseAllowEntry("*.0.1")).toThrow(/needs a domain/);
    const handMade: AllowEntry = { host: "0.1", port: null, wildcard: true, source: "test" };
    expect(isAllowed([handMade], "127.0.0.1", 443)).toBe(false);
  });
});

describe("canonicalHost", () => {
  it.each([
    ["Example.COM", "example.com"],
    ["example.com.", "example.com"],
    ["bücher.de", "xn--bcher-kva.de"],
    ["::1", "[::1]"],
    ["[::ffff:127.0.0.1]", "[::ffff:7f00:1]"],
    ["2130706433", "127.0.0.1"],
    ["a b", null],
    ["a..b", null],
    ["[::1]:80", null],
    ["example.com:80", null],
    ["*.example.com", null],
    // DNS's bounds: 253 characters, 63 per label.
    [
      `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`,
      `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`,
    ],
    [`${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(62)}`, null],
    [`${"a".repeat(64)}.example`, null],
  ])("%j → %j", (raw, expected) => {
    expect(canonicalHost(raw)).toBe(expected);
  });
});

describe("registriesFromConfig", () => {
  const targets = (entries: AllowEntry[]): string[] => entries.map(formatAllowEntry);

  it("defaults to registry.npmjs.org:443", () => {
    expect(registriesFromConfig({})).toEqual([
      { host: "registry.npmjs.org", port: 443, wildcard: false, source: "default" },
    ]);
  });

  it("adds registry.yarnpkg.com for yarn", () => {
    expect(targets(registriesFromConfig({ yarn: true }))).toEqual([
      "registry.yarnpkg.com:443",
      "registry.npmjs.org:443",
    ]);
  });

  it("reads pnpm's auth.ini as the user's: its registry is the default, no public one added", () => {
    const entries = registriesFromConfig({
      pnpmAuth: { path: "/h/.config/pnpm/auth.ini", text: "registry=https://npm.corp.example/\n" },
    });
    expect(targets(entries)).toEqual(["npm.corp.example:443"]);
    expect(entries[0]?.source).toBe("/h/.config/pnpm/auth.ini registry");
    expect(entries[0]?.projectOnly).toBeUndefined();
  });

  it("reads registry and @scope:registry from both .npmrc files", () => {
    const entries = registriesFromConfig({
      projectNpmrc: [
        "; comment",
        "registry=http://localhost:4873/",
        "@acme:registry = https://npm.acme.example/",
        `//npm.acme.example/:_authToken=\${NPM_TOKEN}`,
        "save-exact=true",
      ].join("\n"),
      userNpmrc:
        '# mine\n@gh:registry="https://npm.pkg.github.com"\nregistry=http://localhost:4873',
    });
    expect(targets(entries)).toEqual([
      "localhost:4873",
      "npm.acme.example:443",
      "npm.pkg.github.com:443",
    ]);
    expect(entries.map((e) => e.source)).toEqual([
      "project .npmrc registry",
      "project .npmrc @acme:registry",
      "~/.npmrc @gh:registry",
    ]);
  });

  it("reads npm's global config as the user's: its registry replaces the default, its variables expand", () => {
    const globalNpmrc = {
      path: "/opt/node/etc/npmrc",
      text: `registry=https://artifactory.corp.example/api/npm/npm/\n@acme:registry=\${ACME}\n`,
    };
    const entries = registriesFromConfig({
      globalNpmrc,
      env: { ACME: "https://npm.acme.example/" },
    });
    expect(targets(entries)).toEqual(["artifactory.corp.example:443", "npm.acme.example:443"]);
    expect(entries.map((e) => e.source)).toEqual([
      "/opt/node/etc/npmrc registry",
      "/opt/node/etc/npmrc @acme:registry",
    ]);
    expect(entries.some((e) => e.projectOnly === true)).toBe(false);
    // Beside ~/.npmrc's: both are the user's.
    expect(
      targets(registriesFromConfig({ globalNpmrc, userNpmrc: "registry=https://mine.example/\n" })),
    ).toEqual(["mine.example:443", "artifactory.corp.example:443"]);
  });

  it("keeps the default when only scoped registries are named", () => {
    expect(
      targets(registriesFromConfig({ projectNpmrc: "@acme:registry=https://npm.acme.example" })),
    ).toEqual(["npm.acme.example:443", "registry.npmjs.org:443"]);
  });

  it("uses the URL's port, else 443 for https and 80 for http", () => {
    expect(
      targets(
        registriesFromConfig({
          projectNpmrc: [
            "registry=https://r.example.com:8443/npm/",
            "@a:registry=http://plain.example/",
            "@b:registry=https://secure.example/",
            "@c:registry=http://[::1]:4873/",
          ].join("\n"),
        }),
      ),
    ).toEqual(["r.example.com:8443", "plain.example:80", "secure.example:443", "[::1]:4873"]);
  });

  it("marks a registry named only by http:// URLs as plain http; an https URL or an entry by hand for the same target clears it", () => {
    const entries = registriesFromConfig({
      projectNpmrc: [
        "registry=http://localhost:4873/",
        "@a:registry=HTTP://plain.example/",
        "@b:registry=https://secure.example/",
        "@c:registry=http://both.example:8080/",
      ].join("\n"),
      userNpmrc: "@d:registry=https://both.example:8080/\n",
    });
    const plain = (target: string) =>
      entries.find((e) => formatAllowEntry(e) === target)?.plainHttp === true;
    expect(plain("localhost:4873")).toBe(true);
    expect(plain("plain.example:80")).toBe(true);
    expect(plain("secure.example:443")).toBe(false);
    expect(plain("both.example:8080")).toBe(false);
    const merged = dedupeAllowlist([
      ...registriesFromConfig({ projectNpmrc: "registry=http://localhost:4873/" }),
      parseAllowEntry("localhost:4873"),
    ]);
    expect(merged).toHaveLength(1);
    expect(merged[0]?.plainHttp).toBeUndefined();
  });

  it("expands $VAR references in the user's npmrc and skips URLs with unresolved ones", () => {
    const userNpmrc = `registry=\${REG}\n@a:registry=\${MISSING}/x\n`;
    expect(
      targets(registriesFromConfig({ userNpmrc, env: { REG: "https://mirror.example/" } })),
    ).toEqual(["mirror.example:443"]);
    expect(targets(registriesFromConfig({ userNpmrc }))).toEqual(["registry.npmjs.org:443"]);
  });

  it("never expands the host's environment in the project's files: the value would leak into logs and the certificate cache", () => {
    const env = { SECRET: "topsecretvalue123", REG: "https://mirror.example/" };
    const entries = registriesFromConfig({
      projectNpmrc: `@evil:registry=http://\${SECRET}.evil.invalid:4801/\nregistry=\${REG}\n`,
      yarnrcYml: `npmRegistryServer: "https://\${SECRET}.evil.invalid"\n`,
      yarnrc: `registry "https://\${SECRET}.evil.invalid"\n`,
      env,
    });
    expect(JSON.stringify(entries)).not.toContain("topsecretvalue123");
    expect(targets(entries)).toEqual(["registry.npmjs.org:443"]);
  });

  it("marks registries only the project's files name; the user's naming or an allow entry lifts it", () => {
    const projectNpmrc = "registry=http://127.0.0.1:4801/\n@evil:registry=http://127.0.0.1:4802/\n";
    const projectOnly = (entries: AllowEntry[]) =>
      entries.filter((e) => e.projectOnly === true).map(formatAllowEntry);
    expect(projectOnly(settleProjectOnly(registriesFromConfig({ projectNpmrc })))).toEqual([
      "127.0.0.1:4801",
      "127.0.0.1:4802",
    ]);
    const userNpmrc = "registry=http://127.0.0.1:4801/\n";
    expect(
      projectOnly(settleProjectOnly(registriesFromConfig({ projectNpmrc, userNpmrc }))),
    ).toEqual(["127.0.0.1:4802"]);
    const allowed = settleProjectOnly(
      dedupeAllowlist([
        ...registriesFromConfig({
          projectNpmrc,
          yarnrcYml: 'npmRegistryServer: "https://r.example"',
        }),
        ...parseAllowlist(["127.0.0.1:4802"], "network.allow / --allow-host"),
      ]),
    );
    expect(projectOnly(allowed)).toEqual(["127.0.0.1:4801", "r.example:443"]);
    expect(projectOnlyEntry(allowed, "127.0.0.1", 4801)?.source).toBe("project .npmrc registry");
    expect(projectOnlyEntry(allowed, "127.0.0.1", 4802)).toBeUndefined();
    // yarn berry's user file names it too.
    const berry = settleProjectOnly(
      registriesFromConfig({
        yarnrcYml: 'npmRegistryServer: "http://127.0.0.1:4801"',
        userYarnrcYml: 'npmRegistryServer: "http://127.0.0.1:4801"',
        yarn: true,
      }),
    );
    expect(projectOnly(berry)).toEqual([]);
  });

  it("ignores keys inside ini sections and malformed URLs", () => {
    expect(
      targets(
        registriesFromConfig({
          projectNpmrc: "registry=not a url\n[section]\nregistry=https://nested.example/",
        }),
      ),
    ).toEqual(["registry.npmjs.org:443"]);
  });

  it("reads npmRegistryServer and npmScopes from .yarnrc.yml", () => {
    const yarnrcYml = [
      "# yarn berry",
      'npmRegistryServer: "http://localhost:4873"',
      "nodeLinker: node-modules",
      "npmScopes:",
      "  acme:",
      "    npmAlwaysAuth: true",
      "    npmRegistryServer: 'https://npm.acme.example' # scoped",
      '  "gh":',
      "    npmRegistryServer: https://npm.pkg.github.com",
      "npmRegistries:",
      '  "https://not-a-server.example":',
      "    npmAuthToken: secret",
      "packageExtensions:",
      "  foo@*:",
      "    npmRegistryServer: https://not-a-scope.example",
    ].join("\n");
    expect(targets(registriesFromConfig({ yarnrcYml, yarn: true }))).toEqual([
      "localhost:4873",
      "npm.acme.example:443",
      "npm.pkg.github.com:443",
    ]);
  });

  it("reads the same keys through a YAML parser: flow style too, block style as before", () => {
    const flow = `{npmRegistryServer: "http://localhost:4873", npmScopes: {acme: {npmRegistryServer: "https://npm.acme.example"}}}`;
    // Line by line, flow style names nothing; the parser reads it as yarn does.
    expect(targets(registriesFromConfig({ userYarnrcYml: flow }))).toEqual([
      "registry.npmjs.org:443",
    ]);
    expect(
      targets(registriesFromConfig({ userYarnrcYml: flow, parseYaml: parseYarnrcYml })),
    ).toEqual(["localhost:4873", "npm.acme.example:443", "registry.npmjs.org:443"]);
    const block = 'npmScopes:\n  acme:\n    npmRegistryServer: "https://npm.acme.example"\n';
    expect(
      targets(registriesFromConfig({ yarnrcYml: block, yarn: true, parseYaml: parseYarnrcYml })),
    ).toEqual(targets(registriesFromConfig({ yarnrcYml: block, yarn: true })));
    // A file the parser refuses is still read line by line.
    const broken = 'npmRegistryServer: "http://localhost:4873"\nnpmScopes: [\n';
    expect(
      targets(registriesFromConfig({ yarnrcYml: broken, yarn: true, parseYaml: parseYarnrcYml })),
    ).toContain("localhost:4873");
  });

  it("handles CRLF, a default for an unset variable, and a scope-only .yarnrc.yml", () => {
    const yarnrcYml = `npmScopes:\r\n  acme:\r\n    npmRegistryServer: \${ACME:-https://acme.example}\r\n`;
    expect(targets(registriesFromConfig({ yarnrcYml, yarn: true }))).toEqual([
      "acme.example:443",
      "registry.yarnpkg.com:443",
      "registry.npmjs.org:443",
    ]);
  });

  it("reads registry from a yarn 1 .yarnrc", () => {
    const yarnrc = [
      "# yarn lockfile v1",
      'registry "http://localhost:4873/"',
      '"@acme:registry" "https://npm.acme.example/"',
      "save-prefix ~",
    ].join("\n");
    expect(targets(registriesFromConfig({ yarnrc, yarn: true }))).toEqual([
      "localhost:4873",
      "npm.acme.example:443",
    ]);
  });

  it("for yarn, an unscoped registry in .npmrc alone keeps yarn's defaults", () => {
    // yarn berry ignores .npmrc; yarn 1 reads it — allow both.
    expect(
      targets(registriesFromConfig({ projectNpmrc: "registry=http://localhost:4873", yarn: true })),
    ).toEqual(["localhost:4873", "registry.yarnpkg.com:443", "registry.npmjs.org:443"]);
  });

  it("dedupes the same registry named in several files", () => {
    expect(
      targets(
        registriesFromConfig({
          projectNpmrc: "registry=https://registry.npmjs.org/",
          userNpmrc: "registry=https://REGISTRY.npmjs.org",
        }),
      ),
    ).toEqual(["registry.npmjs.org:443"]);
  });
});
