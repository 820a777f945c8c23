import { describe, expect, it } from "vitest";
import { SafeNpmError } from "../../../src/errors.js";
import { opensslPlaces } from "../../../src/sandbox/opensslconf.js";

/** A filesystem of config files and folders, as opensslPlaces reads it. */
function fs(files: Record<string, string>, folders: Record<string, string[]> = {}) {
  return {
    read: (path: string): string | null => files[path] ?? null,
    list: (path: string): string[] | null => folders[path] ?? null,
  };
}

describe("opensslPlaces: what OPENSSL_CONF loads into every node", () => {
  it("reads lines as OpenSSL does: # anywhere, a continued line, escapes; a relative loaded path stops the run", () => {
    const { read, list } = fs({
      "/p/a.cnf":
        "[e]\ndynamic_path = /p/ssl/extra.so#engine\n[f]\nmodule = /p/ssl/\\\nmore.so\n[g]\nmodule = /p/ssl/\\e1.so\n",
      "/p/r.cnf": "[e]\nengine_id = dynamic\nSO_PATH = ssl/extra.so\nLOAD = EMPTY\n",
    });
    expect(opensslPlaces({ OPENSSL_CONF: "/p/a.cnf" }, read, list)).toEqual([
      { path: "/p/a.cnf", folder: false },
      { path: "/p/ssl/extra.so", folder: false },
      { path: "/p/ssl/more.so", folder: false },
      { path: "/p/ssl/e1.so", folder: false },
    ]);
    expect(() => opensslPlaces({ OPENSSL_CONF: "/p/r.cnf" }, read, list)).toThrow(SafeNpmError);
  });

  it("drops quotes anywhere in a value, reads a dotted engine key, and includes .CNF files", () => {
    const { read, list } = fs(
      {
        "/p/a.cnf":
          '.include /p/conf.d\n[e]\ndynamic_path = /p/ssl/"extra".so\nx.dynamic_path = /p/ssl/plain\n',
        "/p/conf.d/engine.CNF": "[f]\nmodule = /p/ssl/m.so\n",
      },
      { "/p/conf.d": ["engine.CNF"] },
    );
    expect(opensslPlaces({ OPENSSL_CONF: "/p/a.cnf" }, read, list)).toEqual([
      { path: "/p/a.cnf", folder: false },
      { path: "/p/conf.d", folder: true },
      { path: "/p/conf.d/engine.CNF", folder: false },
      { path: "/p/ssl/m.so", folder: false },
      { path: "/p/ssl/extra.so", folder: false },
      { path: "/p/ssl/plain", folder: false },
    ]);
  });

  it("expands the config's variables and $ENV, and sees engines' SO_PATH and any .so value", () => {
    const { read, list } = fs({
      "/p/openssl.cnf": [
        "base = /p/ssl",
        ".include $ENV::INC/more.cnf",
        "[provs]",
        "extra = extra_sect",
        "[extra_sect]",
        "module = $base/extra.so",
        "[eng]",
        "engine_id = dynamic",
        "SO_PATH = $(base)/eng.so",
        "LOAD = EMPTY",
        "[pk]",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: OpenSSL's own variable syntax
        "MODULE_PATH = ${provs::extra}.so",
        "other = /p/ssl/lib.so.1",
        "",
      ].join("\n"),
      "/inc/more.cnf": "",
    });
    expect(opensslPlaces({ OPENSSL_CONF: "/p/openssl.cnf", INC: "/inc" }, read, list)).toEqual([
      { path: "/p/openssl.cnf", folder: false },
      { path: "/p/ssl", folder: false, named: true },
      { path: "/inc/more.cnf", folder: false },
      { path: "/p/ssl/extra.so", folder: false },
      { path: "/p/ssl/eng.so", folder: false },
      { path: "/p/ssl/lib.so.1", folder: false },
    ]);
  });

  it("follows includes (files and folders), and names modules and the variables' folders", () => {
    const { read, list } = fs(
      {
        "/p/ssl/openssl.cnf":
          "# comment\n.include /p/ssl/extra.cnf\n.include = conf.d\nopenssl_conf = init\n[provs]\nevil = evil_sect\n[evil_sect]\nmodule = /p/mods/evil.so\nactivate = 1\n",
        "/p/ssl/extra.cnf": '[e]\ndynamic_path = "eng.so"\n',
        "/inc/conf.d/a.cnf": "module = rel.so\n",
        "/inc/conf.d/b.txt": "module = /never.so\n",
      },
      { "/inc/conf.d": ["a.cnf", "b.txt"] },
    );
    const env = {
      OPENSSL_CONF: "/p/ssl/openssl.cnf",
      OPENSSL_CONF_INCLUDE: "/inc",
      OPENSSL_MODULES: "/p/mods",
      OPENSSL_ENGINES: "/p/engines",
    };
    expect(opensslPlaces(env, read, list)).toEqual([
      { path: "/inc", folder: true },
      { path: "/p/mods", folder: true },
      { path: "/p/engines", folder: true },
      { path: "/p/ssl/openssl.cnf", folder: false },
      { path: "/p/ssl/extra.cnf", folder: false },
      { path: "/p/engines/eng.so", folder: false },
      { path: "/inc/conf.d", folder: true },
      { path: "/inc/conf.d/a.cnf", folder: false },
      { path: "/p/mods/rel.so", folder: false },
      { path: "/p/mods/evil.so", folder: false },
    ]);
  });

  it("stops at a relative include OpenSSL would open from every folder; nothing without OPENSSL_CONF", () => {
    const { read, list } = fs({ "/c/openssl.cnf": ".include local.cnf\n" });
    expect(() => opensslPlaces({ OPENSSL_CONF: "/c/openssl.cnf" }, read, list)).toThrow(
      SafeNpmError,
    );
    expect(opensslPlaces({}, read, list)).toEqual([]);
    // A loaded path built on a variable it cannot work out stops the run too.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: OpenSSL's own variable syntax
    const unknown = fs({ "/c/v.cnf": "[p]\nmodule = ${dir}/x.so\n" });
    expect(() => opensslPlaces({ OPENSSL_CONF: "/c/v.cnf" }, unknown.read, unknown.list)).toThrow(
      SafeNpmError,
    );
  });

  it("joins a line only on one trailing backslash, maps \\t \\n \\r \\b outside quotes, and keeps quoted text as written", () => {
    const { read, list } = fs({
      "/p/a.cnf": [
        // Three backslashes: an escaped one, then one more — OpenSSL does not join the next line.
        "share_dir = C:\\\\tools\\\\\\",
        ".include /p/ssl/local.cnf",
        ".include /p/ssl/site\\tlocal.cnf",
        "[e]",
        "x = /p/x",
        'module = "/p/$x/quoted.so"',
        "other = `/p/back`tick.so",
        "# a comment that goes on \\",
        ".include /p/never.cnf",
        "",
      ].join("\n"),
    });
    expect(opensslPlaces({ OPENSSL_CONF: "/p/a.cnf" }, read, list)).toEqual([
      { path: "/p/a.cnf", folder: false },
      { path: "/p/ssl/local.cnf", folder: false },
      { path: "/p/ssl/site\tlocal.cnf", folder: false },
      { path: "/p/x", folder: false, named: true },
      { path: "/p/$x/quoted.so", folder: false },
      { path: "/p/backtick.so", folder: false },
    ]);
  });

  it("reads .pragma dollarid, any name .include begins, and a section's own ENV before the environment", () => {
    const { read, list } = fs({
      "/p/a.cnf": [
        "x = /elsewhere",
        ".pragma dollarid:On",
        "module = /p/$x/literal.so",
        ".pragma = dollarid : off",
        ".includeme /p/named.cnf",
        "[ENV]",
        "HOME = /p/home",
        "[m]",
        "module = $ENV::HOME/m.so",
        "",
      ].join("\n"),
    });
    expect(opensslPlaces({ OPENSSL_CONF: "/p/a.cnf", HOME: "/root" }, read, list)).toEqual([
      { path: "/p/a.cnf", folder: false },
      { path: "/elsewhere", folder: false, named: true },
      { path: "/p/$x/literal.so", folder: false },
      { path: "/p/named.cnf", folder: false },
      { path: "/p/home", folder: false, named: true },
      { path: "/p/home/m.so", folder: false },
    ]);
  });

  it("the dynamic engine's DIR_ADD is a folder it loads from; a relative one or an ID with a / stops the run", () => {
    const engine = (lines: string[]) =>
      fs({ "/p/a.cnf": ["[dyn]", "engine_id = dynamic", "DIR_LOAD = 2", ...lines, ""].join("\n") });
    const ok = engine(["DIR_ADD = /p/ossl/eng", "ID = evil", "LOAD = EMPTY"]);
    expect(opensslPlaces({ OPENSSL_CONF: "/p/a.cnf" }, ok.read, ok.list)).toEqual([
      { path: "/p/a.cnf", folder: false },
      { path: "/p/ossl/eng", folder: true },
    ]);
    for (const lines of [
      ["DIR_ADD = eng", "ID = evil"],
      ["DIR_ADD = /usr/lib", "ID = ../../p/evil"],
    ]) {
      const bad = engine(lines);
      expect(() => opensslPlaces({ OPENSSL_CONF: "/p/a.cnf" }, bad.read, bad.list)).toThrow(
        SafeNpmError,
      );
    }
  });

  it("a relative include is taken from OPENSSL_CONF_INCLUDE, else from an absolute .pragma includedir", () => {
    const { read, list } = fs({
      "/c/a.cnf": ".pragma includedir:/c/ssl\n.include extra.cnf\n",
      "/c/r.cnf": ".pragma includedir:ssl\n.include extra.cnf\n",
    });
    expect(opensslPlaces({ OPENSSL_CONF: "/c/a.cnf" }, read, list)).toEqual([
      { path: "/c/a.cnf", folder: false },
      { path: "/c/ssl/extra.cnf", folder: false },
    ]);
    expect(
      opensslPlaces({ OPENSSL_CONF: "/c/a.cnf", OPENSSL_CONF_INCLUDE: "/inc" }, read, list),
    ).toEqual([
      { path: "/inc", folder: true },
      { path: "/c/a.cnf", folder: false },
      { path: "/inc/extra.cnf", folder: false },
    ]);
    expect(() => opensslPlaces({ OPENSSL_CONF: "/c/r.cnf" }, read, list)).toThrow(SafeNpmError);
  });

  it("a relative OPENSSL_MODULES, OPENSSL_ENGINES or OPENSSL_CONF_INCLUDE stops the run", () => {
    const { read, list } = fs({ "/c/a.cnf": "" });
    for (const name of ["OPENSSL_MODULES", "OPENSSL_ENGINES", "OPENSSL_CONF_INCLUDE"]) {
      expect(() => opensslPlaces({ OPENSSL_CONF: "/c/a.cnf", [name]: "ossl" }, read, list)).toThrow(
        SafeNpmError,
      );
    }
  });
});
