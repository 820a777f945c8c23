import { describe, expect, it } from "vitest";
import { credentialPathRefusal } from "../../../src/network/pathbound.js";

/** The path as the proxy sees it: after the WHATWG parser (which resolves `..` and `%2e%2e`). */
const path = (p: string): string => new URL(`http://r.example${p}`).pathname;

describe("credentialPathRefusal: paths a server may resolve elsewhere carry no credential", () => {
  it.each([
    // what the managers send
    "/npm/registry/lodash",
    "/npm/registry/@acme%2fwidget",
    "/npm/registry/@acme%2Fwidget",
    "/npm/registry/@acme/widget",
    "/npm/registry/lodash/-/lodash-4.17.21.tgz",
    "/npm/registry/@acme/widget/-/widget-1.0.0-beta.1+build.5.tgz",
    "/npm/registry/lodash.merge",
    "/download/@acme/widget/1.0.0/0123abcd",
    "/npm/registry/-/v1/search",
    "/npm/registry/",
    "/",
  ])("allows %s", (p) => {
    expect(credentialPathRefusal(path(p))).toBeNull();
  });

  it.each([
    // Tomcat drops `;params` before resolving dot segments: `/api/security/apiKey` there
    ["/npm/registry/..;/..;/api/security/apiKey", '";"'],
    ["/npm/registry/%2e%2e;/x", '";"'],
    ["/npm/registry/..;foo=bar/x", '";"'],
    ["/api/security/apiKey;x.tgz", '";"'],
    ["/npm/registry/lodash;jsessionid=1", '";"'],
    ["/npm/registry/..%3B/..%3b/api/x", 'encoded ";"'],
    // decoded twice by some front ends
    ["/npm/registry/%252e%252e/%252e%252e/api/x", "encoded twice"],
    // `\` is a separator to IIS and to Tomcat with allowBackslash
    ["/npm/registry/..%5C..%5Capi/x", "backslash"],
    ["/npm/registry/..%5c/x", "backslash"],
    // IIS strips trailing dots and spaces: `...` and `.. ` become `..`
    ["/npm/registry/.../x", "dot segment"],
    ["/npm/registry/..%20/x", "character"],
    ["/npm/registry/..%09/x", "character"],
    ["/npm/registry/x%00/api", "character"],
    // Unicode look-alikes of `.` that a server may fold to ASCII
    ["/npm/registry/%EF%BC%8E%EF%BC%8E/api", "character"],
    ["/npm/registry/%E2%80%A5/api", "character"],
    ["/npm/registry/%zz", "malformed"],
  ])("refuses %s (%s)", (p, why) => {
    expect(credentialPathRefusal(path(p))).toContain(why);
  });

  it("the WHATWG parser already resolves `..`, `%2e%2e` and `\\`: nothing of them is left", () => {
    // The control for the table above: these never reach a server as dot segments.
    expect(path("/npm/registry/../../api")).toBe("/api");
    expect(path("/npm/registry/%2e%2E/x")).toBe("/npm/x");
    expect(path("/npm/registry/..\\..\\api")).toBe("/api");
  });
});
