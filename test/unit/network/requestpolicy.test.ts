import { describe, expect, it } from "vitest";
import { refusal, registryHook } from "../../../src/network/requestpolicy.js";

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
    // GitHub Packages' tarball URLs
    ["GET", "/download/@acme/widget/1.0.0/0123abcd"],
    ["POST", "/-/npm/v1/security/advisories/bulk"],
    ["POST", "/-/npm/v1/security/audits/quick"],
    ["POST", "/-/npm/v1/security/audits"],
    ["POST", "/artifactory/api/npm/npm-remote/-/npm/v1/security/advisories/bulk"],
    ["GET", "/-/v1/search?text=x"],
    ["GET", "/-/ping"],
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
    ["OPTIONS", "/lodash", /not needed to install/],
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

  it("with no name known, any package document may be uploaded", () => {
    expect(publish("PUT", "/other", [])).toBeNull();
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
    expect(d).toEqual({ action: "forward", authorization: "Bearer held" });
  });
});
