import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  duplicateKey,
  MAX_PUBLISH_BODY,
  publishBodyRefusal,
  refusal,
  registryHook,
} from "../../../src/network/requestpolicy.js";
import { packageTarball, tar, tgz } from "./tarfixture.js";

const R = "https://registry.example";
const install = (method: string, path: string): string | null =>
  refusal(method, new URL(`${R}${path}`), { mode: "install" });
const publish = (method: string, path: string, publishing: string[] = ["@acme/widget"]) =>
  refusal(method, new URL(`${R}${path}`), { mode: "publish", publishing });

describe("install mode: what installing needs", () => {
  it.each([
    ["GET", "/lodash"],
    ["HEAD", "/lodash"],
    ["GET", "/@acme%2fwidget"],
    ["GET", "/@acme%2Fwidget"],
    ["GET", "/@acme/widget"],
    ["GET", "/lodash/-/lodash-4.17.21.tgz"],
    ["GET", "/@acme/widget/-/widget-1.0.0.tgz"],
    ["GET", "/@acme%2fwidget/-/widget-1.0.0.tgz"],
    // below a registry's path (Artifactory, Nexus)
    ["GET", "/artifactory/api/npm/npm-remote/lodash"],
    ["GET", "/artifactory/api/npm/npm-remote/lodash/-/lodash-4.17.21.tgz"],
    // GitLab's and Verdaccio's scoped tarballs: the scope again after the `-`
    ["GET", "/api/v4/projects/7/packages/npm/@acme/widget/-/@acme/widget-1.0.0.tgz"],
    ["GET", "/@acme/widget/-/@acme/widget-1.0.0.tgz"],
    // GitHub Packages' tarball URLs
    ["GET", "/download/@acme/widget/1.0.0/0123abcd"],
    ["POST", "/-/npm/v1/security/advisories/bulk"],
    ["POST", "/-/npm/v1/security/audits/quick"],
    ["POST", "/-/npm/v1/security/audits"],
    ["POST", "/artifactory/api/npm/npm-remote/-/npm/v1/security/advisories/bulk"],
    ["GET", "/-/v1/search?text=x"],
    ["GET", "/-/ping"],
    ["GET", "/-/npm/v1/keys"],
    // pnpm 12 reads each version's attestations; npm audit signatures too
    ["GET", "/-/npm/v1/attestations/lodash@4.17.21"],
    ["GET", "/-/npm/v1/attestations/@acme/widget@1.0.0"],
    ["GET", "/-/npm/v1/attestations/@acme%2fwidget@1.0.0"],
    ["HEAD", "/artifactory/api/npm/npm-remote/-/npm/v1/attestations/lodash@1.0.0"],
  ])("%s %s is allowed", (method, path) => {
    expect(install(method, path)).toBeNull();
  });

  it.each([
    ["PUT", "/lodash", /publishing a package/],
    ["PUT", "/@acme%2fwidget", /publishing a package/],
    ["PUT", "/@acme/widget", /publishing a package/],
    ["DELETE", "/lodash/-rev/3-abc", /unpublishing/],
    ["DELETE", "/lodash/-/lodash-1.0.0.tgz/-rev/3-abc", /unpublishing/],
    ["PUT", "/lodash/-rev/3-abc", /unpublishing a version/],
    ["PUT", "/-/package/lodash/dist-tags/latest", /dist-tags/],
    ["DELETE", "/-/package/lodash/dist-tags/next", /unpublishing or deleting/],
    ["GET", "/-/package/lodash/dist-tags", /dist-tags/],
    ["POST", "/-/npm/v1/tokens", /tokens/],
    ["GET", "/-/npm/v1/tokens", /tokens/],
    ["PUT", "/-/user/org.couchdb.user:alice", /login/],
    ["POST", "/-/v1/login", /login/],
    ["GET", "/-/whoami", /login/],
    ["POST", "/-/package/lodash/access", /access and owners/],
    ["PUT", "/-/team/acme/devs/package", /access and owners/],
    ["GET", "/-/org/acme/package", /access and owners/],
    ["GET", "/lodash?write=true", /to change it/],
    ["POST", "/lodash", /not needed to install/],
    ["PATCH", "/lodash", /not needed to install/],
    ["POST", "/-/npm/v1/security/advisories/bulk/extra", /not needed to install/],
    ["POST", "/-/npm/v1/security/advisories", /not needed to install/],
    ["GET", "/lodash/-/notes.txt", /not needed to install/],
    ["GET", "/-/anything", /not needed to install/],
    ["GET", "/-/@acme/whoami", /not needed to install/],
    ["GET", "/-/acme/widget-1.0.0.tgz", /not needed to install/],
    ["GET", "/-/@acme/x/widget-1.0.0.tgz", /not needed to install/],
    ["GET", "/lodash/-/x/-/lodash-1.0.0.tgz", /not needed to install/],
    ["GET", "/x/-/-/y.tgz", /not needed to install/],
    ["GET", "/x/-/-rev/y.tgz", /not needed to install/],
    ["OPTIONS", "/lodash", /not needed to install/],
    ["POST", "/-/npm/v1/attestations/lodash@1.0.0", /not needed to install/],
    ["PUT", "/-/npm/v1/attestations/lodash@1.0.0", /not needed to install/],
    ["GET", "/-/npm/v1/attestations", /not needed to install/],
    ["GET", "/-/npm/v1/attestations/lodash", /not needed to install/],
    ["GET", "/-/npm/v1/attestations/lodash@1.0.0/x", /not needed to install/],
    ["GET", "/-/npm/v1/attestations/@acme@1.0.0", /not needed to install/],
    ["GET", "/-/npm/v1/keys/x", /not needed to install/],
    ["GET", "/%E0%A4%A", /malformed/],
    ["GET", "/lodash/..%2f-%2fwhoami", /malformed/],
    ["GET", "/a%2fb%2fc", /malformed/],
  ])("%s %s is refused", (method, path, reason) => {
    expect(install(method, path)).toMatch(reason);
  });
});

