// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${VAR}` is npmrc syntax here
import { describe, expect, it } from "vitest";
import { clientCertKeyFor, findClientCerts } from "../../../src/network/clientcerts.js";
import type { CredentialFile } from "../../../src/network/credentials.js";

const HOME = "/home/u";
const user = (text: string): CredentialFile => ({
  kind: "npmrc",
  label: "~/.npmrc",
  text,
  project: false,
});
const project = (text: string): CredentialFile => ({
  kind: "npmrc",
  label: "project .npmrc",
  text,
  project: true,
});

describe("findClientCerts: npm's certfile / keyfile per registry", () => {
  it("pairs a registry's certfile and keyfile from the user's npmrc, ~ and ${VAR} expanded", () => {
    const found = findClientCerts(
      [
        user(
          "//reg.corp.example/npm/:certfile=~/.certs/me.pem\n//reg.corp.example/npm/:keyfile=${CERTS}/me.key\n",
        ),
      ],
      { CERTS: "/etc/certs" },
      HOME,
      "/work/app",
    );
    expect([...found.byKey]).toEqual([
      [
        "//reg.corp.example/npm/",
        {
          certfile: "/home/u/.certs/me.pem",
          keyfile: "/etc/certs/me.key",
          source: "~/.npmrc //reg.corp.example/npm/:certfile/keyfile",
        },
      ],
    ]);
    expect(found.notes).toEqual([]);
  });

  it("a later user file wins key by key", () => {
    const found = findClientCerts(
      [
        {
          ...user("//r.example/:certfile=/a.pem\n//r.example/:keyfile=/a.key\n"),
          label: "/etc/npmrc",
        },
        user("//r.example/:certfile=/b.pem\n"),
      ],
      {},
      HOME,
      "/work/app",
    );
    expect(found.byKey.get("//r.example/")).toMatchObject({
      certfile: "/b.pem",
      keyfile: "/a.key",
    });
  });

  it("ignores a project's certfile / keyfile, with a note naming the key and the fix", () => {
    const found = findClientCerts(
      [
        project(
          "//evil.example/:certfile=/home/u/.ssh/id.pem\n//evil.example/:keyfile=/home/u/.ssh/id_ed25519\n",
        ),
      ],
      {},
      HOME,
      "/work/app",
    );
    expect(found.byKey.size).toBe(0);
    expect(found.notes).toEqual([
      "project .npmrc //evil.example/:certfile is not used: a client certificate comes from your own ~/.npmrc only (move it there)",
      "project .npmrc //evil.example/:keyfile is not used: a client certificate comes from your own ~/.npmrc only (move it there)",
    ]);
  });

  it("a certfile without its keyfile is not used, and says so", () => {
    const found = findClientCerts([user("//r.example/:certfile=/a.pem\n")], {}, HOME, "/work/app");
    expect(found.byKey.size).toBe(0);
    expect(found.notes).toEqual([
      "~/.npmrc //r.example/:certfile has no keyfile beside it: no client certificate is presented to //r.example/",
    ]);
  });

  it("top-level cert / key / certfile and sections are not registry client certificates", () => {
    const found = findClientCerts(
      [user("certfile=/a.pem\nkeyfile=/a.key\n[x]\n//r.example/:certfile=/b.pem\n")],
      {},
      HOME,
      "/work/app",
    );
    expect(found.byKey.size).toBe(0);
  });

  it("a relative path is read from the working directory, as npm-registry-fetch reads it", () => {
    const found = findClientCerts(
      [user("//r.example/:certfile=certs/me.pem\n//r.example/:keyfile=../me.key\n")],
      {},
      HOME,
      "/work/app",
    );
    expect(found.byKey.get("//r.example/")).toMatchObject({
      certfile: "/work/app/certs/me.pem",
      keyfile: "/work/me.key",
    });
  });

  it("a quoted key name counts, as npm's ini parser reads it", () => {
    const found = findClientCerts(
      [user('"//r.example/:certfile"=/a.pem\n"//r.example/:keyfile" = "/a.key"\n')],
      {},
      HOME,
      "/work/app",
    );
    expect(found.byKey.get("//r.example/")).toMatchObject({
      certfile: "/a.pem",
      keyfile: "/a.key",
    });
  });
});

describe("clientCertKeyFor: the registry key an https URL falls under", () => {
  const keys = ["//r.example/npm/", "//r.example:8443/"];
  it("walks the path up as npm does, per host and port", () => {
    expect(clientCertKeyFor(keys, new URL("https://r.example/npm/@a%2fb"))).toBe(
      "//r.example/npm/",
    );
    expect(clientCertKeyFor(keys, new URL("https://r.example/npm/a/-/a-1.0.0.tgz"))).toBe(
      "//r.example/npm/",
    );
    expect(clientCertKeyFor(keys, new URL("https://r.example:8443/x"))).toBe("//r.example:8443/");
    expect(clientCertKeyFor(keys, new URL("https://r.example/other/x"))).toBeNull();
    expect(clientCertKeyFor(keys, new URL("https://r.example:444/npm/x"))).toBeNull();
  });
  it("never for plain http", () => {
    expect(clientCertKeyFor(keys, new URL("http://r.example/npm/x"))).toBeNull();
  });
});
