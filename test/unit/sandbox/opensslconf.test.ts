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
});