describe("publish mode: the upload, and only that", () => {
  it.each([
    ["PUT", "/@acme%2fwidget"],
    ["PUT", "/@acme/widget"],
    ["GET", "/@acme%2fwidget"],
  ])("%s %s is allowed", (method, path) => {
    expect(publish(method, path)).toBeNull();
  });

  it("with no name known, no package document may be uploaded", () => {
    expect(publish("PUT", "/other", [])).toMatch(/not the package being published \(none\)/);
    expect(publish("PUT", "/@acme%2fwidget", [])).toMatch(/not the package being published/);
  });

  it.each(["/@x%2f..", "/@x%2f."])("PUT %s (a dot segment, encoded) is refused", (path) => {
    expect(publish("PUT", path, ["@x/.."])).toBe("a malformed path");
  });

  it.each(["/@acme%2fwidget?write=true", "/@acme%2fwidget?x"])(
    "PUT %s (a query: an edit of the document, not an upload) is refused",
    (path) => {
      expect(publish("PUT", path)).toMatch(/is not a package upload/);
    },
  );

  it.each([
    "/@acme%2fwidget/",
    "/@acme/widget/",
    "//@acme%2fwidget",
    "/@acme//widget",
    "/%40acme%2fwidget",
    "/@acme%2f%77idget",
  ])("PUT %s (not the exact upload path a manager sends) is refused", (path) => {
    expect(publish("PUT", path)).toMatch(/not the upload path of @acme\/widget/);
  });

  it("PUT of an unscoped name: exactly /<name>, no trailing slash", () => {
    expect(publish("PUT", "/leftpad", ["leftpad"])).toBeNull();
    expect(publish("PUT", "/leftpad/", ["leftpad"])).toMatch(/not the upload path/);
    expect(publish("PUT", "/%6ceftpad", ["leftpad"])).toMatch(/not the upload path/);
  });

  it.each([
    ["PUT", "/other", /not the package being published/],
    ["PUT", "/@acme%2fother", /not the package being published/],
    ["PUT", "/@acme%2fwidget/-rev/1-a", /unpublishing a version/],
    ["PUT", "/-/package/@acme%2fwidget/dist-tags/latest", /dist-tags/],
    ["DELETE", "/@acme%2fwidget/-rev/1-a", /unpublishing/],
    ["POST", "/-/npm/v1/tokens", /tokens/],
    ["PUT", "/-/user/org.couchdb.user:x", /login/],
  ])("%s %s is refused", (method, path, reason) => {
    expect(publish(method, path)).toMatch(reason);
  });
});

describe("registryHook", () => {
  const hook = (mode: "install" | "publish") =>
    registryHook({
      mode,
      registryHosts: ["registry.npmjs.org:443"],
      credentialHosts: ["npm.pkg.github.com:443"],
      authorization: (url) => (url.host === "npm.pkg.github.com" ? "Bearer held" : null),
      publishing: mode === "publish" ? ["@acme/widget"] : undefined,
    });

  it("asks about registries and credential hosts; strips clients' auth on the latter", () => {
    const h = hook("install");
    expect([...h.hosts].sort()).toEqual(["npm.pkg.github.com:443", "registry.npmjs.org:443"]);
    expect([...h.credentialHosts]).toEqual(["npm.pkg.github.com:443"]);
  });

  it("adds the held credential to what it lets through", () => {
    const h = hook("install");
    const get = (url: string) => h.decide({ method: "GET", url: new URL(url) });
    expect(get("https://npm.pkg.github.com/@acme%2fwidget")).toEqual({
      action: "forward",
      authorization: "Bearer held",
    });
    expect(get("https://registry.npmjs.org/lodash")).toEqual({ action: "forward" });
  });

  it("refuses, on a credential host only, a path the server may resolve outside the registry's", () => {
    const h = hook("install");
    const get = (url: string) => h.decide({ method: "GET", url: new URL(url) });
    for (const p of [
      "/npm/registry/..;/..;/api/security/apiKey",
      "/api/security/apiKey;x.tgz",
      "/npm/registry/..%3B/api",
      "/npm/registry/..%5c..%5capi",
      "/npm/registry/%252e%252e/api",
    ]) {
      const d = get(`https://npm.pkg.github.com${p}`);
      expect(d.action, p).toBe("refuse");
      expect(d.action === "refuse" && d.reason, p).toMatch(/bound to its path/);
      // No credential held there: the request carries nothing of the user's and goes on.
      expect(get(`https://registry.npmjs.org${p}`), p).toEqual({ action: "forward" });
    }
    expect(get("https://npm.pkg.github.com/npm/registry/x")).toEqual({
      action: "forward",
      authorization: "Bearer held",
    });
  });

  it("refuses with a reason that names safe-npm, and never with the credential", () => {
    const d = hook("install").decide({
      method: "PUT",
      url: new URL("https://npm.pkg.github.com/@acme%2fwidget"),
    });
    expect(d).toEqual({ action: "refuse", reason: "safe-npm: refused publishing a package" });
  });

  it("publish mode lets the upload through with the credential", () => {
    const d = hook("publish").decide({
      method: "PUT",
      url: new URL("https://npm.pkg.github.com/@acme%2fwidget"),
    });
    expect(d).toEqual({
      action: "forward",
      authorization: "Bearer held",
      inspectBody: { maxBytes: MAX_PUBLISH_BODY },
    });
  });

  it("publish mode: a prepublishOnly upload of another version (trailing slash) cannot take the run's upload", () => {
    const h = registryHook({
      mode: "publish",
      registryHosts: [],
      credentialHosts: ["npm.pkg.github.com:443"],
      authorization: () => "Bearer held",
      publishing: ["@acme/widget"],
      publishVersions: { "@acme/widget": "1.0.0" },
    });
    const evil = { method: "PUT", url: new URL("https://npm.pkg.github.com/@acme%2fwidget/") };
    expect(h.decide(evil).action).toBe("refuse");
    const request = { method: "PUT", url: new URL("https://npm.pkg.github.com/@acme%2fwidget") };
    const other = upload();
    other.versions = { "6.6.6": { name: "@acme/widget", version: "6.6.6", dist: {} } };
    other["dist-tags"] = { latest: "6.6.6" };
    other._attachments = { "@acme/widget-6.6.6.tgz": { data: "H4sI" } };
    expect(h.decideBody?.(request, Buffer.from(JSON.stringify(other)))?.action).toBe("refuse");
    // The real upload is still the run's one.
    expect(h.decide(request).action).toBe("forward");
    expect(h.decideBody?.(request, Buffer.from(JSON.stringify(upload())))?.action).toBe("forward");
  });

  it("publish mode lets one upload per package through in a run, not a second", () => {
    const h = hook("publish");
    const request = { method: "PUT", url: new URL("https://npm.pkg.github.com/@acme%2fwidget") };
    const put = () => h.decide(request);
    expect(put().action).toBe("forward");
    const first = h.decideBody?.(request, Buffer.from(JSON.stringify(upload())));
    expect(first?.action).toBe("forward");
    if (first?.action === "forward") first.settle?.(201);
    expect(put()).toEqual({
      action: "refuse",
      reason:
        "safe-npm: refused a second upload of @acme/widget in one run (the registry accepted one)",
    });
    // Each run is a new hook: the next publish uploads again.
    expect(
      hook("publish").decide({
        method: "PUT",
        url: new URL("https://npm.pkg.github.com/@acme/widget"),
      }).action,
    ).toBe("forward");
  });

  it("publish mode forwards a body only when it is the publish document, with the credential", () => {
    const h = hook("publish");
    const request = { method: "PUT", url: new URL("https://npm.pkg.github.com/@acme%2fwidget") };
    expect(h.decideBody?.(request, Buffer.from(JSON.stringify(upload())))).toMatchObject({
      action: "forward",
      authorization: "Bearer held",
    });
    expect(h.decideBody?.(request, Buffer.from(JSON.stringify(hijack)))).toMatchObject({
      action: "refuse",
    });
  });

  it("a refused upload document does not use up the run's one upload of that package", () => {
    const h = hook("publish");
    const request = { method: "PUT", url: new URL("https://npm.pkg.github.com/@acme%2fwidget") };
    // A prepublishOnly script's hijacking document first, refused on its body...
    expect(h.decide(request).action).toBe("forward");
    expect(h.decideBody?.(request, Buffer.from(JSON.stringify(hijack)))).toMatchObject({
      action: "refuse",
      reason: expect.stringMatching(/deprecates|maintainers/),
    });
    // ...then the real publish still goes through, once.
    expect(h.decide(request).action).toBe("forward");
    const real = h.decideBody?.(request, Buffer.from(JSON.stringify(upload())));
    expect(real).toMatchObject({ action: "forward", authorization: "Bearer held" });
    // Two uploads in flight at once: only the first body that passes goes up.
    expect(h.decide(request)).toMatchObject({
      action: "refuse",
      reason: expect.stringMatching(/while another is on its way/),
    });
    expect(h.decideBody?.(request, Buffer.from(JSON.stringify(upload())))?.action).toBe("refuse");
    if (real?.action === "forward") real.settle?.(200);
    expect(h.decide(request).action).toBe("refuse");
  });

  it("an upload the registry refused (2FA: 401 OTP) does not use up the run's one, up to 3 tries", () => {
    const h = hook("publish");
    const request = { method: "PUT", url: new URL("https://npm.pkg.github.com/@acme%2fwidget") };
    const body = Buffer.from(JSON.stringify(upload()));
    for (const status of [401, 403, 401]) {
      expect(h.decide(request).action).toBe("forward");
      const d = h.decideBody?.(request, body);
      expect(d).toMatchObject({ action: "forward", authorization: "Bearer held" });
      if (d?.action === "forward") {
        d.settle?.(status);
        // Told twice (response, then close): the first answer counts.
        d.settle?.(201);
      }
    }
    // Three refused tries: a fourth is not forwarded, however good its body.
    expect(h.decide(request)).toMatchObject({
      action: "refuse",
      reason: expect.stringMatching(/another upload of @acme\/widget: the registry refused 3/),
    });
    expect(h.decideBody?.(request, body)?.action).toBe("refuse");
  });

  it("judges a registry whose own path holds a `-` segment (GitLab's group level) below that path", () => {
    const base = "/api/v4/groups/7/-/packages/npm/";
    const h = (bases: string[]) =>
      registryHook({
        mode: "install",
        registryHosts: ["gitlab.example:443"],
        credentialHosts: ["gitlab.example:443"],
        authorization: () => "Bearer held",
        registryBases: () => bases,
      });
    const decide = (hook: ReturnType<typeof h>, method: string, path: string) =>
      hook.decide({ method, url: new URL(`https://gitlab.example${path}`) }).action;
    const group = h([base]);
    expect(decide(group, "GET", `${base}@acme%2flib`)).toBe("forward");
    expect(decide(group, "GET", `${base}@acme/lib/-/@acme/lib-1.0.0.tgz`)).toBe("forward");
    expect(decide(group, "POST", `${base}-/npm/v1/security/advisories/bulk`)).toBe("forward");
    // Its API below that path stays refused, and so does the server's beside it.
    expect(decide(group, "GET", `${base}-/whoami`)).toBe("refuse");
    expect(decide(group, "PUT", `${base}@acme%2flib`)).toBe("refuse");
    expect(decide(group, "GET", "/api/v4/groups/7/-/settings")).toBe("refuse");
    // Without the registry named there, the path is the server's API.
    expect(decide(h([]), "GET", `${base}@acme%2flib`)).toBe("refuse");
    // A registry path that ends in its `-` segment would put the API itself below it.
    for (const api of ["/-/whoami", "/-/npm/v1/tokens"])
      expect(decide(h(["/-/", "/x/-/"]), "GET", api), api).toBe("refuse");
    expect(decide(h(["/x/-/"]), "GET", "/x/-/whoami")).toBe("refuse");
  });

  it("an upload goes only to the registry the command publishes the package to", () => {
    const h = registryHook({
      mode: "publish",
      registryHosts: ["corp.example:443", "registry.npmjs.org:443"],
      credentialHosts: ["corp.example:443", "registry.npmjs.org:443"],
      authorization: () => "Bearer held",
      publishing: ["internal"],
      uploadBases: () => ["/", "/npm/"],
      publishTo: () => ["https://corp.example/npm/"],
    });
    const put = (url: string) => h.decide({ method: "PUT", url: new URL(url) });
    expect(put("https://corp.example/npm/internal")).toMatchObject({ action: "forward" });
    // Another registry the user holds a token for, or another path or scheme of the same host.
    for (const other of [
      "https://registry.npmjs.org/internal",
      "https://corp.example/internal",
      "http://corp.example/npm/internal",
    ])
      expect(put(other), other).toMatchObject({
        action: "refuse",
        reason: expect.stringMatching(
          /not where this command publishes it \(https:\/\/corp\.example\/npm\/;/,
        ),
      });
  });

  it("an upload with no answer (the client hung up, the connection broke) uses up the run's one", () => {
    const h = hook("publish");
    const request = { method: "PUT", url: new URL("https://npm.pkg.github.com/@acme%2fwidget") };
    const body = Buffer.from(JSON.stringify(upload()));
    const d = h.decideBody?.(request, body);
    expect(d).toMatchObject({ action: "forward" });
    if (d?.action === "forward") d.settle?.(null);
    expect(h.decide(request)).toMatchObject({
      action: "refuse",
      reason: expect.stringMatching(/no answer came back, so the registry may have stored it/),
    });
    expect(h.decideBody?.(request, body)?.action).toBe("refuse");
  });

  it("every retry's body is checked again: a hijacking document after a refused upload is refused", () => {
    const h = hook("publish");
    const request = { method: "PUT", url: new URL("https://npm.pkg.github.com/@acme%2fwidget") };
    const d = h.decideBody?.(request, Buffer.from(JSON.stringify(upload())));
    if (d?.action === "forward") d.settle?.(401);
    expect(h.decideBody?.(request, Buffer.from(JSON.stringify(hijack)))?.action).toBe("refuse");
    const retry = h.decideBody?.(request, Buffer.from(JSON.stringify(upload())));
    expect(retry?.action).toBe("forward");
    if (retry?.action === "forward") retry.settle?.(201);
    expect(h.decideBody?.(request, Buffer.from(JSON.stringify(upload())))?.action).toBe("refuse");
  });
});

/** The document libnpmpublish sends for @acme/widget@1.0.0 (trimmed). */
const upload = (): Record<string, unknown> => ({
  _id: "@acme/widget",
  name: "@acme/widget",
  description: "w",
  "dist-tags": { latest: "1.0.0" },
  versions: { "1.0.0": { name: "@acme/widget", version: "1.0.0", dist: { shasum: "x" } } },
  access: null,
  _attachments: {
    "@acme/widget-1.0.0.tgz": {
      content_type: "application/octet-stream",
      data: packageTarball("@acme/widget", "1.0.0"),
      length: 3,
    },
  },
});
/** What a prepublishOnly script sent: no tarball, a deprecated version, new maintainers. */
const hijack = {
  _id: "@acme/widget",
  name: "@acme/widget",
  versions: {
    "0.9.0": { name: "@acme/widget", version: "0.9.0", deprecated: "hijacked by build script" },
  },
  maintainers: [{ name: "attacker" }],
  "dist-tags": { latest: "0.9.0" },
};

describe("publishBodyRefusal: the upload body is the publish of one version", () => {
  it("refuses another version than package.json's (read on the host before the run)", () => {
    const body = Buffer.from(JSON.stringify(upload()));
    expect(publishBodyRefusal("@acme/widget", body, "latest", "1.0.0")).toBeNull();
    const message = publishBodyRefusal("@acme/widget", body, "latest", "6.6.6");
    // Names the package, both versions and the fix.
    expect(message).toMatch(/@acme\/widget@1\.0\.0: its package\.json held 6\.6\.6 before the run/);
    expect(message).toMatch(
      /bump the version before safe-npm publish \(npm version patch, outside\)/,
    );
  });

  const check = (doc: unknown, tag = "latest") =>
    publishBodyRefusal("@acme/widget", Buffer.from(JSON.stringify(doc)), tag);

  it("accepts libnpmpublish's document, yarn berry's unscoped attachment name, and --tag", () => {
    expect(check(upload())).toBeNull();
    const berry = upload();
    berry._attachments = { "widget-1.0.0.tgz": { data: packageTarball("@acme/widget", "1.0.0") } };
    expect(check(berry)).toBeNull();
    expect(check({ ...upload(), "dist-tags": { next: "1.0.0" } }, "next")).toBeNull();
  });

  it("refuses a key named twice in one object, where registries' parsers may disagree", () => {
    const good = JSON.stringify(upload());
    // A second `versions` after the first: JSON.parse (and this check) sees the last one.
    const twice = good.replace(
      '"versions":',
      '"versions":{"6.6.6":{"name":"@acme/widget","version":"6.6.6"}},"versions":',
    );
    expect(JSON.parse(twice).versions).toEqual(upload().versions);
    expect(publishBodyRefusal("@acme/widget", Buffer.from(twice), "latest")).toMatch(
      /names the key "versions" twice/,
    );
    // The same inside the tarball's package.json.
    const inner = upload();
    inner._attachments = {
      "@acme/widget-1.0.0.tgz": {
        data: tgz([
          {
            path: "package/package.json",
            body: '{"name":"@acme/evil","name":"@acme/widget","version":"1.0.0"}',
          },
        ]).toString("base64"),
      },
    };
    expect(check(inner)).toMatch(/package\.json names the key "name" twice/);
  });

  it("duplicateKey: per object, compared decoded, strings and escapes skipped", () => {
    expect(duplicateKey('{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}')).toBeNull();
    expect(duplicateKey('{"a":1,"\\u0061":2}')).toBe("a");
    expect(duplicateKey('{"s":"x\\",\\"s\\":","s":2}')).toBe("s");
    expect(duplicateKey('{"s":"\\\\","t":{"u":1,"u":2}}')).toBe("u");
    expect(duplicateKey('["a","a",{"k":"a"}]')).toBeNull();
  });

  it("refuses the document a prepublishOnly script sent", () => {
    expect(check(hijack)).toMatch(/maintainers/);
    const { maintainers: _, ...rest } = hijack;
    expect(check(rest)).toMatch(/deprecates|tarball/);
  });

  it.each([
    ["not JSON", "{", /not JSON/],
    ["another name", { ...upload(), name: "other" }, /naming other/],
    ["maintainers", { ...upload(), maintainers: [{ name: "x" }] }, /maintainers/],
    ["a deprecation at the top", { ...upload(), deprecated: "x" }, /deprecated/],
    ["a revision", { ...upload(), _rev: "3-abc" }, /_rev/],
    ["no version", { ...upload(), versions: {} }, /0 versions/],
    [
      "two versions",
      {
        ...upload(),
        versions: {
          "1.0.0": { name: "@acme/widget", version: "1.0.0" },
          "0.1.0": { name: "@acme/widget", version: "0.1.0" },
        },
      },
      /2 versions/,
    ],
    [
      "a deprecated version",
      {
        ...upload(),
        versions: { "1.0.0": { name: "@acme/widget", version: "1.0.0", deprecated: "x" } },
      },
      /deprecates/,
    ],
    [
      "a mislabelled version",
      { ...upload(), versions: { "1.0.0": { version: "2.0.0" } } },
      /does not describe/,
    ],
    ["no tarball", { ...upload(), _attachments: {} }, /exactly its tarball/],
    [
      "another version's tarball",
      { ...upload(), _attachments: { "@acme/widget-0.1.0.tgz": { data: "x" } } },
      /exactly its tarball/,
    ],
    [
      "two tarballs",
      {
        ...upload(),
        _attachments: {
          "@acme/widget-1.0.0.tgz": { data: "x" },
          "@acme/widget-0.1.0.tgz": { data: "x" },
        },
      },
      /exactly its tarball/,
    ],
    ["latest moved elsewhere", { ...upload(), "dist-tags": { latest: "0.1.0" } }, /dist-tags/],
    ["another tag", { ...upload(), "dist-tags": { latest: "1.0.0", beta: "1.0.0" } }, /dist-tags/],
  ])("refuses %s", (_, doc, reason) => {
    expect(
      typeof doc === "string"
        ? publishBodyRefusal("@acme/widget", Buffer.from(doc), "latest")
        : check(doc),
    ).toMatch(reason);
  });
});

describe("the upload goes exactly under the registry's path, with the package's own tarball", () => {
  const bases = (url: URL) => (url.host === "127.0.0.1:4802" ? ["/api/npm/team/"] : ["/"]);
  const at = (path: string, name = "p2") =>
    refusal("PUT", new URL(`http://127.0.0.1:4802${path}`), {
      mode: "publish",
      publishing: [name],
      uploadBases: bases,
    });
  it("accepts <registry path>/<name> in the forms the managers send", () => {
    expect(at("/api/npm/team/p2")).toBeNull();
    expect(at("/api/npm/team/@acme%2fp2", "@acme/p2")).toBeNull();
    expect(at("/api/npm/team/@acme%2Fp2", "@acme/p2")).toBeNull();
    expect(at("/api/npm/team/@acme/p2", "@acme/p2")).toBeNull();
  });
  it.each([
    "/somewhere/else/p2",
    "/p2",
    "/api/npm/p2",
    "/api/npm/team/x/p2",
    "/api/npm/team//p2",
    "/api/npm/team/p2/",
  ])("refuses PUT %s: another place on the same host", (path) => {
    expect(at(path)).toMatch(/not the upload path of p2 \(\/api\/npm\/team\/p2\)/);
  });

  const doc = (data: string, access: unknown = null) =>
    Buffer.from(
      JSON.stringify({
        _id: "p2",
        name: "p2",
        "dist-tags": { latest: "1.0.0" },
        versions: { "1.0.0": { name: "p2", version: "1.0.0" } },
        access,
        _attachments: { "p2-1.0.0.tgz": { data } },
      }),
    );
  const check = (data: string, access: unknown = null, allowed: string[] = []) =>
    publishBodyRefusal("p2", doc(data, access), "latest", "1.0.0", allowed);

  it("accepts the package's own tarball; refuses one that is not a package tarball of it", () => {
    expect(check(packageTarball("p2", "1.0.0"))).toBeNull();
    expect(check(Buffer.from("EVIL TARBALL").toString("base64"))).toMatch(
      /cannot be read: it is not gzip/,
    );
    expect(check("not base64!")).toMatch(/not base64/);
    expect(check(packageTarball("other", "1.0.0"))).toMatch(/tarball holds other@1.0.0/);
    expect(check(packageTarball("p2", "6.6.6"))).toMatch(/tarball holds p2@6.6.6/);
    const noManifest = tgz([{ path: "package/index.js", body: "x" }]).toString("base64");
    expect(check(noManifest)).toMatch(/holds no package.json/);
  });

  it("reads every package.json the extraction would see: another top folder, a later duplicate, a pax path", () => {
    const good = JSON.stringify({ name: "p2", version: "1.0.0" });
    const evil = JSON.stringify({ name: "evil", version: "1.0.0" });
    const cases = [
      [{ path: "other/package.json", body: evil }],
      [
        { path: "package/package.json", body: good },
        { path: "package/package.json", body: evil },
      ],
      [
        { path: "package/package.json", body: good },
        { path: "package/package.json", body: evil, pax: true },
      ],
    ];
    for (const entries of cases)
      expect(check(tgz(entries).toString("base64"))).toMatch(/evil@1.0.0/);
    const link = tgz([{ path: "package/package.json", body: "", type: "2" }]).toString("base64");
    expect(check(link)).toMatch(/not a regular file|a tar link without a target/);
  });

  it("reads on past a lone zero block, as node-tar does (it warns and extracts what follows)", () => {
    const good = tar([
      { path: "package/package.json", body: JSON.stringify({ name: "p2", version: "1.0.0" }) },
    ]);
    const evil = tar([
      { path: "package/package.json", body: JSON.stringify({ name: "p2", version: "9.9.9" }) },
    ]);
    // The first archive without its end (two zero blocks), one zero block, then the second.
    const smuggled = Buffer.concat([good.subarray(0, good.length - 1024), Buffer.alloc(512), evil]);
    expect(check(gzipSync(smuggled).toString("base64"))).toMatch(/9\.9\.9/);
    // Control: the same without the second archive passes.
    expect(check(gzipSync(good).toString("base64"))).toBeNull();
  });

  it('accepts access "public" only as the command or the user\'s config asked; "restricted" always', () => {
    const data = packageTarball("p2", "1.0.0");
    expect(check(data, null)).toBeNull();
    expect(check(data, "public")).toMatch(
      /sets access "public", which the command did not ask for/,
    );
    expect(check(data, "public", ["public"])).toBeNull();
    // Narrower than asked, never wider: yarn berry sends it for scoped packages by default.
    expect(check(data, "restricted", ["public"])).toBeNull();
    expect(check(data, "restricted")).toBeNull();
    expect(check(data, "anything")).toMatch(/sets access "anything"/);
  });
});
